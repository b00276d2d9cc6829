// When an envelope may be garbage collected (DESIGN section 3): never while anything in it can be read, and
// only after the grace period. Expired values count like tombstones: they are never returned, and once every
// replica holds the same obsolete envelope nothing can bring the value back.
//
// The grace period is what makes "every replica holds it" hold for good: a stale copy still in flight (a hint,
// a slow replication, a replica restored from an old backup) must arrive within it, or it could bring the
// collected value back. Ten days by default, as Cassandra's gc_grace_seconds, far beyond the age of any hint.
// The other half of the rule, the confirmation that every replica holds the same bytes, is the driver's
// (anti-entropy.ts).

import { isObsolete, type Envelope } from '../../versioning/index.ts'

/** When an obsolete envelope became obsolete: its newest tombstone's write or its last expiry. */
export function obsoleteSince(envelope: Envelope): number {
  let since = 0
  for (const s of envelope.siblings) since = Math.max(since, s.value === null ? s.timestamp : s.expiresAt)
  return since
}

/** Obsolete at `now`, and for at least `graceMs`. */
export function collectible(envelope: Envelope, now: number, graceMs: number): boolean {
  return isObsolete(envelope, now) && obsoleteSince(envelope) + graceMs <= now
}
