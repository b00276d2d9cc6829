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

/**
 * Refuses option names the callee does not know: a typo (`{ W: 2 }`, `rowCacheByte`) must not pass as the default
 * the caller meant to change. `prefix` is how the options are named in the message ('options.', 'keyspace.', or ''
 * for a top-level options object). An option given as undefined counts as absent.
 */
export function refuseUnknownOptions(given: object, known: ReadonlySet<string>, prefix: string): void {
  for (const key in given) {
    if (!known.has(key) && (given as Record<string, unknown>)[key] !== undefined) {
      const argument = `${prefix}${key}`
      throw new RingkvError('ERR_INVALID_ARGUMENT', `${argument} is not an option (known: ${[...known].join(', ')})`, { details: { argument } })
    }
  }
}
