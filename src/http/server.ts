// The HTTP server: node:http plumbing around the route handlers of routes.ts.
//
// It owns what touches sockets: reading a request body under a byte limit, writing every reply and error
// (one writeHead, one end, a Content-Length on every body), Node's parser errors turned into JSON answers,
// and shutdown. Nothing here throws into Node's event emitters: a client that disconnects at any moment
// costs the request and nothing else.
//
// Bodies: a declared Content-Length above maxBodyBytes is refused (413) before a byte of the body is read; a
// chunked body is refused as soon as it passes the limit. Either way, and whenever an answer goes out before
// its request's body was read (a PUT with a bad query), the answer says `Connection: close` and the socket
// is closed once it is written, so an unwanted body is never read to its end. `Expect: 100-continue` is
// honoured: the 100 goes out only once the request is known to be acceptable, so curl uploading a value too
// large or with a bad parameter never sends it.
//
// Logging: requests refused for the client's fault (4xx) and the service's expected failures (quorum, timeout,
// overload: 5xx with a code) go to debug; an unexpected error (500 ERR_INTERNAL) goes to error with the error
// itself. The client never sees more than the code and message.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { RingkvError } from '../errors.ts'
import type { KvService } from '../cluster/api.ts'
import { formatTcpAddress, parseTcpAddress } from '../net/tcp.ts'
import { systemClock, type Clock } from '../runtime/clock.ts'
import { silentLogger, type Logger } from '../runtime/logger.ts'
import { errorBody, toErrorReply } from './errors.ts'
import {
  allowedMethods,
  CONTEXT_HEADER,
  deleteKey,
  getKey,
  health,
  JSON_TYPE,
  keyOfPath,
  methodAllowed,
  putKey,
  putOptions,
  routeOf,
  scan,
  status,
  unknownRoute,
  type NodeInfo,
  type Reply,
  type RouteEnv,
} from './routes.ts'

/** Values up to 16 MiB (the engine's default limit) plus room for the service to refuse larger ones itself. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024 + 64 * 1024
/** Request line and headers: room for a 64 KiB key fully percent-encoded (3 characters a byte) and the rest. */
export const DEFAULT_MAX_HEADER_BYTES = 208 * 1024
/** How long close() lets requests in flight finish before it cuts their connections. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000

export interface HttpServerOptions {
  /** 'host:port' to listen on; port 0 picks a free port (see the returned `address`). */
  address: string
  service: KvService
  /** Called for every /status request: this node and what it knows of the cluster. */
  info: () => NodeInfo
  logger?: Logger
  clock?: Clock
  /** Largest request body (a value) accepted, in bytes. Default DEFAULT_MAX_BODY_BYTES. */
  maxBodyBytes?: number
  /** Largest request line plus headers, in bytes (Node's maxHeaderSize). Default DEFAULT_MAX_HEADER_BYTES. */
  maxHeaderBytes?: number
  /** Grace period of close() for requests in flight, ms. Default DEFAULT_CLOSE_GRACE_MS. */
  closeGraceMs?: number
  /** Shown by /status; default ringkv's package version. */
  version?: string
}

export interface HttpServer {
  /** The address listened on, 'host:port' with the actual port. */
  readonly address: string
  /**
   * Stops accepting connections, closes idle ones, lets requests in flight finish (their connections close
   * after the answer) and after closeGraceMs cuts what is left. Idempotent.
   */
  close(): Promise<void>
}

interface State {
  readonly env: RouteEnv
  readonly logger: Logger
  readonly maxBodyBytes: number
  closing: boolean
}

function checkInteger(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`)
  return value
}

let cachedVersion: string | undefined
function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      // Two levels up from src/http/ and from dist/http/ alike.
      const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown }
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown'
    } catch {
      cachedVersion = 'unknown'
    }
  }
  return cachedVersion
}

/** Starts the HTTP API on `options.address`; resolves once it listens. A listen failure is ERR_LISTEN_FAILED. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const { host, port } = parseTcpAddress(options.address)
  if (typeof options.service !== 'object' || options.service === null) throw new TypeError('service must be a KvService')
  if (typeof options.info !== 'function') throw new TypeError('info must be a function returning the node info')
  const maxBodyBytes = checkInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0)
  const maxHeaderBytes = checkInteger('maxHeaderBytes', options.maxHeaderBytes, DEFAULT_MAX_HEADER_BYTES, 1024)
  const closeGraceMs = checkInteger('closeGraceMs', options.closeGraceMs, DEFAULT_CLOSE_GRACE_MS, 0)
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const state: State = {
    env: { service: options.service, info: options.info, version: options.version ?? packageVersion() },
    logger,
    maxBodyBytes,
    closing: false,
  }

  // requireHostHeader off: Node would answer a request without Host with a bare 400 of its own; we need no Host.
  const server = http.createServer({ maxHeaderSize: maxHeaderBytes, requireHostHeader: false })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => handle(state, req, res, false))
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => handle(state, req, res, true))
  server.on('clientError', (err: Error, socket: Duplex) => onClientError(state, err, socket))
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new RingkvError('ERR_LISTEN_FAILED', `HTTP server cannot listen on ${options.address}: ${err.message}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  // A server error after listening (e.g. EMFILE on accept) is logged; Node keeps the listener open.
  server.on('error', (err) => logger.error('http server error', { error: err }))
  const bound = server.address() as AddressInfo
  const address = formatTcpAddress(bound.address, bound.port)
  logger.info('http listening', { address })

  let closed: Promise<void> | undefined
  return {
    address,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        state.closing = true
        const timer = clock.setTimeout(() => server.closeAllConnections(), closeGraceMs)
        server.close(() => {
          clock.clearTimeout(timer)
          resolve()
        })
        // Node's closeIdleConnections spares connections that have not finished a first request (connected,
        // or half-way through headers); nobody waits for an answer on those either.
        server.closeIdleConnections()
        for (const socket of sockets) if (!inFlight(socket)) socket.destroy()
      })
      return closed
    },
  }
}

/** The response Node is writing on a connection, if any (Node's own bookkeeping, as its clientError handler uses). */
function currentResponse(socket: Duplex): ServerResponse | null | undefined {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
}

function inFlight(socket: Duplex): boolean {
  return currentResponse(socket) != null
}

// ---- requests -----------------------------------------------------------------------------------

/** Rejection of a body read whose client went away: nobody is left to answer. */
const CLIENT_GONE = new Error('client disconnected')
const EMPTY = Buffer.alloc(0)
const noop = (): void => {}

function handle(state: State, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
  // A request or response 'error' (a reset mid-body, a write after the peer left) must never be unhandled.
  req.on('error', noop)
  res.on('error', noop)
  serve(state, req, res, expectContinue).catch((err: unknown) => {
    // Only send() can get here (a reply Node refused to write); answer 500 if nothing went out yet.
    state.logger.error('http reply failed', { error: err })
    if (!res.headersSent && !res.destroyed) {
      try {
        send(state, req, res, { status: 500, body: errorBody('ERR_INTERNAL', 'internal error') })
      } catch {
        res.destroy()
      }
    } else {
      res.destroy()
    }
  })
}

async function serve(state: State, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
  const url = req.url ?? '/'
  const method = req.method ?? 'GET'
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const rawQuery = q < 0 ? '' : url.slice(q + 1)
  let reply: Reply
  try {
    reply = await dispatch(state, req, res, method, path, rawQuery, expectContinue)
  } catch (err) {
    if (err === CLIENT_GONE) {
      state.logger.debug('http client disconnected', { method, path: forLog(path) })
      return
    }
    reply = errorReply(state, err, method, path)
  }
  send(state, req, res, reply)
}

function dispatch(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  path: string,
  rawQuery: string,
  expectContinue: boolean,
): Reply | Promise<Reply> {
  const kind = routeOf(path)
  if (kind === undefined) throw unknownRoute(path)
  if (!methodAllowed(kind, method)) {
    const allow = allowedMethods(kind)
    if (state.logger.isEnabled('debug')) state.logger.debug('http method not allowed', { method, path: forLog(path) })
    return { status: 405, body: errorBody('ERR_METHOD_NOT_ALLOWED', `${method} is not allowed here; allowed: ${allow}`), allow }
  }
  const env = state.env
  switch (kind) {
    case 'key': {
      const key = keyOfPath(path)
      if (method === 'GET' || method === 'HEAD') return getKey(env, key, rawQuery, req.headers)
      if (method === 'DELETE') return deleteKey(env, key, rawQuery, req.headers)
      return putWithBody(state, req, res, key, rawQuery, expectContinue)
    }
    case 'scan':
      return scan(env, rawQuery)
    case 'status':
      return status(env, rawQuery)
    case 'health':
      return health(rawQuery)
  }
}

async function putWithBody(
  state: State,
  req: IncomingMessage,
  res: ServerResponse,
  key: Buffer,
  rawQuery: string,
  expectContinue: boolean,
): Promise<Reply> {
  const options = putOptions(rawQuery, req.headers)
  const value = await readBody(req, res, state.maxBodyBytes, expectContinue)
  return putKey(state.env, key, value, options)
}

function bodyTooLarge(limit: number, declared?: number): RingkvError {
  const what = declared === undefined ? 'the request body is larger than' : `the request body (${declared} bytes) is larger than`
  return new RingkvError('ERR_BODY_TOO_LARGE', `${what} the limit of ${limit} bytes`, { details: { limit } })
}

/**
 * The whole body, or a rejection: ERR_BODY_TOO_LARGE (before reading, when Content-Length says so; else as
 * soon as the limit is passed, with the rest left unread) or CLIENT_GONE. The value handed to the service may
 * be a view of the socket's read buffer; a service that keeps values in memory should copy them.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, expectContinue: boolean): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined) {
    const n = Number(declared) // Node's parser has checked it is a number
    if (n > limit) return Promise.reject(bodyTooLarge(limit, n))
  }
  if (expectContinue) res.writeContinue()
  return new Promise<Buffer>((resolve, reject) => {
    let first: Buffer | undefined
    let chunks: Buffer[] | undefined
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        stop()
        req.pause()
        reject(bodyTooLarge(limit))
      } else if (first === undefined) {
        first = chunk
      } else {
        ;(chunks ??= [first]).push(chunk)
      }
    }
    const onEnd = (): void => {
      stop()
      resolve(chunks !== undefined ? Buffer.concat(chunks, size) : (first ?? EMPTY))
    }
    const onGone = (): void => {
      stop()
      reject(CLIENT_GONE)
    }
    const stop = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onGone)
      req.off('close', onGone)
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onGone)
    req.on('close', onGone)
  })
}

/** A request whose body has not been read to its end (we answer before reading it, or stopped reading it). */
function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false
  const length = req.headers['content-length']
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined
}

function errorReply(state: State, err: unknown, method: string, path: string): Reply {
  const e = toErrorReply(err)
  if (e.internal) {
    state.logger.error('http request failed', { method, path: forLog(path), error: err })
  } else if (state.logger.isEnabled('debug')) {
    state.logger.debug('http request refused', { method, path: forLog(path), status: e.status, code: e.code, message: e.message })
  }
  return { status: e.status, body: errorBody(e.code, e.message, e.details), retryAfter: e.retryAfter }
}

function forLog(path: string): string {
  return path.length > 256 ? path.slice(0, 256) + '...' : path
}

/** Writes a reply: one writeHead, one end. Skipped when the client has gone. */
function send(state: State, req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed || req.socket.destroyed) return
  const headers: http.OutgoingHttpHeaders = {}
  const body = reply.body
  if (body !== undefined) {
    headers['Content-Type'] = reply.contentType ?? JSON_TYPE
    headers['Content-Length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length
  } else if (reply.status !== 204) {
    headers['Content-Length'] = 0
  }
  if (reply.context !== undefined) {
    // The one header value that comes from elsewhere (the service). Checked here, because a writeHead that
    // throws half-way leaves the response unusable for the 500 that must follow.
    http.validateHeaderValue(CONTEXT_HEADER, reply.context)
    headers[CONTEXT_HEADER] = reply.context
  }
  if (reply.allow !== undefined) headers['Allow'] = reply.allow
  if (reply.retryAfter !== undefined) headers['Retry-After'] = String(reply.retryAfter)
  if (state.closing || bodyUnread(req)) {
    headers['Connection'] = 'close'
    // Node closes the socket once the answer is written; the unread rest of the body is never read.
    res.once('finish', () => req.socket.destroySoon())
  }
  res.writeHead(reply.status, headers)
  res.end(body)
}

// ---- errors from Node's parser ------------------------------------------------------------------

const PARSER_ERRORS: ReadonlyMap<string, readonly [number, string, string]> = new Map([
  ['HPE_HEADER_OVERFLOW', [431, 'ERR_HEADERS_TOO_LARGE', 'the request line and headers are too large']],
  ['ERR_HTTP_REQUEST_TIMEOUT', [408, 'ERR_REQUEST_TIMEOUT', 'the request was not received in time']],
  ['ERR_HTTP_HEADERS_TIMEOUT', [408, 'ERR_REQUEST_TIMEOUT', 'the request headers were not received in time']],
])

/**
 * A request Node's parser refused (malformed HTTP, a non-ASCII byte in the URL, headers too large, too slow):
 * answered in JSON like every other error when the socket can still take an answer, then closed. As in Node's
 * own handler, never when an answer on this connection has already started.
 */
function onClientError(state: State, err: Error, socket: Duplex): void {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
    socket.destroy()
    return
  }
  const response = currentResponse(socket)
  if (response != null && response.req.complete) {
    // The bad bytes follow a request still being answered (a pipelined request, or a body the client did not
    // frame, e.g. after `Connection: close`): a second answer would garble the first. Finish it, then close.
    if (state.logger.isEnabled('debug')) state.logger.debug('http parse error after a request', { parserCode: code, message: err.message })
    response.once('close', () => (socket as Socket).destroySoon())
    return
  }
  if (response != null && response.headersSent) {
    socket.destroy()
    return
  }
  // No request, or one whose own body is malformed (its handler, waiting for the body, sees the socket close).
  const known = PARSER_ERRORS.get(code)
  const [status, errorCode, message] = known ?? [400, 'ERR_BAD_REQUEST', `malformed HTTP request (${(err as { reason?: string }).reason ?? err.message})`]
  if (state.logger.isEnabled('debug')) state.logger.debug('http parse error', { status, code: errorCode, parserCode: code, message: err.message })
  const body = errorBody(errorCode, message)
  const head =
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
    `Content-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`
  socket.end(head + body, () => socket.destroy())
}
