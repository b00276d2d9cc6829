// How long replicas take to answer reads, as this coordinator sees them: the p99 of the most recent replies,
// which sets when a read that is still short of its quorum asks one more replica (speculative retry, DESIGN
// section 4). Tracking the tail rather than a fixed delay keeps a slow-but-healthy cluster from doubling its
// own read load: only about one read in a hundred waits long enough to speculate.
//
// A ring of the last WINDOW latencies; the p99 is recomputed every RECOMPUTE_EVERY samples, not per read, by
// selecting the one element it is (quickselect, linear) rather than sorting all 1024: the sort was ~1% of a
// node's CPU under load.

const WINDOW = 1024
const RECOMPUTE_EVERY = 256

export interface ReplicaLatencyOptions {
  /** The delay before any sample, and the floor of the estimate (ms). */
  initialMs: number
  minMs: number
  maxMs: number
}

export class ReplicaLatency {
  readonly #samples = new Float64Array(WINDOW)
  readonly #scratch = new Float64Array(WINDOW)
  readonly #options: ReplicaLatencyOptions
  #count = 0
  #next = 0
  #p99: number

  constructor(options: ReplicaLatencyOptions) {
    if (!(options.minMs > 0 && options.minMs <= options.initialMs && options.initialMs <= options.maxMs)) {
      throw new RangeError(`replica latency bounds must satisfy 0 < minMs <= initialMs <= maxMs, got ${JSON.stringify(options)}`)
    }
    this.#options = options
    this.#p99 = options.initialMs
  }

  record(ms: number): void {
    this.#samples[this.#next] = ms
    this.#next = (this.#next + 1) % WINDOW
    this.#count++
    if (this.#count % RECOMPUTE_EVERY === 0) this.#recompute()
  }

  /** The delay after which a read asks one more replica, in whole milliseconds. */
  speculateAfterMs(): number {
    return this.#p99
  }

  #recompute(): void {
    const n = Math.min(this.#count, WINDOW)
    const scratch = this.#scratch
    scratch.set(n === WINDOW ? this.#samples : this.#samples.subarray(0, n))
    const p99 = select(scratch, n, Math.min(n - 1, Math.floor(n * 0.99)))
    this.#p99 = Math.min(this.#options.maxMs, Math.max(this.#options.minMs, Math.ceil(p99)))
  }
}

/** The `k`-th smallest of `a[0..n)` (0-based); reorders `a`. Hoare's quickselect with a median-of-three pivot. */
export function select(a: Float64Array, n: number, k: number): number {
  let lo = 0
  let hi = n - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    // Median of three into a[mid], so that sorted or constant runs do not make it quadratic.
    if (a[mid]! < a[lo]!) swap(a, mid, lo)
    if (a[hi]! < a[lo]!) swap(a, hi, lo)
    if (a[hi]! < a[mid]!) swap(a, hi, mid)
    const pivot = a[mid]!
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        swap(a, i, j)
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return a[k]!
  }
  return a[k]!
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!
  a[i] = a[j]!
  a[j] = t
}
