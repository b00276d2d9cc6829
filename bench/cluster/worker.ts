// A load-generator worker thread (run by piscina): it opens its own client to the target and drives it,
// closed loop (N loops, each waiting for its answer) or open loop (operations started on a fixed schedule
// whether or not earlier ones have answered).
//
// Open loop and coordinated omission. An operation's latency is measured from when the schedule meant it to
// start, not from when it was sent: when the system stalls, the operations that should have started during
// the stall count the stall too. A closed loop cannot do this (a stalled loop sends nothing, so a stall shows
// as one slow operation), which is why the target-rate scenarios run open loop.
import { performance } from 'node:perf_hooks'
import { SeededRandom } from '../../src/runtime/random.ts'
import { encodeHistogram, newHistogram, recordUs, type Histogram } from './histograms.ts'
import { keyChooser } from './keys.ts'
import { openTarget, type Target } from './targets.ts'
import type { DriveTask, IntervalSample, LoadTask, Progress, WorkerResult, WorkerTask } from './task.ts'

const INTERVAL_MS = 1000
/** Open loop: how often the schedule is looked at; operations due meanwhile start together. */
const TICK_MS = 1

export default async function run(task: WorkerTask): Promise<WorkerResult | { loaded: number; errors: Record<string, number> }> {
  return task.kind === 'load' ? load(task) : drive(task)
}

function values(valueBytes: number, seed: number): Buffer[] {
  const random = new SeededRandom(seed)
  return Array.from({ length: 16 }, () => random.fill(Buffer.allocUnsafe(valueBytes)))
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code
  return typeof code === 'string' ? code : 'ERR_UNKNOWN'
}

async function load(task: LoadTask): Promise<{ loaded: number; errors: Record<string, number> }> {
  const target = await openTarget(task.target, task.to)
  const vals = values(task.valueBytes, task.seed)
  const errors: Record<string, number> = {}
  let next = task.from
  let loaded = 0
  let failed = 0
  const report = setInterval(() => task.progress?.postMessage({ worker: task.worker, done: loaded, errors: failed } satisfies Progress), INTERVAL_MS)
  const loop = async (): Promise<void> => {
    while (next < task.to) {
      const key = next++
      try {
        await target.put(key, vals[key & 15]!)
        loaded++
      } catch (error) {
        failed++
        const code = codeOf(error)
        errors[code] = (errors[code] ?? 0) + 1
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: task.concurrency }, loop))
  } finally {
    clearInterval(report)
    task.progress?.postMessage({ worker: task.worker, done: loaded, errors: failed } satisfies Progress)
    task.progress?.close()
    await target.close()
  }
  return { loaded, errors }
}

class Recorder {
  readonly reads = newHistogram()
  readonly writes = newHistogram()
  readonly errors: Record<string, number> = {}
  readsDone = 0
  writesDone = 0
  intervals: IntervalSample[] = []
  #intervalReads = newHistogram()
  #intervalWrites = newHistogram()
  #interval = { reads: 0, writes: 0, errors: 0 }
  totalDone = 0
  totalErrors = 0

  constructor(
    readonly windowStart: number,
    readonly windowEnd: number,
    readonly readShare: number,
  ) {}

  /** Whether an operation that never ran would have been a read, drawn with the workload's mix. */
  readFraction(random: SeededRandom): boolean {
    return random.next() < this.readShare
  }

  ok(isRead: boolean, intended: number, now: number): void {
    const us = (now - intended) * 1000
    this.totalDone++
    if (isRead) {
      this.#interval.reads++
      recordUs(this.#intervalReads, us)
    } else {
      this.#interval.writes++
      recordUs(this.#intervalWrites, us)
    }
    if (intended >= this.windowStart && intended < this.windowEnd) recordUs(isRead ? this.reads : this.writes, us)
    if (now >= this.windowStart && now <= this.windowEnd) {
      if (isRead) this.readsDone++
      else this.writesDone++
    }
  }

  failed(error: unknown, now: number): void {
    this.totalErrors++
    this.#interval.errors++
    if (now >= this.windowStart && now <= this.windowEnd) {
      const code = codeOf(error)
      this.errors[code] = (this.errors[code] ?? 0) + 1
    }
  }

  closeInterval(t: number): void {
    this.intervals.push({
      t,
      ...this.#interval,
      readHistogram: encodeHistogram(this.#intervalReads),
      writeHistogram: encodeHistogram(this.#intervalWrites),
    })
    this.#intervalReads.reset()
    this.#intervalWrites.reset()
    this.#interval = { reads: 0, writes: 0, errors: 0 }
  }
}

async function drive(task: DriveTask): Promise<WorkerResult> {
  const target: Target = await openTarget(task.target, task.keys)
  const random = new SeededRandom(task.seed)
  const chooser = keyChooser(task.distribution, task.keys, random.fork())
  const vals = values(task.valueBytes, task.seed + 1)
  // Times are performance.now() of this thread; the shared start is an epoch time.
  const start = task.startAtMs - performance.timeOrigin
  const windowStart = start + task.warmupMs
  const end = windowStart + task.durationMs
  const rec = new Recorder(windowStart, end, task.readFraction)
  let inFlight = 0
  let peakInFlight = 0

  const one = async (intended: number): Promise<void> => {
    const key = chooser.next()
    const isRead = random.next() < task.readFraction
    inFlight++
    if (inFlight > peakInFlight) peakInFlight = inFlight
    try {
      if (isRead) await target.get(key)
      else await target.put(key, vals[key & 15]!)
      rec.ok(isRead, intended, performance.now())
    } catch (error) {
      rec.failed(error, performance.now())
    } finally {
      inFlight--
    }
  }

  const waitUntil = (t: number): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, Math.max(0, t - performance.now())))
  await waitUntil(start)

  let intervalIndex = 0
  const sampler = setInterval(() => {
    intervalIndex++
    rec.closeInterval(intervalIndex * (INTERVAL_MS / 1000))
    task.progress?.postMessage({ worker: task.worker, done: rec.totalDone, errors: rec.totalErrors } satisfies Progress)
  }, INTERVAL_MS)

  const outstanding = new Set<Promise<void>>()
  // Open loop: operations whose start time came while `maxInFlight` were outstanding and the window closed
  // before they could start. They are the system's failure to keep up, not the generator's: counted, and
  // recorded with the wait they had when the run ended (a lower bound of their latency).
  let unissuedFrom = 0
  let unissuedTo = 0
  let periodMs = 0
  if (task.mode === 'closed') {
    const loop = async (): Promise<void> => {
      while (performance.now() < end) await one(performance.now())
    }
    await Promise.all(Array.from({ length: task.concurrency }, loop))
  } else {
    periodMs = 1000 / task.ratePerSec
    let issued = 0
    await new Promise<void>((done) => {
      const tick = (): void => {
        const now = performance.now()
        const due = Math.floor((Math.min(now, end) - start) / periodMs)
        while (issued < due && inFlight < task.maxInFlight) {
          const p = one(start + issued * periodMs)
          outstanding.add(p)
          void p.then(() => outstanding.delete(p))
          issued++
        }
        if (now >= end) {
          unissuedFrom = issued
          unissuedTo = Math.floor((end - start) / periodMs)
          done()
        } else setTimeout(tick, TICK_MS)
      }
      tick()
    })
  }
  // Let what is still outstanding finish (it counts toward latency), within the drain time.
  let unfinished = 0
  if (outstanding.size > 0) {
    const drained = Promise.all(outstanding).then(() => true)
    const timedOut = new Promise<boolean>((r) => setTimeout(() => r(false), task.drainMs))
    if (!(await Promise.race([drained, timedOut]))) unfinished = outstanding.size
  }
  clearInterval(sampler)
  const finishedAt = performance.now()
  for (let k = unissuedFrom; k < unissuedTo; k++) {
    const intended = start + k * periodMs
    if (intended >= windowStart) recordUs(rec.readFraction(random) ? rec.reads : rec.writes, (finishedAt - intended) * 1000)
  }
  rec.closeInterval((intervalIndex + (performance.now() - start - intervalIndex * INTERVAL_MS) / INTERVAL_MS) * (INTERVAL_MS / 1000))
  task.progress?.postMessage({ worker: task.worker, done: rec.totalDone, errors: rec.totalErrors } satisfies Progress)
  task.progress?.close()
  await target.close()
  const result: WorkerResult = {
    worker: task.worker,
    reads: rec.readsDone,
    writes: rec.writesDone,
    errors: rec.errors,
    windowSeconds: task.durationMs / 1000,
    readHistogram: encodeHistogram(rec.reads),
    writeHistogram: encodeHistogram(rec.writes),
    intervals: rec.intervals,
    unfinished,
    unissued: Math.max(0, unissuedTo - Math.max(unissuedFrom, Math.ceil((windowStart - start) / (periodMs || 1)))),
    peakInFlight,
  }
  rec.reads.destroy()
  rec.writes.destroy()
  return result
}

export type { Histogram }
