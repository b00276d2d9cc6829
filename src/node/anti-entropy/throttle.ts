// Paces anti-entropy so that foreground requests keep their latency (DESIGN section 6): at most so many
// partitions and so many bytes per second, through the Clock (virtual in tests). Work is never refused, only
// spread out: a caller that went over the budget waits until the average is back under it.

import { sleep, type Clock } from '../../runtime/index.ts'

export interface ThrottleOptions {
  /** Partitions compared per second; Infinity for no limit. */
  maxPartitionsPerSecond: number
  /** Bytes sent and received per second; Infinity for no limit. */
  maxBytesPerSecond: number
}

/** Debt below this is not worth a timer of its own: it is paid with the next wait. */
const MIN_WAIT_MS = 10

export class Throttle {
  readonly #clock: Clock
  readonly #partitionMs: number
  readonly #byteMs: number
  #nextPartitionAt = -Infinity
  /** When the bytes accounted so far will have been "spent" at the allowed rate. */
  #bytesFreeAt = -Infinity

  constructor(clock: Clock, options: ThrottleOptions) {
    this.#clock = clock
    this.#partitionMs = 1000 / options.maxPartitionsPerSecond
    this.#byteMs = 1000 / options.maxBytesPerSecond
  }

  /** Waits for the next partition's turn. */
  async partition(): Promise<void> {
    const now = this.#clock.monotonic()
    const at = Math.max(now, this.#nextPartitionAt)
    this.#nextPartitionAt = at + this.#partitionMs
    if (at - now >= 1) await sleep(this.#clock, at - now)
  }

  /** Accounts for `n` bytes moved; waits while the byte budget is overdrawn. */
  async bytes(n: number): Promise<void> {
    const now = this.#clock.monotonic()
    this.#bytesFreeAt = Math.max(now, this.#bytesFreeAt) + n * this.#byteMs
    const debt = this.#bytesFreeAt - now
    if (debt >= MIN_WAIT_MS) await sleep(this.#clock, debt)
  }
}
