// Which node coordinates a request: the ring cache and the token-aware pick.
//
// The client keeps the ring map and member addresses a node sent (CLIENT_RING). A key goes to a primary
// replica of its partition -- the coordinator then reads or writes its own copy, one hop fewer -- and
// successive requests rotate over the key's primaries, spreading a hot key's load over its replicas. Without
// a ring (the node has none yet, or `tokenAware: false`, or a scan, which no single key routes) coordinators
// are taken round-robin over every known address.
//
// Retries go down a longer list: the key's other primaries, then its fallbacks (ring order), then members
// not in the ring yet, then seeds no member answers to -- skipping what this request already tried. Nodes that
// recently refused a connection are moved to the end of every list (marked down for a while), so a dead node
// is not paid for on every request.
//
// Routing is an optimisation and never a correctness requirement: any node coordinates any key. So a stale
// ring costs a hop, and the ring is only replaced by one at least as new (a lagging node must not roll it
// back).
import type { MemberInfo } from '../cluster/api.ts'
import { partitionOf } from '../ring/hash.ts'
import { preferenceList } from '../ring/preference.ts'
import type { RingMap } from '../ring/ring-map.ts'

/** What `client.ring()` returns: the cached ring map (undefined until a node sent one) and members. */
export interface RingSnapshot {
  readonly map: RingMap | undefined
  readonly members: readonly MemberInfo[]
}

export class Router {
  readonly #seeds: readonly string[]
  readonly #tokenAware: boolean
  #snapshot: RingSnapshot = { map: undefined, members: [] }
  /** Member id -> binary protocol address. */
  #addressOf = new Map<string, string>()
  /** Every address worth trying: members' (ring order of ids), then seeds not among them. */
  #all: readonly string[]
  /** Per partition, the addresses of its primaries (those with a known address); filled lazily. */
  #primaries: (readonly string[] | undefined)[] = []
  /**
   * Set when every key has the same primaries: the ring has at most N owners (3 nodes with N = 3), so every
   * owner replicates every key. The pick then needs no hash of the key.
   */
  #everyKey: readonly string[] | undefined
  /** Address -> monotonic time until which it is tried last. */
  readonly #downUntil = new Map<string, number>()
  #turn = 0

  constructor(seeds: readonly string[], tokenAware: boolean) {
    this.#seeds = seeds
    this.#tokenAware = tokenAware
    this.#all = seeds
  }

  get snapshot(): RingSnapshot {
    return this.#snapshot
  }

  /** Every address the router would use, members first. */
  get addresses(): readonly string[] {
    return this.#all
  }

  /**
   * Adopt a ring map and member list a node sent, unless the ring is older than ours (or absent while we
   * have one). Returns whether it was adopted.
   */
  update(map: RingMap | undefined, members: readonly MemberInfo[]): boolean {
    const current = this.#snapshot.map
    if (current !== undefined && (map === undefined || map.version < current.version)) return false
    this.#snapshot = Object.freeze({ map, members: Object.freeze([...members]) })
    this.#addressOf = new Map(members.map((m) => [m.id, m.address]))
    this.#primaries = map === undefined ? [] : new Array<readonly string[] | undefined>(map.q)
    this.#everyKey = undefined
    if (map !== undefined) {
      const owners = new Set(map.owners)
      if (owners.size <= map.n) this.#everyKey = [...owners].flatMap((id) => this.#addressOf.get(id) ?? [])
    }
    const all = new Set<string>()
    for (const m of map?.members ?? []) {
      const address = this.#addressOf.get(m.id)
      if (address !== undefined) all.add(address)
    }
    for (const m of members) all.add(m.address)
    for (const s of this.#seeds) all.add(s)
    this.#all = [...all]
    return true
  }

  markDown(address: string, until: number): void {
    this.#downUntil.set(address, until)
  }

  #isDown(address: string, now: number): boolean {
    if (this.#downUntil.size === 0) return false
    const until = this.#downUntil.get(address)
    if (until === undefined) return false
    if (until > now) return true
    this.#downUntil.delete(address)
    return false
  }

  /** The coordinator for a request's first attempt; `key` undefined for requests no key routes (scans). */
  pick(key: Uint8Array | undefined, now: number): string {
    const turn = this.#turn++
    const primaries = key === undefined ? undefined : this.#primaryAddresses(key)
    if (primaries !== undefined && primaries.length > 0) {
      for (let i = 0; i < primaries.length; i++) {
        const address = primaries[(turn + i) % primaries.length] as string
        if (!this.#isDown(address, now)) return address
      }
      // Every primary is down: take the first other node that is not.
      return this.candidates(key, now)[0] as string
    }
    const all = this.#all
    for (let i = 0; i < all.length; i++) {
      const address = all[(turn + i) % all.length] as string
      if (!this.#isDown(address, now)) return address
    }
    return all[turn % all.length] as string
  }

  /** The coordinator for a retry: the first candidate this request has not tried; round again when none is left. */
  retryTarget(key: Uint8Array | undefined, tried: ReadonlySet<string>, now: number): string {
    const list = this.candidates(key, now)
    for (const address of list) if (!tried.has(address)) return address
    return list[tried.size % list.length] as string
  }

  /** Every address in the order a request for `key` tries them; nodes marked down come last. */
  candidates(key: Uint8Array | undefined, now: number): string[] {
    const map = this.#snapshot.map
    let ordered: readonly string[] = this.#all
    if (key !== undefined && map !== undefined && this.#tokenAware) {
      const list = preferenceList(map, partitionOf(key, map.q))
      const seen = new Set<string>()
      for (const id of list.primaries) this.#addKnown(id, seen)
      for (const id of list.fallbacks) this.#addKnown(id, seen)
      for (const address of this.#all) seen.add(address)
      ordered = [...seen]
    }
    const up: string[] = []
    const down: string[] = []
    for (const address of ordered) (this.#isDown(address, now) ? down : up).push(address)
    return down.length === 0 ? up : up.concat(down)
  }

  #addKnown(id: string, into: Set<string>): void {
    const address = this.#addressOf.get(id)
    if (address !== undefined) into.add(address)
  }

  /** Addresses of the key's primaries, or undefined when routing is not token-aware or there is no ring. */
  #primaryAddresses(key: Uint8Array): readonly string[] | undefined {
    const map = this.#snapshot.map
    if (map === undefined || !this.#tokenAware) return undefined
    if (this.#everyKey !== undefined) return this.#everyKey
    const partition = partitionOf(key, map.q)
    let addresses = this.#primaries[partition]
    if (addresses === undefined) {
      const known: string[] = []
      for (const id of preferenceList(map, partition).primaries) {
        const address = this.#addressOf.get(id)
        if (address !== undefined) known.push(address)
      }
      addresses = known
      this.#primaries[partition] = addresses
    }
    return addresses
  }
}
