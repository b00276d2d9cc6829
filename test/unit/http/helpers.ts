// Shared fixtures for the HTTP API tests: an in-memory KvService with real causal contexts, the real HTTP
// server on 127.0.0.1:0 in front of it, and a raw HTTP client (node:http, so paths go out byte for byte).
import http from 'node:http'
import net from 'node:net'
import type {
  DeleteOptions,
  GetOptions,
  GetResult,
  KvService,
  PutOptions,
  PutResult,
  ScanOptions,
  ScanPage,
  SiblingValue,
} from '../../../src/cluster/api.ts'
import { DEFAULT_SCAN_LIMIT } from '../../../src/cluster/api.ts'
import { createLogger, type LogLevel } from '../../../src/runtime/logger.ts'
import {
  decodeContext,
  encodeContext,
  liveSiblings,
  updateEnvelope,
  vv,
  type Envelope,
  type Sibling,
} from '../../../src/versioning/index.ts'
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../../../src/http/index.ts'

export interface Call {
  op: 'get' | 'put' | 'delete' | 'scan'
  key?: Buffer
  value?: Buffer
  options?: unknown
}

/**
 * A single-replica KvService over a Map of envelopes, built from src/versioning exactly as a replica
 * would: contexts are encoded version vectors, a write without a context becomes a sibling, a write with
 * one supersedes what it saw, a delete is a tombstone. Time is a counter that moves 1 ms per write.
 */
export class MemoryKv implements KvService {
  readonly data = new Map<string, Envelope>()
  readonly calls: Call[] = []
  now = 1_700_000_000_000
  actor = 'n1#0'
  /** Thrown (or rejected with) by the next service call, then cleared. */
  failNext: unknown = undefined
  /** When set, every call waits for it before answering. */
  gate: Promise<void> | undefined = undefined

  async #enter(call: Call): Promise<void> {
    this.calls.push(call)
    if (this.gate !== undefined) await this.gate
    const failure = this.failNext
    if (failure !== undefined) {
      this.failNext = undefined
      throw failure
    }
  }

  static #id(key: Uint8Array): string {
    return Buffer.from(key).toString('latin1')
  }

  #read(env: Envelope | undefined): { siblings: SiblingValue[]; context: string } {
    const live = env === undefined ? [] : liveSiblings(env, this.now)
    live.sort((a: Sibling, b: Sibling) => b.timestamp - a.timestamp || b.dot.counter - a.dot.counter)
    return {
      siblings: live.map((s) => ({ value: Buffer.from(s.value as Uint8Array), timestamp: s.timestamp, expiresAt: s.expiresAt })),
      context: encodeContext(env?.context ?? vv()),
    }
  }

  async get(key: Uint8Array, options?: GetOptions): Promise<GetResult> {
    await this.#enter({ op: 'get', key: Buffer.from(key), options })
    const { siblings, context } = this.#read(this.data.get(MemoryKv.#id(key)))
    return { found: siblings.length > 0, value: siblings.length === 1 ? siblings[0]!.value : undefined, siblings, context }
  }

  #write(key: Uint8Array, value: Uint8Array | null, options: PutOptions | undefined): Envelope {
    const id = MemoryKv.#id(key)
    const clientContext = options?.context === undefined ? undefined : decodeContext(options.context)
    const timestamp = ++this.now
    const expiresAt = options?.ttlMs === undefined ? 0 : timestamp + options.ttlMs
    const env = updateEnvelope(this.data.get(id), clientContext, this.actor, { value, timestamp, expiresAt })
    this.data.set(id, env)
    return env
  }

  async put(key: Uint8Array, value: Uint8Array, options?: PutOptions): Promise<PutResult> {
    await this.#enter({ op: 'put', key: Buffer.from(key), value: Buffer.from(value), options })
    const env = this.#write(key, Buffer.from(value), options)
    return { context: encodeContext(env.context) }
  }

  async delete(key: Uint8Array, options?: DeleteOptions): Promise<void> {
    await this.#enter({ op: 'delete', key: Buffer.from(key), options })
    this.#write(key, null, options)
  }

  async scan(options: ScanOptions = {}): Promise<ScanPage> {
    await this.#enter({ op: 'scan', options })
    const limit = options.limit ?? DEFAULT_SCAN_LIMIT
    const keys = [...this.data.keys()].map((k) => Buffer.from(k, 'latin1')).sort(Buffer.compare)
    const entries: ScanPage['entries'] = []
    for (const key of keys) {
      if (options.prefix !== undefined && !key.subarray(0, options.prefix.length).equals(options.prefix)) continue
      if (options.start !== undefined && Buffer.compare(key, options.start) < 0) continue
      if (options.end !== undefined && Buffer.compare(key, options.end) >= 0) continue
      if (options.after !== undefined && Buffer.compare(key, options.after) <= 0) continue
      const { siblings, context } = this.#read(this.data.get(MemoryKv.#id(key)))
      if (siblings.length === 0) continue
      if (entries.length === limit) return { entries, next: entries[entries.length - 1]!.key }
      entries.push({ key, value: siblings.length === 1 ? siblings[0]!.value : undefined, siblings, context })
    }
    return { entries, next: undefined }
  }
}

export interface TestServer {
  readonly server: HttpServer
  readonly kv: MemoryKv
  readonly host: string
  readonly port: number
  /** JSON log lines written by the server's logger (level debug). */
  readonly logs: Array<Record<string, unknown>>
  close(): Promise<void>
}

export async function startTestServer(options: Partial<HttpServerOptions> & { logLevel?: LogLevel } = {}): Promise<TestServer> {
  const kv = new MemoryKv()
  const logs: Array<Record<string, unknown>> = []
  const logger = createLogger({ level: options.logLevel ?? 'debug', sink: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) })
  const server = await startHttpServer({
    address: '127.0.0.1:0',
    service: kv,
    info: () => ({ nodeId: 'n1', members: [{ id: 'n1', address: '127.0.0.1:7000', http: '127.0.0.1:8080' }] }),
    logger,
    ...options,
  })
  const colon = server.address.lastIndexOf(':')
  return {
    server,
    kv,
    logs,
    host: server.address.slice(0, colon),
    port: Number(server.address.slice(colon + 1)),
    close: () => server.close(),
  }
}

export interface Response {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  text: string
  /** The body parsed as JSON (throws when it is not). */
  json: () => any // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  headers?: Record<string, string | number>
  body?: string | Uint8Array
}

/** One HTTP request on a fresh connection; the path goes out exactly as given. */
export function request(t: TestServer, method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, method, path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const text = body.toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/**
 * Sends raw bytes on a fresh socket and collects everything until the server closes it (or `waitMs` passes
 * with nothing more; then the socket is destroyed). For malformed requests that node:http will not send.
 */
export function rawRequest(t: TestServer, data: string | Buffer, waitMs = 2000): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(t.port, t.host)
    const chunks: Buffer[] = []
    let timer: NodeJS.Timeout | undefined
    const finish = (closedByServer: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByServer })
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => finish(false), waitMs)
    }
    socket.on('connect', () => {
      socket.write(data)
      arm()
    })
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      arm()
    })
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
  })
}

/** Status line, headers (lower-cased) and JSON body of a raw HTTP/1.1 response. */
export function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n')
  const head = end < 0 ? text : text.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: end < 0 ? '' : text.slice(end + 4) }
}

/** Percent-encodes every byte: how a client sends arbitrary bytes in a path or query. */
export function percentAll(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += '%' + b.toString(16).padStart(2, '0').toUpperCase()
  return out
}
