import { HintStore, MemoryHintBacking } from '../../src/handoff/index.ts'
import { hintStoreContract } from './hint-store-contract.ts'

// Hints in process memory: "reopen" is a new store over the same backing (the simulator's restart).
hintStoreContract('memory', async (options, clock) => {
  const backing = new MemoryHintBacking()
  const open = (o = options) => HintStore.open(backing, { ...o, clock })
  let current = { ...options }
  let store = await open()
  return {
    clock,
    get store() {
      return store
    },
    async putRaw(key, value) {
      await backing.write([[key, value]], [])
    },
    async reopen(changes = {}) {
      await store.close()
      const next = { ...current, ...changes }
      store = await open(next)
      current = next
      return store
    },
    async dispose() {
      await store.close()
    },
  }
})
