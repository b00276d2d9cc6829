/**
 * Request deadlines without a timer per request.
 *
 * A timer per request costs an allocation plus a timer-list insert and removal on every request — about a
 * quarter of the throughput of a small echo over loopback. But requests that share a timeout expire in the
 * order they were issued, so each distinct timeout value keeps a FIFO of entries and ONE clock timer, armed for
 * its oldest live entry. A completed entry's slot is emptied at once (no reference kept), and empty slots are
 * skipped as the front advances, so the FIFO holds about as many slots as there are requests in flight — a
 * request stuck until its timeout holds back only empty slots behind it (8 bytes each), not the requests.
 *
 * A deadline fires no earlier than `timeoutMs` after `add`, on the clock's monotonic time.
 */
import type { Clock, TimerHandle } from '../runtime/clock.ts'

/** Bookkeeping the queue keeps on each entry (so `remove` is O(1) without a lookup). */
export interface Expirable {
  deadlineBucket: object | undefined
  deadlineSlot: number
}

interface Bucket<T> {
  readonly timeoutMs: number
  /** Entries in issue order; undefined once removed or expired. slots[i] has absolute index base + i. */
  slots: (T | undefined)[]
  deadlines: number[]
  head: number
  base: number
  live: number
  timer: TimerHandle | undefined
}

/** Compact a FIFO once this many slots at its front are dead and they are at least half of it. */
const COMPACT_AFTER = 1024

export class DeadlineQueue<T extends Expirable> {
  readonly #clock: Clock
  readonly #onExpire: (entry: T) => void
  readonly #buckets = new Map<number, Bucket<T>>()

  constructor(clock: Clock, onExpire: (entry: T) => void) {
    this.#clock = clock
    this.#onExpire = onExpire
  }

  add(entry: T, timeoutMs: number): void {
    let bucket = this.#buckets.get(timeoutMs)
    if (bucket === undefined) {
      bucket = { timeoutMs, slots: [], deadlines: [], head: 0, base: 0, live: 0, timer: undefined }
      this.#buckets.set(timeoutMs, bucket)
    }
    entry.deadlineBucket = bucket
    entry.deadlineSlot = bucket.base + bucket.slots.length
    bucket.slots.push(entry)
    bucket.deadlines.push(this.#clock.monotonic() + timeoutMs)
    bucket.live++
    // No timer means no live entry before this one: this one is the oldest.
    if (bucket.timer === undefined) this.#arm(bucket, timeoutMs)
  }

  remove(entry: T): void {
    const bucket = entry.deadlineBucket as Bucket<T> | undefined
    if (bucket === undefined) return
    entry.deadlineBucket = undefined
    bucket.slots[entry.deadlineSlot - bucket.base] = undefined
    bucket.live--
    this.#advanceHead(bucket)
    // The timer stays armed even when nothing is live: re-arming per request is what this avoids.
  }

  /** Forget every entry and cancel every timer (the connection closed). */
  clear(): void {
    for (const bucket of this.#buckets.values()) {
      this.#clock.clearTimeout(bucket.timer)
      for (const entry of bucket.slots) if (entry !== undefined) entry.deadlineBucket = undefined
    }
    this.#buckets.clear()
  }

  #arm(bucket: Bucket<T>, delay: number): void {
    bucket.timer = this.#clock.setTimeout(() => this.#fire(bucket), delay)
  }

  #fire(bucket: Bucket<T>): void {
    bucket.timer = undefined
    const now = this.#clock.monotonic()
    const expired: T[] = []
    let i = bucket.head
    for (; i < bucket.slots.length; i++) {
      const entry = bucket.slots[i]
      if (entry === undefined) continue
      if ((bucket.deadlines[i] as number) > now) break
      bucket.slots[i] = undefined
      entry.deadlineBucket = undefined
      bucket.live--
      expired.push(entry)
    }
    this.#advanceHead(bucket)
    if (bucket.live > 0) this.#arm(bucket, Math.max(0, (bucket.deadlines[bucket.head] as number) - now))
    else if (this.#buckets.get(bucket.timeoutMs) === bucket) this.#buckets.delete(bucket.timeoutMs)
    // Callbacks last: they may add entries, which must see a consistent bucket.
    for (const entry of expired) this.#onExpire(entry)
  }

  #advanceHead(bucket: Bucket<T>): void {
    const slots = bucket.slots
    let head = bucket.head
    while (head < slots.length && slots[head] === undefined) head++
    if (head === slots.length) {
      bucket.base += slots.length
      slots.length = 0
      bucket.deadlines.length = 0
      head = 0
    } else if (head >= COMPACT_AFTER && head * 2 >= slots.length) {
      bucket.slots = slots.slice(head)
      bucket.deadlines = bucket.deadlines.slice(head)
      bucket.base += head
      head = 0
    }
    bucket.head = head
  }
}
