// A node's configuration: defaults, presets and validation. A bad option fails startNode with a
// RingkvError ERR_INVALID_ARGUMENT that names it, never a silent clamp.
import { RingkvError, refuseUnknownOptions } from '../errors.ts'
import type { HintBacking } from '../handoff/index.ts'
import type { Consistency } from '../cluster/api.ts'
import { DURABILITY_MODES, type Durability } from '../engine/index.ts'
import type { Clock, Logger, Random } from '../runtime/index.ts'
import type { Transport } from '../net/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { antiEntropyDefaults } from './anti-entropy/anti-entropy.ts'
import { DEFAULT_PARTITIONS, MAX_REPLICATION } from '../ring/partitions.ts'
import type { Liveness } from './liveness.ts'

export interface KeyspaceOptions {
  /** Replicas per key. */
  n: number
  r: Consistency
  w: Consistency
  /** Last-write-wins: reads resolve siblings by timestamp (can lose writes under clock skew). */
  lww: boolean
  /** Siblings at which a write is logged as a warning, and above which it is refused. */
  warnSiblings: number
  maxSiblings: number
  /** Largest encoded object (all siblings) a write may produce. */
  maxObjectBytes: number
}

/** Hinted handoff (docs/DESIGN.md, "Hinted handoff"). */
export interface HintOptions {
  /** Bytes all pending hints may take (stored bytes plus their index entries); the oldest go beyond it. */
  maxBytes: number
  /** Hints older than this are dropped, leaving their keys to anti-entropy. */
  maxAgeMs: number
  /** Delivery budget of the node: hints per second and bytes per second. */
  deliveryRate: number
  deliveryBytesPerSec: number
  /** How often old hints are dropped and delivery is retried for targets that are up. */
  deliveryIntervalMs: number
}

export const hintDefaults: HintOptions = Object.freeze({
  maxBytes: 256 * 1024 * 1024,
  maxAgeMs: 3 * 60 * 60 * 1000,
  deliveryRate: 2000,
  deliveryBytesPerSec: 8 * 1024 * 1024,
  deliveryIntervalMs: 2000,
})

export interface NodeOptions {
  /** Unique and stable: the node's name in the ring. */
  id: string
  /** Binary protocol address, host:port (port 0 picks a free one). */
  listen: string
  /** HTTP API address, host:port; omit for none. */
  http?: string
  /** Addresses of nodes to learn the membership from (may include this node). */
  seeds?: string[]
  /** Data directory: the engine's files and the node's own (its data epoch, members); omit to keep all in memory. */
  dataDir?: string
  /** Partitions of the hash space, a power of two fixed when the cluster is created. */
  partitions?: number
  keyspace?: Partial<KeyspaceOptions>
  durability?: Durability
  /**
   * Bytes of the engine's row cache (values of keys read from SSTables). Off by default: in the cluster benchmark
   * (100k keys of 1 KiB, uniform and zipfian reads) every read ran faster without it -- a lookup and, on a miss,
   * an admission and an eviction cost more than the hits saved over a page-cached table read. Worth a try when a
   * small set of keys takes most reads and the data is far larger than memory.
   */
  rowCacheBytes?: number
  /**
   * Whether the engine's memtable asks for transparent huge pages (default true). Off for hosts where a huge page
   * fault can stall on memory compaction, or where memory limits are charged a huge page at a time.
   */
  hugePages?: boolean
  /** Per request, unless the request says otherwise. */
  requestTimeoutMs?: number
  /** One gossip round (heartbeat and exchange) per interval; the failure detector's time scale. */
  membershipIntervalMs?: number
  /**
   * Members a brand-new cluster waits for before it forms its first ring: by default the distinct addresses
   * among `seeds` and this node's own. Nodes that find an existing ring join it with `ringkv join` instead.
   */
  bootstrapExpect?: number
  /** Phi above which a member is considered down (DESIGN section 5). Default 8. */
  phiThreshold?: number
  hints?: Partial<HintOptions>
  /** Time between the starts of background anti-entropy rounds (DESIGN section 6); 0 runs none. Default 10 min. */
  antiEntropyIntervalMs?: number
  /**
   * How long every live member must have held a committed ring before this node removes the data of partitions
   * it no longer replicates (partition-cleanup.ts). Default 60 s.
   */
  partitionCleanupGraceMs?: number
  /** Between sweeps for such data; 0 sweeps only after a ring change. Default 60 s. */
  partitionCleanupIntervalMs?: number
  /** How long a tombstone or expired value stays before garbage collection may remove it. Default 10 days. */
  tombstoneGraceMs?: number
  /** Anti-entropy's pace, so foreground latency holds: partitions compared per second. Default 100. */
  antiEntropyMaxPartitionsPerSecond?: number
  /** Anti-entropy's pace: message bytes sent and received per second. Default 16 MiB. */
  antiEntropyMaxBytesPerSecond?: number
  // Seams (tests and the simulator inject their own).
  clock?: Clock
  random?: Random
  logger?: Logger
  transport?: Transport
  /** Which members are up. Default: the membership's own failure detector. */
  liveness?: Liveness
  /**
   * The replica store to use instead of the engine in `dataDir`; the node's own files still live in `dataDir`.
   * The caller owns it and the node never closes it, so it can outlive the node: the simulator's disk across a
   * crash and a restart (with the same `dataDir`, hence the same data epoch and actor id).
   */
  store?: ReplicaStore
  /**
   * Where hints live instead of `<dataDir>/hints` (the simulator's disk). The node opens its hint store on it
   * and closes it on close: give a backing whose close keeps the data (MemoryHintBacking) to outlive the node.
   */
  hintBacking?: HintBacking
}

export const keyspaceDefaults: KeyspaceOptions = Object.freeze({
  n: 3,
  r: 'quorum',
  w: 'quorum',
  lww: false,
  warnSiblings: 25,
  maxSiblings: 100,
  // Half the engine's largest value, so two concurrent maximal writes can still be merged and stored.
  maxObjectBytes: 8 * 1024 * 1024,
})

export interface ResolvedNodeOptions {
  id: string
  listen: string
  http: string | undefined
  seeds: string[]
  dataDir: string | undefined
  partitions: number
  keyspace: KeyspaceOptions
  durability: Durability
  rowCacheBytes: number
  hugePages: boolean
  requestTimeoutMs: number
  membershipIntervalMs: number
  bootstrapExpect: number
  phiThreshold: number
  hints: HintOptions
  antiEntropyIntervalMs: number
  partitionCleanupGraceMs: number
  partitionCleanupIntervalMs: number
  tombstoneGraceMs: number
  antiEntropyMaxPartitionsPerSecond: number
  antiEntropyMaxBytesPerSecond: number
}

function invalid(message: string): RingkvError {
  return new RingkvError('ERR_INVALID_ARGUMENT', message)
}

const ADDRESS = /^[^\s:]+:\d{1,5}$/

function checkAddress(name: string, v: unknown): string {
  if (typeof v !== 'string' || !ADDRESS.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) > 65535) {
    throw invalid(`${name} must be host:port, got ${JSON.stringify(v)}`)
  }
  return v
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`)
  }
  return v
}

function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalid(`${name} must be true or false, got ${JSON.stringify(v)}`)
  return v
}

function checkConsistency(name: string, v: unknown, n: number): Consistency {
  if (v === 'one' || v === 'quorum' || v === 'all') return v
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= n) return v
  throw invalid(`${name} must be between 1 and ${n} or one of one|quorum|all, got ${JSON.stringify(v)}`)
}

function checkPhi(v: unknown): number {
  if (v === undefined) return 8
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 100) throw invalid(`phiThreshold must be a number in (0, 100], got ${JSON.stringify(v)}`)
  return v
}

/** Every NodeOptions name; a Record so that the compiler insists a new option is added here too. */
const NODE_OPTION_NAMES: Readonly<Record<keyof NodeOptions, true>> = {
  id: true, listen: true, http: true, seeds: true, dataDir: true, partitions: true, keyspace: true, durability: true,
  rowCacheBytes: true, hugePages: true, requestTimeoutMs: true, membershipIntervalMs: true, bootstrapExpect: true,
  phiThreshold: true, hints: true, antiEntropyIntervalMs: true, partitionCleanupGraceMs: true,
  partitionCleanupIntervalMs: true, tombstoneGraceMs: true, antiEntropyMaxPartitionsPerSecond: true,
  antiEntropyMaxBytesPerSecond: true, clock: true, random: true, logger: true, transport: true, liveness: true,
  store: true, hintBacking: true,
}

/** The entries of `given` that are not undefined: an option given as undefined takes its default. */
function definedOf<T extends object>(given: T | undefined): Partial<T> {
  return given === undefined ? {} : (Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<T>)
}

export function resolveNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  if (o === null || typeof o !== 'object') throw invalid('node options must be an object')
  refuseUnknownOptions(o, new Set(Object.keys(NODE_OPTION_NAMES)), '')
  if (typeof o.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.id)) {
    throw invalid(`id must be 1-64 characters of letters, digits, '.', '_' or '-', got ${JSON.stringify(o.id)}`)
  }
  const listen = checkAddress('listen', o.listen)
  const http = o.http === undefined ? undefined : checkAddress('http', o.http)
  const seeds = o.seeds ?? []
  if (!Array.isArray(seeds)) throw invalid('seeds must be an array of host:port')
  seeds.forEach((s, i) => checkAddress(`seeds[${i}]`, s))
  if (o.dataDir !== undefined && (typeof o.dataDir !== 'string' || o.dataDir === '')) {
    throw invalid('dataDir must be a non-empty string')
  }
  const storeMethods = ['get', 'update', 'merge', 'scan', 'remove', 'sync', 'merkle', 'merkleEntries'] as const
  if (o.store !== undefined && (o.store === null || typeof o.store !== 'object' || storeMethods.some((m) => typeof o.store?.[m] !== 'function'))) {
    throw invalid(`store must be a ReplicaStore (with ${storeMethods.join(', ')})`)
  }
  const partitions = o.partitions ?? DEFAULT_PARTITIONS
  checkInt('partitions', partitions, 1, 65536)
  if ((partitions & (partitions - 1)) !== 0) throw invalid(`partitions must be a power of two, got ${partitions}`)
  if (o.keyspace !== undefined && (o.keyspace === null || typeof o.keyspace !== 'object')) throw invalid('keyspace must be an object')
  refuseUnknownOptions(o.keyspace ?? {}, new Set(Object.keys(keyspaceDefaults)), 'keyspace.')
  const ks = { ...keyspaceDefaults, ...definedOf(o.keyspace) }
  checkInt('keyspace.n', ks.n, 1, MAX_REPLICATION)
  checkConsistency('keyspace.r', ks.r, ks.n)
  checkConsistency('keyspace.w', ks.w, ks.n)
  if (typeof ks.lww !== 'boolean') throw invalid(`keyspace.lww must be a boolean, got ${JSON.stringify(ks.lww)}`)
  checkInt('keyspace.warnSiblings', ks.warnSiblings, 1, 100_000)
  checkInt('keyspace.maxSiblings', ks.maxSiblings, ks.warnSiblings, 100_000)
  checkInt('keyspace.maxObjectBytes', ks.maxObjectBytes, 1024, 16 * 1024 * 1024)
  const durability = o.durability ?? 'interval'
  if (!(DURABILITY_MODES as readonly string[]).includes(durability)) {
    throw invalid(`durability must be 'sync', 'interval' or 'none', got ${JSON.stringify(durability)}`)
  }
  if (o.hints !== undefined && (o.hints === null || typeof o.hints !== 'object')) throw invalid('hints must be an object')
  refuseUnknownOptions(o.hints ?? {}, new Set(Object.keys(hintDefaults)), 'hints.')
  const hints = { ...hintDefaults, ...definedOf(o.hints) }
  checkInt('hints.maxBytes', hints.maxBytes, 64 * 1024, 2 ** 40)
  checkInt('hints.maxAgeMs', hints.maxAgeMs, 1000, 30 * 24 * 60 * 60 * 1000)
  checkInt('hints.deliveryRate', hints.deliveryRate, 1, 1_000_000)
  checkInt('hints.deliveryBytesPerSec', hints.deliveryBytesPerSec, 1024, 2 ** 40)
  checkInt('hints.deliveryIntervalMs', hints.deliveryIntervalMs, 10, 600_000)
  return {
    id: o.id,
    listen,
    http,
    seeds: [...seeds],
    dataDir: o.dataDir,
    partitions,
    keyspace: ks,
    durability,
    rowCacheBytes: checkInt('rowCacheBytes', o.rowCacheBytes ?? 0, 0, 2 ** 40),
    hugePages: checkBoolean('hugePages', o.hugePages ?? true),
    requestTimeoutMs: checkInt('requestTimeoutMs', o.requestTimeoutMs ?? 5000, 1, 600_000),
    membershipIntervalMs: checkInt('membershipIntervalMs', o.membershipIntervalMs ?? 1000, 10, 600_000),
    bootstrapExpect: checkInt('bootstrapExpect', o.bootstrapExpect ?? new Set([...seeds, listen]).size, 1, 65535),
    phiThreshold: checkPhi(o.phiThreshold),
    hints,
    antiEntropyIntervalMs: checkInt('antiEntropyIntervalMs', o.antiEntropyIntervalMs ?? antiEntropyDefaults.intervalMs, 0, 7 * DAY_MS),
    partitionCleanupGraceMs: checkInt('partitionCleanupGraceMs', o.partitionCleanupGraceMs ?? 60_000, 0, 7 * DAY_MS),
    partitionCleanupIntervalMs: checkInt('partitionCleanupIntervalMs', o.partitionCleanupIntervalMs ?? 60_000, 0, 7 * DAY_MS),
    tombstoneGraceMs: checkInt('tombstoneGraceMs', o.tombstoneGraceMs ?? antiEntropyDefaults.tombstoneGraceMs, 0, 10 * 365 * DAY_MS),
    antiEntropyMaxPartitionsPerSecond: checkInt(
      'antiEntropyMaxPartitionsPerSecond',
      o.antiEntropyMaxPartitionsPerSecond ?? antiEntropyDefaults.maxPartitionsPerSecond,
      1,
      1_000_000,
    ),
    antiEntropyMaxBytesPerSecond: checkInt('antiEntropyMaxBytesPerSecond', o.antiEntropyMaxBytesPerSecond ?? antiEntropyDefaults.maxBytesPerSecond, 1024, 2 ** 40),
  }
}

const DAY_MS = 24 * 3600_000

/** Options for a node of a cluster on this machine (127.0.0.1), as `ringkv cluster` starts them. */
export function localNodeDefaults(index: number, total: number, dataRoot: string): NodeOptions {
  const seeds = Array.from({ length: total }, (_, i) => `127.0.0.1:${7001 + i}`)
  return {
    id: `n${index + 1}`,
    listen: `127.0.0.1:${7001 + index}`,
    http: `127.0.0.1:${8001 + index}`,
    seeds,
    dataDir: `${dataRoot}/n${index + 1}`,
  }
}
