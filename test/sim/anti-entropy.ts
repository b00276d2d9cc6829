// Anti-entropy as a scenario's settle step (issue 4, tests 1, 2, 5, 7, 8): rounds of `repair` on every running
// member at once, until every partition's replicas have equal Merkle roots -- the test of convergence the issue
// asks for ("equal Merkle roots for every partition within a bounded time") -- or the round budget runs out,
// which is a violation. The figures it leaves on the run: rounds, virtual time to convergence, and what
// anti-entropy moved against the data it protects.
import { antiEntropyDefaults, type RepairReport } from '../../src/node/anti-entropy/index.ts'
import type { Violation } from './checker.ts'
import type { SimCluster } from './cluster.ts'
import type { ScenarioContext } from './scenario.ts'

export interface AntiEntropySettle {
  /** Rounds (on every node at once) before giving up. Default 4. */
  maxRounds?: number
  /** Virtual time to let pass after convergence, then one more round that must change nothing. */
  afterMs?: number
}

/** Partitions whose replicas' roots differ, described. */
export function differingRoots(roots: Map<number, Map<string, string>>): string[] {
  const out: string[] = []
  for (const [p, byNode] of roots) {
    if (new Set(byNode.values()).size > 1) out.push(`partition ${p}: ${[...byNode].map(([n, r]) => `${n}=${r.slice(0, 8)}`).join(' ')}`)
  }
  return out
}

/** Adds a round's reports to the run's figures (sums across rounds and nodes). */
export function countRound(figures: Record<string, number>, reports: readonly RepairReport[]): void {
  const add = (name: string, n: number) => {
    figures[name] = (figures[name] ?? 0) + n
  }
  add('aeRounds', 1)
  for (const r of reports) {
    // Each exchange is counted by the node that drove it, both directions: the sum is every anti-entropy byte.
    add('aeBytes', r.bytesSent + r.bytesReceived)
    add('aeFullCopyBytes', r.fullCopyBytes)
    add('aeKeysCompared', r.keysCompared)
    add('aeKeysRepaired', r.keysRepaired)
    add('aeCorruptRepaired', r.corruptRepaired)
    add('aeTombstonesCollected', r.tombstonesCollected)
    add('aeExchangesFailed', r.exchangesFailed)
  }
}

export function settleByAntiEntropy(options: AntiEntropySettle = {}): (cluster: SimCluster, ctx: ScenarioContext) => Promise<void> {
  const maxRounds = options.maxRounds ?? 4
  return async (cluster, ctx) => {
    const started = cluster.clock.now()
    let differing: string[] = []
    for (let round = 1; ; round++) {
      countRound(ctx.figures, await cluster.antiEntropy())
      differing = differingRoots(await cluster.merkleRoots(antiEntropyDefaults.segments))
      if (differing.length === 0 || round >= maxRounds) break
    }
    ctx.figures['aeConvergeMs'] = Math.round(cluster.clock.now() - started)
    ctx.figures['dataBytes'] = cluster.dataBytes()
    if (differing.length > 0) {
      ctx.violations.push(...differing.slice(0, 5).map((d): Violation => ({ check: 'unconverged', message: `Merkle roots differ after ${maxRounds} anti-entropy rounds: ${d}`, ops: [] })))
      return
    }
    if (options.afterMs !== undefined) {
      // Converged data stays converged: later rounds (garbage collection past the grace period included) must
      // not bring anything back or drift apart.
      await cluster.sleep(options.afterMs)
      countRound(ctx.figures, await cluster.antiEntropy())
      const after = differingRoots(await cluster.merkleRoots(antiEntropyDefaults.segments))
      for (const d of after.slice(0, 5)) ctx.violations.push({ check: 'unconverged', message: `Merkle roots differ again after a later round: ${d}`, ops: [] })
    }
  }
}
