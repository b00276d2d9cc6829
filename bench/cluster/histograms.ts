// Latency histograms of the cluster benchmark: microseconds, 3 significant digits (hdr-histogram-js), moved
// between the load generator's worker threads and the main thread in HdrHistogram's compressed base64 form.
//
// Every operation is recorded, one sample each (no batch averages): the cluster benchmark is about tails.
import * as hdr from 'hdr-histogram-js'

export type Histogram = hdr.Histogram

/** 1 us .. 1 hour: anything slower than an hour is recorded as an hour. */
const HIGHEST_US = 3_600_000_000

export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 })
}

export function recordUs(h: Histogram, us: number): void {
  h.recordValue(us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : Math.round(us))
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h)
}

export function decodeHistogram(text: string): Histogram {
  return hdr.decodeFromCompressedBase64(text, 32)
}

/** Sum of several encoded histograms. */
export function mergeEncoded(texts: readonly string[]): Histogram {
  const total = newHistogram()
  for (const text of texts) {
    const h = decodeHistogram(text)
    total.add(h)
    h.destroy()
  }
  return total
}

export interface LatencyMs {
  count: number
  meanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

export function summarize(h: Histogram): LatencyMs {
  const ms = (us: number): number => Math.round(us) / 1000
  if (h.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 }
  return {
    count: h.totalCount,
    meanMs: ms(h.mean),
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
  }
}

/**
 * The percentile curve HdrHistogram plots: latency at percentiles 1 - 10^(-k/10) for k = 0, 1, ... (0%,
 * 20.6%, 36.9%, ... 90%, ... 99%, ... 99.9%, ...), up to the one that the sample count can still resolve,
 * then the maximum. Points are [percentile, ms].
 */
export function percentileCurve(h: Histogram): [number, number][] {
  const points: [number, number][] = []
  if (h.totalCount === 0) return points
  for (let k = 0; ; k++) {
    const p = 100 * (1 - Math.pow(10, -k / 10))
    if (100 - p < 100 / h.totalCount) break
    points.push([Math.round(p * 10000) / 10000, h.getValueAtPercentile(p) / 1000])
    if (k >= 60) break
  }
  points.push([100, h.maxValue / 1000])
  return points
}
