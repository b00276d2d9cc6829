/**
 * Time and timers — the one seam through which ringkv reads the time or schedules work.
 *
 * Nothing outside `src/runtime/` calls `Date.now`, `performance.now`, `setTimeout`, `setInterval` or
 * `setImmediate`; it receives a `Clock` instead. Production passes `systemClock`; tests and the deterministic
 * simulator pass a `VirtualClock`, whose time only moves when the test says so (or, in auto-advance mode,
 * jumps straight to the next timer), so a run is replayable and a 5-second timeout takes no real time.
 *
 * Two readings of time:
 * - `now()`: wall-clock milliseconds since the Unix epoch, for timestamps that leave the process
 *   (last-write-wins values, log lines). It may jump when the system clock is adjusted.
 * - `monotonic()`: milliseconds from an arbitrary origin that never go backwards, for durations and deadlines.
 *
 * `setImmediate` means "after the I/O of the current event-loop turn": it is how the wire layer gathers every
 * frame produced in one turn into a single socket write.
 */

declare const timerBrand: unique symbol
/** An opaque timer handle; only the clock that issued it can cancel it. */
export type TimerHandle = { readonly [timerBrand]: true }

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number
  /** Milliseconds (fractional) from an arbitrary origin; never decreases. */
  monotonic(): number
  setTimeout(callback: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle | undefined): void
  setInterval(callback: () => void, ms: number): TimerHandle
  clearInterval(handle: TimerHandle | undefined): void
  /** Run `callback` once the current event-loop turn (including its pending I/O callbacks) is done. */
  setImmediate(callback: () => void): TimerHandle
  clearImmediate(handle: TimerHandle | undefined): void
}

/** A promise that resolves after `ms` milliseconds of `clock` time. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms)
  })
}

/** The real clock: Node's timers and the system time. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms) as unknown as TimerHandle,
  clearTimeout: (handle: TimerHandle | undefined) => clearTimeout(handle as unknown as NodeJS.Timeout | undefined),
  setInterval: (callback: () => void, ms: number) => setInterval(callback, ms) as unknown as TimerHandle,
  clearInterval: (handle: TimerHandle | undefined) =>
    clearInterval(handle as unknown as NodeJS.Timeout | undefined),
  setImmediate: (callback: () => void) => setImmediate(callback) as unknown as TimerHandle,
  clearImmediate: (handle: TimerHandle | undefined) =>
    clearImmediate(handle as unknown as NodeJS.Immediate | undefined),
})

interface VirtualTimer {
  readonly id: number
  at: number
  /** Scheduling order; breaks ties between timers due at the same time (FIFO, like Node). */
  seq: number
  readonly callback: () => void
  /** Repeat period for intervals, undefined for one-shot timers. */
  readonly every: number | undefined
}

export interface VirtualClockOptions {
  /** Initial wall-clock reading, ms since the epoch. Default 0. */
  startMs?: number
  /**
   * When true, whenever the real event loop comes around (a real `setImmediate`) and a virtual timer is
   * pending, time jumps to the earliest one and runs it — one timer per real turn, so promise continuations
   * settle between timers. Use it when the code under test does no real I/O (the memory transport): timeouts
   * of seconds then take microseconds, in a deterministic order. Default false: time moves only in `advance`.
   */
  autoAdvance?: boolean
}

/**
 * Virtual time for tests and the simulator. Timers run in (due time, scheduling order); intervals are
 * rescheduled from their due time, so they never drift. `setImmediate` is a timer due now.
 */
export class VirtualClock implements Clock {
  readonly #start: number
  #time: number
  #seq = 0
  #nextId = 1
  readonly #heap: VirtualTimer[] = []
  /** Live timers by id; a cancelled timer is removed here and skipped lazily when it surfaces in the heap. */
  readonly #live = new Map<number, VirtualTimer>()
  readonly #autoAdvance: boolean
  #pumpArmed = false

  constructor(options: VirtualClockOptions = {}) {
    const start = options.startMs ?? 0
    if (!Number.isFinite(start)) throw new RangeError('startMs must be a finite number')
    this.#start = start
    this.#time = start
    this.#autoAdvance = options.autoAdvance ?? false
  }

  now(): number {
    return this.#time
  }

  monotonic(): number {
    return this.#time - this.#start
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#schedule(callback, ms, undefined)
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.#cancel(handle)
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#schedule(callback, ms, Math.max(1, delayOf(ms)))
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.#cancel(handle)
  }

  setImmediate(callback: () => void): TimerHandle {
    return this.#schedule(callback, 0, undefined)
  }

  clearImmediate(handle: TimerHandle | undefined): void {
    this.#cancel(handle)
  }

  /** Number of timers scheduled and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.#live.size
  }

  /**
   * Move time forward by `ms`, running every timer due on the way (including ones scheduled by those timers)
   * at its due time. Between two timers the microtask queue is drained, so promise chains started by a timer
   * complete before the next timer runs. Bounded by `maxTimers` (default 1e6) against runaway intervals.
   */
  async advance(ms: number, maxTimers = 1_000_000): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('advance(ms) needs a finite ms >= 0')
    const target = this.#time + ms
    let ran = 0
    for (;;) {
      await drainMicrotasks()
      const timer = this.#peek()
      if (timer === undefined || timer.at > target) break
      if (++ran > maxTimers) throw new RangeError(`advance: more than ${maxTimers} timers ran; runaway interval?`)
      this.#runNext()
    }
    this.#time = Math.max(this.#time, target)
    await drainMicrotasks()
  }

  /** Run timers (advancing time to each) until none is left; returns how many ran. */
  async runUntilIdle(maxTimers = 1_000_000): Promise<number> {
    let ran = 0
    for (;;) {
      await drainMicrotasks()
      if (this.#peek() === undefined) return ran
      if (++ran > maxTimers) throw new RangeError(`runUntilIdle: more than ${maxTimers} timers ran`)
      this.#runNext()
    }
  }

  #schedule(callback: () => void, ms: number, every: number | undefined): TimerHandle {
    const timer: VirtualTimer = { id: this.#nextId++, at: this.#time + delayOf(ms), seq: this.#seq++, callback, every }
    this.#live.set(timer.id, timer)
    heapPush(this.#heap, timer)
    this.#armPump()
    return timer.id as unknown as TimerHandle
  }

  #cancel(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#live.delete(handle as unknown as number)
  }

  /** The earliest live timer, discarding cancelled ones from the top of the heap. */
  #peek(): VirtualTimer | undefined {
    for (;;) {
      const top = this.#heap[0]
      if (top === undefined || this.#live.get(top.id) === top) return top
      heapPop(this.#heap)
    }
  }

  #runNext(): void {
    const timer = this.#peek()
    if (timer === undefined) return
    heapPop(this.#heap)
    this.#time = Math.max(this.#time, timer.at)
    if (timer.every === undefined) {
      this.#live.delete(timer.id)
    } else {
      timer.at += timer.every
      timer.seq = this.#seq++
      heapPush(this.#heap, timer)
    }
    timer.callback()
  }

  #armPump(): void {
    if (!this.#autoAdvance || this.#pumpArmed) return
    this.#pumpArmed = true
    setImmediate(this.#pump)
  }

  readonly #pump = (): void => {
    this.#pumpArmed = false
    if (this.#peek() === undefined) return
    // Arm first: if the timer throws, time keeps moving for everyone else.
    this.#armPump()
    this.#runNext()
  }
}

function delayOf(ms: number): number {
  // Node treats NaN, negative and sub-1 delays as 1 ms; we keep 0 for setImmediate-like scheduling.
  return Number.isFinite(ms) && ms > 0 ? ms : 0
}

/** Let every queued microtask (and those they queue) run: a real macrotask hop. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

function heapPush(heap: VirtualTimer[], timer: VirtualTimer): void {
  heap.push(timer)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    const p = heap[parent] as VirtualTimer
    if (!before(timer, p)) break
    heap[i] = p
    i = parent
  }
  heap[i] = timer
}

function heapPop(heap: VirtualTimer[]): void {
  const last = heap.pop()
  if (last === undefined || heap.length === 0) return
  let i = 0
  const n = heap.length
  for (;;) {
    const left = 2 * i + 1
    if (left >= n) break
    const right = left + 1
    let child = left
    if (right < n && before(heap[right] as VirtualTimer, heap[left] as VirtualTimer)) child = right
    const c = heap[child] as VirtualTimer
    if (!before(c, last)) break
    heap[i] = c
    i = child
  }
  heap[i] = last
}
