import { EngineHintBacking, HintStore } from '../../src/handoff/index.ts'
import { tempDir } from '../native/helpers.ts'
import { hintStoreContract } from './hint-store-contract.ts'

// Hints in an engine of their own, in 'sync' mode: durable means fsynced, and reopen reads the files back.
hintStoreContract('engine', async (options, clock) => {
  const { dir, remove } = tempDir('ringkv-hints-')
  let current = { ...options }
  const open = async (o = current) => HintStore.open(await EngineHintBacking.open(dir, 'sync'), { ...o, clock })
  let store = await open()
  return {
    clock,
    get store() {
      return store
    },
    async putRaw(key, value) {
      // Beneath the store: through an engine handle of the same directory (the process shares one engine).
      const backing = await EngineHintBacking.open(dir, 'sync')
      await backing.engine.put(key, value)
      await backing.close()
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
      remove()
    },
  }
})
