// How long replicas take to answer reads, as this coordinator sees them: the p99 of the most recent replies,
// which sets when a read that is still short of its quorum asks one more replica (speculative retry, DESIGN
// section 4). Tracking the tail rather than a fixed delay keeps a slow-but-healthy cluster from doubling its
// own read load: only about one read in a hundred waits long enough to speculate.
//
// A ring of the last WINDOW latencies; the p99 is recomputed every RECOMPUTE_EVERY samples (a sort of 1024
// numbers), not per read.

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
    const sorted = this.#samples.slice(0, n).sort()
    const p99 = sorted[Math.min(n - 1, Math.floor(n * 0.99))]!
    this.#p99 = Math.min(this.#options.maxMs, Math.max(this.#options.minMs, Math.ceil(p99)))
  }
}
