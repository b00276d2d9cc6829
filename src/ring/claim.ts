// Claim: who owns which partition after the membership changes (DESIGN section 2). A pure function of the
// previous ring, the new member list and (q, n); the membership layer decides when to call it and gossips the
// result. Randomness (tie-breaks) comes from a generator seeded by the inputs: same inputs, same ring.
//
// What it guarantees, in priority order:
//  (a) balance: every member owns floor(Q/S) or ceil(Q/S) partitions -- always;
//  (b) placement: any N consecutive partitions belong to N distinct nodes, hosts and zones, as far as each
//      level allows (violations.ts) -- wherever the local searches below can reach it; the rest is reported;
//  (c) movement: the partitions that must move do (those of departed members, and the surplus of members
//      above their new share, which goes only to members below theirs); anything more is spent on (b) and
//      counted in `extraMoves`.
//
// How:
//  1. Keep every partition whose owner is still a member; the rest are holes.
//  2. Targets: ceil(Q/S) for the Q mod S members that already own the most, floor(Q/S) for the others -- the
//     choice that leaves the least surplus to move.
//  3. Fill holes, most constrained first, each with the member below target that conflicts least with the
//     partition's neighbours, then the one furthest below target, then at random: a fresh ring comes out as
//     shuffled rounds of all members, so every member has varied neighbours and a departed member's
//     partitions can later be spread over the others without conflict.
//  4. Steal: walk the ring once; members above target offer partitions at an even pace (every c/surplus-th
//     one they own) and the most overdue member below target that fits without conflict takes it; two more
//     passes mop up. A join thus moves exactly its share, evenly spaced, and only to the joiner.
//  5. Repair what is left, cheapest first: swaps among partitions that move anyway (free), re-arranging a
//     short segment around a conflict with its own owners (fewest moves first), swaps that cost moves.
//     Swaps and re-arrangements keep balance by construction.
//  6. A ring that comes out of step 4 badly tangled (joining into S = N + 1 after the ring grew one node at a
//     time) is also rebuilt in one sweep that keeps previous owners where they fit; the better of the two wins.
//
// Scoring: owners of partitions d apart that share a level cost (w - d) x the level's weight, where w =
// min(N, classes at that level) -- the number of windows in which that pair is a duplicate. Weights are digits
// in base 2^8 so that one score orders node > host > zone conflicts and each level can be read back out: one
// partition's score is at most N(N-1) = 42 per level (N <= 7), a swap compares sums of two, < 256.
//
// Which levels may cost extra moves ("enforced"):
//  - nodes only when S > N. The preference-list walk skips repeated owners, so with S <= N every list holds
//    every node whatever the layout; placement there changes nothing but replica order.
//  - hosts / zones when satisfiable: no class owns more than ceil(Q / w) partitions. Otherwise (two zones of
//    very different size) the level still steers every choice but never costs moves, so a ring does not churn
//    chasing what cannot be had.
//
// Measured (no hosts; the property tests assert what is stated as exact):
//  - adding a node to S = 1..22 nodes (N <= 4, Q = 256 or 4096) moves exactly floor or ceil of Q/(S+1)
//    partitions, all to the new node, with no placement violation; at S = N -> N + 1 for N >= 5, a few extra;
//  - removing a node moves only its partitions, except into S - 1 <= 2(N - 1) (with S - 1 > N): there every
//    vacated partition's 2(N - 1) neighbours already hold every remaining node, so none can be refilled in
//    place. Q = 4096: N = 3, 5 -> 4 costs about 15% of Q extra; N = 4, into 5 about 44%, into 6 about 6%.
//    With few partitions per node (Q <= 256) a removal elsewhere occasionally costs one or two;
//  - a ring grown one node at a time pays once, at S = N -> N + 1 (Q = 4096: +682 for N = 3, +1246 for N = 4);
//  - CPU: a fresh claim of S = 64, Q = 4096 takes 5-20 ms, a join or leave 2-4 ms; the rigid cases above up
//    to ~250 ms, bounded by the work budgets below.

import crypto from 'node:crypto'
import { RingkvError } from '../errors.ts'
import { assertPartitionCount, assertReplication } from './partitions.ts'
import { createRingMap, normalizeMembers, ringInternals, type Member, type RingMap } from './ring-map.ts'
import { failureDomains, ringViolations, type Violation } from './violations.ts'

export interface ClaimOptions {
  /** Partition count; must equal the previous ring's. */
  readonly q: number
  /** Replication factor the placement rule is laid out for. */
  readonly n: number
}

export interface ClaimResult {
  readonly ring: RingMap
  /** Partitions whose owner changed (all of them for a fresh ring). */
  readonly moved: number
  /** The fewest moves any balanced claim could make from the previous ring. */
  readonly minimumMoves: number
  /** moved - minimumMoves: moves spent to restore placement (b). */
  readonly extraMoves: number
  /** Windows that still break placement (b); see violations.ts. */
  readonly violations: readonly Violation[]
}

const W_ZONE = 1
const W_HOST = 1 << 8
const W_NODE = 1 << 16
const NONE = -1
// Repair passes stop early when a pass improves nothing; the cap only bounds pathological inputs.
const MAX_REPAIR_PASSES = 64
// Segment re-arrangement tries segments up to this many partitions, visiting at most this many search nodes
// per segment: enough to untangle the rigid layouts of S = N + 1 (where a conflict needs ~10 partitions to
// change together), small enough that a hopeless segment costs well under a millisecond.
const MAX_SEGMENT = 16
const MAX_SEGMENT_VISITS = 20_000
// The repair stages share a budget of work units (a scored placement, a candidate or a search node; 30-100
// ns each), cumulative over the stages, so a rigid case stops after a few hundred ms of CPU and reports what
// it could not fix. Segments get the most: per unit of work they fix the most conflicts.
const WORK_FREE_SWAPS = 500_000
const WORK_SEGMENTS = 4_000_000
const WORK_PAID_SWAPS = 6_000_000
const WORK_TOTAL = 7_000_000

export function claim(previous: RingMap | undefined, members: readonly Member[], options: ClaimOptions): ClaimResult {
  const { q, n } = options
  assertPartitionCount(q, 'options.q')
  assertReplication(n, 'options.n')
  const sorted = normalizeMembers(members)
  if (sorted.length === 0) throw new RingkvError('ERR_BAD_RING', 'claim needs at least one member')
  if (previous !== undefined && previous.q !== q) {
    throw new RingkvError('ERR_BAD_RING', `the previous ring has q = ${previous.q} but options.q = ${q}; Q is fixed when a cluster is created`, {
      details: { previousQ: previous.q, q },
    })
  }
  const state = new ClaimState(previous, sorted, q, n)
  state.fillHoles()
  state.steal()
  const conflicts = state.conflicts()
  if (conflicts === 0) return state.result()
  if (conflicts <= heavyConflicts(q)) {
    state.repairAll(1)
    return state.result()
  }
  // A tangled ring (typically joining into S = N + 1 from a layout that was unconstrained at S <= N). Local
  // repair untangles it with the fewest moves when it can, but may run out of budget; a one-sweep rebuild
  // always gets there with more moves. Try both and keep the better.
  const afterSteal = state.owners.slice()
  state.rebuild()
  state.repairAll(0.25)
  const rebuilt = { owners: state.owners.slice(), conflicts: state.conflicts(), moved: state.movedCount() }
  state.setOwners(afterSteal)
  state.repairAll(1)
  const local = { conflicts: state.conflicts(), moved: state.movedCount() }
  if (rebuilt.conflicts < local.conflicts || (rebuilt.conflicts === local.conflicts && rebuilt.moved < local.moved)) {
    state.setOwners(rebuilt.owners)
  }
  return state.result()
}

class ClaimState {
  readonly q: number
  readonly n: number
  readonly s: number
  readonly members: Member[]
  readonly previous: RingMap | undefined
  /** Current assignment by member index; NONE for a hole. */
  readonly owners: Int32Array
  /** Previous owner by (new) member index; NONE where there was none or it left. */
  readonly prev: Int32Array
  readonly host: Int32Array | undefined
  readonly zone: Int32Array | undefined
  readonly count: Int32Array
  readonly target: Int32Array
  /** Per level, how many consecutive partitions must differ: min(N, classes at that level). */
  readonly nodeWindow: number
  readonly hostWindow: number
  readonly zoneWindow: number
  /** The widest of the windows: how far costAt looks. */
  readonly reach: number
  /** Score digits that may cost extra moves (see the top comment). */
  readonly enforceNode: boolean
  readonly enforceHost: boolean
  readonly enforceZone: boolean
  readonly minimumMoves: number
  readonly random: () => number
  /** Scores computed so far: the repair stages' budget (a count, not a clock, so results are reproducible). */
  work = 0

  constructor(previous: RingMap | undefined, members: Member[], q: number, n: number) {
    this.q = q
    this.n = n
    this.s = members.length
    this.members = members
    this.previous = previous
    this.owners = new Int32Array(q).fill(NONE)
    this.prev = new Int32Array(q).fill(NONE)
    this.count = new Int32Array(this.s)
    const index = new Map<string, number>()
    members.forEach((m, i) => index.set(m.id, i))
    if (previous !== undefined) {
      ringInternals(previous) // validates a ring that was not built by createRingMap
      for (let p = 0; p < q; p++) {
        const i = index.get(previous.owners[p]!)
        if (i !== undefined) {
          this.owners[p] = i
          this.prev[p] = i
          this.count[i]!++
        }
      }
    }
    const domains = failureDomains(members)
    this.host = domains.host
    this.zone = domains.zone
    this.random = seededRandom(previous, members, q, n)

    // Targets: the Q mod S members that already own the most keep the extra partition.
    this.target = new Int32Array(this.s)
    const base = Math.floor(q / this.s)
    const byCount = members.map((_, i) => i).sort((a, b) => this.count[b]! - this.count[a]! || a - b)
    byCount.forEach((i, rank) => (this.target[i] = base + (rank < q % this.s ? 1 : 0)))
    let minimum = 0
    for (let p = 0; p < q; p++) if (this.owners[p] === NONE) minimum++
    for (let i = 0; i < this.s; i++) minimum += Math.max(0, this.count[i]! - this.target[i]!)
    this.minimumMoves = minimum

    this.nodeWindow = Math.min(n, this.s)
    this.hostWindow = this.host === undefined ? 1 : Math.min(n, classCount(this.host))
    this.zoneWindow = this.zone === undefined ? 1 : Math.min(n, classCount(this.zone))
    this.reach = Math.max(this.nodeWindow, this.hostWindow, this.zoneWindow)
    this.enforceNode = this.s > n
    this.enforceHost = this.host !== undefined && classesFit(this.host, this.target, Math.ceil(q / this.hostWindow))
    this.enforceZone = this.zone !== undefined && classesFit(this.zone, this.target, Math.ceil(q / this.zoneWindow))
  }

  /** Conflict score of member x at partition p against the owners of p's neighbours (not p itself). */
  costAt(x: number, p: number): number {
    const { q, owners, reach } = this
    this.work++
    let c = 0
    for (let d = 1; d < reach && d < q; d++) {
      const l = (p - d + q) % q
      const r = (p + d) % q
      const a = owners[l]!
      if (a !== NONE) c += this.pair(x, a, d)
      if (r !== l) {
        const b = owners[r]!
        if (b !== NONE) c += this.pair(x, b, d)
      }
    }
    return c
  }

  /** Score of members x and y on partitions d apart: (window - d) per shared level, within that level's window. */
  pair(x: number, y: number, d: number): number {
    let c = 0
    if (x === y && d < this.nodeWindow) c += (this.nodeWindow - d) * W_NODE
    const { host, zone } = this
    if (host !== undefined && d < this.hostWindow && host[x] === host[y]) c += (this.hostWindow - d) * W_HOST
    if (zone !== undefined && d < this.zoneWindow && zone[x] === zone[y]) c += (this.zoneWindow - d) * W_ZONE
    return c
  }

  /** The part of a score (a sum of at most two partition scores) that may cost extra moves. */
  enforced(score: number): number {
    let e = 0
    if (this.enforceNode) e += Math.floor(score / W_NODE) * W_NODE
    if (this.enforceHost) e += Math.floor((score % W_NODE) / W_HOST) * W_HOST
    if (this.enforceZone) e += score % W_HOST
    return e
  }

  assign(p: number, x: number): void {
    const old = this.owners[p]!
    if (old !== NONE) this.count[old]!--
    this.owners[p] = x
    this.count[x]!++
  }

  deficit(x: number): number {
    return this.target[x]! - this.count[x]!
  }

  /** Step 3: give every hole an owner among the members below target. */
  fillHoles(): void {
    const { q, s, owners } = this
    const holes: number[] = []
    for (let p = 0; p < q; p++) if (owners[p] === NONE) holes.push(p)
    if (holes.length === 0) return
    if (holes.length < q) {
      // Most constrained first: a hole that few members fit should choose before the others use them up.
      const fits = new Map<number, number>()
      for (const p of holes) {
        let k = 0
        for (let x = 0; x < s; x++) if (this.deficit(x) > 0 && this.costAt(x, p) === 0) k++
        fits.set(p, k)
      }
      holes.sort((a, b) => fits.get(a)! - fits.get(b)! || a - b)
    }
    for (const p of holes) {
      // Least conflict, then furthest below target, then uniformly at random among exact ties (reservoir
      // sampling): shuffled rounds give every member varied neighbours, which is what later lets a departed
      // member's partitions be spread over many others without conflict.
      let best = NONE
      let bestCost = 0
      let bestDeficit = 0
      let ties = 0
      for (let x = 0; x < s; x++) {
        const deficit = this.deficit(x)
        if (deficit <= 0) continue
        const cost = this.costAt(x, p)
        if (best === NONE || cost < bestCost || (cost === bestCost && deficit > bestDeficit)) {
          best = x
          bestCost = cost
          bestDeficit = deficit
          ties = 1
        } else if (cost === bestCost && deficit === bestDeficit && this.random() * ++ties < 1) {
          best = x
        }
      }
      // Holes never outnumber the total deficit (targets sum to Q), so a member below target always exists.
      this.assign(p, best)
    }
  }

  /** Step 4: members above target hand partitions to members below it. */
  steal(): void {
    const { q, s, owners, prev } = this
    const receivers: number[] = []
    let wanted = 0
    for (let x = 0; x < s; x++) {
      const d = this.deficit(x)
      if (d > 0) {
        receivers.push(x)
        wanted += d
      }
    }
    if (wanted === 0) return
    const donorRate = new Float64Array(s)
    const receiverRate = new Float64Array(s)
    for (let x = 0; x < s; x++) {
      const surplus = -this.deficit(x)
      if (surplus > 0) donorRate[x] = surplus / this.count[x]!
    }
    for (const x of receivers) receiverRate[x] = this.deficit(x) / q
    const donorDue = new Float64Array(s)
    const receiverDue = new Float64Array(s)
    const start = Math.floor(this.random() * q)
    const stealable = (p: number): boolean => {
      const d = owners[p]!
      return d === prev[p] && this.deficit(d) < 0
    }

    // Pass 1: paced on both sides, conflict-free only.
    for (let i = 0; i < q && wanted > 0; i++) {
      const p = (start + i) % q
      for (const x of receivers) receiverDue[x]! += receiverRate[x]!
      if (!stealable(p)) continue
      const d = owners[p]!
      donorDue[d]! += donorRate[d]!
      if (donorDue[d]! < 1 - 1e-9) continue
      let best = NONE
      for (const x of receivers) {
        if (this.deficit(x) <= 0 || this.costAt(x, p) !== 0) continue
        if (best === NONE || receiverDue[x]! > receiverDue[best]!) best = x
      }
      if (best === NONE) continue // the donor stays due and offers its next partition
      this.assign(p, best)
      donorDue[d]! -= 1
      receiverDue[best]! -= 1
      wanted--
    }
    // Pass 2: conflict-free, no pacing. Pass 3: least conflict; repair() deals with what this leaves.
    for (const strict of [true, false]) {
      for (let i = 0; i < q && wanted > 0; i++) {
        const p = (start + i) % q
        if (!stealable(p)) continue
        let best = NONE
        let bestCost = 0
        for (const x of receivers) {
          if (this.deficit(x) <= 0) continue
          const cost = this.costAt(x, p)
          if (strict && cost !== 0) continue
          if (best === NONE || cost < bestCost || (cost === bestCost && this.deficit(x) > this.deficit(best))) {
            best = x
            bestCost = cost
          }
        }
        if (best === NONE) continue
        this.assign(p, best)
        wanted--
      }
    }
  }

  /**
   * Swap the owners of a conflicting partition with the best other partition until no swap lowers the
   * enforced score. `maxExtraMoves` bounds how many newly moved partitions one swap may add (0: only
   * partitions that move anyway trade places).
   */
  repair(maxExtraMoves: number, workLimit: number): void {
    const { q, owners, prev, reach } = this
    if (this.conflicts() === 0) return
    const fit = this.fitTable()
    // With no extra moves allowed, only partitions that move anyway can trade owners. (Swapping a partition
    // back to its previous owner would also qualify; it is rare enough not to be worth a full scan.)
    const movedNow = (): Int32Array => {
      let k = 0
      const out = new Int32Array(q)
      for (let r = 0; r < q; r++) if (owners[r] !== prev[r]) out[k++] = r
      return out.subarray(0, k)
    }
    for (let pass = 0; pass < MAX_REPAIR_PASSES && this.work < workLimit; pass++) {
      let improved = false
      const candidates = maxExtraMoves <= 0 ? movedNow() : undefined
      const m = candidates === undefined ? q - 1 : candidates.length
      for (let p = 0; p < q && this.work < workLimit; p++) {
        const x = owners[p]!
        const xAtP = fit.get(x, p)
        const ep = this.enforced(xAtP)
        if (ep === 0) continue
        // A swap cannot move fewer than this many new partitions; one that does and clears both sides
        // is as good as any, so the scan stops there.
        const leastMoves = x === prev[p] ? 1 : 0
        let bestR = NONE
        let bestEnforced = 0
        let bestMoves = 0
        let bestTotal = 0
        this.work += m
        for (let j = 0; j < m; j++) {
          const r = candidates === undefined ? (p + 1 + j) % q : candidates[j]!
          const y = owners[r]!
          if (y === x || r === p) continue
          const moves = (y !== prev[p] ? 1 : 0) + (x !== prev[r] ? 1 : 0) - (x !== prev[p] ? 1 : 0) - (y !== prev[r] ? 1 : 0)
          if (moves > maxExtraMoves) continue
          const yAtP0 = fit.get(y, p)
          const yAtR0 = fit.get(y, r)
          const eyr = this.enforced(yAtR0)
          // Cheap bound first: p must get better by more than r can get worse.
          if (this.enforced(yAtP0) - ep - eyr >= 0) continue
          const k = (r - p + q) % q
          let yAtP: number
          let xAtR: number
          if (k >= reach && q - k >= reach) {
            yAtP = yAtP0 // not neighbours: each side's score ignores the other's owner
            xAtR = fit.get(x, r)
          } else {
            owners[p] = y
            owners[r] = x
            yAtP = this.costAt(y, p)
            xAtR = this.costAt(x, r)
            owners[p] = x
            owners[r] = y
          }
          const enforcedDelta = this.enforced(yAtP) + this.enforced(xAtR) - ep - eyr
          if (enforcedDelta >= 0) continue
          const total = yAtP + xAtR - xAtP - yAtR0
          if (
            bestR === NONE ||
            enforcedDelta < bestEnforced ||
            (enforcedDelta === bestEnforced && (moves < bestMoves || (moves === bestMoves && total < bestTotal)))
          ) {
            bestR = r
            bestEnforced = enforcedDelta
            bestMoves = moves
            bestTotal = total
          }
          if (eyr === 0 && this.enforced(yAtP) === 0 && this.enforced(xAtR) === 0 && moves <= leastMoves) break
        }
        if (bestR !== NONE) {
          owners[p] = owners[bestR]!
          owners[bestR] = x
          fit.touch(p)
          fit.touch(bestR)
          improved = true
        }
      }
      if (!improved) return
    }
  }

  /**
   * costAt(x, p) for every member and partition, refreshed around each change; what makes a swap candidate
   * a few lookups. Rings too large for a table (S x Q above 4M entries) compute scores on demand instead.
   */
  private fitTable(): { get(x: number, p: number): number; touch(changed: number): void } {
    const { q, s, reach } = this
    if (s * q > 1 << 22) return { get: (x, p) => this.costAt(x, p), touch: () => {} }
    const table = new Int32Array(s * q)
    for (let x = 0; x < s; x++) for (let p = 0; p < q; p++) table[x * q + p] = this.costAt(x, p)
    return {
      get: (x, p) => table[x * q + p]!,
      touch: (changed) => {
        for (let d = 1; d < reach && d < q; d++) {
          for (const k of [(changed + d) % q, (changed - d + q) % q]) {
            for (let x = 0; x < s; x++) table[x * q + k] = this.costAt(x, k)
          }
        }
      },
    }
  }

  /**
   * A conflict that no swap clears (every member clashes with a neighbour, as in "a d b c b d a" for
   * N = 3, S = 4) needs several partitions to change at once. Re-arrange a short segment around it, using the
   * segment's own owners (so balance holds), as the arrangement with no enforced conflict that moves the
   * fewest partitions; widen the segment until one exists or the limits are reached.
   */
  resolveSegments(workLimit: number): void {
    const { q, owners, reach } = this
    const longest = Math.min(MAX_SEGMENT, q - 2 * reach)
    for (let p = 0; p < q && this.work < workLimit; p++) {
      if (this.enforced(this.costAt(owners[p]!, p)) === 0) continue
      for (let len = 2 * reach; len <= longest; len++) {
        if (this.resolveSegment((p - Math.floor(len / 2) + q) % q, len, workLimit)) break
      }
    }
  }

  private resolveSegment(start: number, len: number, workLimit: number): boolean {
    const { q, owners, prev, reach } = this
    const at = (i: number): number => (start + i) % q
    // The segment's owners as a small multiset: kinds[k] with left[k] copies still to place.
    const kinds: number[] = []
    for (let i = 0; i < len; i++) if (!kinds.includes(owners[at(i)]!)) kinds.push(owners[at(i)]!)
    kinds.sort((a, b) => a - b)
    const left = new Int32Array(kinds.length)
    for (let i = 0; i < len; i++) left[kinds.indexOf(owners[at(i)]!)]!++
    const keepKind = new Int32Array(len)
    for (let i = 0; i < len; i++) keepKind[i] = kinds.indexOf(prev[at(i)]!)
    // Fewest moves any arrangement needs: positions whose previous owner the multiset cannot give back.
    const keepable = new Int32Array(kinds.length)
    for (let i = 0; i < len; i++) if (keepKind[i]! >= 0) keepable[keepKind[i]!]!++
    let floorMoves = len
    for (let k = 0; k < kinds.length; k++) floorMoves -= Math.min(left[k]!, keepable[k]!)
    // With the node level enforced, copies of one member need `window` partitions each.
    const window = this.enforceNode ? this.nodeWindow : 1
    const placed = new Int32Array(len)
    let visits = 0
    let limit = 0
    const fits = (z: number, i: number): boolean => {
      this.work += reach
      for (let d = 1; d < reach; d++) {
        const l = i - d >= 0 ? placed[i - d]! : owners[(start + i - d + q) % q]!
        if (this.enforced(this.pair(z, l, d)) > 0) return false
        if (i + d >= len && this.enforced(this.pair(z, owners[at(i + d)]!, d)) > 0) return false
      }
      return true
    }
    const roomy = (i: number): boolean => {
      const room = Math.floor((len - i - 1) / window) + 1
      for (let k = 0; k < kinds.length; k++) if (left[k]! > room) return false
      return true
    }
    const tryKind = (k: number, i: number, moves: number): boolean => {
      const z = kinds[k]!
      if (left[k] === 0 || !fits(z, i)) return false
      left[k]!--
      placed[i] = z
      const found = search(i + 1, moves + (k === keepKind[i] ? 0 : 1))
      left[k]!++
      return found
    }
    const search = (i: number, moves: number): boolean => {
      if (moves > limit || visits++ > MAX_SEGMENT_VISITS || this.work > workLimit) return false
      if (i === len) return true
      if (!roomy(i)) return false
      // The previous owner first: at a given move limit, keeping is what leaves room for the rest.
      const keep = keepKind[i]!
      if (keep >= 0 && tryKind(keep, i, moves)) return true
      for (let k = 0; k < kinds.length; k++) if (k !== keep && tryKind(k, i, moves)) return true
      return false
    }
    // Iterative deepening on moves: the first arrangement found moves the fewest partitions.
    for (limit = floorMoves; limit <= len; limit++) {
      if (search(0, 0)) {
        for (let i = 0; i < len; i++) owners[at(i)] = placed[i]!
        return true
      }
      if (visits > MAX_SEGMENT_VISITS || this.work > workLimit) return false
    }
    return false
  }

  /**
   * Step 6, the alternative for tangled rings: rebuild every owner in one sweep, keeping the previous owner wherever
   * it fits and is not ahead of its even pace, otherwise taking the fitting member furthest behind its pace.
   */
  rebuild(): void {
    const { q, s, owners, prev, target, reach } = this
    const out = new Int32Array(q).fill(NONE)
    const assigned = new Int32Array(s)
    const fits = (z: number, p: number, i: number): number => {
      let e = 0
      for (let d = 1; d < reach && d < q; d++) {
        const l = out[(p - d + q) % q]!
        if (l !== NONE) e += this.enforced(this.pair(z, l, d))
        if (i + d >= q) {
          const r = out[(p + d) % q]!
          if (r !== NONE) e += this.enforced(this.pair(z, r, d))
        }
      }
      return e
    }
    for (let p = 0; p < q; p++) {
      const i = p
      let best = NONE
      let bestKey = 0
      for (let z = 0; z < s; z++) {
        if (assigned[z]! >= target[z]!) continue
        const behind = (target[z]! * (i + 1)) / q - assigned[z]!
        const e = fits(z, p, i)
        // Order: no conflict, then keep the previous owner unless it is ahead of pace, then most behind pace.
        const keep = z === prev[p] && behind > -1 ? 1 : 0
        const key = e * 1e6 - keep * 1e3 - behind
        if (best === NONE || key < bestKey) {
          best = z
          bestKey = key
        }
      }
      out[p] = best
      assigned[best]!++
    }
    this.setOwners(out)
  }

  setOwners(owners: Int32Array): void {
    this.owners.set(owners)
    this.count.fill(0)
    for (let p = 0; p < this.q; p++) this.count[this.owners[p]!]!++
  }

  /** Step 5 in the order that spends the fewest moves: free swaps, segments, paid swaps, segments again. */
  repairAll(budgetScale: number): void {
    const base = this.work
    this.repair(0, base + WORK_FREE_SWAPS * budgetScale)
    this.resolveSegments(base + WORK_SEGMENTS * budgetScale)
    this.repair(Number.POSITIVE_INFINITY, base + WORK_PAID_SWAPS * budgetScale)
    this.resolveSegments(base + WORK_TOTAL * budgetScale)
  }

  movedCount(): number {
    let k = 0
    for (let p = 0; p < this.q; p++) if (this.owners[p] !== this.prev[p]) k++
    return k
  }

  /** Partitions whose owner has an enforced conflict. */
  conflicts(): number {
    let k = 0
    for (let p = 0; p < this.q; p++) if (this.enforced(this.costAt(this.owners[p]!, p)) > 0) k++
    return k
  }

  result(): ClaimResult {
    const { q, owners, members, previous } = this
    const ids = new Array<string>(q)
    let moved = 0
    for (let p = 0; p < q; p++) {
      ids[p] = members[owners[p]!]!.id
      if (previous === undefined || previous.owners[p] !== ids[p]) moved++
    }
    const unchanged =
      previous !== undefined &&
      moved === 0 &&
      previous.n === this.n &&
      previous.members.length === members.length &&
      previous.members.every((m, i) => sameMember(m, members[i]!))
    const ring = unchanged
      ? previous
      : createRingMap({ version: previous === undefined ? 1 : previous.version + 1, q, n: this.n, members, owners: ids })
    return { ring, moved, minimumMoves: this.minimumMoves, extraMoves: moved - this.minimumMoves, violations: ringViolations(ring) }
  }
}

/** Above this many conflicting partitions after the steal, claim also tries a full rebuild. */
function heavyConflicts(q: number): number {
  return Math.max(8, q >> 5)
}

function sameMember(a: Member, b: Member): boolean {
  return a.id === b.id && a.host === b.host && a.zone === b.zone
}

function classCount(classOf: Int32Array): number {
  return new Set(classOf).size
}

/** True when no class would own more than `limit` partitions at the given targets. */
function classesFit(classOf: Int32Array, target: Int32Array, limit: number): boolean {
  const owned = new Map<number, number>()
  for (let i = 0; i < classOf.length; i++) {
    const c = classOf[i]!
    owned.set(c, (owned.get(c) ?? 0) + target[i]!)
  }
  for (const v of owned.values()) if (v > limit) return false
  return true
}

/** mulberry32 seeded from a digest of the inputs: deterministic, and different rings get different shuffles. */
function seededRandom(previous: RingMap | undefined, members: readonly Member[], q: number, n: number): () => number {
  const h = crypto.createHash('sha256')
  h.update(JSON.stringify([q, n, previous?.checksum ?? '', members.map((m) => [m.id, m.host ?? '', m.zone ?? ''])]))
  let a = h.digest().readUInt32BE(0)
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
