// Latency recording for the benchmarks (engine now, cluster later).
//
// Values are recorded in nanoseconds, with 3 significant digits, so the sub-microsecond per-op averages of
// synchronous reads keep their precision; everything is reported in microseconds. Two ways to record:
// - `record(ns)`: one operation timed on its own (async operations, scans, fsyncs).
// - `recordBatch(totalNs, ops)`: a run of `ops` synchronous operations timed together, recorded as `ops`
//   samples of the average. Used where a clock read per operation would cost a visible share of the
//   operation itself (a ~2 us get next to ~50 ns of process.hrtime.bigint()). Percentiles are then of
//   batch averages, which hides the tail inside a batch: the report says which method each row used.
import * as hdr from 'hdr-histogram-js'

/** Summary of one histogram in microseconds. */
export interface LatencySummary {
  count: number
  meanUs: number
  p50Us: number
  p99Us: number
  p999Us: number
  maxUs: number
}

export class LatencyRecorder {
  readonly #histogram: hdr.Histogram

  constructor() {
    this.#histogram = hdr.build({
      bitBucketSize: 64,
      autoResize: true,
      lowestDiscernibleValue: 1,
      numberOfSignificantValueDigits: 3,
    })
  }

  /** One operation that took `ns` nanoseconds. */
  record(ns: number | bigint): void {
    this.#histogram.recordValue(Math.max(1, Math.round(Number(ns))))
  }

  /** `ops` operations that took `totalNs` together: records `ops` samples of the average. */
  recordBatch(totalNs: number | bigint, ops: number): void {
    if (ops <= 0) return
    this.#histogram.recordValueWithCount(Math.max(1, Math.round(Number(totalNs) / ops)), ops)
  }

  get count(): number {
    return this.#histogram.totalCount
  }

  summary(): LatencySummary {
    const h = this.#histogram
    const us = (ns: number): number => ns / 1000
    return {
      count: h.totalCount,
      meanUs: us(h.mean),
      p50Us: us(h.getValueAtPercentile(50)),
      p99Us: us(h.getValueAtPercentile(99)),
      p999Us: us(h.getValueAtPercentile(99.9)),
      maxUs: us(h.maxValue),
    }
  }

  destroy(): void {
    this.#histogram.destroy()
  }
}

/** Nanoseconds since an arbitrary origin, as a bigint (monotonic). */
export const nowNs = (): bigint => process.hrtime.bigint()

/** Seconds elapsed since `start` (a value of nowNs()). */
export const secondsSince = (start: bigint): number => Number(nowNs() - start) / 1e9
