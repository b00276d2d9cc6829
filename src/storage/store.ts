// The replica store: how a node keeps its replicas' data (DESIGN sections 3, 4, 6 and 8).
//
// What it owns: one stored envelope (siblings under a dotted causal context, see src/versioning/) per
// (partition, key), and the two ways an envelope changes -- the coordinator's write (`update`) and replica
// sync (`merge`: replication from the coordinator, read repair, hinted handoff, anti-entropy). It does not
// interpret the envelope for reads: tombstones and expired siblings are returned as stored, and the
// coordinator filters them (`liveSiblings`, `dropExpired`).
//
// One contract, two implementations (STYLE practice 3): NativeStore over the Rust engine, MemoryStore in
// process for the deterministic simulator. Both run the same decision code below (`planUpdate`, `planMerge`,
// `decodeStored`) and the same test suite (test/conformance/store-contract.ts); they differ only in where bytes
// live.
//
// Atomicity (DESIGN section 8). A replica reconciles an envelope -- read, merge clocks, write -- inside one
// synchronous turn of the event loop: `update` and `merge` never await between reading the stored envelope and
// writing the new one. The engine applies a write to its memtable during the call (a `get` right after sees
// it), so two updates of one key in the same tick compose: the second reads what the first wrote, and no
// update is lost. Durability is separate: each write returns `durable`, which resolves when the engine's
// durability mode holds ('sync': fsynced; 'interval': in the log; 'none': at once). The guarantee is per event
// loop: a worker thread writing the same engine directly (DESIGN section 8 moves bulk merging to piscina) would
// race with it, so workers must hand merged envelopes back to this store.
//
// The common writes never leave the engine (NativeStore): a coordinator's update and a replica's merge of envelope
// bytes are decided on the bytes by crates/envelope, read and written in one native call on the event loop's
// thread -- atomic in the same way. That code restates updateEnvelope, mergeEnvelopes and the key-epoch choice for
// the cases it decides and hands every other case to the TypeScript below (the equivalence property test holds
// the two to one result).
//
// Key encoding. The engine key of (partition, key) is
//     u16 big-endian partition | user key bytes
// so a partition is one contiguous key range of the engine, sorted by user key: partition scans, and later
// per-partition Merkle trees and partition streaming, are plain range operations. User keys are any bytes
// (0x00 and 0xff included) of 0..maxKeyBytes (default 64 KiB - 2) bytes. The empty key is allowed: its engine
// key is the bare prefix, distinct from every other key and first in its partition. (Whether clients may use
// it is the API's decision, not the store's.)
//
// Value encoding. The engine value is `encodeEnvelope(envelope)`: canonical bytes, so replicas holding equal
// envelopes hold equal bytes (Merkle anti-entropy hashes them). A stored value that does not decode is
// reported as ERR_CORRUPTION naming the partition and key (hex) -- by get, update, merge and scan alike --
// and never crashes the process; other keys keep working. Neither update nor merge overwrites a corrupt
// value: the lost envelope may have held this node's own counters, and writing over it could issue a dot
// twice. Removing the key is an explicit decision (`remove`).
//
// Merkle digests (DESIGN section 6). `merkle` and `merkleEntries` digest one partition by content, with the
// engine's definition (merkle.ts), so that replicas holding equal envelopes produce equal leaves whichever store
// they run; anti-entropy compares them and syncs only the keys of differing leaves.
//
// Garbage collection. `collect` removes an obsolete envelope (tombstones and expired values only) once the
// caller has confirmed every replica holds the same bytes (it passes the entry hash it confirmed; a key that
// changed since is left alone). A later write to the key here issues its dots under a new key epoch
// (key-epochs.ts), so it can never reissue a collected dot that a replica still holding the old envelope has.
// The key epochs' record is the one record outside the partitions: the empty storage key.
//
// No engine TTL. The engine can expire values by itself, but envelopes never use it: an expired envelope
// must keep its causal context until garbage collection. If the engine dropped it, the key would look
// never-written, and a merge from a stale replica that still holds the older siblings would store them
// again -- repair would resurrect data that was overwritten or deleted before it expired. Expiry is a
// sibling's `expiresAt`, filtered at read time by the coordinator; the context keeps covering the dots.

import { RingkvError } from '../errors.ts'
import {
  decodeContextBytes,
  decodeEnvelope,
  encodeEnvelope,
  envelopesEqual,
  isObsolete,
  mergeEnvelopes,
  updateEnvelope,
  type Envelope,
  type VersionVector,
  type Write,
} from '../versioning/index.ts'
import { MAX_PARTITION, PARTITION_PREFIX_BYTES, type StoreLimits, type WriteLimits } from './limits.ts'
import { HASH_BYTES, entryHash, type EntryHash, type PartitionDigest } from './merkle.ts'

export interface UpdateResult {
  /** The envelope now stored. */
  readonly stored: Envelope
  /** The result has at least `warnSiblings` siblings: worth a log line and a metric. */
  readonly siblingWarning: boolean
  /**
   * The canonical encoding of `stored` (what was written): what the coordinator sends to the other replicas,
   * so it is not encoded twice. Read-only, and not to be kept (it may be a view of a pooled buffer).
   */
  readonly bytes: Uint8Array
  /** Resolves when the write is durable per the engine's mode; rejects if the engine failed to write it. */
  readonly durable: Promise<void>
}

export interface MergeResult {
  /** The envelope now stored (for an absent key merged with an empty envelope: the empty envelope). */
  readonly stored: Envelope
  /** Whether anything was written. */
  readonly changed: boolean
  /** Resolves when the stored envelope is durable: with `changed: false`, when the store's latest write is. */
  readonly durable: Promise<void>
}

export interface MergeBytesResult {
  /** Whether anything was written. */
  readonly changed: boolean
  /** As MergeResult's. */
  readonly durable: Promise<void>
}

export interface CollectResult {
  /** Whether the key was removed. */
  readonly collected: boolean
  /** Resolves when the removal is durable. */
  readonly durable: Promise<void>
}

export interface ScanOptions {
  /** First user key, inclusive; default: the partition's first key. */
  readonly start?: Uint8Array
  /** Last user key, exclusive; default: through the partition's last key. */
  readonly end?: Uint8Array
  /** At most this many entries. */
  readonly limit?: number
}

export interface ScanEntry {
  /** The user key (without the partition prefix). */
  readonly key: Buffer
  readonly envelope: Envelope
}

export interface StoreStats {
  gets: number
  /** Coordinator writes stored. */
  updates: number
  /** Replica syncs attempted. */
  merges: number
  /** Replica syncs that changed (and wrote) the stored envelope. */
  mergesChanged: number
  removes: number
  /** Obsolete envelopes removed by garbage collection (`collect`). */
  collected: number
  /** Envelopes written to the engine: updates plus merges that changed something. */
  keysWritten: number
  /** Encoded bytes of those envelopes. */
  bytesWritten: number
  siblingWarnings: number
  /** Updates refused with ERR_TOO_MANY_SIBLINGS. */
  siblingRefusals: number
  /** Updates refused with ERR_OBJECT_TOO_LARGE. */
  objectRefusals: number
  /** Merges refused with ERR_VALUE_TOO_LARGE (the merged envelope exceeds what the engine stores). */
  valueRefusals: number
  /** Stored values that failed to decode (ERR_CORRUPTION). */
  corruptions: number
  /** Writes whose `durable` promise rejected (counted once per engine turn). */
  durabilityFailures: number
}

/**
 * The contract every store implements. Errors are RingkvErrors: ERR_BAD_REQUEST (a bad partition, key type or
 * option), ERR_KEY_TOO_LARGE, ERR_VALUE_TOO_LARGE, ERR_TOO_MANY_SIBLINGS, ERR_OBJECT_TOO_LARGE, ERR_CORRUPTION,
 * ERR_CLOSED, and the versioning module's ERR_BAD_ENVELOPE for a malformed write, actor or envelope.
 * Synchronous methods throw; `remove` and `close` reject.
 */
export interface ReplicaStore {
  readonly limits: StoreLimits
  /** The stored envelope of (partition, key), or undefined. Synchronous. */
  get(partition: number, key: Uint8Array): Envelope | undefined
  /**
   * The stored envelope's bytes (its canonical encoding) as stored, not decoded nor checked, or undefined.
   * Synchronous. What a replica sends for a read: the coordinator decodes it (or finds it equal to bytes it
   * already decoded, since equal envelopes have equal encodings). Read-only: the caller must not modify it.
   */
  getBytes(partition: number, key: Uint8Array): Uint8Array | undefined
  /**
   * Synchronous. The value digest (src/engine valueDigest) of what getBytes would return, or undefined when the key
   * is absent: what a replica compares in a digest read without reading the bytes out.
   */
  getDigest(partition: number, key: Uint8Array): Uint8Array | undefined
  /**
   * Optional: the whole reply to a REPLICA_DIGESTS request (src/cluster/messages.ts) at once -- per entry, whether
   * the stored copy has the coordinator's digest, else its bytes while the reply stays within `budgetBytes` --
   * exactly what the handler would build with getDigest and getBytes. Undefined when the store leaves the request
   * to that handler (a malformed payload, a closed store). The native store answers in one engine call.
   */
  answerDigests?(payload: Uint8Array, budgetBytes: number): Uint8Array | undefined
  /**
   * The coordinator's write, atomic within one synchronous turn:
   * stored' = updateEnvelope(stored, context, keyActor, write), where `actor` is the issuer ("<node>#<epoch>")
   * and keyActor its key epoch for this key (key-epochs.ts): the one of the stored envelope while the store holds
   * all its dots, else a new one. Refuses a result with more than `maxSiblings`
   * siblings (ERR_TOO_MANY_SIBLINGS) or larger than `maxObjectBytes` encoded (ERR_OBJECT_TOO_LARGE); `limits`
   * overrides the store's default policy for this write (a keyspace's own). `context` is a version vector, or the
   * client context's bytes as they came (contextBytes): decoded only where needed -- ERR_BAD_CONTEXT if they do not.
   */
  update(
    partition: number,
    key: Uint8Array,
    context: ClientContext | undefined,
    actor: string,
    write: Write,
    limits?: Partial<WriteLimits>,
  ): UpdateResult
  /**
   * Replica sync: stored' = mergeEnvelopes(stored, incoming), atomically; writes only when that changes the
   * stored envelope. `incomingBytes`, when the caller has them (a replica write arriving on the wire), are the
   * canonical encoding of `incoming`: when the merge yields `incoming` itself -- the usual case for a write that
   * supersedes what is stored -- they are written as they are instead of encoding again. Exempt from the sibling and object policy; ERR_VALUE_TOO_LARGE if the result exceeds
   * what the engine can store. `incoming` must be a valid envelope (decodeEnvelope and the versioning
   * functions make only valid ones); what gets written is checked by the encoder.
   */
  merge(partition: number, key: Uint8Array, incoming: Envelope, incomingBytes?: Uint8Array): MergeResult
  /**
   * `merge` of an encoded envelope (a replica write as it arrives): the same result and errors (ERR_BAD_ENVELOPE for
   * bytes that do not decode), without the merged envelope. The stores decide the common cases on the bytes --
   * the incoming envelope supersedes the stored one, or is the stored one -- without decoding either (the native
   * store in one engine call); the rest goes through `merge`. `incomingBytes` are not kept past the call.
   */
  mergeBytes(partition: number, key: Uint8Array, incomingBytes: Uint8Array): MergeBytesResult
  /**
   * Entries of one partition in key order within [start, end), at most `limit`, over a snapshot taken when
   * `scan` is called. Iterate it to the end or break out of the loop: that releases the snapshot.
   */
  scan(partition: number, options?: ScanOptions): AsyncIterable<ScanEntry>
  /**
   * Physically removes the key, whatever it holds (an operator's tool, e.g. for a value that no longer decodes);
   * applied during the call, resolves when durable. The causal context goes too; a later write here issues its
   * dots under a new key epoch (key-epochs.ts), concurrent with whatever other replicas still hold.
   */
  remove(partition: number, key: Uint8Array): Promise<void>
  /**
   * Garbage collection of one key, checked and applied in one synchronous turn: removes the stored envelope only
   * if its entry hash is still `expectedHash` (what the caller confirmed on every replica) and it is obsolete at
   * `now` (every sibling a tombstone or expired). Anything else (absent, changed, live) is left alone:
   * `collected: false`.
   */
  collect(partition: number, key: Uint8Array, expectedHash: Uint8Array, now: number): CollectResult
  /**
   * The content digest of one partition with `segments` leaves (see merkle.ts), over a snapshot; computed off
   * the event loop where the store can.
   */
  merkle(partition: number, segments: number): Promise<PartitionDigest>
  /** Keys (in key order) and entry hashes of the partition's entries that fall in `leaves`. */
  merkleEntries(partition: number, segments: number, leaves: readonly number[]): Promise<EntryHash[]>
  /** The entry hash of one stored envelope, or undefined when the key holds none. Synchronous. */
  entryHash(partition: number, key: Uint8Array): Buffer | undefined
  /**
   * Resolves once every write applied so far is fsynced, whatever the engine's durability mode: what a
   * replica does before acknowledging a write as durable (DW).
   */
  sync(): Promise<void>
  stats(): StoreStats
  /** Waits for pending writes; afterwards every method fails with ERR_CLOSED. */
  close(): Promise<void>
}

/** A client's causal context: decoded, or its bytes (src/versioning contextBytes) as the request carried them. */
export type ClientContext = VersionVector | Uint8Array

/** The version vector of a client context; ERR_BAD_CONTEXT for bytes that do not decode. */
export function contextVector(context: ClientContext | undefined): VersionVector | undefined {
  return context instanceof Uint8Array ? decodeContextBytes(context) : context
}

// ---- key encoding ----

function badRequest(message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message)
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v
}

export function assertPartition(partition: unknown): asserts partition is number {
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition > MAX_PARTITION) {
    throw badRequest(`partition must be an integer between 0 and ${MAX_PARTITION}, got ${typeof partition === 'number' ? partition : describe(partition)}`)
  }
}

function assertKeyBytes(key: unknown, what: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw badRequest(`${what} must be a Buffer or Uint8Array, got ${describe(key)}`)
}

/** The engine key of (partition, key): u16 BE partition | key. Validates both. */
export function encodeStorageKey(partition: number, key: Uint8Array, maxKeyBytes: number): Buffer {
  assertPartition(partition)
  assertKeyBytes(key, 'key')
  if (key.length > maxKeyBytes) {
    throw new RingkvError('ERR_KEY_TOO_LARGE', `key is ${key.length} bytes; the limit is ${maxKeyBytes}`, {
      details: { partition, length: key.length, max: maxKeyBytes },
    })
  }
  const out = Buffer.allocUnsafe(PARTITION_PREFIX_BYTES + key.length)
  out[0] = partition >>> 8
  out[1] = partition & 0xff
  out.set(key, PARTITION_PREFIX_BYTES)
  return out
}

/** The inverse of encodeStorageKey; the key is a view of `storageKey`. */
export function decodeStorageKey(storageKey: Uint8Array): { partition: number; key: Uint8Array } {
  if (storageKey.length < PARTITION_PREFIX_BYTES) throw badRequest(`a storage key has at least ${PARTITION_PREFIX_BYTES} bytes, got ${storageKey.length}`)
  return { partition: (storageKey[0]! << 8) | storageKey[1]!, key: storageKey.subarray(PARTITION_PREFIX_BYTES) }
}

function partitionPrefix(partition: number): Buffer {
  return Buffer.from([partition >>> 8, partition & 0xff])
}

export interface StorageRange {
  /** Inclusive. */
  readonly start: Buffer
  /** Exclusive; undefined = to the end of the key space (the last partition). */
  readonly end: Buffer | undefined
  /** At most this many entries; undefined = all. */
  readonly limit: number | undefined
  /** The range holds nothing (end <= start, or limit 0). */
  readonly empty: boolean
}

/** The engine key range of a partition scan: [prefix|start, prefix|end), or to the next partition's prefix. */
export function storageRange(partition: number, options: ScanOptions | undefined, maxKeyBytes: number): StorageRange {
  assertPartition(partition)
  const o = options ?? {}
  if (o === null || typeof o !== 'object') throw badRequest(`scan options must be an object, got ${describe(o)}`)
  const { limit } = o
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0)) {
    throw badRequest(`limit must be a non-negative integer, got ${String(limit)}`)
  }
  const bound = (k: Uint8Array | undefined, what: string): Buffer | undefined => {
    if (k === undefined) return undefined
    assertKeyBytes(k, what)
    if (k.length > maxKeyBytes) throw new RingkvError('ERR_KEY_TOO_LARGE', `scan ${what} is ${k.length} bytes; keys are at most ${maxKeyBytes}`)
    return encodeStorageKey(partition, k, maxKeyBytes)
  }
  const start = bound(o.start, 'start') ?? partitionPrefix(partition)
  const end = bound(o.end, 'end') ?? (partition === MAX_PARTITION ? undefined : partitionPrefix(partition + 1))
  return { start, end, limit, empty: limit === 0 || (end !== undefined && Buffer.compare(start, end) >= 0) }
}

// ---- the decision code both stores run ----

export function emptyStats(): StoreStats {
  return {
    gets: 0,
    updates: 0,
    merges: 0,
    mergesChanged: 0,
    removes: 0,
    collected: 0,
    keysWritten: 0,
    bytesWritten: 0,
    siblingWarnings: 0,
    siblingRefusals: 0,
    objectRefusals: 0,
    valueRefusals: 0,
    corruptions: 0,
    durabilityFailures: 0,
  }
}

const HEX_IN_MESSAGE = 64

/** The key as hex for messages: whole up to 64 bytes, else its start and its length. */
export function keyHex(key: Uint8Array): string {
  const b = Buffer.from(key.buffer, key.byteOffset, key.length)
  return key.length <= HEX_IN_MESSAGE ? b.toString('hex') : `${b.toString('hex', 0, HEX_IN_MESSAGE)}... (${key.length} bytes)`
}

/**
 * Decodes a stored value, or throws ERR_CORRUPTION naming partition and key. `copy: false` only for bytes the
 * caller owns and will not reuse (a Buffer the engine returned for this read).
 */
export function decodeStored(bytes: Uint8Array, partition: number, key: Uint8Array, copy: boolean, stats: StoreStats): Envelope {
  try {
    return decodeEnvelope(bytes, copy ? undefined : NO_COPY)
  } catch (e) {
    stats.corruptions++
    const hex = Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex')
    throw new RingkvError(
      'ERR_CORRUPTION',
      `the stored envelope of partition ${partition}, key ${keyHex(key)} does not decode: ${(e as Error).message}`,
      { cause: e, details: { partition, key: hex, bytes: bytes.length } },
    )
  }
}

const NO_COPY = Object.freeze({ copy: false })

export interface UpdatePlan {
  readonly envelope: Envelope
  readonly bytes: Uint8Array
  readonly siblingWarning: boolean
}

/** The coordinator's write on a stored envelope, with the write policy applied; throws a refusal. */
export function planUpdate(
  stored: Envelope | undefined,
  context: VersionVector | undefined,
  actor: string,
  write: Write,
  policy: WriteLimits,
  stats: StoreStats,
  partition: number,
  key: Uint8Array,
): UpdatePlan {
  if (context !== undefined && !(context instanceof Map)) throw badRequest(`context must be a version vector (a Map), its bytes (a Uint8Array) or undefined, got ${describe(context)}`)
  if (write === null || typeof write !== 'object') throw badRequest(`write must be an object, got ${describe(write)}`)
  const envelope = updateEnvelope(stored, context, actor, write)
  const siblings = envelope.siblings.length
  if (siblings > policy.maxSiblings) {
    stats.siblingRefusals++
    throw new RingkvError(
      'ERR_TOO_MANY_SIBLINGS',
      `the write would leave ${siblings} siblings on partition ${partition}, key ${keyHex(key)}; the limit is ${policy.maxSiblings} ` +
        '(write with the causal context of a read to resolve them)',
      { details: { partition, siblings, max: policy.maxSiblings } },
    )
  }
  const bytes = encodeEnvelope(envelope)
  if (bytes.length > policy.maxObjectBytes) {
    stats.objectRefusals++
    throw new RingkvError(
      'ERR_OBJECT_TOO_LARGE',
      `the write would make the object of partition ${partition}, key ${keyHex(key)} ${bytes.length} bytes encoded (${siblings} siblings); ` +
        `the limit is ${policy.maxObjectBytes}`,
      { details: { partition, bytes: bytes.length, max: policy.maxObjectBytes, siblings } },
    )
  }
  const siblingWarning = siblings >= policy.warnSiblings
  if (siblingWarning) stats.siblingWarnings++
  stats.updates++
  stats.keysWritten++
  stats.bytesWritten += bytes.length
  return { envelope, bytes, siblingWarning }
}

export interface MergePlan {
  readonly envelope: Envelope
  /** The bytes to write, or undefined when the stored envelope does not change. */
  readonly bytes: Uint8Array | undefined
}

const EMPTY: Envelope = Object.freeze({ context: new Map<string, number>(), siblings: Object.freeze([]) })

function assertEnvelope(e: unknown): asserts e is Envelope {
  if (e === null || typeof e !== 'object') throw badRequest(`incoming must be an envelope, got ${describe(e)}`)
  const { context, siblings } = e as Partial<Envelope>
  if (!(context instanceof Map) || !Array.isArray(siblings)) throw badRequest('incoming must be an envelope: { context: Map, siblings: [] }')
}

/** Replica sync of a stored envelope with an incoming one; an absent key is the empty envelope. */
export function planMerge(
  stored: Envelope | undefined,
  incoming: Envelope,
  maxValueBytes: number,
  stats: StoreStats,
  partition: number,
  key: Uint8Array,
  incomingBytes?: Uint8Array,
): MergePlan {
  assertEnvelope(incoming)
  if (incomingBytes !== undefined && !(incomingBytes instanceof Uint8Array)) throw badRequest(`incomingBytes must be a Uint8Array, got ${describe(incomingBytes)}`)
  stats.merges++
  const base = stored ?? EMPTY
  const envelope = stored === undefined ? mergeEnvelopes(EMPTY, incoming) : mergeEnvelopes(stored, incoming)
  if (envelopesEqual(envelope, base)) return { envelope: base, bytes: undefined }
  // Canonical encodings: equal envelopes have equal bytes, so the incoming ones serve when nothing else survived.
  const bytes = incomingBytes !== undefined && envelopesEqual(envelope, incoming) ? incomingBytes : encodeEnvelope(envelope)
  if (bytes.length > maxValueBytes) {
    stats.valueRefusals++
    throw new RingkvError(
      'ERR_VALUE_TOO_LARGE',
      `the merged envelope of partition ${partition}, key ${keyHex(key)} is ${bytes.length} bytes (${envelope.siblings.length} siblings); ` +
        `the store's limit is ${maxValueBytes}`,
      { details: { partition, bytes: bytes.length, max: maxValueBytes, siblings: envelope.siblings.length } },
    )
  }
  stats.mergesChanged++
  stats.keysWritten++
  stats.bytesWritten += bytes.length
  return { envelope, bytes }
}

/**
 * Garbage collection's check on the stored bytes of a key: whether to remove it -- not when absent, changed since
 * the caller's confirmation, or live. Throws ERR_CORRUPTION for bytes that do not decode (they cannot be obsolete
 * as far as anyone knows).
 */
export function planCollect(
  raw: Uint8Array | undefined,
  storageKey: Uint8Array,
  expectedHash: Uint8Array,
  now: number,
  stats: StoreStats,
  partition: number,
  key: Uint8Array,
): boolean {
  if (!(expectedHash instanceof Uint8Array) || expectedHash.length !== HASH_BYTES) {
    throw badRequest(`expectedHash must be ${HASH_BYTES} bytes, got ${expectedHash instanceof Uint8Array ? `${expectedHash.length} bytes` : describe(expectedHash)}`)
  }
  if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) throw badRequest(`now must be a non-negative integer of milliseconds, got ${String(now)}`)
  if (raw === undefined) return false
  if (!entryHash(storageKey, raw).equals(expectedHash)) return false
  const envelope = decodeStored(raw, partition, key, true, stats)
  if (!isObsolete(envelope, now)) return false
  stats.collected++
  return true
}

export function closedError(): RingkvError {
  return new RingkvError('ERR_CLOSED', 'the store is closed')
}
