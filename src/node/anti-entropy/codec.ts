// Payloads of the anti-entropy messages (ids in src/protocol/message-types.ts), big-endian, with the helpers of
// src/protocol/binary.ts (bytes = u32 length + bytes). Requests that do not parse or break a bound are
// ERR_BAD_REQUEST (the transport sends the peer an error-response); replies that do not parse are ERR_BAD_REPLY.
//
// Tree nodes and leaf entries travel as the first DIGEST_BYTES (16) of their SHA-256: they only decide what to
// compare further, a false match has probability 2^-128, and it halves what an exchange costs. Garbage
// collection's confirmation (AE_ENTRIES by keys) sends whole hashes, because the store checks them byte for byte.
//
//   AE_TREE      request  u16 partition | u32 segments | u8 depth | u32 n | n x u32 parent (nodes at depth - 1)
//                reply    u64 entries | u64 bytes | u32 n | n x 16-byte digest
//                         depth 0 (n = 0): the root; depth d: the children of each parent, parent by parent
//   AE_ENTRIES   request  u16 partition | u8 mode
//                           mode 0 (leaves): u32 segments | u32 n | n x u32 leaf
//                           mode 1 (keys):   u32 n | n x bytes key
//                reply    mode 0: u32 n | n x (bytes key | 16-byte digest), in key order
//                         mode 1: u32 n | n x (u8 present | present ? 32-byte hash), in request order
//   AE_SYNC      request  u16 partition | u32 n | n x (bytes key | bytes envelope) | u32 m | m x bytes key
//                         (envelopes to merge; keys whose envelope the sender wants back)
//                reply    u32 changed | u32 n | n x (bytes key | bytes envelope)
//                         (merges that changed the receiver's store; the wanted envelopes the sender lacks)
//   ADMIN_REPAIR request  u32 n | n x u16 partition (n = 0: every partition the node replicates)
//                reply    the report as JSON (like ADMIN_STATUS)

import { RingkvError } from '../../errors.ts'
import { BinaryReader, BinaryWriter } from '../../protocol/binary.ts'
import { HASH_BYTES, MAX_SEGMENTS, type EntryHash } from '../../storage/index.ts'

/** Bounds on what one message may ask for, so a malformed count cannot make a node allocate or work without end. */
export const MAX_TREE_PARENTS = 1 << 16
export const MAX_TREE_DEPTH = 8
export const MAX_ENTRY_LEAVES = MAX_SEGMENTS
export const MAX_KEYS_PER_MESSAGE = 1 << 16

/** Bytes of a tree node or leaf entry hash on the wire. */
export const DIGEST_BYTES = 16

export const ENTRIES_BY_LEAVES = 0
export const ENTRIES_BY_KEYS = 1

function bad(message: string, code = 'ERR_BAD_REQUEST'): RingkvError {
  return new RingkvError(code, `malformed message: ${message}`)
}

function count(r: BinaryReader, what: string, max: number, code = 'ERR_BAD_REQUEST'): number {
  const n = r.u32(`${what} count`)
  if (n > max) throw bad(`${n} ${what}, at most ${max}`, code)
  return n
}

function hash(r: BinaryReader, what: string): Buffer {
  return r.bytesFixed(HASH_BYTES, what)
}

function digest(r: BinaryReader, what: string): Buffer {
  return r.bytesFixed(DIGEST_BYTES, what)
}

/** A hash as the tree and leaf listings carry it. */
export function shortDigest(h: Buffer): Buffer {
  return h.subarray(0, DIGEST_BYTES)
}

// ---- AE_TREE ---------------------------------------------------------------------------------------

export interface TreeRequest {
  partition: number
  segments: number
  depth: number
  parents: number[]
}

export function encodeTreeRequest(q: TreeRequest): Buffer {
  const w = new BinaryWriter().u16(q.partition).u32(q.segments).u8(q.depth).u32(q.parents.length)
  for (const p of q.parents) w.u32(p)
  return w.finish()
}

export function decodeTreeRequest(payload: Uint8Array): TreeRequest {
  const r = new BinaryReader(payload)
  const partition = r.u16('partition')
  const segments = r.u32('segments')
  if (segments < 1 || segments > MAX_SEGMENTS) throw bad(`segments ${segments}, expected 1..${MAX_SEGMENTS}`)
  const depth = r.u8('depth')
  if (depth > MAX_TREE_DEPTH) throw bad(`depth ${depth}, at most ${MAX_TREE_DEPTH}`)
  const n = count(r, 'parents', MAX_TREE_PARENTS)
  const parents: number[] = []
  for (let i = 0; i < n; i++) parents.push(r.u32('parent'))
  r.end()
  if (depth === 0 && n !== 0) throw bad('a root request names no parents')
  return { partition, segments, depth, parents }
}

export interface TreeReply {
  entries: number
  bytes: number
  /** Whole hashes to encode; DIGEST_BYTES-long digests when decoded. */
  hashes: Buffer[]
}

export function encodeTreeReply(t: TreeReply): Buffer {
  const w = new BinaryWriter(24 + t.hashes.length * DIGEST_BYTES).u64(t.entries).u64(t.bytes).u32(t.hashes.length)
  for (const h of t.hashes) w.raw(shortDigest(h))
  return w.finish()
}

export function decodeTreeReply(payload: Uint8Array): TreeReply {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const entries = r.u64('entries')
  const bytes = r.u64('bytes')
  const n = count(r, 'hashes', MAX_TREE_PARENTS * 64, 'ERR_BAD_REPLY')
  const hashes: Buffer[] = []
  for (let i = 0; i < n; i++) hashes.push(digest(r, 'digest'))
  r.end()
  return { entries, bytes, hashes }
}

// ---- AE_ENTRIES ------------------------------------------------------------------------------------

export type EntriesRequest =
  | { partition: number; mode: typeof ENTRIES_BY_LEAVES; segments: number; leaves: number[] }
  | { partition: number; mode: typeof ENTRIES_BY_KEYS; keys: Buffer[] }

export function encodeEntriesRequest(q: EntriesRequest): Buffer {
  const w = new BinaryWriter().u16(q.partition).u8(q.mode)
  if (q.mode === ENTRIES_BY_LEAVES) {
    w.u32(q.segments).u32(q.leaves.length)
    for (const l of q.leaves) w.u32(l)
  } else {
    w.u32(q.keys.length)
    for (const k of q.keys) w.bytes(k)
  }
  return w.finish()
}

export function decodeEntriesRequest(payload: Uint8Array): EntriesRequest {
  const r = new BinaryReader(payload)
  const partition = r.u16('partition')
  const mode = r.u8('mode')
  if (mode === ENTRIES_BY_LEAVES) {
    const segments = r.u32('segments')
    if (segments < 1 || segments > MAX_SEGMENTS) throw bad(`segments ${segments}, expected 1..${MAX_SEGMENTS}`)
    const n = count(r, 'leaves', MAX_ENTRY_LEAVES)
    const leaves: number[] = []
    for (let i = 0; i < n; i++) {
      const leaf = r.u32('leaf')
      if (leaf >= segments) throw bad(`leaf ${leaf} of ${segments} segments`)
      leaves.push(leaf)
    }
    r.end()
    return { partition, mode, segments, leaves }
  }
  if (mode === ENTRIES_BY_KEYS) {
    const n = count(r, 'keys', MAX_KEYS_PER_MESSAGE)
    const keys: Buffer[] = []
    for (let i = 0; i < n; i++) keys.push(r.bytes('key'))
    r.end()
    return { partition, mode, keys }
  }
  throw bad(`entries mode ${mode}, expected ${ENTRIES_BY_LEAVES} (leaves) or ${ENTRIES_BY_KEYS} (keys)`)
}

export function encodeLeafEntriesReply(entries: readonly EntryHash[]): Buffer {
  const w = new BinaryWriter().u32(entries.length)
  for (const e of entries) w.bytes(e.key).raw(shortDigest(e.hash))
  return w.finish()
}

export function decodeLeafEntriesReply(payload: Uint8Array): EntryHash[] {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const n = r.u32('entry count')
  const out: EntryHash[] = []
  for (let i = 0; i < n; i++) out.push({ key: Buffer.from(r.bytes('key')), hash: digest(r, 'entry digest') })
  r.end()
  return out
}

export function encodeKeyHashesReply(hashes: ReadonlyArray<Buffer | undefined>): Buffer {
  const w = new BinaryWriter().u32(hashes.length)
  for (const h of hashes) {
    if (h === undefined) w.u8(0)
    else w.u8(1).raw(h)
  }
  return w.finish()
}

export function decodeKeyHashesReply(payload: Uint8Array, expected: number): Array<Buffer | undefined> {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const n = r.u32('hash count')
  if (n !== expected) throw bad(`${n} hashes for ${expected} keys`, 'ERR_BAD_REPLY')
  const out: Array<Buffer | undefined> = []
  for (let i = 0; i < n; i++) {
    const present = r.u8('present')
    if (present > 1) throw bad(`present flag ${present}`, 'ERR_BAD_REPLY')
    out.push(present === 1 ? hash(r, 'entry hash') : undefined)
  }
  r.end()
  return out
}

// ---- AE_SYNC ---------------------------------------------------------------------------------------

export interface SyncEntry {
  key: Buffer
  /** An encoded envelope (src/versioning/codec.ts). */
  envelope: Buffer
}

export interface SyncRequest {
  partition: number
  push: SyncEntry[]
  want: Buffer[]
}

export function encodeSyncRequest(q: SyncRequest): Buffer {
  const w = new BinaryWriter().u16(q.partition).u32(q.push.length)
  for (const e of q.push) w.bytes(e.key).bytes(e.envelope)
  w.u32(q.want.length)
  for (const k of q.want) w.bytes(k)
  return w.finish()
}

export function decodeSyncRequest(payload: Uint8Array): SyncRequest {
  const r = new BinaryReader(payload)
  const partition = r.u16('partition')
  const n = count(r, 'pushed entries', MAX_KEYS_PER_MESSAGE)
  const push: SyncEntry[] = []
  for (let i = 0; i < n; i++) push.push({ key: r.bytes('key'), envelope: r.bytes('envelope') })
  const m = count(r, 'wanted keys', MAX_KEYS_PER_MESSAGE)
  const want: Buffer[] = []
  for (let i = 0; i < m; i++) want.push(r.bytes('wanted key'))
  r.end()
  return { partition, push, want }
}

export interface SyncReply {
  changed: number
  entries: SyncEntry[]
}

export function encodeSyncReply(s: SyncReply): Buffer {
  const w = new BinaryWriter().u32(s.changed).u32(s.entries.length)
  for (const e of s.entries) w.bytes(e.key).bytes(e.envelope)
  return w.finish()
}

export function decodeSyncReply(payload: Uint8Array): SyncReply {
  const r = new BinaryReader(payload, 'ERR_BAD_REPLY')
  const changed = r.u32('changed')
  const n = r.u32('entry count')
  const entries: SyncEntry[] = []
  for (let i = 0; i < n; i++) entries.push({ key: Buffer.from(r.bytes('key')), envelope: Buffer.from(r.bytes('envelope')) })
  r.end()
  return { changed, entries }
}

// ---- ADMIN_REPAIR ----------------------------------------------------------------------------------

export function encodeRepairRequest(partitions: readonly number[] | undefined): Buffer {
  const list = partitions ?? []
  const w = new BinaryWriter().u32(list.length)
  for (const p of list) {
    if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new RingkvError('ERR_BAD_REQUEST', `a partition is an integer between 0 and 65535, got ${p}`)
    w.u16(p)
  }
  return w.finish()
}

/** The partitions asked for, or undefined for all. */
export function decodeRepairRequest(payload: Uint8Array): number[] | undefined {
  const r = new BinaryReader(payload)
  const n = count(r, 'partitions', 1 << 16)
  const partitions: number[] = []
  for (let i = 0; i < n; i++) partitions.push(r.u16('partition'))
  r.end()
  return n === 0 ? undefined : partitions
}
