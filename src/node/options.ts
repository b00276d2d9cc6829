// A node's configuration: defaults, presets and validation. A bad option fails startNode with a
// RingkvError ERR_INVALID_ARGUMENT that names it, never a silent clamp.
import { RingkvError } from '../errors.ts'
import type { Consistency } from '../cluster/api.ts'
import type { Durability } from '../engine/index.ts'
import type { Clock, Logger, Random } from '../runtime/index.ts'
import type { Transport } from '../net/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { DEFAULT_PARTITIONS, MAX_REPLICATION } from '../ring/partitions.ts'

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
  /** Per request, unless the request says otherwise. */
  requestTimeoutMs?: number
  /** How often membership is refreshed from seeds and known members. */
  membershipIntervalMs?: number
  // Seams (tests and the simulator inject their own).
  clock?: Clock
  random?: Random
  logger?: Logger
  transport?: Transport
  /**
   * The replica store to use instead of the engine in `dataDir`; the node's own files still live in `dataDir`.
   * The caller owns it and the node never closes it, so it can outlive the node: the simulator's disk across a
   * crash and a restart (with the same `dataDir`, hence the same data epoch and actor id).
   */
  store?: ReplicaStore
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
  requestTimeoutMs: number
  membershipIntervalMs: number
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

function checkConsistency(name: string, v: unknown, n: number): Consistency {
  if (v === 'one' || v === 'quorum' || v === 'all') return v
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= n) return v
  throw invalid(`${name} must be between 1 and ${n} or one of one|quorum|all, got ${JSON.stringify(v)}`)
}

export function resolveNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  if (o === null || typeof o !== 'object') throw invalid('node options must be an object')
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
  const storeMethods = ['get', 'update', 'merge', 'scan', 'remove', 'sync'] as const
  if (o.store !== undefined && (o.store === null || typeof o.store !== 'object' || storeMethods.some((m) => typeof o.store?.[m] !== 'function'))) {
    throw invalid(`store must be a ReplicaStore (with ${storeMethods.join(', ')})`)
  }
  const partitions = o.partitions ?? DEFAULT_PARTITIONS
  checkInt('partitions', partitions, 1, 65536)
  if ((partitions & (partitions - 1)) !== 0) throw invalid(`partitions must be a power of two, got ${partitions}`)
  const ks = { ...keyspaceDefaults, ...(o.keyspace ?? {}) }
  checkInt('keyspace.n', ks.n, 1, MAX_REPLICATION)
  checkConsistency('keyspace.r', ks.r, ks.n)
  checkConsistency('keyspace.w', ks.w, ks.n)
  if (typeof ks.lww !== 'boolean') throw invalid(`keyspace.lww must be a boolean, got ${JSON.stringify(ks.lww)}`)
  checkInt('keyspace.warnSiblings', ks.warnSiblings, 1, 100_000)
  checkInt('keyspace.maxSiblings', ks.maxSiblings, ks.warnSiblings, 100_000)
  checkInt('keyspace.maxObjectBytes', ks.maxObjectBytes, 1024, 16 * 1024 * 1024)
  const durability = o.durability ?? 'interval'
  if (!['sync', 'interval', 'none'].includes(durability)) {
    throw invalid(`durability must be 'sync', 'interval' or 'none', got ${JSON.stringify(durability)}`)
  }
  return {
    id: o.id,
    listen,
    http,
    seeds: [...seeds],
    dataDir: o.dataDir,
    partitions,
    keyspace: ks,
    durability,
    requestTimeoutMs: checkInt('requestTimeoutMs', o.requestTimeoutMs ?? 5000, 1, 600_000),
    membershipIntervalMs: checkInt('membershipIntervalMs', o.membershipIntervalMs ?? 1000, 10, 600_000),
  }
}

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
