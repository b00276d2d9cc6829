import { MemoryBacking, MemoryStore } from '../../src/storage/index.ts'
import type { ReplicaStore } from '../../src/storage/index.ts'
import { storeContract } from './store-contract.ts'

// The in-process store: "reopen" is a new store over the same backing (the simulator's restart).
storeContract('memory', async (options = {}) => {
  const backing = new MemoryBacking()
  let store: ReplicaStore = new MemoryStore({ ...options, backing })
  return {
    get store() {
      return store
    },
    async putRaw(storageKey, bytes) {
      backing.put(storageKey, bytes)
    },
    async reopen() {
      await store.close().catch(() => undefined)
      store = new MemoryStore({ ...options, backing })
      return store
    },
    async dispose() {
      await store.close().catch(() => undefined)
    },
  }
})
