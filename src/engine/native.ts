// Loads the native addon through napi-rs' generated loader (native/index.cjs), which picks the
// per-platform package or the locally built binary. When neither is there, the error says how to
// build it instead of a bare "Cannot find module".
import { createRequire } from 'node:module'

export interface NativeOptions {
  durability?: string
  syncIntervalMs?: number
  memtableBytes?: number
  maxImmutableMemtables?: number
  recycleLogSegments?: number
  maxKeyBytes?: number
  maxValueBytes?: number
  blockSize?: number
  bloomBitsPerKey?: number
  cacheBytes?: number
  hugePages?: boolean
  l0CompactionTrigger?: number
  l0SlowdownTrigger?: number
  l0StopTrigger?: number
  levelBaseBytes?: number
  levelMultiplier?: number
  targetFileBytes?: number
  maxLevels?: number
}

export interface NativeStats {
  levels: { tables: number; bytes: number }[]
  memtableBytes: number
  immutableMemtables: number
  diskBytes: number
  walBytesWritten: number
  walFsyncs: number
  walRecycledSegments: number
  lastSeqno: number
  cacheHits: number
  cacheMisses: number
  cacheBytes: number
  bloomChecks: number
  bloomSkips: number
  flushes: number
  flushBytes: number
  compactions: number
  compactionBytesRead: number
  compactionBytesWritten: number
  stalls: number
  stallMicros: number
  slowdowns: number
  writes: number
  writeBatches: number
}

export interface NativeMerkleResult {
  root: Buffer
  leaves: Buffer
  entries: number
  bytes: number
  packedEntries: Buffer | null
}

// napi-rs returns null (not undefined) where Rust returns None.
export interface NativeCursor {
  next(maxEntries: number, maxBytes: number): Buffer | null
  close(): void
}

export interface NativeEngine {
  readonly path: string
  readonly durability: string
  get(key: Uint8Array): Buffer | null
  /**
   * The point-read fast path (crates/napi/src/fastget.rs): a function bound to this handle.
   * `getInto(key, out)` returns -1 for a missing key, else the value's length n, having copied the
   * value to out[0..n] when n <= out.length (and left out untouched otherwise).
   */
  reader(): (key: Uint8Array, out: Uint8Array, digest?: boolean) => number
  /**
   * A replica's answer to a batch of digest reads (crates/napi/src/digests.rs): `answerDigests(payload, maxKeyBytes,
   * budgetBytes, out)` returns -1 for a malformed REPLICA_DIGESTS payload (nothing looked up), else the reply's length
   * n, written to out[0..n] when it fits.
   */
  digestReader(): (payload: Uint8Array, maxKeyBytes: number, budgetBytes: number, out: Uint8Array) => number
  /** The put fast path: `putFrom(key, value, expiresAt)` (0: no expiry) returns the log position (crates/napi/src/fastget.rs). */
  writer(): (key: Uint8Array, value: Uint8Array, expiresAt: number) => number
  /**
   * The replica-merge fast path (crates/napi/src/fastget.rs): `mergeFrom(key, incoming, ownActorPrefix)` returns -1
   * when it leaves the merge to the caller, 0 when the stored envelope already is the merge, else the log position
   * of the incoming bytes it wrote.
   */
  merger(): (key: Uint8Array, incoming: Uint8Array, ownActorPrefix: Uint8Array) => number
  /**
   * The coordinator-write fast path (crates/napi/src/fastget.rs): `updateFrom(key, context, ownActorPrefix, value, out,
   * meta)` returns -1 when it leaves the write to the caller, else the new envelope's length n: written and copied to
   * out[0..n] when n <= out.length, nothing done otherwise.
   */
  updater(): (key: Uint8Array, context: Uint8Array, ownActorPrefix: Uint8Array, value: Uint8Array, out: Uint8Array, meta: Float64Array) => number
  getMany(packedKeys: Uint8Array): Buffer
  put(key: Uint8Array, value: Uint8Array, expiresAt?: number): number
  delete(key: Uint8Array): number
  write(packedBatch: Uint8Array): number
  writeOut(): number
  syncTo(lsn: number): Promise<void>
  flush(): Promise<void>
  compact(): Promise<void>
  cursor(
    start: Uint8Array | undefined,
    startInclusive: boolean,
    end: Uint8Array | undefined,
    endInclusive: boolean,
    limit: number | undefined,
  ): NativeCursor
  merkle(start: Uint8Array | undefined, end: Uint8Array | undefined, segments: number): Promise<NativeMerkleResult>
  merkleEntries(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    segments: number,
    wanted: number[],
  ): Promise<NativeMerkleResult>
  stats(): NativeStats
  close(): Promise<void>
}

export interface NativeBinding {
  noop(): void
  openEngine(path: string, options?: NativeOptions): Promise<NativeEngine>
  openEngineSync(path: string, options?: NativeOptions): NativeEngine
  openHandles(path: string): number
  ringPositions(packedKeys: Uint8Array): Buffer
  sha256(data: Uint8Array): Buffer
  /** `digestInto(data, out)`: the value digest (16 bytes) of `data` into `out`; returns 16 (crates/napi/src/fastget.rs). */
  digester(): (data: Uint8Array, out: Uint8Array) => number
  /**
   * `getReplyInto(envelope, now, out)`: the CLIENT_GET reply of stored envelope bytes read at `now`, written to
   * `out` when it fits; returns its length, or -1 for bytes left to TypeScript (crates/napi/src/replies.rs).
   */
  getReplier(): (envelope: Uint8Array, now: number, out: Uint8Array) => number
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url)
  try {
    return require('../../native/index.cjs') as NativeBinding
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    throw new Error(
      `ringkv: the native addon could not be loaded (${reason}).\n` +
        `  No prebuilt binary fits this platform, or it was never built. With Rust (cargo) installed, run\n` +
        `  \`npm rebuild ringkv\` (or \`node node_modules/ringkv/scripts/build-native.mjs\`; npm 11 asks you to\n` +
        `  approve the install script first: \`npm install-scripts approve ringkv\`).`,
      { cause: e },
    )
  }
}

export const native: NativeBinding = load()
