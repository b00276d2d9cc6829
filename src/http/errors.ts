// How a ringkv error becomes an HTTP response: a status chosen from the error's stable `code`, and the
// body every error answer shares:
//
//   { "error": { "code": "ERR_QUORUM", "message": "...", "details": { "required": 2, "received": 1 } } }
//
// Codes the table does not know (and anything that is not a ringkv error) are the server's fault: the client
// gets 500 ERR_INTERNAL with a fixed message, the real one goes to the log. Stacks never reach clients.
//
// Statuses, chosen per code (a Map, so a code such as "constructor" cannot hit Object.prototype):
//   400  ERR_BAD_REQUEST, ERR_BAD_CONTEXT, ERR_INVALID_ARGUMENT
//   404  ERR_NOT_FOUND (the key), ERR_UNKNOWN_ROUTE (the URL)
//   405  ERR_METHOD_NOT_ALLOWED (with Allow)
//   408  ERR_REQUEST_TIMEOUT (the client sent its request too slowly; from Node's parser)
//   409  ERR_TOO_MANY_SIBLINGS: the key's state refuses the write; a read and a write with its context resolves it
//   413  ERR_BODY_TOO_LARGE, ERR_KEY_TOO_LARGE, ERR_VALUE_TOO_LARGE, ERR_OBJECT_TOO_LARGE
//   431  ERR_HEADERS_TOO_LARGE (request line and headers past maxHeaderBytes; from Node's parser)
//   503  ERR_QUORUM (Retry-After when the error is retryable), ERR_OVERLOADED (Retry-After), ERR_CLOSED
//        (the node is shutting down: another node can answer)
//   504  ERR_TIMEOUT
//   500  ERR_INTERNAL and every other code
import { RingkvError } from '../errors.ts'

const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map([
  ['ERR_BAD_REQUEST', 400],
  ['ERR_BAD_CONTEXT', 400],
  ['ERR_INVALID_ARGUMENT', 400],
  ['ERR_NOT_FOUND', 404],
  ['ERR_UNKNOWN_ROUTE', 404],
  ['ERR_METHOD_NOT_ALLOWED', 405],
  ['ERR_REQUEST_TIMEOUT', 408],
  ['ERR_TOO_MANY_SIBLINGS', 409],
  ['ERR_BODY_TOO_LARGE', 413],
  ['ERR_KEY_TOO_LARGE', 413],
  ['ERR_VALUE_TOO_LARGE', 413],
  ['ERR_OBJECT_TOO_LARGE', 413],
  ['ERR_HEADERS_TOO_LARGE', 431],
  ['ERR_INTERNAL', 500],
  ['ERR_QUORUM', 503],
  ['ERR_OVERLOADED', 503],
  ['ERR_CLOSED', 503],
  ['ERR_TIMEOUT', 504],
])

/** The HTTP status for a ringkv error code; 500 for codes this table does not know. */
export function statusForCode(code: string): number {
  return STATUS_BY_CODE.get(code) ?? 500
}

/** Error messages sent to clients are cut to this many characters (a message may quote a large input). */
export const MAX_MESSAGE_CHARS = 1024
/** Retry-After when a retryable error names no delay of its own. */
const DEFAULT_RETRY_AFTER_SECONDS = 1

export interface ErrorReply {
  readonly status: number
  readonly code: string
  readonly message: string
  readonly details: Record<string, unknown> | undefined
  /** Seconds, for the Retry-After header; undefined for none. */
  readonly retryAfter: number | undefined
  /** True when the client sees ERR_INTERNAL in place of the real error (which must then be logged). */
  readonly internal: boolean
}

/** Classifies anything thrown while serving a request. */
export function toErrorReply(err: unknown): ErrorReply {
  const code = codeOf(err)
  const status = code === undefined ? 500 : statusForCode(code)
  if (code === undefined || status === 500) {
    return { status: 500, code: 'ERR_INTERNAL', message: 'internal error', details: undefined, retryAfter: undefined, internal: true }
  }
  const e = err as { message?: unknown; details?: unknown; retryable?: unknown }
  const details = isRecord(e.details) ? e.details : undefined
  let message = typeof e.message === 'string' ? e.message : code
  if (message.length > MAX_MESSAGE_CHARS) message = message.slice(0, MAX_MESSAGE_CHARS - 3) + '...'
  return { status, code, message, details, retryAfter: retryAfterOf(code, details, e.retryable), internal: false }
}

/**
 * The error's code when it looks like a ringkv error. Duck-typed rather than `instanceof`, so an error made
 * by another copy of the module (two installed versions, a worker's structured clone) still maps.
 */
function codeOf(err: unknown): string | undefined {
  if (err instanceof RingkvError) return err.code
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('ERR_') ? code : undefined
}

function retryAfterOf(code: string, details: Record<string, unknown> | undefined, retryable: unknown): number | undefined {
  if (code === 'ERR_OVERLOADED' || (code === 'ERR_QUORUM' && (details?.['retryable'] === true || retryable === true))) {
    const ms = details?.['retryAfterMs']
    return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.ceil(ms / 1000) : DEFAULT_RETRY_AFTER_SECONDS
  }
  return undefined
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The JSON body of an error answer. Details that cannot be serialised (a cycle, a bigint) are left out. */
export function errorBody(code: string, message: string, details?: Record<string, unknown>): string {
  if (details !== undefined) {
    try {
      return JSON.stringify({ error: { code, message, details } })
    } catch {
      // fall through: the answer matters more than its details
    }
  }
  return JSON.stringify({ error: { code, message } })
}

/** A 400 that names the query parameter (or header) at fault, in the message and in `details.parameter`. */
export function badParameter(parameter: string, message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message, { details: { parameter } })
}

export function badRequest(message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message)
}
