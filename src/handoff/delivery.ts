// Hint delivery: the effectful driver that hands a node's hints to their targets once they are back.
//
// When: as soon as the Liveness seam says a target is up again (`onAlive`), and on every tick
// (`intervalMs`) for every target with hints that is believed up -- which covers a missed notification, a
// delivery cut short by a failure, and hints kept for replicas that were up but failed a write (with no
// failure detector every member is "up", and the tick is the retry).
// How: REPLICA_PUT, the message replication and read repair use; the target merges by clock, so a hint
// delivered twice (a lost ack, a crash before the delete) is harmless. A hint is deleted once acknowledged,
// unless it changed meanwhile (a later write collapsed into it), in which case the next round sends it again.
// Oldest hints first, up to `window` in flight per target; the first failure ends the target's round (it is
// down again, or overloaded), and the next tick or `onAlive` resumes it. A hint the target refuses for good
// (refusal.ts: a malformed or oversized envelope, a corrupt stored copy) is dropped and counted instead, so
// it cannot hold back the hints behind it.
// How fast: a node-wide budget of hints per second and bytes per second (two token buckets), so catching
// up after an outage does not starve foreground requests; the buckets' burst is one second's worth.
// Each tick also drops hints older than the store's maxAgeMs.
// Where, after the ring changed: a hint whose target no longer replicates its partition (the target left, or a
// join or decommission moved the partition) would only land where nobody reads it -- it goes to the
// partition's replicas under the settled ring instead (`placement`; never while a change is pending), whether
// the old target is up or not, and is deleted once every one of them acknowledged it.
import { decodeReplicaPutReply, encodeReplicaPut } from '../cluster/messages.ts'
import { RingkvError } from '../errors.ts'
import { MessageType } from '../protocol/message-types.ts'
import type { Clock, Logger, TimerHandle } from '../runtime/index.ts'
import type { Liveness } from '../node/liveness.ts'
import type { HintStore, PendingHint } from './hint-store.ts'
import { isRefusal } from './refusal.ts'
import { TokenBucket } from './token-bucket.ts'

export interface DeliveryPeers {
  request(node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer>
}

export interface HintDeliveryOptions {
  store: HintStore
  peers: DeliveryPeers
  liveness: Liveness
  clock: Clock
  logger: Logger
  /** Hints delivered per second, node-wide. */
  ratePerSec: number
  /** Bytes (key and envelope) delivered per second, node-wide. */
  bytesPerSec: number
  /** How often to expire old hints and retry targets that are up. */
  intervalMs: number
  /** Per REPLICA_PUT. */
  timeoutMs: number
  /** Deliveries in flight per target; default 16. */
  window?: number
  /**
   * The partition's replicas other than this node under the ring in force, or undefined while a ring change is
   * pending (or there is no ring): where a hint goes whose target no longer replicates its partition. Absent:
   * hints always go to their target.
   */
  placement?: (partition: number) => readonly string[] | undefined
}

export interface DeliveryStats {
  /** Hints the target acknowledged and that were deleted. */
  delivered: number
  /** Acknowledged, but a newer write had collapsed into the hint meanwhile: kept and sent again. */
  superseded: number
  /** REPLICA_PUTs that failed or timed out (the hint stays). */
  deliveryFailures: number
  /** REPLICA_PUTs the target refused for good (the hint is dropped). */
  deliveryRefusals: number
  /** Delivery rounds started (one per target per trigger). */
  rounds: number
  /** Hints whose target no longer replicates their partition, delivered to its replicas instead. */
  retargeted: number
}

const DEFAULT_WINDOW = 16

export class HintDelivery {
  readonly #o: Required<Omit<HintDeliveryOptions, 'placement'>> & Pick<HintDeliveryOptions, 'placement'>
  readonly #hintBucket: TokenBucket
  readonly #byteBucket: TokenBucket
  /** Rounds under way, by target: a second trigger for a target joins its round. */
  readonly #rounds = new Map<string, Promise<void>>()
  readonly #sleepers = new Set<{ timer: TimerHandle; wake: () => void }>()
  readonly #stats: DeliveryStats = { delivered: 0, superseded: 0, deliveryFailures: 0, deliveryRefusals: 0, rounds: 0, retargeted: 0 }
  #timer: TimerHandle | undefined
  #unsubscribe: (() => void) | undefined
  #stopped = false

  constructor(options: HintDeliveryOptions) {
    this.#o = { window: DEFAULT_WINDOW, ...options }
    this.#hintBucket = new TokenBucket(options.clock, options.ratePerSec)
    this.#byteBucket = new TokenBucket(options.clock, options.bytesPerSec)
  }

  /** Delivers on every liveness change to up and every `intervalMs`. */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return
    this.#unsubscribe = this.#o.liveness.onAlive((node) => {
      if (this.#o.store.target(node).pending > 0) void this.deliver(node)
    })
    this.#timer = this.#o.clock.setInterval(() => void this.tick(), this.#o.intervalMs)
  }

  /**
   * Stops triggering and waiting; requests in flight are left to fail with the connections that carry them.
   * Nothing here touches the store afterwards.
   */
  stop(): void {
    this.#stopped = true
    this.#unsubscribe?.()
    this.#o.clock.clearInterval(this.#timer)
    for (const sleeper of this.#sleepers) {
      this.#o.clock.clearTimeout(sleeper.timer)
      sleeper.wake()
    }
    this.#sleepers.clear()
  }

  /** Drops expired hints, then delivers to every target believed up; resolves when those rounds end. */
  async tick(): Promise<void> {
    if (this.#stopped) return
    try {
      const expired = this.#o.store.expire()
      if (expired > 0) this.#o.logger.warn('hints expired before delivery (left to anti-entropy)', { expired })
    } catch (e) {
      this.#o.logger.warn('expiring hints failed', { error: (e as Error).message })
    }
    // A target that is down gets a round too when its oldest hint now belongs elsewhere (it left the ring).
    const due = (t: string): boolean => this.#o.liveness.isAlive(t) || (this.#o.placement !== undefined && this.#o.store.take(t, 1).some((h) => this.#elsewhere(h) !== undefined))
    await Promise.all(this.#o.store.targets().filter(due).map((t) => this.deliver(t)))
  }

  /** Where a hint goes instead of its target, or undefined when the target still replicates its partition. */
  #elsewhere(hint: PendingHint): readonly string[] | undefined {
    const replicas = this.#o.placement?.(hint.partition)
    return replicas === undefined || replicas.includes(hint.target) ? undefined : replicas
  }

  /** Delivers `target`'s hints while it is up; joins the round already under way, if any. Never rejects. */
  deliver(target: string): Promise<void> {
    const running = this.#rounds.get(target)
    if (running !== undefined) return running
    if (this.#stopped) return Promise.resolve()
    this.#stats.rounds++
    const round = this.#round(target)
      .catch((e: unknown) => {
        if (!this.#stopped) this.#o.logger.warn('hint delivery round failed', { target, error: (e as Error).message })
      })
      .finally(() => this.#rounds.delete(target))
    this.#rounds.set(target, round)
    return round
  }

  async #round(target: string): Promise<void> {
    let delivered = 0
    while (!this.#stopped) {
      const alive = this.#o.liveness.isAlive(target)
      const batch = this.#o.store.take(target, this.#o.window)
      if (batch.length === 0) break
      const sends: Array<Promise<boolean>> = []
      let blocked = false
      for (const hint of batch) {
        const elsewhere = this.#elsewhere(hint)
        if (elsewhere === undefined && !alive) {
          blocked = true
          break
        }
        if (!(await this.#admit(hint.key.length + hint.envelope.length))) break
        sends.push(elsewhere === undefined ? this.#send(hint) : this.#sendElsewhere(hint, elsewhere))
      }
      if (blocked && sends.length === 0) break
      const outcomes = await Promise.all(sends)
      delivered += outcomes.filter((ok) => ok).length
      if (outcomes.length < batch.length || outcomes.some((ok) => !ok)) break
    }
    if (delivered > 0 && !this.#stopped) {
      this.#o.logger.info('hints delivered', { target, delivered, left: this.#o.store.target(target).pending })
    }
  }

  /** Waits for both budgets; false if stopped meanwhile. */
  async #admit(bytes: number): Promise<boolean> {
    for (;;) {
      if (this.#stopped) return false
      const wait = Math.max(this.#hintBucket.delay(), this.#byteBucket.delay())
      if (wait === 0) {
        this.#hintBucket.take(1)
        this.#byteBucket.take(bytes)
        return true
      }
      await this.#sleep(wait)
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: this.#o.clock.setTimeout(() => {
          this.#sleepers.delete(sleeper)
          resolve()
        }, ms),
        wake: resolve,
      }
      this.#sleepers.add(sleeper)
    })
  }

  /** One REPLICA_PUT; true when the target is done with the hint (acknowledged or refused for good). */
  async #send(hint: PendingHint): Promise<boolean> {
    const payload = encodeReplicaPut({ partition: hint.partition, key: hint.key, envelope: hint.envelope, durable: false })
    try {
      decodeReplicaPutReply(await this.#o.peers.request(hint.target, MessageType.REPLICA_PUT, payload, this.#o.timeoutMs))
    } catch (e) {
      if (this.#stopped) return false
      const code = e instanceof RingkvError ? e.code : 'ERR_INTERNAL'
      if (isRefusal(code)) {
        this.#stats.deliveryRefusals++
        this.#o.logger.warn('a hint was refused by its target and dropped', { target: hint.target, partition: hint.partition, code, error: (e as Error).message })
        this.#o.store.remove(hint, 'rejected')
        return true
      }
      this.#stats.deliveryFailures++
      this.#o.logger.debug('hint delivery failed', { target: hint.target, code })
      return false
    }
    if (this.#stopped) return true
    if (this.#o.store.remove(hint)) this.#stats.delivered++
    else this.#stats.superseded++
    return true
  }

  /** The hint to each of `replicas` (none: this node is the only replica, and has the write); true once all acked. */
  async #sendElsewhere(hint: PendingHint, replicas: readonly string[]): Promise<boolean> {
    const payload = encodeReplicaPut({ partition: hint.partition, key: hint.key, envelope: hint.envelope, durable: false })
    const outcomes = await Promise.all(
      replicas.map((node) =>
        this.#o.peers.request(node, MessageType.REPLICA_PUT, payload, this.#o.timeoutMs).then(
          (reply) => {
            decodeReplicaPutReply(reply)
            return true
          },
          (e: unknown) => {
            this.#stats.deliveryFailures++
            this.#o.logger.debug('re-targeted hint delivery failed', { target: hint.target, node, code: e instanceof RingkvError ? e.code : 'ERR_INTERNAL' })
            return false
          },
        ),
      ),
    )
    if (this.#stopped || outcomes.some((ok) => !ok)) return false
    if (this.#o.store.remove(hint)) this.#stats.retargeted++
    else this.#stats.superseded++
    return true
  }

  stats(): Readonly<DeliveryStats> {
    return { ...this.#stats }
  }
}
