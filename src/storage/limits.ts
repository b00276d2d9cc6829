// The bounds a replica store enforces, and why these numbers.
//
// Two kinds of limit, kept apart on purpose:
//  - Hard limits (`StoreLimits.maxKeyBytes`, `maxValueBytes`): what the engine can store at all. Every
//    write obeys them, replica sync included, because a write the engine refuses cannot be made.
//  - Policy limits (`WriteLimits`, per keyspace, DESIGN section 3): sibling warn/refuse and the largest
//    object a client may write. Only the coordinator's `update` obeys them; replica sync (`merge`: replication,
//    read repair, hinted handoff, anti-entropy) is exempt, since refusing it would keep replicas apart forever.
//
// Sizes are of the *encoded envelope* (all siblings, their clocks and values), which is what the engine
// stores and the network carries; a single client value is therefore always a little under the object limit.
//
// Why the defaults:
//  - keys: the engine takes keys up to 64 KiB; the store prefixes each key with its partition (2 bytes), so a
//    user key may have 64 KiB - 2 bytes.
//  - values: the engine's default maximum, 16 MiB; also what fits a default 32 MiB protocol frame with room.
//  - objects: half the engine's maximum (8 MiB), so that two concurrent maximal writes on different replicas
//    still merge into something the engine can store. Merges are exempt from the policy, not from physics.
//  - siblings: warn at 25, refuse above 100 -- Riak's figures. With dotted version vectors siblings only
//    come from writers that are concurrent in fact, so 25 already means a client is writing blind.

import { RingkvError } from '../errors.ts'

/** Bytes of the partition prefix in front of every user key in the engine (see store.ts). */
export const PARTITION_PREFIX_BYTES = 2
/** Partitions are numbered 0..MAX_PARTITION (a u16). */
export const MAX_PARTITION = 0xffff
/** The engine's default (and the store's assumed) maximum key size. */
export const ENGINE_MAX_KEY_BYTES = 64 * 1024
/** The largest user key: the engine's maximum less the partition prefix. */
export const MAX_KEY_BYTES = ENGINE_MAX_KEY_BYTES - PARTITION_PREFIX_BYTES
/** The engine's default maximum value size: the largest encoded envelope a store writes by default. */
export const DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024
export const DEFAULT_WARN_SIBLINGS = 25
export const DEFAULT_MAX_SIBLINGS = 100
export const DEFAULT_MAX_OBJECT_BYTES = 8 * 1024 * 1024

/** Per-keyspace policy for the coordinator's write (`ReplicaStore.update`). */
export interface WriteLimits {
  /** `update` reports `siblingWarning` when the result has at least this many siblings. */
  readonly warnSiblings: number
  /** `update` refuses (ERR_TOO_MANY_SIBLINGS) a result with more siblings than this. */
  readonly maxSiblings: number
  /** `update` refuses (ERR_OBJECT_TOO_LARGE) a result whose encoded envelope is larger than this. */
  readonly maxObjectBytes: number
}

/** Everything a store enforces: the hard limits, and the default policy for writes without their own. */
export interface StoreLimits extends WriteLimits {
  /** Largest user key, in bytes (at most MAX_KEY_BYTES). */
  readonly maxKeyBytes: number
  /**
   * Largest encoded envelope the store writes, for any operation; must not exceed the engine's
   * `maxValueBytes` (a store that opens its engine configures it to match).
   */
  readonly maxValueBytes: number
}

export const DEFAULT_STORE_LIMITS: StoreLimits = Object.freeze({
  maxKeyBytes: MAX_KEY_BYTES,
  maxValueBytes: DEFAULT_MAX_VALUE_BYTES,
  warnSiblings: DEFAULT_WARN_SIBLINGS,
  maxSiblings: DEFAULT_MAX_SIBLINGS,
  maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES,
})

function badLimit(message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message)
}

function integerIn(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badLimit(`${name} must be an integer between ${min} and ${max}, got ${String(value)}`)
  }
  return value
}

/** Store limits from partial options over the defaults, checked; errors name the bad option. */
export function storeLimits(options: Partial<StoreLimits> = {}): StoreLimits {
  if (options === null || typeof options !== 'object') throw badLimit('limits must be an object')
  const maxKeyBytes = integerIn(options.maxKeyBytes ?? MAX_KEY_BYTES, 'maxKeyBytes', 0, MAX_KEY_BYTES)
  // The engine accepts values up to 1 GiB when configured so.
  const maxValueBytes = integerIn(options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, 'maxValueBytes', 1, 1 << 30)
  const defaults: WriteLimits = {
    warnSiblings: DEFAULT_WARN_SIBLINGS,
    maxSiblings: DEFAULT_MAX_SIBLINGS,
    maxObjectBytes: Math.min(DEFAULT_MAX_OBJECT_BYTES, maxValueBytes),
  }
  const write = writeLimits(options, { ...defaults, maxKeyBytes, maxValueBytes })
  return Object.freeze({ maxKeyBytes, maxValueBytes, ...write })
}

/**
 * The write policy of one `update`: `options` over `base` (the store's defaults), checked against the store's
 * hard limit. Returns `base` itself when nothing is overridden.
 */
export function writeLimits(options: Partial<WriteLimits> | undefined, base: StoreLimits): WriteLimits {
  if (options === undefined) return base
  if (options === null || typeof options !== 'object') throw badLimit('write limits must be an object')
  const { warnSiblings, maxSiblings, maxObjectBytes } = options
  if (warnSiblings === undefined && maxSiblings === undefined && maxObjectBytes === undefined) return base
  return {
    warnSiblings: integerIn(warnSiblings ?? base.warnSiblings, 'warnSiblings', 1, Number.MAX_SAFE_INTEGER),
    maxSiblings: integerIn(maxSiblings ?? base.maxSiblings, 'maxSiblings', 1, Number.MAX_SAFE_INTEGER),
    maxObjectBytes: integerIn(maxObjectBytes ?? base.maxObjectBytes, 'maxObjectBytes', 1, base.maxValueBytes),
  }
}
