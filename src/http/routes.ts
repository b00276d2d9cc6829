// The routes of the HTTP API and what each answers; the API reference is in ./index.ts.
//
// A handler turns a parsed request into a Reply -- status, headers that matter, body -- and never touches the
// socket: server.ts writes replies and errors alike, so every answer goes through one place. Handlers validate
// everything they can (method, key, query, context header) before a request body is read, so a bad request
// is refused without reading its body.
import type { IncomingHttpHeaders } from 'node:http'
import { RingkvError } from '../errors.ts'
import { MAX_SCAN_LIMIT, type GetResult, type KvService, type MemberInfo, type PutOptions, type ScanOptions, type SiblingValue, type WriteOptions } from '../cluster/api.ts'
import { badParameter, badRequest, errorBody } from './errors.ts'
import { consistencyParam, encodingParam, integerParam, keyParam, parseQuery, percentDecode, putBytes, type BytesEncoding, type Query } from './encoding.ts'

export const CONTEXT_HEADER = 'X-Ringkv-Context'
const CONTEXT_HEADER_LOWER = 'x-ringkv-context'
export const JSON_TYPE = 'application/json; charset=utf-8'
export const BYTES_TYPE = 'application/octet-stream'
export const TEXT_TYPE = 'text/plain; charset=utf-8'

/** Largest `timeout` accepted, in ms (an hour: beyond it a client has surely gone). */
export const MAX_TIMEOUT_MS = 3_600_000
/** Largest `ttl` accepted, in ms (about 285,000 years: anything that keeps expiresAt a safe integer). */
export const MAX_TTL_MS = 2 ** 52

/** Summary of the ring for /status; a RingMap may be passed as is (only these fields are shown). */
export interface RingSummary {
  readonly version: number
  readonly checksum: string
  /** Partition count. */
  readonly q: number
  /** Replication factor. */
  readonly n: number
}

export interface NodeInfo {
  readonly nodeId: string
  readonly members: readonly MemberInfo[]
  readonly ring?: RingSummary | undefined
  /** The node's view of the cluster (members, status, phi, ownership), shown as is. */
  readonly cluster?: unknown
}

/** What a handler answers. A string body is JSON; a Buffer body is sent with `contentType` (bytes). */
export interface Reply {
  readonly status: number
  readonly body: string | Uint8Array | undefined
  readonly contentType?: string
  /** The X-Ringkv-Context header. */
  readonly context?: string | undefined
  /** The Allow header (405). */
  readonly allow?: string
  /** The Retry-After header, seconds. */
  readonly retryAfter?: number | undefined
}

export interface RouteEnv {
  readonly service: KvService
  readonly info: () => NodeInfo
  readonly version: string
}

// ---- routing ------------------------------------------------------------------------------------

export type RouteKind = 'key' | 'scan' | 'status' | 'health'

const KEY_PREFIX = '/kv/'
export const KEY_METHODS = 'GET, HEAD, PUT, POST, DELETE'
export const READ_METHODS = 'GET, HEAD'

/** The route of a path (without its query), or undefined for an unknown route. */
export function routeOf(path: string): RouteKind | undefined {
  if (path.startsWith(KEY_PREFIX)) return 'key'
  if (path === '/kv') return 'scan'
  if (path === '/status') return 'status'
  if (path === '/health') return 'health'
  return undefined
}

export function allowedMethods(kind: RouteKind): string {
  return kind === 'key' ? KEY_METHODS : READ_METHODS
}

export function methodAllowed(kind: RouteKind, method: string): boolean {
  if (method === 'GET' || method === 'HEAD') return true
  return kind === 'key' && (method === 'PUT' || method === 'POST' || method === 'DELETE')
}

/** The key of a /kv/{key} path: everything after "/kv/", percent-decoded ('/' included: "/kv/a/b" is key "a/b"). */
export function keyOfPath(path: string): Buffer {
  const key = percentDecode(path, KEY_PREFIX.length, path.length, false, 'the key')
  if (key.length === 0) throw badRequest('the key is empty: use /kv/{key} with a key of at least one byte')
  return key
}

export function unknownRoute(path: string): RingkvError {
  const shown = path.length > 128 ? path.slice(0, 128) + '...' : path
  return new RingkvError('ERR_UNKNOWN_ROUTE', `no route for ${shown}; routes are /kv/{key}, /kv, /status and /health`)
}

// ---- /kv/{key} ----------------------------------------------------------------------------------

const GET_PARAMS = ['r', 'pr', 'timeout', 'encoding'] as const
const PUT_PARAMS = ['w', 'pw', 'dw', 'ttl', 'timeout'] as const
const DELETE_PARAMS = ['w', 'pw', 'dw', 'timeout'] as const

/** The client's X-Ringkv-Context, if any. The header is base64url, so a comma means it was sent twice. */
function contextHeader(headers: IncomingHttpHeaders): string | undefined {
  const value = headers[CONTEXT_HEADER_LOWER]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.includes(',')) {
    throw new RingkvError('ERR_BAD_CONTEXT', `${CONTEXT_HEADER} is given more than once`, { details: { parameter: CONTEXT_HEADER } })
  }
  // Empty or malformed contexts are the service's to refuse (ERR_BAD_CONTEXT): it owns their format.
  return value
}

/** JSON wanted: the Accept header names application/json. */
function wantsJson(headers: IncomingHttpHeaders): boolean {
  const accept = headers.accept
  return accept !== undefined && accept.toLowerCase().includes('application/json')
}

export async function getKey(env: RouteEnv, key: Buffer, rawQuery: string, headers: IncomingHttpHeaders): Promise<Reply> {
  const query = parseQuery(rawQuery, GET_PARAMS)
  const encoding = encodingParam(query, 'base64')
  const r = consistencyParam(query, 'r')
  const pr = consistencyParam(query, 'pr')
  const timeoutMs = integerParam(query, 'timeout', 1, MAX_TIMEOUT_MS)
  const json = wantsJson(headers)
  const options = r === undefined && pr === undefined && timeoutMs === undefined ? undefined : { r, pr, timeoutMs }
  const result = await env.service.get(key, options)
  const siblings = result.siblings
  if (json) return { status: 200, body: getResultJson(result, encoding), context: result.context }
  if (siblings.length === 0) {
    return { status: 404, body: errorBody('ERR_NOT_FOUND', 'key not found'), context: result.context }
  }
  if (siblings.length === 1) {
    return { status: 200, body: (siblings[0] as SiblingValue).value, contentType: BYTES_TYPE, context: result.context }
  }
  return { status: 300, body: getResultJson(result, encoding), context: result.context }
}

function siblingsJson(siblings: readonly SiblingValue[], encoding: BytesEncoding): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = new Array(siblings.length)
  for (let i = 0; i < siblings.length; i++) {
    const s = siblings[i] as SiblingValue
    const o: Record<string, unknown> = {}
    putBytes(o, 'value', 'valueBase64', s.value, encoding)
    o['timestamp'] = s.timestamp
    o['expiresAt'] = s.expiresAt
    out[i] = o
  }
  return out
}

function getResultJson(result: GetResult, encoding: BytesEncoding): string {
  return JSON.stringify({
    found: result.siblings.length > 0,
    encoding,
    siblings: siblingsJson(result.siblings, encoding),
    context: result.context,
  })
}

function writeOptions(query: Query, headers: IncomingHttpHeaders): WriteOptions {
  return {
    w: consistencyParam(query, 'w'),
    pw: consistencyParam(query, 'pw'),
    dw: consistencyParam(query, 'dw'),
    timeoutMs: integerParam(query, 'timeout', 1, MAX_TIMEOUT_MS),
    context: contextHeader(headers),
  }
}

/** Validates a PUT/POST before its body is read. */
export function putOptions(rawQuery: string, headers: IncomingHttpHeaders): PutOptions {
  const query = parseQuery(rawQuery, PUT_PARAMS)
  const options: PutOptions = writeOptions(query, headers)
  options.ttlMs = integerParam(query, 'ttl', 1, MAX_TTL_MS)
  return options
}

/** 204 with the new X-Ringkv-Context. */
export async function putKey(env: RouteEnv, key: Buffer, value: Buffer, options: PutOptions): Promise<Reply> {
  const result = await env.service.put(key, value, options)
  return { status: 204, body: undefined, context: result.context }
}

export async function deleteKey(env: RouteEnv, key: Buffer, rawQuery: string, headers: IncomingHttpHeaders): Promise<Reply> {
  const options = writeOptions(parseQuery(rawQuery, DELETE_PARAMS), headers)
  await env.service.delete(key, options)
  return { status: 204, body: undefined }
}

// ---- /kv (scan) ---------------------------------------------------------------------------------

const SCAN_PARAMS = ['prefix', 'start', 'end', 'after', 'limit', 'timeout', 'encoding'] as const

export async function scan(env: RouteEnv, rawQuery: string): Promise<Reply> {
  const query = parseQuery(rawQuery, SCAN_PARAMS)
  const encoding = encodingParam(query, 'utf8')
  const options: ScanOptions = {
    prefix: keyParam(query, 'prefix', encoding),
    start: keyParam(query, 'start', encoding),
    end: keyParam(query, 'end', encoding),
    after: keyParam(query, 'after', encoding),
    limit: integerParam(query, 'limit', 1, MAX_SCAN_LIMIT),
    timeoutMs: integerParam(query, 'timeout', 1, MAX_TIMEOUT_MS),
  }
  if (options.prefix !== undefined && (options.start !== undefined || options.end !== undefined)) {
    throw badParameter('prefix', "query parameter 'prefix' cannot be combined with 'start' or 'end'")
  }
  const page = await env.service.scan(options)
  const entries: Array<Record<string, unknown>> = new Array(page.entries.length)
  for (let i = 0; i < page.entries.length; i++) {
    const entry = page.entries[i]!
    const o: Record<string, unknown> = {}
    putBytes(o, 'key', 'keyBase64', entry.key, encoding)
    if (entry.siblings.length === 1) putBytes(o, 'value', 'valueBase64', entry.siblings[0]!.value, encoding)
    else o['siblings'] = siblingsJson(entry.siblings, encoding)
    o['context'] = entry.context
    entries[i] = o
  }
  const body: Record<string, unknown> = { encoding, entries }
  if (page.next === undefined) body['next'] = null
  else putBytes(body, 'next', 'nextBase64', page.next, encoding)
  return { status: 200, body: JSON.stringify(body) }
}

// ---- /status, /health ---------------------------------------------------------------------------

export function status(env: RouteEnv, rawQuery: string): Reply {
  parseQuery(rawQuery, [])
  const info = env.info()
  const ring = info.ring
  return {
    status: 200,
    body: JSON.stringify({
      nodeId: info.nodeId,
      version: env.version,
      members: info.members.map((m) => ({ id: m.id, address: m.address, http: m.http ?? null })),
      ring: ring === undefined ? null : { version: ring.version, checksum: ring.checksum, q: ring.q, n: ring.n },
      cluster: info.cluster ?? null,
    }),
  }
}

const OK = Buffer.from('ok\n')

export function health(rawQuery: string): Reply {
  parseQuery(rawQuery, [])
  return { status: 200, body: OK, contentType: TEXT_TYPE }
}
