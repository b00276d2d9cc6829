// A token bucket on the Clock seam: `ratePerSec` tokens a second, up to `burst` saved up. `take(cost)` may
// drive the balance below zero (a hint larger than the burst still goes once the bucket is out of debt),
// and `delay()` then tells later callers how long to wait until the debt is paid back: the long-run rate
// holds whatever the costs.
import type { Clock } from '../runtime/index.ts'

export class TokenBucket {
  readonly #clock: Clock
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #at: number

  constructor(clock: Clock, ratePerSec: number, burst = ratePerSec) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`ratePerSec must be a positive number, got ${ratePerSec}`)
    if (!(burst > 0) || !Number.isFinite(burst)) throw new RangeError(`burst must be a positive number, got ${burst}`)
    this.#clock = clock
    this.#rate = ratePerSec
    this.#burst = burst
    this.#tokens = burst
    this.#at = clock.monotonic()
  }

  #refill(): void {
    const now = this.#clock.monotonic()
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.#rate) / 1000)
    this.#at = now
  }

  /** Milliseconds until the bucket is out of debt (0: a `take` may go now). */
  delay(): number {
    this.#refill()
    if (this.#tokens >= 0) return 0
    return Math.max(1, Math.ceil((-this.#tokens * 1000) / this.#rate))
  }

  /** Takes `cost` tokens, going into debt if need be; call once `delay()` is 0. */
  take(cost: number): void {
    this.#refill()
    this.#tokens -= cost
  }
}
