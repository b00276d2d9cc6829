// The load generator's main thread: a piscina pool of worker threads (worker.ts), each with its own client,
// and the sums of what they measured. The pool lives for a whole benchmark run; each scenario is one task
// per thread, all starting at the same instant.
import { pathToFileURL } from 'node:url'
import { MessageChannel } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { LOADGEN_WORKER_JS, ensureCompiled } from './compiled.ts'
import { decodeHistogram, mergeEncoded, newHistogram, percentileCurve, summarize, type LatencyMs } from './histograms.ts'
import type { DriveTask, LoadTask, Progress, TargetSpec, WorkerResult } from './task.ts'

/** Workers start this long after the tasks are handed out, so all of them have connected by then. */
const START_DELAY_MS = 1500

export interface DriveOptions {
  target: TargetSpec
  keys: number
  valueBytes: number
  readFraction: number
  distribution: DriveTask['distribution']
  mode: 'closed' | 'open'
  /** Closed loop: operations in flight over all threads. */
  concurrency: number
  /** Open loop: operations started per second over all threads. */
  ratePerSec: number
  maxInFlight: number
  warmupMs: number
  durationMs: number
  drainMs: number
  seed: number
}

export interface OperationFigures {
  /** Completed in the measured window, per second. */
  opsPerSec: number
  count: number
  latency: LatencyMs
  /** The percentile curve: [percentile, ms] points. */
  curve: [number, number][]
}

export interface TimelinePoint {
  /** Seconds since the start, warm-up included. */
  t: number
  readsPerSec: number
  writesPerSec: number
  errorsPerSec: number
  readP99Ms: number
  writeP99Ms: number
}

export interface DriveResult {
  reads: OperationFigures
  writes: OperationFigures
  errors: Record<string, number>
  errorCount: number
  windowSeconds: number
  timeline: TimelinePoint[]
  unfinished: number
  /** Open loop: operations due in the window that never started; recorded with their wait as latency. */
  unissued: number
  peakInFlight: number
  /** Epoch ms when the workers started (the timeline's zero). */
  startedAtMs: number
}

export type ProgressListener = (done: number, errors: number) => void

export class LoadGenerator {
  readonly threads: number
  readonly #pool: Piscina

  constructor(threads: number) {
    this.threads = threads
    ensureCompiled()
    this.#pool = new Piscina({
      filename: pathToFileURL(LOADGEN_WORKER_JS).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60 * 60 * 1000,
      concurrentTasksPerWorker: 1,
    })
  }

  /** Writes keys 0..keys-1 once each, split over the threads. */
  async load(target: TargetSpec, keys: number, valueBytes: number, concurrency: number, seed: number, onProgress?: ProgressListener): Promise<{ loaded: number; errors: Record<string, number> }> {
    const progress = this.#progress(onProgress)
    const per = Math.ceil(keys / this.threads)
    const results = await Promise.all(
      Array.from({ length: this.threads }, (_, worker) => {
        const port = progress.port(worker)
        const task: LoadTask = {
          kind: 'load', worker, target, valueBytes, seed: seed + worker,
          from: Math.min(keys, worker * per), to: Math.min(keys, (worker + 1) * per),
          concurrency: Math.max(1, Math.floor(concurrency / this.threads)),
          progress: port,
        }
        return this.#pool.run(task, port === undefined ? {} : { transferList: [port] }) as Promise<{ loaded: number; errors: Record<string, number> }>
      }),
    )
    progress.close()
    const errors: Record<string, number> = {}
    for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n
    return { loaded: results.reduce((a, r) => a + r.loaded, 0), errors }
  }

  /**
   * Runs the workload on every thread. `onStart` is called with the epoch start time once the tasks are out
   * (the degraded scenario schedules its node stop from it).
   */
  async drive(o: DriveOptions, onProgress?: ProgressListener, onStart?: (startAtMs: number) => void): Promise<DriveResult> {
    const startAtMs = Date.now() + START_DELAY_MS
    const progress = this.#progress(onProgress)
    const split = (total: number, worker: number): number =>
      Math.floor(total / this.threads) + (worker < total % this.threads ? 1 : 0)
    const runs = Array.from({ length: this.threads }, (_, worker) => {
      const port = progress.port(worker)
      const task: DriveTask = {
        kind: 'drive', worker, target: o.target, keys: o.keys, valueBytes: o.valueBytes, readFraction: o.readFraction,
        distribution: o.distribution, mode: o.mode,
        concurrency: Math.max(1, split(o.concurrency, worker)),
        ratePerSec: o.ratePerSec / this.threads,
        maxInFlight: Math.max(1, Math.floor(o.maxInFlight / this.threads)),
        startAtMs, warmupMs: o.warmupMs, durationMs: o.durationMs, drainMs: o.drainMs,
        seed: o.seed * 1000 + worker, progress: port,
      }
      return this.#pool.run(task, port === undefined ? {} : { transferList: [port] }) as Promise<WorkerResult>
    })
    onStart?.(startAtMs)
    const results = await Promise.all(runs)
    progress.close()
    return combine(results, startAtMs)
  }

  async close(): Promise<void> {
    await this.#pool.destroy()
  }

  #progress(listener: ProgressListener | undefined) {
    const done = new Map<number, Progress>()
    const channels: MessageChannel[] = []
    return {
      port: (worker: number) => {
        if (listener === undefined) return undefined
        const channel = new MessageChannel()
        channels.push(channel)
        channel.port1.on('message', (p: Progress) => {
          done.set(worker, p)
          let ops = 0
          let errors = 0
          for (const q of done.values()) {
            ops += q.done
            errors += q.errors
          }
          listener(ops, errors)
        })
        return channel.port2
      },
      close: () => {
        for (const c of channels) c.port1.close()
      },
    }
  }
}

function combine(results: WorkerResult[], startedAtMs: number): DriveResult {
  const windowSeconds = Math.max(...results.map((r) => r.windowSeconds))
  const operation = (count: number, histograms: string[]): OperationFigures => {
    const h = mergeEncoded(histograms)
    const figures = { opsPerSec: Math.round(count / windowSeconds), count, latency: summarize(h), curve: percentileCurve(h) }
    h.destroy()
    return figures
  }
  const errors: Record<string, number> = {}
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n
  const timeline: TimelinePoint[] = []
  const intervals = Math.max(...results.map((r) => r.intervals.length))
  for (let i = 0; i < intervals; i++) {
    const samples = results.map((r) => r.intervals[i]).filter((s) => s !== undefined)
    const previousT = i === 0 ? 0 : Math.max(...results.map((r) => r.intervals[i - 1]?.t ?? 0))
    const t = Math.max(...samples.map((s) => s.t))
    const seconds = t - previousT
    // The last interval is cut short by the end of the run: under half a second it says more about
    // rounding than about throughput.
    if (seconds < 0.5) continue
    const readH = newHistogram()
    const writeH = newHistogram()
    for (const s of samples) {
      const rh = decodeHistogram(s.readHistogram)
      const wh = decodeHistogram(s.writeHistogram)
      readH.add(rh)
      writeH.add(wh)
      rh.destroy()
      wh.destroy()
    }
    const sum = (f: (s: (typeof samples)[number]) => number): number => samples.reduce((a, s) => a + f(s), 0)
    timeline.push({
      t: Math.round(t * 100) / 100,
      readsPerSec: Math.round(sum((s) => s.reads) / seconds),
      writesPerSec: Math.round(sum((s) => s.writes) / seconds),
      errorsPerSec: Math.round(sum((s) => s.errors) / seconds),
      readP99Ms: readH.totalCount === 0 ? 0 : readH.getValueAtPercentile(99) / 1000,
      writeP99Ms: writeH.totalCount === 0 ? 0 : writeH.getValueAtPercentile(99) / 1000,
    })
    readH.destroy()
    writeH.destroy()
  }
  return {
    reads: operation(results.reduce((a, r) => a + r.reads, 0), results.map((r) => r.readHistogram)),
    writes: operation(results.reduce((a, r) => a + r.writes, 0), results.map((r) => r.writeHistogram)),
    errors,
    errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
    windowSeconds,
    timeline,
    unfinished: results.reduce((a, r) => a + r.unfinished, 0),
    unissued: results.reduce((a, r) => a + r.unissued, 0),
    peakInFlight: results.reduce((a, r) => a + r.peakInFlight, 0),
    startedAtMs,
  }
}
