// The CLIENT_GET reply of a read answered from this node's stored bytes (an agreed read, read.ts), built in one
// native call (crates/envelope/src/answer.rs): the same bytes as encodeGetReply of readAnswer's answer, without
// the reader, the objects per value, the base64url string and the writer between them -- about a microsecond
// per read in JavaScript.
import { encodeGetReply } from '../cluster/messages.ts'
import { native } from '../engine/native.ts'
import { readAnswer } from '../versioning/index.ts'

const getReplyInto = native.getReplier()

/** Where replies are built before they are copied out at their size; a larger one gets a buffer of its own. */
const SCRATCH = Buffer.allocUnsafe(16 * 1024)

/**
 * The reply for stored envelope `bytes` read at `now` (ms since the epoch): the live values, newest first, and the
 * client context. Bytes that do not parse are an ERR_BAD_ENVELOPE saying where.
 */
export function storedGetReply(bytes: Uint8Array, now: number): Buffer {
  const n = getReplyInto(bytes, now, SCRATCH)
  // Left to TypeScript by the native reader: bytes it does not parse (readAnswer says what is wrong), actors
  // that are not ASCII.
  if (n < 0) return storedGetReplyInTypeScript(bytes, now)
  if (n > SCRATCH.length) {
    const out = Buffer.allocUnsafe(n)
    getReplyInto(bytes, now, out)
    return out
  }
  const out = Buffer.allocUnsafe(n)
  SCRATCH.copy(out, 0, 0, n)
  return out
}

/** The same reply through readAnswer and encodeGetReply: the path for what the native reader leaves alone. */
export function storedGetReplyInTypeScript(bytes: Uint8Array, now: number): Buffer {
  const answer = readAnswer(bytes, now)
  const siblings = answer.values.length > 1 ? [...answer.values].sort((a, b) => b.timestamp - a.timestamp) : answer.values
  return encodeGetReply({ found: siblings.length > 0, siblings, context: answer.context })
}
