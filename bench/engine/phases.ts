// The engine benchmark's measurement loops. Each phase takes an open store (or a durable one), a plan (how
// many operations) and a time cap, and returns ops/s and a latency histogram. Data is prepared before the
// clock starts: value chunks, key views and random picks never count against an engine.
//
// Timing methods (named in the report, per row):
// - 'per-op': each operation timed on its own with process.hrtime.bigint() (async writes, async reads with
//   64 in flight, scans, fsyncs). ops/s = operations / wall time of the timed loop.
// - 'avg-100': synchronous operations timed in runs of 100; each run adds 100 samples of its average. One clock
//   read per op would be ~50 ns against a ~1-3 us get, so percentiles here are of 100-op averages.
// - 'batch/100': one batch of 100 writes timed as a whole; each adds 100 samples of batch time / 100.
import { LatencyRecorder, nowNs, type LatencySummary } from '../lib/histogram.ts'
import type { DurableStore, Entry, OpenStore } from './adapters/adapter.ts'
import { closeSync, openSync, writeSync, fdatasyncSync } from 'node:fs'
import type { ValueSource, Workload } from './workload.ts'

export type PhaseId =
  | 'load.single'
  | 'load.batch'
  | 'write.async64'
  | 'read.sync'
  | 'read.async64'
  | 'missing.sync'
  | 'scan'
  | 'durable.single'
  | 'durable.async64'
  | 'fsync'

export type TimingMethod = 'per-op' | 'avg-100' | 'batch/100'

export interface PhaseResult {
  id: PhaseId
  /** Operations completed (entries written, reads, scans, fsyncs). */
  ops: number
  plannedOps: number
  /** Seconds inside the timed loops. */
  seconds: number
  opsPerSec: number
  latency: LatencySummary
  timing: TimingMethod
  /** True when the phase hit its time cap before finishing its plan. */
  stoppedEarly: boolean
  /** Phase-specific facts: wrong answers (should be 0), entries scanned, ... */
  detail: Record<string, number>
}

export const SYNC_RUN = 100
export const WRITE_BATCH = 100
export const CONCURRENCY = 64
/** Values are generated this many at a time, between timed stretches. */
const VALUE_CHUNK = 10_000

class PhaseTimer {
  readonly recorder = new LatencyRecorder()
  readonly #started = nowNs()
  readonly #deadline: bigint
  timedNs = 0n
  stoppedEarly = false

  constructor(capSeconds: number) {
    // An infinite cap (untimed preparation) becomes a deadline a century away.
    const capNs = Number.isFinite(capSeconds) ? Math.round(capSeconds * 1e9) : 3.15e18
    this.#deadline = this.#started + BigInt(capNs)
  }

  /** True once the wall-clock cap is reached (and remembers that the phase stopped early). */
  expired(now: bigint = nowNs()): boolean {
    if (now >= this.#deadline) this.stoppedEarly = true
    return this.stoppedEarly
  }

  result(id: PhaseId, ops: number, plannedOps: number, timing: TimingMethod, detail: Record<string, number> = {}): PhaseResult {
    const seconds = Number(this.timedNs) / 1e9
    const latency = this.recorder.summary()
    this.recorder.destroy()
    return {
      id,
      ops,
      plannedOps,
      seconds,
      opsPerSec: seconds > 0 ? ops / seconds : 0,
      latency,
      timing,
      stoppedEarly: this.stoppedEarly && ops < plannedOps,
      detail,
    }
  }
}

export interface LoadOutcome {
  single: PhaseResult
  batch: PhaseResult
  /** Keys the capped phases did not reach, loaded untimed in batches of FILL_BATCH (not a result). */
  fill: { keys: number; seconds: number }
  /** Keys 0 .. loaded-1 are in the store. */
  loaded: number
  /** Some loaded keys and their values, to check reads against. */
  sample: Map<number, Buffer>
}

/** Batch size of the untimed fill that completes a capped load. */
export const FILL_BATCH = 1000

/**
 * Phase 1. Keys 0 .. singles-1 (by default half) as single awaited puts; then the rest in batches of 100;
 * each part stops at its cap and the next carries on from where it stopped. Whatever both left is then
 * loaded untimed in batches of FILL_BATCH (bounded by `fillCapSeconds`), so that every engine runs the later
 * phases on the same full data set however slowly it loaded. The loaded keys are always 0 .. n-1.
 */
export async function load(
  store: OpenStore,
  workload: Workload,
  caps: { single: number; batch: number; fill: number },
  singles: number = Math.floor(workload.keyCount / 2),
): Promise<LoadOutcome> {
  const values = workload.values('load')
  const sample = new Map<number, Buffer>()
  const sampleEvery = Math.max(1, Math.floor(workload.keyCount / 1000))
  const keep = (first: number, chunk: Buffer[], done: number): void => {
    for (let j = 0; j < done; j++) if ((first + j) % sampleEvery === 0) sample.set(first + j, Buffer.from(chunk[j]!))
  }

  const single = new PhaseTimer(caps.single)
  let next = 0
  while (next < singles && !single.expired()) {
    const n = Math.min(VALUE_CHUNK, singles - next)
    const chunk = values.chunk(n)
    const keys = keyViews(workload, next, n)
    const t0 = nowNs()
    let t = t0
    let done = 0
    for (; done < n; done++) {
      await store.put(keys[done]!, chunk[done]!)
      const t1 = nowNs()
      single.recorder.record(t1 - t)
      t = t1
      if ((done & 255) === 255 && single.expired(t1)) {
        done++
        break
      }
    }
    single.timedNs += t - t0
    keep(next, chunk, done)
    next += done
  }
  const singleResult = single.result('load.single', next, singles, 'per-op')

  const batched = new PhaseTimer(caps.batch)
  const firstBatched = next
  next = await batchedWrites(store, workload, values, next, WRITE_BATCH, batched, keep)
  const batchResult = batched.result('load.batch', next - firstBatched, workload.keyCount - firstBatched, 'batch/100')

  const filler = new PhaseTimer(caps.fill)
  const firstFilled = next
  const fillStart = nowNs()
  next = await batchedWrites(store, workload, values, next, FILL_BATCH, filler, keep)
  filler.recorder.destroy()
  const fill = { keys: next - firstFilled, seconds: Number(nowNs() - fillStart) / 1e9 }
  return { single: singleResult, batch: batchResult, fill, loaded: next, sample }
}

/** Writes keys from `first` on in batches of `size` until all are written or `timer` expires; returns the next key. */
async function batchedWrites(
  store: OpenStore,
  workload: Workload,
  values: ValueSource,
  first: number,
  size: number,
  timer: PhaseTimer,
  keep: (first: number, chunk: Buffer[], done: number) => void,
): Promise<number> {
  let next = first
  while (next < workload.keyCount && !timer.expired()) {
    const n = Math.min(VALUE_CHUNK, workload.keyCount - next)
    const chunk = values.chunk(n)
    const batches: Entry[][] = []
    for (let j = 0; j < n; j += size) {
      const batch: Entry[] = []
      for (let k = j; k < Math.min(n, j + size); k++) batch.push({ key: workload.key(next + k), value: chunk[k]! })
      batches.push(batch)
    }
    const t0 = nowNs()
    let t = t0
    let done = 0
    for (const batch of batches) {
      await store.putBatch(batch)
      const t1 = nowNs()
      timer.recorder.recordBatch(t1 - t, batch.length)
      t = t1
      done += batch.length
      if (timer.expired(t1)) break
    }
    timer.timedNs += t - t0
    keep(next, chunk, done)
    next += done
  }
  return next
}

/** Load for runs that skip the load phase but need the data: all in batches, not reported. */
export function prepLoad(store: OpenStore, workload: Workload, fillCapSeconds: number): Promise<LoadOutcome> {
  return load(store, workload, { single: 0, batch: 0, fill: fillCapSeconds }, 0)
}

/** Reads the sampled keys back and compares values; returns how many were wrong (should be 0). */
export function verifySample(store: OpenStore, sample: Map<number, Buffer>, workload: Workload): number {
  let wrong = 0
  for (const [i, expected] of sample) {
    const got = store.getSync(workload.key(i))
    if (got === undefined || Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), expected) !== 0) wrong++
  }
  return wrong
}

/** Phase 2a / 3: synchronous point reads, timed in runs of SYNC_RUN. `expectPresent` counts wrong answers. */
export function readSync(
  id: 'read.sync' | 'missing.sync',
  store: OpenStore,
  keys: Buffer[],
  expectPresent: boolean,
  capSeconds: number,
): PhaseResult {
  const timer = new PhaseTimer(capSeconds)
  let wrong = 0
  let i = 0
  while (i < keys.length) {
    const end = Math.min(keys.length, i + SYNC_RUN)
    const t0 = nowNs()
    for (let j = i; j < end; j++) {
      const v = store.getSync(keys[j]!)
      if ((v === undefined) === expectPresent) wrong++
    }
    const t1 = nowNs()
    timer.recorder.recordBatch(t1 - t0, end - i)
    timer.timedNs += t1 - t0
    i = end
    if (timer.expired(t1)) break
  }
  return timer.result(id, i, keys.length, 'avg-100', { wrongAnswers: wrong })
}

/** Phase 2b: CONCURRENCY tasks issuing getAsync one after another, each op timed. */
export async function readConcurrent(store: OpenStore, keys: Buffer[], capSeconds: number): Promise<PhaseResult> {
  let wrong = 0
  const { timer, ops } = await concurrent(keys.length, CONCURRENCY, capSeconds, async (i) => {
    const v = await store.getAsync(keys[i]!)
    if (v === undefined) wrong++
  })
  return timer.result('read.async64', ops, keys.length, 'per-op', { wrongAnswers: wrong })
}

/** Phase 4: scans of `limit` entries from each start key, one at a time, each timed. */
export async function scans(store: OpenStore, starts: Buffer[], limit: number, capSeconds: number): Promise<PhaseResult> {
  const timer = new PhaseTimer(capSeconds)
  let entries = 0
  let short = 0
  let i = 0
  const t0 = nowNs()
  let t = t0
  for (; i < starts.length; ) {
    const r = store.scan(starts[i]!, limit)
    const n = typeof r === 'number' ? r : await r
    const t1 = nowNs()
    timer.recorder.record(t1 - t)
    t = t1
    entries += n
    if (n < limit) short++
    i++
    if (timer.expired(t1)) break
  }
  timer.timedNs = t - t0
  return timer.result('scan', i, starts.length, 'per-op', { entries, shortScans: short })
}

/**
 * Single puts (one call per write, no batch) with `concurrency` in flight, each timed: the load phase's
 * "64 writers" companion and the durable phase. `store` is an open store (default durability) or a durable one.
 */
export async function concurrentPuts(
  id: 'write.async64' | 'durable.single' | 'durable.async64',
  store: Pick<DurableStore, 'put'>,
  keys: Buffer[],
  values: Buffer[],
  concurrency: number,
  capSeconds: number,
): Promise<PhaseResult> {
  const { timer, ops } = await concurrent(keys.length, concurrency, capSeconds, (i) => store.put(keys[i]!, values[i]!))
  return timer.result(id, ops, keys.length, 'per-op')
}

/** `planned` operations, `concurrency` in flight, each timed from issue to completion. */
async function concurrent(
  planned: number,
  concurrency: number,
  capSeconds: number,
  op: (i: number) => Promise<void>,
): Promise<{ timer: PhaseTimer; ops: number }> {
  const timer = new PhaseTimer(capSeconds)
  let issued = 0
  let completed = 0
  const worker = async (): Promise<void> => {
    while (issued < planned && !timer.stoppedEarly) {
      const i = issued++
      const t0 = nowNs()
      await op(i)
      const t1 = nowNs()
      timer.recorder.record(t1 - t0)
      completed++
      if ((completed & 63) === 0) timer.expired(t1)
    }
  }
  const t0 = nowNs()
  await Promise.all(Array.from({ length: Math.min(concurrency, planned) }, worker))
  timer.timedNs = nowNs() - t0
  return { timer, ops: completed }
}

/** Key views for loaded keys first .. first+n-1. */
export function keyViews(workload: Workload, first: number, n: number): Buffer[] {
  const out: Buffer[] = new Array(n)
  for (let j = 0; j < n; j++) out[j] = workload.key(first + j)
  return out
}

/** Key views for random loaded keys: `picks` are uniform uint32s, scaled onto 0 .. loaded-1. */
export function pickKeys(workload: Workload, picks: Uint32Array, loaded: number): Buffer[] {
  const out: Buffer[] = new Array(picks.length)
  for (let j = 0; j < picks.length; j++) out[j] = workload.key(Math.floor((picks[j]! / 2 ** 32) * loaded))
  return out
}

/**
 * The "one fsync per write" baseline that group commit is measured against: `values.length` times (write
 * 1 KiB, fdatasync) on a plain file, with the blocking fs calls (no thread-pool hop: the cheapest way to pay
 * one fsync per write from Node, so the strictest reference). Run next to each engine's durable phase,
 * because this disk's fsync time drifts during a run.
 */
export function fsyncBaseline(path: string, values: Buffer[], capSeconds: number): PhaseResult {
  const timer = new PhaseTimer(capSeconds)
  const fd = openSync(path, 'w')
  let n = 0
  try {
    const t0 = nowNs()
    let t = t0
    while (n < values.length) {
      writeSync(fd, values[n]!)
      fdatasyncSync(fd)
      const t1 = nowNs()
      timer.recorder.record(t1 - t)
      t = t1
      n++
      if (timer.expired(t1)) break
    }
    timer.timedNs = t - t0
  } finally {
    closeSync(fd)
  }
  return timer.result('fsync', n, values.length, 'per-op')
}
