// The HTTP API's text encodings: keys in paths, query parameters, and bytes inside JSON.
//
// Path keys and query values are percent-decoded to *bytes* (RFC 3986): %XX is any byte, other characters
// stand for themselves (Node's parser admits only ASCII in a request target, so every byte a client means
// beyond that arrives as %XX). A '%' not followed by two hex digits is a 400 naming where it is. In query
// values '+' is a space (HTML form encoding, what URLSearchParams and most client libraries produce); a
// literal '+' is %2B. In the path '+' is itself.
//
// Bytes inside JSON (scan entries, siblings, `next`) follow the request's `encoding`:
//   utf8    a field is a JSON string of the bytes' UTF-8 text when they are valid UTF-8; when they are not,
//           the field is left out and `<field>Base64` carries standard base64 instead ("key" -> "keyBase64").
//   base64  every field is standard base64 (RFC 4648 section 4, padded), always under its own name.
// Every JSON body that carries bytes also names its `encoding`, so a reader never has to guess.
// Keys given in a query (prefix, start, end, after) are read the same way: with encoding=base64 they are base64
// (standard or url-safe alphabet, padding optional; an unescaped '+' that arrives as a space is taken as '+').
import { isUtf8 } from 'node:buffer'
import { badParameter, badRequest } from './errors.ts'
import type { Consistency } from '../cluster/api.ts'

export type BytesEncoding = 'utf8' | 'base64'

const EMPTY = Buffer.alloc(0)

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

/**
 * Percent-decodes `text[start, end)` to bytes. `what` names the input in error messages ("the key", "query
 * parameter 'prefix'"); `parameter` (when given) goes to the error's details.
 *
 * The result is a new Buffer (pooled when small) the caller may keep.
 */
export function percentDecode(text: string, start: number, end: number, plusIsSpace: boolean, what: string, parameter?: string): Buffer {
  if (start >= end) return EMPTY
  const out = Buffer.allocUnsafe(end - start)
  let n = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x25) {
      const hi = i + 2 < end ? hexValue(text.charCodeAt(i + 1)) : -1
      const lo = hi < 0 ? -1 : hexValue(text.charCodeAt(i + 2))
      if (lo < 0) {
        const msg = `${what} has a malformed percent-encoding at character ${i - start} ('%' must be followed by two hex digits)`
        throw parameter === undefined ? badRequest(msg) : badParameter(parameter, msg)
      }
      out[n++] = (hi << 4) | lo
      i += 2
    } else if (c >= 0x80) {
      // Node's strict parser refuses these before we see them; an insecure parser would let them through.
      const msg = `${what} has a non-ASCII character at character ${i - start}; percent-encode its UTF-8 bytes`
      throw parameter === undefined ? badRequest(msg) : badParameter(parameter, msg)
    } else {
      out[n++] = c === 0x2b && plusIsSpace ? 0x20 : c
    }
  }
  return n === out.length ? out : out.subarray(0, n)
}

// ---- query strings ------------------------------------------------------------------------------

/** Raw (still percent-encoded) values of a query string's parameters, by decoded name. */
export type Query = ReadonlyMap<string, string>
const NO_QUERY: Query = new Map()

/**
 * Splits `query` (the part after '?') into raw values, refusing parameters outside `allowed` and parameters
 * given twice, each with a 400 that names the parameter. Empty segments ("a=1&&b=2", a trailing '&') are skipped.
 */
export function parseQuery(query: string, allowed: readonly string[]): Query {
  if (query.length === 0) return NO_QUERY
  const out = new Map<string, string>()
  let at = 0
  while (at <= query.length) {
    let amp = query.indexOf('&', at)
    if (amp < 0) amp = query.length
    if (amp > at) {
      let eq = query.indexOf('=', at)
      if (eq < 0 || eq > amp) eq = amp
      const rawName = query.slice(at, eq)
      const name = rawName.includes('%') || rawName.includes('+') ? percentDecode(rawName, 0, rawName.length, true, 'a query parameter name').toString('latin1') : rawName
      if (!allowed.includes(name)) {
        const shown = JSON.stringify(name.length > 64 ? name.slice(0, 64) + '...' : name)
        const accepted = allowed.length === 0 ? 'this route takes no query parameters' : `this route accepts ${allowed.join(', ')}`
        throw badParameter(name, `unknown query parameter ${shown}; ${accepted}`)
      }
      if (out.has(name)) throw badParameter(name, `query parameter '${name}' is given more than once`)
      out.set(name, eq < amp ? query.slice(eq + 1, amp) : '')
    }
    at = amp + 1
  }
  return out
}

/** A raw value for messages: short, still percent-encoded, so it is safe to echo. */
function shown(raw: string): string {
  return JSON.stringify(raw.length > 64 ? raw.slice(0, 64) + '...' : raw)
}

function required(query: Query, name: string): string | undefined {
  const raw = query.get(name)
  if (raw === undefined) return undefined
  if (raw.length === 0) throw badParameter(name, `query parameter '${name}' needs a value`)
  return raw
}

/** Decoded text of an ASCII-valued parameter (numbers, names). */
function asciiValue(query: Query, name: string): string | undefined {
  const raw = required(query, name)
  if (raw === undefined) return undefined
  return raw.includes('%') || raw.includes('+') ? percentDecode(raw, 0, raw.length, true, `query parameter '${name}'`, name).toString('latin1') : raw
}

const DIGITS = /^[0-9]{1,16}$/

/** An integer parameter in [min, max]. Only plain decimal digits: no sign, exponent, fraction or spaces. */
export function integerParam(query: Query, name: string, min: number, max: number): number | undefined {
  const text = asciiValue(query, name)
  if (text === undefined) return undefined
  const n = DIGITS.test(text) ? Number(text) : NaN
  if (!(n >= min && n <= max)) {
    throw badParameter(name, `query parameter '${name}' must be an integer between ${min} and ${max}, got ${shown(query.get(name) ?? '')}`)
  }
  return n
}

/** Largest consistency number accepted (the binary protocol's limit). */
export const MAX_CONSISTENCY = 200

/** r, pr, w, pw, dw: one, quorum, all, or a number of replicas 1..200. */
export function consistencyParam(query: Query, name: string): Consistency | undefined {
  const text = asciiValue(query, name)
  if (text === undefined) return undefined
  if (text === 'one' || text === 'quorum' || text === 'all') return text
  const n = DIGITS.test(text) ? Number(text) : NaN
  if (n >= 1 && n <= MAX_CONSISTENCY) return n
  throw badParameter(name, `query parameter '${name}' must be one, quorum, all or an integer between 1 and ${MAX_CONSISTENCY}, got ${shown(query.get(name) ?? '')}`)
}

export function encodingParam(query: Query, fallback: BytesEncoding): BytesEncoding {
  const text = asciiValue(query, 'encoding')
  if (text === undefined) return fallback
  if (text === 'utf8' || text === 'base64') return text
  throw badParameter('encoding', `query parameter 'encoding' must be utf8 or base64, got ${shown(query.get('encoding') ?? '')}`)
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

/** A key given in the query: percent-decoded bytes, then base64-decoded when `encoding` is base64. */
export function keyParam(query: Query, name: string, encoding: BytesEncoding): Buffer | undefined {
  const raw = query.get(name)
  if (raw === undefined) return undefined
  const bytes = percentDecode(raw, 0, raw.length, true, `query parameter '${name}'`, name)
  if (encoding === 'utf8') return bytes
  const text = bytes.toString('latin1').replaceAll(' ', '+')
  const body = text.replace(/=+$/, '')
  if (!BASE64.test(text) || body.length % 4 === 1) {
    throw badParameter(name, `query parameter '${name}' is not valid base64 (encoding=base64), got ${shown(raw)}`)
  }
  return Buffer.from(body.replaceAll('+', '-').replaceAll('/', '_'), 'base64url')
}

// ---- bytes in JSON ------------------------------------------------------------------------------

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * Sets `target[field]` to `bytes` as the encoding says: base64, or UTF-8 text when valid (else
 * `target[field + 'Base64']` in base64). `base64Field` is that alternative name, passed in so it is not
 * concatenated per call.
 */
export function putBytes(target: Record<string, unknown>, field: string, base64Field: string, bytes: Uint8Array, encoding: BytesEncoding): void {
  const b = asBuffer(bytes)
  if (encoding === 'base64') target[field] = b.toString('base64')
  else if (isUtf8(b)) target[field] = b.toString('utf8')
  else target[base64Field] = b.toString('base64')
}
