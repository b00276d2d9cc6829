// The error type every ringkv API throws: a stable `code` to branch on, a message that names what
// was wrong, and optional structured `details` (e.g. a quorum failure's `required` and `received`).
// Codes are part of the public API: add new ones, never rename or reuse them.

export interface RingkvErrorOptions {
  cause?: unknown
  details?: Record<string, unknown>
}

export class RingkvError extends Error {
  readonly code: string
  readonly details: Record<string, unknown> | undefined

  constructor(code: string, message: string, options: RingkvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RingkvError'
    this.code = code
    this.details = options.details
  }
}

export function isRingkvError(e: unknown, code?: string): e is RingkvError {
  return e instanceof RingkvError && (code === undefined || e.code === code)
}
