// The content digest of one partition, for Merkle anti-entropy (DESIGN section 6): the engine's definition
// (crates/engine/src/merkle.rs), restated here so that the in-memory store produces the same bytes as the
// native one and the two can be compared replica against replica.
//
// A partition's entries (storage key = u16 partition | user key, value = the encoded envelope) are cut into
// `segments` leaves by a hash of the storage key -- not by key order, which would need the key distribution --
// so one differing key changes exactly one leaf:
//     segment(key)   = (xxh3_64(storageKey) * segments) >> 64
//     entryHash      = SHA-256(u32 LE storageKey length | storageKey | u64 LE expiresAt | value)
//     leaf           = SHA-256(entry hashes of the leaf's keys, concatenated in key order)
//     root           = SHA-256(leaves, concatenated)
// Envelopes never use the engine's TTL (see store.ts), so `expiresAt` is always 0 here. Expired siblings are
// inside the envelope and hashed like any other: their causal context is data that replicas must agree on, or a
// stale replica could bring an overwritten value back.

import { createHash } from 'node:crypto'
import { xxh3 } from '@node-rs/xxhash'
import { RingkvError } from '../errors.ts'

/** The engine's bound on leaves per digest. */
export const MAX_SEGMENTS = 1 << 20
export const HASH_BYTES = 32

export interface PartitionDigest {
  /** SHA-256 over the leaves: equal roots mean equal content. */
  readonly root: Buffer
  /** `segments` leaf digests of HASH_BYTES each. */
  readonly leaves: Buffer[]
  /** Stored envelopes in the partition. */
  readonly entries: number
  /** Bytes of storage keys and encoded envelopes: what a full copy of the partition would move. */
  readonly bytes: number
}

export interface EntryHash {
  /** The user key (without the partition prefix). */
  readonly key: Buffer
  /** The entry's content hash (`entryHash` above). */
  readonly hash: Buffer
}

export function assertSegments(segments: unknown): asserts segments is number {
  if (typeof segments !== 'number' || !Number.isInteger(segments) || segments < 1 || segments > MAX_SEGMENTS) {
    throw new RingkvError('ERR_BAD_REQUEST', `segments must be an integer between 1 and ${MAX_SEGMENTS}, got ${String(segments)}`)
  }
}

/** Checks leaf indexes against `segments`; returns them as a set. */
export function leafSet(leaves: unknown, segments: number): Set<number> {
  if (!Array.isArray(leaves)) throw new RingkvError('ERR_BAD_REQUEST', 'leaves must be an array of leaf indexes')
  for (const l of leaves) {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= segments) {
      throw new RingkvError('ERR_BAD_REQUEST', `a leaf index must be an integer between 0 and ${segments - 1}, got ${String(l)}`)
    }
  }
  return new Set(leaves as number[])
}

function view(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

/** The leaf of a storage key. */
export function segmentOf(storageKey: Uint8Array, segments: number): number {
  return Number((xxh3.xxh64(view(storageKey)) * BigInt(segments)) >> 64n)
}

const ZERO_EXPIRY = Buffer.alloc(8)

/** The content hash of one stored entry. */
export function entryHash(storageKey: Uint8Array, value: Uint8Array): Buffer {
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32LE(storageKey.length, 0)
  return createHash('sha256').update(length).update(storageKey).update(ZERO_EXPIRY).update(value).digest()
}

/** The digest of a leaf with no entries. */
const EMPTY_LEAF = createHash('sha256').digest()

/** Builds a digest from entries fed in key order, as the engine does over a range. */
export class DigestBuilder {
  readonly #segments: number
  /** Hash states of the leaves that have entries; most leaves of a small partition have none. */
  readonly #leaves = new Map<number, ReturnType<typeof createHash>>()
  #entries = 0
  #bytes = 0

  constructor(segments: number) {
    assertSegments(segments)
    this.#segments = segments
  }

  add(storageKey: Uint8Array, value: Uint8Array): void {
    const leaf = segmentOf(storageKey, this.#segments)
    let h = this.#leaves.get(leaf)
    if (h === undefined) {
      h = createHash('sha256')
      this.#leaves.set(leaf, h)
    }
    h.update(entryHash(storageKey, value))
    this.#entries++
    this.#bytes += storageKey.length + value.length
  }

  finish(): PartitionDigest {
    const leaves = Array.from({ length: this.#segments }, (_, i) => this.#leaves.get(i)?.digest() ?? EMPTY_LEAF)
    const root = createHash('sha256')
    for (const l of leaves) root.update(l)
    return { root: root.digest(), leaves, entries: this.#entries, bytes: this.#bytes }
  }
}
