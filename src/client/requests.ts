// Per-call arguments: checked and turned into the wire requests of src/cluster/messages.ts before any I/O,
// so a bad argument is an ERR_INVALID_ARGUMENT naming it (details.argument), never a half-sent request or
// a node's ERR_BAD_REQUEST. Keys, values and scan bounds may be strings (UTF-8) or bytes; bytes are not
// copied here (the encoder copies them into the frame).
import type { Consistency, GetOptions, PutOptions, WriteOptions } from '../cluster/api.ts'
import { DEFAULT_SCAN_LIMIT, MAX_SCAN_LIMIT } from '../cluster/api.ts'
import type { GetRequest, ScanRequest, WriteRequest } from '../cluster/messages.ts'
import { refuseUnknownOptions } from '../errors.ts'
import { MAX_TIMEOUT_MS, describe, integerIn, invalidArgument } from './options.ts'

/** A key, value or scan bound: bytes, or a string that travels as UTF-8. */
export type Bytes = string | Uint8Array

export interface ScanPageOptions {
  /** First key, inclusive. */
  start?: Bytes
  /** Last key, exclusive. */
  end?: Bytes
  /** Only keys with this prefix (not combinable with start/end). */
  prefix?: Bytes
  /** Resume strictly after this key (the previous page's `next`). */
  after?: Bytes
  /** Entries in this page, default 100, at most 10,000. */
  limit?: number
  timeoutMs?: number
}

export interface ClientScanOptions extends Omit<ScanPageOptions, 'limit'> {
  /** Entries to yield in all, default: every entry in range. */
  limit?: number
  /** Entries per request, default 100 (or `limit` when smaller), at most 10,000. */
  pageSize?: number
}

/** The largest consistency a request can ask for (the wire's one byte holds 4 + n). */
export const MAX_CONSISTENCY = 200

const GET_OPTIONS = new Set(['r', 'pr', 'timeoutMs'])
const PUT_OPTIONS = new Set(['w', 'pw', 'dw', 'ttlMs', 'context', 'timeoutMs'])
const DELETE_OPTIONS = new Set(['w', 'pw', 'dw', 'context', 'timeoutMs'])
const SCAN_PAGE_OPTIONS = new Set(['start', 'end', 'prefix', 'after', 'limit', 'timeoutMs'])
const SCAN_OPTIONS = new Set(['start', 'end', 'prefix', 'after', 'limit', 'pageSize', 'timeoutMs'])
const EMPTY_OPTIONS = Object.freeze({})

export function toBytes(value: unknown, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  throw invalidArgument(name, `must be a string, Buffer or Uint8Array, got ${describe(value)}`)
}

function optionalBytes(value: unknown, name: string): Uint8Array | undefined {
  return value === undefined ? undefined : toBytes(value, name)
}

/**
 * 'one' | 'quorum' | 'all' | an integer 1..200. `zeroIsNone` for pr/pw/dw, whose 0 ("none of them need be
 * primary/durable") is what the node assumes when the field is left out.
 */
export function checkConsistency(value: unknown, name: string, zeroIsNone: boolean): Consistency | undefined {
  if (value === undefined || value === 'one' || value === 'quorum' || value === 'all') return value
  if (typeof value === 'number' && Number.isInteger(value) && value <= MAX_CONSISTENCY) {
    if (value >= 1) return value
    if (value === 0 && zeroIsNone) return undefined
  }
  const range = zeroIsNone ? `0..${MAX_CONSISTENCY}` : `1..${MAX_CONSISTENCY}`
  throw invalidArgument(name, `must be 'one', 'quorum', 'all' or an integer ${range}, got ${describe(value)}`)
}

function optionsObject<T extends object>(options: T | undefined, known: ReadonlySet<string>, name: string): T {
  if (options === undefined) return EMPTY_OPTIONS as T
  if (typeof options !== 'object' || options === null) throw invalidArgument(name, `must be an object, got ${describe(options)}`)
  refuseUnknownOptions(options, known, `${name}.`)
  return options
}

function timeoutOf(value: unknown, fallback: number): number {
  // The client waits a little longer than the coordinator (options.ts replyWaitMs); leave it room.
  return value === undefined ? fallback : integerIn('timeoutMs', value, 1, MAX_TIMEOUT_MS - 1000)
}

export function getRequest(key: unknown, options: GetOptions | undefined, defaultTimeoutMs: number): GetRequest {
  const keyBytes = toBytes(key, 'key')
  const o = optionsObject(options, GET_OPTIONS, 'options')
  return {
    key: keyBytes,
    r: checkConsistency(o.r, 'r', false),
    pr: checkConsistency(o.pr, 'pr', true),
    timeoutMs: timeoutOf(o.timeoutMs, defaultTimeoutMs),
  }
}

function writeRequest(
  key: unknown,
  value: Uint8Array | undefined,
  o: PutOptions,
  defaultTimeoutMs: number,
): WriteRequest {
  if (o.context !== undefined && typeof o.context !== 'string') {
    throw invalidArgument('context', `must be the string a read returned, got ${describe(o.context)}`)
  }
  const ttlMs = o.ttlMs === undefined ? 0 : integerIn('ttlMs', o.ttlMs, 1, Number.MAX_SAFE_INTEGER)
  return {
    key: toBytes(key, 'key'),
    value,
    context: o.context,
    w: checkConsistency(o.w, 'w', false),
    pw: checkConsistency(o.pw, 'pw', true),
    dw: checkConsistency(o.dw, 'dw', true),
    timeoutMs: timeoutOf(o.timeoutMs, defaultTimeoutMs),
    ttlMs,
    hops: 0,
  }
}

export function putRequest(key: unknown, value: unknown, options: PutOptions | undefined, defaultTimeoutMs: number): WriteRequest {
  toBytes(key, 'key') // the key is named first when both are wrong
  const valueBytes = toBytes(value, 'value')
  return writeRequest(key, valueBytes, optionsObject(options, PUT_OPTIONS, 'options'), defaultTimeoutMs)
}

export function deleteRequest(key: unknown, options: WriteOptions | undefined, defaultTimeoutMs: number): WriteRequest {
  return writeRequest(key, undefined, optionsObject(options, DELETE_OPTIONS, 'options'), defaultTimeoutMs)
}

function scanBounds(o: ScanPageOptions | ClientScanOptions, defaultTimeoutMs: number, limit: number): ScanRequest {
  const q: ScanRequest = {
    start: optionalBytes(o.start, 'start'),
    end: optionalBytes(o.end, 'end'),
    prefix: optionalBytes(o.prefix, 'prefix'),
    after: optionalBytes(o.after, 'after'),
    limit,
    timeoutMs: timeoutOf(o.timeoutMs, defaultTimeoutMs),
  }
  if (q.prefix !== undefined && (q.start !== undefined || q.end !== undefined)) {
    throw invalidArgument('prefix', 'cannot be combined with start or end')
  }
  if (q.start !== undefined && q.end !== undefined && Buffer.compare(q.start, q.end) > 0) {
    throw invalidArgument('start', 'must not sort after end')
  }
  return q
}

export function scanPageRequest(options: ScanPageOptions | undefined, defaultTimeoutMs: number): ScanRequest {
  const o = optionsObject(options, SCAN_PAGE_OPTIONS, 'options')
  const limit = o.limit === undefined ? DEFAULT_SCAN_LIMIT : integerIn('limit', o.limit, 1, MAX_SCAN_LIMIT)
  return scanBounds(o, defaultTimeoutMs, limit)
}

/** The first page's request, and how many entries the whole scan may yield (Infinity: all of them). */
export function scanRequest(options: ClientScanOptions | undefined, defaultTimeoutMs: number): { first: ScanRequest; total: number } {
  const o = optionsObject(options, SCAN_OPTIONS, 'options')
  const total = o.limit === undefined ? Infinity : integerIn('limit', o.limit, 1, Number.MAX_SAFE_INTEGER)
  const pageSize = o.pageSize === undefined ? DEFAULT_SCAN_LIMIT : integerIn('pageSize', o.pageSize, 1, MAX_SCAN_LIMIT)
  return { first: scanBounds(o, defaultTimeoutMs, Math.min(pageSize, total)), total }
}
