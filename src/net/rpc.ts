/**
 * The connection layer shared by every transport: HELLO, request ids, pipelining, handler dispatch, coalesced
 * writes and backpressure, over any `ByteStream`.
 *
 * Life of a connection:
 *
 *   hello ──HELLO done──> open ──close() / peer end / protocol error──> closing ──stream closed──> closed
 *     └──────────────── HELLO refused, timed out, or malformed ────────────┘
 *
 * - HELLO: the client's first frame is a HELLO request (hello.ts); the server answers it and is open; the
 *   client is open when the answer arrives. Anything else first is a protocol error.
 * - Requests get ids 1..2^32-1 (wrapping, skipping ids still pending). Responses match by id and may come in
 *   any order. A timeout rejects with ERR_TIMEOUT and forgets the id; an answer arriving later is counted
 *   (`stats.lateResponses`) and dropped.
 * - Incoming requests go to the handler table, one handler per message type; a request without a handler
 *   gets an error-response ERR_UNKNOWN_MESSAGE and the connection stays open. PING is answered here.
 * - Malformed input (the decoder's errors, frames out of protocol) is answered with a one-way ERROR frame
 *   carrying the code, then the connection is ended; the remaining input is discarded. Only that connection
 *   is affected.
 *
 * Coalescing. Frames are encoded straight into a per-connection arena (64 KiB, appended to, never rewritten
 * once handed to the stream) and the connection asks its `Flusher` for a flush. The flusher runs once per
 * event-loop turn (setImmediate through the Clock — or a microtask, or never: every frame written at once,
 * for comparison) and each dirty connection then makes ONE `stream.write` with everything it gathered.
 * Writing per message costs a syscall per message; gathering per turn is what lets a node reach 100k+
 * requests/s (DESIGN.md section 8). Payloads of 64 KiB and more are not copied: they travel as their own
 * segment of the same write. When the stream says a write left nothing behind (TCP: the kernel took every
 * byte), the arena is rewound and filled again instead of being replaced: a fresh 64 KiB buffer per 64 KiB
 * sent made external memory grow fast enough to drive the garbage collector.
 *
 * Draining. A server that is closing first drains its connections (`drain`): requests being handled finish
 * and are answered, new requests are refused at once with ERR_SHUTTING_DOWN (unprocessed, so a client sends
 * them elsewhere, writes included), and the connection is closed once nothing is being handled and no request
 * has arrived for DRAIN_QUIET_MS -- requests the peer sent before it saw a refusal are still on the wire, and
 * closing under them would fail them with ERR_CONNECTION_CLOSED, which a client cannot retry for writes (they
 * may have been applied).
 *
 * Backpressure. When `stream.write` returns false we stop writing and keep gathering until 'drain'. Past
 * `maxQueuedBytes` of gathered bytes new requests and one-way messages fail at once with ERR_OVERLOADED, and
 * we stop reading from the peer (so a peer that sends requests but does not read responses is slowed by TCP
 * flow control instead of growing our memory); reading resumes when the queue has drained.
 */
import { EventEmitter } from 'node:events'
import { RingkvError } from '../errors.ts'
import {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  FrameKind,
  MAX_MAX_FRAME_BYTES,
  MIN_MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  writeFrameHeader,
} from '../protocol/frame.ts'
import { ErrorCode, decodeErrorPayload, encodeErrorPayload } from '../protocol/error-codes.ts'
import {
  FIRST_APPLICATION_MESSAGE_TYPE,
  MAX_MESSAGE_TYPE,
  MessageType,
  messageTypeName,
} from '../protocol/message-types.ts'
import {
  HELLO_FRAME_VERSION,
  type VersionRange,
  decodeHelloRequest,
  decodeHelloResponse,
  encodeHelloRequest,
  encodeHelloResponse,
  negotiateVersion,
  nodeIdBytes,
} from '../protocol/hello.ts'
import type { Clock, TimerHandle } from '../runtime/clock.ts'
import type { Logger } from '../runtime/logger.ts'
import { DeadlineQueue, type Expirable } from './deadlines.ts'
import type { ByteStream } from './stream.ts'
import type {
  Connection,
  ConnectionOptions,
  ConnectionStats,
  Handler,
  HandlerContext,
  HandlerTable,
  RequestOptions,
} from './transport.ts'

/** The versions this build speaks. */
const LOCAL_VERSIONS: VersionRange = Object.freeze({ min: 1, max: PROTOCOL_VERSION })
/** Size of a fresh write arena; frames are appended until it is full. */
const ARENA_BYTES = 64 * 1024
/** Payloads at least this large are written as their own segment instead of being copied into the arena. */
const LARGE_PAYLOAD_BYTES = 64 * 1024
/** Draining ends once no request has arrived for this long (and none is being handled). */
const DRAIN_QUIET_MS = 50
/** The longest timer Node supports; used as the upper bound of every timeout. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1

export const rpcDefaults: Readonly<Required<ConnectionOptions>> = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueuedBytes: 64 * 1024 * 1024,
  requestTimeoutMs: 5000,
  helloTimeoutMs: 5000,
  closeGraceMs: 2000,
})

/** Fill in defaults and validate; the RangeError names the option and the accepted range. */
export function resolveConnectionOptions(options: ConnectionOptions): Required<ConnectionOptions> {
  const resolved = { ...rpcDefaults }
  for (const key of Object.keys(rpcDefaults) as (keyof ConnectionOptions)[]) {
    const value = options[key]
    if (value !== undefined) resolved[key] = value
  }
  integerIn('maxFrameBytes', resolved.maxFrameBytes, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES)
  integerIn('maxQueuedBytes', resolved.maxQueuedBytes, resolved.maxFrameBytes, Number.MAX_SAFE_INTEGER)
  timeoutIn('requestTimeoutMs', resolved.requestTimeoutMs)
  timeoutIn('helloTimeoutMs', resolved.helloTimeoutMs)
  timeoutIn('closeGraceMs', resolved.closeGraceMs)
  return resolved
}

function integerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`
    throw new RangeError(`${name} must be an integer ${range}, got ${value}`)
  }
}

function timeoutIn(name: string, value: number): void {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new RangeError(`${name} must be a number of milliseconds between 0 (exclusive) and ${MAX_TIMEOUT_MS}, got ${value}`)
  }
}

/**
 * Build the handler table — the one place message types meet their handlers. Refuses duplicate ids and ids
 * outside the application range, so a clash is found at start-up, not as a misrouted message.
 */
export function handlerTable(entries: Iterable<readonly [number, Handler]>): HandlerTable {
  const table = new Map<number, Handler>()
  for (const [type, handler] of entries) {
    if (!Number.isInteger(type) || type < FIRST_APPLICATION_MESSAGE_TYPE || type > MAX_MESSAGE_TYPE) {
      throw new RangeError(
        `message type must be an integer between ${FIRST_APPLICATION_MESSAGE_TYPE} and ${MAX_MESSAGE_TYPE}, got ${type}`,
      )
    }
    if (table.has(type)) throw new RangeError(`message type ${type} has two handlers`)
    if (typeof handler !== 'function') throw new TypeError(`handler for message type ${type} is not a function`)
    table.set(type, handler)
  }
  return table
}

/**
 * When queued frames are written:
 * - 'turn' (default): once per event-loop turn (the clock's setImmediate), after every I/O callback of the
 *   turn had its say. Robust: handlers that answer from later callbacks (thread-pool completions) still share
 *   a write. Measured in bench/micro/rpc-echo.ts.
 * - 'microtask': when the current microtask queue drains (queueMicrotask — not a timer, deterministic under any
 *   clock). As fast for synchronous handlers; collapses towards one write per response when answers come from
 *   separate callbacks.
 * - 'off': one write per frame, for comparison only.
 */
export type FlushMode = 'turn' | 'microtask' | 'off'

/**
 * Runs the flushes of every connection of a transport: one timer per turn for all dirty connections,
 * rather than one per connection.
 */
export class Flusher {
  #dirty: RpcConnection[] = []
  #armed = false

  constructor(
    private readonly clock: Clock,
    readonly mode: FlushMode,
  ) {}

  schedule(connection: RpcConnection): void {
    this.#dirty.push(connection)
    if (this.#armed) return
    this.#armed = true
    if (this.mode === 'microtask') queueMicrotask(this.#run)
    else this.clock.setImmediate(this.#run)
  }

  readonly #run = (): void => {
    this.#armed = false
    const dirty = this.#dirty
    this.#dirty = []
    for (const connection of dirty) connection.flush()
  }
}

interface Pending extends Expirable {
  resolve: (payload: Buffer) => void
  reject: (error: RingkvError) => void
  readonly id: number
  readonly type: number
  readonly timeoutMs: number
}

const unset = (): void => {}

type State = 'hello' | 'open' | 'closing' | 'closed'

export interface RpcConnectionInit {
  stream: ByteStream
  role: 'client' | 'server'
  nodeId: string
  handlers: HandlerTable
  options: Required<ConnectionOptions>
  clock: Clock
  logger: Logger
  flusher: Flusher
}

const EMPTY = Buffer.alloc(0)

export class RpcConnection extends EventEmitter implements Connection {
  readonly localNodeId: string
  remoteNodeId = ''
  readonly remoteAddress: string
  protocolVersion = 0
  readonly stats: ConnectionStats = {
    framesSent: 0,
    framesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    writes: 0,
    queuedBytes: 0,
    lateResponses: 0,
    readPauses: 0,
  }
  /** Resolves when HELLO completes; rejects with the reason the connection never opened. */
  readonly opened: Promise<void>

  readonly #stream: ByteStream
  readonly #role: 'client' | 'server'
  readonly #handlers: HandlerTable
  readonly #options: Required<ConnectionOptions>
  readonly #clock: Clock
  readonly #log: Logger
  readonly #flusher: Flusher
  readonly #decoder: FrameDecoder
  readonly #context: HandlerContext = { connection: this }

  #state: State = 'hello'
  #resolveOpened!: () => void
  #rejectOpened!: (error: RingkvError) => void
  #resolveClosed!: () => void
  readonly #closed: Promise<void>
  /** Why the connection closed or is closing; undefined for a clean close. */
  #closeError: RingkvError | undefined
  #helloTimer: TimerHandle | undefined
  #graceTimer: TimerHandle | undefined
  #helloRequestId = 0
  /** Largest frame we send: the smaller of our bound and the peer's (from HELLO). */
  #sendLimit: number

  readonly #pending = new Map<number, Pending>()
  readonly #deadlines: DeadlineQueue<Pending>
  #lastRequestId = 0

  // Outgoing: segments ready for the next write, plus the arena being filled at [#arenaStart, #arenaPos).
  #arena: Buffer = EMPTY
  #arenaStart = 0
  #arenaPos = 0
  #segments: Buffer[] = []
  #batchFrames = 0
  #flushScheduled = false
  /** stream.write returned false; waiting for drain. */
  #blocked = false
  #readPaused = false
  /** Incoming requests whose handler has not answered yet. */
  #handling = 0
  #draining = false
  #onIdle: (() => void) | undefined
  #lastRefusedAt = 0
  #quietTimer: TimerHandle | undefined

  constructor(init: RpcConnectionInit) {
    super()
    this.#stream = init.stream
    this.#role = init.role
    this.localNodeId = init.nodeId
    this.remoteAddress = init.stream.remoteAddress
    this.#handlers = init.handlers
    this.#options = init.options
    this.#clock = init.clock
    this.#flusher = init.flusher
    this.#log = init.logger.child({ peer: this.remoteAddress, role: init.role })
    this.#sendLimit = init.options.maxFrameBytes
    this.#decoder = new FrameDecoder({ maxFrameBytes: init.options.maxFrameBytes, maxVersion: PROTOCOL_VERSION })
    this.opened = new Promise<void>((resolve, reject) => {
      this.#resolveOpened = resolve
      this.#rejectOpened = reject
    })
    this.opened.catch(() => {}) // observed by whoever awaits it; never an unhandled rejection
    this.#closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve))
    this.#deadlines = new DeadlineQueue(this.#clock, (pending) => this.#onTimeout(pending))

    this.#helloTimer = this.#clock.setTimeout(() => {
      this.#helloTimer = undefined
      if (this.#state !== 'hello') return
      const error = new RingkvError(
        ErrorCode.TIMEOUT,
        `HELLO not completed within ${this.#options.helloTimeoutMs} ms`,
        { details: { address: this.remoteAddress } },
      )
      this.#beginClose(error, this.#role === 'server')
    }, init.options.helloTimeoutMs)

    this.#stream.attach({
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#onDrain(),
      end: () => this.#beginClose(this.#closeError, false),
      close: (error) => this.#finalize(error),
    })

    if (this.#role === 'client') {
      this.#helloRequestId = this.#nextRequestId()
      const hello = encodeHelloRequest({
        versions: LOCAL_VERSIONS,
        maxFrameBytes: this.#options.maxFrameBytes,
        nodeId: this.localNodeId,
      })
      this.#enqueue(HELLO_FRAME_VERSION, FrameKind.REQUEST, MessageType.HELLO, this.#helloRequestId, hello)
    }
  }

  get isOpen(): boolean {
    return this.#state === 'open'
  }

  get pendingRequests(): number {
    return this.#pending.size
  }

  request(type: number, payload: Uint8Array, options?: RequestOptions): Promise<Buffer> {
    const timeoutMs = options?.timeoutMs ?? this.#options.requestTimeoutMs
    timeoutIn('timeoutMs', timeoutMs)
    const refused = this.#refuseSend(type, payload)
    if (refused !== undefined) return Promise.reject(refused)
    const id = this.#nextRequestId()
    const pending: Pending = { resolve: unset, reject: unset, id, type, timeoutMs, deadlineBucket: undefined, deadlineSlot: 0 }
    const promise = new Promise<Buffer>((resolve, reject) => {
      pending.resolve = resolve
      pending.reject = reject
    })
    this.#deadlines.add(pending, timeoutMs)
    this.#pending.set(id, pending)
    this.#enqueue(this.protocolVersion, FrameKind.REQUEST, type, id, payload)
    return promise
  }

  send(type: number, payload: Uint8Array): void {
    const refused = this.#refuseSend(type, payload)
    if (refused !== undefined) throw refused
    this.#enqueue(this.protocolVersion, FrameKind.ONE_WAY, type, 0, payload)
  }

  close(): Promise<void> {
    this.#beginClose(this.#closeError, false)
    return this.#closed
  }

  /**
   * Stop taking requests (new ones are refused with ERR_SHUTTING_DOWN) and resolve once every request being
   * handled has been answered. The connection stays open for those answers; close it afterwards.
   */
  drain(): Promise<void> {
    this.#draining = true
    if (this.#state !== 'open') return Promise.resolve()
    this.#lastRefusedAt = this.#clock.monotonic()
    return new Promise<void>((resolve) => {
      this.#onIdle = resolve
      this.#checkQuiet()
    })
  }

  /** Resolves the drain once nothing is being handled and the peer has been quiet for DRAIN_QUIET_MS. */
  #checkQuiet(): void {
    this.#clock.clearTimeout(this.#quietTimer)
    this.#quietTimer = undefined
    if (this.#onIdle === undefined || this.#handling > 0) return
    const wait = this.#lastRefusedAt + DRAIN_QUIET_MS - this.#clock.monotonic()
    if (wait > 0) {
      this.#quietTimer = this.#clock.setTimeout(() => this.#checkQuiet(), wait)
      return
    }
    const idle = this.#onIdle
    this.#onIdle = undefined
    // After this turn's answers are queued: the flush that follows carries them before the close.
    queueMicrotask(idle)
  }

  destroy(): void {
    if (this.#state === 'closed') return
    this.#beginClose(this.#closeError, false, true)
  }

  /** Write everything gathered since the last flush in one stream write. Called by the Flusher. */
  flush(): void {
    this.#flushScheduled = false
    if (this.#state === 'closed' || this.#state === 'closing' || this.#blocked) return
    this.#write()
  }

  // --- sending -----------------------------------------------------------------------------------------

  /** Why a request or one-way message cannot be sent now (a RingkvError), or undefined. */
  #refuseSend(type: number, payload: Uint8Array): RingkvError | undefined {
    if (
      !Number.isInteger(type) ||
      type > MAX_MESSAGE_TYPE ||
      (type < FIRST_APPLICATION_MESSAGE_TYPE && type !== MessageType.PING)
    ) {
      throw new RangeError(
        `message type must be PING or an integer between ${FIRST_APPLICATION_MESSAGE_TYPE} and ${MAX_MESSAGE_TYPE}, got ${type}`,
      )
    }
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array')
    if (this.#state !== 'open') return this.#closedError(this.#closeError)
    const frameBytes = FRAME_HEADER_BYTES + payload.length
    if (frameBytes > this.#sendLimit) {
      return new RingkvError(
        ErrorCode.FRAME_TOO_LARGE,
        `${messageTypeName(type)} frame of ${frameBytes} bytes exceeds the limit of ${this.#sendLimit} on this connection`,
        { details: { frameBytes, limit: this.#sendLimit } },
      )
    }
    if (this.stats.queuedBytes + frameBytes > this.#options.maxQueuedBytes) {
      return new RingkvError(
        ErrorCode.OVERLOADED,
        `outgoing queue to ${this.remoteAddress} is full (${this.stats.queuedBytes} bytes queued)`,
        { details: { address: this.remoteAddress, queuedBytes: this.stats.queuedBytes } },
      )
    }
    return undefined
  }

  #nextRequestId(): number {
    for (;;) {
      this.#lastRequestId = (this.#lastRequestId + 1) >>> 0
      if (this.#lastRequestId !== 0 && !this.#pending.has(this.#lastRequestId)) return this.#lastRequestId
    }
  }

  /** Encode a frame into the outgoing batch and make sure a flush is coming. */
  #enqueue(version: number, kind: FrameKind, type: number, requestId: number, payload: Uint8Array): void {
    const length = payload.length
    if (length >= LARGE_PAYLOAD_BYTES) {
      this.#reserve(FRAME_HEADER_BYTES)
      writeFrameHeader(this.#arena, this.#arenaPos, version, kind, type, requestId, length)
      this.#arenaPos += FRAME_HEADER_BYTES
      this.#cutSegment()
      this.#segments.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, length))
    } else {
      this.#reserve(FRAME_HEADER_BYTES + length)
      writeFrameHeader(this.#arena, this.#arenaPos, version, kind, type, requestId, length)
      this.#arena.set(payload, this.#arenaPos + FRAME_HEADER_BYTES)
      this.#arenaPos += FRAME_HEADER_BYTES + length
    }
    this.stats.queuedBytes += FRAME_HEADER_BYTES + length
    this.#batchFrames++
    if (this.stats.queuedBytes > this.#options.maxQueuedBytes && !this.#readPaused) {
      // Our peer is not taking what we produce: stop producing more on its behalf.
      this.#readPaused = true
      this.stats.readPauses++
      this.#stream.pause()
    }
    if (this.#flusher.mode === 'off') {
      if (!this.#blocked && this.#state !== 'closing') this.#write()
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true
      this.#flusher.schedule(this)
    }
  }

  #reserve(bytes: number): void {
    if (this.#arena.length - this.#arenaPos >= bytes) return
    this.#cutSegment()
    this.#arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, bytes))
    this.#arenaStart = 0
    this.#arenaPos = 0
  }

  #cutSegment(): void {
    if (this.#arenaPos === this.#arenaStart) return
    this.#segments.push(this.#arena.subarray(this.#arenaStart, this.#arenaPos))
    this.#arenaStart = this.#arenaPos
  }

  /** Hand every gathered segment to the stream in one write. */
  #write(): void {
    this.#cutSegment()
    if (this.#segments.length === 0) return
    const segments = this.#segments
    this.#segments = []
    this.stats.writes++
    this.stats.framesSent += this.#batchFrames
    this.stats.bytesSent += this.stats.queuedBytes
    this.#batchFrames = 0
    this.stats.queuedBytes = 0
    const ok = this.#stream.write(segments)
    if (this.#arenaStart === this.#arenaPos && this.#stream.released?.() === true) this.#arenaStart = this.#arenaPos = 0
    if (!ok) this.#blocked = true
    else if (this.#readPaused && this.#state !== 'closing') this.#resumeReading()
  }

  #onDrain(): void {
    this.#blocked = false
    if (this.#state !== 'open' && this.#state !== 'hello') return
    this.#write()
    if (!this.#blocked && this.#readPaused) this.#resumeReading()
  }

  #resumeReading(): void {
    this.#readPaused = false
    this.#stream.resume()
  }

  // --- receiving ---------------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#state !== 'open' && this.#state !== 'hello') return // closing: the rest of the input is discarded
    this.stats.bytesReceived += chunk.length
    this.#decoder.push(chunk)
    for (;;) {
      let frame: Frame | undefined
      try {
        frame = this.#decoder.next()
      } catch (error) {
        this.#protocolError(error as RingkvError)
        return
      }
      if (frame === undefined) return
      this.stats.framesReceived++
      if (this.#state === 'open') this.#onFrame(frame)
      else this.#onHelloFrame(frame)
      if (this.#state !== 'open' && this.#state !== 'hello') return
    }
  }

  #onFrame(frame: Frame): void {
    if (frame.version !== this.protocolVersion) {
      this.#protocolError(
        new RingkvError(
          ErrorCode.UNSUPPORTED_VERSION,
          `frame in version ${frame.version} on a connection that negotiated version ${this.protocolVersion}`,
        ),
      )
      return
    }
    switch (frame.kind) {
      case FrameKind.REQUEST:
        this.#onRequest(frame)
        return
      case FrameKind.RESPONSE: {
        const pending = this.#takePending(frame.requestId)
        if (pending !== undefined) pending.resolve(frame.payload)
        return
      }
      case FrameKind.ERROR_RESPONSE: {
        const error = this.#remoteError(frame)
        if (error === undefined) return
        const pending = this.#takePending(frame.requestId)
        if (pending !== undefined) pending.reject(error)
        return
      }
      case FrameKind.ONE_WAY:
        this.#onOneWay(frame)
        return
    }
  }

  #takePending(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    if (pending === undefined) {
      this.stats.lateResponses++
      return undefined
    }
    this.#pending.delete(id)
    this.#deadlines.remove(pending)
    return pending
  }

  /** The RingkvError an error payload describes; a malformed payload is a protocol error (returns undefined). */
  #remoteError(frame: Frame): RingkvError | undefined {
    try {
      const { code, message } = decodeErrorPayload(frame.payload)
      return new RingkvError(code, message, {
        details: { remote: true, address: this.remoteAddress, messageType: frame.type },
      })
    } catch (error) {
      this.#protocolError(error as RingkvError)
      return undefined
    }
  }

  #onRequest(frame: Frame): void {
    const { type, requestId } = frame
    if (type === MessageType.PING) {
      this.#reply(requestId, type, frame.payload)
      return
    }
    if (type === MessageType.HELLO) {
      this.#protocolError(new RingkvError(ErrorCode.BAD_FRAME, 'HELLO after the handshake'))
      return
    }
    const handler = this.#handlers.get(type)
    if (handler === undefined || type < FIRST_APPLICATION_MESSAGE_TYPE) {
      this.#replyError(requestId, type, ErrorCode.UNKNOWN_MESSAGE, `no handler for ${messageTypeName(type)}`)
      return
    }
    if (this.#draining) {
      this.#lastRefusedAt = this.#clock.monotonic()
      this.#replyError(requestId, type, ErrorCode.SHUTTING_DOWN, `${this.localNodeId} is shutting down; ${messageTypeName(type)} was not processed`)
      return
    }
    let result: Promise<Uint8Array> | Uint8Array
    try {
      result = handler(frame.payload, this.#context)
    } catch (error) {
      this.#replyFailure(requestId, type, error)
      return
    }
    if (isThenable(result)) {
      this.#handling++
      result.then(
        (value) => {
          this.#handled()
          this.#reply(requestId, type, value)
        },
        (error: unknown) => {
          this.#handled()
          this.#replyFailure(requestId, type, error)
        },
      )
    } else this.#reply(requestId, type, result)
  }

  #handled(): void {
    if (--this.#handling === 0 && this.#onIdle !== undefined) this.#checkQuiet()
  }

  #reply(requestId: number, type: number, result: unknown): void {
    if (this.#state !== 'open') return // the requester already failed this request with ERR_CONNECTION_CLOSED
    if (!(result instanceof Uint8Array)) {
      this.#replyError(requestId, type, ErrorCode.INTERNAL, `handler for ${messageTypeName(type)} returned no Uint8Array`)
      return
    }
    const frameBytes = FRAME_HEADER_BYTES + result.length
    if (frameBytes > this.#sendLimit) {
      this.#replyError(
        requestId,
        type,
        ErrorCode.FRAME_TOO_LARGE,
        `response of ${frameBytes} bytes exceeds the limit of ${this.#sendLimit} on this connection`,
      )
      return
    }
    this.#enqueue(this.protocolVersion, FrameKind.RESPONSE, type, requestId, result)
  }

  #replyFailure(requestId: number, type: number, error: unknown): void {
    if (error instanceof RingkvError) {
      this.#replyError(requestId, type, error.code, error.message)
      return
    }
    this.#log.warn('handler failed', { messageType: messageTypeName(type), error })
    this.#replyError(requestId, type, ErrorCode.INTERNAL, error instanceof Error ? error.message : String(error))
  }

  #replyError(requestId: number, type: number, code: string, message: string): void {
    if (this.#state !== 'open') return
    this.#enqueue(this.protocolVersion, FrameKind.ERROR_RESPONSE, type, requestId, encodeErrorPayload(code, message))
  }

  #onOneWay(frame: Frame): void {
    const { type } = frame
    if (type === MessageType.ERROR) {
      const error = this.#remoteError(frame)
      if (error !== undefined) this.#onRemoteProtocolError(error)
      return
    }
    if (type === MessageType.HELLO) {
      this.#protocolError(new RingkvError(ErrorCode.BAD_FRAME, 'HELLO must be a request'))
      return
    }
    const handler = type >= FIRST_APPLICATION_MESSAGE_TYPE ? this.#handlers.get(type) : undefined
    if (handler === undefined) {
      // A newer peer may send messages we do not know: drop them, keep the connection.
      if (type !== MessageType.PING) this.#log.debug('no handler for one-way message', { messageType: type })
      return
    }
    try {
      const result: unknown = handler(frame.payload, this.#context)
      if (isThenable(result)) {
        result.then(undefined, (error: unknown) => this.#log.warn('one-way handler failed', { messageType: type, error }))
      }
    } catch (error) {
      this.#log.warn('one-way handler failed', { messageType: type, error })
    }
  }

  #onHelloFrame(frame: Frame): void {
    if (frame.version !== HELLO_FRAME_VERSION) {
      this.#protocolError(
        new RingkvError(ErrorCode.UNSUPPORTED_VERSION, `HELLO must travel in frame version ${HELLO_FRAME_VERSION}`),
      )
      return
    }
    if (frame.kind === FrameKind.ONE_WAY && frame.type === MessageType.ERROR) {
      const error = this.#remoteError(frame)
      if (error !== undefined) this.#onRemoteProtocolError(error)
      return
    }
    if (this.#role === 'server') this.#onHelloRequest(frame)
    else this.#onHelloResponse(frame)
  }

  #onHelloRequest(frame: Frame): void {
    if (frame.kind !== FrameKind.REQUEST || frame.type !== MessageType.HELLO) {
      this.#protocolError(new RingkvError(ErrorCode.BAD_FRAME, 'the first frame must be a HELLO request'))
      return
    }
    let hello
    try {
      hello = decodeHelloRequest(frame.payload)
    } catch (error) {
      this.#protocolError(error as RingkvError)
      return
    }
    const version = negotiateVersion(LOCAL_VERSIONS, hello.versions)
    if (version === undefined) {
      const error = new RingkvError(
        ErrorCode.UNSUPPORTED_VERSION,
        `no common protocol version: peer speaks ${hello.versions.min}..${hello.versions.max}, ` +
          `this node ${LOCAL_VERSIONS.min}..${LOCAL_VERSIONS.max}`,
      )
      this.#enqueue(HELLO_FRAME_VERSION, FrameKind.ERROR_RESPONSE, MessageType.HELLO, frame.requestId,
        encodeErrorPayload(error.code, error.message))
      this.#beginClose(error, false)
      return
    }
    const response = encodeHelloResponse({ version, maxFrameBytes: this.#options.maxFrameBytes, nodeId: this.localNodeId })
    this.#enqueue(HELLO_FRAME_VERSION, FrameKind.RESPONSE, MessageType.HELLO, frame.requestId, response)
    this.#open(version, hello.nodeId, hello.maxFrameBytes)
  }

  #onHelloResponse(frame: Frame): void {
    if (frame.type !== MessageType.HELLO || frame.requestId !== this.#helloRequestId ||
      (frame.kind !== FrameKind.RESPONSE && frame.kind !== FrameKind.ERROR_RESPONSE)) {
      this.#protocolError(new RingkvError(ErrorCode.BAD_FRAME, 'expected the HELLO response'))
      return
    }
    if (frame.kind === FrameKind.ERROR_RESPONSE) {
      const error = this.#remoteError(frame)
      if (error !== undefined) this.#beginClose(error, false)
      return
    }
    let hello
    try {
      hello = decodeHelloResponse(frame.payload)
    } catch (error) {
      this.#protocolError(error as RingkvError)
      return
    }
    if (hello.version < LOCAL_VERSIONS.min || hello.version > LOCAL_VERSIONS.max) {
      this.#protocolError(
        new RingkvError(ErrorCode.UNSUPPORTED_VERSION, `server chose protocol version ${hello.version}, not offered`),
      )
      return
    }
    this.#open(hello.version, hello.nodeId, hello.maxFrameBytes)
  }

  #open(version: number, remoteNodeId: string, remoteMaxFrameBytes: number): void {
    this.protocolVersion = version
    this.remoteNodeId = remoteNodeId
    this.#sendLimit = Math.min(this.#options.maxFrameBytes, remoteMaxFrameBytes)
    this.#state = 'open'
    this.#clock.clearTimeout(this.#helloTimer)
    this.#helloTimer = undefined
    this.#log.debug('connection open', { remoteNodeId, version })
    this.#resolveOpened()
  }

  // --- errors and closing ------------------------------------------------------------------------------

  #onTimeout(pending: Pending): void {
    const { id, type, timeoutMs } = pending
    if (this.#pending.get(id) !== pending) return
    this.#pending.delete(id)
    pending.reject(
      new RingkvError(ErrorCode.TIMEOUT, `${messageTypeName(type)} to ${this.remoteAddress} timed out after ${timeoutMs} ms`, {
        details: { address: this.remoteAddress, messageType: type, timeoutMs },
      }),
    )
  }

  /** The peer sent bytes we cannot accept: tell it why (ERROR frame), then close this connection only. */
  #protocolError(error: RingkvError): void {
    this.#log.info('protocol error; closing connection', { code: error.code, reason: error.message })
    this.#beginClose(error, true)
  }

  /** The peer told us our bytes were malformed; it is closing, and so do we. */
  #onRemoteProtocolError(error: RingkvError): void {
    this.#log.warn('peer reported a protocol error', { code: error.code, reason: error.message })
    this.#beginClose(error, false)
  }

  #closedError(reason: RingkvError | undefined): RingkvError {
    return new RingkvError(
      ErrorCode.CONNECTION_CLOSED,
      `connection to ${this.remoteAddress} closed` + (reason === undefined ? '' : `: ${reason.message}`),
      { details: { address: this.remoteAddress, reasonCode: reason?.code }, cause: reason },
    )
  }

  /**
   * Start closing: fail pending requests, optionally tell the peer why (ERROR frame), write what is queued,
   * end the stream, and reset it if the peer has not closed its side within closeGraceMs. With `abort`,
   * nothing queued is written and the stream is reset at once.
   */
  #beginClose(reason: RingkvError | undefined, notifyPeer: boolean, abort = false): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      if (abort && this.#state === 'closing') this.#stream.destroy()
      return
    }
    const wasHello = this.#state === 'hello'
    this.#state = 'closing'
    this.#closeError = reason
    const idle = this.#onIdle
    this.#onIdle = undefined
    this.#clock.clearTimeout(this.#quietTimer)
    this.#quietTimer = undefined
    idle?.()
    this.#clock.clearTimeout(this.#helloTimer)
    this.#helloTimer = undefined
    this.#failPending(reason)
    if (wasHello) this.#rejectOpened(reason ?? this.#closedError(undefined))
    if (abort) {
      this.#stream.destroy()
      return
    }
    if (notifyPeer && reason !== undefined) {
      this.#enqueue(this.protocolVersion || HELLO_FRAME_VERSION, FrameKind.ONE_WAY, MessageType.ERROR, 0,
        encodeErrorPayload(reason.code, reason.message))
    }
    // Write what is queued even past backpressure: it is bounded, and it is the last write.
    this.#write()
    this.#stream.end()
    this.#graceTimer = this.#clock.setTimeout(() => {
      this.#graceTimer = undefined
      this.#stream.destroy()
    }, this.#options.closeGraceMs)
  }

  #failPending(reason: RingkvError | undefined): void {
    this.#deadlines.clear() // also cancels timers left armed with nothing live behind them
    if (this.#pending.size === 0) return
    const error = this.#closedError(reason)
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(error)
  }

  #finalize(streamError: Error | undefined): void {
    if (this.#state === 'closed') return
    const wasHello = this.#state === 'hello'
    this.#state = 'closed'
    this.#clock.clearTimeout(this.#helloTimer)
    this.#clock.clearTimeout(this.#graceTimer)
    this.#helloTimer = undefined
    this.#graceTimer = undefined
    if (this.#closeError === undefined && streamError !== undefined) {
      this.#closeError = new RingkvError(
        ErrorCode.CONNECTION_CLOSED,
        `connection to ${this.remoteAddress} failed: ${streamError.message}`,
        { details: { address: this.remoteAddress }, cause: streamError },
      )
    }
    this.#failPending(this.#closeError)
    if (wasHello) this.#rejectOpened(this.#closeError ?? this.#closedError(undefined))
    this.#segments = []
    this.#arena = EMPTY
    this.#arenaStart = this.#arenaPos = 0
    this.stats.queuedBytes = 0
    this.#log.debug('connection closed', { code: this.#closeError?.code })
    this.emit('close', this.#closeError)
    this.#resolveClosed()
  }
}

// Typed overloads of the EventEmitter methods used by the Connection interface.
export interface RpcConnection {
  on(event: 'close', listener: (error: RingkvError | undefined) => void): this
  once(event: 'close', listener: (error: RingkvError | undefined) => void): this
  off(event: 'close', listener: (error: RingkvError | undefined) => void): this
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'
}

/** Validate a node id early, with the option name in the message. */
export function checkNodeId(nodeId: string): void {
  if (typeof nodeId !== 'string') throw new TypeError('nodeId must be a string')
  nodeIdBytes(nodeId)
}
