/**
 * The base error of ringkv. Every error that crosses a module boundary (and every error that crosses the
 * wire) carries a stable `code` such as 'ERR_TIMEOUT': callers branch on the code, never on the message,
 * and codes are never renamed once published. `details` holds machine-readable context (which address,
 * which remote code, how many replies) and is safe to log.
 */
export class RingkvError extends Error {
  override readonly name = 'RingkvError'
  readonly code: string
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(
    code: string,
    message: string,
    options: { details?: Readonly<Record<string, unknown>>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }
}

/** True when `error` is a RingkvError, and, when `code` is given, carries that code. */
export function isRingkvError(error: unknown, code?: string): error is RingkvError {
  return error instanceof RingkvError && (code === undefined || error.code === code)
}
