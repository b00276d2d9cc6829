// ringkv's own engine, through its napi binding. This file is the one place that knows the Engine API.
//
// The engine module (src/engine/index.ts) is being written separately, so it is typed here by a local
// interface copied from the agreed API and loaded with a dynamic import: the benchmark compiles without it,
// and running it before it exists fails with a clear "ringkv engine not built yet" error instead of a crash.
// When the module lands, replace the local types with `import type { Engine } from '../../../src/engine/index.ts'`
// if they differ.
//
// Durability: the load runs at 'interval' (the default: fsync every few ms); the durable phase opens a second
// engine in its own directory at 'sync' (a put resolves after the group-commit fsync that covers it).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { DurableStore, EngineAdapter, Entry, NativeProbe, OpenStore } from './adapter.ts'

type Durability = 'interval' | 'sync' | 'none'

interface ScanOptions {
  start?: Uint8Array
  end?: Uint8Array
  prefix?: Uint8Array
  limit?: number
}

type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'delete'; key: Uint8Array }

/** The agreed ringkv Engine API (the subset this benchmark calls). */
interface RingkvEngine {
  get(key: Uint8Array): Buffer | undefined
  getMany(keys: Uint8Array[]): (Buffer | undefined)[]
  put(key: Uint8Array, value: Uint8Array, options?: { ttlMs?: number }): Promise<void>
  delete(key: Uint8Array): Promise<void>
  writeBatch(ops: BatchOp[]): Promise<void>
  scan(options: ScanOptions): AsyncIterable<{ key: Buffer; value: Buffer }>
  flush(): Promise<void>
  compact(): Promise<void>
  stats(): { diskBytes: number }
  close(): Promise<void>
}

interface RingkvEngineModule {
  Engine: { open(dir: string, options: { durability: Durability }): Promise<RingkvEngine> }
  noop?: () => void
}

const engineModuleUrl = new URL('../../../src/engine/index.ts', import.meta.url)
const nativeLoaderUrl = new URL('../../../native/index.cjs', import.meta.url)

export class RingkvNotBuiltError extends Error {
  readonly code = 'RINGKV_ENGINE_NOT_BUILT'
}

let loaded: Promise<RingkvEngineModule> | undefined

/** Imports src/engine/index.ts once; rejects with RingkvNotBuiltError when it is missing or incomplete. */
export function loadEngineModule(): Promise<RingkvEngineModule> {
  loaded ??= (async () => {
    const path = fileURLToPath(engineModuleUrl)
    if (!existsSync(path)) {
      throw new RingkvNotBuiltError(`ringkv engine not built yet: ${path} does not exist`)
    }
    let mod: Partial<RingkvEngineModule>
    try {
      mod = (await import(engineModuleUrl.href)) as Partial<RingkvEngineModule>
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error)
      throw new RingkvNotBuiltError(`ringkv engine not built yet: importing ${path} failed: ${why}`, { cause: error })
    }
    if (typeof mod.Engine?.open !== 'function') {
      throw new RingkvNotBuiltError(`ringkv engine not built yet: ${path} exports no Engine.open()`)
    }
    return mod as RingkvEngineModule
  })()
  return loaded
}

const openStores = new WeakMap<OpenStore, RingkvEngine>()

/**
 * The no-op for the boundary-cost baseline: the engine module's `noop` when it exports one, otherwise the
 * addon's own `noop` through native/index.cjs (present since the skeleton), so the baseline runs either way.
 */
async function nativeProbe(): Promise<NativeProbe | undefined> {
  const getMany = (store: OpenStore, keys: Buffer[]): (Uint8Array | undefined)[] => {
    const db = openStores.get(store)
    if (db === undefined) throw new Error('getMany: not a ringkv store')
    return db.getMany(keys)
  }
  try {
    const mod = await loadEngineModule()
    if (typeof mod.noop === 'function') return { noopSource: 'src/engine/index.ts noop()', noop: mod.noop, getMany }
  } catch {
    // engine not there yet: fall back to the addon's loader below
  }
  try {
    const addon = createRequire(import.meta.url)(fileURLToPath(nativeLoaderUrl)) as { noop?: () => void }
    if (typeof addon.noop === 'function') return { noopSource: 'native/index.cjs noop()', noop: addon.noop, getMany }
  } catch {
    // addon not built either
  }
  return undefined
}

export async function makeRingkvAdapter(): Promise<EngineAdapter> {
  const native = await nativeProbe()
  const adapter: EngineAdapter = {
    name: 'ringkv',
    label: 'ringkv engine (napi)',
    methods: {
      put: "await db.put(k, v) at durability 'interval' (the default; resolves once in the log)",
      putBatch: "await db.writeBatch([100 puts]) at durability 'interval'",
      getSync: 'db.get(k) (synchronous)',
      getAsync: 'promise around db.get (reads are sync; 64 concurrent tasks)',
      scan: 'for await (… of db.scan({ start, limit: 100 }))',
      durable: "separate engine at durability 'sync'; await db.put(k, v) (resolves after the covering fsync)",
      compact: 'await db.flush(); await db.compact()',
    },

    async open(dir: string): Promise<OpenStore> {
      const { Engine } = await loadEngineModule()
      const db = await Engine.open(dir, { durability: 'interval' })
      const store: OpenStore = {
        put: (key, value) => db.put(key, value),
        putBatch: (entries: readonly Entry[]) =>
          db.writeBatch(entries.map(({ key, value }) => ({ type: 'put' as const, key, value }))),
        getSync: (key) => db.get(key),
        getAsync: async (key) => db.get(key),
        scan: async (start, limit) => {
          let n = 0
          let bytes = 0
          for await (const { value } of db.scan({ start, limit })) {
            bytes += value.length
            n++
          }
          if (bytes < 0) throw new Error('unreachable')
          return n
        },
        compactAll: async () => {
          await db.flush()
          await db.compact()
          return true
        },
        engineDiskBytes: () => db.stats().diskBytes,
        close: () => db.close(),
      }
      openStores.set(store, db)
      return store
    },

    async openDurable(dir: string): Promise<DurableStore> {
      const { Engine } = await loadEngineModule()
      const db = await Engine.open(dir, { durability: 'sync' })
      return { put: (key, value) => db.put(key, value), close: () => db.close() }
    },
  }
  if (native !== undefined) adapter.native = native
  return adapter
}
