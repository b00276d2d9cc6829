// The stored envelope of DESIGN section 3: a set of siblings, each tagged with a dot (the one event that
// wrote it), plus the causal context -- a version vector of every event the envelope has seen. This is
// Riak's dotted version vector set in the dot-kernel formulation of Almeida et al. ("Delta State Replicated
// Data Types"): a sibling survives a merge unless the other side has seen its dot and no longer holds it.
// Because every write discards exactly the siblings its client had read, siblings never outnumber the
// writers that are concurrent in fact, where plain version vectors per sibling grow with every retry.
//
// Invariants, established by every function here and checked by the decoder and createEnvelope:
//  - every sibling's dot is covered by the context (counter <= context[actor]);
//  - dots are unique; siblings are sorted by (actor, counter) -- the canonical order of the encoding;
//  - a sibling's value is bytes, or null for a tombstone (a delete that must win over older writes).
//
// Time enters only as data: `timestamp` is the coordinator's clock at the write (for lww and tombstone grace),
// `expiresAt` an absolute expiry (0 = never). Functions that need "now" take it as a parameter.

import { RingkvError } from '../errors.ts'
import { assertActor, vv, vvGet, vvMerge, type VersionVector } from './version-vector.ts'

export interface Dot {
  readonly actor: string
  readonly counter: number
}

export interface Sibling {
  readonly dot: Dot
  /** The value, or null for a tombstone. */
  readonly value: Uint8Array | null
  /** Milliseconds since the epoch on the coordinator that wrote it. */
  readonly timestamp: number
  /** Milliseconds since the epoch after which the value is gone; 0 = never. */
  readonly expiresAt: number
}

export interface Envelope {
  /** Every event this envelope has seen, including the dots of siblings it no longer holds. */
  readonly context: VersionVector
  /** Sorted by (actor, counter). */
  readonly siblings: readonly Sibling[]
}

export interface Write {
  readonly value: Uint8Array | null
  readonly timestamp: number
  /** 0 or absent = never expires. */
  readonly expiresAt?: number
}

function bad(message: string): RingkvError {
  return new RingkvError('ERR_BAD_ENVELOPE', message)
}

export function compareDots(a: Dot, b: Dot): number {
  if (a.actor !== b.actor) return a.actor < b.actor ? -1 : 1
  return a.counter - b.counter
}

/** The context has seen this dot. */
export function covers(context: VersionVector, dot: Dot): boolean {
  return vvGet(context, dot.actor) >= dot.counter
}

function checkTime(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${what} must be a non-negative integer number of milliseconds, got ${String(value)}`)
  }
  return value
}

/**
 * The coordinator's event: writes `write` with a new dot of `actor`, superseding the siblings that the client
 * context covers (all that the client read). Without a client context nothing is superseded: the write
 * becomes one more sibling.
 */
export function updateEnvelope(
  stored: Envelope | undefined,
  clientContext: VersionVector | undefined,
  actor: string,
  write: Write,
): Envelope {
  assertActor(actor, 'ERR_BAD_ENVELOPE')
  if (write.value !== null && !(write.value instanceof Uint8Array)) throw bad('a written value must be a Uint8Array or null (tombstone)')
  const timestamp = checkTime(write.timestamp, 'timestamp')
  const expiresAt = checkTime(write.expiresAt ?? 0, 'expiresAt')
  const storedContext = stored?.context ?? vv()
  const context = clientContext === undefined ? storedContext : vvMerge(storedContext, clientContext)
  // The stored context is the replica's own record for its actor; the client's is taken too so that a
  // forged or stale context can never make a dot be issued twice.
  const counter = vvGet(context, actor) + 1
  const kept = (stored?.siblings ?? []).filter((s) => clientContext === undefined || !covers(clientContext, s.dot))
  const sibling: Sibling = { dot: { actor, counter }, value: write.value, timestamp, expiresAt }
  const next = new Map(context)
  next.set(actor, counter)
  // The new dot is the largest of its actor, so it sorts after that actor's kept siblings.
  const siblings = [...kept, sibling].sort((a, b) => compareDots(a.dot, b.dot))
  return { context: next, siblings }
}

/**
 * Replica sync and read repair: the join of two envelopes. A sibling survives unless the other side has
 * seen its dot and no longer holds it; contexts are joined. Commutative, associative and idempotent.
 */
export function mergeEnvelopes(a: Envelope, b: Envelope): Envelope {
  const out: Sibling[] = []
  const x = a.siblings
  const y = b.siblings
  let i = 0
  let j = 0
  while (i < x.length || j < y.length) {
    const order = i === x.length ? 1 : j === y.length ? -1 : compareDots(x[i]!.dot, y[j]!.dot)
    if (order === 0) {
      out.push(sameDot(x[i]!, y[j]!))
      i++
      j++
    } else if (order < 0) {
      if (!covers(b.context, x[i]!.dot)) out.push(x[i]!)
      i++
    } else {
      if (!covers(a.context, y[j]!.dot)) out.push(y[j]!)
      j++
    }
  }
  return { context: vvMerge(a.context, b.context), siblings: out }
}

/**
 * One dot names one write, so both sides hold the same sibling -- unless something is corrupt. Picking by
 * content rather than by side keeps merge commutative even then.
 */
function sameDot(p: Sibling, q: Sibling): Sibling {
  return compareContent(p, q) >= 0 ? p : q
}

function compareContent(p: Sibling, q: Sibling): number {
  if (p.timestamp !== q.timestamp) return p.timestamp - q.timestamp
  if (p.expiresAt !== q.expiresAt) return p.expiresAt - q.expiresAt
  if (p.value === null || q.value === null) return (p.value === null ? 0 : 1) - (q.value === null ? 0 : 1)
  return Buffer.compare(p.value, q.value)
}

/** The opaque causal context a client gets with a read and sends back with its next write. */
export function contextOf(env: Envelope): VersionVector {
  return env.context
}

export function siblingCount(env: Envelope): number {
  return env.siblings.length
}

function isExpired(s: Sibling, now: number): boolean {
  return s.expiresAt !== 0 && s.expiresAt <= now
}

/** What a read returns: values that are neither deleted nor expired. */
export function liveSiblings(env: Envelope, now: number): Sibling[] {
  return env.siblings.filter((s) => s.value !== null && !isExpired(s, now))
}

/** Nothing left to read: every sibling is a tombstone or expired (or there are none). */
export function isObsolete(env: Envelope, now: number): boolean {
  return liveSiblings(env, now).length === 0
}

/** The newest sibling timestamp (0 without siblings): when a tombstone's grace period starts. */
export function lastModified(env: Envelope): number {
  let t = 0
  for (const s of env.siblings) if (s.timestamp > t) t = s.timestamp
  return t
}

/**
 * Last-write-wins for `lww` keyspaces: keeps the sibling with the largest timestamp (ties broken by the
 * larger dot, so every replica picks the same one) and the whole context, so merges elsewhere drop the losers
 * too. A tombstone can win; an expired winner reads as absent. Loses writes under clock skew, by definition.
 */
export function resolveLww(env: Envelope): Envelope {
  if (env.siblings.length <= 1) return env
  let winner = env.siblings[0]!
  for (const s of env.siblings) {
    if (s.timestamp > winner.timestamp || (s.timestamp === winner.timestamp && compareDots(s.dot, winner.dot) > 0)) winner = s
  }
  return { context: env.context, siblings: [winner] }
}

/**
 * Drops expired values. Safe at any time: the context still covers their dots, so a merge with a replica
 * that kept them drops them there too -- expired data is never resurrected by repair.
 */
export function dropExpired(env: Envelope, now: number): Envelope {
  const kept = env.siblings.filter((s) => s.value === null || !isExpired(s, now))
  return kept.length === env.siblings.length ? env : { context: env.context, siblings: kept }
}

/** Same context and same siblings (dots and content). */
export function envelopesEqual(a: Envelope, b: Envelope): boolean {
  if (a.siblings.length !== b.siblings.length || a.context.size !== b.context.size) return false
  for (const [actor, counter] of a.context) if (b.context.get(actor) !== counter) return false
  return a.siblings.every((s, i) => {
    const t = b.siblings[i]!
    return compareDots(s.dot, t.dot) === 0 && compareContent(s, t) === 0
  })
}

/** Builds an envelope from parts, checking every invariant above; siblings may come in any order. */
export function createEnvelope(context: VersionVector, siblings: readonly Sibling[]): Envelope {
  const sorted = [...siblings].sort((a, b) => compareDots(a.dot, b.dot))
  sorted.forEach((s, i) => {
    assertActor(s.dot.actor, 'ERR_BAD_ENVELOPE')
    if (!Number.isSafeInteger(s.dot.counter) || s.dot.counter < 1) throw bad(`sibling counter must be a positive integer, got ${s.dot.counter}`)
    if (!covers(context, s.dot)) throw bad(`sibling ${s.dot.actor}:${s.dot.counter} is not covered by the context`)
    if (i > 0 && compareDots(sorted[i - 1]!.dot, s.dot) === 0) throw bad(`dot ${s.dot.actor}:${s.dot.counter} appears twice`)
    if (s.value !== null && !(s.value instanceof Uint8Array)) throw bad('a sibling value must be a Uint8Array or null')
    checkTime(s.timestamp, 'timestamp')
    checkTime(s.expiresAt, 'expiresAt')
  })
  let checked: VersionVector
  try {
    checked = vv(context)
  } catch (err) {
    throw new RingkvError('ERR_BAD_ENVELOPE', `bad envelope context: ${(err as Error).message}`, { cause: err })
  }
  return { context: checked, siblings: sorted }
}
