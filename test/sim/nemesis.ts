// The nemesis: a seeded schedule of faults, injected while the workload runs. It works in episodes: wait a
// random gap, inject one or two faults, hold them for a random time, undo them (heal, restart), repeat. Every
// choice is drawn from the run's Random, so the schedule is part of what the seed replays.
//
// Faults:
//  - split:       the nodes cut in two groups (both ways), each client on one side;
//  - isolate:     one node cut off from everything;
//  - one-way:     one node's segments to another are lost (its requests vanish, or its answers do);
//  - client-cut:  a client cannot reach one node;
//  - crash:       kill -9 of a node, restarted at the end of the episode (on its disk, or wiped);
//  - power-cut:   a node's machine loses power: silence until it is restarted;
//  - reset:       a few random connections reset;
//  - slow-link:   one direction between two hosts gets slow and lossy (stalls and retransmissions).
import type { Random } from '../../src/runtime/random.ts'
import type { SimCluster } from './cluster.ts'
import type { History } from './history.ts'

export type FaultKind = 'split' | 'isolate' | 'one-way' | 'client-cut' | 'crash' | 'power-cut' | 'reset' | 'slow-link'

export const ALL_FAULTS: readonly FaultKind[] = ['split', 'isolate', 'one-way', 'client-cut', 'crash', 'power-cut', 'reset', 'slow-link']

export interface NemesisOptions {
  faults: readonly FaultKind[]
  /** Mean pause between episodes, ms (exponential). */
  meanGapMs: number
  /** A fault lasts between these, ms. */
  minFaultMs: number
  maxFaultMs: number
  /** Nodes down at once, at most. */
  maxDown: number
  /** Crashed nodes come back with an empty disk, at most this many times in a run. */
  wipes: number
  /** Episodes running at the same time (independent schedules), so faults overlap. */
  parallel: number
}

export const defaultNemesis: NemesisOptions = Object.freeze({
  faults: ALL_FAULTS,
  meanGapMs: 1000,
  minFaultMs: 200,
  maxFaultMs: 5000,
  maxDown: 1,
  wipes: 0,
  parallel: 2,
})

export class Nemesis {
  readonly #cluster: SimCluster
  readonly #history: History
  readonly #random: Random
  readonly #o: NemesisOptions
  readonly #clients: readonly string[]
  #wipesLeft: number
  episodes = 0

  constructor(cluster: SimCluster, history: History, random: Random, clients: readonly string[], options: NemesisOptions) {
    if (options.faults.length === 0) throw new RangeError('the nemesis needs at least one kind of fault')
    if (!(options.minFaultMs > 0 && options.maxFaultMs >= options.minFaultMs)) throw new RangeError('need 0 < minFaultMs <= maxFaultMs')
    this.#cluster = cluster
    this.#history = history
    this.#random = random
    this.#o = options
    this.#clients = clients
    this.#wipesLeft = options.wipes
  }

  /** Injects faults until `stop()`; always ends with every fault undone (network healed, nodes up). */
  async run(stop: () => boolean): Promise<void> {
    await Promise.all(Array.from({ length: this.#o.parallel }, () => this.#episodes(stop)))
  }

  async #episodes(stop: () => boolean): Promise<void> {
    while (!stop()) {
      await this.#cluster.sleep(-Math.log(1 - this.#random.next()) * this.#o.meanGapMs)
      if (stop()) break
      this.episodes++
      const count = 1 + (this.#random.next() < 0.3 ? 1 : 0)
      const undo: Array<() => Promise<void> | void> = []
      for (let i = 0; i < count; i++) {
        const kind = this.#o.faults[this.#random.int(this.#o.faults.length)]!
        const u = this.#inject(kind)
        if (u !== undefined) undo.push(u)
      }
      await this.#cluster.sleep(this.#o.minFaultMs + this.#random.next() * (this.#o.maxFaultMs - this.#o.minFaultMs))
      for (const u of undo.reverse()) await u()
    }
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#random.int(items.length)]!
  }

  #fault(description: string): void {
    this.#history.fault(description)
  }

  /** Injects one fault; returns how to undo it (undefined when it needs no undoing or could not be injected). */
  #inject(kind: FaultKind): (() => Promise<void> | void) | undefined {
    const c = this.#cluster
    const net = c.net
    const nodes = c.nodes.map((n) => n.id)
    switch (kind) {
      case 'split': {
        const shuffled = [...nodes]
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = this.#random.int(i + 1)
          ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
        }
        const cut = 1 + this.#random.int(nodes.length - 1)
        const a = shuffled.slice(0, cut)
        const b = shuffled.slice(cut)
        for (const client of this.#clients) (this.#random.next() < 0.5 ? a : b).push(client)
        this.#fault(`split [${a.join(' ')}] | [${b.join(' ')}]`)
        net.partition(a, b)
        return () => {
          this.#fault(`heal split`)
          for (const x of a) for (const y of b) (net.unblock(x, y), net.unblock(y, x))
        }
      }
      case 'isolate': {
        const n = this.#pick(nodes)
        const others = [...nodes, ...this.#clients].filter((h) => h !== n)
        this.#fault(`isolate ${n}`)
        net.partition([n], others)
        return () => {
          this.#fault(`heal isolate ${n}`)
          for (const o of others) (net.unblock(n, o), net.unblock(o, n))
        }
      }
      case 'one-way': {
        const from = this.#pick(nodes)
        const to = this.#pick(nodes.filter((n) => n !== from))
        this.#fault(`one-way ${from} -/-> ${to}`)
        net.block(from, to)
        return () => {
          this.#fault(`heal one-way ${from} -> ${to}`)
          net.unblock(from, to)
        }
      }
      case 'client-cut': {
        if (this.#clients.length === 0) return undefined
        const client = this.#pick(this.#clients)
        const n = this.#pick(nodes)
        this.#fault(`client-cut ${client} | ${n}`)
        net.partition([client], [n])
        return () => {
          this.#fault(`heal client-cut ${client} | ${n}`)
          net.unblock(client, n)
          net.unblock(n, client)
        }
      }
      case 'crash':
      case 'power-cut': {
        const down = c.nodes.filter((n) => n.state !== 'up').length
        const up = c.upNodes
        if (down >= this.#o.maxDown || up.length === 0) return undefined
        const n = this.#pick(up).id
        const how = kind === 'crash' ? 'process' : 'machine'
        this.#fault(`${kind} ${n}`)
        c.crash(n, how)
        return async () => {
          if (this.#wipesLeft > 0 && this.#random.next() < 0.5) {
            this.#wipesLeft--
            this.#fault(`wipe ${n}`)
            c.wipe(n)
          }
          this.#fault(`restart ${n}`)
          await c.restart(n)
        }
      }
      case 'reset': {
        const count = 1 + this.#random.int(3)
        const done = net.reset(count)
        this.#fault(`reset ${done} connections`)
        return undefined
      }
      case 'slow-link': {
        const hosts = [...nodes, ...this.#clients]
        const from = this.#pick(hosts)
        const to = this.#pick(hosts.filter((h) => h !== from))
        const profile = { baseMs: 5 + this.#random.int(50), jitterMs: 5 + this.#random.int(100), lossRate: this.#random.next() * 0.2 }
        this.#fault(`slow-link ${from} -> ${to} ${JSON.stringify(profile)}`)
        net.setLink(profile, from, to)
        return () => {
          this.#fault(`heal slow-link ${from} -> ${to}`)
          net.clearLink(from, to)
        }
      }
    }
  }
}
