// Placement rule (b) of DESIGN section 2 and how to check it: any N consecutive partitions (wrapping around)
// should be owned by N distinct nodes, on distinct hosts when hosts are set, in distinct zones when zones are
// set. When a level has fewer than N distinct values (2 zones, N = 3), a window cannot be fully distinct, so the
// rule degrades to "as distinct as that level allows": min(N, values present) distinct values per window.
// A window that falls short is a violation; claim.ts avoids them where it can and this module reports the rest.
//
// Failure domains nest: a member without a host is its own host, a member without a zone is its own zone (its
// host's, if it has one). So a rule is only active for a level that some member configured.

import type { Member, RingMap } from './ring-map.ts'
import { ringInternals } from './ring-map.ts'

export type PlacementLevel = 'node' | 'host' | 'zone'

export interface Violation {
  /** First partition of the offending window of N consecutive partitions. */
  readonly partition: number
  readonly level: PlacementLevel
  /** Distinct values at this level within the window. */
  readonly distinct: number
  /** What the rule asks for: min(N, distinct values of this level on the ring). */
  readonly required: number
}

export interface FailureDomains {
  /** Class index per member (by sorted member index); undefined when no member sets the level. */
  readonly host: Int32Array | undefined
  readonly zone: Int32Array | undefined
}

function classify(members: readonly Member[], keyOf: (m: Member) => string): Int32Array {
  const ids = new Map<string, number>()
  const out = new Int32Array(members.length)
  members.forEach((m, i) => {
    const key = keyOf(m)
    let c = ids.get(key)
    if (c === undefined) {
      c = ids.size
      ids.set(key, c)
    }
    out[i] = c
  })
  return out
}

// Prefixes keep the namespaces apart: a host named like a node id must not collide with it.
const hostKey = (m: Member): string => (m.host !== undefined ? `h:${m.host}` : `n:${m.id}`)
const zoneKey = (m: Member): string => (m.zone !== undefined ? `z:${m.zone}` : hostKey(m))

export function failureDomains(members: readonly Member[]): FailureDomains {
  return {
    host: members.some((m) => m.host !== undefined) ? classify(members, hostKey) : undefined,
    zone: members.some((m) => m.zone !== undefined) ? classify(members, zoneKey) : undefined,
  }
}

/** Every window that breaks the placement rule, by level; empty for a well-placed ring. */
export function ringViolations(ring: RingMap): Violation[] {
  const { ownerIndexes } = ringInternals(ring)
  const domains = failureDomains(ring.members)
  const levels: Array<[PlacementLevel, (i: number) => number]> = [['node', (i) => i]]
  const { host, zone } = domains
  if (host !== undefined) levels.push(['host', (i) => host[i]!])
  if (zone !== undefined) levels.push(['zone', (i) => zone[i]!])
  return windowViolations(ownerIndexes, ring.n, levels)
}

/** The window check over owner indexes; also used by claim.ts before it builds a ring. */
export function windowViolations(
  owners: ArrayLike<number>,
  n: number,
  levels: ReadonlyArray<readonly [PlacementLevel, (member: number) => number]>,
): Violation[] {
  const q = owners.length
  const w = Math.min(n, q)
  const out: Violation[] = []
  const window = new Int32Array(w)
  for (const [level, classOf] of levels) {
    const classes = new Int32Array(q)
    const present = new Set<number>()
    for (let p = 0; p < q; p++) {
      classes[p] = classOf(owners[p]!)
      present.add(classes[p]!)
    }
    const required = Math.min(w, present.size)
    for (let start = 0; start < q; start++) {
      // Windows hold at most MAX_REPLICATION values: pairwise comparison beats a Set here.
      let distinct = 0
      for (let k = 0; k < w; k++) {
        const c = classes[(start + k) % q]!
        let fresh = true
        for (let j = 0; j < distinct; j++) if (window[j] === c) fresh = false
        if (fresh) window[distinct++] = c
      }
      if (distinct < required) out.push({ partition: start, level, distinct, required })
    }
  }
  return out
}
