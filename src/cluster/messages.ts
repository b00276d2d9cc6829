// Payloads of the application messages (ids in src/protocol/message-types.ts), big-endian, with the
// helpers of src/protocol/binary.ts (bytes = u32 length + bytes; optional = u8 flag + bytes).
//
// Client replies carry their own outcome, so that an error reaches the client with its details (a
// quorum error's `required` and `received`), which a transport error-response cannot carry:
//   reply = u8 status (0 ok | 1 error) | ok body, or: code string | message string | details JSON string
//
// Consistency values travel as one byte: 0 = the keyspace default, 1 = one, 2 = quorum, 3 = all,
// 4 + n = the number n (1..200).
import { BinaryReader, BinaryWriter } from '../protocol/binary.ts'
import { RingkvError } from '../errors.ts'
import type { Consistency, MemberInfo, ScanEntry, SiblingValue } from './api.ts'

function badConsistency(name: string, v: unknown): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', `${name} must be a positive integer or one of one|quorum|all, got ${String(v)}`)
}

export function encodeConsistency(v: Consistency | undefined, name: string): number {
  if (v === undefined) return 0
  if (v === 'one') return 1
  if (v === 'quorum') return 2
  if (v === 'all') return 3
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 200) return 4 + v
  throw badConsistency(name, v)
}

export function decodeConsistency(b: number, name: string): Consistency | undefined {
  if (b === 0) return undefined
  if (b === 1) return 'one'
  if (b === 2) return 'quorum'
  if (b === 3) return 'all'
  if (b >= 5) return b - 4
  throw badConsistency(name, b)
}

// ---- client replies ----------------------------------------------------------------------------

/** `sizeHint`: the reply's expected size, so that the writer does not grow (and copy) on the way. */
export function okReply(body: (w: BinaryWriter) => void, sizeHint = 256): Buffer {
  const w = new BinaryWriter(sizeHint)
  w.u8(0)
  body(w)
  return w.finish()
}

export function errorReply(e: RingkvError): Buffer {
  return new BinaryWriter()
    .u8(1)
    .string(e.code)
    .string(e.message)
    .string(e.details === undefined ? '' : JSON.stringify(e.details))
    .finish()
}

/** Reads a client reply: the ok body's reader, or throws the RingkvError the node sent. */
export function readReply(payload: Uint8Array): BinaryReader {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const status = r.u8('status')
  if (status === 0) return r
  if (status !== 1) throw new RingkvError('ERR_BAD_REPLY', `malformed reply: status ${status}`)
  const code = r.string('code')
  const message = r.string('message')
  const detailsText = r.string('details')
  let details: Record<string, unknown> | undefined
  if (detailsText !== '') {
    try {
      details = JSON.parse(detailsText) as Record<string, unknown>
    } catch {
      details = undefined
    }
  }
  throw new RingkvError(code, message, details === undefined ? {} : { details })
}

function writeSiblings(w: BinaryWriter, siblings: readonly ReplyValue[]): void {
  w.u32(siblings.length)
  for (const s of siblings) w.bytes(s.value).u64(s.timestamp).u64(s.expiresAt)
}

function readSiblings(r: BinaryReader): SiblingValue[] {
  const n = r.u32('sibling count')
  const out: SiblingValue[] = []
  for (let i = 0; i < n; i++) {
    out.push({ value: Buffer.from(r.bytes('sibling value')), timestamp: r.u64('timestamp'), expiresAt: r.u64('expiresAt') })
  }
  return out
}

// ---- CLIENT_GET ----------------------------------------------------------------------------------

export interface GetRequest {
  key: Uint8Array
  r: Consistency | undefined
  pr: Consistency | undefined
  timeoutMs: number
}

export function encodeGetRequest(q: GetRequest): Buffer {
  return new BinaryWriter(q.key.length + 16).bytes(q.key).u8(encodeConsistency(q.r, 'r')).u8(encodeConsistency(q.pr, 'pr')).u32(q.timeoutMs).finish()
}

export function decodeGetRequest(payload: Uint8Array): GetRequest {
  const r = new BinaryReader(payload)
  const q = { key: r.bytes('key'), r: decodeConsistency(r.u8(), 'r'), pr: decodeConsistency(r.u8(), 'pr'), timeoutMs: r.u32('timeout') }
  r.end()
  return q
}

/** A value as a reply carries it: encoding takes any bytes (decoding gives Buffers the caller owns). */
export interface ReplyValue {
  readonly value: Uint8Array
  readonly timestamp: number
  readonly expiresAt: number
}

export interface GetReplyBody {
  found: boolean
  siblings: readonly ReplyValue[]
  context: string
}

export function encodeGetReply(g: GetReplyBody): Buffer {
  let size = 16 + 3 * g.context.length
  for (const s of g.siblings) size += 20 + s.value.length
  return okReply((w) => {
    w.u8(g.found ? 1 : 0)
    writeSiblings(w, g.siblings)
    w.string(g.context)
  }, size)
}

export function decodeGetReply(payload: Uint8Array): { found: boolean; siblings: SiblingValue[]; context: string } {
  const r = readReply(payload)
  const g = { found: r.u8('found') === 1, siblings: readSiblings(r), context: r.string('context') }
  r.end()
  return g
}

// ---- CLIENT_PUT / CLIENT_DELETE -------------------------------------------------------------------

export interface WriteRequest {
  key: Uint8Array
  /** undefined for a delete. */
  value: Uint8Array | undefined
  context: string | undefined
  w: Consistency | undefined
  pw: Consistency | undefined
  dw: Consistency | undefined
  timeoutMs: number
  ttlMs: number
  /** Times this request was forwarded to a replica that coordinates it; bounded to stop loops. */
  hops: number
}

export function encodeWriteRequest(q: WriteRequest): Buffer {
  return new BinaryWriter(q.key.length + (q.value?.length ?? 0) + 3 * (q.context?.length ?? 0) + 40)
    .bytes(q.key)
    .optionalBytes(q.value)
    .optionalBytes(q.context === undefined ? undefined : Buffer.from(q.context, 'utf8'))
    .u8(encodeConsistency(q.w, 'w'))
    .u8(encodeConsistency(q.pw, 'pw'))
    .u8(encodeConsistency(q.dw, 'dw'))
    .u32(q.timeoutMs)
    .u64(q.ttlMs)
    .u8(q.hops)
    .finish()
}

export function decodeWriteRequest(payload: Uint8Array): WriteRequest {
  const r = new BinaryReader(payload)
  const key = r.bytes('key')
  const value = r.optionalBytes('value')
  const context = r.optionalBytes('context')?.toString('utf8')
  const q: WriteRequest = {
    key,
    value,
    context,
    w: decodeConsistency(r.u8(), 'w'),
    pw: decodeConsistency(r.u8(), 'pw'),
    dw: decodeConsistency(r.u8(), 'dw'),
    timeoutMs: r.u32('timeout'),
    ttlMs: r.u64('ttl'),
    hops: r.u8('hops'),
  }
  r.end()
  return q
}

export function encodePutReply(context: string): Buffer {
  return okReply((w) => w.string(context))
}

export function decodePutReply(payload: Uint8Array): string {
  const r = readReply(payload)
  const context = r.string('context')
  r.end()
  return context
}

export function encodeEmptyReply(): Buffer {
  return okReply(() => {})
}

export function decodeEmptyReply(payload: Uint8Array): void {
  readReply(payload).end()
}

// ---- CLIENT_SCAN ---------------------------------------------------------------------------------

export interface ScanRequest {
  start: Uint8Array | undefined
  end: Uint8Array | undefined
  prefix: Uint8Array | undefined
  after: Uint8Array | undefined
  limit: number
  timeoutMs: number
}

export function encodeScanRequest(q: ScanRequest): Buffer {
  return new BinaryWriter()
    .optionalBytes(q.start)
    .optionalBytes(q.end)
    .optionalBytes(q.prefix)
    .optionalBytes(q.after)
    .u32(q.limit)
    .u32(q.timeoutMs)
    .finish()
}

export function decodeScanRequest(payload: Uint8Array): ScanRequest {
  const r = new BinaryReader(payload)
  const q = {
    start: r.optionalBytes('start'),
    end: r.optionalBytes('end'),
    prefix: r.optionalBytes('prefix'),
    after: r.optionalBytes('after'),
    limit: r.u32('limit'),
    timeoutMs: r.u32('timeout'),
  }
  r.end()
  return q
}

export function encodeScanReply(entries: readonly ScanEntry[], next: Uint8Array | undefined): Buffer {
  return okReply((w) => {
    w.u32(entries.length)
    for (const e of entries) {
      w.bytes(e.key)
      writeSiblings(w, e.siblings)
      w.string(e.context)
    }
    w.optionalBytes(next)
  })
}

export function decodeScanReply(payload: Uint8Array): { entries: ScanEntry[]; next: Buffer | undefined } {
  const r = readReply(payload)
  const n = r.u32('entry count')
  const entries: ScanEntry[] = []
  for (let i = 0; i < n; i++) {
    const key = Buffer.from(r.bytes('key'))
    const siblings = readSiblings(r)
    const context = r.string('context')
    entries.push({ key, siblings, context, value: siblings.length === 1 ? siblings[0]!.value : undefined })
  }
  const next = r.optionalBytes('next')
  r.end()
  return { entries, next: next === undefined ? undefined : Buffer.from(next) }
}

// ---- CLIENT_RING and MEMBERS ---------------------------------------------------------------------

function writeMember(w: BinaryWriter, m: MemberInfo): void {
  w.string(m.id).string(m.address).optionalBytes(m.http === undefined ? undefined : Buffer.from(m.http, 'utf8'))
}

function readMember(r: BinaryReader): MemberInfo {
  return { id: r.string('member id'), address: r.string('member address'), http: r.optionalBytes('member http')?.toString('utf8') }
}

export function encodeRingReply(ring: Uint8Array, members: readonly MemberInfo[]): Buffer {
  return okReply((w) => {
    w.bytes(ring)
    w.u32(members.length)
    for (const m of members) writeMember(w, m)
  })
}

export function decodeRingReply(payload: Uint8Array): { ring: Buffer; members: MemberInfo[] } {
  const r = readReply(payload)
  const ring = Buffer.from(r.bytes('ring'))
  const n = r.u32('member count')
  const members: MemberInfo[] = []
  for (let i = 0; i < n; i++) members.push(readMember(r))
  r.end()
  return { ring, members }
}

// ---- replica messages (node to node; failures travel as transport error-responses) ---------------

export interface ReplicaKey {
  partition: number
  key: Uint8Array
}

export function encodeReplicaGet(q: ReplicaKey): Buffer {
  return new BinaryWriter(q.key.length + 8).u16(q.partition).bytes(q.key).finish()
}

export function decodeReplicaGet(payload: Uint8Array): ReplicaKey {
  const r = new BinaryReader(payload)
  const q = { partition: r.u16('partition'), key: r.bytes('key') }
  r.end()
  return q
}

/** The replica's stored envelope (encoded), or undefined when it holds none. */
export function encodeReplicaGetReply(envelope: Uint8Array | undefined): Buffer {
  return new BinaryWriter((envelope?.length ?? 0) + 8).optionalBytes(envelope).finish()
}

export function decodeReplicaGetReply(payload: Uint8Array): Buffer | undefined {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const env = r.optionalBytes('envelope')
  r.end()
  return env
}

/** A digest read (REPLICA_GET_UNLESS): the coordinator's digest of its copy, undefined when it has none. */
export interface ReplicaGetUnless extends ReplicaKey {
  digest: Uint8Array | undefined
}

export function encodeReplicaGetUnless(q: ReplicaGetUnless): Buffer {
  return new BinaryWriter(q.key.length + 32).u16(q.partition).bytes(q.key).optionalBytes(q.digest).finish()
}

export function decodeReplicaGetUnless(payload: Uint8Array): ReplicaGetUnless {
  const r = new BinaryReader(payload)
  const q = { partition: r.u16('partition'), key: r.bytes('key'), digest: r.optionalBytes('digest') }
  r.end()
  return q
}

/** The reply: u8 1 = the replica's copy has that digest (or both have none), nothing else; u8 0 + its bytes (optional). */
export const REPLICA_SAME_REPLY: Buffer = new BinaryWriter(1).u8(1).finish()

export function encodeReplicaGetUnlessReply(envelope: Uint8Array | undefined): Buffer {
  return new BinaryWriter((envelope?.length ?? 0) + 8).u8(0).optionalBytes(envelope).finish()
}

export function decodeReplicaGetUnlessReply(payload: Uint8Array): { same: true } | { same: false; envelope: Buffer | undefined } {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const same = r.u8('same')
  if (same === 1) {
    r.end()
    return SAME
  }
  if (same !== 0) throw new RingkvError('ERR_BAD_REPLY', `malformed REPLICA_GET_UNLESS reply: flag ${same}`)
  const envelope = r.optionalBytes('envelope')
  r.end()
  return { same: false, envelope }
}

const SAME = Object.freeze({ same: true as const })

// ---- REPLICA_DIGESTS: a turn's digest reads to one replica -----------------------------------------------
//
//   request = u32 count, then per entry: u16 partition, bytes key, optional bytes digest (REPLICA_GET_UNLESS's
//             fields)
//   reply   = u32 count (the request's), then per entry, in order, one of
//             u8 1                          same: the replica's copy has that digest (or both have none)
//             u8 0, optional bytes          differs: the replica's stored bytes, or none
//             u8 2                          differs, bytes withheld: the reply had no room left (ask REPLICA_GET)
//             u8 3, string code             this entry failed on the replica (a corrupt copy, a bad key...)

/** The most entries one REPLICA_DIGESTS request carries. */
export const MAX_DIGEST_ENTRIES = 4096

export type DigestReply =
  | { readonly kind: 'same' }
  | { readonly kind: 'differs'; readonly envelope: Buffer | undefined }
  | { readonly kind: 'withheld' }
  | { readonly kind: 'failed'; readonly code: string }

export const DIGEST_SAME: DigestReply = Object.freeze({ kind: 'same' })
export const DIGEST_WITHHELD: DigestReply = Object.freeze({ kind: 'withheld' })

/** Encoded size of one entry of a REPLICA_DIGESTS request. */
export function replicaDigestEntryBytes(q: ReplicaGetUnless): number {
  return 2 + 4 + q.key.length + 1 + (q.digest === undefined ? 0 : 4 + q.digest.length)
}

export function encodeReplicaDigests(entries: readonly ReplicaGetUnless[], bytes: number): Buffer {
  const w = new BinaryWriter(4 + bytes)
  w.u32(entries.length)
  for (const q of entries) w.u16(q.partition).bytes(q.key).optionalBytes(q.digest)
  return w.finish()
}

export function decodeReplicaDigests(payload: Uint8Array): ReplicaGetUnless[] {
  const r = new BinaryReader(payload)
  const count = r.u32('count')
  if (count > MAX_DIGEST_ENTRIES) throw new RingkvError('ERR_BAD_REQUEST', `REPLICA_DIGESTS with ${count} entries; at most ${MAX_DIGEST_ENTRIES}`)
  const entries: ReplicaGetUnless[] = []
  for (let i = 0; i < count; i++) entries.push({ partition: r.u16('partition'), key: r.bytes('key'), digest: r.optionalBytes('digest') })
  r.end()
  return entries
}

/** Builds a REPLICA_DIGESTS reply entry by entry. */
export class ReplicaDigestsReply {
  readonly #w: BinaryWriter
  #bytes = 4

  constructor(count: number, sizeHint: number) {
    this.#w = new BinaryWriter(sizeHint).u32(count)
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes
  }

  same(): void {
    this.#w.u8(1)
    this.#bytes += 1
  }

  differs(envelope: Uint8Array | undefined): void {
    this.#w.u8(0).optionalBytes(envelope)
    this.#bytes += 2 + (envelope === undefined ? 0 : 4 + envelope.length)
  }

  withheld(): void {
    this.#w.u8(2)
    this.#bytes += 1
  }

  failed(code: string): void {
    this.#w.u8(3).string(code)
    this.#bytes += 5 + Buffer.byteLength(code)
  }

  finish(): Buffer {
    return this.#w.finish()
  }
}

export function decodeReplicaDigestsReply(payload: Uint8Array, expected: number): DigestReply[] {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const count = r.u32('count')
  if (count !== expected) throw new RingkvError('ERR_BAD_REPLY', `REPLICA_DIGESTS reply has ${count} entries for ${expected} asked`)
  const out: DigestReply[] = []
  for (let i = 0; i < count; i++) {
    const tag = r.u8('tag')
    if (tag === 1) out.push(DIGEST_SAME)
    else if (tag === 0) out.push({ kind: 'differs', envelope: r.optionalBytes('envelope') })
    else if (tag === 2) out.push(DIGEST_WITHHELD)
    else if (tag === 3) out.push({ kind: 'failed', code: r.string('code') })
    else throw new RingkvError('ERR_BAD_REPLY', `malformed REPLICA_DIGESTS reply: entry ${i} has tag ${tag}`)
  }
  r.end()
  return out
}

export interface ReplicaPut extends ReplicaKey {
  envelope: Uint8Array
  /** Reply only once the write is fsynced (for dw). */
  durable: boolean
}

export function encodeReplicaPut(q: ReplicaPut): Buffer {
  return new BinaryWriter(q.key.length + q.envelope.length + 16).u16(q.partition).bytes(q.key).bytes(q.envelope).u8(q.durable ? 1 : 0).finish()
}

export function decodeReplicaPut(payload: Uint8Array): ReplicaPut {
  const r = new BinaryReader(payload)
  const q = { partition: r.u16('partition'), key: r.bytes('key'), envelope: r.bytes('envelope'), durable: r.u8('durable') === 1 }
  r.end()
  return q
}

/** Whether the replica's acknowledgement is durable. */
export function encodeReplicaPutReply(durable: boolean): Buffer {
  return Buffer.from([durable ? 1 : 0])
}

export function decodeReplicaPutReply(payload: Uint8Array): boolean {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const d = r.u8('durable') === 1
  r.end()
  return d
}

export interface ReplicaScan {
  partitions: number[]
  start: Uint8Array | undefined
  end: Uint8Array | undefined
  /** Resume strictly after this key. */
  after: Uint8Array | undefined
  limit: number
}

export function encodeReplicaScan(q: ReplicaScan): Buffer {
  const w = new BinaryWriter()
  w.u32(q.partitions.length)
  for (const p of q.partitions) w.u16(p)
  return w.optionalBytes(q.start).optionalBytes(q.end).optionalBytes(q.after).u32(q.limit).finish()
}

export function decodeReplicaScan(payload: Uint8Array): ReplicaScan {
  const r = new BinaryReader(payload)
  const n = r.u32('partition count')
  if (n > 65536) throw new RingkvError('ERR_BAD_REQUEST', `malformed message: ${n} partitions`)
  const partitions: number[] = []
  for (let i = 0; i < n; i++) partitions.push(r.u16('partition'))
  const q = { partitions, start: r.optionalBytes('start'), end: r.optionalBytes('end'), after: r.optionalBytes('after'), limit: r.u32('limit') }
  r.end()
  return q
}

export interface ReplicaScanEntry {
  key: Buffer
  envelope: Buffer
}

/** Entries in key order across the asked partitions; `more` when the limit cut the scan short. */
export function encodeReplicaScanReply(entries: readonly ReplicaScanEntry[], more: boolean): Buffer {
  const w = new BinaryWriter()
  w.u32(entries.length)
  for (const e of entries) w.bytes(e.key).bytes(e.envelope)
  return w.u8(more ? 1 : 0).finish()
}

export function decodeReplicaScanReply(payload: Uint8Array): { entries: ReplicaScanEntry[]; more: boolean } {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const n = r.u32('entry count')
  const entries: ReplicaScanEntry[] = []
  for (let i = 0; i < n; i++) entries.push({ key: r.bytes('key'), envelope: r.bytes('envelope') })
  const more = r.u8('more') === 1
  r.end()
  return { entries, more }
}
