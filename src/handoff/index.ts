// Hinted handoff (DESIGN section 4): writes kept for replicas that are down, delivered when they are back.
//   codec.ts         hint keys and values, the HINTED_PUT payload
//   hint-store.ts    HintStore: collapse per key, the byte and age bounds, the index, stats
//   backings.ts      where a hint store's bytes live: the engine (<dataDir>/hints) or memory
//   delivery.ts      HintDelivery: when, how and how fast hints go to their targets (REPLICA_PUT)
//   token-bucket.ts  the delivery rate limit
//   handler.ts       the HINTED_PUT handler of a fallback
//   refusal.ts       which failures mean a replica will never take a write (no hint, or drop the hint)
// Which nodes a write goes to (live primaries, fallbacks for down ones) is the pure planSloppyWrite in
// src/coordinator/sloppy-quorum.ts; the coordinator (src/node/coordinator.ts) carries it out.

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
export { HintDelivery, type DeliveryPeers, type DeliveryStats, type HintDeliveryOptions } from './delivery.ts'
export { TokenBucket } from './token-bucket.ts'
export { hintedPutHandler, type HintedPutDeps } from './handler.ts'
export { isRefusal } from './refusal.ts'
