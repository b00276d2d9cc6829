// Version vectors: actor -> counter, the causal context of DESIGN section 3.
//
// An actor is one incarnation of a node's storage: `actorId(node, epoch)` gives "n1#3", and the epoch changes
// whenever a node's data is wiped. A node that lost its data therefore never reuses a counter it issued
// before, which would otherwise let a new write masquerade as an old, already-superseded one.
//
// A VersionVector is a ReadonlyMap that nobody mutates: every operation returns a new map. Entries are
// positive safe integers; an absent actor means 0, so there are no zero entries. Counters are per key (an
// envelope's context), not per node, so 2^53 is unreachable in practice.

import { RingkvError } from '../errors.ts'

export type VersionVector = ReadonlyMap<string, number>
export type Ordering = 'equal' | 'before' | 'after' | 'concurrent'

/** Actor names are carried in every stored envelope and every client context, so they stay short. */
export const MAX_ACTOR_BYTES = 255

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Throws ERR_BAD_CONTEXT unless `actor` is a non-empty, well-formed string of at most 255 UTF-8 bytes. */
export function assertActor(actor: unknown, code = 'ERR_BAD_CONTEXT'): asserts actor is string {
  if (typeof actor !== 'string' || actor.length === 0) throw new RingkvError(code, 'an actor must be a non-empty string')
  if (Buffer.byteLength(actor, 'utf8') > MAX_ACTOR_BYTES) {
    throw new RingkvError(code, `actor ${JSON.stringify(actor.slice(0, 32))}... is longer than ${MAX_ACTOR_BYTES} UTF-8 bytes`)
  }
  // A lone surrogate does not survive UTF-8, so two different actors would encode alike.
  if (LONE_SURROGATE.test(actor)) throw new RingkvError(code, 'an actor must not contain a lone surrogate')
}

export function assertCounter(counter: unknown, code = 'ERR_BAD_CONTEXT'): asserts counter is number {
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) {
    throw new RingkvError(code, `a counter must be an integer between 1 and 2^53-1, got ${String(counter)}`)
  }
}

/** The actor of a node incarnation: "<node>#<epoch>". */
export function actorId(node: string, epoch: number): string {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RingkvError('ERR_BAD_CONTEXT', `epoch must be a non-negative integer, got ${epoch}`)
  const actor = `${node}#${epoch}`
  assertActor(actor)
  return actor
}

/** Splits an actor made by actorId; the node id may itself contain '#'. */
export function parseActor(actor: string): { node: string; epoch: number } | undefined {
  const at = actor.lastIndexOf('#')
  if (at <= 0) return undefined
  const epoch = Number(actor.slice(at + 1))
  if (!/^(0|[1-9][0-9]*)$/.test(actor.slice(at + 1)) || !Number.isSafeInteger(epoch)) return undefined
  return { node: actor.slice(0, at), epoch }
}

/** A validated version vector from entries or a plain object; zero counters are dropped. */
export function vv(entries: Iterable<readonly [string, number]> | Readonly<Record<string, number>> = []): VersionVector {
  const out = new Map<string, number>()
  const list = Symbol.iterator in entries ? (entries as Iterable<readonly [string, number]>) : Object.entries(entries)
  for (const [actor, counter] of list) {
    assertActor(actor)
    if (counter === 0) continue
    assertCounter(counter)
    if (out.has(actor)) throw new RingkvError('ERR_BAD_CONTEXT', `actor ${JSON.stringify(actor)} appears twice`)
    out.set(actor, counter)
  }
  return out
}

export function vvGet(v: VersionVector, actor: string): number {
  return v.get(actor) ?? 0
}

export function vvIncrement(v: VersionVector, actor: string): VersionVector {
  assertActor(actor)
  const out = new Map(v)
  out.set(actor, vvGet(v, actor) + 1)
  return out
}

/** Pointwise maximum: the least vector that descends both. */
export function vvMerge(a: VersionVector, b: VersionVector): VersionVector {
  if (b.size === 0) return a
  if (a.size === 0) return b
  const out = new Map(a)
  for (const [actor, counter] of b) if (counter > (out.get(actor) ?? 0)) out.set(actor, counter)
  return out
}

/** a has seen everything b has: a >= b pointwise. */
export function vvDescends(a: VersionVector, b: VersionVector): boolean {
  for (const [actor, counter] of b) if ((a.get(actor) ?? 0) < counter) return false
  return true
}

export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  if (a.size !== b.size) return false
  for (const [actor, counter] of a) if (b.get(actor) !== counter) return false
  return true
}

/** How a relates to b: 'before' means b has seen all of a and more. */
export function vvCompare(a: VersionVector, b: VersionVector): Ordering {
  const aHasAll = vvDescends(a, b)
  const bHasAll = vvDescends(b, a)
  if (aHasAll && bHasAll) return 'equal'
  if (aHasAll) return 'after'
  if (bHasAll) return 'before'
  return 'concurrent'
}

/** Entries sorted by actor (JavaScript string order): the canonical order of every encoding. */
export function vvEntries(v: VersionVector): Array<[string, number]> {
  return [...v].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
}
