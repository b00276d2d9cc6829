// Deterministic gossip simulation (DESIGN section 5): S nodes in virtual time (integer ms), each gossiping
// once per simulated second, at its own fixed phase within the second, with the peers `choosePeers` picks --
// a three-message push-pull exchange carried through the binary codec, so every message is encoded and
// decoded. Randomness is one SeededRandom per node, forked from the scenario's seed; a failing run prints
// SEED=n and replays exactly. A dead node neither gossips nor answers (an exchange with it is lost).
//
// Figures printed: rounds for S = 10, 50, 100 to converge (every live node holds, for every member, at
// least the version that member had when we started counting); rounds until every live node has convicted
// 1 and then 10 killed nodes (phi > 8); rounds until a restarted node (new generation) is up everywhere.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SeededRandom } from '../../src/runtime/index.ts'
import { GossipState } from '../../src/membership/index.ts'
import { decodeDelta, decodeDigest, encodeDelta, encodeDigest } from '../../src/membership/codec.ts'

const ROUND_MS = 1000
const START_MS = 1_760_000_000_000
const SEEDS = [1, 2, 3, 4, 5]
const C = 4

interface SimNode {
  readonly id: string
  readonly address: string
  state: GossipState
  readonly random: SeededRandom
  readonly phase: number
  alive: boolean
}

class Cluster {
  readonly nodes: SimNode[] = []
  readonly #byAddress = new Map<string, SimNode>()
  readonly seeds: string[]
  now = START_MS
  bytes = 0
  messages = 0
  /** 'down' verdicts about nodes that were alive at the time. */
  falseDowns = 0

  constructor(size: number, readonly seed: number) {
    const root = new SeededRandom(seed)
    const addresses = Array.from({ length: size }, (_, i) => `10.0.${i >> 8}.${i & 255}:7000`)
    this.seeds = addresses.slice(0, Math.min(3, size))
    for (let i = 0; i < size; i++) {
      const id = `n${String(i).padStart(3, '0')}`
      const random = root.fork()
      const node: SimNode = { id, address: addresses[i]!, random, phase: random.int(ROUND_MS), alive: true, state: undefined as never }
      node.state = this.#fresh(node)
      this.nodes.push(node)
      this.#byAddress.set(node.address, node)
    }
  }

  #fresh(node: SimNode): GossipState {
    return new GossipState({
      self: { id: node.id, address: node.address },
      generation: this.now,
      status: 'normal',
      seeds: this.seeds,
    })
  }

  /** A dead node comes back as a new incarnation (generation = now), knowing only its seeds. */
  restart(node: SimNode): void {
    node.state = this.#fresh(node)
    node.alive = true
  }

  live(): SimNode[] {
    return this.nodes.filter((n) => n.alive)
  }

  /** One simulated second: every live node, in phase order, heartbeats and gossips. */
  round(): void {
    const base = this.now
    const order = [...this.nodes].sort((a, b) => a.phase - b.phase || (a.id < b.id ? -1 : 1))
    for (const node of order) {
      if (!node.alive) continue
      const t = base + node.phase
      for (const change of node.state.tick(t)) {
        if (change.kind === 'down' && this.#byAddress.get(change.current.address)?.alive === true) this.falseDowns++
      }
      for (const target of node.state.choosePeers(node.random)) {
        const peer = this.#byAddress.get(target.address)
        if (peer === undefined || !peer.alive) continue
        this.#exchange(node.state, peer.state, t)
      }
    }
    this.now = base + ROUND_MS
  }

  #exchange(a: GossipState, b: GossipState, t: number): void {
    const syn = encodeDigest(a.digest())
    const ack = encodeDelta(b.delta(decodeDigest(syn)))
    const ackDecoded = decodeDelta(ack)
    a.apply(ackDecoded, t)
    const ack2 = encodeDelta(a.requested(ackDecoded.wants))
    b.apply(decodeDelta(ack2), t)
    this.bytes += syn.length + ack.length + ack2.length
    this.messages += 3
  }

  /** Every live node holds, for every live member, at least the (generation, version) in `target`. */
  knowsAtLeast(target: Map<string, { generation: number; version: number }>): boolean {
    for (const n of this.live()) {
      for (const [id, want] of target) {
        const m = n.state.member(id)
        if (m === undefined || m.generation < want.generation) return false
        if (m.generation === want.generation && m.version < want.version) return false
      }
    }
    return true
  }

  snapshot(): Map<string, { generation: number; version: number }> {
    return new Map(this.live().map((n) => [n.id, { generation: n.state.self.generation, version: n.state.self.version }]))
  }

  /** Rounds until `done()` holds (checked after each round), or undefined after `limit` rounds. */
  roundsUntil(done: () => boolean, limit: number): number | undefined {
    for (let r = 1; r <= limit; r++) {
      this.round()
      if (done()) return r
    }
    return undefined
  }
}

function withSeed<T>(seed: number, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    console.log(`SEED=${seed}`)
    throw err
  }
}

const figures: string[] = []

test('convergence: every node learns every member within c*log2(S) rounds', () => {
  for (const size of [10, 50, 100]) {
    const rounds: number[] = []
    const bound = Math.ceil(C * Math.log2(size))
    for (const seed of SEEDS) {
      withSeed(seed, () => {
        const cluster = new Cluster(size, seed)
        // From cold: every node knows only its seeds' addresses.
        const target = cluster.snapshot()
        const r = cluster.roundsUntil(() => cluster.knowsAtLeast(target), 10 * bound)
        assert.ok(r !== undefined && r <= bound, `S=${size} SEED=${seed}: bootstrap took ${r} rounds, bound ${bound}`)
        // Warm: how long a fresh round of heartbeats takes to reach everyone.
        const warm = cluster.snapshot()
        const w = cluster.roundsUntil(() => cluster.knowsAtLeast(warm), 10 * bound)
        assert.ok(w !== undefined && w <= bound, `S=${size} SEED=${seed}: news took ${w} rounds, bound ${bound}`)
        assert.is(cluster.falseDowns, 0, `S=${size} SEED=${seed}: no live node convicted`)
        rounds.push(r, w)
      })
    }
    const cold = rounds.filter((_, i) => i % 2 === 0)
    const warm = rounds.filter((_, i) => i % 2 === 1)
    figures.push(
      `S=${size}: bootstrap rounds ${cold.join(',')} (max ${Math.max(...cold)}), news rounds ${warm.join(',')} (max ${Math.max(...warm)}); bound ${C}*log2(S) = ${bound}`,
    )
  }
})

test('failure detection: killed nodes are convicted everywhere; a restarted node is up everywhere', () => {
  for (const [size, kill] of [
    [50, 1],
    [100, 10],
  ] as const) {
    {
      const detected: number[] = []
      const rejoined: number[] = []
      let falseDowns = 0
      for (const seed of SEEDS.slice(0, 2)) {
        withSeed(seed, () => {
          const cluster = new Cluster(size, seed)
          // Warm up: 15 s of gossip so every detector has a history of intervals.
          for (let i = 0; i < 15; i++) cluster.round()
          assert.ok(cluster.knowsAtLeast(new Map()))
          // Kill `kill` nodes that are not seeds, chosen by the seed.
          const pick = new SeededRandom(seed * 1000 + kill)
          const candidates = cluster.nodes.slice(3)
          const dead: SimNode[] = []
          while (dead.length < kill) {
            const n = candidates[pick.int(candidates.length)]!
            if (!dead.includes(n)) dead.push(n)
          }
          for (const n of dead) n.alive = false
          const allConvicted = (): boolean => cluster.live().every((n) => dead.every((d) => !n.state.isUp(d.id)))
          const r = cluster.roundsUntil(allConvicted, 60)
          assert.ok(r !== undefined && r <= 30, `S=${size} kill=${kill} SEED=${seed}: convicted after ${r} rounds`)
          detected.push(r!)
          // The first dead node restarts with a new generation.
          const back = dead[0]!
          cluster.restart(back)
          const generation = back.state.self.generation
          const upEverywhere = (): boolean =>
            cluster.live().every((n) => n.state.isUp(back.id) && n.state.member(back.id)?.generation === generation) &&
            back.state.members().length === size
          const u = cluster.roundsUntil(upEverywhere, 60)
          assert.ok(u !== undefined && u <= Math.ceil(C * Math.log2(size)), `S=${size} SEED=${seed}: restarted node up after ${u} rounds`)
          rejoined.push(u!)
          // A while later it is still up everywhere, and the other dead stay down.
          for (let i = 0; i < 5; i++) cluster.round()
          assert.ok(upEverywhere())
          assert.ok(cluster.live().every((n) => dead.slice(1).every((d) => !n.state.isUp(d.id))))
          falseDowns += cluster.falseDowns
        })
      }
      assert.is(falseDowns, 0, `S=${size} kill=${kill}: live nodes were convicted ${falseDowns} times`)
      figures.push(
        `S=${size} kill ${kill}: all live nodes convict all dead after ${detected.join(',')} rounds; restarted node up everywhere after ${rejoined.join(',')} rounds; false convictions ${falseDowns}`,
      )
    }
  }
})

test('print figures', () => {
  console.log(`\ngossip convergence (seeds ${SEEDS.join(',')}, one gossip round per simulated second):`)
  for (const line of figures) console.log(`  ${line}`)
})

test.run()
