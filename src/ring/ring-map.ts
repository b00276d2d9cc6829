// The ring map: who owns each partition (DESIGN section 2). It is the unit that gossip spreads, so it is
// immutable, canonical (members sorted by id, so equal rings encode to equal bytes whatever order they were
// built in) and checksummed.
//
// The checksum is SHA-256 over the ring's *content* -- q, n, members with their host and zone, and the owner of
// every partition -- and deliberately not over `version`. Version says which of two rings is newer; the
// checksum says whether two rings are the same, so nodes that gossip it (as ringpop does with every ping) see
// divergence cheaply, and two nodes that derived the same ring agree on its checksum.
//
// Binary encoding (big-endian), version 1:
//   "RKRM"  u8 format=1  u64 version
//   content: u32 q  u8 n  u16 memberCount
//            memberCount x (u8 idLen, id, u8 hostLen, host, u8 zoneLen, zone)  -- UTF-8; length 0 = unset host/zone
//            q x u16 owner (an index into the sorted member list)
//   32 bytes SHA-256(content)
// One byte of length per string is why ids, hosts and zones are limited to 255 UTF-8 bytes; u16 owner indexes
// are why a ring has at most 65535 members (and MAX_PARTITIONS caps the map at 128 KiB of owners).

import crypto from 'node:crypto'
import { RingkvError } from '../errors.ts'
import { assertPartitionCount, assertReplication } from './partitions.ts'

export interface Member {
  /** Unique, stable node id (1..255 UTF-8 bytes). */
  readonly id: string
  /** Physical machine; replicas of a key avoid sharing one when hosts are set. */
  readonly host?: string
  /** Failure zone (rack, availability zone); replicas of a key avoid sharing one when zones are set. */
  readonly zone?: string
}

export interface RingMap {
  /** Increases by one with every change; gossip keeps the highest. */
  readonly version: number
  /** Partition count, a power of two. */
  readonly q: number
  /** Replication factor the ownership was laid out for. */
  readonly n: number
  /** Sorted by id. */
  readonly members: readonly Member[]
  /** owners[p] is the id of the member that owns partition p. */
  readonly owners: readonly string[]
  /** Hex SHA-256 of the content encoding (everything but version). */
  readonly checksum: string
}

export interface RingMapInput {
  readonly version: number
  readonly q: number
  readonly n: number
  readonly members: readonly Member[]
  readonly owners: readonly string[]
}

const MAGIC = [0x52, 0x4b, 0x52, 0x4d] // "RKRM"
const FORMAT = 1
export const MAX_MEMBERS = 65535
export const MAX_NAME_BYTES = 255
const HEADER_BYTES = MAGIC.length + 1 + 8
const CHECKSUM_BYTES = 32

// A lone surrogate would not survive the UTF-8 round trip, so two different ids could encode alike.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

function bad(message: string, details?: Record<string, unknown>): RingkvError {
  return new RingkvError('ERR_BAD_RING', message, details === undefined ? {} : { details })
}

function checkName(value: unknown, what: string, optional: boolean): void {
  if (value === undefined && optional) return
  if (typeof value !== 'string' || value.length === 0) throw bad(`${what} must be a non-empty string`, { field: what })
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > MAX_NAME_BYTES) throw bad(`${what} is ${bytes} UTF-8 bytes; the limit is ${MAX_NAME_BYTES}`, { field: what })
  if (LONE_SURROGATE.test(value)) throw bad(`${what} contains a lone surrogate`, { field: what })
}

/** Validates members and returns copies sorted by id, without undefined host/zone fields. */
export function normalizeMembers(members: readonly Member[]): Member[] {
  if (!Array.isArray(members)) throw bad('members must be an array')
  if (members.length > MAX_MEMBERS) throw bad(`a ring holds at most ${MAX_MEMBERS} members, got ${members.length}`)
  const out: Member[] = []
  const seen = new Set<string>()
  for (let i = 0; i < members.length; i++) {
    const m = members[i] as Member | undefined
    if (typeof m !== 'object' || m === null) throw bad(`members[${i}] must be an object`)
    checkName(m.id, `members[${i}].id`, false)
    checkName(m.host, `members[${i}].host`, true)
    checkName(m.zone, `members[${i}].zone`, true)
    if (seen.has(m.id)) throw bad(`member id ${JSON.stringify(m.id)} appears twice`, { id: m.id })
    seen.add(m.id)
    const copy: { id: string; host?: string; zone?: string } = { id: m.id }
    if (m.host !== undefined) copy.host = m.host
    if (m.zone !== undefined) copy.zone = m.zone
    out.push(Object.freeze(copy))
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return out
}

/** Builds a validated, frozen ring map and computes its checksum. */
export function createRingMap(input: RingMapInput): RingMap {
  const { version, q, n } = input
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw bad(`version must be a non-negative safe integer, got ${String(version)}`, { field: 'version' })
  }
  assertPartitionCount(q)
  assertReplication(n)
  const members = normalizeMembers(input.members)
  if (members.length === 0) throw bad('a ring needs at least one member')
  if (!Array.isArray(input.owners) || input.owners.length !== q) {
    throw bad(`owners must list one member id per partition (${q}), got ${Array.isArray(input.owners) ? input.owners.length : typeof input.owners}`)
  }
  const index = new Map<string, number>()
  members.forEach((m, i) => index.set(m.id, i))
  const ownerIndexes = new Uint16Array(q)
  for (let p = 0; p < q; p++) {
    const id = input.owners[p]
    const i = typeof id === 'string' ? index.get(id) : undefined
    if (i === undefined) throw bad(`partition ${p} is owned by ${JSON.stringify(id)}, which is not a member`, { partition: p })
    ownerIndexes[p] = i
  }
  const content = encodeContent(q, n, members, ownerIndexes)
  return finish(version, q, n, members, [...input.owners], ownerIndexes, content)
}

function finish(
  version: number,
  q: number,
  n: number,
  members: Member[],
  owners: string[],
  ownerIndexes: Uint16Array,
  content: Uint8Array,
): RingMap {
  const checksum = crypto.createHash('sha256').update(content).digest('hex')
  const ring: RingMap = Object.freeze({
    version,
    q,
    n,
    members: Object.freeze(members),
    owners: Object.freeze(owners),
    checksum,
  })
  internals.set(ring, { ownerIndexes, memberIndex: memberIndexOf(members), content })
  return ring
}

function memberIndexOf(members: readonly Member[]): Map<string, number> {
  const index = new Map<string, number>()
  members.forEach((m, i) => index.set(m.id, i))
  return index
}

function encodeContent(q: number, n: number, members: readonly Member[], ownerIndexes: Uint16Array): Uint8Array {
  const names = members.map((m) => [m.id, m.host ?? '', m.zone ?? ''].map((s) => utf8.encode(s)))
  let size = 4 + 1 + 2 + 2 * q
  for (const triple of names) for (const b of triple) size += 1 + b.length
  const out = Buffer.alloc(size)
  let o = out.writeUInt32BE(q, 0)
  o = out.writeUInt8(n, o)
  o = out.writeUInt16BE(members.length, o)
  for (const triple of names) {
    for (const b of triple) {
      o = out.writeUInt8(b.length, o)
      out.set(b, o)
      o += b.length
    }
  }
  for (let p = 0; p < q; p++) o = out.writeUInt16BE(ownerIndexes[p]!, o)
  return out
}

/** The canonical binary form (see the top of this file). */
export function encodeRingMap(ring: RingMap): Uint8Array {
  const { content } = ringInternals(ring)
  const out = Buffer.alloc(HEADER_BYTES + content.length + CHECKSUM_BYTES)
  out.set(MAGIC, 0)
  out.writeUInt8(FORMAT, 4)
  out.writeBigUInt64BE(BigInt(ring.version), 5)
  out.set(content, HEADER_BYTES)
  out.write(ring.checksum, HEADER_BYTES + content.length, 'hex')
  // A plain Uint8Array, not the Buffer: Buffer#slice returns a view, a trap for callers who copy with it.
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/** Parses and validates an encoded ring map; any defect is an ERR_BAD_RING naming it. */
export function decodeRingMap(bytes: Uint8Array): RingMap {
  if (!(bytes instanceof Uint8Array)) throw bad('an encoded ring map must be a Uint8Array')
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < HEADER_BYTES + 7 + CHECKSUM_BYTES) throw bad(`an encoded ring map is at least ${HEADER_BYTES + 7 + CHECKSUM_BYTES} bytes, got ${buf.length}`)
  for (let i = 0; i < MAGIC.length; i++) if (buf[i] !== MAGIC[i]) throw bad('not a ring map (bad magic)')
  const format = buf.readUInt8(4)
  if (format !== FORMAT) throw bad(`ring map format ${format} is not supported (expected ${FORMAT})`, { format })
  const version = buf.readBigUInt64BE(5)
  if (version > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`ring version ${version} is beyond 2^53-1`)
  const content = buf.subarray(HEADER_BYTES, buf.length - CHECKSUM_BYTES)
  const stored = buf.subarray(buf.length - CHECKSUM_BYTES)
  const actual = crypto.createHash('sha256').update(content).digest()
  if (!actual.equals(stored)) throw bad('ring map checksum mismatch (corrupt or truncated)')

  let o = 0
  const need = (k: number, what: string): void => {
    if (o + k > content.length) throw bad(`ring map truncated while reading ${what} at content offset ${o}`, { offset: o })
  }
  need(7, 'the header')
  const q = content.readUInt32BE(0)
  const n = content.readUInt8(4)
  const memberCount = content.readUInt16BE(5)
  o = 7
  assertPartitionCount(q)
  assertReplication(n)
  if (memberCount === 0) throw bad('a ring needs at least one member')
  const members: Member[] = []
  const readName = (what: string): string => {
    need(1, what)
    const len = content.readUInt8(o)
    o += 1
    need(len, what)
    let s: string
    try {
      s = utf8Strict.decode(content.subarray(o, o + len))
    } catch {
      throw bad(`${what} is not valid UTF-8`, { offset: o })
    }
    o += len
    return s
  }
  for (let i = 0; i < memberCount; i++) {
    const id = readName(`member ${i} id`)
    const host = readName(`member ${i} host`)
    const zone = readName(`member ${i} zone`)
    const m: { id: string; host?: string; zone?: string } = { id }
    if (host !== '') m.host = host
    if (zone !== '') m.zone = zone
    members.push(m)
  }
  const sorted = normalizeMembers(members)
  for (let i = 0; i < memberCount; i++) {
    if (sorted[i]!.id !== members[i]!.id) throw bad('ring map members are not sorted by id')
  }
  need(2 * q, 'the owners')
  if (o + 2 * q !== content.length) throw bad(`ring map has ${content.length - o - 2 * q} trailing bytes`)
  const ownerIndexes = new Uint16Array(q)
  const owners: string[] = new Array<string>(q)
  for (let p = 0; p < q; p++) {
    const i = content.readUInt16BE(o)
    o += 2
    const m = sorted[i]
    if (m === undefined) throw bad(`partition ${p} names member index ${i}; there are ${memberCount}`, { partition: p })
    ownerIndexes[p] = i
    owners[p] = m.id
  }
  return finish(Number(version), q, n, sorted, owners, ownerIndexes, Buffer.from(content))
}

interface RingInternals {
  readonly ownerIndexes: Uint16Array
  readonly memberIndex: Map<string, number>
  readonly content: Uint8Array
}

// Derived, per-ring data that the hot paths (preference lists, claim) need; keyed weakly so a ring that is no
// longer referenced takes its caches with it.
const internals = new WeakMap<RingMap, RingInternals>()

/** Owner indexes and the content encoding of a ring; rebuilt (and validated) for rings not made here. */
export function ringInternals(ring: RingMap): RingInternals {
  let found = internals.get(ring)
  if (found === undefined) {
    const rebuilt = createRingMap(ring)
    if (rebuilt.checksum !== ring.checksum) throw bad('ring checksum does not match its content')
    // Owner indexes refer to the sorted member list; a ring listing members in another order would pair
    // them with the wrong members.
    if (rebuilt.members.some((m, i) => ring.members[i]?.id !== m.id)) throw bad('ring members are not sorted by id')
    found = internals.get(rebuilt)!
    internals.set(ring, found)
  }
  return found
}

/** Same content (the checksum covers everything but version). */
export function sameRingContent(a: RingMap, b: RingMap): boolean {
  return a.checksum === b.checksum
}
