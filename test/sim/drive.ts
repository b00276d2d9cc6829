// Driving virtual time from a test or the simulator: time only moves when the driver moves it, so awaiting a
// promise that waits on timers means advancing the clock until it settles.
import type { VirtualClock } from '../../src/runtime/clock.ts'

/** Thrown when a promise did not settle within the virtual time allowed. */
export class NotSettledError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not settle within ${ms} virtual ms`)
  }
}

/**
 * Advance `clock` in steps of `stepMs` until `promise` settles, at most `maxMs` of virtual time; returns its
 * value or throws its error. Every timer due on the way runs at its own time, so the step only sets how soon the
 * driver notices.
 */
export async function drive<T>(clock: VirtualClock, promise: Promise<T>, options: { maxMs?: number; stepMs?: number; what?: string } = {}): Promise<T> {
  const maxMs = options.maxMs ?? 60_000
  const stepMs = options.stepMs ?? 1
  let settled = false
  const watched = promise.finally(() => {
    settled = true
  })
  watched.catch(() => {})
  await clock.advance(0)
  for (let t = 0; t < maxMs && !settled; t += stepMs) await clock.advance(stepMs)
  if (!settled) throw new NotSettledError(options.what ?? 'the promise', maxMs)
  return watched
}

/** The outcome of a promise as plain data, recorded when it settles: for asserting on what happened when. */
export interface Outcome<T> {
  settled: boolean
  value?: T
  error?: unknown
  at?: number
}

export function watch<T>(clock: VirtualClock, promise: Promise<T>): Outcome<T> {
  const outcome: Outcome<T> = { settled: false }
  promise.then(
    (value) => Object.assign(outcome, { settled: true, value, at: clock.now() }),
    (error: unknown) => Object.assign(outcome, { settled: true, error, at: clock.now() }),
  )
  return outcome
}
