// The replica store in process memory, for the deterministic simulator and for tests: the same contract and the
// same decision code as NativeStore (store.ts), over a sorted map of bytes instead of the engine.
//
// It keeps what the engine would keep -- the storage key (partition prefix | key) and the encoded envelope --
// so sizes, limits, key order, corruption and canonical bytes behave exactly as on disk. The bytes live in a
// MemoryBacking, which outlives a store: closing a store and making a new one over the same backing is the
// simulator's "restart" (every write is durable at once here; a simulator that wants to lose unflushed writes
// on a crash can wrap the backing). Iteration is in key order, deterministic by construction: nothing here
// depends on hash order, time or randomness.

import { RingkvError } from '../errors.ts'
import { decodeEnvelope, type Envelope, type VersionVector, type Write } from '../versioning/index.ts'
import { storeLimits, writeLimits, type StoreLimits, type WriteLimits } from './limits.ts'
import { KEY_EPOCHS_STORAGE_KEY, KeyEpochs } from './key-epochs.ts'
import { DigestBuilder, assertSegments, entryHash, leafSet, segmentOf, type EntryHash, type PartitionDigest } from './merkle.ts'
import { valueDigest } from '../engine/index.ts'
import {
  closedError,
  contextVector,
  decodeStorageKey,
  decodeStored,
  emptyStats,
  encodeStorageKey,
  planCollect,
  planMerge,
  planUpdate,
  storageRange,
  type ClientContext,
  type CollectResult,
  type MergeBytesResult,
  type MergeResult,
  type ReplicaStore,
  type ScanEntry,
  type ScanOptions,
  type StoreStats,
  type UpdateResult,
} from './store.ts'

const RESOLVED: Promise<void> = Promise.resolve()
const NO_COPY = Object.freeze({ copy: false })

/**
 * Bytes by byte-ordered key: what the engine is to NativeStore. Keys are held as latin1 strings (one char per
 * byte), whose JavaScript order is byte order; a sorted array of them serves ranges by binary search. Values
 * are copied in and never mutated, so handing them out without a copy is safe for readers that do not write.
 */
export class MemoryBacking {
  readonly #values = new Map<string, Uint8Array>()
  /** Every key of #values, ascending. */
  readonly #sorted: string[] = []

  get size(): number {
    return this.#values.size
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.#values.get(latin1(key))
  }

  /** Stores a copy of `value` (encodings may be views of a pooled buffer). */
  put(key: Uint8Array, value: Uint8Array): void {
    const k = latin1(key)
    if (!this.#values.has(k)) this.#sorted.splice(this.#lowerBound(k), 0, k)
    // new Uint8Array(view) copies; Buffer's slice() would not.
    this.#values.set(k, new Uint8Array(value))
  }

  delete(key: Uint8Array): void {
    const k = latin1(key)
    if (!this.#values.delete(k)) return
    this.#sorted.splice(this.#lowerBound(k), 1)
  }

  /** Entries with start <= key < end (end undefined: to the last key), ascending, at most `limit`. */
  range(start: Uint8Array, end: Uint8Array | undefined, limit = Infinity): Array<{ key: Buffer; value: Uint8Array }> {
    const out: Array<{ key: Buffer; value: Uint8Array }> = []
    const stop = end === undefined ? undefined : latin1(end)
    for (let i = this.#lowerBound(latin1(start)); i < this.#sorted.length && out.length < limit; i++) {
      const k = this.#sorted[i]!
      if (stop !== undefined && k >= stop) break
      out.push({ key: Buffer.from(k, 'latin1'), value: this.#values.get(k)! })
    }
    return out
  }

  #lowerBound(k: string): number {
    let lo = 0
    let hi = this.#sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#sorted[mid]! < k) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1')
}

export interface MemoryStoreOptions {
  limits?: Partial<StoreLimits>
  /** The bytes to work on; default a new, empty backing. */
  backing?: MemoryBacking
}

export class MemoryStore implements ReplicaStore {
  readonly backing: MemoryBacking
  readonly limits: StoreLimits
  readonly #stats: StoreStats = emptyStats()
  #closed = false
  /** Which actor issues each key's dots here (key-epochs.ts); its record is kept in the backing like the engine keeps it. */
  readonly #epochs: KeyEpochs

  constructor(options: MemoryStoreOptions = {}) {
    this.limits = storeLimits(options.limits)
    this.backing = options.backing ?? new MemoryBacking()
    this.#epochs = new KeyEpochs(this.backing.get(KEY_EPOCHS_STORAGE_KEY))
  }

  get closed(): boolean {
    return this.#closed
  }

  get(partition: number, key: Uint8Array): Envelope | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    this.#stats.gets++
    const raw = this.backing.get(storageKey)
    // The backing keeps these bytes: decode a copy, as the engine hands out copies.
    return raw === undefined ? undefined : decodeStored(raw, partition, key, true, this.#stats)
  }

  getBytes(partition: number, key: Uint8Array): Uint8Array | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    this.#stats.gets++
    // Stored bytes are never mutated, only replaced: handing them out is safe for a reader that does not write.
    return this.backing.get(storageKey)
  }

  getDigest(partition: number, key: Uint8Array): Uint8Array | undefined {
    const bytes = this.getBytes(partition, key)
    return bytes === undefined ? undefined : valueDigest(bytes)
  }

  update(
    partition: number,
    key: Uint8Array,
    context: ClientContext | undefined,
    actor: string,
    write: Write,
    limits?: Partial<WriteLimits>,
  ): UpdateResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    const policy = writeLimits(limits, this.limits)
    const vector = contextVector(context)
    const raw = this.backing.get(storageKey)
    const stored = raw === undefined ? undefined : decodeStored(raw, partition, key, true, this.#stats)
    const choice = this.#epochs.choose(actor, storageKey, stored)
    const plan = planUpdate(stored, vector, choice.actor, write, policy, this.#stats, partition, key)
    const record = this.#epochs.commit(choice, storageKey)
    if (record !== undefined) this.backing.put(KEY_EPOCHS_STORAGE_KEY, record)
    this.backing.put(storageKey, plan.bytes)
    return { stored: plan.envelope, siblingWarning: plan.siblingWarning, bytes: plan.bytes, durable: RESOLVED }
  }

  merge(partition: number, key: Uint8Array, incoming: Envelope, incomingBytes?: Uint8Array): MergeResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    const raw = this.backing.get(storageKey)
    const stored = raw === undefined ? undefined : decodeStored(raw, partition, key, true, this.#stats)
    const plan = planMerge(stored, incoming, this.limits.maxValueBytes, this.#stats, partition, key, incomingBytes)
    if (plan.bytes !== undefined) {
      const record = this.#epochs.noteMerge(storageKey, stored, incoming)
      if (record !== undefined) this.backing.put(KEY_EPOCHS_STORAGE_KEY, record)
      this.backing.put(storageKey, plan.bytes)
    }
    return { stored: plan.envelope, changed: plan.bytes !== undefined, durable: RESOLVED }
  }

  mergeBytes(partition: number, key: Uint8Array, incomingBytes: Uint8Array): MergeBytesResult {
    if (this.#closed) throw closedError()
    if (!(incomingBytes instanceof Uint8Array)) throw new RingkvError('ERR_BAD_ENVELOPE', 'an encoded envelope must be a Uint8Array')
    // The backing copies what it keeps, and the merged envelope is not returned: decoding may view the caller's bytes.
    const { changed, durable } = this.merge(partition, key, decodeEnvelope(incomingBytes, NO_COPY), incomingBytes)
    return { changed, durable }
  }

  scan(partition: number, options?: ScanOptions): AsyncIterable<ScanEntry> {
    if (this.#closed) throw closedError()
    const range = storageRange(partition, options, this.limits.maxKeyBytes)
    // The snapshot: the entries as they are now (stored bytes are never mutated, only replaced).
    const snapshot = range.empty ? [] : this.backing.range(range.start, range.end, range.limit)
    return entries(snapshot, this.#stats)
  }

  remove(partition: number, key: Uint8Array): Promise<void> {
    try {
      if (this.#closed) throw closedError()
      const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
      this.#stats.removes++
      this.#epochs.forget(storageKey)
      this.backing.delete(storageKey)
      return RESOLVED
    } catch (e) {
      return Promise.reject(e)
    }
  }

  collect(partition: number, key: Uint8Array, expectedHash: Uint8Array, now: number): CollectResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    if (!planCollect(this.backing.get(storageKey), storageKey, expectedHash, now, this.#stats, partition, key)) return { collected: false, durable: RESOLVED }
    this.#epochs.forget(storageKey)
    this.backing.delete(storageKey)
    return { collected: true, durable: RESOLVED }
  }

  async merkle(partition: number, segments: number): Promise<PartitionDigest> {
    if (this.#closed) throw closedError()
    assertSegments(segments)
    const builder = new DigestBuilder(segments)
    for (const { key, value } of this.#partition(partition)) builder.add(key, value)
    return builder.finish()
  }

  async merkleEntries(partition: number, segments: number, leaves: readonly number[]): Promise<EntryHash[]> {
    if (this.#closed) throw closedError()
    assertSegments(segments)
    const wanted = leafSet(leaves, segments)
    const out: EntryHash[] = []
    if (wanted.size === 0) return out
    for (const { key, value } of this.#partition(partition)) {
      if (wanted.has(segmentOf(key, segments))) out.push({ key: Buffer.from(decodeStorageKey(key).key), hash: entryHash(key, value) })
    }
    return out
  }

  entryHash(partition: number, key: Uint8Array): Buffer | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    const raw = this.backing.get(storageKey)
    return raw === undefined ? undefined : entryHash(storageKey, raw)
  }

  #partition(partition: number): Array<{ key: Buffer; value: Uint8Array }> {
    const range = storageRange(partition, undefined, this.limits.maxKeyBytes)
    return this.backing.range(range.start, range.end)
  }

  /** The memory backing has no disk: a write is as durable as it will ever be once applied. */
  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    return Promise.resolve()
  }

  stats(): StoreStats {
    return { ...this.#stats }
  }

  async close(): Promise<void> {
    if (this.#closed) throw closedError()
    this.#closed = true
  }
}

async function* entries(snapshot: Array<{ key: Buffer; value: Uint8Array }>, stats: StoreStats): AsyncGenerator<ScanEntry, void, undefined> {
  for (const { key: storageKey, value } of snapshot) {
    const { partition, key } = decodeStorageKey(storageKey)
    const userKey = Buffer.from(key)
    yield { key: userKey, envelope: decodeStored(value, partition, userKey, true, stats) }
  }
}
