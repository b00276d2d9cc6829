// The embedded storage engine: a Rust LSM tree behind a small promise-based API.
//
// The sync/async contract (also in the README):
// - Reads are synchronous: `get` and `getMany` return the value itself. They are served from the
//   memtable, the row cache or mmap'd tables, with no disk wait beyond a page fault.
// - A write (`put`, `delete`, `writeBatch`) is applied to the memtable during the call: a `get`
//   right after it, even before awaiting, sees it. The returned promise resolves when the
//   engine's durability mode holds:
//     'none'     at once (the log is still written and fsynced in the background),
//     'interval' once the write is in the log (handed to the OS, so it survives a crash of this
//                process); the log is fsynced every `syncIntervalMs` (default 5 ms),
//     'sync'     once an fsync covers it. All writes of one event-loop turn share one fsync
//                (group commit), so 64 concurrent writers cost about one fsync, not 64.
//   Log writes are gathered once per event-loop turn: one `write(2)` for every put of the turn.
// - Scans iterate a consistent snapshot taken when `scan` is called, in batches of entries.
// - Flush, compaction, Merkle hashing and close run on the libuv thread pool.
import { KIND_DELETE, KIND_PUT, forEachEntry, packBatch, packKeys, unpackValues, type PackedOp } from './codec.ts'
import { native, type NativeEngine, type NativeStats } from './native.ts'
import { RingkvError, refuseUnknownOptions } from '../errors.ts'

/** The durability modes, in the order the docs list them. */
export const DURABILITY_MODES = ['sync', 'interval', 'none'] as const
export type Durability = (typeof DURABILITY_MODES)[number]

export interface EngineOptions {
  /** When a write's promise resolves; default 'interval'. */
  durability?: Durability
  /** fsync period of the log in 'interval' and 'none' modes; default 5. */
  syncIntervalMs?: number
  /** Memtable size before it is flushed to an SSTable; default 64 MiB. */
  memtableBytes?: number
  maxImmutableMemtables?: number
  /**
   * Flushed log segments kept for new ones to write over instead of creating files; default 0 (deleted). Spares a
   * steady writer fresh page-cache pages and file growth per log write, at up to about 2 x memtableBytes of disk.
   */
  recycleLogSegments?: number
  /** Default 64 KiB. */
  maxKeyBytes?: number
  /** Default 16 MiB. */
  maxValueBytes?: number
  blockSize?: number
  bloomBitsPerKey?: number
  /** Row cache for hot keys; default 32 MiB, 0 disables it. */
  cacheBytes?: number
  /**
   * Whether the memtable asks the kernel for transparent huge pages; default true (fewer TLB misses). Off, it asks
   * for base pages: for hosts where a huge page fault can stall on memory compaction, or where memory limits are
   * charged a huge page at a time.
   */
  hugePages?: boolean
  l0CompactionTrigger?: number
  l0SlowdownTrigger?: number
  l0StopTrigger?: number
  levelBaseBytes?: number
  levelMultiplier?: number
  targetFileBytes?: number
  maxLevels?: number
}

export type Key = Uint8Array | string

export interface WriteOptions {
  /** Time to live in milliseconds from now; the value is never returned once it has expired. */
  ttlMs?: number
  /** Absolute expiry in milliseconds since the Unix epoch (instead of ttlMs). */
  expiresAt?: number
}

export type BatchOp =
  | ({ type: 'put'; key: Key; value: Uint8Array | string } & WriteOptions)
  | { type: 'delete'; key: Key }

export interface ScanOptions {
  /** First key, inclusive. */
  start?: Key
  /** Last key, exclusive. */
  end?: Key
  /** Only keys starting with these bytes (not combinable with start/end). */
  prefix?: Key
  limit?: number
  /** Entries fetched per native call; default 256. */
  batchSize?: number
}

export interface Entry {
  key: Buffer
  value: Buffer
}

export interface MerkleOptions {
  start?: Key
  end?: Key
  /** Leaves, keys assigned by hash; default 1024. */
  segments?: number
}

export interface MerkleSummary {
  root: Buffer
  leaves: Buffer[]
  entries: number
  bytes: number
}

export type EngineStats = NativeStats

/**
 * Every option `open` takes and the kind of value it wants: a count (the binding reads a 32-bit unsigned integer)
 * or a byte size (any safe integer). Ranges are checked by the engine itself, which names the option.
 */
const OPTION_KINDS: Readonly<Record<keyof EngineOptions, 'string' | 'boolean' | 'count' | 'bytes'>> = {
  durability: 'string',
  syncIntervalMs: 'count',
  memtableBytes: 'bytes',
  maxImmutableMemtables: 'count',
  recycleLogSegments: 'count',
  maxKeyBytes: 'count',
  maxValueBytes: 'count',
  blockSize: 'count',
  bloomBitsPerKey: 'count',
  cacheBytes: 'bytes',
  hugePages: 'boolean',
  l0CompactionTrigger: 'count',
  l0SlowdownTrigger: 'count',
  l0StopTrigger: 'count',
  levelBaseBytes: 'bytes',
  levelMultiplier: 'count',
  targetFileBytes: 'bytes',
  maxLevels: 'count',
}
const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(OPTION_KINDS))
const MAX_COUNT = 0xffff_ffff

/**
 * Refuses options the engine would otherwise misread: a misspelt name (silently ignored, leaving the default the
 * caller meant to change), a fraction, negative number or count beyond 32 bits (the binding truncates or wraps
 * them) or a value of the wrong type (the binding's conversion error is not an argument error).
 */
function checkOptions(options: unknown): EngineOptions {
  if (options === undefined) return {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`options must be an object, got ${describe(options)}`)
  }
  refuseUnknownOptions(options, OPTION_NAMES, '')
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue
    const kind = OPTION_KINDS[name as keyof EngineOptions]
    const got = typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value === 'string' ? `'${value}'` : describe(value)
    if (kind === 'string' || kind === 'boolean') {
      if (typeof value !== kind) throw invalid(`${name} must be a ${kind}, got ${got}`)
    } else if (!Number.isSafeInteger(value) || (value as number) < 0 || (kind === 'count' && (value as number) > MAX_COUNT)) {
      throw invalid(`${name} must be a non-negative integer${kind === 'count' ? ` up to ${MAX_COUNT}` : ''}, got ${got}`)
    }
  }
  return options as EngineOptions
}

const RESOLVED: Promise<void> = Promise.resolve()
/** Values up to this size come back through the reusable read buffer; larger ones grow it, up to READ_BUFFER_MAX. */
const READ_BUFFER_BYTES = 64 * 1024
const READ_BUFFER_MAX = 16 * 1024 * 1024
const DEFAULT_SCAN_BATCH = 256
const SCAN_BATCH_BYTES = 1 << 20

const CODED = /^\[(ERR_[A-Z0-9_]+)\] ([\s\S]*)$/

/** Native errors carry their code as a `[ERR_X] ` message prefix (see crates/napi/src/errors.rs). */
function toRingkvError(e: unknown): RingkvError {
  if (e instanceof RingkvError) return e
  if (e instanceof Error) {
    const m = CODED.exec(e.message)
    if (m) return new RingkvError(m[1]!, m[2]!, { cause: e })
    const code = (e as { code?: unknown }).code
    return new RingkvError(code === 'InvalidArg' ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL', e.message, { cause: e })
  }
  return new RingkvError('ERR_INTERNAL', String(e))
}

function invalid(message: string): RingkvError {
  return new RingkvError('ERR_INVALID_ARGUMENT', message)
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  throw invalid(`${what} must be a Buffer, Uint8Array or string, got ${describe(v)}`)
}

function expiryOf(o: WriteOptions | undefined): number {
  if (o === undefined) return 0
  if (o.ttlMs !== undefined && o.expiresAt !== undefined) throw invalid('give ttlMs or expiresAt, not both')
  if (o.ttlMs !== undefined) {
    if (!Number.isInteger(o.ttlMs) || o.ttlMs <= 0) throw invalid(`ttlMs must be a positive integer, got ${o.ttlMs}`)
    // Expiry is wall-clock time: the engine compares it with the system clock when reading.
    return Date.now() + o.ttlMs
  }
  if (o.expiresAt !== undefined) {
    if (!Number.isInteger(o.expiresAt) || o.expiresAt <= 0) {
      throw invalid(`expiresAt must be a positive integer (ms since the epoch), got ${o.expiresAt}`)
    }
    return o.expiresAt
  }
  return 0
}

function prefixSuccessor(prefix: Uint8Array): Uint8Array | undefined {
  const s = Buffer.from(prefix)
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] !== 0xff) {
      s[i] = (s[i] ?? 0) + 1
      return s.subarray(0, i + 1)
    }
  }
  return undefined
}

/**
 * A coordinator's write of a ringkv envelope, for Engine.updateEnvelope: src/versioning's updateEnvelope with the key
 * epoch choice of src/storage/key-epochs.ts and the write limits of src/storage/store.ts's planUpdate.
 */
export interface EnvelopeUpdate {
  /** The client context's bytes (src/versioning contextBytes), or undefined for a write without one. */
  readonly context: Uint8Array | undefined
  /** "<issuer>/" of the store's key epochs. */
  readonly ownActorPrefix: Uint8Array
  /** The lowest key epoch the key may keep, or -1 when it must take a new one. */
  readonly reuseFrom: number
  /** The epoch a key that needs a new one takes, and whether it may without the epochs' record written first. */
  readonly nextEpoch: number
  readonly mayTakeNext: boolean
  /** null writes a tombstone. */
  readonly value: Uint8Array | null
  readonly timestamp: number
  readonly expiresAt: number
  readonly maxSiblings: number
  readonly maxObjectBytes: number
}

export interface EnvelopeUpdated {
  /** The stored envelope's bytes (a Buffer of the caller's). */
  readonly bytes: Buffer
  readonly siblings: number
  /** The key epoch of the write's actor, and whether it was `nextEpoch`. */
  readonly epoch: number
  readonly fresh: boolean
  readonly durable: Promise<void>
}

const NO_BYTES = new Uint8Array(0)

interface Turn {
  lsn: number
  promise: Promise<void>
  resolve: () => void
  reject: (e: unknown) => void
}

function newTurn(): Turn {
  let resolve!: () => void
  let reject!: (e: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { lsn: 0, promise, resolve, reject }
}

export class Engine {
  readonly #native: NativeEngine
  readonly #durability: Durability
  /** The native point read (crates/napi/src/fastget.rs): copies a value into #readBuffer. */
  readonly #getInto: (key: Uint8Array, out: Uint8Array, digest?: boolean) => number
  /** The native put (crates/napi/src/fastget.rs): one hand-written Node-API call, the value written from this memory. */
  readonly #putFrom: (key: Uint8Array, value: Uint8Array, expiresAt: number) => number
  /** The coordinator-write fast path (crates/napi/src/fastget.rs, crates/envelope). */
  readonly #updateFrom: (key: Uint8Array, context: Uint8Array, ownActorPrefix: Uint8Array, value: Uint8Array, out: Uint8Array, meta: Float64Array) => number
  /** updateFrom's numbers in and out (slots: crates/napi/src/fastget.rs `meta`). */
  readonly #updateMeta = new Float64Array(8)
  /** Where updateFrom copies the new envelope; grown on demand like #readBuffer. */
  #updateBuffer: Buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  /** The replica-merge fast path (crates/napi/src/fastget.rs, crates/envelope). */
  readonly #mergeFrom: (key: Uint8Array, incoming: Uint8Array, ownActorPrefix: Uint8Array) => number
  /** Reused by every `get`; its own ArrayBuffer (never Node's shared pool). */
  #readBuffer: Buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  /** A replica's batch of digest reads (crates/napi/src/digests.rs); made on first use. */
  #answerDigests: ((payload: Uint8Array, maxKeyBytes: number, budgetBytes: number, out: Uint8Array) => number) | undefined
  #turn: Turn | null = null
  #closed = false

  private constructor(handle: NativeEngine) {
    this.#native = handle
    this.#durability = handle.durability as Durability
    this.#getInto = handle.reader()
    this.#putFrom = handle.writer()
    this.#mergeFrom = handle.merger()
    this.#updateFrom = handle.updater()
  }

  /**
   * Opens the engine of a data directory, creating it when missing. Within one process, opening a
   * directory that is already open (from any worker thread) shares that engine; from another
   * process it fails with ERR_LOCKED.
   */
  static async open(dir: string, options?: EngineOptions): Promise<Engine> {
    if (typeof dir !== 'string' || dir === '') throw invalid('dir must be a non-empty string')
    const checked = checkOptions(options)
    try {
      return new Engine(await native.openEngine(dir, checked))
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /** `open` that blocks the calling thread during recovery; for tools and scripts. */
  static openSync(dir: string, options?: EngineOptions): Engine {
    if (typeof dir !== 'string' || dir === '') throw invalid('dir must be a non-empty string')
    const checked = checkOptions(options)
    try {
      return new Engine(native.openEngineSync(dir, checked))
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  get path(): string {
    return this.#native.path
  }

  get durability(): Durability {
    return this.#durability
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The live value of `key` as a fresh Buffer the caller owns, or undefined. */
  get(key: Key): Buffer | undefined {
    const k = toBytes(key, 'key')
    let n: number
    try {
      n = this.#getInto(k, this.#readBuffer)
      if (n > this.#readBuffer.length) {
        // Larger than the read buffer: grow it (up to a bound) and read again; beyond the bound,
        // take the copying call. A write from another thread in between just means this read
        // sees the newer value, as it would have a moment later.
        if (n > READ_BUFFER_MAX) return this.#native.get(k) ?? undefined
        this.#readBuffer = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(n)))
        return this.get(k)
      }
    } catch (e) {
      throw toRingkvError(e)
    }
    if (n < 0) return undefined
    // Node's pooled allocation (like Buffer.from and fs reads): values under 4 KiB share a slab
    // ArrayBuffer with other Buffers, which is several times cheaper than an ArrayBuffer each.
    const value = Buffer.allocUnsafe(n)
    this.#readBuffer.copy(value, 0, 0, n)
    return value
  }

  /**
   * The value digest (VALUE_DIGEST_BYTES, see valueDigest) of the live value of `key`, or undefined: what a
   * replica compares in a digest read, computed where the value lies -- the value itself is not copied out.
   */
  digest(key: Key): Buffer | undefined {
    const k = toBytes(key, 'key')
    let n: number
    try {
      n = this.#getInto(k, this.#readBuffer, true)
    } catch (e) {
      throw toRingkvError(e)
    }
    if (n < 0) return undefined
    const digest = Buffer.allocUnsafe(VALUE_DIGEST_BYTES)
    this.#readBuffer.copy(digest, 0, 0, VALUE_DIGEST_BYTES)
    return digest
  }

  /**
   * A replica's answer to a REPLICA_DIGESTS request (src/cluster/messages.ts) in one native call: per entry, the
   * stored value of storage key (partition, key) digested where it lies and compared with the coordinator's digest,
   * and the stored bytes when they differ, while the reply stays within `budgetBytes`; entries whose key is longer
   * than `maxKeyBytes`, or whose lookup fails, answer their error code. Undefined for a malformed payload (nothing
   * was looked up): the caller's decoder says what is wrong with it.
   */
  answerDigestReads(payload: Uint8Array, maxKeyBytes: number, budgetBytes: number): Buffer | undefined {
    this.#answerDigests ??= this.#native.digestReader()
    let n: number
    try {
      n = this.#answerDigests(payload, maxKeyBytes, budgetBytes, this.#readBuffer)
      if (n > this.#readBuffer.length) {
        // Nothing was written; the engine's contents cannot change before the call is made again.
        const out = Buffer.allocUnsafe(n)
        this.#answerDigests(payload, maxKeyBytes, budgetBytes, out)
        return out
      }
    } catch (e) {
      throw toRingkvError(e)
    }
    if (n < 0) return undefined
    const reply = Buffer.allocUnsafe(n)
    this.#readBuffer.copy(reply, 0, 0, n)
    return reply
  }

  getMany(keys: readonly Key[]): (Buffer | undefined)[] {
    if (!Array.isArray(keys)) throw invalid(`keys must be an array, got ${describe(keys)}`)
    const bytes = keys.map((k, i) => toBytes(k, `keys[${i}]`))
    try {
      return unpackValues(this.#native.getMany(packKeys(bytes)), bytes.length)
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  put(key: Key, value: Uint8Array | string, options?: WriteOptions): Promise<void> {
    try {
      const lsn = this.#putFrom(toBytes(key, 'key'), toBytes(value, 'value'), expiryOf(options))
      return this.#durable(lsn)
    } catch (e) {
      return Promise.reject(toRingkvError(e))
    }
  }

  /**
   * A replica's merge of ringkv envelope bytes (src/versioning/codec.ts) into the envelope stored under `key`, in
   * one native call when the merge is one of the two envelopes (crates/envelope decides it on the bytes):
   * 'unchanged' when the stored envelope already is the merge; a durability promise when the incoming bytes were
   * the merge and were written as they are; 'undecided' for everything else (nothing written: the caller runs
   * the general merge). `ownActorPrefix` is "<issuer>/" of the store's key epochs: a merge that brings back dots
   * of such an actor is left undecided, for key-epochs.ts to record.
   */
  mergeEnvelope(key: Uint8Array, incoming: Uint8Array, ownActorPrefix: Uint8Array): Promise<void> | 'unchanged' | 'undecided' {
    let outcome: number
    try {
      outcome = this.#mergeFrom(key, incoming, ownActorPrefix)
    } catch (e) {
      // Nothing was written (a closed engine, a stored value failing its checksum, a bad argument): thrown, as
      // by `get`.
      throw toRingkvError(e)
    }
    return outcome < 0 ? 'undecided' : outcome === 0 ? 'unchanged' : this.#durable(outcome)
  }

  /**
   * The coordinator's write of a ringkv envelope (src/versioning) under `key`, decided and written in one native call
   * when crates/envelope can (see EnvelopeUpdate); undefined when it leaves the write to the caller (nothing was
   * written). Throws, with nothing written, for a closed engine or a stored value failing its checksum.
   */
  updateEnvelope(key: Uint8Array, u: EnvelopeUpdate): EnvelopeUpdated | undefined {
    const meta = this.#updateMeta
    meta[0] = u.timestamp
    meta[1] = u.expiresAt
    meta[2] = u.reuseFrom
    meta[3] = u.nextEpoch
    meta[4] = u.mayTakeNext ? 1 : 0
    meta[5] = u.maxSiblings
    meta[6] = u.maxObjectBytes
    meta[7] = u.value === null ? 1 : 0
    let n: number
    try {
      n = this.#updateFrom(key, u.context ?? NO_BYTES, u.ownActorPrefix, u.value ?? NO_BYTES, this.#updateBuffer, meta)
      if (n > this.#updateBuffer.length) {
        // Nothing was written: again with room for it (maxObjectBytes bounds n).
        this.#updateBuffer = Buffer.allocUnsafeSlow(2 ** Math.ceil(Math.log2(n)))
        n = this.#updateFrom(key, u.context ?? NO_BYTES, u.ownActorPrefix, u.value ?? NO_BYTES, this.#updateBuffer, meta)
      }
    } catch (e) {
      throw toRingkvError(e)
    }
    if (n < 0) return undefined
    // Pooled like `get`'s values: the caller keeps these bytes (a hint, a message) past this call.
    const bytes = Buffer.allocUnsafe(n)
    this.#updateBuffer.copy(bytes, 0, 0, n)
    return { bytes, siblings: meta[1]!, epoch: meta[2]!, fresh: meta[3] === 1, durable: this.#durable(meta[0]!) }
  }

  delete(key: Key): Promise<void> {
    try {
      return this.#durable(this.#native.delete(toBytes(key, 'key')))
    } catch (e) {
      return Promise.reject(toRingkvError(e))
    }
  }

  /** Applies all operations atomically: after a crash, all of them or none are there. */
  writeBatch(ops: readonly BatchOp[]): Promise<void> {
    try {
      if (!Array.isArray(ops)) throw invalid(`ops must be an array, got ${describe(ops)}`)
      const packed: PackedOp[] = ops.map((op, i) => {
        if (op === null || typeof op !== 'object') throw invalid(`ops[${i}] must be an object`)
        if (op.type === 'put') {
          return {
            kind: KIND_PUT,
            key: toBytes(op.key, `ops[${i}].key`),
            value: toBytes(op.value, `ops[${i}].value`),
            expiresAt: expiryOf(op),
          }
        }
        if (op.type === 'delete') return { kind: KIND_DELETE, key: toBytes(op.key, `ops[${i}].key`), value: undefined, expiresAt: 0 }
        throw invalid(`ops[${i}].type must be 'put' or 'delete', got ${String((op as { type?: unknown }).type)}`)
      })
      return this.#durable(this.#native.write(packBatch(packed)))
    } catch (e) {
      return Promise.reject(toRingkvError(e))
    }
  }

  /** Resolves once everything written so far is fsynced, whatever the durability mode. */
  async sync(): Promise<void> {
    try {
      await this.#native.syncTo(this.#native.writeOut())
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /** Everything written so far survives a crash of this process once this returns. */
  writeOutSync(): void {
    try {
      this.#native.writeOut()
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  #durable(lsn: number): Promise<void> {
    if (this.#durability === 'none') return RESOLVED
    let turn = this.#turn
    if (turn === null) {
      turn = newTurn()
      this.#turn = turn
      setImmediate(() => this.#completeTurn())
    }
    if (lsn > turn.lsn) turn.lsn = lsn
    return turn.promise
  }

  /** Makes this turn's writes as durable as the mode promises: one write(2) or one shared fsync. */
  #completeTurn(): void {
    const turn = this.#turn
    if (turn === null) return
    this.#turn = null
    if (this.#durability === 'interval') {
      try {
        this.#native.writeOut()
        turn.resolve()
      } catch (e) {
        turn.reject(toRingkvError(e))
      }
      return
    }
    let synced: Promise<void>
    try {
      synced = this.#native.syncTo(turn.lsn)
    } catch (e) {
      turn.reject(toRingkvError(e))
      return
    }
    synced.then(turn.resolve, (e: unknown) => turn.reject(toRingkvError(e)))
  }

  /** Iterates live entries in key order over a snapshot taken now. */
  async *scan(options: ScanOptions = {}): AsyncGenerator<Entry, void, undefined> {
    const { start, end, limit } = this.#range(options)
    const batchSize = options.batchSize ?? DEFAULT_SCAN_BATCH
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalid(`batchSize must be a positive integer, got ${batchSize}`)
    let cursor
    try {
      cursor = this.#native.cursor(start, true, end, false, limit)
    } catch (e) {
      throw toRingkvError(e)
    }
    try {
      for (;;) {
        let batch: Buffer | null
        try {
          batch = cursor.next(batchSize, SCAN_BATCH_BYTES)
        } catch (e) {
          throw toRingkvError(e)
        }
        if (batch === null) return
        const entries: Entry[] = []
        forEachEntry(batch, (key, value) => entries.push({ key, value }))
        yield* entries
      }
    } finally {
      cursor.close()
    }
  }

  #range(options: ScanOptions): { start: Uint8Array | undefined; end: Uint8Array | undefined; limit: number | undefined } {
    if (options === null || typeof options !== 'object') throw invalid('scan options must be an object')
    const { limit } = options
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw invalid(`limit must be a non-negative integer, got ${limit}`)
    }
    if (options.prefix !== undefined) {
      if (options.start !== undefined || options.end !== undefined) throw invalid('prefix cannot be combined with start or end')
      const prefix = toBytes(options.prefix, 'prefix')
      return { start: prefix, end: prefixSuccessor(prefix), limit }
    }
    return {
      start: options.start === undefined ? undefined : toBytes(options.start, 'start'),
      end: options.end === undefined ? undefined : toBytes(options.end, 'end'),
      limit,
    }
  }

  /** Writes the memtable to an SSTable and waits for it. */
  async flush(): Promise<void> {
    try {
      await this.#native.flush()
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /** Merges every table into one level, dropping overwritten, deleted and expired data. */
  async compact(): Promise<void> {
    try {
      await this.#native.compact()
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /** Digest of the live entries in [start, end), with `segments` leaves keyed by key hash. */
  async merkle(options: MerkleOptions = {}): Promise<MerkleSummary> {
    const segments = options.segments ?? 1024
    if (!Number.isInteger(segments) || segments < 1 || segments > 1 << 20) {
      throw invalid(`segments must be an integer between 1 and ${1 << 20}, got ${segments}`)
    }
    const start = options.start === undefined ? undefined : toBytes(options.start, 'start')
    const end = options.end === undefined ? undefined : toBytes(options.end, 'end')
    try {
      const r = await this.#native.merkle(start, end, segments)
      const leaves: Buffer[] = []
      for (let i = 0; i < r.leaves.length; i += 32) leaves.push(r.leaves.subarray(i, i + 32))
      return { root: r.root, leaves, entries: r.entries, bytes: r.bytes }
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /** Keys and entry hashes in [start, end) whose leaf is one of `leaves`: what differing leaves hold. */
  async merkleEntries(options: MerkleOptions, leaves: readonly number[]): Promise<{ key: Buffer; hash: Buffer }[]> {
    const segments = options.segments ?? 1024
    const start = options.start === undefined ? undefined : toBytes(options.start, 'start')
    const end = options.end === undefined ? undefined : toBytes(options.end, 'end')
    try {
      const r = await this.#native.merkleEntries(start, end, segments, [...leaves])
      const out: { key: Buffer; hash: Buffer }[] = []
      if (r.packedEntries) forEachEntry(r.packedEntries, (key, hash) => out.push({ key, hash }))
      return out
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  stats(): EngineStats {
    try {
      return this.#native.stats()
    } catch (e) {
      throw toRingkvError(e)
    }
  }

  /**
   * Completes pending writes, then lets go of this handle; the engine itself closes (fsyncing its
   * log and releasing the directory lock) when the last handle in the process is closed.
   */
  async close(): Promise<void> {
    if (this.#closed) throw new RingkvError('ERR_CLOSED', 'the engine is already closed')
    this.#closed = true
    const pending = this.#turn
    if (pending !== null) {
      this.#completeTurn()
      await pending.promise.catch(() => undefined)
    }
    try {
      await this.#native.close()
    } catch (e) {
      throw toRingkvError(e)
    }
  }
}

/** Ring positions of keys: the first 8 bytes of SHA-256 as unsigned 64-bit integers, in one native call. */
export function ringPositions(keys: readonly Key[]): BigUint64Array {
  const packed = packKeys(keys.map((k, i) => toBytes(k, `keys[${i}]`)))
  const raw = native.ringPositions(packed)
  const aligned = raw.byteOffset % 8 === 0 ? raw : Buffer.from(raw)
  return new BigUint64Array(aligned.buffer, aligned.byteOffset, keys.length)
}

/** Length of a value digest. */
export const VALUE_DIGEST_BYTES = 16

const digestInto = native.digester()

/**
 * The digest replicas compare to tell whether their copies are the same bytes without sending them (digest
 * reads): xxh3-128, the same function `Engine.digest` applies to stored values. Not cryptographic: equal digests
 * of unequal copies take crafted values, and then cost a missed read repair that anti-entropy still makes.
 */
export function valueDigest(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(VALUE_DIGEST_BYTES)
  digestInto(data, out)
  return out
}

export function sha256(data: Uint8Array | string): Buffer {
  return native.sha256(toBytes(data, 'data'))
}

/** A native call that does nothing: what crossing into Rust costs, for benchmarks. */
export function nativeNoop(): void {
  native.noop()
}
