// The scenarios of issue 4 that today's node code can run, numbered as in the issue. Each is a seeded schedule of
// faults, a workload and checks (scenario.ts); adding one for a feature that lands (hints, anti-entropy,
// tombstone GC, TTL, join/leave) is a new entry here with its own nemesis, workload and `settle` step.
import type { Violation } from './checker.ts'
import { settleByAntiEntropy } from './anti-entropy.ts'
import { defaultNemesis } from './nemesis.ts'
import type { Scenario, SessionSpec } from './scenario.ts'
import { defaultWorkload } from './workload.ts'

const clients = (n: number): SessionSpec[] => Array.from({ length: n }, (_, i) => ({ name: `c${i + 1}`, via: 'client' as const }))

/**
 * 1 and 2. Random partitions -- split, isolated nodes, one-way, clients cut off -- with crashes, power cuts,
 * resets and slow links, under reads, read-modify-writes, blind puts and deletes at R = W = 2. After healing and
 * anti-entropy (no read-repair sweep: anti-entropy alone must make the replicas converge), every partition's
 * replicas have equal Merkle roots within a bounded number of rounds, and no acknowledged write is lost: an
 * R = all read returns it as the value or a sibling (unless something superseded it).
 */
export const partitions: Scenario = {
  name: 'partitions',
  description: 'no acknowledged W=2 write is lost under random partitions, crashes and resets; replicas converge after healing',
  cluster: { nodes: 3 },
  sessions: [...clients(3), { name: 'e1', via: { embedded: 'n1' } }],
  workload: { ...defaultWorkload, keys: 16 },
  nemesis: { ...defaultNemesis },
  durationMs: 20_000,
  check: { quorumOverlap: true },
  settle: settleByAntiEntropy(),
  repairSweep: false,
}

/**
 * 2. Replicas converge after healing by anti-entropy alone: the same random partitions, crashes and resets as
 * `partitions`, but with hinted handoff dropping every hint (as hint overflow or expiry does) and no read-repair
 * sweep, so replicas that missed writes really diverge and only anti-entropy can bring them together. Every
 * partition's replicas must have equal Merkle roots within a few rounds; the run reports the virtual time that
 * took and the bytes anti-entropy moved against the data size. (Without anti-entropy the roots stay apart:
 * the negative control in anti-entropy.test.ts.)
 */
export const convergence: Scenario = {
  ...partitions,
  name: 'convergence',
  description: 'after healing, anti-entropy alone makes every replica of every partition equal (Merkle roots)',
  workload: { ...partitions.workload, keys: 200 },
  cluster: { nodes: 3, noHints: true },
  durationMs: 15_000,
  settle: settleByAntiEntropy({ afterMs: 5000 }),
  repairSweep: false,
}

/**
 * 3. Four writers hammer two keys with read-modify-writes (and deletes) for a long run under faults: siblings
 * never outnumber the writers that are concurrent in fact, superseded values never come back, and reads never
 * return a value superseded by a write acknowledged before they began.
 */
export const siblings: Scenario = {
  name: 'siblings',
  description: 'siblings never exceed the concurrent writers, however long the run',
  cluster: { nodes: 3 },
  sessions: clients(4),
  workload: { ...defaultWorkload, keys: 2, thinkMs: 15, mix: { rmw: 0.8, blindPut: 0, delete: 0.05, blindDelete: 0, read: 0.15 } },
  nemesis: { ...defaultNemesis, meanGapMs: 2500 },
  durationMs: 30_000,
  check: { quorumOverlap: true },
}

/**
 * 4. A replica whose data directory was wiped comes back with a new actor id, so its new writes -- it
 * coordinates blind puts for two embedded sessions -- are never mistaken for old, superseded ones: no
 * acknowledged write is lost. (Run with `wipeKeepsEpoch`, the bug it guards against, the checker finds lost
 * writes: see scenarios.test.ts.)
 */
export const wipedReplica: Scenario = {
  name: 'wiped-replica',
  description: 'a replica whose data was wiped does not let old clocks override new writes',
  cluster: { nodes: 3 },
  sessions: [{ name: 'e1', via: { embedded: 'n1' } }, { name: 'e2', via: { embedded: 'n1' } }, ...clients(2)],
  workload: { ...defaultWorkload, keys: 8, thinkMs: 20, mix: { rmw: 0.4, blindPut: 0.35, delete: 0.05, blindDelete: 0, read: 0.2 } },
  nemesis: { ...defaultNemesis, faults: ['split', 'one-way', 'client-cut', 'reset', 'slow-link'], meanGapMs: 3000, maxFaultMs: 3000 },
  script: async ({ cluster, history }) => {
    // Let n1 coordinate writes to every key first, so its old actor has counters everywhere.
    await cluster.sleep(4000)
    for (const [wipeAt, down] of [[0, 1500]] as const) {
      await cluster.sleep(wipeAt)
      history.fault('crash n1 (script)')
      cluster.crash('n1')
      await cluster.sleep(down)
      history.fault('wipe n1 (script)')
      cluster.wipe('n1')
      history.fault('restart n1 (script)')
      await cluster.restart('n1')
    }
  },
  durationMs: 12_000,
  // A wiped replica lost what it held: quorums of the run need not intersect on a surviving copy.
  check: { quorumOverlap: false },
  verify: ({ cluster }) => {
    const out: Violation[] = []
    const actors = cluster.node('n1').actors
    // Only a wipe that leaves node.json behind, after a crash made to look clean, keeps the old actor.
    const reused = cluster.options.wipeKeepsEpoch && cluster.options.crashLooksClean
    if (actors.length !== 2) out.push({ check: 'scenario', message: `n1 should have run twice, ran as ${actors.join(', ')}`, ops: [] })
    else if (reused === (actors[0] !== actors[1])) {
      out.push({ check: 'scenario', message: `after the wipe n1's actor went from ${actors[0]} to ${actors[1]}`, ops: [] })
    }
    return out
  },
}

/**
 * Power cuts lose what a replica applied but had not fsynced yet (the default 'interval' durability fsyncs every
 * 5 ms). Writers embedded in every node make each node coordinate blind writes at a high rate, so a node often
 * loses writes it coordinated itself: coming back with the same actor, it would issue their dots again and
 * acknowledged writes would be lost where old and new meet. No acknowledged write may be lost.
 */
export const powerLoss: Scenario = {
  name: 'power-loss',
  description: 'power cuts lose unsynced writes; a node that lost writes it coordinated never reissues their dots',
  cluster: { nodes: 3, durability: 'interval' },
  sessions: [
    { name: 'e1', via: { embedded: 'n1' } },
    { name: 'e2', via: { embedded: 'n2' } },
    { name: 'e3', via: { embedded: 'n3' } },
    ...clients(1),
  ],
  workload: { ...defaultWorkload, keys: 4, thinkMs: 5, mix: { rmw: 0.4, blindPut: 0.4, delete: 0.05, blindDelete: 0, read: 0.15 } },
  nemesis: { ...defaultNemesis, faults: ['power-cut'], meanGapMs: 700, minFaultMs: 100, maxFaultMs: 1500, parallel: 1 },
  durationMs: 15_000,
  // A power cut loses replica copies, so quorums need not intersect on a surviving copy during the run.
  check: { quorumOverlap: false },
}

export const scenarios: readonly Scenario[] = [partitions, convergence, siblings, wipedReplica, powerLoss]

export function scenarioNamed(name: string): Scenario {
  const s = scenarios.find((x) => x.name === name)
  if (s === undefined) throw new RangeError(`no scenario '${name}' (known: ${scenarios.map((x) => x.name).join(', ')})`)
  return s
}
