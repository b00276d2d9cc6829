// Binary encoding of gossip messages: the digest (SYN) and the delta (ACK, ACK2) of gossip-state.ts.
// Compact because it is sent every second by every node: counters are LEB128 varints (a version is one or two
// bytes, a generation -- ms since the epoch -- six), strings carry a one-byte length, a checksum is 32 raw bytes.
//
//   u8 format = 1   u8 kind (1 = digest, 2 = delta)
//   digest: varint count, count x entry
//   delta:  varint stateCount, stateCount x state, varint wantCount, wantCount x entry
//   entry:  str id, varint generation, varint version
//   state:  str id, str address, u8 hasHttp (0|1) [str http], varint generation, varint version,
//           u8 status (0 joining, 1 normal, 2 leaving, 3 down, 4 removed), varint ringVersion,
//           u8 checksumLength (0 | 32) [checksum bytes]
//   str:    u8 length (1..255), UTF-8 bytes
//
// Decoding validates everything -- format, kind, lengths, UTF-8, status codes, varints (minimal, at most
// 2^53 - 1), duplicate ids, trailing bytes -- and any defect is a RingkvError 'ERR_BAD_GOSSIP' naming it,
// never a RangeError: a peer's bad bytes are refused, not a crashed handler. Encoding validates as well, so
// a state that cannot round-trip (a 300-byte id, a malformed checksum) is caught at the sender.
import { RingkvError } from '../errors.ts'
import { MEMBER_STATUSES, type Delta, type Digest, type DigestEntry, type MemberState, type MemberStatus } from './gossip-state.ts'

export const GOSSIP_FORMAT = 1
export const KIND_DIGEST = 1
export const KIND_DELTA = 2
/** More members than this in one message is refused. */
export const MAX_GOSSIP_ENTRIES = 65_535
const MAX_STRING_BYTES = 255
const CHECKSUM_BYTES = 32
const HEX_CHECKSUM = /^[0-9a-f]{64}$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

function isAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) >= 0x80) return false
  return true
}

function bad(message: string): RingkvError {
  return new RingkvError('ERR_BAD_GOSSIP', `bad gossip message: ${message}`)
}

class Writer {
  #buf = new Uint8Array(256)
  #pos = 0

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    let size = this.#buf.length * 2
    while (size < this.#pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.#buf.subarray(0, this.#pos))
    this.#buf = next
  }

  u8(v: number): void {
    this.#room(1)
    this.#buf[this.#pos++] = v
  }

  varint(v: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw bad(`${what} must be a non-negative safe integer, got ${v}`)
    this.#room(8)
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.#buf[this.#pos++] = v
  }

  str(v: string, what: string): void {
    if (typeof v !== 'string' || v.length === 0) throw bad(`${what} must be a non-empty string`)
    // Ids and addresses are nearly always ASCII: copy the code units, skipping TextEncoder's per-call cost.
    if (v.length <= MAX_STRING_BYTES && isAscii(v)) {
      this.#room(1 + v.length)
      this.#buf[this.#pos++] = v.length
      for (let i = 0; i < v.length; i++) this.#buf[this.#pos++] = v.charCodeAt(i)
      return
    }
    if (LONE_SURROGATE.test(v)) throw bad(`${what} contains a lone surrogate`)
    const bytes = utf8.encode(v)
    if (bytes.length > MAX_STRING_BYTES) throw bad(`${what} is ${bytes.length} UTF-8 bytes; the limit is ${MAX_STRING_BYTES}`)
    this.#room(1 + bytes.length)
    this.#buf[this.#pos++] = bytes.length
    this.#buf.set(bytes, this.#pos)
    this.#pos += bytes.length
  }

  raw(bytes: Uint8Array): void {
    this.#room(bytes.length)
    this.#buf.set(bytes, this.#pos)
    this.#pos += bytes.length
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos)
  }
}

class Reader {
  readonly #buf: Uint8Array
  #pos = 0

  constructor(buf: Uint8Array) {
    this.#buf = buf
  }

  #need(n: number, what: string): void {
    if (this.#pos + n > this.#buf.length) throw bad(`${what} runs past the end (byte ${this.#pos} of ${this.#buf.length})`)
  }

  u8(what: string): number {
    this.#need(1, what)
    return this.#buf[this.#pos++]!
  }

  varint(what: string): number {
    let value = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (i === 8) throw bad(`${what} is longer than 8 bytes`)
      const b = this.u8(what)
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw bad(`${what} is not minimally encoded`)
        break
      }
      scale *= 0x80
    }
    if (!Number.isSafeInteger(value)) throw bad(`${what} is beyond 2^53 - 1`)
    return value
  }

  str(what: string): string {
    const n = this.u8(`${what} length`)
    if (n === 0) throw bad(`${what} is empty`)
    this.#need(n, what)
    const bytes = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    let ascii = true
    for (let i = 0; i < n && ascii; i++) ascii = bytes[i]! < 0x80
    if (ascii) {
      let out = ''
      for (let i = 0; i < n; i++) out += String.fromCharCode(bytes[i]!)
      return out
    }
    try {
      return utf8Strict.decode(bytes)
    } catch {
      throw bad(`${what} is not valid UTF-8`)
    }
  }

  raw(n: number, what: string): Uint8Array {
    this.#need(n, what)
    const bytes = this.#buf.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return bytes
  }

  count(what: string): number {
    const n = this.varint(what)
    if (n > MAX_GOSSIP_ENTRIES) throw bad(`${what} ${n} is over the limit of ${MAX_GOSSIP_ENTRIES}`)
    return n
  }

  end(): void {
    if (this.#pos !== this.#buf.length) throw bad(`${this.#buf.length - this.#pos} trailing bytes`)
  }
}

function header(w: Writer, kind: number): void {
  w.u8(GOSSIP_FORMAT)
  w.u8(kind)
}

function readHeader(bytes: Uint8Array, kind: number): Reader {
  if (!(bytes instanceof Uint8Array)) throw bad('a gossip message must be a Uint8Array')
  const r = new Reader(bytes)
  const format = r.u8('format')
  if (format !== GOSSIP_FORMAT) throw bad(`format ${format} is not supported (expected ${GOSSIP_FORMAT})`)
  const k = r.u8('kind')
  if (k !== kind) throw bad(`expected a ${kind === KIND_DIGEST ? 'digest' : 'delta'}, got kind ${k}`)
  return r
}

function writeEntries(w: Writer, entries: readonly DigestEntry[], what: string): void {
  if (entries.length > MAX_GOSSIP_ENTRIES) throw bad(`${entries.length} ${what} entries; the limit is ${MAX_GOSSIP_ENTRIES}`)
  w.varint(entries.length, `${what} count`)
  for (const e of entries) {
    w.str(e.id, `${what} id`)
    w.varint(e.generation, `${what} generation`)
    w.varint(e.version, `${what} version`)
  }
}

function readEntries(r: Reader, what: string): DigestEntry[] {
  const n = r.count(`${what} count`)
  const out: DigestEntry[] = []
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const id = r.str(`${what}[${i}].id`)
    if (seen.has(id)) throw bad(`${what} lists ${JSON.stringify(id)} twice`)
    seen.add(id)
    const generation = r.varint(`${what}[${i}].generation`)
    const version = r.varint(`${what}[${i}].version`)
    out.push({ id, generation, version })
  }
  return out
}

export function encodeDigest(digest: Digest): Uint8Array {
  const w = new Writer()
  header(w, KIND_DIGEST)
  writeEntries(w, digest, 'digest')
  return w.finish()
}

export function decodeDigest(bytes: Uint8Array): DigestEntry[] {
  const r = readHeader(bytes, KIND_DIGEST)
  const entries = readEntries(r, 'digest')
  r.end()
  return entries
}

const STATUS_CODES = new Map<MemberStatus, number>(MEMBER_STATUSES.map((s, i) => [s, i]))

export function encodeDelta(delta: Delta): Uint8Array {
  const w = new Writer()
  header(w, KIND_DELTA)
  const { states } = delta
  if (states.length > MAX_GOSSIP_ENTRIES) throw bad(`${states.length} states; the limit is ${MAX_GOSSIP_ENTRIES}`)
  w.varint(states.length, 'state count')
  for (const s of states) {
    w.str(s.id, 'state id')
    w.str(s.address, 'state address')
    if (s.http === undefined) {
      w.u8(0)
    } else {
      w.u8(1)
      w.str(s.http, 'state http')
    }
    w.varint(s.generation, 'state generation')
    w.varint(s.version, 'state version')
    const status = STATUS_CODES.get(s.status)
    if (status === undefined) throw bad(`state status ${JSON.stringify(s.status)} is unknown`)
    w.u8(status)
    w.varint(s.ringVersion, 'state ring version')
    if (s.ringChecksum === '') {
      w.u8(0)
    } else {
      if (typeof s.ringChecksum !== 'string' || !HEX_CHECKSUM.test(s.ringChecksum)) {
        throw bad('state ring checksum must be empty or 64 lowercase hex digits')
      }
      w.u8(CHECKSUM_BYTES)
      w.raw(Buffer.from(s.ringChecksum, 'hex'))
    }
  }
  writeEntries(w, delta.wants, 'wants')
  return w.finish()
}

export function decodeDelta(bytes: Uint8Array): Delta {
  const r = readHeader(bytes, KIND_DELTA)
  const n = r.count('state count')
  const states: MemberState[] = []
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const id = r.str(`states[${i}].id`)
    if (seen.has(id)) throw bad(`states list ${JSON.stringify(id)} twice`)
    seen.add(id)
    const address = r.str(`states[${i}].address`)
    const hasHttp = r.u8(`states[${i}].http flag`)
    if (hasHttp > 1) throw bad(`states[${i}].http flag is ${hasHttp}`)
    const http = hasHttp === 1 ? r.str(`states[${i}].http`) : undefined
    const generation = r.varint(`states[${i}].generation`)
    const version = r.varint(`states[${i}].version`)
    const code = r.u8(`states[${i}].status`)
    const status = MEMBER_STATUSES[code]
    if (status === undefined) throw bad(`states[${i}].status ${code} is unknown`)
    const ringVersion = r.varint(`states[${i}].ringVersion`)
    const checksumLength = r.u8(`states[${i}].ringChecksum length`)
    if (checksumLength !== 0 && checksumLength !== CHECKSUM_BYTES) {
      throw bad(`states[${i}].ringChecksum is ${checksumLength} bytes (expected 0 or ${CHECKSUM_BYTES})`)
    }
    const ringChecksum = checksumLength === 0 ? '' : Buffer.from(r.raw(CHECKSUM_BYTES, `states[${i}].ringChecksum`)).toString('hex')
    states.push({ id, address, http, generation, version, status, ringVersion, ringChecksum })
  }
  const wants = readEntries(r, 'wants')
  r.end()
  return { states, wants }
}
