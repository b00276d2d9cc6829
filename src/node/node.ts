// The composition root of a ringkv node: it opens the store, listens, learns the membership, and
// wires the coordinator, the handlers and the HTTP API together. `startNode` runs a node inside the
// caller's process (an embedded node: local reads skip the network); `ringkv start` runs it alone.
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import type { KvService, MemberInfo } from '../cluster/api.ts'
import { Engine } from '../engine/index.ts'
import { ConnectionPool, tcpTransport, type Server, type Transport } from '../net/index.ts'
import type { RingMap } from '../ring/index.ts'
import { actorId } from '../versioning/index.ts'
import { createLogger, systemClock, type Clock, type Logger } from '../runtime/index.ts'
import { MemoryStore, NativeStore, type ReplicaStore } from '../storage/index.ts'
import { startHttpServer, type HttpServer } from '../http/index.ts'
import { Coordinator, type CoordinatorCounters } from './coordinator.ts'
import { createHandlers } from './handlers.ts'
import { StaticMembership } from './membership.ts'
import { resolveNodeOptions, type NodeOptions } from './options.ts'

const PEER_RETRY_MS = 250

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
  ring(): RingMap
  stats(): NodeStats
  close(): Promise<void>
}

export interface NodeStats {
  coordinator: Readonly<CoordinatorCounters>
  members: number
}

/**
 * The epoch of this node's data: created with the data directory, so a node whose data was wiped gets
 * a new actor id and never reuses the counters of its old one (DESIGN section 3).
 */
function dataEpoch(dataDir: string | undefined, clock: Clock): number {
  if (dataDir === undefined) return clock.now()
  const path = join(dataDir, 'node.json')
  try {
    const epoch = (JSON.parse(readFileSync(path, 'utf8')) as { epoch?: unknown }).epoch
    if (typeof epoch === 'number' && Number.isInteger(epoch) && epoch > 0) return epoch
    throw new RingkvError('ERR_CORRUPTION', `${path} has no valid epoch`)
  } catch (e) {
    if (e instanceof RingkvError) throw e
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RingkvError('ERR_CORRUPTION', `${path} cannot be read: ${(e as Error).message}`)
    }
  }
  const epoch = clock.now()
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(`${path}.tmp`, JSON.stringify({ epoch }))
  renameSync(`${path}.tmp`, path)
  return epoch
}

export async function startNode(options: NodeOptions): Promise<RingkvNode> {
  const o = resolveNodeOptions(options)
  const clock = options.clock ?? systemClock
  const logger = (options.logger ?? createLogger({ clock })).child({ node: o.id })
  const transport: Transport = options.transport ?? tcpTransport({ clock, logger })
  const toClose: Array<() => Promise<void>> = []
  const closeAll = async (): Promise<void> => {
    for (const c of toClose.reverse()) {
      try {
        await c()
      } catch (e) {
        logger.warn('error while closing', { error: (e as Error).message })
      }
    }
  }
  try {
    let store: ReplicaStore
    if (o.dataDir !== undefined) {
      const engine = await Engine.open(join(o.dataDir, 'engine'), { durability: o.durability })
      store = new NativeStore(engine, { ownsEngine: true })
    } else {
      store = new MemoryStore()
    }
    toClose.push(() => store.close())
    const epoch = dataEpoch(o.dataDir, clock)
    const actor = actorId(o.id, epoch)
    // A peer that was reached before and then refuses connections is not dialled again for PEER_RETRY_MS:
    // requests to it fail at once (reads ask another replica) instead of each paying a refused connect.
    const pool = new ConnectionPool(transport, { nodeId: o.id, requestTimeoutMs: o.requestTimeoutMs }, { clock, retryAfterMs: PEER_RETRY_MS })
    toClose.push(() => pool.close())

    let membership: StaticMembership | undefined
    const ring = (): RingMap => membership!.ring
    const durableWrites = o.durability === 'sync'
    const peers = {
      request: (node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer> => {
        const member = membership!.member(node)
        if (member === undefined) {
          return Promise.reject(new RingkvError('ERR_UNKNOWN_NODE', `no member ${node} is known`))
        }
        return pool.request(member.address, type, payload, { timeoutMs })
      },
    }
    const coordinator = new Coordinator({
      self: o.id,
      actor,
      ring,
      store,
      peers,
      clock,
      logger,
      keyspace: o.keyspace,
      requestTimeoutMs: o.requestTimeoutMs,
      durableWrites,
    })
    const handlers = createHandlers({
      coordinator,
      store,
      ring,
      members: () => membership!.members(),
      handleMembers: (payload) => membership!.handleMembers(payload),
      logger,
      durableWrites,
    })
    const server: Server = await transport.listen({ address: o.listen, nodeId: o.id, handlers, requestTimeoutMs: o.requestTimeoutMs })
    toClose.push(() => server.close())
    const self: MemberInfo = { id: o.id, address: server.address, http: o.http }
    membership = new StaticMembership({
      self,
      seeds: o.seeds,
      partitions: o.partitions,
      n: o.keyspace.n,
      dataDir: o.dataDir,
      pool,
      clock,
      logger,
      intervalMs: o.membershipIntervalMs,
      requestTimeoutMs: Math.min(o.requestTimeoutMs, 2000),
    })
    await membership.exchange()
    membership.start()
    toClose.push(async () => membership!.stop())

    let http: HttpServer | undefined
    if (o.http !== undefined) {
      const m = membership
      http = await startHttpServer({
        address: o.http,
        service: coordinator,
        info: () => ({ nodeId: o.id, members: m.members(), ring: { version: m.ring.version, checksum: m.ring.checksum, q: m.ring.q, n: m.ring.n } }),
        logger,
      })
      toClose.push(() => http!.close())
      self.http = http.address
    }
    logger.info('node started', { address: server.address, http: http?.address, actor, members: membership.members().length })

    const node: RingkvNode = {
      id: o.id,
      address: server.address,
      httpAddress: http?.address,
      actor,
      service: coordinator,
      members: () => membership!.members(),
      ring,
      stats: () => ({ coordinator: coordinator.counters, members: membership!.members().length }),
      close: async () => {
        logger.info('node stopping')
        await closeAll()
      },
    }
    return node
  } catch (e) {
    await closeAll()
    throw e
  }
}
