// The bytes of hinted handoff: how a hint is keyed and stored, and the HINTED_PUT message.
//
// A hint's storage key is
//     u8 target length | target (UTF-8, 1..255 bytes) | u16 BE partition | user key
// so all hints for one target form one contiguous key range, and a second hint for the same (target,
// partition, key) lands on the same key: it is merged into the first (collapse) instead of piling up.
//
// A hint's stored value is
//     u8 format = 1 | u64 since (ms since the epoch) | encoded envelope (src/versioning/codec.ts)
// where `since` is when the oldest write the hint holds was stored: the hint's age, which bounds how long it
// is kept and is the replication lag the operator watches.
//
// HINTED_PUT (message 44), from a coordinator to a fallback standing in for a down replica:
//     string target | u16 partition | bytes key | bytes envelope | u8 durable
// a REPLICA_PUT payload with the node the write is meant for in front. The reply is REPLICA_PUT's: one byte,
// whether the acknowledgement is durable (the hint was fsynced).
import { RingkvError } from '../errors.ts'
import { BinaryReader, BinaryWriter } from '../protocol/binary.ts'
import { MAX_KEY_BYTES, MAX_PARTITION, PARTITION_PREFIX_BYTES } from '../storage/limits.ts'

/** Longest target node id, in UTF-8 bytes: what its one-byte length allows. */
export const MAX_TARGET_BYTES = 255
const VALUE_FORMAT = 1
/** Bytes in front of the envelope in a stored hint value. */
export const HINT_VALUE_HEADER_BYTES = 1 + 8
/** Longest storage key of a hint, for configuring the engine that holds them. */
export const MAX_HINT_KEY_BYTES = 1 + MAX_TARGET_BYTES + PARTITION_PREFIX_BYTES + MAX_KEY_BYTES

function badRequest(message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message)
}

export function checkTarget(target: unknown): Buffer {
  if (typeof target !== 'string' || target.length === 0) throw badRequest(`a hint's target must be a non-empty node id, got ${JSON.stringify(target)}`)
  const bytes = Buffer.from(target, 'utf8')
  if (bytes.length > MAX_TARGET_BYTES) throw badRequest(`a hint's target is at most ${MAX_TARGET_BYTES} bytes, got ${bytes.length}`)
  return bytes
}

function checkPartition(partition: unknown): number {
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition > MAX_PARTITION) {
    throw badRequest(`a hint's partition must be an integer between 0 and ${MAX_PARTITION}, got ${String(partition)}`)
  }
  return partition
}

function checkKey(key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array)) throw badRequest('a hint\'s key must be a Buffer or Uint8Array')
  if (key.length > MAX_KEY_BYTES) {
    throw new RingkvError('ERR_KEY_TOO_LARGE', `a hint's key is ${key.length} bytes; keys are at most ${MAX_KEY_BYTES}`)
  }
  return key
}

export interface HintKey {
  readonly target: string
  readonly partition: number
  readonly key: Buffer
}

export function encodeHintKey(target: string, partition: number, key: Uint8Array): Buffer {
  const t = checkTarget(target)
  checkPartition(partition)
  checkKey(key)
  const out = Buffer.allocUnsafe(1 + t.length + PARTITION_PREFIX_BYTES + key.length)
  out[0] = t.length
  t.copy(out, 1)
  out.writeUInt16BE(partition, 1 + t.length)
  out.set(key, 1 + t.length + PARTITION_PREFIX_BYTES)
  return out
}

/** The inverse of encodeHintKey; ERR_CORRUPTION for bytes it cannot have made. The key is a copy. */
export function decodeHintKey(bytes: Uint8Array): HintKey {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const length = b[0]
  if (length === undefined || length === 0 || b.length < 1 + length + PARTITION_PREFIX_BYTES) {
    throw new RingkvError('ERR_CORRUPTION', `a hint key of ${b.length} bytes is malformed (target length ${String(length)})`)
  }
  return {
    target: b.toString('utf8', 1, 1 + length),
    partition: b.readUInt16BE(1 + length),
    key: Buffer.from(b.subarray(1 + length + PARTITION_PREFIX_BYTES)),
  }
}

export function encodeHintValue(since: number, envelope: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HINT_VALUE_HEADER_BYTES + envelope.length)
  out[0] = VALUE_FORMAT
  out.writeBigUInt64BE(BigInt(since), 1)
  out.set(envelope, HINT_VALUE_HEADER_BYTES)
  return out
}

/** A stored value's parts; the envelope is a view of `bytes`. ERR_CORRUPTION for a value it cannot have made. */
export function decodeHintValue(bytes: Uint8Array): { since: number; envelope: Uint8Array } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  if (b.length < HINT_VALUE_HEADER_BYTES || b[0] !== VALUE_FORMAT) {
    throw new RingkvError('ERR_CORRUPTION', `a hint value of ${b.length} bytes is malformed (format ${String(b[0])})`)
  }
  const since = b.readBigUInt64BE(1)
  if (since > BigInt(Number.MAX_SAFE_INTEGER)) throw new RingkvError('ERR_CORRUPTION', 'a hint value has an impossible time')
  return { since: Number(since), envelope: b.subarray(HINT_VALUE_HEADER_BYTES) }
}

// ---- HINTED_PUT -----------------------------------------------------------------------------------

export interface HintedPut {
  /** The replica the write is meant for. */
  target: string
  partition: number
  key: Uint8Array
  /** The encoded envelope. */
  envelope: Uint8Array
  /** Acknowledge only once the hint is fsynced (for dw). */
  durable: boolean
}

export function encodeHintedPut(q: HintedPut): Buffer {
  checkTarget(q.target)
  return new BinaryWriter()
    .string(q.target)
    .u16(checkPartition(q.partition))
    .bytes(checkKey(q.key))
    .bytes(q.envelope)
    .u8(q.durable ? 1 : 0)
    .finish()
}

export function decodeHintedPut(payload: Uint8Array): HintedPut {
  const r = new BinaryReader(payload)
  const q = { target: r.string('target'), partition: r.u16('partition'), key: r.bytes('key'), envelope: r.bytes('envelope'), durable: r.u8('durable') === 1 }
  r.end()
  checkTarget(q.target)
  checkKey(q.key)
  return q
}
