// Request options of DESIGN section 4: how many replicas a read (R) or write (W) waits for, how many of those
// must be primaries (PR, PW) rather than fallbacks of a sloppy quorum, and how many write acks must be
// durable (DW). Values are numbers or the names `one`, `quorum`, `all`, resolved against the keyspace's N.
//
// Semantics follow Riak's:
//  - r / w: replies (found and not-found both count for reads) / acks needed, 1..N;
//  - pr / pw: how many of those must come from primaries, 0..N, 0 = no constraint; at most r / w;
//  - dw: how many of the W acks must be durable (fsynced), 0..N, 0 = no constraint; at most w.
// pr > r is refused rather than silently raising r: a request that names both gets what it names.
//
// A keyspace carries its own defaults; what a request leaves out falls back to them, then to the built-in
// ones below (R = W = quorum, no primary or durability constraint). Bad values are the caller's input, so
// they fail with ERR_BAD_REQUEST and a message naming the option and its allowed range.
//
// The second half of the file is what the read and write cores share: the replica list of one request
// (primaries and the fallbacks standing in for unreachable ones) and who of it has answered.

import { RingkvError } from '../errors.ts'

export type Consistency = number | 'one' | 'quorum' | 'all'

export interface ReadOptions {
  r?: Consistency
  pr?: Consistency
}

export interface WriteOptions {
  w?: Consistency
  pw?: Consistency
  dw?: Consistency
}

export interface ResolvedReadOptions {
  readonly r: number
  readonly pr: number
}

export interface ResolvedWriteOptions {
  readonly w: number
  readonly pw: number
  readonly dw: number
}

export const DEFAULT_READ_OPTIONS: Readonly<Required<ReadOptions>> = Object.freeze({ r: 'quorum', pr: 0 })
export const DEFAULT_WRITE_OPTIONS: Readonly<Required<WriteOptions>> = Object.freeze({ w: 'quorum', pw: 0, dw: 0 })

const NAMES = 'one|quorum|all'

function badRequest(message: string, details: Record<string, unknown>): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message, { details })
}

function checkN(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${String(n)}`)
}

/**
 * A consistency value as a replica count for replication factor `n`: 'one' = 1, 'quorum' = floor(n/2)+1,
 * 'all' = n, or an integer between `min` and n. `min` is 1 for r and w, 0 for pr, pw and dw (0 = no
 * constraint). `name` is the option's name in the error message.
 */
export function resolveQuorum(value: unknown, n: number, name: string, min: 0 | 1 = 1): number {
  checkN(n)
  if (value === 'one') return 1
  if (value === 'quorum') return Math.floor(n / 2) + 1
  if (value === 'all') return n
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= n) return value
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
  throw badRequest(`${name} must be between ${min} and ${n} or one of ${NAMES}, got ${shown}`, { option: name, value: shown, n })
}

/** The request's value, else the keyspace default (named as such in errors), else the built-in default. */
function option(request: unknown, keyspace: unknown, builtIn: Consistency, n: number, name: string, min: 0 | 1): number {
  if (request !== undefined) return resolveQuorum(request, n, name, min)
  if (keyspace !== undefined) return resolveQuorum(keyspace, n, `${name} (keyspace default)`, min)
  return resolveQuorum(builtIn, n, name, min)
}

function notAbove(small: number, smallName: string, big: number, bigName: string): void {
  if (small > big) {
    throw badRequest(`${smallName} must not exceed ${bigName}: ${smallName}=${small}, ${bigName}=${big}`, {
      option: smallName,
      [smallName]: small,
      [bigName]: big,
    })
  }
}

/** r and pr for one read: the request's values, else the keyspace's, else R = quorum, PR = 0. */
export function resolveReadOptions(request: ReadOptions, n: number, defaults: ReadOptions = {}): ResolvedReadOptions {
  const r = option(request.r, defaults.r, DEFAULT_READ_OPTIONS.r, n, 'r', 1)
  const pr = option(request.pr, defaults.pr, DEFAULT_READ_OPTIONS.pr, n, 'pr', 0)
  notAbove(pr, 'pr', r, 'r')
  return { r, pr }
}

/** w, pw and dw for one write: the request's values, else the keyspace's, else W = quorum, PW = DW = 0. */
export function resolveWriteOptions(request: WriteOptions, n: number, defaults: WriteOptions = {}): ResolvedWriteOptions {
  const w = option(request.w, defaults.w, DEFAULT_WRITE_OPTIONS.w, n, 'w', 1)
  const pw = option(request.pw, defaults.pw, DEFAULT_WRITE_OPTIONS.pw, n, 'pw', 0)
  const dw = option(request.dw, defaults.dw, DEFAULT_WRITE_OPTIONS.dw, n, 'dw', 0)
  notAbove(pw, 'pw', w, 'w')
  notAbove(dw, 'dw', w, 'w')
  return { w, pw, dw }
}

// ---- What both cores share: the replicas a request was sent to, and who of them has answered. ----

/** Where a request stands: 'ok' and 'failed' are final. */
export type CoreStatus = 'pending' | 'ok' | 'failed'

/** One node a request was sent to: a primary of the key, or a fallback standing in for one (sloppy quorum). */
export interface Replica {
  readonly node: string
  readonly primary: boolean
}

/**
 * Checks a core's resolved count (r, w, pr, ...). These come from resolveReadOptions / resolveWriteOptions,
 * so a bad one is the coordinator's bug, hence RangeError rather than ERR_BAD_REQUEST.
 */
export function checkCount(value: number, name: string, min: number, max: number, maxName: string): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer between ${min} and ${maxName} (${max}), got ${String(value)}`)
  }
}

/**
 * The replicas of one request and who has answered. Each replica answers once: its first reply or error
 * counts, later ones are duplicates. A reply from a node that was not asked is the driver's bug (RangeError).
 */
export class ReplicaTally {
  readonly #replicas: readonly Replica[]
  readonly #primary = new Map<string, boolean>()
  readonly #answered = new Set<string>()
  #primariesPending = 0

  constructor(replicas: readonly Replica[]) {
    if (!Array.isArray(replicas)) throw new TypeError('replicas must be an array of { node, primary }')
    for (const replica of replicas) {
      const { node, primary } = (replica ?? {}) as Partial<Replica>
      if (typeof node !== 'string' || node.length === 0) throw new TypeError(`a replica's node must be a non-empty string, got ${String(node)}`)
      if (typeof primary !== 'boolean') throw new TypeError(`replica ${node}: primary must be a boolean, got ${String(primary)}`)
      if (this.#primary.has(node)) throw new RangeError(`replica ${node} is listed twice`)
      this.#primary.set(node, primary)
      if (primary) this.#primariesPending++
    }
    this.#replicas = replicas.map(({ node, primary }) => Object.freeze({ node, primary }))
  }

  /** Records node's answer: whether it is a primary, or 'duplicate' when it has answered before. */
  answer(node: string): 'primary' | 'fallback' | 'duplicate' {
    const primary = this.#primary.get(node)
    if (primary === undefined) throw new RangeError(`${String(node)} is not a replica of this request`)
    if (this.#answered.has(node)) return 'duplicate'
    this.#answered.add(node)
    if (primary) this.#primariesPending--
    return primary ? 'primary' : 'fallback'
  }

  get asked(): number {
    return this.#replicas.length
  }

  get primariesAsked(): number {
    let count = 0
    for (const p of this.#primary.values()) if (p) count++
    return count
  }

  /** Replicas that have not answered yet. */
  get pendingCount(): number {
    return this.#replicas.length - this.#answered.size
  }

  get primariesPending(): number {
    return this.#primariesPending
  }

  /** Unanswered nodes, in the order they were listed. */
  pending(): string[] {
    return this.#replicas.filter((r) => !this.#answered.has(r.node)).map((r) => r.node)
  }

  /** Every node, in the order they were listed. */
  nodes(): string[] {
    return this.#replicas.map((r) => r.node)
  }
}
