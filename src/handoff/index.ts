// Hinted handoff (DESIGN section 4): writes kept for replicas that are down, delivered when they are back.
//   codec.ts         hint keys and values, the HINTED_PUT payload
//   hint-store.ts    HintStore: collapse per key, the byte and age bounds, the index, stats
//   backings.ts      where a hint store's bytes live: the engine (<dataDir>/hints) or memory

export { decodeHintedPut, encodeHintedPut, MAX_TARGET_BYTES, type HintedPut } from './codec.ts'
export {
  ENTRY_OVERHEAD_BYTES,
  HintStore,
  type AddResult,
  type HintStats,
  type HintStoreOptions,
  type PendingHint,
  type TargetStats,
} from './hint-store.ts'
export { EngineHintBacking, MemoryHintBacking, type HintBacking } from './backings.ts'
