// A whole ringkv cluster in one process, on one virtual clock and one seeded random source: real nodes
// (startNode, the production coordinator, handlers, membership and connection layer) over the simulator's
// network (network.ts), and real clients (src/client) on hosts of their own.
//
// What a node keeps across a crash is its "disk": a SimDisk (disk.ts: bytes with the engine's durability, so a
// power cut loses what was not fsynced yet) under the MemoryStore each incarnation opens, and a data directory
// for the node's own files (its data epoch, hence its actor id, and its member list) -- the files a real node
// keeps. A crash stops a process at once and never calls close: its timers are
// cancelled (ProcessClock.halt), its sockets die as the network says (kill -9 or power cut), and its store
// handle is closed so that code still in flight cannot touch the disk. A restart is a new process on the same
// disk; a wipe gives it an empty one, so it comes back with a new epoch and a new actor.
//
// Nothing here reads the real time or Math.random: the run is a function of the seed.
import { createHash, type Hash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Client } from '../../src/client/index.ts'
import type { KvService } from '../../src/cluster/api.ts'
import { RingkvError } from '../../src/errors.ts'
import { valueDigest } from '../../src/engine/index.ts'
import { StreamTransport } from '../../src/net/stream-transport.ts'
import { NODE_FILE } from '../../src/node/epoch.ts'
import { startNode, type RingkvNode } from '../../src/node/node.ts'
import type { HintOptions, KeyspaceOptions } from '../../src/node/options.ts'
import type { RepairReport } from '../../src/node/anti-entropy/index.ts'
import { partitionOf, preferenceList, type RingMap } from '../../src/ring/index.ts'
import { VirtualClock } from '../../src/runtime/clock.ts'
import { createLogger, type Logger, type LogLevel } from '../../src/runtime/logger.ts'
import { SeededRandom } from '../../src/runtime/random.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { MAX_KEY_BYTES, encodeStorageKey, storageRange, type ReplicaStore } from '../../src/storage/index.ts'
import { decodeEnvelope, type Envelope } from '../../src/versioning/index.ts'
import { SimDisk, type DiskDurability } from './disk.ts'
import { MemoryHintBacking } from '../../src/handoff/index.ts'
import { drive } from './drive.ts'
import { SimNetwork, type LinkProfile } from './network.ts'
import { ProcessClock } from './node-clock.ts'

/** Virtual wall-clock time at which every simulation starts (a realistic epoch, so timestamps look real). */
export const SIM_START_MS = 1_767_225_600_000
const PORT = 7000

export interface SimClusterOptions {
  seed: number
  /** Nodes n1..nN. Default 3. */
  nodes?: number
  /**
   * Of those, how many (the last ones) are spares: not started with the cluster, but ready to be started later
   * with the cluster's seeds (`startSpare`) and joined (issue 4, test 9). Default 0.
   */
  spares?: number
  /**
   * The nodes' background anti-entropy interval. Default 0: no background rounds, so a scenario decides when
   * anti-entropy runs (`antiEntropy()`), and scenarios without it show what the rest of the system does alone.
   */
  antiEntropyIntervalMs?: number
  /** How long a tombstone or expired value stays before garbage collection may remove it. Default: the node's. */
  tombstoneGraceMs?: number
  /** Hinted handoff limits (bytes, age, delivery pace). Default: the node's. */
  hints?: Partial<HintOptions>
  /** Ring partitions: few keep a simulated run cheap. Default 64. */
  partitions?: number
  keyspace?: Partial<KeyspaceOptions>
  /** The network's default link. Default 0.2 ms + exp(0.5 ms). */
  link?: Partial<LinkProfile>
  /** Each machine's wall clock is off by a random amount in [-maxSkewMs, maxSkewMs]. Default 0. */
  maxSkewMs?: number
  /** The nodes' per-request timeout. Default 2000. */
  requestTimeoutMs?: number
  membershipIntervalMs?: number
  /** Unacknowledged TCP data older than this aborts a connection. Default 15 s. */
  abortAfterMs?: number
  /**
   * The nodes' durability mode: 'interval' (the default, as in production) fsyncs every 5 ms, so a power cut
   * loses the last few milliseconds of writes; 'sync' loses nothing.
   */
  durability?: DiskDurability
  /** Log lines kept (the last ones are printed when a run fails). Default 'info'. */
  logLevel?: LogLevel
  /**
   * FOR NEGATIVE CONTROLS ONLY: a wipe leaves node.json (the data epoch) in place, as if only the engine's files
   * had been deleted.
   */
  wipeKeepsEpoch?: boolean
  /**
   * FOR NEGATIVE CONTROLS ONLY: after a crash, node.json is made to say the node stopped cleanly, so it restarts
   * with its old actor even though the crash may have lost writes -- what the "running" mark prevents.
   */
  crashLooksClean?: boolean
  /** FOR NEGATIVE CONTROLS ONLY: wraps each process's store, to plant a bug the checker must find. */
  wrapStore?: (store: ReplicaStore) => ReplicaStore
  /**
   * FOR NEGATIVE CONTROLS ONLY: no hinted handoff (hints are not kept), so a planted bug is not masked by
   * hints bringing a restarted replica what it missed before it takes new writes.
   */
  noHints?: boolean
}

export type CrashKind = 'process' | 'machine'
/** How a node went down: a crash, or a clean stop (close). */
export type DownKind = CrashKind | 'stopped'

interface Process {
  readonly node: RingkvNode
  readonly clock: ProcessClock
  readonly store: MemoryStore
  /** Settles (rejects) when the process dies: what an in-process caller waiting on it observes. */
  readonly died: Promise<never>
  kill(): void
}

/** FOR NEGATIVE CONTROLS: a hint backing that keeps nothing, so no hint is ever delivered. */
class HintBlackHole extends MemoryHintBacking {
  override write(): Promise<void> {
    return Promise.resolve()
  }
}

export class SimNode {
  disk: SimDisk
  /** Hints kept on the same disk (in memory: they survive crashes and power cuts, and go with a wipe). */
  hints = new MemoryHintBacking()
  state: 'down' | 'starting' | 'up' | 'stopping' = 'down'
  /** How it went down last: a machine crash needs the machine powered on again. */
  downKind: DownKind | undefined
  process: Process | undefined
  /** Every actor id this node has written with, in order. */
  readonly actors: string[] = []
  crashes = 0
  wipes = 0
  /** Writes lost to power cuts, over every disk this node had. */
  lostWrites = 0
  /** Started at least once (a spare is not until `startSpare`). */
  started = false
  /** Decommissioned: no longer a member the others must know. */
  left = false

  constructor(
    readonly id: string,
    readonly address: string,
    readonly dataDir: string,
    readonly skewMs: number,
    readonly newDisk: () => SimDisk,
  ) {
    this.disk = newDisk()
  }
}

export class SimCluster {
  readonly seed: number
  readonly clock: VirtualClock
  readonly random: SeededRandom
  readonly net: SimNetwork
  readonly nodes: SimNode[] = []
  readonly options: Required<Omit<SimClusterOptions, 'keyspace' | 'link' | 'wrapStore' | 'tombstoneGraceMs' | 'hints'>> &
    Pick<SimClusterOptions, 'wrapStore' | 'tombstoneGraceMs' | 'hints'> & { keyspace: Partial<KeyspaceOptions> }
  /** The last log lines of every process (bounded). */
  readonly logs: string[] = []
  readonly #trace: Hash = createHash('sha256')
  #traceEvents = 0
  readonly #root: string
  readonly #clients: Client[] = []
  #closed = false

  constructor(options: SimClusterOptions) {
    if (!Number.isSafeInteger(options.seed)) throw new RangeError(`seed must be a safe integer, got ${options.seed}`)
    this.seed = options.seed
    this.options = {
      seed: options.seed,
      nodes: options.nodes ?? 3,
      spares: options.spares ?? 0,
      antiEntropyIntervalMs: options.antiEntropyIntervalMs ?? 0,
      tombstoneGraceMs: options.tombstoneGraceMs,
      hints: options.hints,
      partitions: options.partitions ?? 64,
      keyspace: options.keyspace ?? {},
      maxSkewMs: options.maxSkewMs ?? 0,
      requestTimeoutMs: options.requestTimeoutMs ?? 2000,
      membershipIntervalMs: options.membershipIntervalMs ?? 1000,
      abortAfterMs: options.abortAfterMs ?? 15_000,
      logLevel: options.logLevel ?? 'info',
      wipeKeepsEpoch: options.wipeKeepsEpoch ?? false,
      noHints: options.noHints ?? false,
      crashLooksClean: options.crashLooksClean ?? false,
      durability: options.durability ?? 'interval',
      wrapStore: options.wrapStore,
    }
    if (!(Number.isSafeInteger(this.options.spares) && this.options.spares >= 0 && this.options.spares < this.options.nodes)) {
      throw new RangeError(`spares must be an integer in [0, nodes), got ${this.options.spares}`)
    }
    this.clock = new VirtualClock({ startMs: SIM_START_MS })
    this.random = new SeededRandom(options.seed)
    this.net = new SimNetwork({
      clock: this.clock,
      random: this.random.fork(),
      link: { baseMs: 0.2, jitterMs: 0.5, ...(options.link ?? {}) },
      abortAfterMs: this.options.abortAfterMs,
      onTrace: (event, bytes) => this.trace(event, bytes),
    })
    this.#root = mkdtempSync(join(tmpdir(), 'ringkv-sim-'))
    for (let i = 1; i <= this.options.nodes; i++) {
      const id = `n${i}`
      const skew = this.options.maxSkewMs === 0 ? 0 : this.random.int(2 * this.options.maxSkewMs + 1) - this.options.maxSkewMs
      const newDisk = () =>
        new SimDisk({ now: () => this.clock.now(), durability: this.options.durability, phase: this.random.next() * 5 })
      this.nodes.push(new SimNode(id, `${id}:${PORT}`, join(this.#root, id), skew, newDisk))
    }
  }

  /** The seeds every node and client is given: the nodes the cluster started with. */
  get addresses(): string[] {
    return this.nodes.slice(0, this.nodes.length - this.options.spares).map((n) => n.address)
  }

  /** Nodes that are members: started, and not decommissioned. */
  get memberNodes(): SimNode[] {
    return this.nodes.filter((n) => n.started && !n.left)
  }

  node(id: string): SimNode {
    const node = this.nodes.find((n) => n.id === id)
    if (node === undefined) throw new RangeError(`no node ${id} in this cluster`)
    return node
  }

  /** Nodes whose process is running. */
  get upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.state === 'up')
  }

  /** Records an event in the trace (the hash two runs of one seed must agree on). */
  trace(event: string, bytes?: Buffer): void {
    this.#trace.update(event)
    this.#trace.update('\n')
    if (bytes !== undefined) this.#trace.update(bytes)
    this.#traceEvents++
  }

  /** The hash of everything traced so far, and how many events went into it. */
  traceDigest(): { hash: string; events: number } {
    return { hash: this.#trace.copy().digest('hex'), events: this.#traceEvents }
  }

  /** Starts every node; resolves when each knows every other (the membership is complete). */
  async start(): Promise<void> {
    await Promise.all(this.nodes.slice(0, this.nodes.length - this.options.spares).map((n) => this.#spawn(n)))
    await this.waitForMembership()
  }

  /** Starts a spare node for the first time, with the cluster's seeds: it finds the ring and waits to join. */
  async startSpare(id: string): Promise<void> {
    const node = this.node(id)
    if (node.started) throw new Error(`cannot start spare ${id}: it was started before`)
    this.trace(`start spare ${id}`)
    await this.#spawn(node)
    await this.waitForMembership()
  }

  /** Waits (in virtual time) until every running node knows every node. */
  async waitForMembership(maxMs = 30_000): Promise<void> {
    const deadline = this.clock.now() + maxMs
    const expected = this.memberNodes.length
    while (this.upNodes.some((n) => !n.left && n.process!.node.members().length < expected)) {
      if (this.clock.now() > deadline) throw new Error(`membership incomplete after ${maxMs} ms`)
      await this.sleep(50)
    }
  }

  /** Lets virtual time pass from inside the simulation (a session, the nemesis). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms))
  }

  /** From the test: move virtual time forward by `ms`, running everything due on the way. */
  run(ms: number): Promise<void> {
    return this.clock.advance(ms)
  }

  /** From the test: advance virtual time until `promise` settles. */
  drive<T>(promise: Promise<T>, maxMs = 120_000, what?: string): Promise<T> {
    return drive(this.clock, promise, { maxMs, stepMs: 5, what })
  }

  /** Kills a running node: kill -9 (peers see its sockets close) or a power cut (silence). No close() runs. */
  crash(id: string, kind: CrashKind = 'process'): void {
    const node = this.node(id)
    if (node.state !== 'up' || node.process === undefined) throw new Error(`cannot crash ${id}: it is ${node.state}`)
    this.trace(`crash ${id} ${kind}`)
    node.process.kill()
    if (kind === 'process') {
      this.net.crashProcess(id)
    } else {
      this.net.crashMachine(id)
      const lost = node.disk.powerCut()
      node.lostWrites += lost
      if (lost > 0) this.trace(`power cut ${id} lost ${lost} unsynced writes`)
    }
    node.process = undefined
    node.state = 'down'
    node.downKind = kind
    node.crashes++
  }

  /** Stops a running node cleanly (close: its connections end, its store is synced, it marks itself stopped). */
  async stop(id: string): Promise<void> {
    const node = this.node(id)
    if (node.state !== 'up' || node.process === undefined) throw new Error(`cannot stop ${id}: it is ${node.state}`)
    this.trace(`stop ${id}`)
    const p = node.process
    node.state = 'stopping'
    await p.node.close()
    p.clock.halt()
    await p.store.close()
    node.process = undefined
    node.state = 'down'
    node.downKind = 'stopped'
  }

  /** Empties a crashed node's disk: its data and its own files (data epoch, members) are gone. */
  wipe(id: string): void {
    const node = this.node(id)
    if (node.state !== 'down') throw new Error(`cannot wipe ${id} while it is ${node.state}`)
    this.trace(`wipe ${id}`)
    node.disk = node.newDisk()
    node.hints = new MemoryHintBacking()
    if (this.options.wipeKeepsEpoch) rmSync(join(node.dataDir, 'members.json'), { force: true })
    else rmSync(node.dataDir, { recursive: true, force: true })
    node.wipes++
  }

  /** Starts a crashed node again on its disk (powering its machine on first if it lost power). */
  async restart(id: string): Promise<void> {
    const node = this.node(id)
    if (node.state !== 'down') throw new Error(`cannot restart ${id}: it is ${node.state}`)
    this.trace(`restart ${id}`)
    if (node.downKind === 'machine') this.net.restartMachine(id)
    if (this.options.crashLooksClean && node.downKind !== 'stopped') {
      const path = join(node.dataDir, NODE_FILE)
      if (existsSync(path)) writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), running: false }))
    }
    await this.#spawn(node)
  }

  async #spawn(node: SimNode): Promise<void> {
    node.state = 'starting'
    const clock = new ProcessClock(this.clock, node.skewMs)
    const disk = node.disk
    const store = new MemoryStore({ backing: disk })
    // A DW write (or anything else that asks the store to sync) is an fsync of the disk.
    const synced = delegateStore(store, {
      sync: async () => {
        await store.sync()
        disk.sync()
      },
    })
    const incarnation = node.crashes + 1
    const logger = this.#logger(clock, { node: node.id, incarnation })
    let kill!: () => void
    const died = new Promise<never>((_, reject) => {
      kill = () => reject(new RingkvError('ERR_CRASHED', `${node.id} crashed while the call was in flight`))
    })
    died.catch(() => {})
    let ringkv: RingkvNode
    try {
      ringkv = await startNode({
        id: node.id,
        listen: node.address,
        seeds: this.addresses,
        dataDir: node.dataDir,
        store: this.options.wrapStore?.(synced) ?? synced,
        hintBacking: this.options.noHints ? new HintBlackHole() : node.hints,
        durability: this.options.durability,
        partitions: this.options.partitions,
        keyspace: this.options.keyspace,
        requestTimeoutMs: this.options.requestTimeoutMs,
        membershipIntervalMs: this.options.membershipIntervalMs,
        antiEntropyIntervalMs: this.options.antiEntropyIntervalMs,
        // Short, so that runs with ring changes also remove handed-over data while the checker watches.
        partitionCleanupGraceMs: 3000,
        partitionCleanupIntervalMs: 1000,
        ...(this.options.tombstoneGraceMs === undefined ? {} : { tombstoneGraceMs: this.options.tombstoneGraceMs }),
        ...(this.options.hints === undefined ? {} : { hints: this.options.hints }),
        clock,
        random: this.random.fork(),
        logger,
        transport: new StreamTransport(this.net.host(node.id), { clock, logger }),
      })
    } catch (e) {
      node.state = 'down'
      throw e
    }
    node.actors.push(ringkv.actor)
    node.started = true
    node.process = {
      node: ringkv,
      clock,
      store,
      died,
      kill: () => {
        clock.halt()
        // The dead process's code still in flight must not reach the disk: its handle to it is closed.
        void store.close().catch(() => {})
        kill()
      },
    }
    node.state = 'up'
    this.trace(`up ${node.id} ${ringkv.actor}`)
  }

  #logger(clock: ProcessClock, fields: Record<string, unknown>): Logger {
    return createLogger({
      level: this.options.logLevel,
      clock,
      fields,
      sink: (line) => {
        this.logs.push(line)
        if (this.logs.length > 400) this.logs.splice(0, 100)
      },
    })
  }

  /**
   * A node's service as an embedded caller sees it (startNode in the caller's process): calls go straight to its
   * coordinator. When the node is down a call fails at once with ERR_UNAVAILABLE; when it dies during a call,
   * the call fails with ERR_CRASHED (its outcome unknown), as the caller's process would die with it.
   */
  service(id: string): KvService {
    const node = this.node(id)
    const call = <T>(f: (s: KvService) => Promise<T>): Promise<T> => {
      const p = node.process
      if (node.state !== 'up' || p === undefined) {
        return Promise.reject(new RingkvError('ERR_UNAVAILABLE', `${id} is down`))
      }
      return Promise.race([f(p.node.service), p.died])
    }
    return {
      get: (key, options) => call((s) => s.get(key, options)),
      put: (key, value, options) => call((s) => s.put(key, value, options)),
      delete: (key, options) => call((s) => s.delete(key, options)),
      scan: (options) => call((s) => s.scan(options)),
    }
  }

  /** A real client on a host of its own (`name`), seeded with every node's address. */
  async client(name: string, options: { timeoutMs?: number; retries?: number } = {}): Promise<Client> {
    const clock = new ProcessClock(this.clock)
    const logger = this.#logger(clock, { client: name })
    const client = await connect({
      seeds: this.addresses,
      clientId: name,
      transport: new StreamTransport(this.net.host(name), { clock, logger }),
      clock,
      random: this.random.fork(),
      logger,
      timeoutMs: options.timeoutMs ?? this.options.requestTimeoutMs,
      retries: options.retries ?? 2,
    })
    this.#clients.push(client)
    return client
  }

  /** The ring as a running node sees it. */
  ring(): RingMap {
    const up = this.upNodes.find((n) => !n.left)
    if (up === undefined) throw new Error('no node is up')
    return up.process!.node.ring()
  }

  /** Heals the network and restarts every node that is down (on its disk as it is). */
  async recover(): Promise<void> {
    this.net.heal()
    this.net.resetLinks()
    await Promise.all(this.nodes.filter((n) => n.state === 'down' && n.started).map((n) => this.restart(n.id)))
    await this.waitForMembership()
  }

  /** What a running node's store holds for a key (undefined when nothing), through its own store handle. */
  stored(id: string, key: string): Envelope | undefined {
    const process = this.node(id).process
    if (process === undefined) throw new Error(`cannot read ${id}'s store: it is ${this.node(id).state}`)
    return process.store.get(partitionOf(Buffer.from(key), this.options.partitions), Buffer.from(key))
  }

  /**
   * Changes a node's disk behind its back (issue 4, test 7): 'corrupt' flips bytes of the key's stored envelope
   * (the store then reports ERR_CORRUPTION for it), 'delete' removes the key. Returns whether the key was there.
   */
  tamper(id: string, key: string, how: 'corrupt' | 'delete'): boolean {
    const disk = this.node(id).disk
    const storageKey = encodeStorageKey(partitionOf(Buffer.from(key), this.options.partitions), Buffer.from(key), MAX_KEY_BYTES)
    const stored = disk.get(storageKey)
    if (stored === undefined) return false
    this.trace(`tamper ${id} ${key} ${how}`)
    if (how === 'delete') {
      disk.delete(storageKey)
    } else {
      const damaged = Buffer.from(stored)
      // The envelope's header and counts come first: damage there cannot decode as another valid envelope.
      for (let i = 0; i < Math.min(4, damaged.length); i++) damaged[i] = damaged[i]! ^ 0xa5
      disk.put(storageKey, damaged)
    }
    return true
  }

  /**
   * Whether every replica of `key` other than `id` holds a copy that decodes: tampering with `id`'s copy then
   * leaves the key's latest acknowledged write (on at least W = 2 replicas) on some intact copy to repair from.
   */
  intactElsewhere(id: string, key: string): boolean {
    const k = Buffer.from(key)
    const partition = partitionOf(k, this.options.partitions)
    const storageKey = encodeStorageKey(partition, k, MAX_KEY_BYTES)
    for (const other of preferenceList(this.ring(), partition).primaries) {
      if (other === id) continue
      const stored = this.node(other).disk.get(storageKey)
      if (stored === undefined) return false
      try {
        decodeEnvelope(stored)
      } catch {
        return false
      }
    }
    return true
  }

  /** One anti-entropy round on every running member at once (`ringkv repair` on each), as the nodes report it. */
  async antiEntropy(): Promise<RepairReport[]> {
    const running = this.upNodes.filter((n) => !n.left)
    this.trace(`anti-entropy round on ${running.map((n) => n.id).join(',')}`)
    return Promise.all(running.map((n) => n.process!.node.repair()))
  }

  /**
   * Per partition, the Merkle root (`store.merkle(p, segments)`) of each of its replicas in the ring, by node:
   * what anti-entropy compares. Every replica must be running.
   */
  async merkleRoots(segments: number): Promise<Map<number, Map<string, string>>> {
    const ring = this.ring()
    const out = new Map<number, Map<string, string>>()
    for (let p = 0; p < ring.q; p++) {
      const byNode = new Map<string, string>()
      for (const id of preferenceList(ring, p).primaries) {
        const process = this.node(id).process
        if (process === undefined) throw new Error(`replica ${id} of partition ${p} is not running`)
        byNode.set(id, (await process.store.merkle(p, segments)).root.toString('hex'))
      }
      out.set(p, byNode)
    }
    return out
  }

  /**
   * Waits until nothing sent before `since` is still travelling -- segments held by a partition are delivered at
   * the sender's next retransmission after the heal, or dropped when it gives up (abortAfterMs) -- and then for
   * the requests they carried to finish (one request timeout). Until then a write a client gave up on long ago
   * can still reach its coordinator and be applied, as on a real network.
   */
  async quiesce(since: number): Promise<void> {
    while (this.net.oldestInFlight() <= since) await this.sleep(100)
    await this.sleep(this.options.requestTimeoutMs + 100)
  }

  /**
   * Per partition, a digest of every replica's stored envelopes (canonical bytes), by node: replicas have
   * converged when all digests of a partition are equal.
   */
  partitionDigests(): Map<number, Map<string, string>> {
    const ring = this.ring()
    const out = new Map<number, Map<string, string>>()
    for (let p = 0; p < ring.q; p++) {
      const byNode = new Map<string, string>()
      const range = storageRange(p, undefined, MAX_KEY_BYTES)
      for (const id of preferenceList(ring, p).primaries) {
        const hash = createHash('sha256')
        for (const { key, value } of this.node(id).disk.range(range.start, range.end)) {
          hash.update(`${key.length}:${value.length}:`)
          hash.update(key)
          hash.update(value)
        }
        byNode.set(id, hash.digest('hex'))
      }
      out.set(p, byNode)
    }
    return out
  }

  /** Bytes stored on every node's disk (the sum of encoded envelopes and their keys). */
  dataBytes(): number {
    let total = 0
    for (const n of this.nodes) {
      for (const { key, value } of n.disk.range(Buffer.alloc(0), undefined)) total += key.length + value.length
    }
    return total
  }

  /** Closes clients and running nodes gracefully (healing first), and removes the data directories. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.net.heal()
    try {
      await this.drive(
        (async () => {
          await Promise.all(this.#clients.map((c) => c.close()))
          await Promise.all(this.upNodes.map((n) => n.process!.node.close()))
        })(),
        60_000,
        'closing the cluster',
      )
    } finally {
      for (const n of this.nodes) n.process?.clock.halt()
      rmSync(this.#root, { recursive: true, force: true })
    }
  }
}

/** A store that does what `inner` does, except for the methods given (to model a disk, or plant a bug). */
export function delegateStore(inner: ReplicaStore, overrides: Partial<Omit<ReplicaStore, 'limits'>>): ReplicaStore {
  return {
    get limits() {
      return inner.limits
    },
    get: overrides.get ?? ((p, k) => inner.get(p, k)),
    getBytes: overrides.getBytes ?? ((p, k) => inner.getBytes(p, k)),
    // What the (possibly overridden) getBytes returns, digested: a planted read bug shows in digest reads too.
    getDigest:
      overrides.getDigest ??
      (overrides.getBytes === undefined
        ? (p, k) => inner.getDigest(p, k)
        : (p, k) => {
            const bytes = overrides.getBytes!(p, k)
            return bytes === undefined ? undefined : valueDigest(bytes)
          }),
    update: overrides.update ?? ((p, k, context, actor, write, limits) => inner.update(p, k, context, actor, write, limits)),
    merge: overrides.merge ?? ((p, k, incoming, incomingBytes) => inner.merge(p, k, incoming, incomingBytes)),
    // Through the (possibly overridden) merge when one is planted, so replica writes meet it too.
    mergeBytes:
      overrides.mergeBytes ??
      (overrides.merge === undefined
        ? (p, k, bytes) => inner.mergeBytes(p, k, bytes)
        : (p, k, bytes) => {
            const { changed, durable } = overrides.merge!(p, k, decodeEnvelope(bytes), bytes)
            return { changed, durable }
          }),
    scan: overrides.scan ?? ((p, o) => inner.scan(p, o)),
    remove: overrides.remove ?? ((p, k) => inner.remove(p, k)),
    collect: overrides.collect ?? ((p, k, expectedHash, now) => inner.collect(p, k, expectedHash, now)),
    merkle: overrides.merkle ?? ((p, segments) => inner.merkle(p, segments)),
    merkleEntries: overrides.merkleEntries ?? ((p, segments, leaves) => inner.merkleEntries(p, segments, leaves)),
    entryHash: overrides.entryHash ?? ((p, k) => inner.entryHash(p, k)),
    sync: overrides.sync ?? (() => inner.sync()),
    stats: overrides.stats ?? (() => inner.stats()),
    close: overrides.close ?? (() => inner.close()),
  }
}
