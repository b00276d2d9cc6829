// An in-process ringkv cluster for hinted-handoff tests: real nodes (startNode) over the memory network on a
// VirtualClock that jumps to the next timer (autoAdvance), each with a Liveness the test controls in place of
// its gossip failure detector (which keeps running, for the membership itself), so that what the coordinator
// and the hint delivery believe is exact and immediate. A node "goes down" for real (closed: its listener is
// gone, dials fail) and the test tells every node's Liveness; "coming back" starts a new node with the same
// id and address (and data directory, if it has one) and tells every Liveness it is up, which fires onAlive.
import * as assert from 'uvu/assert'
import { decodeReplicaGetReply, encodeReplicaGet } from '../../../src/cluster/messages.ts'
import { MemoryNetwork, type Connection } from '../../../src/net/index.ts'
import { startNode, type HintOptions, type RingkvNode } from '../../../src/node/index.ts'
import type { Liveness } from '../../../src/node/liveness.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { partitionOf, preferenceList } from '../../../src/ring/index.ts'
import { SeededRandom, silentLogger, sleep, VirtualClock } from '../../../src/runtime/index.ts'
import { decodeEnvelope, liveSiblings, type Envelope } from '../../../src/versioning/index.ts'

export const T0 = 1_700_000_000_000

/** What one node believes about the others; the test flips it. */
export class ControlledLiveness implements Liveness {
  readonly #down = new Set<string>()
  readonly #listeners = new Set<(node: string) => void>()

  isAlive(node: string): boolean {
    return !this.#down.has(node)
  }

  onAlive(listener: (node: string) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  markDown(node: string): void {
    this.#down.add(node)
  }

  markUp(node: string): void {
    if (!this.#down.delete(node)) return
    for (const l of [...this.#listeners]) l(node)
  }
}

export interface ClusterOptions {
  nodes: number
  /** Data directories by node id (nodes without one keep everything in memory). */
  dataDirs?: Record<string, string>
  hints?: Partial<HintOptions>
}

export class HandoffCluster {
  readonly clock = new VirtualClock({ startMs: T0, autoAdvance: true })
  readonly network = new MemoryNetwork({ clock: this.clock })
  readonly transport = this.network.transport()
  readonly random = new SeededRandom(1)
  readonly ids: string[]
  readonly #running = new Map<string, RingkvNode>()
  readonly #liveness = new Map<string, ControlledLiveness>()
  #probe: Connection | undefined

  private constructor(readonly options: ClusterOptions) {
    this.ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`)
  }

  static async start(options: ClusterOptions): Promise<HandoffCluster> {
    const cluster = new HandoffCluster(options)
    try {
      for (const id of cluster.ids) await cluster.#start(id)
      await Promise.all(cluster.ids.map((id) => cluster.node(id).waitForRing({ members: cluster.ids.length })))
    } catch (e) {
      await cluster.close()
      throw e
    }
    return cluster
  }

  address(id: string): string {
    return `${id}:${7000 + this.ids.indexOf(id) + 1}`
  }

  async #start(id: string): Promise<RingkvNode> {
    let liveness = this.#liveness.get(id)
    if (liveness === undefined) this.#liveness.set(id, (liveness = new ControlledLiveness()))
    const node = await startNode({
      id,
      listen: this.address(id),
      seeds: this.ids.map((x) => this.address(x)),
      dataDir: this.options.dataDirs?.[id],
      partitions: 64,
      keyspace: { n: 3 },
      hints: this.options.hints,
      // Virtual time jumps ahead while a node waits for real I/O (an fsync, opening an engine), one timer
      // (a gossip round, a delivery tick) per real event-loop turn: a generous timeout keeps such a wait
      // from looking like a slow replica even on a loaded machine (ten minutes of virtual time are hundreds of
      // turns).
      requestTimeoutMs: this.options.dataDirs === undefined ? 60_000 : 600_000,
      clock: this.clock,
      random: this.random.fork(),
      logger: silentLogger,
      transport: this.transport,
      liveness,
    })
    this.#running.set(id, node)
    return node
  }

  node(id: string): RingkvNode {
    const node = this.#running.get(id)
    if (node === undefined) throw new Error(`node ${id} is not running`)
    return node
  }

  /** Stops a node for real and tells every other node it is down. */
  async stop(id: string, options: { tell?: boolean } = {}): Promise<void> {
    const node = this.node(id)
    this.#running.delete(id)
    await node.close()
    if (options.tell ?? true) for (const [other, l] of this.#liveness) if (other !== id) l.markDown(id)
  }

  /** Starts a stopped node again (same id, address, data directory) and tells every node it is up. */
  async restart(id: string): Promise<RingkvNode> {
    const node = await this.#start(id)
    for (const [other, l] of this.#liveness) if (other !== id) l.markUp(id)
    return node
  }

  /** A key whose primaries are `primaries` in that order (searching key-0, key-1, ...). */
  keyWithPrimaries(primaries: string[], prefix = 'key'): Buffer {
    const ring = this.node(this.ids.find((id) => this.#running.has(id))!).ring()
    for (let i = 0; i < 100_000; i++) {
      const key = Buffer.from(`${prefix}-${i}`)
      const list = preferenceList(ring, partitionOf(key, ring.q)).primaries
      if (primaries.every((p, j) => list[j] === p)) return key
    }
    throw new Error(`no key with primaries ${primaries.join(',')}`)
  }

  fallbacksOf(key: Uint8Array): readonly string[] {
    const ring = this.node(this.ids.find((id) => this.#running.has(id))!).ring()
    return preferenceList(ring, partitionOf(key, ring.q)).fallbacks
  }

  /** The envelope `id` stores for `key`, asked over the wire (REPLICA_GET), as a replica would be. */
  async stored(id: string, key: Uint8Array): Promise<Envelope | undefined> {
    const ring = this.node(id).ring()
    const connection = await this.transport.connect(this.address(id), { nodeId: 'probe' })
    try {
      const reply = await connection.request(MessageType.REPLICA_GET, encodeReplicaGet({ partition: partitionOf(key, ring.q), key }), { timeoutMs: 5000 })
      const bytes = decodeReplicaGetReply(reply)
      return bytes === undefined ? undefined : decodeEnvelope(bytes)
    } finally {
      connection.destroy()
    }
  }

  /** The live values `id` stores for `key`, sorted. */
  async values(id: string, key: Uint8Array): Promise<string[]> {
    const env = await this.stored(id, key)
    return env === undefined ? [] : liveSiblings(env, this.clock.now()).map((s) => Buffer.from(s.value as Uint8Array).toString()).sort()
  }

  /** Polls `condition` every 50 ms of virtual time, for at most `maxMs` of it. */
  async waitFor(condition: () => boolean | Promise<boolean>, what: string, maxMs = 60_000): Promise<number> {
    const start = this.clock.now()
    while (!(await condition())) {
      if (this.clock.now() - start > maxMs) assert.unreachable(`timed out after ${maxMs} ms of virtual time waiting for: ${what}`)
      await sleep(this.clock, 50)
    }
    return this.clock.now() - start
  }

  async close(): Promise<void> {
    this.#probe?.destroy()
    for (const node of this.#running.values()) await node.close().catch(() => undefined)
    this.#running.clear()
  }
}
