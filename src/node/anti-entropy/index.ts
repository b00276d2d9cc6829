// Merkle anti-entropy and tombstone garbage collection (DESIGN sections 3 and 6).
//   tree.ts          the tree over a partition's leaves that replicas descend, root first
//   compare.ts       the pure comparison core: differing nodes, and which keys to push and pull
//   gc-rule.ts       when an obsolete envelope may be collected (the grace period)
//   reconcile.ts     merging a replica's envelope here (by clock; replacing undecodable values)
//   throttle.ts      partitions and bytes per second
//   codec.ts         AE_TREE, AE_ENTRIES, AE_SYNC and ADMIN_REPAIR payloads
//   anti-entropy.ts  the driver: rounds, exchanges, garbage collection, the repair report
//   handlers.ts      the answering side of each message
export { AntiEntropy, antiEntropyDefaults, type AntiEntropyDeps, type AntiEntropyOptions, type AntiEntropyStats, type RepairReport } from './anti-entropy.ts'
export { antiEntropyHandlers, type AntiEntropyHandlerDeps } from './handlers.ts'
export { encodeRepairRequest } from './codec.ts'
