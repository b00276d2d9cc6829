// Removing the data of partitions this node no longer replicates (DESIGN section 5: after a join or a
// decommission, the nodes that handed partitions over would otherwise keep their data forever).
//
// When is a partition's data safe to drop here? Only once it is certainly somewhere else and nobody will ask
// this node for it:
//  - the ring state has no pending ring (a change under way may still be copying from here, or to here);
//  - this node is a primary of the partition in neither ring it holds (a pending ring that gains it protects it);
//  - every live member holds the same ring state (a member still on the old ring may route reads or writes
//    here), and has for `graceMs`, so that requests begun under the old ring have finished;
// The commit of a change implies its gainers pulled the partition from enough of its old replicas
// (ownership.ts), so what is dropped here is held by the new owners. Data that arrives after a partition was
// dropped -- a late hint, a repair from a node on an old ring -- is dropped by the next sweep.
//
// A sweep runs every `intervalMs` (and on demand); it walks the partitions this node does not replicate, removes
// their entries in batches (one event-loop turn each), and reports what it removed. A key removed here is absent,
// so should this node ever own the partition again, its writes there take new key epochs (key-epochs.ts).
import { partitionsReplicatedBy, type RingMap } from '../ring/index.ts'
import type { Clock, Logger, TimerHandle } from '../runtime/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import type { GossipMembership } from './gossip-membership.ts'

export interface PartitionCleanupOptions {
  self: string
  membership: Pick<GossipMembership, 'ringState' | 'lagging' | 'onRingChange'>
  store: ReplicaStore
  clock: Clock
  logger: Logger
  /** How long the ring must have been agreed on by every live member before data is dropped. */
  graceMs: number
  /** Between sweeps; 0: only on `sweep()`. */
  intervalMs: number
  /** Keys removed per turn. */
  batch?: number
}

export interface CleanupReport {
  /** Partitions with data that this node does not replicate, whose data was removed. */
  partitions: number
  keys: number
  /** Why nothing was removed, when nothing could be. */
  skipped?: 'pending ring' | 'ring not agreed' | 'grace period' | 'no ring'
}

const DEFAULT_BATCH = 512

export class PartitionCleanup {
  readonly #o: PartitionCleanupOptions
  /** The ring state checksum every live member was last seen to agree on, and since when (monotonic ms). */
  #agreed: { checksum: string; since: number } | undefined
  #timer: TimerHandle | undefined
  #running: Promise<CleanupReport> | undefined
  #stopped = false
  #unsubscribe: (() => void) | undefined
  readonly totals = { sweeps: 0, partitions: 0, keys: 0 }

  constructor(options: PartitionCleanupOptions) {
    this.#o = options
  }

  start(): void {
    if (this.#o.intervalMs > 0) this.#timer = this.#o.clock.setInterval(() => void this.sweep().catch(() => undefined), this.#o.intervalMs)
    this.#unsubscribe = this.#o.membership.onRingChange(() => {
      this.#agreed = undefined
    })
  }

  stop(): void {
    this.#stopped = true
    this.#o.clock.clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
  }

  /** One sweep (or the one running); never throws for a partition it could not clean: logged, tried next time. */
  sweep(): Promise<CleanupReport> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #sweep(): Promise<CleanupReport> {
    const { membership, clock, self, store, logger } = this.#o
    const state = membership.ringState
    if (state.current === undefined) return { partitions: 0, keys: 0, skipped: 'no ring' }
    if (state.pending !== undefined) return { partitions: 0, keys: 0, skipped: 'pending ring' }
    const now = clock.monotonic()
    if (membership.lagging(state.checksum).length > 0) {
      this.#agreed = undefined
      return { partitions: 0, keys: 0, skipped: 'ring not agreed' }
    }
    if (this.#agreed?.checksum !== state.checksum) this.#agreed = { checksum: state.checksum, since: now }
    if (now - this.#agreed.since < this.#o.graceMs) return { partitions: 0, keys: 0, skipped: 'grace period' }
    this.totals.sweeps++
    const kept = new Set(partitionsReplicatedBy(state.current, self))
    let partitions = 0
    let keys = 0
    for (let p = 0; p < state.current.q && !this.#stopped; p++) {
      if (kept.has(p)) continue
      // Re-checked per partition: a change may begin while the sweep runs.
      if (!this.#stillSafe(state.checksum, state.current)) break
      try {
        const removed = await this.#dropPartition(p, state.checksum, state.current)
        if (removed > 0) {
          partitions++
          keys += removed
        }
      } catch (e) {
        logger.warn('could not remove the data of a partition this node no longer replicates', { partition: p, error: (e as Error).message })
      }
    }
    this.totals.partitions += partitions
    this.totals.keys += keys
    if (keys > 0) logger.info('removed the data of partitions this node no longer replicates', { partitions, keys, ring: state.current.version })
    return { partitions, keys }
  }

  #stillSafe(checksum: string, ring: RingMap): boolean {
    const state = this.#o.membership.ringState
    return !this.#stopped && state.checksum === checksum && state.pending === undefined && state.current === ring
  }

  async #dropPartition(partition: number, checksum: string, ring: RingMap): Promise<number> {
    const batch = this.#o.batch ?? DEFAULT_BATCH
    let removed = 0
    for (;;) {
      const keys: Buffer[] = []
      for await (const entry of this.#o.store.scan(partition, { limit: batch })) keys.push(entry.key)
      if (keys.length === 0) return removed
      // The scan awaited: the ring may have changed under it.
      if (!this.#stillSafe(checksum, ring)) return removed
      await Promise.all(keys.map((k) => this.#o.store.remove(partition, k)))
      removed += keys.length
    }
  }
}
