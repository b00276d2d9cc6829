/**
 * Stable error codes of the wire layer, and the payload of an error-response / ERROR frame.
 *
 * Codes are part of the protocol: a peer of another release reads them, so they are never renamed or reused.
 * Add new codes at the end.
 *
 * Error payload layout (big-endian):
 *   offset  size  field
 *        0     2  codeLength   u16
 *        2     c  code         UTF-8, e.g. "ERR_UNKNOWN_MESSAGE"
 *      2+c   rest message      UTF-8, human-readable, at most MAX_ERROR_MESSAGE_BYTES
 */
import { RingkvError } from '../errors.ts'

export const ErrorCode = Object.freeze({
  /** A frame's size exceeds the receiver's maxFrameBytes (or the peer's, when refused before sending). */
  FRAME_TOO_LARGE: 'ERR_FRAME_TOO_LARGE',
  /** Bytes that are not a valid frame (bad length, kind, type or id) or a protocol step out of order. */
  BAD_FRAME: 'ERR_BAD_FRAME',
  /** No protocol version in common, or a frame in a version other than the negotiated one. */
  UNSUPPORTED_VERSION: 'ERR_UNSUPPORTED_VERSION',
  /** A request for a message type that has no handler on the receiving side. */
  UNKNOWN_MESSAGE: 'ERR_UNKNOWN_MESSAGE',
  /** No response within the request's timeout (the request id is forgotten; a late answer is dropped). */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The connection closed (either side, cleanly or not) before the response arrived. */
  CONNECTION_CLOSED: 'ERR_CONNECTION_CLOSED',
  /** The connection could not be established (refused, unreachable, no listener). */
  CONNECT_FAILED: 'ERR_CONNECT_FAILED',
  /** A listener could not be opened (address in use, bad address). */
  LISTEN_FAILED: 'ERR_LISTEN_FAILED',
  /** The outgoing queue is past its bound: the peer does not read fast enough. Retry later or elsewhere. */
  OVERLOADED: 'ERR_OVERLOADED',
  /** A handler failed with an error that carries no code of its own. */
  INTERNAL: 'ERR_INTERNAL',
  /** The node is closing and refused the request unprocessed: send it to another node. */
  SHUTTING_DOWN: 'ERR_SHUTTING_DOWN',
  /**
   * The node is starting and refused a client request unprocessed: it does not coordinate before it has heard
   * from its peers (until then it would take every replica for down). Send it to another node.
   */
  NOT_READY: 'ERR_NOT_READY',
} as const)
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/**
 * Failures that say nothing about the request itself -- the node was not reached, did not answer, or refused the
 * request unprocessed -- so another node may be asked: by a client's retry (src/client/retry.ts) and by a
 * coordinator forwarding a write to the key's next replica.
 */
export const TRY_ELSEWHERE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.CONNECT_FAILED,
  ErrorCode.CONNECTION_CLOSED,
  ErrorCode.TIMEOUT,
  ErrorCode.OVERLOADED,
  ErrorCode.SHUTTING_DOWN,
  ErrorCode.NOT_READY,
])

export const MAX_ERROR_MESSAGE_BYTES = 1024
const MAX_CODE_BYTES = 64

/** Encode `code` and `message` as an error payload (the message is truncated to a bounded size). */
export function encodeErrorPayload(code: string, message: string): Buffer {
  const codeBytes = Buffer.from(code.slice(0, MAX_CODE_BYTES), 'utf8')
  let messageBytes = Buffer.from(message, 'utf8')
  if (messageBytes.length > MAX_ERROR_MESSAGE_BYTES) {
    // Cut on a character boundary: decode the prefix leniently and re-encode it.
    messageBytes = Buffer.from(messageBytes.subarray(0, MAX_ERROR_MESSAGE_BYTES).toString('utf8').replace(/\uFFFD$/, ''))
  }
  const out = Buffer.allocUnsafe(2 + codeBytes.length + messageBytes.length)
  out.writeUInt16BE(codeBytes.length, 0)
  codeBytes.copy(out, 2)
  messageBytes.copy(out, 2 + codeBytes.length)
  return out
}

export function decodeErrorPayload(payload: Buffer): { code: string; message: string } {
  if (payload.length < 2) throw new RingkvError(ErrorCode.BAD_FRAME, 'error payload shorter than 2 bytes')
  const codeLength = payload.readUInt16BE(0)
  if (codeLength === 0 || codeLength > MAX_CODE_BYTES || 2 + codeLength > payload.length) {
    throw new RingkvError(ErrorCode.BAD_FRAME, `error payload has an invalid code length ${codeLength}`)
  }
  return {
    code: payload.toString('utf8', 2, 2 + codeLength),
    message: payload.toString('utf8', 2 + codeLength, Math.min(payload.length, 2 + codeLength + MAX_ERROR_MESSAGE_BYTES)),
  }
}
