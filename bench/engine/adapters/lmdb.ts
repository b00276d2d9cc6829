// lmdb-js (`lmdb`) at its defaults, with raw binary keys and values.
//
// Defaults that matter here (lmdb-js 3.x on Linux, read from its open.js and README): noSync false,
// overlappingSync true, eventTurnBatching true. So a `put` is queued, every put of one event-loop turn goes
// into one transaction committed on lmdb-js's write thread, and the put's promise resolves when that
// transaction is *committed* (visible); the fsync that makes it durable runs afterwards, overlapping the
// next transactions. Awaiting each put therefore commits one transaction per put; measured here, that runs at
// about the one-fsync-per-write rate (~1k/s), while 64 puts in flight share transactions. For the durable phase the store is opened with `separateFlushed: true` (a documented
// option that changes nothing but adds a `flushed` promise to each write) and each write awaits `flushed`.
import { open, type Database, type RootDatabase } from 'lmdb'
import { installedVersion, type DurableStore, type EngineAdapter, type Entry, type OpenStore } from './adapter.ts'

const binary = { encoding: 'binary', keyEncoding: 'binary' } as const

export const lmdbAdapter: EngineAdapter = {
  name: 'lmdb',
  label: `lmdb-js ${installedVersion('lmdb')}`,
  methods: {
    put: 'await db.put(k, v): one transaction per put, resolved on commit (defaults: noSync false, overlappingSync true)',
    putBatch: '100 db.put() in one event-loop turn = one transaction (eventTurnBatching), awaited',
    getSync: 'db.getBinary(k) (a fresh Buffer, like ringkv get; getBinaryFast would reuse one)',
    getAsync: 'promise around getBinary (lmdb reads are sync; 64 concurrent tasks)',
    scan: 'db.getRange({ start, limit: 100 }), iterated synchronously',
    durable: 'separate env, separateFlushed: true; await put, then await its .flushed (fsync done)',
    compact: 'none (B+tree, no compaction): size of the environment as it is',
  },

  async open(dir: string): Promise<OpenStore> {
    const db: RootDatabase<Buffer, Buffer> = open<Buffer, Buffer>({ path: dir, ...binary })
    return {
      put: async (key, value) => {
        await db.put(key, value)
      },
      putBatch: async (entries: readonly Entry[]) => {
        const commits: Promise<boolean>[] = []
        for (const { key, value } of entries) commits.push(db.put(key, value))
        await Promise.all(commits)
      },
      getSync: (key) => db.getBinary(key),
      getAsync: async (key) => db.getBinary(key),
      scan: (start, limit) => scanSync(db, start, limit),
      compactAll: async () => false,
      engineDiskBytes: () => undefined,
      close: () => db.close(),
    }
  },

  async openDurable(dir: string): Promise<DurableStore> {
    const db = open<Buffer, Buffer>({ path: dir, ...binary, separateFlushed: true })
    return {
      put: async (key, value) => {
        const committed = db.put(key, value) as Promise<boolean> & { flushed?: Promise<boolean> }
        await committed
        if (committed.flushed === undefined) throw new Error('lmdb-js gave no .flushed promise (separateFlushed ignored?)')
        await committed.flushed
      },
      close: () => db.close(),
    }
  },
}

function scanSync(db: Database<Buffer, Buffer>, start: Buffer, limit: number): number {
  let n = 0
  let bytes = 0
  for (const { value } of db.getRange({ start, limit })) {
    bytes += value.length
    n++
  }
  if (bytes < 0) throw new Error('unreachable')
  return n
}
