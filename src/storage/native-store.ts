// The replica store over the Rust engine (see store.ts for the contract, the key encoding and why envelopes
// never use the engine's TTL).
//
// Every operation is a few synchronous native calls: `get` is one engine read and a decode; `update` and
// `merge` are a read, the envelope arithmetic and one engine put, with no await in between -- the engine applies
// the put to its memtable during the call, so the next operation on the key (even in the same tick) reads it.
// The put's promise is handed back as `durable`; the store also watches it, so a failed write is counted and
// never becomes an unhandled rejection that would take the process down.
//
// Engine writes fail synchronously only for bad input, which the store has already checked; what remains (an
// I/O error, a failed background flush) surfaces through `durable`. Such a write was not applied.

import { Engine, type EngineOptions } from '../engine/index.ts'
import { decodeEnvelope, type Envelope, type VersionVector, type Write } from '../versioning/index.ts'
import { ENGINE_MAX_KEY_BYTES, storeLimits, writeLimits, type StoreLimits, type WriteLimits } from './limits.ts'
import { KEY_EPOCHS_STORAGE_KEY, KeyEpochs, keyActor } from './key-epochs.ts'
import { assertSegments, entryHash, leafSet, type EntryHash, type PartitionDigest } from './merkle.ts'
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
import { RingkvError } from '../errors.ts'

export interface NativeStoreOptions {
  /** Hard limits and the default write policy; see limits.ts. */
  limits?: Partial<StoreLimits>
}

export interface OpenNativeStoreOptions extends NativeStoreOptions {
  /** Options of the engine the store opens; its maxKeyBytes and maxValueBytes are set from the limits. */
  engine?: EngineOptions
}

const RESOLVED: Promise<void> = Promise.resolve()
const NO_COPY = Object.freeze({ copy: false })
/** Entries per native call while scanning (the engine's own default). */
const SCAN_BATCH = 256

export class NativeStore implements ReplicaStore {
  /** The engine underneath, for its stats and metrics. Write to it only through the store. */
  readonly engine: Engine
  readonly limits: StoreLimits
  readonly #ownsEngine: boolean
  readonly #stats: StoreStats = emptyStats()
  #closed = false
  /** The latest write's durability promise: once it resolves, every earlier write is durable too. */
  #lastDurable: Promise<void> = RESOLVED
  /** Which actor issues each key's dots here (key-epochs.ts); its record is read once, here. */
  readonly #epochs: KeyEpochs

  /**
   * Opens the engine of `dir` and a store that owns it (closing the store closes the engine). The engine is
   * configured to accept what the limits allow: keys of the partition prefix plus maxKeyBytes, values of
   * maxValueBytes.
   */
  static async open(dir: string, options: OpenNativeStoreOptions = {}): Promise<NativeStore> {
    const limits = storeLimits(options.limits)
    const engine = await Engine.open(dir, { ...options.engine, maxKeyBytes: ENGINE_MAX_KEY_BYTES, maxValueBytes: limits.maxValueBytes })
    return new NativeStore(engine, { limits, ownsEngine: true })
  }

  /**
   * A store over an engine opened elsewhere. The engine must accept the limits' keys (plus 2 bytes of prefix)
   * and values: by default keys of 64 KiB and values of 16 MiB, the engine's defaults. Unless `ownsEngine`,
   * closing the store leaves the engine open.
   */
  constructor(engine: Engine, options: NativeStoreOptions & { ownsEngine?: boolean } = {}) {
    if (!(engine instanceof Engine)) throw new RingkvError('ERR_BAD_REQUEST', 'NativeStore needs an Engine')
    this.engine = engine
    this.limits = storeLimits(options.limits)
    this.#ownsEngine = options.ownsEngine ?? false
    this.#epochs = new KeyEpochs(engine.get(KEY_EPOCHS_STORAGE_KEY))
  }

  get closed(): boolean {
    return this.#closed
  }

  get(partition: number, key: Uint8Array): Envelope | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    this.#stats.gets++
    const raw = this.engine.get(storageKey)
    // The engine copies every value it returns into a fresh Buffer: decoding may keep views of it.
    return raw === undefined ? undefined : decodeStored(raw, partition, key, false, this.#stats)
  }

  getBytes(partition: number, key: Uint8Array): Uint8Array | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    this.#stats.gets++
    return this.engine.get(storageKey)
  }

  getDigest(partition: number, key: Uint8Array): Uint8Array | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    this.#stats.gets++
    return this.engine.digest(storageKey)
  }

  answerDigests(payload: Uint8Array, budgetBytes: number): Uint8Array | undefined {
    if (this.#closed) return undefined
    const reply = this.engine.answerDigestReads(payload, this.limits.maxKeyBytes, budgetBytes)
    // One engine lookup per entry; the count leads both the request and the reply.
    if (reply !== undefined) this.#stats.gets += reply.readUInt32BE(0)
    return reply
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
    const inPlace = this.#updateInEngine(storageKey, context, actor, write, policy)
    if (inPlace !== undefined) return inPlace
    const vector = contextVector(context)
    // From here to the put: no await, so no other operation runs in between (DESIGN section 8).
    const raw = this.engine.get(storageKey)
    const stored = raw === undefined ? undefined : decodeStored(raw, partition, key, false, this.#stats)
    const choice = this.#epochs.choose(actor, storageKey, stored)
    const plan = planUpdate(stored, vector, choice.actor, write, policy, this.#stats, partition, key)
    const record = this.#epochs.commit(choice, storageKey)
    const durable = this.#put(storageKey, plan.bytes, record)
    return { stored: plan.envelope, siblingWarning: plan.siblingWarning, bytes: plan.bytes, durable }
  }

  merge(partition: number, key: Uint8Array, incoming: Envelope, incomingBytes?: Uint8Array): MergeResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    const raw = this.engine.get(storageKey)
    const stored = raw === undefined ? undefined : decodeStored(raw, partition, key, false, this.#stats)
    const plan = planMerge(stored, incoming, this.limits.maxValueBytes, this.#stats, partition, key, incomingBytes)
    if (plan.bytes === undefined) return { stored: plan.envelope, changed: false, durable: this.#lastDurable }
    const record = this.#epochs.noteMerge(storageKey, stored, incoming)
    const durable = this.#put(storageKey, plan.bytes, record)
    return { stored: plan.envelope, changed: true, durable }
  }

  /**
   * The write decided and made in one engine call (crates/envelope's update: the same envelope, actor and limits as
   * the general path below), or undefined when the engine leaves it to that path -- anything unusual: a context or
   * stored copy that does not parse there, a refusal, a key epoch needing its record written, input to be refused.
   */
  #updateInEngine(storageKey: Buffer, context: ClientContext | undefined, actor: string, write: Write, policy: WriteLimits): UpdateResult | undefined {
    if (context !== undefined && !(context instanceof Uint8Array)) return undefined
    if (write === null || typeof write !== 'object') return undefined
    const { value, timestamp } = write
    const expiresAt = write.expiresAt ?? 0
    if (value !== null && !(value instanceof Uint8Array)) return undefined
    if (!Number.isSafeInteger(timestamp) || timestamp < 0 || !Number.isSafeInteger(expiresAt) || expiresAt < 0) return undefined
    const plan = this.#epochs.planInPlace(actor, storageKey)
    if (plan === undefined) return undefined
    const done = this.engine.updateEnvelope(storageKey, {
      context,
      ownActorPrefix: this.#epochs.actorPrefix,
      reuseFrom: plan.reuseFrom,
      nextEpoch: plan.nextEpoch,
      mayTakeNext: plan.mayTakeNext,
      value,
      timestamp,
      expiresAt,
      maxSiblings: policy.maxSiblings,
      maxObjectBytes: policy.maxObjectBytes,
    })
    if (done === undefined) return undefined
    if (done.fresh) {
      // mayTakeNext promised no record is needed; should one come back all the same, it is written at once.
      const record = this.#epochs.commit({ actor: keyActor(actor, done.epoch), issuer: actor, epoch: done.epoch, fresh: true }, storageKey)
      if (record !== undefined) this.#watch(this.engine.put(KEY_EPOCHS_STORAGE_KEY, record))
    }
    const siblingWarning = done.siblings >= policy.warnSiblings
    if (siblingWarning) this.#stats.siblingWarnings++
    this.#stats.updates++
    this.#stats.keysWritten++
    this.#stats.bytesWritten += done.bytes.length
    const bytes = done.bytes
    let stored: Envelope | undefined
    return {
      // Decoded only if asked for (the coordinator needs it only to keep a hint).
      get stored(): Envelope {
        stored ??= decodeEnvelope(bytes)
        return stored
      },
      siblingWarning,
      bytes,
      durable: this.#watch(done.durable),
    }
  }

  mergeBytes(partition: number, key: Uint8Array, incomingBytes: Uint8Array): MergeBytesResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    if (!(incomingBytes instanceof Uint8Array)) throw new RingkvError('ERR_BAD_ENVELOPE', 'an encoded envelope must be a Uint8Array')
    // Too large for the engine: the general path says so (ERR_VALUE_TOO_LARGE) unless the merge changes nothing.
    if (incomingBytes.length <= this.limits.maxValueBytes) {
      const outcome = this.engine.mergeEnvelope(storageKey, incomingBytes, this.#epochs.actorPrefix)
      if (outcome === 'unchanged') {
        this.#stats.merges++
        return { changed: false, durable: this.#lastDurable }
      }
      if (outcome !== 'undecided') {
        this.#stats.merges++
        this.#stats.mergesChanged++
        this.#stats.keysWritten++
        this.#stats.bytesWritten += incomingBytes.length
        return { changed: true, durable: this.#watch(outcome) }
      }
    }
    // The store writes bytes, never the decoded envelope: it may view the caller's memory.
    const { changed, durable } = this.merge(partition, key, decodeEnvelope(incomingBytes, NO_COPY), incomingBytes)
    return { changed, durable }
  }

  /** Writes an envelope, with the key epochs' record ahead of it in one atomic batch when that changed. */
  #put(storageKey: Buffer, bytes: Uint8Array, record: Buffer | undefined): Promise<void> {
    if (record === undefined) return this.#watch(this.engine.put(storageKey, bytes))
    return this.#watch(
      this.engine.writeBatch([
        { type: 'put', key: KEY_EPOCHS_STORAGE_KEY, value: record },
        { type: 'put', key: storageKey, value: bytes },
      ]),
    )
  }

  scan(partition: number, options?: ScanOptions): AsyncIterable<ScanEntry> {
    if (this.#closed) throw closedError()
    const range = storageRange(partition, options, this.limits.maxKeyBytes)
    if (range.empty) return emptyScan()
    const source = this.engine.scan({
      start: range.start,
      ...(range.end === undefined ? {} : { end: range.end }),
      ...(range.limit === undefined ? {} : { limit: range.limit }),
      batchSize: SCAN_BATCH,
    })
    // The engine takes its snapshot when its generator first runs: start it now, so that the scan sees the
    // store as it is at this call. The first batch waits in `first` until the caller iterates.
    const first = source.next()
    first.catch(() => undefined) // seen by the caller when it iterates; not an unhandled rejection meanwhile
    return entries(source, first, this.#stats)
  }

  remove(partition: number, key: Uint8Array): Promise<void> {
    let storageKey: Buffer
    try {
      if (this.#closed) throw closedError()
      storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    } catch (e) {
      return Promise.reject(e)
    }
    this.#stats.removes++
    this.#epochs.forget(storageKey)
    return this.#watch(this.engine.delete(storageKey))
  }

  collect(partition: number, key: Uint8Array, expectedHash: Uint8Array, now: number): CollectResult {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    // From the read to the removal: no await, so a write arriving meanwhile is never removed with it.
    if (!planCollect(this.engine.get(storageKey), storageKey, expectedHash, now, this.#stats, partition, key)) {
      return { collected: false, durable: this.#lastDurable }
    }
    this.#epochs.forget(storageKey)
    return { collected: true, durable: this.#watch(this.engine.delete(storageKey)) }
  }

  async merkle(partition: number, segments: number): Promise<PartitionDigest> {
    if (this.#closed) throw closedError()
    assertSegments(segments)
    const range = storageRange(partition, undefined, this.limits.maxKeyBytes)
    return this.engine.merkle({ start: range.start, ...(range.end === undefined ? {} : { end: range.end }), segments })
  }

  async merkleEntries(partition: number, segments: number, leaves: readonly number[]): Promise<EntryHash[]> {
    if (this.#closed) throw closedError()
    assertSegments(segments)
    const wanted = [...leafSet(leaves, segments)]
    if (wanted.length === 0) return []
    const range = storageRange(partition, undefined, this.limits.maxKeyBytes)
    const found = await this.engine.merkleEntries({ start: range.start, ...(range.end === undefined ? {} : { end: range.end }), segments }, wanted)
    return found.map(({ key, hash }) => ({ key: decodeStorageKey(key).key as Buffer, hash }))
  }

  entryHash(partition: number, key: Uint8Array): Buffer | undefined {
    if (this.#closed) throw closedError()
    const storageKey = encodeStorageKey(partition, key, this.limits.maxKeyBytes)
    const raw = this.engine.get(storageKey)
    return raw === undefined ? undefined : entryHash(storageKey, raw)
  }

  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError())
    return this.engine.sync()
  }

  stats(): StoreStats {
    return { ...this.#stats }
  }

  async close(): Promise<void> {
    if (this.#closed) throw closedError()
    this.#closed = true
    if (this.#ownsEngine) await this.engine.close()
    else await this.#lastDurable.catch(() => undefined)
  }

  #watch(durable: Promise<void>): Promise<void> {
    // The engine hands every write of one turn the same promise: watch each promise once.
    if (durable !== this.#lastDurable) {
      this.#lastDurable = durable
      durable.catch(() => {
        this.#stats.durabilityFailures++
      })
    }
    return durable
  }
}

async function* emptyScan(): AsyncGenerator<ScanEntry, void, undefined> {}

async function* entries(
  source: AsyncGenerator<{ key: Buffer; value: Buffer }, void, undefined>,
  first: Promise<IteratorResult<{ key: Buffer; value: Buffer }, void>>,
  stats: StoreStats,
): AsyncGenerator<ScanEntry, void, undefined> {
  try {
    for (let r = await first; r.done !== true; r = await source.next()) {
      const { partition, key } = decodeStorageKey(r.value.key)
      // Keys and values are views of a whole batch (up to 1 MiB): copy what the caller may keep.
      const userKey = Buffer.from(key)
      yield { key: userKey, envelope: decodeStored(r.value.value, partition, userKey, true, stats) }
    }
  } finally {
    // Releases the engine's snapshot when the caller stops early (break, throw) or the scan failed.
    await source.return(undefined)
  }
}
