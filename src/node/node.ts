// The composition root of a ringkv node: it opens the store, listens, learns the membership, and
// wires the coordinator, the handlers and the HTTP API together. `startNode` runs a node inside the
// caller's process (an embedded node: local reads skip the network); `ringkv start` runs it alone.
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import type { KvService, MemberInfo } from '../cluster/api.ts'
import { Engine } from '../engine/index.ts'
import { ConnectionPool, tcpTransport, type Server, type Transport } from '../net/index.ts'
import { preferenceList, type RingMap } from '../ring/index.ts'
import { actorId } from '../versioning/index.ts'
import { createLogger, systemClock, systemRandom, type Clock, type Logger } from '../runtime/index.ts'
import { MemoryStore, NativeStore, type ReplicaStore } from '../storage/index.ts'
import { startHttpServer, type HttpServer } from '../http/index.ts'
import { EngineHintBacking, HintDelivery, HintStore, MemoryHintBacking, hintedPutHandler, type DeliveryStats, type HintStats } from '../handoff/index.ts'
import { Coordinator, type CoordinatorCounters } from './coordinator.ts'
import { openDataEpoch } from './epoch.ts'
import { createHandlers } from './handlers.ts'
import { GossipMembership, type ClusterStatus } from './gossip-membership.ts'
import { MessageType } from '../protocol/message-types.ts'
import type { RingState } from './ring-state.ts'
import { Ownership, type AbortReport, type TransferReport } from './ownership.ts'
import { PartitionCleanup, type CleanupReport } from './partition-cleanup.ts'
import type { Liveness } from './liveness.ts'
import { resolveNodeOptions, type NodeOptions } from './options.ts'
import { AntiEntropy, antiEntropyDefaults, antiEntropyHandlers, type AntiEntropyStats, type RepairReport } from './anti-entropy/index.ts'

const PEER_RETRY_MS = 250
/** The longest a stopping node waits for its peers to take its shutdown announcement (see announceShutdown). */
const SHUTDOWN_ANNOUNCE_MS = 500

export interface RingkvNode {
  readonly id: string
  /** The binary protocol's bound address. */
  readonly address: string
  readonly httpAddress: string | undefined
  /** This node's actor id in version vectors: the node id and the epoch of its data. */
  readonly actor: string
  /** The database, as a client of this node sees it. */
  readonly service: KvService
  members(): MemberInfo[]
  /** The ring in force; ERR_UNAVAILABLE until the cluster has formed. */
  ring(): RingMap
  /** The ring in force and the pending one of a join or decommission under way. */
  ringState(): RingState
  /** This node's view of the cluster: members, their status and phi, partition ownership. */
  status(): ClusterStatus
  /** Moves to this node its share of the partitions and makes it an owner (`ringkv join`). */
  join(): Promise<TransferReport>
  /** Hands this node's partitions to the others and leaves the ring (`ringkv decommission`). */
  decommission(): Promise<TransferReport>
  /** Resolves once this node holds a ring with at least `members` members (default 1). */
  waitForRing(options?: { members?: number; timeoutMs?: number }): Promise<RingMap>
  /** Runs an anti-entropy round now (`ringkv repair`), over some partitions or all this node replicates. */
  repair(options?: { partitions?: readonly number[] }): Promise<RepairReport>
  /**
   * Removes now the data of partitions this node no longer replicates, if the ring allows it (no change under
   * way, agreed by every live member for the grace period); the background sweep does the same every minute.
   */
  cleanupPartitions(): Promise<CleanupReport>
  /** `ringkv abort`: discards a pending ring change whose driver is gone (Ownership.abort). */
  abortRingChange(options?: { force?: boolean }): AbortReport
  stats(): NodeStats
  close(): Promise<void>
}

export interface NodeStats {
  coordinator: Readonly<CoordinatorCounters>
  members: number
  /** Hinted handoff: pending hints (count, bytes, oldest age = replication lag), drops, deliveries. */
  hints: HintStats & DeliveryStats
  antiEntropy: AntiEntropyStats
  /** Data of partitions this node no longer replicates, removed after a ring change (partition-cleanup.ts). */
  partitionCleanup: { sweeps: number; partitions: number; keys: number }
}

export async function startNode(options: NodeOptions): Promise<RingkvNode> {
  const o = resolveNodeOptions(options)
  const clock = options.clock ?? systemClock
  const logger = (options.logger ?? createLogger({ clock })).child({ node: o.id })
  const transport: Transport = options.transport ?? tcpTransport({ clock, logger })
  const toClose: Array<() => Promise<void>> = []
  /** Closes everything; resolves whether all of it closed without an error. */
  const closeAll = async (): Promise<boolean> => {
    let clean = true
    for (const c of toClose.reverse()) {
      try {
        await c()
      } catch (e) {
        clean = false
        logger.warn('error while closing', { error: (e as Error).message })
      }
    }
    return clean
  }
  try {
    let store: ReplicaStore
    if (options.store !== undefined) {
      store = options.store
    } else if (o.dataDir !== undefined) {
      // A node writes steadily: one flushed log segment is kept for the next to write over (docs/DESIGN.md,
      // "Write path"), at the price of up to two memtables' worth of log on disk.
      const engine = await Engine.open(join(o.dataDir, 'engine'), { durability: o.durability, cacheBytes: o.rowCacheBytes, hugePages: o.hugePages, recycleLogSegments: 1 })
      store = new NativeStore(engine, { ownsEngine: true })
    } else {
      store = new MemoryStore()
    }
    // A given store is its owner's to close; a clean stop still needs its writes on disk.
    toClose.push(options.store === undefined ? () => store.close() : () => store.sync())
    // Hints live in an engine of their own (<dataDir>/hints): never mixed with replica data, never
    // scanned by anti-entropy. Without a data directory they are kept in memory (lost on restart).
    const hints = await HintStore.open(
      options.hintBacking ??
        (o.dataDir !== undefined ? await EngineHintBacking.open(join(o.dataDir, 'hints'), o.durability, o.hugePages) : new MemoryHintBacking()),
      { maxBytes: o.hints.maxBytes, maxAgeMs: o.hints.maxAgeMs, clock, logger },
    )
    toClose.push(() => hints.close())
    const dataEpoch = openDataEpoch(o.dataDir, clock, o.durability, logger)
    const actor = actorId(o.id, dataEpoch.epoch)
    // A peer that was reached before and then refuses connections is not dialled again for PEER_RETRY_MS:
    // requests to it fail at once (reads ask another replica) instead of each paying a refused connect.
    const pool = new ConnectionPool(transport, { nodeId: o.id, requestTimeoutMs: o.requestTimeoutMs }, { clock, retryAfterMs: PEER_RETRY_MS })
    toClose.push(() => pool.close())

    let membership: GossipMembership | undefined
    let ownership: Ownership | undefined
    // The failure detector's view (the membership exists by the time anything asks).
    const liveness: Liveness = options.liveness ?? {
      isAlive: (node) => membership!.isAlive(node),
      onAlive: (listener) => membership!.onAlive(listener),
    }
    const ring = (): RingMap => membership!.ring
    const durableWrites = o.durability === 'sync'
    const peers = {
      request: (node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer> => {
        const address = membership!.addressOf(node)
        if (address === undefined) {
          return Promise.reject(new RingkvError('ERR_UNKNOWN_NODE', `no member ${node} is known`))
        }
        return pool.request(address, type, payload, { timeoutMs })
      },
    }
    const coordinator = new Coordinator({
      self: o.id,
      actor,
      ring,
      pendingRing: () => membership?.ringState.pending,
      store,
      peers,
      clock,
      logger,
      keyspace: o.keyspace,
      requestTimeoutMs: o.requestTimeoutMs,
      durableWrites,
      liveness,
      hints,
    })
    const antiEntropy = new AntiEntropy({
      self: o.id,
      store,
      ring,
      peers,
      liveness: { isAlive: (node) => membership!.isAlive(node), onAlive: (listener) => membership!.onAlive(listener) },
      ringChanging: () => membership!.ringState.pending !== undefined,
      clock,
      logger,
      options: {
        intervalMs: o.antiEntropyIntervalMs,
        tombstoneGraceMs: o.tombstoneGraceMs,
        maxPartitionsPerSecond: o.antiEntropyMaxPartitionsPerSecond,
        maxBytesPerSecond: o.antiEntropyMaxBytesPerSecond,
        requestTimeoutMs: o.requestTimeoutMs,
        segments: antiEntropyDefaults.segments,
      },
    })
    // Client requests wait for the first gossip exchanges (HandlerDeps.ready).
    let ready = false
    const handlers = createHandlers({
      coordinator,
      store,
      ring,
      members: () => membership!.members(),
      extra: [
        [MessageType.GOSSIP_SYN, (payload) => membership!.handleSyn(payload)],
        [MessageType.GOSSIP_ACK2, (payload) => membership!.handleAck2(payload)],
        [MessageType.RING_GET, () => membership!.handleRingGet()],
        [MessageType.ADMIN_STATUS, () => Buffer.from(JSON.stringify(membership!.status()))],
        [MessageType.STREAM_PULL, (payload) => ownership!.handlePull(payload)],
        [MessageType.ADMIN_JOIN, async () => Buffer.from(JSON.stringify(await ownership!.join()))],
        [MessageType.ADMIN_DECOMMISSION, async () => Buffer.from(JSON.stringify(await ownership!.decommission()))],
        [MessageType.ADMIN_ABORT, async (payload) => Buffer.from(JSON.stringify(ownership!.abort({ force: payload.length > 0 && payload[0] === 1 })))],
        [MessageType.HINTED_PUT, hintedPutHandler({ self: o.id, store, hints, durableWrites })],
        ...antiEntropyHandlers({ self: o.id, store, ring, antiEntropy, clock, logger }),
      ],
      logger,
      durableWrites,
      ready: () => ready,
    })
    const server: Server = await transport.listen({ address: o.listen, nodeId: o.id, handlers, requestTimeoutMs: o.requestTimeoutMs })
    toClose.push(() => server.close())
    const self: MemberInfo = { id: o.id, address: server.address, http: o.http }
    membership = new GossipMembership({
      self,
      seeds: o.seeds,
      partitions: o.partitions,
      n: o.keyspace.n,
      bootstrapExpect: o.bootstrapExpect,
      dataDir: o.dataDir,
      pool,
      clock,
      random: options.random ?? systemRandom,
      logger,
      intervalMs: o.membershipIntervalMs,
      requestTimeoutMs: Math.min(o.requestTimeoutMs, 2000, Math.max(100, o.membershipIntervalMs)),
      phiThreshold: o.phiThreshold,
    })
    toClose.push(async () => membership!.stop())
    // Closing runs backwards: once the work this node drives (joins, hint delivery, repair) has stopped, and
    // while the server still drains what peers sent, peers are told this node is going down.
    toClose.push(() => membership!.announceShutdown(SHUTDOWN_ANNOUNCE_MS))
    // A peer that restarted (or came back) is reachable now, even if a dial during its start-up was refused a
    // moment ago: requests must not keep failing on that remembered refusal.
    membership.onAlive((node) => {
      const member = membership!.member(node)
      if (member !== undefined) pool.forgetFailure(member.address)
    })
    ownership = new Ownership({
      self: o.id,
      membership,
      store,
      peers,
      clock,
      logger,
      dataDir: o.dataDir,
      n: o.keyspace.n,
      requestTimeoutMs: o.requestTimeoutMs,
    })
    toClose.push(async () => ownership!.stop())
    await membership.start()
    ready = true
    ownership.resume()
    const delivery = new HintDelivery({
      store: hints,
      peers,
      liveness,
      clock,
      logger,
      ratePerSec: o.hints.deliveryRate,
      bytesPerSec: o.hints.deliveryBytesPerSec,
      intervalMs: o.hints.deliveryIntervalMs,
      timeoutMs: o.requestTimeoutMs,
      placement: (partition) => {
        const { current, pending } = membership!.ringState
        if (current === undefined || pending !== undefined) return undefined
        return preferenceList(current, partition).primaries.filter((x) => x !== o.id)
      },
    })
    delivery.start()
    toClose.push(async () => delivery.stop())
    antiEntropy.start()
    toClose.push(() => antiEntropy.stop())
    const cleanup = new PartitionCleanup({
      self: o.id,
      membership,
      store,
      clock,
      logger,
      graceMs: o.partitionCleanupGraceMs,
      intervalMs: o.partitionCleanupIntervalMs,
    })
    cleanup.start()
    toClose.push(async () => cleanup.stop())

    let http: HttpServer | undefined
    if (o.http !== undefined) {
      const m = membership
      http = await startHttpServer({
        address: o.http,
        service: coordinator,
        info: () => {
          const current = m.ringState.current
          return {
            nodeId: o.id,
            members: m.members(),
            ring: current === undefined ? undefined : { version: current.version, checksum: current.checksum, q: current.q, n: current.n, members: current.members.length },
            cluster: m.status(),
          }
        },
        logger,
      })
      toClose.push(() => http!.close())
      self.http = http.address
    }
    logger.info('node started', { address: server.address, http: http?.address, actor, members: membership.members().length })
    const m = membership

    const node: RingkvNode = {
      id: o.id,
      address: server.address,
      httpAddress: http?.address,
      actor,
      service: coordinator,
      members: () => m.members(),
      ring,
      ringState: () => m.ringState,
      join: () => ownership!.join(),
      decommission: () => ownership!.decommission(),
      abortRingChange: (options) => ownership!.abort(options),
      status: () => m.status(),
      waitForRing: (w = {}) => waitForRing(m, clock, w.members ?? 1, w.timeoutMs ?? 30_000),
      repair: (r) => antiEntropy.repair(r),
      cleanupPartitions: () => cleanup.sweep(),
      stats: () => ({
        coordinator: coordinator.counters,
        members: m.members().length,
        hints: { ...hints.stats(), ...delivery.stats() },
        antiEntropy: antiEntropy.stats(),
        partitionCleanup: { ...cleanup.totals },
      }),
      close: async () => {
        logger.info('node stopping')
        if (await closeAll()) dataEpoch.markClosed()
      },
    }
    return node
  } catch (e) {
    await closeAll()
    throw e
  }
}

function waitForRing(m: GossipMembership, clock: Clock, members: number, timeoutMs: number): Promise<RingMap> {
  const ready = (): RingMap | undefined => {
    const current = m.ringState.current
    return current !== undefined && current.members.length >= members ? current : undefined
  }
  const now = ready()
  if (now !== undefined) return Promise.resolve(now)
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      off()
      reject(new RingkvError('ERR_TIMEOUT', `node ${m.id} has no ring of ${members} members after ${timeoutMs} ms`))
    }, timeoutMs)
    const off = m.onRingChange(() => {
      const ring = ready()
      if (ring === undefined) return
      clock.clearTimeout(timer)
      off()
      resolve(ring)
    })
  })
}
