// The node's membership (DESIGN section 5): the effectful driver around the pure gossip state
// (src/membership/gossip-state.ts) and the ring state (ring-state.ts).
//
// Every `intervalMs` the node bumps its heartbeat, runs the phi-accrual detector, and does one push-pull
// exchange (SYN -> ACK -> ACK2) with each peer `choosePeers` picks. Every member's record carries the version
// and checksum of the ring state it holds; a node that sees a newer one fetches it (RING_GET) from that member
// and adopts it, so a ring change spreads as fast as gossip does, and a node restarted while the ring changed
// catches up from whoever it talks to first.
//
// Forming a cluster: a node with no ring waits until it knows `bootstrapExpect` members; then the member with
// the smallest id creates ring version 1 over all of them and the others fetch it. Nodes that start later, or
// that were not among the first, find the ring in gossip and stay 'joining' (members, but owning nothing)
// until `ringkv join` moves partitions to them (ownership.ts).
//
// The set of members and their addresses is kept in the data directory (members.json) so that a restarted
// node can reach the cluster even when its configured seeds are down.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import type { MemberInfo } from '../cluster/api.ts'
import { MessageType } from '../protocol/message-types.ts'
import { claim, partitionsOwnedBy, partitionsReplicatedBy, type RingMap } from '../ring/index.ts'
import type { Clock, Logger, Random, TimerHandle } from '../runtime/index.ts'
import type { ConnectionPool } from '../net/index.ts'
import {
  decodeDelta,
  decodeDigest,
  encodeDelta,
  encodeDigest,
  GossipState,
  type MemberStatus,
  type MembershipChange,
} from '../membership/index.ts'
import type { Liveness } from './liveness.ts'
import { compareRingStates, decodeRingState, encodeRingState, loadRingState, NO_RING, ringState, saveRingState, type RingState } from './ring-state.ts'

const MEMBERS_FILE = 'members.json'
const EMPTY = new Uint8Array(0)

export interface GossipMembershipOptions {
  self: MemberInfo
  seeds: readonly string[]
  partitions: number
  n: number
  /** Members a brand-new cluster waits for before the first ring is made. */
  bootstrapExpect: number
  dataDir: string | undefined
  pool: ConnectionPool
  clock: Clock
  random: Random
  logger: Logger
  /** One gossip round per interval. */
  intervalMs: number
  requestTimeoutMs: number
  phiThreshold?: number
}

/** One member as this node sees it: what `ringkv status` prints. */
export interface MemberView {
  id: string
  address: string
  http: string | undefined
  status: MemberStatus
  /** Up as far as this node's failure detector can tell. */
  up: boolean
  /** The detector's suspicion now (down above the threshold); 0 for this node. */
  phi: number
  generation: number
  heartbeat: number
  ringVersion: number
  /** Partitions it owns (first replica) and replicates under the current ring. */
  owned: number
  replicated: number
}

export interface ClusterStatus {
  node: string
  ring: { version: number; checksum: string; q: number; n: number; members: string[] } | undefined
  pending: { version: number; checksum: string; members: string[] } | undefined
  ringStateVersion: number
  phiThreshold: number
  members: MemberView[]
  /** Live members holding a different ring state than this node (the gossip divergence alert). */
  divergent: string[]
}

function unavailable(message: string): RingkvError {
  return new RingkvError('ERR_UNAVAILABLE', message, { details: { retryable: true } })
}

export class GossipMembership implements Liveness {
  readonly #o: GossipMembershipOptions
  readonly #state: GossipState
  #ring: RingState
  /** Addresses of every member ever heard of (members.json), for members gossip has not reached yet. */
  readonly #known = new Map<string, MemberInfo>()
  readonly #aliveListeners = new Set<(node: string) => void>()
  readonly #ringListeners = new Set<(state: RingState) => void>()
  /** Ring-state fetches in flight, by member, so a burst of gossip does not fetch the same state twice. */
  readonly #fetching = new Set<string>()
  #timer: TimerHandle | undefined
  #stopped = false
  /** Status the node asked for (leaving, removed) that the ring alone does not imply. */
  #intent: MemberStatus | undefined

  constructor(options: GossipMembershipOptions) {
    this.#o = options
    for (const m of this.#loadKnown()) if (m.id !== options.self.id) this.#known.set(m.id, m)
    this.#ring = loadRingState(options.dataDir)
    const seeds = new Set(options.seeds)
    for (const m of this.#known.values()) seeds.add(m.address)
    const interval = options.intervalMs
    this.#state = new GossipState({
      self: { id: options.self.id, address: options.self.address, http: options.self.http },
      generation: Math.max(1, Math.floor(options.clock.now())),
      status: this.#statusFor(this.#ring),
      ring: { version: this.#ring.version, checksum: this.#ring.version === 0 ? '' : this.#ring.checksum },
      seeds: [...seeds],
      phiThreshold: options.phiThreshold,
      // Heartbeats travel over gossip rounds, so the detector's time scale is the round's.
      phi: {
        firstHeartbeatEstimateMs: interval,
        minStdDeviationMs: Math.max(1, interval / 2),
        acceptablePauseMs: 3 * interval,
        maxSampleMs: 30 * interval,
      },
    })
  }

  // ---- what the rest of the node reads ----

  /** The ring in force; ERR_UNAVAILABLE (retryable) until the cluster has formed. */
  get ring(): RingMap {
    const current = this.#ring.current
    if (current === undefined) throw unavailable(`node ${this.#o.self.id} has no ring yet: the cluster is still forming`)
    return current
  }

  get ringState(): RingState {
    return this.#ring
  }

  get id(): string {
    return this.#o.self.id
  }

  /** The binary-protocol address of member `id` (this node included): `member(id)?.address` without building a MemberInfo, for every peer request. */
  addressOf(id: string): string | undefined {
    if (id === this.#o.self.id) return this.#o.self.address
    return this.#state.member(id)?.address ?? this.#known.get(id)?.address
  }

  member(id: string): MemberInfo | undefined {
    if (id === this.#o.self.id) return this.#o.self
    const m = this.#state.member(id)
    if (m !== undefined) return { id: m.id, address: m.address, http: m.http }
    return this.#known.get(id)
  }

  /** Every member not removed, sorted by id. */
  members(): MemberInfo[] {
    const out = new Map<string, MemberInfo>()
    for (const m of this.#known.values()) out.set(m.id, m)
    for (const m of this.#state.members()) {
      if (m.status === 'removed') out.delete(m.id)
      else out.set(m.id, m.id === this.#o.self.id ? this.#o.self : { id: m.id, address: m.address, http: m.http })
    }
    return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  isAlive(node: string): boolean {
    return this.#state.isUp(node)
  }

  onAlive(listener: (node: string) => void): () => void {
    this.#aliveListeners.add(listener)
    return () => this.#aliveListeners.delete(listener)
  }

  onRingChange(listener: (state: RingState) => void): () => void {
    this.#ringListeners.add(listener)
    return () => this.#ringListeners.delete(listener)
  }

  /** Live members (this node included) that hold a ring state other than `checksum`. */
  lagging(checksum: string): string[] {
    const out: string[] = []
    for (const m of this.#state.members()) {
      if (m.status === 'removed' || !this.#state.isUp(m.id)) continue
      if (m.id === this.#o.self.id ? this.#ring.checksum !== checksum : m.ringChecksum !== checksum) out.push(m.id)
    }
    return out
  }

  status(): ClusterStatus {
    const now = this.#o.clock.monotonic()
    const current = this.#ring.current
    const views: MemberView[] = this.#state
      .members()
      .filter((m) => m.status !== 'removed')
      .map((m) => ({
        id: m.id,
        address: m.address,
        http: m.http,
        status: m.status,
        up: this.#state.isUp(m.id),
        phi: m.id === this.#o.self.id ? 0 : round2(this.#state.phi(m.id, now)),
        generation: m.generation,
        heartbeat: m.version,
        ringVersion: m.ringVersion,
        owned: current === undefined || !current.members.some((x) => x.id === m.id) ? 0 : partitionsOwnedBy(current, m.id).length,
        replicated: current === undefined || !current.members.some((x) => x.id === m.id) ? 0 : partitionsReplicatedBy(current, m.id).length,
      }))
    const pending = this.#ring.pending
    return {
      node: this.#o.self.id,
      ring: current === undefined ? undefined : { version: current.version, checksum: current.checksum, q: current.q, n: current.n, members: current.members.map((m) => m.id) },
      pending: pending === undefined ? undefined : { version: pending.version, checksum: pending.checksum, members: pending.members.map((m) => m.id) },
      ringStateVersion: this.#ring.version,
      phiThreshold: this.#state.threshold,
      members: views,
      divergent: this.#state.divergence().map((d) => d.id),
    }
  }

  // ---- changing the ring and our own status ----

  /**
   * Adopts a newer ring state made here (a proposal, commit or abort by ownership.ts) and spreads it at once.
   * Refused with ERR_RING_CONFLICT when a newer state is already known (someone else changed the ring).
   */
  propose(next: RingState): void {
    if (compareRingStates(next, this.#ring) <= 0) {
      throw new RingkvError('ERR_RING_CONFLICT', `ring state ${next.version} is not newer than the one held (${this.#ring.version})`, {
        details: { held: this.#ring.version, proposed: next.version, retryable: true },
      })
    }
    this.#adopt(next, 'proposed here')
    this.#broadcast()
  }

  /** Declares a status the ring does not imply: 'leaving' during a decommission, 'removed' after it. */
  declare(status: MemberStatus | undefined): void {
    this.#intent = status
    this.#refreshStatus()
    this.#broadcast()
  }

  /**
   * Tells every live peer that this node is going down, in its own record (Cassandra announces a shutdown the
   * same way), and waits until each has taken it or `timeoutMs` passed. Without it peers keep sending this node
   * reads and writes until their failure detectors convict it -- about seven seconds of silence at the default
   * threshold -- and each of those requests fails before another replica is asked. A restart comes back in a
   * new generation, whose record supersedes this one everywhere.
   */
  async announceShutdown(timeoutMs: number): Promise<void> {
    if (this.#stopped) return
    this.#intent = 'down'
    this.#refreshStatus()
    await Promise.all(this.#state.livePeers().map((m) => this.#exchange(m.address, timeoutMs)))
  }

  // ---- the gossip exchange ----

  handleSyn(payload: Buffer): Uint8Array {
    if (this.#stopped) throw unavailable('the node is stopping')
    return encodeDelta(this.#state.delta(decodeDigest(payload)))
  }

  handleAck2(payload: Buffer): Uint8Array {
    if (this.#stopped) throw unavailable('the node is stopping')
    this.#handle(this.#state.apply(decodeDelta(payload), this.#o.clock.monotonic()))
    return EMPTY
  }

  handleRingGet(): Uint8Array {
    return encodeRingState(this.#ring)
  }

  /** First contact with every seed and known member at once (a cold cluster forms in one round), then the timer. */
  async start(): Promise<void> {
    this.#maybeBootstrap()
    const targets = new Set(this.#state.seeds)
    for (const m of this.members()) if (m.id !== this.#o.self.id) targets.add(m.address)
    await Promise.all([...targets].map((address) => this.#exchange(address)))
    this.#maybeBootstrap()
    if (this.#stopped) return
    this.#timer = this.#o.clock.setInterval(() => this.#round(), this.#o.intervalMs)
  }

  stop(): void {
    this.#stopped = true
    this.#o.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  #round(): void {
    if (this.#stopped) return
    this.#handle(this.#state.tick(this.#o.clock.monotonic()))
    for (const target of this.#state.choosePeers(this.#o.random)) void this.#exchange(target.address)
    this.#maybeBootstrap()
  }

  /** One exchange with every live peer: news of our own (a ring change) reaches everyone in one round. */
  #broadcast(): void {
    if (this.#stopped) return
    for (const m of this.#state.livePeers()) void this.#exchange(m.address)
  }

  async #exchange(address: string, timeoutMs = this.#o.requestTimeoutMs): Promise<void> {
    if (this.#stopped) return
    try {
      const ack = decodeDelta(await this.#o.pool.request(address, MessageType.GOSSIP_SYN, encodeDigest(this.#state.digest()), { timeoutMs }))
      if (this.#stopped) return
      this.#handle(this.#state.apply(ack, this.#o.clock.monotonic()))
      const back = this.#state.requested(ack.wants)
      if (back.states.length > 0) await this.#o.pool.request(address, MessageType.GOSSIP_ACK2, encodeDelta(back), { timeoutMs })
    } catch (e) {
      this.#o.logger.debug('gossip exchange failed', { address, code: (e as RingkvError).code ?? String(e) })
    }
  }

  #handle(changes: MembershipChange[]): void {
    let learned = false
    for (const c of changes) {
      switch (c.kind) {
        case 'new':
        case 'address':
          learned = true
          this.#checkRing(c.current.id, c.current.ringVersion, c.current.ringChecksum)
          break
        case 'ring':
          this.#checkRing(c.current.id, c.current.ringVersion, c.current.ringChecksum)
          break
        case 'down':
          this.#o.logger.warn('member down', { member: c.id, phi: round2(this.#state.phi(c.id, this.#o.clock.monotonic())) })
          break
        case 'up':
        case 'restarted':
          if (c.kind === 'up') this.#o.logger.info('member up', { member: c.id })
          this.#checkRing(c.current.id, c.current.ringVersion, c.current.ringChecksum)
          for (const l of this.#aliveListeners) l(c.id)
          break
        case 'status':
          this.#o.logger.info('member status', { member: c.id, from: c.previous?.status, to: c.current.status })
          break
        case 'refuted':
          this.#o.logger.warn('refuted a stale record of this node', { version: c.current.version })
          break
      }
    }
    if (learned) this.#saveKnown()
    this.#maybeBootstrap()
  }

  /** A member holds another ring state: fetch it if it may be newer than ours. */
  #checkRing(member: string, version: number, checksum: string): void {
    if (version === 0 || member === this.#o.self.id) return
    if (compareRingStates({ version, checksum }, this.#ring) <= 0) return
    if (this.#fetching.has(member)) return
    const info = this.member(member)
    if (info === undefined) return
    this.#fetching.add(member)
    this.#o.pool
      .request(info.address, MessageType.RING_GET, EMPTY, { timeoutMs: this.#o.requestTimeoutMs })
      .then(
        (bytes) => {
          if (this.#stopped) return
          const fetched = decodeRingState(bytes)
          if (fetched.current !== undefined && fetched.current.q !== this.#o.partitions) {
            this.#o.logger.error('a member holds a ring with another partition count; ignored', { member, q: fetched.current.q, ours: this.#o.partitions })
            return
          }
          if (compareRingStates(fetched, this.#ring) > 0) this.#adopt(fetched, `from ${member}`)
        },
        (e: unknown) => this.#o.logger.debug('ring fetch failed', { member, code: (e as RingkvError).code ?? String(e) }),
      )
      .finally(() => this.#fetching.delete(member))
  }

  #adopt(next: RingState, source: string): void {
    saveRingState(this.#o.dataDir, next)
    this.#ring = next
    this.#state.setRing(next.version, next.checksum)
    this.#refreshStatus()
    this.#o.logger.info('ring state adopted', {
      source,
      version: next.version,
      ring: next.current?.version,
      members: next.current?.members.map((m) => m.id),
      pending: next.pending?.members.map((m) => m.id),
    })
    for (const l of this.#ringListeners) l(next)
  }

  #statusFor(state: RingState): MemberStatus {
    if (this.#intent !== undefined) return this.#intent
    const self = this.#o.self.id
    return state.current?.members.some((m) => m.id === self) === true ? 'normal' : 'joining'
  }

  #refreshStatus(): void {
    const status = this.#statusFor(this.#ring)
    if (this.#state.self.status !== status) this.#state.setStatus(status)
  }

  /** A cluster with no ring anywhere forms one once `bootstrapExpect` members know each other. */
  #maybeBootstrap(): void {
    if (this.#ring.version !== 0 || this.#stopped) return
    const members = this.#state.members().filter((m) => m.status !== 'removed')
    if (members.some((m) => m.ringVersion > 0)) return
    if (members.length < this.#o.bootstrapExpect) return
    if (members[0]!.id !== this.#o.self.id) return
    const n = Math.max(1, Math.min(this.#o.n, members.length))
    const ring = claim(undefined, members.map((m) => ({ id: m.id })), { q: this.#o.partitions, n }).ring
    this.#o.logger.info('forming the cluster', { members: members.map((m) => m.id) })
    this.propose(ringState(1, ring, undefined))
  }

  #loadKnown(): MemberInfo[] {
    if (this.#o.dataDir === undefined) return []
    const path = join(this.#o.dataDir, MEMBERS_FILE)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      return []
    }
    try {
      const parsed = JSON.parse(text) as { members?: MemberInfo[] }
      if (!Array.isArray(parsed.members)) throw new Error('no members array')
      return parsed.members.filter((m) => typeof m?.id === 'string' && typeof m?.address === 'string')
    } catch (e) {
      throw new RingkvError('ERR_CORRUPTION', `${path} is not valid: ${(e as Error).message}`)
    }
  }

  #saveKnown(): void {
    if (this.#o.dataDir === undefined) return
    mkdirSync(this.#o.dataDir, { recursive: true })
    const path = join(this.#o.dataDir, MEMBERS_FILE)
    writeFileSync(`${path}.tmp`, JSON.stringify({ members: this.members() }, null, 2))
    renameSync(`${path}.tmp`, path)
  }
}

function round2(v: number): number {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : v
}

export { NO_RING }
