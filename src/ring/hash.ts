// Key hashing: where a key lands on the ring (DESIGN section 2).
//
// A key's position is the first 8 bytes of SHA-256(key) read as an unsigned big-endian 64-bit integer. SHA-256
// rather than a faster non-cryptographic hash because clients (other languages, token-aware routing) must
// compute the same position, and because adversarial keys must not be able to pile onto one partition.
//
// Every hash in the ring goes through `digestPrefix` (one key) or `partitionsOf` (a batch). The hot path
// (`partitionOf`, once per request on the client and on the coordinator) never builds a bigint: the partition is
// the top log2(Q) <= 16 bits of the first 32-bit word, which the native addon computes in ~0.15 us against
// ~1.5 us for node:crypto's one-shot hash (it builds a Buffer of the whole digest). Without the addon (a client
// on a platform it was not built for) node:crypto gives the same words.

import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import { partitionBits } from './partitions.ts'

/** SHA-256(key)[0..4) as an unsigned integer, from the native addon; undefined when it cannot be loaded. */
const nativeRingWord: ((key: Uint8Array) => number) | undefined = (() => {
  try {
    const binding = createRequire(import.meta.url)('../../native/index.cjs') as { ringHasher?: () => (key: Uint8Array) => number }
    return binding.ringHasher?.()
  } catch {
    return undefined
  }
})()

// crypto.hash (Node >= 20.12) is a one-shot call that skips the Hash object; about twice as fast for short keys.
const oneShot: ((algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer) | undefined =
  typeof crypto.hash === 'function' ? (crypto.hash as (a: string, d: Uint8Array, e: 'buffer') => Buffer) : undefined

function sha256(key: Uint8Array): Buffer {
  return oneShot !== undefined ? oneShot('sha256', key, 'buffer') : crypto.createHash('sha256').update(key).digest()
}

/** The first 32 bits of SHA-256(key) with node:crypto (what the native ringWord computes). */
export function digestPrefixPortable(key: Uint8Array): number {
  return sha256(key).readUInt32BE(0)
}

/** The first 32 bits of SHA-256(key): enough for any partition lookup. */
const digestPrefix: (key: Uint8Array) => number = nativeRingWord ?? digestPrefixPortable

function topBits(word: number, bits: number): number {
  // `>>> 32` is a no-op in JavaScript, so Q = 1 needs its own case.
  return bits === 0 ? 0 : word >>> (32 - bits)
}

/** The key's position on the ring: SHA-256(key)[0..8) as an unsigned 64-bit integer. */
export function keyPosition(key: Uint8Array): bigint {
  return sha256(key).readBigUInt64BE(0)
}

/** The partition of one key. */
export function partitionOf(key: Uint8Array, q: number): number {
  return topBits(digestPrefix(key), partitionBits(q))
}

/** The partitions of many keys; the seam for a native batched SHA-256. */
export function partitionsOf(keys: readonly Uint8Array[], q: number): Uint32Array {
  const bits = partitionBits(q)
  const out = new Uint32Array(keys.length)
  for (let i = 0; i < keys.length; i++) out[i] = topBits(digestPrefix(keys[i]!), bits)
  return out
}
