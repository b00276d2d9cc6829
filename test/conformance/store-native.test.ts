import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Engine } from '../../src/engine/index.ts'
import { NativeStore } from '../../src/storage/index.ts'
import { envelopesEqual, type Write } from '../../src/versioning/index.ts'
import { rejectsWithCode, tempDir } from '../native/helpers.ts'
import { storeContract } from './store-contract.ts'

// The store over the Rust engine in 'sync' mode: `durable` means fsynced, and reopen reads the files back.
storeContract('native', async (options = {}) => {
  const { dir, remove } = tempDir('ringkv-store-')
  const open = () => NativeStore.open(dir, { ...options, engine: { durability: 'sync' } })
  let store = await open()
  return {
    get store() {
      return store
    },
    async putRaw(storageKey, bytes) {
      await store.engine.put(storageKey, bytes)
    },
    async reopen() {
      await store.close().catch(() => undefined)
      store = await open()
      return store
    },
    async dispose() {
      await store.close().catch(() => undefined)
      remove()
    },
  }
})

// What only the native store has: an engine underneath, its durability modes, and engines opened elsewhere.
const native = suite('native store')
const w = (value: string, timestamp = 1): Write => ({ value: Buffer.from(value), timestamp })

native('a merge that changes nothing makes no engine write', async () => {
  const { dir, remove } = tempDir('ringkv-store-')
  const store = await NativeStore.open(dir)
  try {
    const e = store.update(1, Buffer.from('k'), undefined, 'a#0', w('v')).stored
    await store.merge(1, Buffer.from('k'), e).durable
    const writes = store.engine.stats().writes
    const r = store.merge(1, Buffer.from('k'), e)
    assert.is(r.changed, false)
    await r.durable
    assert.is(store.engine.stats().writes, writes)
  } finally {
    await store.close()
    remove()
  }
})

for (const durability of ['interval', 'none'] as const) {
  native(`durability '${durability}': a get right after update sees it, durable resolves, reopen finds it`, async () => {
    const { dir, remove } = tempDir('ringkv-store-')
    let store = await NativeStore.open(dir, { engine: { durability } })
    try {
      const r = store.update(1, Buffer.from('k'), undefined, 'a#0', w('v'))
      assert.ok(envelopesEqual(store.get(1, Buffer.from('k'))!, r.stored))
      await r.durable
      await store.close()
      store = await NativeStore.open(dir)
      assert.ok(envelopesEqual(store.get(1, Buffer.from('k'))!, r.stored))
    } finally {
      await store.close()
      remove()
    }
  })
}

native('a store over an engine opened elsewhere leaves it open when closed', async () => {
  const { dir, remove } = tempDir('ringkv-store-')
  const engine = await Engine.open(dir)
  try {
    const store = new NativeStore(engine)
    assert.is(store.engine, engine)
    store.update(1, Buffer.from('k'), undefined, 'a#0', w('v'))
    await store.close()
    assert.is(engine.closed, false)
    assert.ok(engine.get(Buffer.from([0, 1, 0x6b])) !== undefined, 'stored under u16 BE partition | key')
    const again = new NativeStore(engine)
    assert.is(again.get(1, Buffer.from('k'))?.siblings.length, 1)
    assert.throws(() => new NativeStore({} as Engine), /needs an Engine/)
  } finally {
    await engine.close()
    remove()
  }
})

native('the store opens its engine to take what its limits allow', async () => {
  const { dir, remove } = tempDir('ringkv-store-')
  const big = 17 * 1024 * 1024 // above the engine's default 16 MiB
  const store = await NativeStore.open(dir, { limits: { maxValueBytes: 20 * 1024 * 1024, maxObjectBytes: 20 * 1024 * 1024 }, engine: { durability: 'none' } })
  try {
    const r = store.update(1, Buffer.from('big'), undefined, 'a#0', { value: Buffer.alloc(big, 7), timestamp: 1 })
    await r.durable
    assert.is(store.get(1, Buffer.from('big'))!.siblings[0]!.value!.length, big)
    assert.is(store.stats().durabilityFailures, 0)
  } finally {
    await store.close()
    remove()
  }
})

native('an engine that refuses a write: durable rejects, nothing is stored, the failure is counted', async () => {
  const { dir, remove } = tempDir('ringkv-store-')
  // Misconfigured on purpose: the store's limits allow more than this engine takes.
  const engine = await Engine.open(dir, { maxValueBytes: 1024 })
  const store = new NativeStore(engine)
  try {
    const before = store.update(1, Buffer.from('k'), undefined, 'a#0', w('small'))
    await before.durable
    const r = store.update(1, Buffer.from('k'), undefined, 'a#0', { value: Buffer.alloc(2048), timestamp: 2 })
    await rejectsWithCode(r.durable, 'ERR_VALUE_TOO_LARGE')
    assert.ok(envelopesEqual(store.get(1, Buffer.from('k'))!, before.stored), 'the refused write was not applied')
    assert.is(store.stats().durabilityFailures, 1)
    // A refused write nobody awaits is not an unhandled rejection (the process would exit).
    store.update(1, Buffer.from('j'), undefined, 'a#0', { value: Buffer.alloc(2048), timestamp: 2 })
    await new Promise((resolve) => setImmediate(resolve))
    assert.is(store.stats().durabilityFailures, 2)
  } finally {
    await store.close()
    await engine.close()
    remove()
  }
})

native.run()
