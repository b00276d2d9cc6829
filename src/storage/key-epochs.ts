// Per-key actor epochs: why a replica never issues a dot twice for one key, even after losing the key.
//
// A dot (actor, counter) names one write, and the coordinating replica takes the next counter from its stored
// envelope of the key (updateEnvelope). If the key is gone from this store while other replicas still hold
// envelopes with this actor's dots -- garbage collection removed a tombstone here first, an operator removed
// the key, a disk lost or damaged it, anti-entropy replaced a corrupt copy by an older one -- the counter starts
// again below dots already issued. A replica holding the old write then takes the new one for a write it has
// seen and drops it: an acknowledged write lost (Riak's "kv679"; the simulator's `tamper-removals-during-run`).
//
// So the actor that issues a key's dots here is "<node>#<epoch>/<k>", k a key epoch drawn from a counter of
// this store, and a write keeps a key's actor only while the store can vouch that it holds that actor's every
// dot for the key:
//  - the stored envelope names an actor of this issuer with k >= `reuseFrom`: the highest such k is kept;
//  - otherwise (the key is absent, was only ever replicated here, or names only retired epochs) the write
//    takes the next k, which no replica has seen. Its dots are concurrent with everything issued before, so a
//    write that lost its coordinator's copy becomes a sibling instead of vanishing.
// A merge that brings dots of this issuer's actors beyond what the stored envelope holds is evidence that the
// store lost something it issued. The key's actors are then retired: its next write here takes a new epoch
// (`retired`, in memory; past RETIRED_MAX keys, or at the next open after any, every epoch below the counter
// is retired at once through `reuseFrom`). The common case of this -- a tombstone collected here, brought back
// by a replica that had not collected it yet -- thus costs one more clock entry on that key, not a lost write.
//
// The counter lives in one small record under the empty storage key (outside every partition's range), leased
// in blocks of LEASE_BLOCK: the record is written before the first epoch of a block is issued, through the same
// engine and ahead of the write that uses it, so a write that survived a crash finds its lease survived too.
// An open starts after the last lease; epochs skipped that way are never used.

import { RingkvError } from '../errors.ts'
import type { Envelope } from '../versioning/index.ts'

/** The storage key of the record: the empty key, outside every partition's range. */
export const KEY_EPOCHS_STORAGE_KEY: Buffer = Buffer.alloc(0)

/** Epochs leased per record write. */
export const LEASE_BLOCK = 1024

/** Keys retired one by one before every epoch below the counter is retired at once. */
export const RETIRED_MAX = 65_536

const SEPARATOR = '/'
const NO_PREFIX = new Uint8Array(0)
const SLASH = 0x2f

/** The actor of key epoch `epoch` of `issuer` ("<node>#<epoch>"). */
export function keyActor(issuer: string, epoch: number): string {
  return `${issuer}${SEPARATOR}${epoch.toString(36)}`
}

interface KeyEpochsRecord {
  /** The actor (node and data epoch) whose key epochs these are; a new one starts the counter's use afresh. */
  issuer: string | null
  /** Every key epoch below this was or may have been issued. */
  leaseEnd: number
  /** Key epochs below this are retired: never issued again. */
  reuseFrom: number
  /** Some keys were retired one by one when the record was written: retire everything at the next open. */
  retiring: boolean
}

/** What `choose` decided for one write, applied by `commit` once the write is certain to happen. */
export interface ActorChoice {
  readonly actor: string
  readonly issuer: string
  /** The key epoch of `actor`. */
  readonly epoch: number
  /** A new key epoch (the counter advances when the write happens). */
  readonly fresh: boolean
}

export class KeyEpochs {
  #issuer: string | undefined
  #next: number
  #leaseEnd: number
  #reuseFrom: number
  #retiring: boolean
  /** Storage keys (latin1) whose actors a merge showed to be incomplete here. */
  readonly #retired = new Set<string>()
  #prefix: Uint8Array = NO_PREFIX
  #prefixOf: string | undefined

  /** The state from the record's bytes (undefined: a new store); ERR_CORRUPTION if they do not parse. */
  constructor(bytes: Uint8Array | undefined) {
    const record = decodeRecord(bytes)
    this.#issuer = record.issuer ?? undefined
    // What the last run may have issued is unknown beyond its lease: start after it.
    this.#next = record.leaseEnd
    this.#leaseEnd = record.leaseEnd
    this.#reuseFrom = record.retiring ? record.leaseEnd : record.reuseFrom
    this.#retiring = false
  }

  /** The actor for a write by `issuer` to the key at `storageKey`, whose stored envelope is `stored`. */
  choose(issuer: string, storageKey: Uint8Array, stored: Envelope | undefined): ActorChoice {
    if (typeof issuer !== 'string' || issuer.length === 0 || issuer.includes(SEPARATOR)) {
      throw new RingkvError(
        'ERR_BAD_ENVELOPE',
        `the issuer (actor) of a write must be a non-empty string without "${SEPARATOR}", got ${typeof issuer === 'string' ? JSON.stringify(issuer) : typeof issuer}`,
      )
    }
    if (issuer === this.#issuer && stored !== undefined && !this.#retired.has(latin1(storageKey))) {
      const epoch = this.#highestEpoch(stored, issuer)
      if (epoch >= this.#reuseFrom) return { actor: keyActor(issuer, epoch), issuer, epoch, fresh: false }
    }
    return { actor: keyActor(issuer, this.#next), issuer, epoch: this.#next, fresh: true }
  }

  /**
   * `choose` as numbers, for a write that decides its actor where the stored envelope is (Engine.updateEnvelope):
   * the key keeps its highest epoch of `issuer` when that is at least `reuseFrom` (-1: it may not keep any), else
   * takes `nextEpoch`, which it may only when `mayTakeNext` (no record needs writing first). Undefined when only
   * `choose` and `commit` can decide: an issuer other than the current one (its first write writes the record).
   * A fresh epoch taken must be applied with `commit`.
   */
  planInPlace(issuer: string, storageKey: Uint8Array): { reuseFrom: number; nextEpoch: number; mayTakeNext: boolean } | undefined {
    if (issuer !== this.#issuer) return undefined
    const retired = this.#retired.size > 0 && this.#retired.has(latin1(storageKey))
    return { reuseFrom: retired ? -1 : this.#reuseFrom, nextEpoch: this.#next, mayTakeNext: this.#next + 1 <= this.#leaseEnd }
  }

  /**
   * Applies a choice whose write is being made: the record bytes to write first (before the write, in the same
   * engine), or undefined when the lease still covers it.
   */
  commit(choice: ActorChoice, storageKey: Uint8Array): Buffer | undefined {
    if (!choice.fresh) return undefined
    this.#retired.delete(latin1(storageKey))
    let changed = false
    if (choice.issuer !== this.#issuer) {
      // A new node epoch: none of its actors exists anywhere yet.
      this.#issuer = choice.issuer
      this.#retired.clear()
      changed = true
    }
    this.#next = choice.epoch + 1
    if (this.#next > this.#leaseEnd) {
      this.#leaseEnd = this.#next + LEASE_BLOCK
      changed = true
    }
    return changed ? this.#record() : undefined
  }

  /**
   * After a merge changed the stored envelope of `storageKey` from `stored` with `incoming`: retires the key's
   * actors when `incoming` holds dots of this store's issuer that `stored` lacked. Returns the record to write
   * first when that changed it.
   */
  noteMerge(storageKey: Uint8Array, stored: Envelope | undefined, incoming: Envelope): Buffer | undefined {
    const issuer = this.#issuer
    if (issuer === undefined) return undefined
    let lost = false
    for (const [actor, counter] of incoming.context) {
      // On every changing merge: a prefix test, no substring.
      const mine = actor.length > issuer.length + 1 && actor.charCodeAt(issuer.length) === SLASH && actor.startsWith(issuer)
      if (mine && counter > (stored?.context.get(actor) ?? 0)) {
        lost = true
        break
      }
    }
    if (!lost) return undefined
    if (this.#retired.size >= RETIRED_MAX) {
      this.#retired.clear()
      this.#reuseFrom = this.#next
      this.#retiring = false
      return this.#record()
    }
    this.#retired.add(latin1(storageKey))
    if (this.#retiring) return undefined
    this.#retiring = true
    return this.#record()
  }

  /**
   * "<issuer>/" as UTF-8 bytes (empty while there is no issuer): the prefix of every actor this store issues, what
   * noteMerge looks for in incoming contexts. The native merge (Engine.mergeEnvelope) leaves a merge bringing
   * such dots to the general path, which calls noteMerge.
   */
  get actorPrefix(): Uint8Array {
    const issuer = this.#issuer
    if (issuer === undefined) return NO_PREFIX
    if (this.#prefixOf !== issuer) {
      this.#prefix = Buffer.from(issuer + SEPARATOR, 'utf8')
      this.#prefixOf = issuer
    }
    return this.#prefix
  }

  /** A collected or removed key: its next write takes a new epoch anyway. */
  forget(storageKey: Uint8Array): void {
    this.#retired.delete(latin1(storageKey))
  }

  /** For stats and tests: the next key epoch and how many keys are retired one by one. */
  get state(): { next: number; reuseFrom: number; retiredKeys: number } {
    return { next: this.#next, reuseFrom: this.#reuseFrom, retiredKeys: this.#retired.size }
  }

  #highestEpoch(stored: Envelope, issuer: string): number {
    let best = -1
    const prefix = issuer + SEPARATOR
    for (const actor of stored.context.keys()) {
      if (actor.length <= prefix.length || !actor.startsWith(prefix)) continue
      const epoch = parseEpoch(actor.slice(prefix.length))
      if (epoch > best) best = epoch
    }
    return best
  }

  #record(): Buffer {
    const record: KeyEpochsRecord = {
      issuer: this.#issuer ?? null,
      leaseEnd: this.#leaseEnd,
      reuseFrom: this.#reuseFrom,
      retiring: this.#retiring,
    }
    return Buffer.from(JSON.stringify({ keyEpochs: record }))
  }
}

function latin1(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

/** A base-36 key epoch, or -1 for anything else (an actor some other scheme made). */
function parseEpoch(text: string): number {
  if (!/^[0-9a-z]{1,11}$/.test(text)) return -1
  const n = parseInt(text, 36)
  return Number.isSafeInteger(n) ? n : -1
}

const EMPTY_RECORD: KeyEpochsRecord = { issuer: null, leaseEnd: 0, reuseFrom: 0, retiring: false }

function decodeRecord(bytes: Uint8Array | undefined): KeyEpochsRecord {
  if (bytes === undefined) return EMPTY_RECORD
  const corrupt = (why: string): RingkvError => new RingkvError('ERR_CORRUPTION', `the store's key epoch record ${why}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    throw new RingkvError('ERR_CORRUPTION', `the store's key epoch record does not parse: ${(e as Error).message}`, { cause: e })
  }
  if (parsed === null || typeof parsed !== 'object') throw corrupt('is not an object')
  const r = (parsed as { keyEpochs?: Partial<KeyEpochsRecord> }).keyEpochs
  // Stores written before key epochs kept a dot floor here; every key actor is new to them.
  if (r === undefined && 'floor' in parsed) return EMPTY_RECORD
  if (r === null || typeof r !== 'object') throw corrupt('has no keyEpochs object')
  const count = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw corrupt(`has a ${what} that is not a non-negative integer: ${String(v)}`)
    return v
  }
  if (r.issuer !== null && (typeof r.issuer !== 'string' || r.issuer.length === 0)) throw corrupt('has an issuer that is not a non-empty string')
  if (typeof r.retiring !== 'boolean') throw corrupt('has a retiring flag that is not a boolean')
  const leaseEnd = count(r.leaseEnd, 'leaseEnd')
  const reuseFrom = count(r.reuseFrom, 'reuseFrom')
  if (reuseFrom > leaseEnd) throw corrupt(`retires epochs (${reuseFrom}) beyond its lease (${leaseEnd})`)
  return { issuer: r.issuer ?? null, leaseEnd, reuseFrom, retiring: r.retiring }
}
