// The one interface the engine benchmark drives. Each engine (ringkv, lmdb-js, classic-level) gets an adapter
// file that maps these calls onto its own API at its own natural defaults, and says in `methods` exactly which
// calls and settings it used, so the report can state them next to the figures.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export type EngineName = 'ringkv' | 'lmdb' | 'level'
export const ENGINE_NAMES: readonly EngineName[] = ['ringkv', 'lmdb', 'level']

export interface Entry {
  key: Buffer
  value: Buffer
}

/** What each adapter call maps to, in words, for the report. */
export interface AdapterMethods {
  put: string
  putBatch: string
  getSync: string
  getAsync: string
  scan: string
  durable: string
  compact: string
}

/** An open store with the data set the benchmark loads. */
export interface OpenStore {
  /** One write at the engine's default durability, resolved when the engine acknowledges it. */
  put(key: Buffer, value: Buffer): Promise<void>
  /** Several writes in one batch (one commit) at the default durability. */
  putBatch(entries: readonly Entry[]): Promise<void>
  /** A synchronous point read; undefined when the key is absent. */
  getSync(key: Buffer): Uint8Array | undefined
  /** A point read as a promise: the engine's async get, or a promise around getSync where reads are sync. */
  getAsync(key: Buffer): Promise<Uint8Array | undefined>
  /** Reads up to `limit` entries from `start` (inclusive) in key order, touching each value; returns the count. */
  scan(start: Buffer, limit: number): number | Promise<number>
  /** Flushes and fully compacts where the engine can; resolves false where it has no such operation. */
  compactAll(): Promise<boolean>
  /** The engine's own figure for its size on disk, where it reports one. */
  engineDiskBytes(): number | undefined
  close(): Promise<void>
}

/** A separate store whose `put` resolves only once the write is on stable storage (fsynced). */
export interface DurableStore {
  put(key: Buffer, value: Buffer): Promise<void>
  close(): Promise<void>
}

export interface EngineAdapter {
  readonly name: EngineName
  /** Name and version, e.g. "lmdb-js 3.5.6". */
  readonly label: string
  readonly methods: AdapterMethods
  /** Opens (creating) a store in `dir`, an empty directory, at the engine's default durability. */
  open(dir: string): Promise<OpenStore>
  /** Opens (creating) a store in `dir`, an empty directory, whose puts resolve once durable. */
  openDurable(dir: string): Promise<DurableStore>
  /** Optional extra calls for the native-boundary section (STYLE practice 12). */
  native?: NativeProbe
}

/** ringkv's boundary-crossing calls, timed beside a no-op so the cost of crossing into Rust is visible. */
export interface NativeProbe {
  /** Where the no-op came from, e.g. "src/engine/index.ts noop()". */
  noopSource: string
  noop(): void
  /** Present only once the store is open (they need it). */
  getMany?(store: OpenStore, keys: Buffer[]): (Uint8Array | undefined)[]
}

/** Bytes a directory tree takes: allocated on disk (st_blocks, like du) and apparent (st_size). */
export function directorySize(dir: string): { allocated: number; apparent: number } {
  let allocated = 0
  let apparent = 0
  const walk = (path: string): void => {
    const st = statSync(path)
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name))
      return
    }
    allocated += st.blocks * 512
    apparent += st.size
  }
  walk(dir)
  return { allocated, apparent }
}

/** The installed version of a package (read from its package.json, which some packages do not export). */
export function installedVersion(packageName: string): string {
  const require = createRequire(import.meta.url)
  try {
    let dir = dirname(require.resolve(packageName))
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string }
        if (pkg.name === packageName && pkg.version !== undefined) return pkg.version
      } catch {
        // no package.json here: keep walking up
      }
      const up = dirname(dir)
      if (up === dir) return 'unknown'
      dir = up
    }
  } catch {
    return 'unknown'
  }
}
