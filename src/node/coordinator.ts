// The coordinator: the effectful driver around the pure read and write cores (src/coordinator). It
// sends to replicas, feeds their replies to a core, times out, answers, and repairs. Any node
// coordinates reads; a write is coordinated by a replica of its key (the new version's dot comes
// from that replica's stored envelope), so a node that is not one forwards the write to one.
//
// Reads: ask every primary replica, answer once R agree (the core merges their envelopes), and
// before answering repair the replicas the answer came from that were stale, so a later quorum
// read cannot see older data (monotonic reads). Replies that come later are repaired in the
// background.
// Writes: update the local envelope (one synchronous turn), send the result to the other replicas,
// acknowledge at W (DW of them durable, PW from primaries). Sloppy quorum: a primary that Liveness
// says is down is replaced by the next live fallback, which keeps the write as a hint (HINTED_PUT) and
// whose ack counts toward W, not PW. A primary that fails or times out, and a down one no fallback
// could stand in for, get a hint kept here; hint bookkeeping never fails the write itself.
import { RingkvError } from '../errors.ts'
import {
  DEFAULT_SCAN_LIMIT,
  MAX_SCAN_LIMIT,
  type DeleteOptions,
  type GetOptions,
  type GetResult,
  type KvService,
  type PutOptions,
  type PutResult,
  type ScanEntry,
  type ScanOptions,
  type ScanPage,
  type SiblingValue,
} from '../cluster/api.ts'
import {
  decodeReplicaPutReply,
  decodeReplicaScanReply,
  decodePutReply,
  decodeEmptyReply,
  encodeReplicaPut,
  encodeReplicaScan,
  encodeGetReply,
  encodeWriteRequest,
  type GetReplyBody,
  type ReplicaScanEntry,
} from '../cluster/messages.ts'
import { TRY_ELSEWHERE_CODES } from '../protocol/error-codes.ts'
import { MessageType } from '../protocol/message-types.ts'
import { partitionOf, preferenceList, type RingMap } from '../ring/index.ts'
import {
  contextOf,
  contextBytes,
  decodeEnvelope,
  encodeContext,
  envelopesEqual,
  encodeEnvelope,
  liveSiblings,
  contextOfBytes,
  resolveLww,
  type Envelope,
} from '../versioning/index.ts'
import { WriteCore, planSloppyWrite, resolveReadOptions, resolveWriteOptions } from '../coordinator/index.ts'
import { encodeHintedPut, isRefusal, type HintStore } from '../handoff/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import type { Clock, Logger } from '../runtime/index.ts'
import type { KeyspaceOptions } from './options.ts'
import type { Liveness } from './liveness.ts'
import { DeadlineQueue } from '../net/deadlines.ts'
import { QuorumRead, type ReadContext } from './read.ts'
import { ReplicaLatency } from './replica-latency.ts'
import { storedGetReply } from './stored-reply.ts'
import { QuorumWrite } from './write.ts'
import { DigestReads } from './digest-reads.ts'

/** Sends a request to another node by id. */
export interface Peers {
  request(node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer>
}

export interface CoordinatorDeps {
  self: string
  actor: string
  ring: () => RingMap
  /** The ring a join or decommission is moving partitions to: writes must reach W of its replicas too. */
  pendingRing?: () => RingMap | undefined
  store: ReplicaStore
  peers: Peers
  clock: Clock
  logger: Logger
  keyspace: KeyspaceOptions
  requestTimeoutMs: number
  /** Whether the local store's writes are fsynced when their promise resolves. */
  durableWrites: boolean
  /** Which replicas are up: down primaries are replaced by fallbacks. */
  liveness: Liveness
  /** Where this node keeps hints for replicas a write could not reach. */
  hints: HintStore
}

export interface CoordinatorCounters {
  reads: number
  writes: number
  forwarded: number
  readRepairs: number
  quorumFailures: number
  scans: number
  /** Writes that a fallback took for a down primary (sloppy quorum). */
  fallbackWrites: number
  /** Hints this coordinator kept itself, for replicas that failed, timed out or had no fallback. */
  localHints: number
}

const MAX_FORWARD_HOPS = 2
const MAX_KEY_BYTES = 65536 - 2

function bytesOf(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v
  throw new RingkvError('ERR_BAD_REQUEST', `${what} must be bytes`)
}

function checkKey(key: unknown): Uint8Array {
  const k = bytesOf(key, 'key')
  if (k.length === 0) throw new RingkvError('ERR_BAD_REQUEST', 'key must not be empty')
  if (k.length > MAX_KEY_BYTES) {
    throw new RingkvError('ERR_KEY_TOO_LARGE', `key of ${k.length} bytes exceeds the maximum of ${MAX_KEY_BYTES} bytes`)
  }
  return k
}

function timeoutOf(v: number | undefined, fallback: number): number {
  if (v === undefined || v === 0) return fallback
  if (!Number.isInteger(v) || v < 1 || v > 600_000) {
    throw new RingkvError('ERR_BAD_REQUEST', `timeoutMs must be an integer between 1 and 600000, got ${v}`)
  }
  return v
}

function codeOf(e: unknown): string {
  return e instanceof RingkvError ? e.code : 'ERR_INTERNAL'
}

/** A partition's replicas under one ring, as reads and writes use them. */
interface Placement {
  readonly replicas: { node: string; primary: boolean }[]
  /** The replicas other than this node. */
  readonly remotes: readonly string[]
  readonly selfIsReplica: boolean
}

export class Coordinator implements KvService {
  readonly #d: CoordinatorDeps
  readonly #counters: CoordinatorCounters = {
    reads: 0,
    writes: 0,
    forwarded: 0,
    readRepairs: 0,
    quorumFailures: 0,
    scans: 0,
    fallbackWrites: 0,
    localHints: 0,
  }

  readonly #read: ReadContext
  /** Every write's deadline, one timer for all (write.ts). */
  readonly #writeDeadlines: DeadlineQueue<QuorumWrite>
  #readTurn = 0
  readonly #placements = new WeakMap<RingMap, (Placement | undefined)[]>()

  constructor(deps: CoordinatorDeps) {
    this.#d = deps
    this.#writeDeadlines = new DeadlineQueue<QuorumWrite>(deps.clock, (write) => write.expire())
    const latency = new ReplicaLatency({ initialMs: 10, minMs: 2, maxMs: Math.max(2, Math.floor(deps.requestTimeoutMs / 2)) })
    this.#read = {
      self: deps.self,
      store: deps.store,
      peers: deps.peers,
      clock: deps.clock,
      latency,
      speculation: new DeadlineQueue<QuorumRead>(deps.clock, (read) => read.speculate()),
      digests: new DigestReads(deps.peers, () => deps.clock.monotonic()),
      isAlive: (node) => deps.liveness.isAlive(node),
    }
  }

  get counters(): Readonly<CoordinatorCounters> {
    return this.#counters
  }

  /** Where a partition's requests go, made once per ring (reads and writes ask for it on every request). */
  #placement(partition: number): Placement {
    const ring = this.#d.ring()
    let lists = this.#placements.get(ring)
    if (lists === undefined) this.#placements.set(ring, (lists = new Array(ring.q)))
    let placement = lists[partition]
    if (placement === undefined) {
      const primaries = preferenceList(ring, partition).primaries
      placement = {
        replicas: primaries.map((node) => ({ node, primary: true })),
        remotes: primaries.filter((node) => node !== this.#d.self),
        selfIsReplica: primaries.includes(this.#d.self),
      }
      lists[partition] = placement
    }
    return placement
  }

  #replicas(partition: number): { node: string; primary: boolean }[] {
    return this.#placement(partition).replicas
  }

  /** Validates a read and starts it: this node's copy read, the replicas the quorum needs asked. */
  #startRead(key: Uint8Array, options: GetOptions): QuorumRead {
    const k = checkKey(key)
    const timeoutMs = timeoutOf(options.timeoutMs, this.#d.requestTimeoutMs)
    const partition = partitionOf(k, this.#d.ring().q)
    const { replicas, remotes, selfIsReplica } = this.#placement(partition)
    const n = replicas.length
    const { r, pr } = resolveReadOptions({ r: options.r, pr: options.pr }, n, { r: this.#d.keyspace.r, pr: 0 })
    const now = this.#d.clock.now()
    const read = new QuorumRead(this.#read, { partition, key: k, replicas, remotes, selfIsReplica, n, r, pr, now, timeoutMs, turn: this.#readTurn++ })
    read.start()
    return read
  }

  async get(key: Uint8Array, options: GetOptions = {}): Promise<GetResult> {
    const read = this.#startRead(key, options)
    if (read.status() === 'pending') await read.settled()
    if (read.agreed) {
      this.#counters.reads++
      return this.#toResult(read.core.answer()?.envelope, read.now)
    }
    return this.#toResult(await this.#finishRead(read), read.now)
  }

  /**
   * A read answered as the CLIENT_GET reply. A read whose replicas agreed byte for byte is answered straight
   * from the stored bytes (readAnswer): the envelope is never decoded.
   */
  getReply(key: Uint8Array, options: GetOptions = {}): Promise<Uint8Array> {
    let read: QuorumRead
    try {
      read = this.#startRead(key, options)
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      read.whenSettled(() => {
        try {
          resolve(this.#readReply(read))
        } catch (e) {
          reject(e)
        }
      })
    })
  }

  /** The CLIENT_GET reply of a settled read (see getReply). */
  #readReply(read: QuorumRead): Uint8Array | Promise<Uint8Array> {
    if (read.agreed && !this.#d.keyspace.lww) {
      this.#counters.reads++
      const bytes = read.localBytes
      if (bytes === undefined) return encodeGetReply({ found: false, siblings: [], context: '' })
      try {
        return storedGetReply(bytes, read.now)
      } catch (e) {
        throw new RingkvError('ERR_CORRUPTION', `stored envelope of partition ${read.partition} does not decode: ${(e as Error).message}`)
      }
    }
    const finished = read.agreed ? Promise.resolve(read.core.answer()?.envelope) : this.#finishRead(read)
    return finished.then((envelope) => {
      if (read.agreed) this.#counters.reads++
      return encodeGetReply(this.#replyBody(envelope, read.now))
    })
  }

  /** The general read after its core settled: counts it, repairs, and returns the answer's envelope or throws. */
  async #finishRead(read: QuorumRead): Promise<Envelope | undefined> {
    const core = read.core
    const { partition, key: k, timeoutMs } = read
    this.#counters.reads++
    // Replicas that answer after this point are repaired once all that were asked have replied (or failed).
    let repairedFirst: Envelope | undefined
    const repairLate = (): void => {
      const { envelope, blocking, background } = core.repairs()
      if (envelope === undefined) return
      const again = repairedFirst !== undefined && !envelopesEqual(envelope, repairedFirst) ? blocking : []
      for (const node of [...background, ...again]) void this.#repair(node, partition, k, envelope, timeoutMs)
    }
    if (core.status() !== 'ok') {
      this.#counters.quorumFailures++
      read.whenDrained(repairLate)
      throw core.quorumError() ?? new RingkvError('ERR_INTERNAL', 'read ended without a quorum decision')
    }
    const { envelope, blocking } = core.repairs()
    if (envelope !== undefined && blocking.length > 0) {
      repairedFirst = envelope
      await Promise.all(blocking.map((node) => this.#repair(node, partition, k, envelope, timeoutMs)))
    }
    read.whenDrained(repairLate)
    return core.answer()?.envelope
  }

  async #repair(node: string, partition: number, key: Uint8Array, merged: Envelope, timeoutMs: number): Promise<void> {
    this.#counters.readRepairs++
    try {
      if (node === this.#d.self) {
        await this.#d.store.merge(partition, key, merged).durable
        return
      }
      await this.#d.peers.request(
        node,
        MessageType.REPLICA_PUT,
        encodeReplicaPut({ partition, key, envelope: encodeEnvelope(merged), durable: false }),
        timeoutMs,
      )
    } catch (e) {
      this.#d.logger.debug('read repair failed', { node, code: codeOf(e) })
    }
  }

  /** What a read shows of `env`: live siblings, newest first, their values views of the envelope's. */
  #replyBody(env: Envelope | undefined, now: number): GetReplyBody {
    if (env === undefined) return { found: false, siblings: [], context: '' }
    const resolved = this.#d.keyspace.lww ? resolveLww(env) : env
    const siblings = liveSiblings(resolved, now)
      .map((s) => ({ value: s.value as Uint8Array, timestamp: s.timestamp, expiresAt: s.expiresAt }))
      .sort((a, b) => b.timestamp - a.timestamp)
    return { found: siblings.length > 0, siblings, context: encodeContext(contextOf(env)) }
  }

  #toResult(env: Envelope | undefined, now: number): GetResult {
    const body = this.#replyBody(env, now)
    const siblings = body.siblings.map((s) => ({ value: Buffer.from(s.value), timestamp: s.timestamp, expiresAt: s.expiresAt }))
    return { found: body.found, value: siblings.length === 1 ? siblings[0]!.value : undefined, siblings, context: body.context }
  }

  put(key: Uint8Array, value: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    return this.write(key, bytesOf(value, 'value'), options, 0)
  }

  async delete(key: Uint8Array, options: DeleteOptions = {}): Promise<void> {
    await this.write(key, null, options, 0)
  }

  /** A put (value) or delete (null); `hops` counts forwards so far. */
  write(key: Uint8Array, value: Uint8Array | null, options: PutOptions, hops: number): Promise<PutResult> {
    try {
      return this.#write(key, value, options, hops)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  #write(key: Uint8Array, value: Uint8Array | null, options: PutOptions, hops: number): Promise<PutResult> {
    const k = checkKey(key)
    const timeoutMs = timeoutOf(options.timeoutMs, this.#d.requestTimeoutMs)
    const ttlMs = options.ttlMs ?? 0
    if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new RingkvError('ERR_BAD_REQUEST', `ttlMs must be a non-negative integer, got ${ttlMs}`)
    // Base64 undone here; the context block itself is parsed by the store, where the stored envelope is.
    const context = options.context === undefined || options.context === '' ? undefined : contextBytes(options.context)
    const ring = this.#d.ring()
    const partition = partitionOf(k, ring.q)
    const replicas = this.#replicas(partition)
    const n = replicas.length
    const { w, pw, dw } = resolveWriteOptions(
      { w: options.w, pw: options.pw, dw: options.dw },
      n,
      { w: this.#d.keyspace.w, pw: 0, dw: 0 },
    )
    if (!replicas.some((x) => x.node === this.#d.self)) {
      if (hops >= MAX_FORWARD_HOPS) {
        throw new RingkvError('ERR_UNAVAILABLE', `no replica of the key would coordinate the write after ${hops} forwards`, {
          details: { retryable: true },
        })
      }
      // Replicas believed up first: a forward to a down one only costs a connection attempt.
      const alive = replicas.filter((x) => this.#d.liveness.isAlive(x.node))
      return this.#forward([...alive, ...replicas.filter((x) => !alive.includes(x))], k, value, options, hops, timeoutMs)
    }
    const now = this.#d.clock.now()
    // A delete without a context removes what this replica has seen (Riak's delete reads first too);
    // a put without one becomes a sibling, as Dynamo's semantics ask. In lww keyspaces every write
    // supersedes what is stored. Only those read the stored copy here (update reads it again anyway).
    const supersedeStored = this.#d.keyspace.lww || (value === null && context === undefined)
    const stored = supersedeStored ? this.#d.store.get(partition, k) : undefined
    const effectiveContext = stored !== undefined ? contextOf(stored) : context
    const update = { value, timestamp: now, expiresAt: ttlMs > 0 ? now + ttlMs : 0 }
    const local = this.#d.store.update(partition, k, effectiveContext, this.#d.actor, update, {
      warnSiblings: this.#d.keyspace.warnSiblings,
      maxSiblings: this.#d.keyspace.maxSiblings,
      maxObjectBytes: this.#d.keyspace.maxObjectBytes,
    })
    // The reply's context, read from the bytes just written (their context block is the client context) while
    // they are at hand: encoding it again from the envelope's version vector costs twice as much.
    const replyContext = contextOfBytes(local.bytes)
    if (local.siblingWarning) this.#d.logger.warn('many siblings', { key: Buffer.from(k).toString('hex'), partition })
    // While partitions move (a pending ring), the write must also be acknowledged by W of the partition's
    // replicas under the new ring, so that none of the new owners lacks it once that ring is committed.
    const joint = this.#jointCore(partition, replicas, w, dw)
    // Sloppy quorum. Nodes of the joint quorum are not used as fallbacks: they must take the write as
    // replicas, not as hints.
    const { fallbacks } = preferenceList(ring, partition)
    const plan = planSloppyWrite(
      replicas.map((x) => x.node),
      joint === undefined ? fallbacks : fallbacks.filter((x) => !joint.asked.has(x)),
      (node) => node === this.#d.self || this.#d.liveness.isAlive(node),
    )
    if (plan.targets.some((x) => !x.primary)) this.#counters.fallbackWrites++
    for (const node of plan.unplaced) this.#keepHint(node, partition, k, local.stored)
    const write = new QuorumWrite(new WriteCore({ n, w, pw, dw, replicas: plan.targets }), joint, plan.targets, this.#writeDeadlines, timeoutMs)
    const self = this.#d.self
    const localDurable = dw > 0 && !this.#d.durableWrites ? local.durable.then(() => this.#d.store.sync()) : local.durable
    localDurable.then(
      () => write.ack(self, dw > 0 || this.#d.durableWrites),
      (e: unknown) => write.fail(self, codeOf(e)),
    )
    const encoded = local.bytes
    let replicaPut: Uint8Array | undefined
    for (const node of write.nodes) {
      if (node === self) continue
      const hintFor = write.hintFor(node)
      const request =
        hintFor === undefined
          ? this.#d.peers.request(node, MessageType.REPLICA_PUT, (replicaPut ??= encodeReplicaPut({ partition, key: k, envelope: encoded, durable: dw > 0 })), timeoutMs)
          : this.#d.peers.request(
              node,
              MessageType.HINTED_PUT,
              encodeHintedPut({ target: hintFor, partition, key: k, envelope: encoded, durable: dw > 0 }),
              timeoutMs,
            )
      request.then(
        (reply) => {
          let durable: boolean
          try {
            durable = decodeReplicaPutReply(reply)
          } catch (e) {
            this.#replicaPutFailed(write, node, hintFor, partition, k, local, e)
            return
          }
          write.ack(node, durable)
        },
        (e: unknown) => this.#replicaPutFailed(write, node, hintFor, partition, k, local, e),
      )
    }
    return write.settled().then(() => {
      this.#counters.writes++
      if (write.status() !== 'ok') {
        this.#counters.quorumFailures++
        throw write.quorumError()
      }
      return { context: replyContext }
    })
  }

  /**
   * A replica's write failed, before or after the write was answered: the replica (or the down primary the
   * fallback stood in for) must still get it -- unless it refused it for good.
   */
  #replicaPutFailed(write: QuorumWrite, node: string, hintFor: string | undefined, partition: number, key: Uint8Array, local: { readonly stored: Envelope }, e: unknown): void {
    if (!isRefusal(codeOf(e))) this.#keepHint(hintFor ?? node, partition, key, local.stored)
    write.fail(node, codeOf(e))
  }

  /** The write's second quorum while a pending ring moves this partition: its replicas there, at W of them. */
  #jointCore(partition: number, replicas: readonly { node: string }[], w: number, dw: number): { core: WriteCore; asked: Set<string> } | undefined {
    const pendingRing = this.#d.pendingRing?.()
    if (pendingRing === undefined) return undefined
    const next = preferenceList(pendingRing, partition).primaries
    if (next.length === replicas.length && next.every((x) => replicas.some((r) => r.node === x))) return undefined
    const wNext = Math.min(w, next.length)
    const core = new WriteCore({ n: next.length, w: wNext, pw: 0, dw: Math.min(dw, wNext), replicas: next.map((node) => ({ node, primary: true })) })
    return { core, asked: new Set(next) }
  }

  /** Keeps a hint for `target` on this node; a failure is logged, never the write's. */
  #keepHint(target: string, partition: number, key: Uint8Array, envelope: Envelope): void {
    try {
      if (this.#d.hints.add(target, partition, key, envelope).stored) this.#counters.localHints++
    } catch (e) {
      const fields = { target, partition, code: codeOf(e), error: (e as Error).message }
      // Replies failing because this node is closing are not worth a warning each.
      if (codeOf(e) === 'ERR_CLOSED') this.#d.logger.debug('could not keep a hint', fields)
      else this.#d.logger.warn('could not keep a hint', fields)
    }
  }

  async #forward(
    replicas: { node: string }[],
    key: Uint8Array,
    value: Uint8Array | null,
    options: PutOptions,
    hops: number,
    timeoutMs: number,
  ): Promise<PutResult> {
    this.#counters.forwarded++
    const payload = encodeWriteRequest({
      key,
      value: value ?? undefined,
      context: options.context,
      w: options.w,
      pw: options.pw,
      dw: options.dw,
      timeoutMs,
      ttlMs: options.ttlMs ?? 0,
      hops: hops + 1,
    })
    const type = value === null ? MessageType.CLIENT_DELETE : MessageType.CLIENT_PUT
    let last: unknown
    let lastNode = ''
    for (const { node } of replicas) {
      lastNode = node
      try {
        const reply = await this.#d.peers.request(node, type, payload, timeoutMs)
        if (value === null) {
          decodeEmptyReply(reply)
          return { context: '' }
        }
        return { context: decodePutReply(reply) }
      } catch (e) {
        last = e
        const code = codeOf(e)
        // Only a replica that could not be reached, or refused the write unprocessed, is worth trying the next one for.
        if (!TRY_ELSEWHERE_CODES.has(code)) throw e
      }
    }
    // Every replica refused the write unprocessed or could not be reached. The error keeps the replica's code (a
    // refusal still means the write was applied nowhere, so the client may send it elsewhere) but names that replica
    // in details.forwardedTo: a client takes a refusal without it for this node's own, and would avoid this node
    // for a while although it is up.
    if (last instanceof RingkvError) {
      throw new RingkvError(last.code, `forwarded to ${lastNode}: ${last.message}`, { details: { forwardedTo: lastNode } })
    }
    throw new RingkvError('ERR_UNAVAILABLE', 'no replica of the key could be reached', { details: { retryable: true } })
  }

  async scan(options: ScanOptions = {}): Promise<ScanPage> {
    const limit = options.limit ?? DEFAULT_SCAN_LIMIT
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
      throw new RingkvError('ERR_BAD_REQUEST', `limit must be an integer between 1 and ${MAX_SCAN_LIMIT}, got ${limit}`)
    }
    const timeoutMs = timeoutOf(options.timeoutMs, this.#d.requestTimeoutMs)
    let { start, end } = options
    if (options.prefix !== undefined) {
      if (start !== undefined || end !== undefined) throw new RingkvError('ERR_BAD_REQUEST', 'prefix cannot be combined with start or end')
      start = options.prefix
      end = prefixSuccessor(options.prefix)
    }
    this.#counters.scans++
    const ring = this.#d.ring()
    // Every partition is read from one replica: this node when it holds one, else its first primary.
    const byNode = new Map<string, number[]>()
    for (let p = 0; p < ring.q; p++) {
      const primaries = preferenceList(ring, p).primaries
      const node = primaries.includes(this.#d.self) ? this.#d.self : primaries[0]!
      let list = byNode.get(node)
      if (list === undefined) byNode.set(node, (list = []))
      list.push(p)
    }
    const query = { start, end, after: options.after, limit }
    const results = await Promise.all(
      [...byNode].map(async ([node, partitions]) => {
        if (node === this.#d.self) return scanLocal(this.#d.store, { ...query, partitions })
        return this.#scanRemote(node, partitions, query, timeoutMs, ring)
      }),
    )
    // Each node returned its first `limit` keys; the merged page is exact up to the smallest last
    // key among the nodes that had more.
    let cut: Buffer | undefined
    for (const r of results) {
      const last = r.entries[r.entries.length - 1]
      if (r.more && last !== undefined && (cut === undefined || Buffer.compare(last.key, cut) < 0)) cut = last.key
    }
    const all = results.flatMap((r) => r.entries).sort((a, b) => Buffer.compare(a.key, b.key))
    const window = cut === undefined ? all : all.filter((e) => Buffer.compare(e.key, cut!) <= 0)
    const page = window.slice(0, limit)
    const now = this.#d.clock.now()
    const entries: ScanEntry[] = []
    for (const e of page) {
      const { found, value, siblings, context } = this.#toResult(decodeEnvelope(e.envelope), now)
      if (!found) continue
      entries.push({ key: Buffer.from(e.key), siblings, value, context })
    }
    const more = cut !== undefined || window.length > limit
    const next = more && page.length > 0 ? Buffer.from(page[page.length - 1]!.key) : undefined
    return { entries, next }
  }

  async #scanRemote(
    node: string,
    partitions: number[],
    query: { start?: Uint8Array; end?: Uint8Array; after?: Uint8Array; limit: number },
    timeoutMs: number,
    ring: RingMap,
  ): Promise<{ entries: ReplicaScanEntry[]; more: boolean }> {
    const payload = encodeReplicaScan({ partitions, start: query.start, end: query.end, after: query.after, limit: query.limit })
    try {
      return decodeReplicaScanReply(await this.#d.peers.request(node, MessageType.REPLICA_SCAN, payload, timeoutMs))
    } catch (e) {
      // Try the partitions' other replicas before giving up on them.
      const byFallback = new Map<string, number[]>()
      for (const p of partitions) {
        const other = preferenceList(ring, p).primaries.find((x) => x !== node)
        if (other === undefined) throw e
        let list = byFallback.get(other)
        if (list === undefined) byFallback.set(other, (list = []))
        list.push(p)
      }
      const parts = await Promise.all(
        [...byFallback].map(async ([other, ps]) =>
          other === this.#d.self
            ? scanLocal(this.#d.store, { ...query, partitions: ps })
            : decodeReplicaScanReply(
                await this.#d.peers.request(
                  other,
                  MessageType.REPLICA_SCAN,
                  encodeReplicaScan({ partitions: ps, start: query.start, end: query.end, after: query.after, limit: query.limit }),
                  timeoutMs,
                ),
              ),
        ),
      )
      const entries = parts.flatMap((p) => p.entries).sort((a, b) => Buffer.compare(a.key, b.key))
      return { entries: entries.slice(0, query.limit), more: parts.some((p) => p.more) || entries.length > query.limit }
    }
  }
}

export function prefixSuccessor(prefix: Uint8Array): Uint8Array | undefined {
  const s = Buffer.from(prefix)
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] !== 0xff) {
      s[i] = s[i]! + 1
      return s.subarray(0, i + 1)
    }
  }
  return undefined
}

/** The first `limit` entries with key > after within [start, end) across `partitions`, in key order. */
export async function scanLocal(
  store: ReplicaStore,
  q: { partitions: number[]; start?: Uint8Array; end?: Uint8Array; after?: Uint8Array; limit: number },
): Promise<{ entries: ReplicaScanEntry[]; more: boolean }> {
  const from = q.after !== undefined && (q.start === undefined || Buffer.compare(q.after, q.start) >= 0) ? q.after : q.start
  const exclusive = q.after !== undefined && from === q.after
  const out: ReplicaScanEntry[] = []
  for (const partition of q.partitions) {
    // One more than the limit, so that `more` is known.
    let taken = 0
    for await (const { key, envelope } of store.scan(partition, { start: from, end: q.end, limit: q.limit + 2 })) {
      if (exclusive && Buffer.compare(key, from!) === 0) continue
      out.push({ key, envelope: Buffer.from(encodeEnvelope(envelope)) })
      if (++taken > q.limit) break
    }
  }
  out.sort((a, b) => Buffer.compare(a.key, b.key))
  return { entries: out.slice(0, q.limit), more: out.length > q.limit }
}
