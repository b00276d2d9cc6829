// The phi-accrual failure detector (Hayashibara et al. 2004, as in Akka and Cassandra): instead of a yes/no
// timeout it answers "how suspicious is this silence", on a scale where phi = 1 means a 10% chance that the
// peer is still alive and will be heard from, phi = 2 a 1% chance, phi = 8 one in 10^8 (DESIGN section 5's
// threshold). Because the scale comes from the intervals actually observed, "down" adapts: a peer heard every
// 5 s is not suspected after 2 s of silence, one heard every second is after a few seconds.
//
// Pure: the caller passes the time (`nowMs`, any monotonic millisecond reading) with every call; nothing here
// reads a clock. Memory is bounded: per peer a ring buffer of the last `windowSize` inter-arrival times with
// running sums, so mean and variance cost O(1).
//
// Model (Akka's): inter-arrival times are normal with the observed mean and standard deviation, where
// - the mean is raised by `acceptablePauseMs` (a GC pause, a slow gossip hop) so such a pause is not a crime,
// - the deviation is at least `minStdDeviationMs`, so a peer that has been perfectly regular is not convicted
//   the moment it is a few milliseconds late,
// and P(interval > t) uses Akka's logistic approximation of the normal CDF (error below 1e-4 of the true one,
// and monotone, so phi is monotone in the silence).
//
// A new peer has no history; its first heartbeat seeds the window with two samples around
// `firstHeartbeatEstimateMs` (+-1/4 of it), as Akka does, so phi is meaningful from the second heartbeat on.
// Intervals longer than `maxSampleMs` are not recorded (the silence still counts for phi): such a gap is an
// outage or a partition, not a sample of the heartbeat rate, and one of them would inflate the deviation for
// the next thousand heartbeats. A peer we have never heard from has phi 0 (unknown is not suspected; the
// gossip layer decides when to start watching a peer by feeding its first heartbeat).

export interface PhiOptions {
  /** Inter-arrival samples kept per peer. Default 1000. */
  windowSize?: number
  /** Lower bound of the standard deviation, ms. Default 500. */
  minStdDeviationMs?: number
  /**
   * Added to the mean interval: silence this much longer than usual costs nothing extra. Default 3000 ms (as
   * Akka cluster): heartbeats reach us over gossip, and a few rounds without news of a member are normal.
   */
  acceptablePauseMs?: number
  /** The interval assumed before any is observed. Default 1000 ms (one gossip round). */
  firstHeartbeatEstimateMs?: number
  /** Intervals longer than this are not samples of the heartbeat rate (outages); not recorded. Default 30 s. */
  maxSampleMs?: number
}

export const DEFAULT_PHI_THRESHOLD = 8

export interface PhiSettings {
  readonly windowSize: number
  readonly minStdDeviationMs: number
  readonly acceptablePauseMs: number
  readonly firstHeartbeatEstimateMs: number
  readonly maxSampleMs: number
}

export function phiSettings(options: PhiOptions = {}): PhiSettings {
  const s = {
    windowSize: options.windowSize ?? 1000,
    minStdDeviationMs: options.minStdDeviationMs ?? 500,
    acceptablePauseMs: options.acceptablePauseMs ?? 3000,
    firstHeartbeatEstimateMs: options.firstHeartbeatEstimateMs ?? 1000,
    maxSampleMs: options.maxSampleMs ?? 30_000,
  }
  if (!Number.isSafeInteger(s.windowSize) || s.windowSize < 2) throw new RangeError('windowSize must be an integer >= 2')
  if (!(s.minStdDeviationMs > 0) || !Number.isFinite(s.minStdDeviationMs)) {
    throw new RangeError('minStdDeviationMs must be a finite number > 0')
  }
  if (!(s.acceptablePauseMs >= 0) || !Number.isFinite(s.acceptablePauseMs)) {
    throw new RangeError('acceptablePauseMs must be a finite number >= 0')
  }
  if (!(s.firstHeartbeatEstimateMs > 0) || !Number.isFinite(s.firstHeartbeatEstimateMs)) {
    throw new RangeError('firstHeartbeatEstimateMs must be a finite number > 0')
  }
  if (!(s.maxSampleMs > 0)) throw new RangeError('maxSampleMs must be > 0')
  return Object.freeze(s)
}

/**
 * A bounded window of inter-arrival times with running sums. The array grows as samples come (a cluster of
 * S nodes holds S - 1 windows per node, most of them short-lived at startup) and then wraps around.
 */
class IntervalWindow {
  readonly #samples: number[] = []
  readonly #size: number
  #next = 0
  #sum = 0
  #sumSquares = 0

  constructor(size: number) {
    this.#size = size
  }

  add(x: number): void {
    if (this.#samples.length < this.#size) {
      this.#samples.push(x)
    } else {
      const old = this.#samples[this.#next]!
      this.#sum -= old
      this.#sumSquares -= old * old
      this.#samples[this.#next] = x
      this.#next = (this.#next + 1) % this.#size
    }
    this.#sum += x
    this.#sumSquares += x * x
  }

  get #count(): number {
    return this.#samples.length
  }

  get count(): number {
    return this.#samples.length
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count
  }

  get variance(): number {
    if (this.#count === 0) return 0
    const m = this.mean
    // Running sums can drift a hair below zero for a perfectly regular peer.
    return Math.max(0, this.#sumSquares / this.#count - m * m)
  }
}

interface PeerHistory {
  readonly window: IntervalWindow
  lastMs: number
}

export class PhiAccrualDetector {
  readonly settings: PhiSettings
  readonly #peers = new Map<string, PeerHistory>()

  constructor(options: PhiOptions = {}) {
    this.settings = phiSettings(options)
  }

  /** Records a heartbeat from `peer` at `nowMs`. A time earlier than the last heartbeat is ignored. */
  heartbeat(peer: string, nowMs: number): void {
    const known = this.#peers.get(peer)
    if (known === undefined) {
      const window = new IntervalWindow(this.settings.windowSize)
      const estimate = this.settings.firstHeartbeatEstimateMs
      const std = estimate / 4
      window.add(estimate - std)
      window.add(estimate + std)
      this.#peers.set(peer, { window, lastMs: nowMs })
      return
    }
    const interval = nowMs - known.lastMs
    if (!(interval >= 0)) return
    if (interval <= this.settings.maxSampleMs) known.window.add(interval)
    known.lastMs = nowMs
  }

  /** Suspicion of `peer` at `nowMs`; 0 for a peer never heard from (or heard from in the future). */
  phi(peer: string, nowMs: number): number {
    const known = this.#peers.get(peer)
    if (known === undefined) return 0
    const elapsed = nowMs - known.lastMs
    if (!(elapsed > 0)) return 0
    const mean = known.window.mean + this.settings.acceptablePauseMs
    const std = Math.max(Math.sqrt(known.window.variance), this.settings.minStdDeviationMs)
    return phiOf(elapsed, mean, std)
  }

  /** True while phi stays at or below `threshold` (and for unknown peers). */
  isAvailable(peer: string, nowMs: number, threshold = DEFAULT_PHI_THRESHOLD): boolean {
    return this.phi(peer, nowMs) <= threshold
  }

  has(peer: string): boolean {
    return this.#peers.has(peer)
  }

  /** Forgets a peer's history (it restarted, or left): its next heartbeat starts afresh. */
  remove(peer: string): void {
    this.#peers.delete(peer)
  }

  /** Samples held for `peer` (for tests and metrics); at most `windowSize`. */
  sampleCount(peer: string): number {
    return this.#peers.get(peer)?.window.count ?? 0
  }

  /** Mean observed interval for `peer` (without the pause allowance), or undefined. */
  meanIntervalMs(peer: string): number | undefined {
    return this.#peers.get(peer)?.window.mean
  }

  get size(): number {
    return this.#peers.size
  }
}

/**
 * phi = -log10(P(interval > elapsed)) for a normal(mean, std) interval, with Akka's logistic approximation
 * P(X <= x) ~ 1 / (1 + exp(-a)), a = y (1.5976 + 0.070566 y^2), y = (x - mean) / std. Then
 * P(X > x) = 1 / (1 + exp(a)) and phi = log10(1 + exp(a)), computed in a form that neither overflows nor
 * underflows: a silence of many deviations gives a large finite phi, a short one a phi near 0.
 */
export function phiOf(elapsedMs: number, meanMs: number, stdMs: number): number {
  const y = (elapsedMs - meanMs) / stdMs
  const a = y * (1.5976 + 0.070566 * y * y)
  return a > 0 ? (a + Math.log1p(Math.exp(-a))) / Math.LN10 : Math.log1p(Math.exp(a)) / Math.LN10
}
