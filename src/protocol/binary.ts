// Bounds-checked binary reading and growable writing for message payloads. Every read past the end
// or malformed length becomes a RingkvError with ERR_BAD_REQUEST (or the code the caller chooses),
// never a RangeError, so a peer's bad bytes get an error reply and not a crashed handler.
import { RingkvError } from '../errors.ts'

export class BinaryWriter {
  #buf: Buffer
  #pos = 0

  constructor(initialBytes = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, initialBytes))
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.#buf.copy(next, 0, 0, this.#pos)
    this.#buf = next
  }

  u8(v: number): this {
    this.#room(1)
    this.#buf[this.#pos++] = v
    return this
  }

  u16(v: number): this {
    this.#room(2)
    this.#buf.writeUInt16BE(v, this.#pos)
    this.#pos += 2
    return this
  }

  u32(v: number): this {
    this.#room(4)
    this.#buf.writeUInt32BE(v, this.#pos)
    this.#pos += 4
    return this
  }

  /** A non-negative integer up to 2^53 (times, counters). */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 must be an integer between 0 and 2^53-1, got ${v}`)
    this.#room(8)
    // Two 32-bit halves: no BigInt per value.
    this.#buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.#pos)
    this.#buf.writeUInt32BE(v >>> 0, this.#pos + 4)
    this.#pos += 8
    return this
  }

  bytes(v: Uint8Array): this {
    this.u32(v.length)
    this.#room(v.length)
    this.#buf.set(v, this.#pos)
    this.#pos += v.length
    return this
  }

  /** Bytes without a length: for fields whose size the layout fixes (hashes). */
  raw(v: Uint8Array): this {
    this.#room(v.length)
    this.#buf.set(v, this.#pos)
    this.#pos += v.length
    return this
  }

  optionalBytes(v: Uint8Array | undefined): this {
    if (v === undefined) return this.u8(0)
    return this.u8(1).bytes(v)
  }

  string(v: string): this {
    // Encoded straight into the buffer, without an intermediate Buffer.
    const n = Buffer.byteLength(v, 'utf8')
    this.u32(n)
    this.#room(n)
    this.#buf.write(v, this.#pos, n, 'utf8')
    this.#pos += n
    return this
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos)
  }
}

export class BinaryReader {
  readonly #buf: Buffer
  #pos = 0
  readonly #code: string

  constructor(buf: Uint8Array, code = 'ERR_BAD_REQUEST') {
    this.#buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    this.#code = code
  }

  /** `suffix` is appended to `what` in the message (built only on failure). */
  #need(n: number, what: string, suffix = ''): void {
    if (this.#pos + n > this.#buf.length) {
      throw new RingkvError(this.#code, `malformed message: ${what}${suffix} runs past the end (byte ${this.#pos} of ${this.#buf.length})`)
    }
  }

  u8(what = 'u8'): number {
    this.#need(1, what)
    return this.#buf[this.#pos++]!
  }

  u16(what = 'u16'): number {
    this.#need(2, what)
    const v = this.#buf.readUInt16BE(this.#pos)
    this.#pos += 2
    return v
  }

  u32(what = 'u32'): number {
    this.#need(4, what)
    const v = this.#buf.readUInt32BE(this.#pos)
    this.#pos += 4
    return v
  }

  u64(what = 'u64'): number {
    this.#need(8, what)
    const high = this.#buf.readUInt32BE(this.#pos)
    const low = this.#buf.readUInt32BE(this.#pos + 4)
    this.#pos += 8
    // Above 2^53 - 1 a number loses integers: such a value is malformed here.
    if (high > 0x1f_ffff) throw new RingkvError(this.#code, `malformed message: ${what} is too large`)
    return high * 0x1_0000_0000 + low
  }

  /** A view into the message, not a copy. */
  bytes(what = 'bytes'): Buffer {
    this.#need(4, what, ' length')
    const n = this.#buf.readUInt32BE(this.#pos)
    this.#pos += 4
    this.#need(n, what)
    const v = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return v
  }

  /** `n` bytes whose size the layout fixes (written with `raw`); a view, not a copy. */
  bytesFixed(n: number, what = 'bytes'): Buffer {
    this.#need(n, what)
    const v = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return v
  }

  optionalBytes(what = 'bytes'): Buffer | undefined {
    const flag = this.u8(`${what} flag`)
    if (flag === 0) return undefined
    if (flag !== 1) throw new RingkvError(this.#code, `malformed message: ${what} flag is ${flag}`)
    return this.bytes(what)
  }

  string(what = 'string'): string {
    return this.bytes(what).toString('utf8')
  }

  /** Every byte was consumed: trailing bytes mean the peer and we disagree on the layout. */
  end(): void {
    if (this.#pos !== this.#buf.length) {
      throw new RingkvError(this.#code, `malformed message: ${this.#buf.length - this.#pos} trailing bytes`)
    }
  }
}
