// The gossip state of one node (DESIGN section 5): what it believes about every member, how that belief is
// exchanged, and which members it considers down. Pure: no sockets, timers or clock -- the driver passes the
// time (`nowMs`, monotonic milliseconds) and the randomness (`Random`) in, and carries the messages.
//
// What is gossiped, per member (its *endpoint state*, owned and only ever changed by that member):
//   id, address (binary protocol), http address, generation (the member's start time: a restart raises it),
//   version (a counter the member bumps with every heartbeat and every change of its own state), status
//   (joining | normal | leaving | down | removed), and the ring version and checksum it holds.
// Ordering: a higher generation wins (the member restarted); within a generation a higher version wins. As the
// owner bumps its version with every change, "newer" is a total order per member and merging is a max --
// commutative, associative and idempotent, so any gossip order converges.
//
// The exchange is Cassandra's three-message push-pull:
//   SYN  (A -> B)  A.digest(): id -> (generation, version) for every member A knows
//   ACK  (B -> A)  B.delta(syn): the states B holds that are newer than A's (push), and in `wants` the
//                  entries where A is newer or B has never heard of the member, with B's own (generation,
//                  version) so A knows what to send (pull)
//   ACK2 (A -> B)  A.apply(ack) then A.requested(ack.wants): the states B asked for (no wants)
// Both sides end with the newer of the two views of every member: one exchange is a full anti-entropy step,
// so news spreads epidemically in O(log S) rounds.
//
// Failure detection: every time a member's (generation, version) advances here, that is a heartbeat arrival
// for the phi-accrual detector (phi.ts). The member itself is not heard directly -- its heartbeats travel over
// gossip -- so the detector learns the jitter of gossip as well, which is what "adapts" buys us. On `tick`, a
// member with phi > threshold (8) is *convicted locally*: this node considers it down, stops choosing it as a
// live gossip peer, and reports a 'down' change. When a newer version of that member arrives, it is up again.
//
// Why the verdict is local and not gossiped as the member's status (Cassandra's choice, not SWIM's): the
// heartbeats reach every node over the same epidemic, so every node's own detector convicts a dead member
// within a few seconds of the others anyway; gossiping a verdict would let one node with a bad link to X (a
// partial partition) declare X down for the whole cluster, and would need a suspicion/refutation protocol
// on top. The status field stays the member's own word. Should a state for this node arrive that is not
// older than ours (a record saying we are 'down' at our current generation -- from an operator tool, or a
// peer that forged one), we *refute* it: bump our version past it, keeping our real status, so our record
// wins everywhere. An older generation of ourselves is simply outranked by our current one.
//
// Choosing peers (`choosePeers`, Cassandra's rules): each round one random live peer; then, with probability
// down / (live + 1), one random down member (so a recovered member is noticed even if it does not talk to
// us, and a partition heals); and when the live peer was not a seed (or we know fewer live peers than seeds),
// with probability seeds / (live + down), or always when no peer is live, a random seed -- seeds bootstrap new
// nodes and stop the cluster splitting into islands that never gossip with each other.
//
// Ring divergence (ringpop's trick): every state carries the ring checksum its owner holds; `divergence()`
// lists the live members whose checksum differs from ours, the cheap signal that the ring maps disagree.
// Removed members are kept as tombstones (so an old state cannot resurrect them), never chosen nor watched.
import { RingkvError } from '../errors.ts'
import type { MemberInfo } from '../cluster/api.ts'
import type { Random } from '../runtime/index.ts'
import { DEFAULT_PHI_THRESHOLD, PhiAccrualDetector, type PhiOptions } from './phi.ts'

export type MemberStatus = 'joining' | 'normal' | 'leaving' | 'down' | 'removed'
export const MEMBER_STATUSES: readonly MemberStatus[] = Object.freeze(['joining', 'normal', 'leaving', 'down', 'removed'])

export interface MemberState {
  readonly id: string
  /** The binary protocol's address, host:port. */
  readonly address: string
  /** The HTTP API's address, host:port, if the member has one. */
  readonly http: string | undefined
  /** The member's start time (ms since the epoch); a restart gives a higher one. */
  readonly generation: number
  /** Bumped by the member with every heartbeat and every change of its own state. */
  readonly version: number
  readonly status: MemberStatus
  /** Version of the ring map the member holds (0: none yet). */
  readonly ringVersion: number
  /** Hex SHA-256 checksum of that ring map; '' when none. */
  readonly ringChecksum: string
}

export interface DigestEntry {
  readonly id: string
  readonly generation: number
  readonly version: number
}

/** SYN: what the sender knows, member by member. */
export type Digest = readonly DigestEntry[]

/** ACK / ACK2: states the receiver lacks, and (ACK only) what the sender wants back, with what it has. */
export interface Delta {
  readonly states: readonly MemberState[]
  readonly wants: readonly DigestEntry[]
}

export type ChangeKind =
  /** A member heard of for the first time. */
  | 'new'
  /** A member came back with a higher generation. */
  | 'restarted'
  /** A member's own status changed. */
  | 'status'
  /** Its address or HTTP address changed. */
  | 'address'
  /** The ring version or checksum it holds changed. */
  | 'ring'
  /** This node convicted it (phi over the threshold). */
  | 'down'
  /** A member this node had convicted was heard from again. */
  | 'up'
  /** A state of this node that was not older than ours arrived; we bumped our version past it. */
  | 'refuted'

export interface MembershipChange {
  readonly kind: ChangeKind
  readonly id: string
  readonly previous: MemberState | undefined
  readonly current: MemberState
}

export interface GossipTarget {
  /** The member's id when known (a seed may not be known yet). */
  readonly id: string | undefined
  readonly address: string
  readonly reason: 'live' | 'seed' | 'down'
}

export interface RingDivergence {
  readonly id: string
  readonly ringVersion: number
  readonly ringChecksum: string
}

export interface GossipStateOptions {
  self: { id: string; address: string; http?: string | undefined }
  /** This incarnation's start time, ms since the epoch: it must grow across restarts. */
  generation: number
  /** Default 'joining'. */
  status?: MemberStatus
  ring?: { version: number; checksum: string }
  /** Seed addresses (host:port); our own address is ignored. */
  seeds?: readonly string[]
  phi?: PhiOptions
  /** Default 8 (DESIGN section 5). */
  phiThreshold?: number
}

/** > 0 when `a` is newer than `b`: a higher generation, else a higher version. */
export function compareVersions(a: Omit<DigestEntry, 'id'>, b: Omit<DigestEntry, 'id'>): number {
  if (a.generation !== b.generation) return a.generation > b.generation ? 1 : -1
  return a.version === b.version ? 0 : a.version > b.version ? 1 : -1
}

function bad(message: string): RingkvError {
  return new RingkvError('ERR_BAD_GOSSIP', message)
}

function checkCounter(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`)
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export class GossipState {
  readonly #self: string
  readonly #members = new Map<string, MemberState>()
  /** Members this node has convicted (phi over the threshold) and not heard from since. */
  readonly #down = new Set<string>()
  readonly #detector: PhiAccrualDetector
  readonly #threshold: number
  readonly #seeds: readonly string[]

  constructor(options: GossipStateOptions) {
    const { self } = options
    if (typeof self?.id !== 'string' || self.id.length === 0) throw new RangeError('self.id must be a non-empty string')
    if (typeof self.address !== 'string' || self.address.length === 0) {
      throw new RangeError('self.address must be a non-empty string')
    }
    checkCounter(options.generation, 'generation')
    const status = options.status ?? 'joining'
    if (!MEMBER_STATUSES.includes(status)) throw new RangeError(`status must be one of ${MEMBER_STATUSES.join(', ')}`)
    const ring = options.ring ?? { version: 0, checksum: '' }
    checkCounter(ring.version, 'ring.version')
    const threshold = options.phiThreshold ?? DEFAULT_PHI_THRESHOLD
    if (!(threshold > 0) || !Number.isFinite(threshold)) throw new RangeError('phiThreshold must be a finite number > 0')
    this.#self = self.id
    this.#threshold = threshold
    this.#detector = new PhiAccrualDetector(options.phi)
    this.#seeds = Object.freeze([...new Set(options.seeds ?? [])].filter((a) => a !== self.address))
    this.#members.set(
      self.id,
      Object.freeze({
        id: self.id,
        address: self.address,
        http: self.http,
        generation: options.generation,
        version: 1,
        status,
        ringVersion: ring.version,
        ringChecksum: ring.checksum,
      }),
    )
  }

  get id(): string {
    return this.#self
  }

  /** This node's own state. */
  get self(): MemberState {
    return this.#members.get(this.#self)!
  }

  get seeds(): readonly string[] {
    return this.#seeds
  }

  get threshold(): number {
    return this.#threshold
  }

  member(id: string): MemberState | undefined {
    return this.#members.get(id)
  }

  /** Every known member, ourselves and tombstones included, sorted by id. */
  members(): MemberState[] {
    return [...this.#members.values()].sort(byId)
  }

  /** MemberInfo for every member not removed. */
  memberInfos(): MemberInfo[] {
    return this.members()
      .filter((m) => m.status !== 'removed')
      .map((m) => ({ id: m.id, address: m.address, http: m.http }))
  }

  /**
   * Up as far as this node can tell: known, not removed, not saying it is down, and not convicted here.
   * This node is always up to itself.
   */
  isUp(id: string): boolean {
    if (id === this.#self) return true
    const m = this.#members.get(id)
    return m !== undefined && m.status !== 'removed' && m.status !== 'down' && !this.#down.has(id)
  }

  /** Peers (not us) that are up. */
  livePeers(): MemberState[] {
    const out: MemberState[] = []
    for (const m of this.#members.values()) if (m.id !== this.#self && this.isUp(m.id)) out.push(m)
    return out
  }

  /** Peers (not us, not removed) that are down: convicted here, or saying so. */
  downPeers(): MemberState[] {
    const out: MemberState[] = []
    for (const m of this.#members.values()) {
      if (m.id !== this.#self && m.status !== 'removed' && !this.isUp(m.id)) out.push(m)
    }
    return out
  }

  /** The detector's current suspicion of a peer. */
  phi(id: string, nowMs: number): number {
    return this.#detector.phi(id, nowMs)
  }

  /**
   * One heartbeat: bump our version, then run the failure detector over every watched peer. Returns the
   * peers convicted by this tick ('down' changes).
   */
  tick(nowMs: number): MembershipChange[] {
    this.#bump({})
    return this.detect(nowMs)
  }

  /** Run the failure detector alone (tick does it too). */
  detect(nowMs: number): MembershipChange[] {
    const changes: MembershipChange[] = []
    for (const m of this.#members.values()) {
      if (m.id === this.#self || m.status === 'removed' || this.#down.has(m.id)) continue
      if (!this.#detector.isAvailable(m.id, nowMs, this.#threshold)) {
        this.#down.add(m.id)
        changes.push({ kind: 'down', id: m.id, previous: m, current: m })
      }
    }
    return changes
  }

  /** Change our own status (joining -> normal -> leaving -> removed); bumps our version. */
  setStatus(status: MemberStatus): MemberState {
    if (!MEMBER_STATUSES.includes(status)) throw new RangeError(`status must be one of ${MEMBER_STATUSES.join(', ')}`)
    return this.#bump({ status })
  }

  /** Record the ring we now hold; bumps our version. */
  setRing(version: number, checksum: string): MemberState {
    checkCounter(version, 'ring version')
    return this.#bump({ ringVersion: version, ringChecksum: checksum })
  }

  #bump(fields: Partial<MemberState>): MemberState {
    const next = Object.freeze({ ...this.self, ...fields, version: this.self.version + 1 })
    this.#members.set(this.#self, next)
    return next
  }

  /** SYN: (generation, version) of every member we know, tombstones included (in the order first heard of). */
  digest(): DigestEntry[] {
    const out: DigestEntry[] = []
    for (const m of this.#members.values()) out.push({ id: m.id, generation: m.generation, version: m.version })
    return out
  }

  /**
   * What a peer whose digest is `theirs` lacks (our newer states, and every member absent from its digest),
   * and in `wants` the members where it is newer or that we do not know, with what we hold (0/0 for none).
   */
  delta(theirs: Digest): Delta {
    const states: MemberState[] = []
    const wants: DigestEntry[] = []
    const seen = new Set<string>()
    for (const entry of theirs) {
      if (seen.has(entry.id)) continue
      seen.add(entry.id)
      const ours = this.#members.get(entry.id)
      if (ours === undefined) {
        wants.push({ id: entry.id, generation: 0, version: 0 })
        continue
      }
      const cmp = compareVersions(entry, ours)
      if (cmp < 0) states.push(ours)
      else if (cmp > 0) wants.push({ id: ours.id, generation: ours.generation, version: ours.version })
    }
    for (const m of this.#members.values()) if (!seen.has(m.id)) states.push(m)
    return { states, wants }
  }

  /** ACK2: the states a peer asked for in its ACK's `wants` that we hold newer than it does (no wants back). */
  requested(wants: readonly DigestEntry[]): Delta {
    const states: MemberState[] = []
    const seen = new Set<string>()
    for (const want of wants) {
      if (seen.has(want.id)) continue
      seen.add(want.id)
      const ours = this.#members.get(want.id)
      if (ours !== undefined && compareVersions(ours, want) > 0) states.push(ours)
    }
    return { states, wants: [] }
  }

  /**
   * Merge states from a peer (an ACK or ACK2). Newer states replace ours and count as heartbeats for the
   * failure detector; returns what changed (heartbeat-only advances are not reported).
   */
  apply(delta: Delta, nowMs: number): MembershipChange[] {
    const changes: MembershipChange[] = []
    for (const incoming of delta.states) {
      if (typeof incoming?.id !== 'string' || incoming.id.length === 0) throw bad('a gossiped state has no id')
      if (incoming.id === this.#self) {
        this.#refute(incoming, changes)
        continue
      }
      const known = this.#members.get(incoming.id)
      if (known !== undefined && compareVersions(incoming, known) <= 0) continue
      const current: MemberState = Object.freeze({ ...incoming })
      this.#members.set(current.id, current)
      if (known === undefined) {
        changes.push({ kind: 'new', id: current.id, previous: undefined, current })
      } else {
        if (current.generation > known.generation) {
          // A new incarnation: its intervals before the restart say nothing about it now.
          this.#detector.remove(current.id)
          changes.push({ kind: 'restarted', id: current.id, previous: known, current })
        }
        if (current.status !== known.status) changes.push({ kind: 'status', id: current.id, previous: known, current })
        if (current.address !== known.address || current.http !== known.http) {
          changes.push({ kind: 'address', id: current.id, previous: known, current })
        }
        if (current.ringVersion !== known.ringVersion || current.ringChecksum !== known.ringChecksum) {
          changes.push({ kind: 'ring', id: current.id, previous: known, current })
        }
      }
      if (current.status === 'removed') {
        this.#detector.remove(current.id)
        this.#down.delete(current.id)
        continue
      }
      this.#detector.heartbeat(current.id, nowMs)
      if (this.#down.delete(current.id)) changes.push({ kind: 'up', id: current.id, previous: known, current })
    }
    return changes
  }

  /** A state of ourselves arrived: if it is not older than ours (and not ours), outrank it. */
  #refute(incoming: MemberState, changes: MembershipChange[]): void {
    const ours = this.self
    const cmp = compareVersions(incoming, ours)
    if (cmp < 0) return
    if (cmp === 0 && sameState(incoming, ours)) return
    // Same generation (someone reports us down, or a forged record): bump past it. A higher generation means
    // a record from an incarnation that started later than ours by its clock; adopt that generation so our
    // record, which reflects the process actually running, wins again.
    const next: MemberState = Object.freeze({
      ...ours,
      generation: incoming.generation,
      version: Math.max(ours.version, incoming.version) + 1,
    })
    this.#members.set(this.#self, next)
    changes.push({ kind: 'refuted', id: this.#self, previous: incoming, current: next })
  }

  /** Whom to gossip with this round (see the top of this file); empty when we know nobody and have no seeds. */
  choosePeers(random: Random): GossipTarget[] {
    const live = this.livePeers()
    const down = this.downPeers()
    const targets: GossipTarget[] = []
    const liveTarget = live.length > 0 ? live[random.int(live.length)] : undefined
    if (liveTarget !== undefined) targets.push({ id: liveTarget.id, address: liveTarget.address, reason: 'live' })
    if (down.length > 0 && random.next() < down.length / (live.length + 1)) {
      const d = down[random.int(down.length)]!
      targets.push({ id: d.id, address: d.address, reason: 'down' })
    }
    if (this.#seeds.length > 0) {
      const liveWasSeed = liveTarget !== undefined && this.#seeds.includes(liveTarget.address)
      if (!liveWasSeed || live.length < this.#seeds.length) {
        const always = live.length === 0
        if (always || random.next() < this.#seeds.length / (live.length + down.length)) {
          const address = this.#seeds[random.int(this.#seeds.length)]!
          if (!targets.some((t) => t.address === address)) {
            let id: string | undefined
            for (const m of this.#members.values()) if (m.address === address && m.id !== this.#self) id = m.id
            targets.push({ id, address, reason: 'seed' })
          }
        }
      }
    }
    return targets
  }

  /** Live peers whose ring checksum differs from ours (the gossip divergence metric). */
  divergence(): RingDivergence[] {
    const ours = this.self.ringChecksum
    return this.livePeers()
      .filter((m) => m.ringChecksum !== ours)
      .map((m) => ({ id: m.id, ringVersion: m.ringVersion, ringChecksum: m.ringChecksum }))
  }
}

function sameState(a: MemberState, b: MemberState): boolean {
  return (
    a.id === b.id &&
    a.address === b.address &&
    a.http === b.http &&
    a.generation === b.generation &&
    a.version === b.version &&
    a.status === b.status &&
    a.ringVersion === b.ringVersion &&
    a.ringChecksum === b.ringChecksum
  )
}
