// Encodings of the versioning types.
//
// The envelope's binary form is what the storage engine stores for every key, so it is compact, allocation-
// light (one output buffer, sizes computed first) and strictly canonical: an envelope has exactly one
// encoding, and any bytes the decoder accepts re-encode to themselves. Canonical bytes matter beyond tidiness:
// Merkle anti-entropy hashes stored values, and two replicas holding equal envelopes must hash alike.
//
// Envelope, format 1 (varint = unsigned LEB128, minimal, at most 2^53-1):
//   u8 format = 1
//   varint A; A x (varint byteLength, UTF-8 actor, varint counter >= 1)   -- the context, actors ascending
//   varint K; K x sibling, ascending by (actor, counter):
//     varint actorIndex (< A)  varint counter (1..context[actor])  varint timestamp  varint expiresAt
//     u8 kind: 0 = tombstone, 1 = value; for a value: varint byteLength, bytes
// Every count is checked against the bytes left before anything is allocated, and every loop step consumes
// at least one byte, so hostile input can neither exhaust memory nor loop; any defect is ERR_BAD_ENVELOPE.
//
// The client context is the same context block behind its own format byte (1), as unpadded base64url: safe in
// an HTTP header and a URL, opaque to clients. Decoding also accepts the standard alphabet and padding, since
// some client libraries rewrite them; anything else is ERR_BAD_CONTEXT with a message saying what is wrong.

import { RingkvError } from '../errors.ts'
import type { Envelope, Sibling } from './envelope.ts'
import { assertActor, MAX_ACTOR_BYTES, vvEntries, type VersionVector } from './version-vector.ts'

const ENVELOPE_FORMAT = 1
const CONTEXT_FORMAT = 1
/** Longest client context accepted, in characters: ~1,000 actors, far beyond any real cluster. */
export const MAX_CONTEXT_CHARS = 65536
const TOMBSTONE = 0
const VALUE = 1

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

// Actors are nearly always ASCII ("<node>#<epoch>/<key epoch>"), and with per-key epochs there are as many of
// them as keys, so no cache would hold them: ASCII names are written char by char straight into the output.
// Others go through TextEncoder, cached (bounded: a stream of distinct names cannot grow it without limit).
const ACTOR_CACHE_LIMIT = 4096
const actorBytes = new Map<string, Uint8Array>()
function encodeNonAscii(actor: string): Uint8Array {
  let b = actorBytes.get(actor)
  if (b === undefined) {
    if (actorBytes.size >= ACTOR_CACHE_LIMIT) actorBytes.clear()
    b = utf8.encode(actor)
    actorBytes.set(actor, b)
  }
  return b
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false
  return true
}

/** Strict UTF-8, with a fast path for ASCII (actor names nearly always are): TextDecoder costs ~200 ns. */
function decodeName(raw: Uint8Array): string {
  let ascii = true
  for (let i = 0; i < raw.length; i++) if (raw[i]! >= 0x80) ascii = false
  return ascii ? String.fromCharCode.apply(null, raw as unknown as number[]) : utf8Strict.decode(raw)
}

function varintSize(v: number): number {
  let n = 1
  while (v >= 128) {
    v = Math.floor(v / 128)
    n++
  }
  return n
}

class Writer {
  readonly bytes: Uint8Array
  at = 0
  constructor(size: number) {
    // allocUnsafe takes small buffers from Node's pool instead of a fresh zeroed backing store each time
    // (the single largest cost of an encode); every byte is written, checked by done().
    this.bytes = Buffer.allocUnsafe(size)
  }
  done(): Uint8Array {
    if (this.at !== this.bytes.length) throw new Error(`internal: wrote ${this.at} of ${this.bytes.length} bytes`)
    // A plain Uint8Array view: callers must not meet Buffer's view-returning slice.
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length)
  }
  byte(b: number): void {
    this.bytes[this.at++] = b
  }
  ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.bytes[this.at++] = text.charCodeAt(i)
  }
  varint(v: number): void {
    // Division, not shifts: values go up to 2^53, beyond JavaScript's 32-bit bitwise operators.
    while (v >= 128) {
      this.bytes[this.at++] = (v % 128) | 128
      v = Math.floor(v / 128)
    }
    this.bytes[this.at++] = v
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.at)
    this.at += b.length
  }
}

class Reader {
  at = 0
  constructor(
    readonly bytes: Uint8Array,
    readonly code: string,
    readonly what: string,
  ) {}

  fail(message: string): never {
    throw new RingkvError(this.code, `${this.what} ${message}`, { details: { offset: this.at } })
  }
  left(): number {
    return this.bytes.length - this.at
  }
  byte(): number {
    if (this.at >= this.bytes.length) this.fail(`is truncated at byte ${this.at}`)
    return this.bytes[this.at++]!
  }
  varint(field: string): number {
    const start = this.at
    let value = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (i === 8) this.fail(`has an over-long ${field} at byte ${start}`)
      const b = this.byte()
      value += (b & 127) * scale
      if (b < 128) {
        if (b === 0 && i > 0) this.fail(`has a non-minimal ${field} at byte ${start}`)
        break
      }
      scale *= 128
    }
    if (value > Number.MAX_SAFE_INTEGER) this.fail(`has a ${field} beyond 2^53-1 at byte ${start}`)
    return value
  }
  /** A count of items that each take at least `minBytes`: refused when the remaining bytes cannot hold them. */
  count(field: string, minBytes: number): number {
    const n = this.varint(field)
    if (n * minBytes > this.left()) this.fail(`claims ${n} ${field} but only ${this.left()} bytes remain`)
    return n
  }
  take(n: number): Uint8Array {
    if (n > this.left()) this.fail(`is truncated at byte ${this.at} (needs ${n} more bytes)`)
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }
  end(): void {
    if (this.at !== this.bytes.length) this.fail(`has ${this.bytes.length - this.at} trailing bytes`)
  }
}

interface ContextEntry {
  readonly actor: string
  /** The actor's UTF-8 bytes when it is not ASCII (ASCII is written from the string itself). */
  readonly name: Uint8Array | undefined
  readonly nameBytes: number
  readonly counter: number
}

/** The context block: entries sorted by actor, with their encoded sizes. */
function contextEntries(context: VersionVector): ContextEntry[] {
  const out: ContextEntry[] = []
  for (const [actor, counter] of context.size > 1 ? vvEntries(context) : context) {
    const name = isAscii(actor) ? undefined : encodeNonAscii(actor)
    out.push({ actor, name, nameBytes: name === undefined ? actor.length : name.length, counter })
  }
  return out
}

function contextSize(entries: readonly ContextEntry[]): number {
  let size = varintSize(entries.length)
  for (const e of entries) size += varintSize(e.nameBytes) + e.nameBytes + varintSize(e.counter)
  return size
}

function writeContext(w: Writer, entries: readonly ContextEntry[]): void {
  w.varint(entries.length)
  for (const e of entries) {
    w.varint(e.nameBytes)
    if (e.name === undefined) w.ascii(e.actor)
    else w.raw(e.name)
    w.varint(e.counter)
  }
}

function readContext(r: Reader): Array<[string, number]> {
  // Each entry is at least 3 bytes: a length, one byte of name, a counter.
  const n = r.count('context entries', 3)
  const out: Array<[string, number]> = []
  for (let i = 0; i < n; i++) {
    const len = r.varint('actor length')
    if (len === 0 || len > MAX_ACTOR_BYTES) r.fail(`actor #${i} is ${len} bytes; actors are 1..${MAX_ACTOR_BYTES} bytes`)
    const raw = r.take(len)
    let actor: string
    try {
      actor = decodeName(raw)
    } catch {
      r.fail(`actor #${i} is not valid UTF-8`)
    }
    const previous = out[i - 1]
    if (previous !== undefined && !(previous[0] < actor)) r.fail(`actors must be sorted and unique (#${i} is not after #${i - 1})`)
    const counter = r.varint('counter')
    if (counter === 0) r.fail(`counter of actor #${i} is 0; counters start at 1`)
    out.push([actor, counter])
  }
  return out
}

/**
 * The storage form of an envelope (see the top of this file). Small results live in Node's buffer pool,
 * which is what makes encoding cheap; a caller that keeps the bytes for long (rather than handing them to
 * the engine or a socket, which copy) should copy them so as not to pin a pool slab.
 */
export function encodeEnvelope(env: Envelope): Uint8Array {
  const entries = contextEntries(env.context)
  const index = new Map<string, number>()
  entries.forEach((e, i) => index.set(e.actor, i))
  let size = 1 + contextSize(entries) + varintSize(env.siblings.length)
  const indexes: number[] = []
  env.siblings.forEach((s, k) => {
    const i = index.get(s.dot.actor)
    const covered = entries[i ?? -1]?.counter ?? 0
    if (i === undefined || !Number.isSafeInteger(s.dot.counter) || s.dot.counter < 1 || s.dot.counter > covered) {
      throw new RingkvError('ERR_BAD_ENVELOPE', `sibling ${s.dot.actor}:${s.dot.counter} is not covered by the context`)
    }
    const prev = env.siblings[k - 1]
    if (prev !== undefined && (indexes[k - 1]! > i || (indexes[k - 1] === i && prev.dot.counter >= s.dot.counter))) {
      throw new RingkvError('ERR_BAD_ENVELOPE', 'siblings must be sorted by (actor, counter) and unique')
    }
    indexes.push(i)
    size += varintSize(i) + varintSize(s.dot.counter) + varintSize(s.timestamp) + varintSize(s.expiresAt) + 1
    if (s.value !== null) size += varintSize(s.value.length) + s.value.length
  })
  const w = new Writer(size)
  w.byte(ENVELOPE_FORMAT)
  writeContext(w, entries)
  w.varint(env.siblings.length)
  env.siblings.forEach((s, k) => {
    w.varint(indexes[k]!)
    w.varint(s.dot.counter)
    w.varint(s.timestamp)
    w.varint(s.expiresAt)
    if (s.value === null) {
      w.byte(TOMBSTONE)
    } else {
      w.byte(VALUE)
      w.varint(s.value.length)
      w.raw(s.value)
    }
  })
  return w.done()
}

export interface DecodeOptions {
  /**
   * Copy the input so that values outlive it (default). Pass false only for memory the caller owns and will
   * not reuse -- a Buffer the engine returned for this read -- to save the copy (about half of a decode):
   * values are then views of `bytes`.
   */
  readonly copy?: boolean
}

/**
 * Parses a stored envelope, checking every invariant; any defect is an ERR_BAD_ENVELOPE naming it. By
 * default the input is copied once and values are views of that copy: one copy is far cheaper than an
 * allocation per value. (Copying with `new Uint8Array(bytes)` rather than `slice` matters: a Buffer's slice
 * is a view.)
 */
export function decodeEnvelope(bytes: Uint8Array, options: DecodeOptions = {}): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new RingkvError('ERR_BAD_ENVELOPE', 'an encoded envelope must be a Uint8Array')
  const r: Reader = new Reader(options.copy === false ? bytes : new Uint8Array(bytes), 'ERR_BAD_ENVELOPE', 'envelope')
  const format = r.byte()
  if (format !== ENVELOPE_FORMAT) r.fail(`format ${format} is not supported (expected ${ENVELOPE_FORMAT})`)
  const entries = readContext(r)
  // Each sibling is at least 5 bytes: actor index, counter, timestamp, expiry, kind.
  const k = r.count('siblings', 5)
  const siblings: Sibling[] = []
  let lastIndex = -1
  let lastCounter = 0
  for (let n = 0; n < k; n++) {
    const i = r.varint('actor index')
    const entry = entries[i]
    if (entry === undefined) r.fail(`sibling #${n} names actor #${i}; the context has ${entries.length}`)
    const counter = r.varint('counter')
    if (counter === 0 || counter > entry[1]) r.fail(`sibling #${n} has counter ${counter}, outside 1..${entry[1]} of its actor`)
    if (i < lastIndex || (i === lastIndex && counter <= lastCounter)) r.fail(`siblings must be sorted by (actor, counter) and unique (#${n})`)
    lastIndex = i
    lastCounter = counter
    const timestamp = r.varint('timestamp')
    const expiresAt = r.varint('expiry')
    const kind = r.byte()
    let value: Uint8Array | null
    if (kind === TOMBSTONE) value = null
    else if (kind === VALUE) value = r.take(r.varint('value length'))
    else r.fail(`sibling #${n} has kind ${kind} (expected 0 or 1)`)
    siblings.push({ dot: { actor: entry[0], counter }, value, timestamp, expiresAt })
  }
  r.end()
  return { context: new Map(entries), siblings }
}

/** The opaque client context: unpadded base64url of the context block. */
export function encodeContext(context: VersionVector): string {
  for (const actor of context.keys()) assertActor(actor)
  const entries = contextEntries(context)
  const w = new Writer(1 + contextSize(entries))
  w.byte(CONTEXT_FORMAT)
  writeContext(w, entries)
  return Buffer.from(w.done()).toString('base64url')
}

const BASE64 = /^[A-Za-z0-9_-]*$/

/** Parses a client context; anything malformed is an ERR_BAD_CONTEXT saying what is wrong. */
export function decodeContext(text: string): VersionVector {
  return decodeContextBytes(contextBytes(text))
}

function failContext(message: string): never {
  throw new RingkvError('ERR_BAD_CONTEXT', `causal context ${message}`)
}

/**
 * The bytes of a client context (its format byte and context block), base64 undone and checked, the block itself
 * not parsed: what the native store's write takes (it parses the block where the envelope is). ERR_BAD_CONTEXT
 * for text that is not a context's base64; `decodeContextBytes` checks the rest.
 */
export function contextBytes(text: string): Uint8Array {
  if (typeof text !== 'string') failContext('must be a string')
  if (text.length === 0) failContext('is empty')
  if (text.length > MAX_CONTEXT_CHARS) failContext(`is ${text.length} characters; the limit is ${MAX_CONTEXT_CHARS}`)
  // Contexts come back as this module wrote them (unpadded base64url): normalise only what needs it.
  let normal = text
  if (normal.endsWith('=')) normal = normal.replace(/={1,2}$/, '')
  if (normal.includes('+') || normal.includes('/')) normal = normal.replaceAll('+', '-').replaceAll('/', '_')
  const bytes = Buffer.from(normal, 'base64url')
  // Buffer skips characters outside the alphabet and stray bits in the last one; a canonical context has
  // neither, so it re-encodes to itself -- one check for both, the alphabet looked at only to say which.
  if (bytes.toString('base64url') !== normal) {
    if (!BASE64.test(normal) || normal.length % 4 === 1) failContext('is not valid base64url')
    failContext('is not valid base64url (non-zero padding bits)')
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
}

/** Parses the bytes of a client context (contextBytes); anything malformed is an ERR_BAD_CONTEXT. */
export function decodeContextBytes(bytes: Uint8Array): VersionVector {
  if (!(bytes instanceof Uint8Array)) failContext('must be bytes')
  const r: Reader = new Reader(bytes, 'ERR_BAD_CONTEXT', 'causal context')
  const format = r.byte()
  if (format !== CONTEXT_FORMAT) r.fail(`format ${format} is not supported (expected ${CONTEXT_FORMAT})`)
  const entries = readContext(r)
  r.end()
  return new Map(entries)
}

/** One value a read shows, as `readAnswer` finds it: `value` is a view of the stored bytes. */
export interface AnswerValue {
  readonly value: Uint8Array
  readonly timestamp: number
  readonly expiresAt: number
}

// The client context is the envelope's own context block behind a format byte, and both formats are 1, so a
// context is the envelope's first bytes as they are. (A new format of either must revisit readAnswer.)
const CONTEXT_IS_ENVELOPE_PREFIX: boolean = ENVELOPE_FORMAT === CONTEXT_FORMAT

/**
 * What a read of stored envelope bytes answers -- the client context and the live (neither deleted nor expired)
 * values, in stored order -- without building the envelope: no actor strings, no version vector, no copy. The
 * same answer as `encodeContext(contextOf(e))` and `liveSiblings(e, now)` of the decoded envelope `e`, at a
 * fraction of the cost; reads whose replicas agree byte for byte are answered this way. Bytes that do not parse
 * are ERR_BAD_ENVELOPE, like decodeEnvelope; the deeper invariants (sorted actors, covered dots) are not
 * re-checked, as these bytes were written by encodeEnvelope and guarded by the engine's checksums since.
 */
export function readAnswer(bytes: Uint8Array, now: number): { context: string; values: AnswerValue[] } {
  const r = contextBlock(bytes)
  const actors = r.actors
  const k = r.reader.count('siblings', 5)
  const values: AnswerValue[] = []
  for (let n = 0; n < k; n++) {
    if (r.reader.varint('actor index') >= actors) r.reader.fail(`sibling #${n} names an actor beyond the context's ${actors}`)
    r.reader.varint('counter')
    const timestamp = r.reader.varint('timestamp')
    const expiresAt = r.reader.varint('expiry')
    const kind = r.reader.byte()
    if (kind === TOMBSTONE) continue
    if (kind !== VALUE) r.reader.fail(`sibling #${n} has kind ${kind} (expected 0 or 1)`)
    const value = r.reader.take(r.reader.varint('value length'))
    if (expiresAt === 0 || expiresAt > now) values.push({ value, timestamp, expiresAt })
  }
  r.reader.end()
  return { context: contextText(bytes, r.end), values }
}

/** The client context of stored envelope bytes (encodeContext of its context), read from them without decoding. */
export function contextOfBytes(bytes: Uint8Array): string {
  return contextText(bytes, contextBlock(bytes).end)
}

function contextText(bytes: Uint8Array, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('base64url')
}

/** Reads past the format byte and the context block; `end` is where the block ends. */
function contextBlock(bytes: Uint8Array): { reader: Reader; actors: number; end: number } {
  const r = new Reader(bytes, 'ERR_BAD_ENVELOPE', 'envelope')
  const format = r.byte()
  if (format !== ENVELOPE_FORMAT || !CONTEXT_IS_ENVELOPE_PREFIX) r.fail(`format ${format} is not supported (expected ${ENVELOPE_FORMAT})`)
  const actors = r.count('context entries', 3)
  for (let i = 0; i < actors; i++) {
    r.take(r.varint('actor length'))
    r.varint('counter')
  }
  return { reader: r, actors, end: r.at }
}

