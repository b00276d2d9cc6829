// The fixed partitioning of the 64-bit hash space (DESIGN section 2, the Dynamo paper's strategy 3).
//
// Q equal partitions, Q a power of two, so partition p covers positions [p * 2^64/Q, (p+1) * 2^64/Q) and the
// partition of a position is just its top log2(Q) bits: no search, no table. Q is fixed when a cluster is
// created; everything keyed by partition (Merkle trees, hints, handoff streams) depends on it.
//
// Limits, and why:
// - MAX_PARTITIONS = 65536: a ring map stores an owner per partition (2 bytes each in the binary encoding) and
//   is gossiped, so 128 KiB is the ceiling; it is also the most the top 16 bits of a key hash can address with
//   the 32-bit fast path in hash.ts. Riak's largest recommended ring is 1024; the default here is 4096.
// - MIN 1: a single partition is legal (tests, a one-node development store); see preference.ts for what it
//   means for replication.
// - MAX_REPLICATION = 7: nobody runs Dynamo quorums wider than that, and claim.ts weighs node conflicts above
//   the sum of all host conflicts in a window, which needs N(N-1) < 64 (see the weights there).

import { RingkvError } from '../errors.ts'

export const DEFAULT_PARTITIONS = 4096
export const MAX_PARTITIONS = 65536
export const DEFAULT_REPLICATION = 3
export const MAX_REPLICATION = 7

/** log2(q) after checking that q is a legal partition count. */
export function partitionBits(q: number): number {
  assertPartitionCount(q)
  return 31 - Math.clz32(q)
}

export function assertPartitionCount(q: unknown, what = 'q'): asserts q is number {
  if (typeof q !== 'number' || !Number.isInteger(q) || q < 1 || q > MAX_PARTITIONS || (q & (q - 1)) !== 0) {
    throw new RingkvError('ERR_BAD_RING', `${what} must be a power of two between 1 and ${MAX_PARTITIONS}, got ${String(q)}`, {
      details: { field: what, value: q },
    })
  }
}

export function assertReplication(n: unknown, what = 'n'): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_REPLICATION) {
    throw new RingkvError('ERR_BAD_RING', `${what} (replication factor) must be an integer between 1 and ${MAX_REPLICATION}, got ${String(n)}`, {
      details: { field: what, value: n },
    })
  }
}

export function assertPartition(p: unknown, q: number): asserts p is number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= q) {
    throw new RingkvError('ERR_BAD_RING', `partition must be an integer in [0, ${q}), got ${String(p)}`, {
      details: { field: 'partition', value: p, q },
    })
  }
}

const TWO_64 = 1n << 64n

/** First position (inclusive) of partition p. */
export function partitionStart(p: number, q: number): bigint {
  assertPartition(p, q)
  return (BigInt(p) * TWO_64) / BigInt(q)
}

/** Positions [start, end) covered by partition p; end is 2^64 for the last partition. */
export function partitionRange(p: number, q: number): { start: bigint; end: bigint } {
  assertPartition(p, q)
  return { start: (BigInt(p) * TWO_64) / BigInt(q), end: (BigInt(p + 1) * TWO_64) / BigInt(q) }
}

/** The partition holding a 64-bit position. */
export function partitionOfPosition(position: bigint, q: number): number {
  const bits = partitionBits(q)
  if (position < 0n || position >= TWO_64) {
    throw new RingkvError('ERR_BAD_RING', `position must be an unsigned 64-bit integer, got ${position}`)
  }
  return Number(position >> BigInt(64 - bits))
}
