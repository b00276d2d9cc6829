// The one error base for ringkv. Callers branch on `code`, never on the message or the class: codes are stable
// across releases and cross process boundaries (wire protocol, HTTP, native binding) where classes do not.
// Messages are for people and may be reworded. `details` carries the machine-readable facts behind the
// message (the offending field, an offset), kept small enough to log and serialise.

export type ErrorDetails = Readonly<Record<string, unknown>>

export class RingkvError extends Error {
  /** Stable, upper-snake identifier such as 'ERR_BAD_RING'. */
  readonly code: string
  readonly details: ErrorDetails | undefined

  constructor(code: string, message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RingkvError'
    this.code = code
    this.details = options.details
  }
}

export function isRingkvError(value: unknown, code?: string): value is RingkvError {
  return value instanceof RingkvError && (code === undefined || value.code === code)
}
