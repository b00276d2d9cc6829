// The hint store (DESIGN section 4): writes kept for replicas that could not take them, until they can.
//
// What it owns: one hint per (target node, partition, key) -- the envelope the target should merge -- with
// the time its oldest write was stored (`since`), and the bounds on all of them:
//
// - Collapse. A second hint for the same (target, key) merges into the first (mergeEnvelopes), keeping the
//   first one's `since`: a hot key written a thousand times while its replica is down is one hint, not a
//   thousand, and delivering it once brings the replica up to date.
// - Bytes. Every hint is charged its stored key and value plus ENTRY_OVERHEAD_BYTES for its entry in the
//   in-memory index, so `maxBytes` bounds the memory the index takes as well as the disk. When a new hint
//   would go over, the OLDEST hints (of any target) are dropped until it fits, and counted. Oldest rather
//   than newest because (a) they are the nearest to being dropped for age anyway, (b) they belong to the
//   replicas that have been down longest, which anti-entropy has to repair in any case, and (c) refusing new
//   hints would let one node that is down for hours take the whole budget, so that a second node that merely
//   restarts for a minute would get no hints at all. A hint larger than the whole budget is refused (counted).
// - Age. A hint older than `maxAgeMs` is dropped (counted) by `expire`, which the delivery loop calls on
//   every tick: a replica down that long needs anti-entropy, and a write to a key whose hint expired starts
//   a fresh one.
// Neither bound ever fails a client write: dropped hints leave their keys to anti-entropy.
//
// Order. Each target's hints are kept in insertion order, which is `since` order (a collapse keeps the
// hint's place and its `since`; a clock that steps back is clamped to the target's newest `since`), so the
// oldest hint of a target is its first and `expire` stops at the first young one. On open the index is
// rebuilt from the backing by one scan, sorted by `since`.
//
// Atomicity. `add` reads the stored hint, merges and writes in one synchronous turn (the backing applies a
// write during the call), so concurrent adds for one key cannot lose each other. A hint handed out by `take`
// carries a version; `remove` deletes it only if it has not changed since, so a write that collapsed into a
// hint while it was being delivered is delivered next time instead of being deleted unsent.
//
// Deletes are not waited for: a deleted hint that comes back after a crash is delivered again, and the
// target merges by clock, so redelivery is harmless.
import { RingkvError } from '../errors.ts'
import type { Clock, Logger } from '../runtime/index.ts'
import { decodeEnvelope, encodeEnvelope, envelopesEqual, mergeEnvelopes, type Envelope } from '../versioning/index.ts'
import type { HintBacking } from './backings.ts'
import { decodeHintKey, decodeHintValue, encodeHintKey, encodeHintValue } from './codec.ts'

/** Bytes a hint is charged for its index entry (the Map slot, the entry object and its key string). */
export const ENTRY_OVERHEAD_BYTES = 128

export interface HintStoreOptions {
  /** Total charged bytes of all hints. */
  maxBytes: number
  /** Hints older than this are dropped by `expire`. */
  maxAgeMs: number
  clock: Clock
  logger?: Logger
}

export interface HintStats {
  /** Hints waiting to be delivered. */
  pending: number
  /** Their charged bytes. */
  pendingBytes: number
  /** Age of the oldest pending hint, ms (0 when none): the replication lag. */
  oldestAgeMs: number
  /** Nodes with pending hints. */
  targets: number
  /** Hints written: new ones plus collapses that changed a pending hint. */
  stored: number
  /** Of those, merges into a pending hint for the same key. */
  collapsed: number
  /** Hints removed after their target acknowledged them. */
  removed: number
  /** Hints removed because their target refused them for good (see refusal.ts). */
  rejected: number
  droppedOverflow: number
  droppedExpired: number
  /** Stored hints that did not decode (dropped). */
  corrupt: number
  /** Writes of the backing that failed (those hints are gone). */
  writeFailures: number
}

export interface TargetStats {
  pending: number
  pendingBytes: number
  oldestAgeMs: number
}

/** A hint as handed out for delivery. */
export interface PendingHint {
  /** Identifies the hint within the store (its storage key as latin1). */
  readonly id: string
  readonly target: string
  readonly partition: number
  readonly key: Buffer
  /** The encoded envelope to deliver. */
  readonly envelope: Uint8Array
  readonly since: number
  /** Charged bytes. */
  readonly bytes: number
  /** Changes whenever the hint does; `remove` compares it. */
  readonly version: number
}

export interface AddResult {
  /** False when the hint was refused (larger than the whole budget); counted as an overflow drop. */
  readonly stored: boolean
  /** Whether anything was written (false for a refused hint or one that added nothing new). */
  readonly changed: boolean
  /** Resolves when the hint is durable per the backing's mode. */
  readonly durable: Promise<void>
}

interface Entry {
  readonly storageKey: Buffer
  since: number
  bytes: number
  version: number
}

/** One target's hints, in `since` order, with their sum and the newest `since` kept as they change. */
class TargetHints {
  readonly entries = new Map<string, Entry>()
  bytes = 0
  newestSince = 0

  /** The first (oldest) entry, except `skip`. */
  oldest(skip?: string): [string, Entry] | undefined {
    for (const item of this.entries) if (item[0] !== skip) return item
    return undefined
  }
}

const RESOLVED: Promise<void> = Promise.resolve()

function invalid(message: string): RingkvError {
  return new RingkvError('ERR_INVALID_ARGUMENT', message)
}

function checkPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, got ${JSON.stringify(v)}`)
  return v
}

export class HintStore {
  readonly #backing: HintBacking
  readonly #maxBytes: number
  readonly #maxAgeMs: number
  readonly #clock: Clock
  readonly #logger: Logger | undefined
  /** target -> its hints, keyed by storage key as latin1. */
  readonly #byTarget = new Map<string, TargetHints>()
  #count = 0
  #bytes = 0
  #nextVersion = 1
  #closed = false
  /** The latest write's promise: once it settles, every earlier write has. */
  #lastDurable: Promise<void> = RESOLVED
  readonly #stats = {
    stored: 0,
    collapsed: 0,
    removed: 0,
    rejected: 0,
    droppedOverflow: 0,
    droppedExpired: 0,
    corrupt: 0,
    writeFailures: 0,
  }

  private constructor(backing: HintBacking, options: HintStoreOptions) {
    this.#backing = backing
    this.#maxBytes = checkPositiveInt('maxBytes', options.maxBytes)
    this.#maxAgeMs = checkPositiveInt('maxAgeMs', options.maxAgeMs)
    if (options.clock === undefined) throw invalid('a hint store needs a clock')
    this.#clock = options.clock
    this.#logger = options.logger
  }

  /**
   * A store over `backing`, its accounting rebuilt from what the backing holds (one scan). The store owns
   * the backing: closing the store closes it, and so does a failure to open.
   */
  static async open(backing: HintBacking, options: HintStoreOptions): Promise<HintStore> {
    try {
      const store = new HintStore(backing, options)
      await store.#rebuild()
      return store
    } catch (e) {
      await backing.close().catch(() => undefined)
      throw e
    }
  }

  get durableWrites(): boolean {
    return this.#backing.durableWrites
  }

  get maxBytes(): number {
    return this.#maxBytes
  }

  get maxAgeMs(): number {
    return this.#maxAgeMs
  }

  async #rebuild(): Promise<void> {
    const found = new Map<string, Array<[string, Entry]>>()
    const bad: Uint8Array[] = []
    for await (const { key, value } of this.#backing.entries()) {
      try {
        const { target } = decodeHintKey(key)
        const { since, envelope } = decodeHintValue(value)
        decodeEnvelope(envelope)
        const storageKey = Buffer.from(key)
        let list = found.get(target)
        if (list === undefined) found.set(target, (list = []))
        list.push([storageKey.toString('latin1'), { storageKey, since, bytes: this.#charge(storageKey, value), version: this.#nextVersion++ }])
      } catch (e) {
        this.#stats.corrupt++
        bad.push(Buffer.from(key))
        this.#logger?.warn('dropping a stored hint that does not decode', { error: (e as Error).message })
      }
    }
    if (bad.length > 0) this.#watch(this.#backing.write([], bad))
    for (const [target, list] of found) {
      list.sort((a, b) => a[1].since - b[1].since)
      const hints = new TargetHints()
      this.#byTarget.set(target, hints)
      for (const [id, entry] of list) this.#insert(hints, id, entry)
    }
    // The bounds may have been lowered since these hints were stored.
    this.expire()
    const evicted = this.#evict(this.#bytes - this.#maxBytes, undefined)
    if (evicted.length > 0) this.#watch(this.#backing.write([], evicted))
  }

  #charge(storageKey: Uint8Array, value: Uint8Array): number {
    return storageKey.length + value.length + ENTRY_OVERHEAD_BYTES
  }

  #check(): void {
    if (this.#closed) throw new RingkvError('ERR_CLOSED', 'the hint store is closed')
  }

  /** Counts a failed backing write and keeps it from becoming an unhandled rejection; returns `p`. */
  #watch(p: Promise<void>): Promise<void> {
    p.catch((e: unknown) => {
      this.#stats.writeFailures++
      this.#logger?.warn('a hint write failed', { error: (e as Error).message })
    })
    this.#lastDurable = p
    return p
  }

  /**
   * Keeps `envelope` for `target`, merged into its pending hint for the same key if there is one. Evicts the
   * oldest hints when the budget is exceeded. Synchronous; `durable` says when the hint is on disk.
   */
  add(target: string, partition: number, key: Uint8Array, envelope: Envelope): AddResult {
    this.#check()
    const storageKey = encodeHintKey(target, partition, key)
    const id = storageKey.toString('latin1')
    const now = this.#clock.now()
    let existing = this.#byTarget.get(target)?.entries.get(id)
    /** Set when a stale entry was forgotten whose bytes the write below would otherwise have replaced. */
    let orphan: Buffer | undefined
    if (existing !== undefined && now - existing.since >= this.#maxAgeMs) {
      this.#drop(target, id, existing)
      this.#stats.droppedExpired++
      orphan = existing.storageKey
      existing = undefined
    }
    let since = now
    let merged = envelope
    if (existing !== undefined) {
      const stored = this.#readEnvelope(existing.storageKey)
      if (stored === undefined) {
        this.#drop(target, id, existing)
        orphan = existing.storageKey
        existing = undefined
      } else {
        merged = mergeEnvelopes(stored, envelope)
        if (envelopesEqual(merged, stored)) return { stored: true, changed: false, durable: this.#lastDurable }
        since = existing.since
      }
    }
    // Keep the target's hints in `since` order even if the clock stepped back.
    if (existing === undefined) since = Math.max(since, this.#byTarget.get(target)?.newestSince ?? 0)
    const value = encodeHintValue(since, encodeEnvelope(merged))
    const bytes = this.#charge(storageKey, value)
    if (bytes > this.#maxBytes) {
      this.#stats.droppedOverflow++
      this.#logger?.warn('a hint larger than the whole hint budget was dropped', { target, partition, bytes, maxBytes: this.#maxBytes })
      return { stored: false, changed: false, durable: orphan === undefined ? RESOLVED : this.#watch(this.#backing.write([], [orphan])) }
    }
    const evicted = this.#evict(this.#bytes - (existing?.bytes ?? 0) + bytes - this.#maxBytes, id)
    if (existing !== undefined) {
      const hints = this.#byTarget.get(target)!
      hints.bytes += bytes - existing.bytes
      this.#bytes += bytes - existing.bytes
      existing.bytes = bytes
      existing.version = this.#nextVersion++
      this.#stats.collapsed++
    } else {
      let hints = this.#byTarget.get(target)
      if (hints === undefined) this.#byTarget.set(target, (hints = new TargetHints()))
      this.#insert(hints, id, { storageKey, since, bytes, version: this.#nextVersion++ })
    }
    this.#stats.stored++
    return { stored: true, changed: true, durable: this.#watch(this.#backing.write([[storageKey, value]], evicted)) }
  }

  #insert(hints: TargetHints, id: string, entry: Entry): void {
    hints.entries.set(id, entry)
    hints.bytes += entry.bytes
    hints.newestSince = Math.max(hints.newestSince, entry.since)
    this.#count++
    this.#bytes += entry.bytes
  }

  #readEnvelope(storageKey: Buffer): Envelope | undefined {
    const bytes = this.#backing.get(storageKey)
    if (bytes === undefined) return undefined
    try {
      return decodeEnvelope(decodeHintValue(bytes).envelope, { copy: true })
    } catch (e) {
      this.#stats.corrupt++
      this.#logger?.warn('dropping a stored hint that does not decode', { error: (e as Error).message })
      return undefined
    }
  }

  /** Forgets an entry in the index (the caller deletes or overwrites its bytes). */
  #drop(target: string, id: string, entry: Entry): void {
    const hints = this.#byTarget.get(target)
    if (hints === undefined || hints.entries.get(id) !== entry) return
    hints.entries.delete(id)
    hints.bytes -= entry.bytes
    if (hints.entries.size === 0) this.#byTarget.delete(target)
    this.#count--
    this.#bytes -= entry.bytes
  }

  /** Drops the oldest hints (never `keep`) until `excess` bytes are freed; returns their storage keys. */
  #evict(excess: number, keep: string | undefined): Buffer[] {
    const out: Buffer[] = []
    while (excess > 0) {
      let oldest: { target: string; id: string; entry: Entry } | undefined
      for (const [target, hints] of this.#byTarget) {
        const first = hints.oldest(keep)
        if (first !== undefined && (oldest === undefined || first[1].since < oldest.entry.since)) oldest = { target, id: first[0], entry: first[1] }
      }
      if (oldest === undefined) break
      this.#drop(oldest.target, oldest.id, oldest.entry)
      this.#stats.droppedOverflow++
      excess -= oldest.entry.bytes
      out.push(oldest.entry.storageKey)
    }
    return out
  }

  /**
   * Up to `limit` hints for `target`, oldest first, skipping the ids in `skip` (hints already being
   * delivered). Reads their envelopes now; a hint that no longer reads back is dropped and counted.
   */
  take(target: string, limit: number, skip?: ReadonlySet<string>): PendingHint[] {
    this.#check()
    const out: PendingHint[] = []
    const hints = this.#byTarget.get(target)
    if (hints === undefined) return out
    const gone: Array<[string, Entry]> = []
    for (const [id, entry] of hints.entries) {
      if (out.length >= limit) break
      if (skip?.has(id)) continue
      const bytes = this.#backing.get(entry.storageKey)
      let parsed: { partition: number; key: Buffer; envelope: Uint8Array } | undefined
      if (bytes !== undefined) {
        try {
          const { partition, key } = decodeHintKey(entry.storageKey)
          parsed = { partition, key, envelope: Buffer.from(decodeHintValue(bytes).envelope) }
        } catch (e) {
          this.#stats.corrupt++
          this.#logger?.warn('dropping a stored hint that does not decode', { error: (e as Error).message })
        }
      }
      if (parsed === undefined) {
        gone.push([id, entry])
        continue
      }
      out.push({ id, target, ...parsed, since: entry.since, bytes: entry.bytes, version: entry.version })
    }
    for (const [id, entry] of gone) {
      this.#drop(target, id, entry)
      this.#watch(this.#backing.write([], [entry.storageKey]))
    }
    return out
  }

  /**
   * Deletes a hint its target acknowledged ('delivered') or refused for good ('rejected'), unless it changed
   * since `take` handed it out; returns whether it did.
   */
  remove(hint: PendingHint, reason: 'delivered' | 'rejected' = 'delivered'): boolean {
    this.#check()
    const entry = this.#byTarget.get(hint.target)?.entries.get(hint.id)
    if (entry === undefined || entry.version !== hint.version) return false
    this.#drop(hint.target, hint.id, entry)
    if (reason === 'delivered') this.#stats.removed++
    else this.#stats.rejected++
    this.#watch(this.#backing.write([], [entry.storageKey]))
    return true
  }

  /** Drops every hint older than maxAgeMs; returns how many. */
  expire(): number {
    this.#check()
    const cutoff = this.#clock.now() - this.#maxAgeMs
    const deleted: Buffer[] = []
    for (const [target, hints] of [...this.#byTarget]) {
      for (const [id, entry] of hints.entries) {
        if (entry.since > cutoff) break
        this.#drop(target, id, entry)
        deleted.push(entry.storageKey)
      }
    }
    this.#stats.droppedExpired += deleted.length
    if (deleted.length > 0) this.#watch(this.#backing.write([], deleted))
    return deleted.length
  }

  /** Nodes with pending hints. */
  targets(): string[] {
    return [...this.#byTarget.keys()]
  }

  target(target: string): TargetStats {
    const hints = this.#byTarget.get(target)
    const oldest = hints?.oldest()
    if (hints === undefined || oldest === undefined) return { pending: 0, pendingBytes: 0, oldestAgeMs: 0 }
    return { pending: hints.entries.size, pendingBytes: hints.bytes, oldestAgeMs: Math.max(0, this.#clock.now() - oldest[1].since) }
  }

  stats(): HintStats {
    let oldest = Infinity
    for (const hints of this.#byTarget.values()) oldest = Math.min(oldest, hints.oldest()?.[1].since ?? Infinity)
    return {
      pending: this.#count,
      pendingBytes: this.#bytes,
      oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, this.#clock.now() - oldest),
      targets: this.#byTarget.size,
      ...this.#stats,
    }
  }

  /** Resolves once every hint written so far is fsynced. */
  async sync(): Promise<void> {
    this.#check()
    await this.#backing.sync()
  }

  /** Waits for pending writes and closes the backing; afterwards every method fails with ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#lastDurable.catch(() => undefined)
    await this.#backing.close()
  }
}
