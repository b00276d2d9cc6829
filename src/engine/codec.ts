// Packing of key lists and write batches for the native boundary: one call and one buffer instead
// of one call per key. The layouts are documented in crates/napi/src/codec.rs.

export const KIND_PUT = 1
export const KIND_DELETE = 2
const MISSING = 0xffffffff

export function packKeys(keys: readonly Uint8Array[]): Buffer {
  let size = 4
  for (const k of keys) size += 4 + k.length
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32LE(keys.length, 0)
  let pos = 4
  for (const k of keys) {
    out.writeUInt32LE(k.length, pos)
    out.set(k, pos + 4)
    pos += 4 + k.length
  }
  return out
}

export interface PackedOp {
  kind: number
  key: Uint8Array
  value: Uint8Array | undefined
  expiresAt: number
}

export function packBatch(ops: readonly PackedOp[]): Buffer {
  let size = 4
  for (const op of ops) size += 13 + op.key.length + (op.kind === KIND_PUT ? 4 + (op.value?.length ?? 0) : 0)
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32LE(ops.length, 0)
  let pos = 4
  for (const op of ops) {
    out[pos] = op.kind
    out.writeDoubleLE(op.expiresAt, pos + 1)
    out.writeUInt32LE(op.key.length, pos + 9)
    out.set(op.key, pos + 13)
    pos += 13 + op.key.length
    if (op.kind === KIND_PUT) {
      const value = op.value ?? new Uint8Array(0)
      out.writeUInt32LE(value.length, pos)
      out.set(value, pos + 4)
      pos += 4 + value.length
    }
  }
  return out
}

/** Calls `f` for each packed (key, value); both are views into `buf`, not copies. */
export function forEachEntry(buf: Buffer, f: (key: Buffer, value: Buffer) => void): void {
  let pos = 0
  while (pos < buf.length) {
    const klen = buf.readUInt32LE(pos)
    const vlen = buf.readUInt32LE(pos + 4)
    const kstart = pos + 8
    const vstart = kstart + klen
    f(buf.subarray(kstart, vstart), buf.subarray(vstart, vstart + vlen))
    pos = vstart + vlen
  }
}

/** Unpacks getMany's reply: a value or undefined per requested key. */
export function unpackValues(buf: Buffer, count: number): (Buffer | undefined)[] {
  const out = new Array<Buffer | undefined>(count)
  let pos = 0
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt32LE(pos)
    pos += 4
    if (len === MISSING) {
      out[i] = undefined
    } else {
      out[i] = buf.subarray(pos, pos + len)
      pos += len
    }
  }
  return out
}
