// The dot floor: the highest counter of each actor among the envelopes that garbage collection removed.
//
// Why it exists. A dot (actor, counter) names one write, and the coordinating replica issues the next counter
// from its stored envelope (updateEnvelope). Once garbage collection removes a key's tombstone, that record is
// gone, and a new write to the key here would issue counter 1 again. Replicas collect at different moments
// (each after its own confirmation round), so another replica may still hold the old tombstone, whose context
// covers that counter: merging the new write there would treat it as already seen and drop it, and the
// tombstone coming back through anti-entropy would delete it here too -- an acknowledged write lost (Riak's
// "kv679"). So a write to a key that has no stored envelope issues counters above the floor of its actor:
// a new dot is then always one that no collected context covered.
//
// Claiming "seen everything of this actor up to the floor" is safe for the coordinating actor itself: its own
// earlier dots for the key were issued here, so they were all covered by the tombstone that was collected, and
// counters it never issued for the key name no write. Other actors' floors are never claimed: their dots are
// not this replica's to vouch for.
//
// One floor for the whole store (not per key, which is what collection removes, nor per partition): it costs one
// small record and a few bytes more per counter of a new key. It lives under the empty storage key, which lies
// before every partition's key range, and is written in the same atomic batch as the removal it accounts for.

import { RingkvError } from '../errors.ts'
import type { Envelope, VersionVector } from '../versioning/index.ts'

/** The storage key of the floor record: the empty key, outside every partition's range. */
export const FLOOR_STORAGE_KEY: Buffer = Buffer.alloc(0)

export type DotFloor = ReadonlyMap<string, number>

export const NO_FLOOR: DotFloor = new Map()

/** The record's bytes: JSON `{"floor": {actor: counter}}`, small and readable in a dump. */
export function encodeFloor(floor: DotFloor): Buffer {
  return Buffer.from(JSON.stringify({ floor: Object.fromEntries([...floor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) }))
}

export function decodeFloor(bytes: Uint8Array | undefined): DotFloor {
  if (bytes === undefined) return NO_FLOOR
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    throw new RingkvError('ERR_CORRUPTION', `the store's dot floor record does not parse: ${(e as Error).message}`, { cause: e })
  }
  const floor = (parsed as { floor?: unknown } | null)?.floor
  if (floor === null || typeof floor !== 'object' || Array.isArray(floor)) {
    throw new RingkvError('ERR_CORRUPTION', "the store's dot floor record has no floor object")
  }
  const out = new Map<string, number>()
  for (const [actor, counter] of Object.entries(floor)) {
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) {
      throw new RingkvError('ERR_CORRUPTION', `the store's dot floor of ${actor} is not a positive integer: ${String(counter)}`)
    }
    out.set(actor, counter)
  }
  return out
}

/** The floor raised to cover `context`, or undefined when it already does. */
export function raiseFloor(floor: DotFloor, context: VersionVector): Map<string, number> | undefined {
  let next: Map<string, number> | undefined
  for (const [actor, counter] of context) {
    if (counter > (floor.get(actor) ?? 0)) {
      next ??= new Map(floor)
      next.set(actor, counter)
    }
  }
  return next
}

/**
 * What an absent key is, for a write by `actor`: nothing, with the actor's floor as the context, so that the
 * write's dot comes after every collected one. Undefined when the actor has no floor (the key starts afresh).
 */
export function floorEnvelope(floor: DotFloor, actor: string): Envelope | undefined {
  const counter = floor.get(actor)
  return counter === undefined ? undefined : { context: new Map([[actor, counter]]), siblings: [] }
}
