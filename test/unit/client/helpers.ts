// Test nodes for the client: servers on a real Transport (TCP on 127.0.0.1 or the memory network) that answer
// CLIENT_* messages from one in-test store shared by every node (as a cluster's replicas would converge to),
// record which node received which request, and can be told to fail, hang or drop connections.
//
// The store models versions just enough for the client's contract: a context is `v<version>`; a write that
// passes the key's current context replaces every sibling, any other write adds one (newest first).
import * as assert from 'uvu/assert'
import type { MemberInfo, ScanEntry, SiblingValue } from '../../../src/cluster/api.ts'
import {
  decodeGetRequest,
  decodeScanRequest,
  decodeWriteRequest,
  encodeEmptyReply,
  encodeGetReply,
  encodePutReply,
  encodeRingReply,
  encodeScanReply,
  errorReply,
} from '../../../src/cluster/messages.ts'
import { RingkvError, isRingkvError } from '../../../src/errors.ts'
import { handlerTable } from '../../../src/net/rpc.ts'
import type { Handler, HandlerContext, Server, Transport } from '../../../src/net/transport.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { claim } from '../../../src/ring/claim.ts'
import { encodeRingMap, type RingMap } from '../../../src/ring/ring-map.ts'
import type { Clock } from '../../../src/runtime/clock.ts'

export interface Received {
  node: string
  type: number
  /** The request's key (undefined for scans and ring requests). */
  key: Buffer | undefined
  /** The decoded request (GetRequest, WriteRequest, ScanRequest; {} for CLIENT_RING). */
  request: unknown
}

/** What a node does with a request, instead of answering it from the store. */
export type Fault =
  | { error: RingkvError }
  /** Never answer. */
  | 'hang'
  /** Drop the connection the request came on. */
  | 'close'

export type FaultHook = (type: number, key: Buffer | undefined) => Fault | undefined

interface Record {
  key: Buffer
  siblings: SiblingValue[]
  version: number
}

export class TestStore {
  readonly #records = new Map<string, Record>()
  constructor(private readonly clock: Clock) {}

  #record(key: Uint8Array): Record {
    const hex = Buffer.from(key).toString('hex')
    let r = this.#records.get(hex)
    if (r === undefined) {
      r = { key: Buffer.from(key), siblings: [], version: 0 }
      this.#records.set(hex, r)
    }
    return r
  }

  get(key: Uint8Array): { found: boolean; siblings: SiblingValue[]; context: string } {
    const r = this.#record(key)
    return { found: r.siblings.length > 0, siblings: r.siblings, context: `v${r.version}` }
  }

  write(key: Uint8Array, value: Uint8Array | undefined, context: string | undefined, ttlMs: number): string {
    const r = this.#record(key)
    const supersedes = context === `v${r.version}`
    r.version++
    if (value === undefined) {
      if (supersedes) r.siblings = []
    } else {
      const now = this.clock.now()
      const sibling = { value: Buffer.from(value), timestamp: now, expiresAt: ttlMs === 0 ? 0 : now + ttlMs }
      r.siblings = supersedes ? [sibling] : [sibling, ...r.siblings]
    }
    return `v${r.version}`
  }

  scan(q: { start?: Uint8Array; end?: Uint8Array; prefix?: Uint8Array; after?: Uint8Array; limit: number }): {
    entries: ScanEntry[]
    next: Buffer | undefined
  } {
    const live = [...this.#records.values()]
      .filter((r) => r.siblings.length > 0)
      .filter((r) => q.start === undefined || Buffer.compare(r.key, q.start) >= 0)
      .filter((r) => q.end === undefined || Buffer.compare(r.key, q.end) < 0)
      .filter((r) => q.prefix === undefined || r.key.subarray(0, q.prefix.length).equals(q.prefix))
      .filter((r) => q.after === undefined || Buffer.compare(r.key, q.after) > 0)
      .sort((a, b) => Buffer.compare(a.key, b.key))
    const page = live.slice(0, q.limit)
    const entries = page.map((r) => ({
      key: r.key,
      siblings: r.siblings,
      context: `v${r.version}`,
      value: r.siblings.length === 1 ? r.siblings[0]?.value : undefined,
    }))
    return { entries, next: live.length > q.limit ? page[page.length - 1]?.key : undefined }
  }
}

export interface TestNode {
  readonly id: string
  readonly address: string
  readonly server: Server
  /** Per-node fault hook; the cluster-wide one runs when this one returns undefined. */
  fault: FaultHook | undefined
}

export interface ClusterOptions {
  transport: Transport
  /** 'host:port' or a memory name ending in ':0'. */
  listenAddress: string
  clock: Clock
  nodes: number
  /** Partition count and replication factor of the ring built by claim. Default 64 and 2. */
  q?: number
  n?: number
}

export class TestCluster {
  readonly nodes: TestNode[] = []
  readonly received: Received[] = []
  readonly store: TestStore
  fault: FaultHook | undefined
  ring: RingMap
  /** What CLIENT_RING answers; defaults to the ring and every node. */
  members: MemberInfo[] = []
  /** Send an empty ring (a node that has none yet). */
  noRing = false

  private constructor(readonly options: ClusterOptions, ring: RingMap) {
    this.store = new TestStore(options.clock)
    this.ring = ring
  }

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const ids = Array.from({ length: options.nodes }, (_, i) => `node-${i}`)
    const ring = claim(undefined, ids.map((id) => ({ id })), { q: options.q ?? 64, n: options.n ?? 2 }).ring
    const cluster = new TestCluster(options, ring)
    for (const id of ids) await cluster.addNode(id)
    return cluster
  }

  async addNode(id: string): Promise<TestNode> {
    const server = await this.options.transport.listen({
      address: this.options.listenAddress,
      nodeId: id,
      handlers: this.#handlers(id),
    })
    const node: TestNode = { id, address: server.address, server, fault: undefined }
    this.nodes.push(node)
    this.members.push({ id, address: server.address, http: undefined })
    return node
  }

  node(id: string): TestNode {
    const node = this.nodes.find((n) => n.id === id)
    if (node === undefined) throw new Error(`no test node ${id}`)
    return node
  }

  /** The node listening at `address`. */
  at(address: string): TestNode {
    const node = this.nodes.find((n) => n.address === address)
    if (node === undefined) throw new Error(`no test node at ${address}`)
    return node
  }

  get seeds(): string[] {
    return this.nodes.map((n) => n.address)
  }

  /** Requests of `type` received, in order, as the receiving node's id. */
  receivers(type: number): string[] {
    return this.received.filter((r) => r.type === type).map((r) => r.node)
  }

  clearReceived(): void {
    this.received.length = 0
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.close()))
  }

  #handlers(id: string) {
    const serve = <Q extends { key?: Uint8Array }>(
      type: number,
      decode: (payload: Buffer) => Q,
      answer: (request: Q) => Uint8Array,
    ): Handler =>
      (payload: Buffer, context: HandlerContext) => {
        const request = decode(payload)
        const key = request.key === undefined ? undefined : Buffer.from(request.key)
        this.received.push({ node: id, type, key, request })
        const node = this.nodes.find((n) => n.id === id)
        const fault = node?.fault?.(type, key) ?? this.fault?.(type, key)
        if (fault === 'hang') return new Promise<Uint8Array>(() => {})
        if (fault === 'close') {
          context.connection.destroy()
          return new Promise<Uint8Array>(() => {})
        }
        if (fault !== undefined) return errorReply(fault.error)
        return answer(request)
      }
    const store = this.store
    return handlerTable([
      [MessageType.CLIENT_GET, serve(MessageType.CLIENT_GET, decodeGetRequest, (q) => encodeGetReply(store.get(q.key)))],
      [MessageType.CLIENT_PUT, serve(MessageType.CLIENT_PUT, decodeWriteRequest, (q) => {
        if (q.value === undefined) return errorReply(new RingkvError('ERR_BAD_REQUEST', 'a put needs a value'))
        return encodePutReply(store.write(q.key, q.value, q.context, q.ttlMs))
      })],
      [MessageType.CLIENT_DELETE, serve(MessageType.CLIENT_DELETE, decodeWriteRequest, (q) => {
        store.write(q.key, undefined, q.context, 0)
        return encodeEmptyReply()
      })],
      [MessageType.CLIENT_SCAN, serve(MessageType.CLIENT_SCAN, (p) => ({ ...decodeScanRequest(p), key: undefined }), (q) => {
        const page = store.scan(q)
        return encodeScanReply(page.entries, page.next)
      })],
      [MessageType.CLIENT_RING, serve(MessageType.CLIENT_RING, () => ({}), () =>
        encodeRingReply(this.noRing ? new Uint8Array(0) : encodeRingMap(this.ring), this.members),
      )],
    ])
  }
}

/** Resolves with the RingkvError `promise` rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<RingkvError> {
  try {
    await promise
  } catch (error) {
    if (!isRingkvError(error)) throw error
    assert.is(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`)
    return error
  }
  assert.unreachable(`expected a rejection with ${code}`)
  throw new Error('unreachable')
}

/** Every entry an async iterator yields. */
export async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterator) out.push(item)
  return out
}

export const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')

/** A transport that records every connect attempt (address) and request (type) the client makes. */
export function spyTransport(inner: Transport): Transport & { connects: string[]; requests: number[] } {
  const connects: string[] = []
  const requests: number[] = []
  return {
    connects,
    requests,
    listen: (options) => inner.listen(options),
    async connect(address, options) {
      connects.push(address)
      const connection = await inner.connect(address, options)
      const request = connection.request.bind(connection)
      connection.request = (type, payload, requestOptions) => {
        requests.push(type)
        return request(type, payload, requestOptions)
      }
      return connection
    },
  }
}
