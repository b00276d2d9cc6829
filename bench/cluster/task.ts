// What the load generator's main thread asks of a worker thread, and what the worker sends back. Plain data,
// so it crosses threads by structured clone; histograms travel encoded (histograms.ts).
import type { MessagePort } from 'node:worker_threads'
import type { KeyDistribution } from './keys.ts'

/** Where the operations go. */
export type TargetSpec =
  | { kind: 'ringkv'; seeds: string[]; timeoutMs: number }
  | { kind: 'bare'; addresses: string[] }
  | { kind: 'redis'; address: string }

export interface DriveTask {
  kind: 'drive'
  worker: number
  target: TargetSpec
  keys: number
  valueBytes: number
  /** Share of operations that are reads (10:1 reads to writes is 10/11). */
  readFraction: number
  distribution: KeyDistribution
  /** 'closed': `concurrency` loops, each waiting for its answer; 'open': `ratePerSec` starts per second. */
  mode: 'closed' | 'open'
  concurrency: number
  ratePerSec: number
  /** Open loop: at most this many operations outstanding; later ones wait (and their wait counts). */
  maxInFlight: number
  /** Epoch ms at which every worker starts, so their timelines line up. */
  startAtMs: number
  warmupMs: number
  durationMs: number
  /** Longest wait for operations still outstanding at the end. */
  drainMs: number
  seed: number
  progress: MessagePort | undefined
}

/** Writes keys [from, to) once each, `concurrency` at a time: the data set the scenarios then use. */
export interface LoadTask {
  kind: 'load'
  worker: number
  target: TargetSpec
  from: number
  to: number
  valueBytes: number
  concurrency: number
  seed: number
  progress: MessagePort | undefined
}

export type WorkerTask = DriveTask | LoadTask

export interface IntervalSample {
  /** Seconds since the start (warm-up included) at the end of this interval. */
  t: number
  reads: number
  writes: number
  errors: number
  readHistogram: string
  writeHistogram: string
}

export interface WorkerResult {
  worker: number
  /** Operations completed within the measured window (after warm-up, before the end), by kind. */
  reads: number
  writes: number
  /** Failed operations in the window, by error code. */
  errors: Record<string, number>
  /** Seconds the window lasted for this worker. */
  windowSeconds: number
  /** Latency of operations whose intended start was in the window, us. */
  readHistogram: string
  writeHistogram: string
  /** One sample per second from the start, warm-up included. */
  intervals: IntervalSample[]
  /** Operations still outstanding when the drain time ran out. */
  unfinished: number
  /** Open loop: operations due in the window that never started (the system could not keep up). */
  unissued: number
  /** Open loop: the most operations outstanding at once. */
  peakInFlight: number
}

/** Progress messages a worker posts every second: operations completed so far, warm-up included. */
export interface Progress {
  worker: number
  done: number
  errors: number
}
