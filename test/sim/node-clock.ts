// One simulated process's view of the shared virtual clock. Its timers run on the shared clock (so the work of
// every process interleaves in one deterministic order), but they are the process's own: `halt` cancels them
// all at once, and nothing the dead process's remaining code schedules afterwards ever runs -- what a crash
// does to a process's timers. Its wall clock may be skewed, as real machines' are; monotonic time is shared.
import type { Clock, TimerHandle, VirtualClock } from '../../src/runtime/clock.ts'

/** The handle of a timer asked for after the halt: never runs, cancelling it does nothing (ids start at 1). */
const DEAD = 0 as unknown as TimerHandle

export class ProcessClock implements Clock {
  readonly #base: VirtualClock
  /** Our handle ids -> the shared clock's handles, for timers not yet run or cancelled. */
  readonly #timers = new Map<number, TimerHandle>()
  #nextId = 1
  #halted = false

  constructor(
    base: VirtualClock,
    /** Added to the shared wall-clock reading, ms: this machine's clock error. */
    readonly skewMs = 0,
  ) {
    if (!Number.isInteger(skewMs)) throw new RangeError(`skewMs must be an integer, got ${skewMs}`)
    this.#base = base
  }

  get halted(): boolean {
    return this.#halted
  }

  /** Timers scheduled and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.#timers.size
  }

  now(): number {
    // Integer milliseconds, as Date.now() gives: timestamps in envelopes must be integers.
    return Math.floor(this.#base.now()) + this.skewMs
  }

  monotonic(): number {
    return this.#base.monotonic()
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#add((run) => this.#base.setTimeout(run, ms), callback, true)
  }

  setImmediate(callback: () => void): TimerHandle {
    return this.#add((run) => this.#base.setImmediate(run), callback, true)
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#add((run) => this.#base.setInterval(run, ms), callback, false)
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.#clear(handle)
  }

  clearImmediate(handle: TimerHandle | undefined): void {
    this.#clear(handle)
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.#clear(handle)
  }

  /** The process is gone: cancel every timer, and ignore whatever its remaining code still schedules. */
  halt(): void {
    this.#halted = true
    for (const handle of this.#timers.values()) this.#base.clearTimeout(handle)
    this.#timers.clear()
  }

  #add(schedule: (run: () => void) => TimerHandle, callback: () => void, oneShot: boolean): TimerHandle {
    if (this.#halted) return DEAD
    const id = this.#nextId++
    const base = schedule(() => {
      if (oneShot) this.#timers.delete(id)
      if (!this.#halted) callback()
    })
    this.#timers.set(id, base)
    return id as unknown as TimerHandle
  }

  #clear(handle: TimerHandle | undefined): void {
    const id = handle as unknown as number | undefined
    if (id === undefined) return
    const base = this.#timers.get(id)
    if (base === undefined) return
    this.#base.clearTimeout(base)
    this.#timers.delete(id)
  }
}
