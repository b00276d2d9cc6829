/**
 * The transport contract: what the rest of ringkv sees of the network.
 *
 * A `Transport` listens and connects; a `Connection` carries requests (with responses matched by request id,
 * pipelined, answered in any order) and one-way messages, both directions, over one ordered byte stream.
 * Two implementations share everything above the byte stream (src/net/rpc.ts): TCP (tcp.ts) and an in-memory
 * network driven by a Clock (memory.ts) for tests and the deterministic simulator. One contract suite
 * (test/conformance) runs against both.
 *
 * Guarantees:
 * - Frames sent on a connection arrive in order; requests are dispatched to handlers in arrival order.
 * - Every frame produced during one event-loop turn leaves in one socket write per connection (coalescing).
 * - `request` settles exactly once: the response payload, or a RingkvError with code ERR_TIMEOUT,
 *   ERR_CONNECTION_CLOSED, ERR_OVERLOADED, ERR_FRAME_TOO_LARGE, or the remote error's own code.
 * - Malformed input closes only the connection that sent it, after an ERROR frame telling the peer why.
 * - Reconnecting and backing off are the caller's business: listen for 'close' and connect again.
 */
import type { RingkvError } from '../errors.ts'

/** Handles one message type. The payload is a view into received memory: copy it to keep it. */
export type Handler = (payload: Buffer, context: HandlerContext) => Promise<Uint8Array> | Uint8Array
/** One handler per message type (ids >= FIRST_APPLICATION_MESSAGE_TYPE); see `handlerTable`. */
export type HandlerTable = ReadonlyMap<number, Handler>

export interface HandlerContext {
  /** The connection the message arrived on (one shared object per connection, not per message). */
  readonly connection: Connection
}

export interface RequestOptions {
  /** Milliseconds until the request fails with ERR_TIMEOUT. Default: the connection's requestTimeoutMs. */
  timeoutMs?: number
}

export interface ConnectionStats {
  /** Frames handed to the byte stream / decoded from it. */
  framesSent: number
  framesReceived: number
  bytesSent: number
  bytesReceived: number
  /** Write calls on the byte stream: with coalescing, far fewer than framesSent. */
  writes: number
  /** Encoded bytes waiting for the next flush or for the stream to drain. */
  queuedBytes: number
  /** Responses that arrived after their request timed out (dropped). */
  lateResponses: number
  /** Times reading was paused because our own outgoing queue was past its bound. */
  readPauses: number
}

export interface Connection {
  readonly localNodeId: string
  /** The peer's node id from HELLO. */
  readonly remoteNodeId: string
  readonly remoteAddress: string
  /** The negotiated protocol version. */
  readonly protocolVersion: number
  /** True from the end of HELLO until close starts. */
  readonly isOpen: boolean
  readonly pendingRequests: number
  readonly stats: Readonly<ConnectionStats>
  /**
   * Send a request and resolve with the response payload. The payload is not copied when large (>= 64 KiB):
   * do not modify it afterwards.
   */
  request(type: number, payload: Uint8Array, options?: RequestOptions): Promise<Buffer>
  /** Send a one-way message. Throws ERR_CONNECTION_CLOSED, ERR_OVERLOADED or ERR_FRAME_TOO_LARGE. */
  send(type: number, payload: Uint8Array): void
  /**
   * Graceful close: pending requests fail with ERR_CONNECTION_CLOSED, queued frames are flushed, then the
   * stream is ended. Resolves once the stream is closed.
   */
  close(): Promise<void>
  /** Abrupt close: drop queued frames and reset the stream. */
  destroy(): void
  /** 'close' fires once; `error` says why when the close was not a clean one. */
  on(event: 'close', listener: (error: RingkvError | undefined) => void): this
  once(event: 'close', listener: (error: RingkvError | undefined) => void): this
  off(event: 'close', listener: (error: RingkvError | undefined) => void): this
}

/** Tunables shared by both sides of a connection; every field has a default (see rpc.ts `rpcDefaults`). */
export interface ConnectionOptions {
  /** Bound on a frame's total size, both directions; announced in HELLO. Default 32 MiB. */
  maxFrameBytes?: number
  /** Bound on encoded bytes waiting to be written; past it, requests fail with ERR_OVERLOADED. Default 64 MiB. */
  maxQueuedBytes?: number
  /** Default request timeout. Default 5000 ms. */
  requestTimeoutMs?: number
  /** Time allowed for connecting and completing HELLO. Default 5000 ms. */
  helloTimeoutMs?: number
  /** After we end our side, time allowed for the peer to end its side before we reset. Default 2000 ms. */
  closeGraceMs?: number
}

export interface ListenOptions extends ConnectionOptions {
  /** Where to listen: 'host:port' for TCP (port 0 picks a free port), any name for the memory network. */
  address: string
  nodeId: string
  handlers: HandlerTable
}

export interface ConnectOptions extends ConnectionOptions {
  nodeId: string
  /** Handlers for requests the server sends back on this connection. Default: none (only PING). */
  handlers?: HandlerTable
}

export interface Server {
  /** The bound address (with the real port when port 0 was asked for). */
  readonly address: string
  /** Connections that completed HELLO and are not closed yet. */
  readonly connections: ReadonlySet<Connection>
  on(event: 'connection', listener: (connection: Connection) => void): this
  off(event: 'connection', listener: (connection: Connection) => void): this
  /**
   * Stop accepting, let requests being handled finish (at most closeGraceMs; requests arriving meanwhile are
   * refused unprocessed with ERR_SHUTTING_DOWN, so clients send them elsewhere), then close every connection
   * gracefully; resolve when all are closed.
   */
  close(): Promise<void>
}

export interface Transport {
  listen(options: ListenOptions): Promise<Server>
  /** Connect and complete HELLO; fails with ERR_CONNECT_FAILED, ERR_TIMEOUT or ERR_UNSUPPORTED_VERSION. */
  connect(address: string, options: ConnectOptions): Promise<Connection>
}
