// The cluster's ring state: the ring map in force and, while a join or decommission moves partitions, the
// pending ring map it moves them to (DESIGN sections 2 and 5).
//
// Why a pending ring and not a switch: the new owners of a partition must hold its data before they answer
// reads for it. While a change is pending, writes go to the replicas of both rings (acknowledged at W in each,
// so nothing acknowledged is missing from either side after the switch), reads keep using the current ring,
// and the gainers stream each partition they gain from every current replica. Then the ring is committed.
//
// The state has its own version, bumped by every proposal, commit and abort, so gossip can order states with
// one number: a node adopts a state with a higher version (equal versions: the higher checksum, so two nodes
// that proposed at once settle on the same one, and the loser sees its proposal was overtaken). Gossip carries
// (version, checksum) in every member's record; a node that sees a newer state fetches it with RING_GET.
//
// Persisted in the data directory (ring.bin: the codec below, which checksums the ring maps it carries), so a
// restarted node knows the ring even when every peer is down.
import crypto from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import { BinaryReader, BinaryWriter } from '../protocol/binary.ts'
import { decodeRingMap, encodeRingMap, type RingMap } from '../ring/index.ts'

export interface RingState {
  /** Bumped by every change of the state; 0 only for "no ring yet". */
  readonly version: number
  /** The ring in force; undefined until the cluster has formed. */
  readonly current: RingMap | undefined
  /** Where a join or decommission is moving partitions to. */
  readonly pending: RingMap | undefined
  /** Hex SHA-256 over the version and both rings' checksums: what gossip compares. */
  readonly checksum: string
}

const FORMAT = 1
const FILE = 'ring.bin'

export function ringState(version: number, current: RingMap | undefined, pending: RingMap | undefined): RingState {
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`ring state version must be a non-negative safe integer, got ${version}`)
  if (pending !== undefined && current === undefined) throw new RingkvError('ERR_BAD_RING', 'a pending ring needs a current ring')
  const h = crypto.createHash('sha256')
  h.update(`${version}/${current?.checksum ?? ''}/${pending?.checksum ?? ''}`)
  return Object.freeze({ version, current, pending, checksum: h.digest('hex') })
}

export const NO_RING: RingState = ringState(0, undefined, undefined)

/** > 0 when `a` should replace `b`. */
export function compareRingStates(a: { version: number; checksum: string }, b: { version: number; checksum: string }): number {
  if (a.version !== b.version) return a.version > b.version ? 1 : -1
  return a.checksum === b.checksum ? 0 : a.checksum > b.checksum ? 1 : -1
}

export function encodeRingState(state: RingState): Buffer {
  const w = new BinaryWriter(64 + 2 * (state.current?.q ?? 0) * 3)
  w.u8(FORMAT).u64(state.version)
  w.optionalBytes(state.current === undefined ? undefined : encodeRingMap(state.current))
  w.optionalBytes(state.pending === undefined ? undefined : encodeRingMap(state.pending))
  return w.finish()
}

/** Validates everything (the ring maps carry their own checksums); a defect is ERR_BAD_RING. */
export function decodeRingState(bytes: Uint8Array): RingState {
  const r = new BinaryReader(bytes, 'ERR_BAD_RING')
  const format = r.u8('format')
  if (format !== FORMAT) throw new RingkvError('ERR_BAD_RING', `ring state format ${format} is not supported (expected ${FORMAT})`)
  const version = r.u64('version')
  const current = r.optionalBytes('current ring')
  const pending = r.optionalBytes('pending ring')
  r.end()
  const cur = current === undefined ? undefined : decodeRingMap(current)
  const pend = pending === undefined ? undefined : decodeRingMap(pending)
  if (cur !== undefined && pend !== undefined && cur.q !== pend.q) {
    throw new RingkvError('ERR_BAD_RING', `the pending ring has q = ${pend.q}, the current one q = ${cur.q}`)
  }
  if (version === 0 && cur !== undefined) throw new RingkvError('ERR_BAD_RING', 'a ring state with a ring cannot have version 0')
  return ringState(version, cur, pend)
}

/** The persisted state, or NO_RING when the directory has none; a damaged file is ERR_CORRUPTION. */
export function loadRingState(dataDir: string | undefined): RingState {
  if (dataDir === undefined) return NO_RING
  const path = join(dataDir, FILE)
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return NO_RING
    throw new RingkvError('ERR_CORRUPTION', `${path} cannot be read: ${(e as Error).message}`)
  }
  try {
    return decodeRingState(bytes)
  } catch (e) {
    throw new RingkvError('ERR_CORRUPTION', `${path} is damaged: ${(e as Error).message}`, { details: { path } })
  }
}

/** Atomic: a crash leaves the old file or the new one, never a torn one. */
export function saveRingState(dataDir: string | undefined, state: RingState): void {
  if (dataDir === undefined) return
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, FILE)
  const tmp = `${path}.tmp`
  writeFileSync(tmp, encodeRingState(state))
  const fd = openSync(tmp, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
