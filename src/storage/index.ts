// Storage (DESIGN sections 3, 6, 8): how a node keeps its replicas' envelopes.
//   store.ts         the ReplicaStore contract, the key encoding (u16 BE partition | key), the decision code
//                    both stores run (planUpdate, planMerge, decodeStored)
//   native-store.ts  NativeStore: over the Rust engine
//   memory-store.ts  MemoryStore over a MemoryBacking: in process, for the simulator and tests
//   limits.ts        key, value, object and sibling limits, and why these numbers
//   merkle.ts        the content digest of a partition (the engine's definition, restated for the memory store)
//   key-epochs.ts    which actor issues a key's dots, so that a store that lost a key never reissues one

export {
  assertPartition,
  contextVector,
  decodeStorageKey,
  encodeStorageKey,
  storageRange,
  type ClientContext,
  type CollectResult,
  type MergeBytesResult,
  type MergeResult,
  type ReplicaStore,
  type ScanEntry,
  type ScanOptions,
  type StorageRange,
  type StoreStats,
  type UpdateResult,
} from './store.ts'
export { entryHash, segmentOf, HASH_BYTES, MAX_SEGMENTS, type EntryHash, type PartitionDigest } from './merkle.ts'
export { KEY_EPOCHS_STORAGE_KEY } from './key-epochs.ts'
export { NativeStore, type NativeStoreOptions, type OpenNativeStoreOptions } from './native-store.ts'
export { MemoryBacking, MemoryStore, type MemoryStoreOptions } from './memory-store.ts'
export {
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_MAX_SIBLINGS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_STORE_LIMITS,
  DEFAULT_WARN_SIBLINGS,
  ENGINE_MAX_KEY_BYTES,
  MAX_KEY_BYTES,
  MAX_PARTITION,
  PARTITION_PREFIX_BYTES,
  storeLimits,
  writeLimits,
  type StoreLimits,
  type WriteLimits,
} from './limits.ts'
