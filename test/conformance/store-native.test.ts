import { NativeStore } from '../../src/storage/index.ts'
import { tempDir } from '../native/helpers.ts'
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
