// classic-level (LevelDB) at its defaults, with Buffer keys and values.
//
// Defaults that matter here: put/batch with sync: false (written to the log, not fsynced), snappy compression
// on (no effect on incompressible values), 4 MiB write buffer, 8 MiB block cache. classic-level 3 has a real
// synchronous get (`getSync`, added in abstract-level 3.1 / classic-level 3.0), so the sync-read phases use it.
import { ClassicLevel } from 'classic-level'
import { installedVersion, type DurableStore, type EngineAdapter, type OpenStore } from './adapter.ts'
import { KEY_BYTES } from '../workload.ts'

const buffers = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const

export const levelAdapter: EngineAdapter = {
  name: 'level',
  label: `classic-level ${installedVersion('classic-level')}`,
  methods: {
    put: 'await db.put(k, v) (sync: false, the default)',
    putBatch: 'await db.batch([100 puts]) (sync: false)',
    getSync: 'db.getSync(k) (classic-level 3 has a synchronous get)',
    getAsync: 'await db.get(k) (native async get on the libuv pool)',
    scan: 'await db.iterator({ gte: start, limit: 100, highWaterMarkBytes: 200 KiB }).all() (one native read per scan)',
    durable: 'separate db; await db.put(k, v, { sync: true })',
    compact: 'db.compactRange(0x00 x16, 0xff x17), covering every key',
  },

  async open(dir: string): Promise<OpenStore> {
    const db = new ClassicLevel<Buffer, Buffer>(dir, buffers)
    await db.open()
    return {
      put: (key, value) => db.put(key, value),
      putBatch: (entries) => db.batch(entries.map(({ key, value }) => ({ type: 'put' as const, key, value }))),
      getSync: (key) => db.getSync(key),
      getAsync: (key) => db.get(key),
      scan: async (start, limit) => {
        // highWaterMarkBytes at least limit x entry size, as classic-level's README advises: with the default
        // 16 KiB a 100-entry scan takes ~7 round trips to the native side and runs at about half the speed.
        const entries = await db.iterator({ gte: start, limit, highWaterMarkBytes: limit * 2048 }).all()
        let bytes = 0
        for (const [, value] of entries) bytes += value.length
        if (bytes < 0) throw new Error('unreachable')
        return entries.length
      },
      compactAll: async () => {
        await db.compactRange(Buffer.alloc(KEY_BYTES, 0x00), Buffer.alloc(KEY_BYTES + 1, 0xff))
        return true
      },
      engineDiskBytes: () => undefined,
      close: () => db.close(),
    }
  },

  async openDurable(dir: string): Promise<DurableStore> {
    const db = new ClassicLevel<Buffer, Buffer>(dir, buffers)
    await db.open()
    return {
      put: (key, value) => db.put(key, value, { sync: true }),
      close: () => db.close(),
    }
  },
}
