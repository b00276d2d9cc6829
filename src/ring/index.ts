// The ring (DESIGN section 2): fixed partitions of the SHA-256 key space, the claim that assigns them to
// nodes, the versioned ring map that gossip spreads, and the preference lists requests are routed by.
//   partitions.ts  Q, N and the partition <-> hash-range arithmetic
//   hash.ts        key -> position / partition (the one place that hashes keys)
//   ring-map.ts    the immutable, checksummed map and its binary encoding
//   claim.ts       who owns what after a membership change
//   violations.ts  the placement rule and its report
//   preference.ts  primaries and fallbacks per partition, replica-set diffs for handoff

export {
  DEFAULT_PARTITIONS,
  DEFAULT_REPLICATION,
  MAX_PARTITIONS,
  MAX_REPLICATION,
  partitionOfPosition,
  partitionRange,
  partitionStart,
} from './partitions.ts'
export { keyPosition, partitionOf, partitionsOf } from './hash.ts'
export { createRingMap, decodeRingMap, encodeRingMap, MAX_MEMBERS, type Member, type RingMap, type RingMapInput } from './ring-map.ts'
export { claim, type ClaimOptions, type ClaimResult } from './claim.ts'
export { ringViolations, type PlacementLevel, type Violation } from './violations.ts'
export {
  diffRings,
  partitionsOwnedBy,
  partitionsReplicatedBy,
  preferenceList,
  replicasOfPartition,
  type PreferenceList,
  type ReplicaChange,
} from './preference.ts'
