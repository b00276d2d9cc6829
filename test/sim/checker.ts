// Judges a history (history.ts) against what a Dynamo store with dotted version vectors promises.
//
// The causal order the checker knows: a write that carried the context of a read supersedes every value that
// read returned ("v -> w"); supersession is transitive, because a read's context covers everything its values
// had superseded. A blind delete supersedes whatever its coordinator had seen, which the client cannot know:
// any write invoked before the delete finished may be gone. A blind put supersedes nothing.
//
// Reads during the run:
//  - phantom:   every value returned was written (by a put invoked before the read finished) to that key;
//  - duplicate: no value twice (one write, one dot);
//  - antichain: never a value together with a value that superseded it;
//  - stale:     (when quorums overlap: R + W > N on primaries, no data loss) never a value superseded by a write
//               acknowledged before the read began;
//  - lost:      (when quorums overlap) every acknowledged put is returned by every read that began after it
//               was acknowledged, until something may have superseded it (monotonic reads, R + W > N);
//  - siblings:  (when quorums overlap) at most one sibling per writer session, plus one per write whose outcome
//               the writer did not learn, plus one per blind put: a session's acknowledged write is seen by its
//               next read, which its next write then supersedes -- so only failed, unknown or blind writes can
//               leave a session with more than one live value. This is the "siblings never exceed the
//               concurrent writers" bound, with "concurrent" made exact.
// Final reads (R = all after healing, one per key):
//  - lost:        every acknowledged put that nothing may have superseded is returned, whatever the quorums;
//  - resurrected: nothing superseded by an acknowledged write (a delete included) is returned;
//  - expired:     nothing past its time to live is returned (also checked on every read).
import type { History, Op } from './history.ts'

export interface Violation {
  readonly check: 'phantom' | 'duplicate' | 'antichain' | 'stale' | 'siblings' | 'lost' | 'resurrected' | 'expired' | 'unconverged' | 'scenario'
  readonly message: string
  /** Ops involved, for the report. */
  readonly ops: readonly number[]
}

export interface CheckOptions {
  /**
   * Read and write quorums intersect on replicas that keep their data (R + W > N over primaries, no wiped disk,
   * no sloppy quorum): enables the `stale` and `siblings` checks.
   */
  quorumOverlap: boolean
  /** The largest clock error between two nodes, ms: expiry is judged on the coordinators' clocks. Default 0. */
  maxSkewMs?: number
}

export interface CheckStats {
  reads: number
  writes: number
  ackedWrites: number
  /** Acknowledged puts some later read (a final one, or any when quorums overlap) was required to return. */
  ackedChecked: number
  lost: number
  maxSiblings: number
  /** The largest number of siblings the `siblings` bound allowed a read that reached maxSiblings. */
  siblingBound: number
}

export interface CheckResult {
  /** The first violations of each kind (at most MAX_REPORTED each), in the order found. */
  violations: Violation[]
  /** How many of each kind there were in all. */
  counts: Partial<Record<Violation['check'], number>>
  stats: CheckStats
}

/** Violations kept in detail per kind: a planted bug can produce millions, and a report needs a few. */
export const MAX_REPORTED = 20

/** Collects violations: every one counted, the first MAX_REPORTED of each kind described (lazily). */
class Violations {
  readonly list: Violation[] = []
  readonly counts: Partial<Record<Violation['check'], number>> = {}
  add(check: Violation['check'], message: () => string, ops: readonly number[]): void {
    const n = (this.counts[check] ?? 0) + 1
    this.counts[check] = n
    if (n <= MAX_REPORTED) this.list.push({ check, message: message(), ops })
  }
}

/**
 * The causal order among a history's writes, as far as the clients can know it. Supersession only relates writes
 * of one key, and a write is invoked after every value it supersedes (after the read that returned them), so per
 * key it is a DAG in invocation order: reachability is a bitset per put (m^2/8 bytes for m puts of a key -- a few
 * MB for the longest runs), and the earliest acknowledged superseder one pass of dynamic programming. Nothing here
 * grows with the square of the whole history, so a planted bug that makes siblings explode stays checkable.
 */
class Causality {
  /** Write id -> the writes that superseded it directly (a write carrying a read that returned its value). */
  readonly #successors = new Map<number, Op[]>()
  /** Key -> blind deletes on it. */
  readonly #blindDeletes = new Map<string, Op[]>()
  /** Put id -> its index among its key's puts, and that key's reachability bitsets. */
  readonly #slot = new Map<number, { index: number; reach: Uint32Array[] }>()
  /** Put id -> the acknowledged write, among those that superseded it directly or through others, that completed first. */
  readonly #firstAcked = new Map<number, Op>()
  readonly history: History

  constructor(history: History) {
    this.history = history
    const putsByKey = new Map<string, Op[]>()
    for (const w of history.ops) {
      if (w.kind === 'put') push(putsByKey, w.key, w)
      if (w.kind === 'get') continue
      if (w.contextFrom === undefined) {
        if (w.kind === 'delete') push(this.#blindDeletes, w.key, w)
        continue
      }
      const read = history.ops[w.contextFrom]
      if (read === undefined || read.kind !== 'get' || read.outcome !== 'ok') {
        throw new Error(`write #${w.id} carries the context of #${w.contextFrom}, which is not a successful read`)
      }
      for (const value of read.siblings ?? []) {
        const put = history.putOf(value)
        // A value returned before it was written is a phantom (the read checks report it); an edge from it could
        // close a cycle.
        if (put !== undefined && put.key === w.key && put.invokedAt < w.invokedAt) push(this.#successors, put.id, w)
      }
    }
    for (const puts of putsByKey.values()) {
      // Latest first: every put's successors come before it.
      const order = [...puts].sort((a, b) => b.invokedAt - a.invokedAt)
      const words = Math.ceil(order.length / 32)
      const reach = order.map(() => new Uint32Array(words))
      order.forEach((put, index) => this.#slot.set(put.id, { index, reach }))
      order.forEach((put, index) => {
        const mine = reach[index]!
        let first: Op | undefined
        for (const w of this.#successors.get(put.id) ?? []) {
          if (w.outcome === 'ok' && (first === undefined || w.completedAt! < first.completedAt!)) first = w
          if (w.kind !== 'put') continue
          const s = this.#slot.get(w.id)!
          mine[s.index >>> 5]! |= 1 << (s.index & 31)
          const theirs = reach[s.index]!
          for (let i = 0; i < words; i++) mine[i]! |= theirs[i]!
          const viaThem = this.#firstAcked.get(w.id)
          if (viaThem !== undefined && (first === undefined || viaThem.completedAt! < first.completedAt!)) first = viaThem
        }
        if (first !== undefined) this.#firstAcked.set(put.id, first)
      })
    }
  }

  /** Put `a` was superseded by put `b`, directly or through others. */
  precedes(a: Op, b: Op): boolean {
    const sa = this.#slot.get(a.id)
    const sb = this.#slot.get(b.id)
    if (sa === undefined || sb === undefined || sa.reach !== sb.reach) return false
    return (sa.reach[sa.index]![sb.index >>> 5]! & (1 << (sb.index & 31))) !== 0
  }

  /**
   * From when something may have superseded the put: the earliest invocation of a write carrying it (whatever
   * its outcome), or of a blind delete of its key that did not finish before the put began. Infinity if never.
   */
  supersedableFrom(put: Op): number {
    let t = Infinity
    for (const w of this.#successors.get(put.id) ?? []) t = Math.min(t, w.invokedAt)
    for (const d of this.#blindDeletes.get(put.key) ?? []) {
      if (d.completedAt === undefined || put.invokedAt < d.completedAt) t = Math.min(t, d.invokedAt)
    }
    return t
  }

  /** An acknowledged write, completed before `before`, that superseded the put (directly or through others). */
  supersededByAcked(put: Op, before = Infinity): Op | undefined {
    const first = this.#firstAcked.get(put.id)
    return first !== undefined && first.completedAt! < before ? first : undefined
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  let list = map.get(key)
  if (list === undefined) map.set(key, (list = []))
  list.push(value)
}

/** Sorted numbers; `below(x)` counts those < x, `atMost(x)` those <= x. */
class Sorted {
  readonly #values: number[]
  constructor(values: number[]) {
    this.#values = values.sort((a, b) => a - b)
  }
  below(x: number): number {
    let lo = 0
    let hi = this.#values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#values[mid]! < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  atMost(x: number): number {
    let lo = 0
    let hi = this.#values.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#values[mid]! <= x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** Per key, what the sibling bound counts: puts by invocation, acknowledged puts by completion, blind puts. */
class PutIndex {
  readonly invoked: Sorted
  readonly ackedCompleted: Sorted
  readonly blindInvoked: Sorted
  /** Session -> its first put's invocation. */
  readonly firstBySession: number[]
  constructor(puts: Op[]) {
    this.invoked = new Sorted(puts.map((p) => p.invokedAt))
    this.ackedCompleted = new Sorted(puts.filter((p) => p.outcome === 'ok').map((p) => p.completedAt!))
    this.blindInvoked = new Sorted(puts.filter((p) => p.contextFrom === undefined).map((p) => p.invokedAt))
    const first = new Map<string, number>()
    for (const p of puts) first.set(p.session, Math.min(first.get(p.session) ?? Infinity, p.invokedAt))
    this.firstBySession = [...first.values()]
  }
}

/**
 * Checks a whole history: the run's reads, and the final reads (phase 'final', R = all, after healing), at most
 * one per key; `nowOf` gives the earliest virtual time a read's coordinator can have judged expiry at (its
 * invocation by default: a read that began before a value expired may return it).
 */
export function checkHistory(history: History, options: CheckOptions, nowOf: (op: Op) => number = (op) => op.invokedAt): CheckResult {
  const causality = new Causality(history)
  const violations = new Violations()
  const stats: CheckStats = { reads: 0, writes: 0, ackedWrites: 0, ackedChecked: 0, lost: 0, maxSiblings: 0, siblingBound: 0 }
  const putsByKey = new Map<string, Op[]>()
  const readsByKey = new Map<string, Op[]>()
  const finals = new Set<string>()
  for (const op of history.ops) {
    if (op.kind === 'put') push(putsByKey, op.key, op)
    if (op.kind !== 'get') {
      stats.writes++
      if (op.outcome === 'ok') stats.ackedWrites++
    } else if (op.outcome === 'ok') {
      push(readsByKey, op.key, op)
      if (op.phase === 'final') {
        if (finals.has(op.key)) throw new Error(`two final reads of ${op.key}`)
        finals.add(op.key)
      }
    }
  }
  const indexes = new Map([...putsByKey].map(([key, puts]) => [key, new PutIndex(puts)]))
  const appliedBy = appliedByOf(history)
  for (const reads of readsByKey.values()) for (const read of reads) checkRead(causality, read, indexes.get(read.key), options, violations, stats, nowOf, appliedBy)

  // Lost: an acknowledged put (without a time to live) must be in every read that began after it was
  // acknowledged and finished before anything may have superseded it -- every such read when quorums overlap
  // (monotonic reads), and the final R = all read always.
  let checked = 0
  let lost = 0
  for (const [key, puts] of putsByKey) {
    const reads = (readsByKey.get(key) ?? []).filter((r) => options.quorumOverlap || r.phase === 'final').sort((a, b) => a.invokedAt - b.invokedAt)
    const starts = new Sorted(reads.map((r) => r.invokedAt))
    for (const put of puts) {
      if (put.outcome !== 'ok' || put.ttlMs > 0 || put.phase !== 'run') continue
      const until = causality.supersedableFrom(put)
      let required = false
      let missing: Op | undefined
      for (let i = starts.atMost(put.completedAt!); i < reads.length && reads[i]!.invokedAt < until; i++) {
        const read = reads[i]!
        if (read.completedAt! > until) continue
        required = true
        if (missing === undefined && !read.siblings!.includes(put.value!)) missing = read
      }
      if (required) checked++
      if (missing !== undefined) {
        lost++
        violations.add('lost', () => `acknowledged ${history.describe(put)} is missing from ${history.describe(missing)}`, [put.id, missing.id])
      }
    }
  }
  stats.ackedChecked = checked
  stats.lost = lost
  return { violations: violations.list, counts: violations.counts, stats }
}

/** Checks one successful read; pushes what is wrong. */
/**
 * For each value, the earliest time by which its put had certainly been applied -- its coordinator had stamped
 * it, so its expiry clock had started: the put's acknowledgement, or the end of the first read that returned
 * it. A put the client gave up on may be applied long after it was invoked (a partition held it), so its
 * invocation bounds nothing.
 */
function appliedByOf(history: History): Map<string, number> {
  const out = new Map<string, number>()
  const bound = (value: string, t: number) => {
    const was = out.get(value)
    if (was === undefined || t < was) out.set(value, t)
  }
  for (const op of history.ops) {
    if (op.outcome !== 'ok') continue
    if (op.kind === 'put' && op.value !== undefined) bound(op.value, op.completedAt!)
    if (op.kind === 'get') for (const v of op.siblings ?? []) bound(v, op.completedAt!)
  }
  return out
}

function checkRead(
  causality: Causality,
  read: Op,
  index: PutIndex | undefined,
  options: CheckOptions,
  violations: Violations,
  stats: CheckStats,
  nowOf: (op: Op) => number,
  appliedBy: Map<string, number>,
): void {
  const history = causality.history
  const values = read.siblings ?? []
  stats.reads++
  const seen = new Set<string>()
  const puts: Op[] = []
  for (const v of values) {
    if (seen.has(v)) violations.add('duplicate', () => `${history.describe(read)} returned ${v} twice`, [read.id])
    seen.add(v)
    const put = history.putOf(v)
    if (put === undefined || put.key !== read.key || put.invokedAt > read.completedAt!) {
      violations.add('phantom', () => `${history.describe(read)} returned ${v}, which no put to ${read.key} wrote before`, [read.id])
    } else {
      puts.push(put)
    }
  }
  for (const a of puts) {
    // Expiry runs from the put's own timestamp, taken by its coordinator at some moment before `appliedBy`: a
    // read that began after appliedBy + ttl (plus the clocks' disagreement) must not return it.
    const applied = appliedBy.get(a.value!)
    if (a.ttlMs > 0 && applied !== undefined && nowOf(read) > applied + a.ttlMs + 2 * (options.maxSkewMs ?? 0) + 1) {
      violations.add('expired', () => `${history.describe(read)} returned ${a.value}, expired (ttl ${a.ttlMs} ms)`, [read.id, a.id])
    }
    for (const b of puts) {
      if (a !== b && causality.precedes(a, b)) {
        violations.add('antichain', () => `${history.describe(read)} returned ${a.value} and ${b.value}, which superseded it`, [read.id, a.id, b.id])
      }
    }
    // After healing, nothing superseded by an acknowledged write is ever read again; during the run, when
    // quorums overlap, not once the superseding write was acknowledged before the read began.
    const before = read.phase === 'final' ? Infinity : options.quorumOverlap ? read.invokedAt : -Infinity
    const by = causality.supersededByAcked(a, before)
    if (by !== undefined) {
      const check = read.phase === 'final' ? 'resurrected' : 'stale'
      violations.add(check, () => `${history.describe(read)} returned ${a.value}, superseded by acknowledged ${history.describe(by)}`, [read.id, a.id, by.id])
    }
  }
  let bound = Infinity
  if (options.quorumOverlap && index !== undefined) {
    const end = read.completedAt!
    const sessions = index.firstBySession.filter((t) => t < end).length
    // Writes whose outcome the read cannot rely on: failed, or not answered before the read began.
    const uncertain = index.invoked.below(end) - index.ackedCompleted.atMost(read.invokedAt)
    const blind = index.blindInvoked.below(end)
    bound = sessions + uncertain + blind
    if (values.length > bound) {
      violations.add('siblings', () => `${history.describe(read)} returned ${values.length} siblings; ${sessions} writer sessions, ${uncertain} uncertain and ${blind} blind puts allow ${bound}`, [read.id])
    }
  }
  if (values.length > stats.maxSiblings || (values.length === stats.maxSiblings && bound < stats.siblingBound)) {
    stats.maxSiblings = values.length
    stats.siblingBound = bound === Infinity ? 0 : bound
  }
}

/** Replicas of a partition whose stored data differ, from SimCluster.partitionDigests(). */
export function checkConvergence(digests: Map<number, Map<string, string>>): Violation[] {
  const out: Violation[] = []
  for (const [partition, byNode] of digests) {
    if (new Set(byNode.values()).size > 1) {
      out.push({ check: 'unconverged', message: `partition ${partition}: replicas differ (${[...byNode].map(([n, d]) => `${n}=${d.slice(0, 8)}`).join(' ')})`, ops: [] })
    }
  }
  return out
}
