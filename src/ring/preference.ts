// Preference lists: which nodes hold a key (DESIGN section 2, sloppy quorum in section 4).
//
// The primaries of partition p are its owner, then the owners of p+1, p+2, ... skipping nodes already listed,
// until N distinct nodes (or every node that owns a partition) are listed. The fallbacks are the remaining
// nodes in the order the same walk meets them, then members that own no partition (possible only when S > Q),
// by id: the nodes a coordinator writes to, with a hint, when primaries are down. Riak's apl works the same
// way. When claim's placement rule holds, the primaries are exactly the owners of p..p+N-1.
//
// Consequences worth knowing: with S < N (or Q < N) a key has fewer than N primaries -- every node there is
// -- and no fallbacks; with Q = 1 the single owner is the only primary.
//
// Lists are computed once per ring and partition and cached (weakly, with the ring): a ring never changes,
// a new ring version is a new object.

import { RingkvError } from '../errors.ts'
import { partitionOf } from './hash.ts'
import { assertPartition } from './partitions.ts'
import { ringInternals, type RingMap } from './ring-map.ts'

export interface PreferenceList {
  readonly partition: number
  /** Up to N distinct nodes: the partition's owner first. */
  readonly primaries: readonly string[]
  /** Every other member, in ring order after the primaries. */
  readonly fallbacks: readonly string[]
}

export interface ReplicaChange {
  readonly partition: number
  /** Primaries under the old ring. */
  readonly before: readonly string[]
  /** Primaries under the new ring. */
  readonly after: readonly string[]
  /** Nodes that must receive the partition's data (in `after`, not in `before`). */
  readonly gained: readonly string[]
  /** Nodes that may drop it once the gainers have it (in `before`, not in `after`). */
  readonly lost: readonly string[]
}

const cache = new WeakMap<RingMap, Array<PreferenceList | undefined>>()

/** The preference list of a partition, or of the partition a key hashes to. */
export function preferenceList(ring: RingMap, target: number | Uint8Array): PreferenceList {
  const partition = typeof target === 'number' ? target : partitionOf(target, ring.q)
  assertPartition(partition, ring.q)
  let lists = cache.get(ring)
  if (lists === undefined) {
    lists = new Array<PreferenceList | undefined>(ring.q)
    cache.set(ring, lists)
  }
  let list = lists[partition]
  if (list === undefined) {
    list = compute(ring, partition)
    lists[partition] = list
  }
  return list
}

function compute(ring: RingMap, partition: number): PreferenceList {
  const { ownerIndexes } = ringInternals(ring)
  const { q, n, members } = ring
  const seen = new Uint8Array(members.length)
  const primaries: string[] = []
  const fallbacks: string[] = []
  let distinct = 0
  for (let k = 0; k < q && distinct < members.length; k++) {
    const i = ownerIndexes[(partition + k) % q]!
    if (seen[i] === 1) continue
    seen[i] = 1
    distinct++
    if (primaries.length < n) primaries.push(members[i]!.id)
    else fallbacks.push(members[i]!.id)
  }
  for (let i = 0; i < members.length; i++) if (seen[i] === 0) fallbacks.push(members[i]!.id)
  return Object.freeze({ partition, primaries: Object.freeze(primaries), fallbacks: Object.freeze(fallbacks) })
}

/** The primaries (replica set) of a partition. */
export function replicasOfPartition(ring: RingMap, partition: number): readonly string[] {
  return preferenceList(ring, partition).primaries
}

/** Partitions a node owns, ascending. */
export function partitionsOwnedBy(ring: RingMap, node: string): number[] {
  const out: number[] = []
  for (let p = 0; p < ring.q; p++) if (ring.owners[p] === node) out.push(p)
  return out
}

/** Partitions a node is a primary replica of, ascending: what it stores, repairs and hands off. */
export function partitionsReplicatedBy(ring: RingMap, node: string): number[] {
  const out: number[] = []
  for (let p = 0; p < ring.q; p++) if (preferenceList(ring, p).primaries.includes(node)) out.push(p)
  return out
}

/** Partitions whose replica set differs between two rings: the work list for handoff. */
export function diffRings(before: RingMap, after: RingMap): ReplicaChange[] {
  if (before.q !== after.q) {
    throw new RingkvError('ERR_BAD_RING', `cannot diff rings with different partition counts (${before.q} and ${after.q})`, {
      details: { before: before.q, after: after.q },
    })
  }
  const out: ReplicaChange[] = []
  if (before.checksum === after.checksum) return out
  for (let p = 0; p < before.q; p++) {
    const a = preferenceList(before, p).primaries
    const b = preferenceList(after, p).primaries
    const gained = b.filter((x) => !a.includes(x))
    const lost = a.filter((x) => !b.includes(x))
    if (gained.length > 0 || lost.length > 0) out.push(Object.freeze({ partition: p, before: a, after: b, gained, lost }))
  }
  return out
}
