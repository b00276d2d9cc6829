// Where a hint store's bytes live: the Rust engine in the node's data directory (<dataDir>/hints, its own
// engine, so hints never mix with replica data, are not scanned by anti-entropy, and can be dropped as a whole),
// or process memory for a node without a data directory and for the simulator. The store (hint-store.ts) owns
// every decision; a backing only reads, writes atomically and lists.
import { Engine, type Durability } from '../engine/index.ts'
import { DEFAULT_MAX_VALUE_BYTES } from '../storage/limits.ts'
import { HINT_VALUE_HEADER_BYTES, MAX_HINT_KEY_BYTES } from './codec.ts'

export interface HintBacking {
  /** Whether a write's promise resolving means the write is fsynced. */
  readonly durableWrites: boolean
  get(key: Uint8Array): Uint8Array | undefined
  /**
   * Applies the puts and deletes atomically, during the call (a `get` right after sees them); resolves when
   * they are durable per the backing's mode, rejects if they could not be written.
   */
  write(puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, deletes: readonly Uint8Array[]): Promise<void>
  /** Every stored (key, value), for rebuilding the store's accounting on open. */
  entries(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }>
  /** Resolves once every write so far is fsynced. */
  sync(): Promise<void>
  close(): Promise<void>
}

/** Hints in the engine of a directory. */
export class EngineHintBacking implements HintBacking {
  readonly engine: Engine
  readonly durableWrites: boolean
  readonly #ownsEngine: boolean

  constructor(engine: Engine, options: { ownsEngine?: boolean } = {}) {
    this.engine = engine
    this.durableWrites = engine.durability === 'sync'
    this.#ownsEngine = options.ownsEngine ?? false
  }

  /** Opens (creating) the hint engine of `dir`; the backing owns it. */
  static async open(dir: string, durability: Durability, hugePages = true): Promise<EngineHintBacking> {
    const engine = await Engine.open(dir, {
      durability,
      hugePages,
      maxKeyBytes: MAX_HINT_KEY_BYTES,
      maxValueBytes: DEFAULT_MAX_VALUE_BYTES + HINT_VALUE_HEADER_BYTES,
      // Hints are written once, read once when delivered and deleted: a small memtable keeps the memory a
      // node spends on them low, and the row cache would only hold what is about to be deleted.
      memtableBytes: 8 * 1024 * 1024,
      cacheBytes: 0,
    })
    return new EngineHintBacking(engine, { ownsEngine: true })
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.engine.get(key)
  }

  write(puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, deletes: readonly Uint8Array[]): Promise<void> {
    if (puts.length === 1 && deletes.length === 0) return this.engine.put(puts[0]![0], puts[0]![1])
    if (puts.length === 0 && deletes.length === 1) return this.engine.delete(deletes[0]!)
    return this.engine.writeBatch([
      ...deletes.map((key) => ({ type: 'delete' as const, key })),
      ...puts.map(([key, value]) => ({ type: 'put' as const, key, value })),
    ])
  }

  entries(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }> {
    return this.engine.scan()
  }

  sync(): Promise<void> {
    return this.engine.sync()
  }

  async close(): Promise<void> {
    if (this.#ownsEngine) await this.engine.close()
  }
}

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * Hints in process memory. The bytes outlive a store made over them: a new store over the same backing is
 * the simulator's restart. Every write is "durable" at once.
 */
export class MemoryHintBacking implements HintBacking {
  readonly durableWrites = true
  readonly #values = new Map<string, Uint8Array>()

  get size(): number {
    return this.#values.size
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.#values.get(Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1'))
  }

  write(puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, deletes: readonly Uint8Array[]): Promise<void> {
    for (const key of deletes) this.#values.delete(Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1'))
    // Copies (new Uint8Array(view) copies; a Buffer's slice() would not): callers may pass views of buffers they reuse.
    for (const [key, value] of puts) this.#values.set(Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1'), new Uint8Array(value))
    return RESOLVED
  }

  async *entries(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }> {
    for (const [key, value] of [...this.#values]) yield { key: Buffer.from(key, 'latin1'), value }
  }

  sync(): Promise<void> {
    return RESOLVED
  }

  async close(): Promise<void> {}
}
