// The per-partition Merkle tree that replicas exchange (DESIGN section 6), built over the store's leaves.
//
// The store digests a partition into `segments` leaves by key hash (src/storage/merkle.ts; 1024 by default).
// Sending all of them would cost 32 KiB per partition and peer even when nothing differs, so replicas compare a
// tree over them top-down: the root first (one hash: the common case, "in sync", costs a few dozen bytes), then
// the children of the nodes that differ, down to the leaves. A fanout of 32 makes that two steps below the root
// for 1024 leaves (1 KiB per differing node): few round trips, and a differing key costs about 2 KiB of hashes
// where a binary tree would take ten round trips.
//
//     levels[0]          [root]
//     levels[d]          node i = SHA-256(children FANOUT*i .. FANOUT*i + FANOUT - 1 of levels[d + 1])
//     levels[last]       the store's leaves
// A tree of one leaf is that leaf.

import { createHash } from 'node:crypto'

export const FANOUT = 32

export interface MerkleTree {
  /** levels[0] holds the root; the last level holds the leaves. */
  readonly levels: readonly (readonly Buffer[])[]
}

/** The number of nodes per level, root first, of a tree over `leaves` leaves. */
export function levelSizes(leaves: number): number[] {
  const sizes = [leaves]
  while (sizes[0]! > 1) sizes.unshift(Math.ceil(sizes[0]! / FANOUT))
  return sizes
}

export function buildTree(leaves: readonly Buffer[]): MerkleTree {
  const levels: Buffer[][] = [[...leaves]]
  while (levels[0]!.length > 1) {
    const below = levels[0]!
    const level: Buffer[] = []
    for (let i = 0; i < below.length; i += FANOUT) {
      const h = createHash('sha256')
      for (const child of below.slice(i, i + FANOUT)) h.update(child)
      level.push(h.digest())
    }
    levels.unshift(level)
  }
  return { levels }
}

/** The child indexes, at depth + 1, of node `index` at `depth` of a tree shaped by `sizes`: [start, end). */
export function childRange(sizes: readonly number[], depth: number, index: number): [number, number] {
  const below = sizes[depth + 1]!
  return [index * FANOUT, Math.min(below, (index + 1) * FANOUT)]
}
