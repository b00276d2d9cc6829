// The ringkv client: `const client = await connect({ seeds })`, then get / put / delete / scan.
//
// It speaks the binary protocol's CLIENT_* messages (payloads in src/cluster/messages.ts) over a
// ConnectionPool: one connection per node, any number of requests in flight on it (pipelined; the
// connection layer gathers every frame of an event-loop turn into one socket write). Each request:
//
//   check the arguments (requests.ts)  ->  pick a coordinator (routing.ts: a primary of the key)
//     -> send, wait timeoutMs + a margin  ->  decode the node's reply, or its error with details
//     -> on failure, retry.ts decides: another coordinator after a short backoff, or the error to the caller
//
// The ring map comes from a seed at connect time (CLIENT_RING), again every ringRefreshMs, and at once when a
// node says ours is stale or a member stops accepting connections. Time, randomness, logging and the network
// enter through the Clock, Random, Logger and Transport seams, so the whole client runs on the memory
// network under virtual time in tests.
import type { DeleteOptions, GetOptions, GetResult, PutOptions, PutResult, ScanEntry, ScanPage } from '../cluster/api.ts'
import {
  type ScanRequest,
  decodeEmptyReply,
  decodeGetReply,
  decodePutReply,
  decodeRingReply,
  decodeScanReply,
  encodeGetRequest,
  encodeScanRequest,
  encodeWriteRequest,
} from '../cluster/messages.ts'
import { RingkvError, isRingkvError } from '../errors.ts'
import { ConnectionPool } from '../net/pool.ts'
import { tcpTransport } from '../net/tcp.ts'
import type { Connection } from '../net/transport.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import { MessageType } from '../protocol/message-types.ts'
import { decodeRingMap } from '../ring/ring-map.ts'
import { type Clock, type TimerHandle, sleep, systemClock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { type Random, systemRandom } from '../runtime/random.ts'
import { type ClientOptions, type ResolvedClientOptions, replyWaitMs, resolveClientOptions } from './options.ts'
import {
  type Bytes,
  type ClientScanOptions,
  type ScanPageOptions,
  deleteRequest,
  getRequest,
  putRequest,
  scanPageRequest,
  scanRequest,
} from './requests.ts'
import { type Delivery, type OperationKind, RING_STALE_CODES, backoffMs, deliveryOf, shouldRetry } from './retry.ts'
import { type RingSnapshot, Router } from './routing.ts'

export interface Client {
  /** Every live version of `key` and the causal context to write after it. */
  get(key: Bytes, options?: GetOptions): Promise<GetResult>
  /** Write `value`; pass the context of the read it follows, or it becomes a sibling of what is there. */
  put(key: Bytes, value: Bytes, options?: PutOptions): Promise<PutResult>
  /** Delete the versions `options.context` covers (every version seen by the read it came from). */
  delete(key: Bytes, options?: DeleteOptions): Promise<void>
  /** Entries in key order, page after page (`pageSize` per request) until the range or `limit` is done. */
  scan(options?: ClientScanOptions): AsyncIterableIterator<ScanEntry>
  /** One page; pass its `next` as `after` for the following one. */
  scanPage(options?: ScanPageOptions): Promise<ScanPage>
  /** The cached ring map and members. */
  ring(): RingSnapshot
  /** Fetch the ring now (it is also fetched periodically); resolves with what is cached afterwards. */
  refreshRing(): Promise<RingSnapshot>
  /** Close every connection; calls in flight and later fail with ERR_CLOSED. */
  close(): Promise<void>
  readonly closed: boolean
}

/** Connect to a ringkv cluster: validates the options, then learns the ring from the first seed that answers. */
export async function connect(options: ClientOptions): Promise<Client> {
  const client = new RingkvClient(resolveClientOptions(options))
  try {
    await client.start()
  } catch (error) {
    await client.close()
    throw error
  }
  return client
}

/** A ring fetch is not started more often than this on demand (the periodic one keeps its own pace). */
const MIN_ON_DEMAND_REFRESH_MS = 250
const EMPTY = new Uint8Array(0)

class RingkvClient implements Client {
  readonly #options: ResolvedClientOptions
  readonly #clock: Clock
  readonly #random: Random
  readonly #log: Logger
  readonly #pool: ConnectionPool
  readonly #router: Router
  #closed = false
  #closing: Promise<void> | undefined
  #refreshTimer: TimerHandle | undefined
  #refreshing: Promise<void> | undefined
  #lastRefreshAt = -Infinity

  constructor(options: ResolvedClientOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
    this.#log = (options.logger ?? silentLogger).child({ component: 'client' })
    const clientId = options.clientId ?? `client-${this.#random.nextUint32().toString(16).padStart(8, '0')}`
    const transport = options.transport ?? tcpTransport({ clock: this.#clock, logger: options.logger ?? silentLogger })
    this.#pool = new ConnectionPool(transport, { nodeId: clientId, helloTimeoutMs: options.connectTimeoutMs })
    this.#router = new Router(options.seeds, options.tokenAware)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Learn the ring from the first seed that answers (starting at a random one, to spread clients). */
  async start(): Promise<void> {
    const seeds = this.#options.seeds
    const first = this.#random.int(seeds.length)
    const outcome = await this.#fetchRingFromAny(seeds.map((_, i) => seeds[(first + i) % seeds.length] as string))
    this.#checkOpen(outcome.error)
    if (!outcome.reached) {
      const e = outcome.error as RingkvError
      throw new RingkvError(e.code, `cannot reach any seed (${seeds.join(', ')}): ${e.message}`, {
        cause: e,
        details: { seeds: [...seeds] },
      })
    }
    if (!outcome.ok) {
      // Seeds answer but send no ring (not ready yet, or an older node): round-robin until one does.
      this.#log.warn('no seed sent a ring map; coordinators are picked round-robin until one does', { error: outcome.error })
    }
    this.#scheduleRefresh()
  }

  // ---- operations ---------------------------------------------------------------------------------------

  get(key: Bytes, options?: GetOptions): Promise<GetResult> {
    let q
    try {
      q = getRequest(key, options, this.#options.timeoutMs)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#call(MessageType.CLIENT_GET, q.key, encodeGetRequest(q), 'read', q.timeoutMs, decodeGetResult)
  }

  put(key: Bytes, value: Bytes, options?: PutOptions): Promise<PutResult> {
    let q
    try {
      q = putRequest(key, value, options, this.#options.timeoutMs)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#call(MessageType.CLIENT_PUT, q.key, encodeWriteRequest(q), 'write', q.timeoutMs, decodePutResult)
  }

  delete(key: Bytes, options?: DeleteOptions): Promise<void> {
    let q
    try {
      q = deleteRequest(key, options, this.#options.timeoutMs)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#call(MessageType.CLIENT_DELETE, q.key, encodeWriteRequest(q), 'write', q.timeoutMs, decodeEmptyReply)
  }

  async scanPage(options?: ScanPageOptions): Promise<ScanPage> {
    return this.#scanPage(scanPageRequest(options, this.#options.timeoutMs))
  }

  scan(options?: ClientScanOptions): AsyncIterableIterator<ScanEntry> {
    // Arguments are checked here, when scan() is called, not at the first next().
    const { first, total } = scanRequest(options, this.#options.timeoutMs)
    return this.#scanAll(first, total)
  }

  async *#scanAll(first: ScanRequest, total: number): AsyncIterableIterator<ScanEntry> {
    let request = first
    let yielded = 0
    for (;;) {
      const page = await this.#scanPage(request)
      for (const entry of page.entries) {
        yield entry
        if (++yielded >= total) return
      }
      if (page.next === undefined) return
      if (request.after !== undefined && Buffer.compare(page.next, request.after) <= 0) {
        throw new RingkvError('ERR_BAD_REPLY', 'scan page did not advance: its next key is not after the previous one', {
          details: { after: Buffer.from(request.after).toString('hex'), next: page.next.toString('hex') },
        })
      }
      request = { ...request, after: page.next, limit: Math.min(request.limit, total - yielded) }
    }
  }

  #scanPage(q: ScanRequest): Promise<ScanPage> {
    return this.#call(MessageType.CLIENT_SCAN, undefined, encodeScanRequest(q), 'read', q.timeoutMs, decodeScanReply)
  }

  ring(): RingSnapshot {
    return this.#router.snapshot
  }

  refreshRing(): Promise<RingSnapshot> {
    if (this.#closed) return Promise.reject(closedError(undefined))
    if (this.#refreshing === undefined) {
      this.#lastRefreshAt = this.#clock.monotonic()
      this.#refreshing = this.#refresh().finally(() => (this.#refreshing = undefined))
    }
    return this.#refreshing.then(() => this.#router.snapshot)
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true
      this.#clock.clearTimeout(this.#refreshTimer)
      this.#refreshTimer = undefined
      this.#closing = this.#pool.close()
    }
    return this.#closing
  }

  // ---- requests and retries -----------------------------------------------------------------------------

  /**
   * Send one request, retrying per retry.ts on other coordinators; `decode` runs as part of the attempt because
   * a node's error reply (an ERR_QUORUM with details.retryable) is thrown by it.
   *
   * The first attempt on an open connection -- nearly every request -- is one promise chain with no async
   * function around it: awaiting through two async frames cost the load generator about a microsecond per
   * request. Everything else (no connection yet, a failure, the retries) goes through `#retry`.
   */
  #call<T>(type: number, key: Uint8Array | undefined, payload: Uint8Array, kind: OperationKind, timeoutMs: number, decode: (reply: Buffer) => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError(undefined))
    const attempt: Attempt<T> = { type, key, payload, kind, wait: { timeoutMs: replyWaitMs(timeoutMs) }, decode }
    const address = this.#router.pick(key, this.#clock.monotonic())
    const connection = this.#pool.peek(address)
    if (connection === undefined || !connection.isOpen) return this.#retry(attempt, address, 0, undefined)
    let sent: Promise<Buffer>
    try {
      sent = connection.request(type, payload, attempt.wait)
    } catch (caught) {
      return this.#retry(attempt, address, 0, { error: toRingkvError(caught), delivered: 'maybe' })
    }
    return sent.then(
      (reply) => {
        try {
          return decode(reply)
        } catch (caught) {
          return this.#retry(attempt, address, 0, { error: toRingkvError(caught), delivered: 'yes' })
        }
      },
      (caught: unknown) => this.#retry(attempt, address, 0, { error: toRingkvError(caught), delivered: 'maybe' }),
    )
  }

  /**
   * The attempts from number `attempt` on, starting at `address`; `failed` is how that attempt already went when
   * the fast path of `#call` made it ('maybe': handed to an open connection that then failed).
   */
  async #retry<T>(q: Attempt<T>, address: string, attempt: number, failed: { error: RingkvError; delivered: Delivery } | undefined): Promise<T> {
    let tried: Set<string> | undefined
    for (;; attempt++) {
      let delivered: Delivery = 'no'
      let error: RingkvError
      if (failed !== undefined) {
        ;({ error, delivered } = failed)
        failed = undefined
      } else {
        try {
          const connection = this.#pool.peek(address) ?? (await this.#pool.get(address))
          // A connection that is closing refuses the request before sending it: it never left.
          if (connection.isOpen) delivered = 'maybe'
          const reply = await connection.request(q.type, q.payload, q.wait)
          delivered = 'yes'
          return q.decode(reply)
        } catch (caught) {
          error = toRingkvError(caught)
        }
      }
      this.#checkOpen(error)
      delivered = deliveryOf(error, delivered)
      this.#noteFailure(address, error, delivered)
      if (attempt >= this.#options.retries || !shouldRetry(error, delivered, q.kind, this.#options.retryWrites)) throw error
      if (tried === undefined) tried = new Set()
      tried.add(address)
      const pause = backoffMs(attempt + 1, this.#options.backoffMs, this.#random)
      if (this.#log.isEnabled('debug')) {
        this.#log.debug('retrying on another coordinator', { address, code: error.code, attempt: attempt + 1, pauseMs: pause })
      }
      if (pause > 0) await sleep(this.#clock, pause)
      this.#checkOpen(error)
      address = this.#router.retryTarget(q.key, tried, this.#clock.monotonic())
    }
  }

  /** What a failure says about the node and the ring. */
  #noteFailure(address: string, error: RingkvError, delivered: Delivery): void {
    if (delivered === 'no' && error.code !== ErrorCode.OVERLOADED) {
      // No connection or a refusal: try this node last for a while, and ask whether the ring still has it. A refusal
      // the node relays from the replica it forwarded a write to (details.forwardedTo) says nothing about the node
      // itself, only that our ring sent a write to a node that does not replicate the key.
      if (error.details?.['forwardedTo'] === undefined) this.#markDown(address)
      this.#staleRing()
    } else if (RING_STALE_CODES.has(error.code)) {
      this.#staleRing()
    }
  }

  #markDown(address: string): void {
    if (this.#options.markDownMs > 0) this.#router.markDown(address, this.#clock.monotonic() + this.#options.markDownMs)
  }

  #checkOpen(cause: RingkvError | undefined): void {
    if (this.#closed) throw closedError(cause)
  }

  // ---- the ring -----------------------------------------------------------------------------------------

  /**
   * Ask `addresses` in order until one sends its ring: whether one did, whether any could be connected to,
   * and the last error.
   */
  async #fetchRingFromAny(addresses: readonly string[]): Promise<{ ok: boolean; reached: boolean; error: RingkvError | undefined }> {
    let reached = false
    let error: RingkvError | undefined
    for (const address of addresses) {
      if (this.#closed) break
      let connection: Connection
      try {
        connection = await this.#pool.get(address)
      } catch (caught) {
        error = toRingkvError(caught)
        this.#markDown(address)
        continue
      }
      reached = true
      try {
        const reply = await connection.request(MessageType.CLIENT_RING, EMPTY, { timeoutMs: replyWaitMs(this.#options.timeoutMs) })
        const { ring, members } = decodeRingReply(reply)
        const map = ring.length === 0 ? undefined : decodeRingMap(ring)
        const before = this.#router.snapshot.map
        if (this.#router.update(map, members) && map !== undefined && map.checksum !== before?.checksum) {
          this.#log.debug('ring map adopted', { from: address, version: map.version, members: members.length })
        }
        return { ok: true, reached, error: undefined }
      } catch (caught) {
        error = toRingkvError(caught)
      }
    }
    return { ok: false, reached, error }
  }

  /** Ask every known node in turn (the next one round-robin first, nodes marked down last) until one answers. */
  async #refresh(): Promise<void> {
    const now = this.#clock.monotonic()
    const first = this.#router.pick(undefined, now)
    const outcome = await this.#fetchRingFromAny([first, ...this.#router.candidates(undefined, now).filter((a) => a !== first)])
    if (!outcome.ok && !this.#closed) throw outcome.error
  }

  /** A node said our ring is stale (or a member stopped accepting connections): fetch it soon. */
  #staleRing(): void {
    if (this.#closed || this.#refreshing !== undefined) return
    if (this.#clock.monotonic() - this.#lastRefreshAt < MIN_ON_DEMAND_REFRESH_MS) return
    this.refreshRing().catch((error: unknown) => this.#log.info('ring refresh failed', { error }))
  }

  #scheduleRefresh(): void {
    if (this.#options.ringRefreshMs === 0 || this.#closed) return
    this.#refreshTimer = this.#clock.setTimeout(() => {
      this.#refreshTimer = undefined
      this.refreshRing()
        .catch((error: unknown) => {
          if (!this.#closed) this.#log.info('periodic ring refresh failed', { error })
        })
        .finally(() => this.#scheduleRefresh())
    }, this.#options.ringRefreshMs)
  }
}

/** One request as `#call` and `#retry` send it. */
interface Attempt<T> {
  readonly type: number
  readonly key: Uint8Array | undefined
  readonly payload: Uint8Array
  readonly kind: OperationKind
  readonly wait: { timeoutMs: number }
  readonly decode: (reply: Buffer) => T
}

function decodeGetResult(reply: Buffer): GetResult {
  const g = decodeGetReply(reply)
  return { found: g.found, value: g.siblings.length === 1 ? g.siblings[0]?.value : undefined, siblings: g.siblings, context: g.context }
}

function decodePutResult(reply: Buffer): PutResult {
  return { context: decodePutReply(reply) }
}

function closedError(cause: RingkvError | undefined): RingkvError {
  return new RingkvError('ERR_CLOSED', 'the client is closed', cause === undefined ? {} : { cause })
}

function toRingkvError(error: unknown): RingkvError {
  if (isRingkvError(error)) return error
  return new RingkvError(ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error), { cause: error })
}
