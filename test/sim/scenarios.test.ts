// Issue 4's simulator tests that today's node code can run (scenarios.ts), each over several seeds plus every
// seed that ever failed (failed-seeds.json). A failure prints SEED=n and the command that replays it, and is
// added to failed-seeds.json. The larger sweep: `npm run test:sim -- --seeds N`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { summarizeFigures } from './figures.ts'
import { formatFailure, recordFailure, seedsFor } from './seeds.ts'
import { runScenario, type RunReport, type Scenario } from './scenario.ts'
import { convergence, hintOverflow, hints, joinDecommission, partitions, powerLoss, siblings, tamper, tombstones, ttl, wipedReplica } from './scenarios.ts'

const reports = new Map<string, RunReport[]>()

function seeded(scenario: Scenario, count: number, extra: (r: RunReport) => void = () => {}): void {
  for (const { seed, durationMs } of seedsFor(scenario.name, count)) {
    test(`${scenario.name}, seed ${seed}${durationMs === undefined ? '' : `, ${durationMs} ms`}`, async () => {
      const r = await runScenario(durationMs === undefined ? scenario : { ...scenario, durationMs }, seed)
      if (!r.ok) {
        recordFailure(r, durationMs)
        assert.unreachable(formatFailure(r, durationMs))
      }
      let list = reports.get(scenario.name)
      if (list === undefined) reports.set(scenario.name, (list = []))
      list.push(r)
      assert.ok(r.stats.ackedChecked > 0, 'the run checked acknowledged writes')
      assert.ok(r.stats.faults > 0, 'the run injected faults')
      extra(r)
    })
  }
}

seeded(partitions, 2)
seeded(convergence, 2, (r) => {
  assert.is(r.stats.sweepKeys, 0, 'no read-repair sweep: anti-entropy alone converged')
  assert.ok((r.figures['aeRounds'] ?? 0) >= 1)
})
test('convergence: anti-entropy repaired diverged replicas in some seed', () => {
  const rs = reports.get('convergence') ?? []
  assert.ok(rs.some((r) => (r.figures['aeKeysRepaired'] ?? 0) > 0), 'without hints, some replica missed writes that anti-entropy brought')
})
seeded(tombstones, 1, (r) => {
  assert.is(r.figures['deletedWhileDown'], 6)
  assert.ok((r.figures['tombstonesCollected'] ?? 0) > 0, 'tombstones were collected past the grace period')
})
seeded(hints, 1, (r) => {
  assert.ok((r.figures['outageWrites'] ?? 0) > 0)
  assert.is(r.figures['outageWritesOnReturningNode'], r.figures['outageWrites'], 'every outage write reached the returning node by hints')
})
seeded(hintOverflow, 1, (r) => {
  assert.ok((r.figures['hintsDropped'] ?? 0) > 0, 'hints overflowed')
  assert.is(r.figures['writesFailed'], 0, 'no client write failed')
})
seeded(tamper, 1, (r) => {
  assert.ok((r.figures['corrupted'] ?? 0) > 0 && (r.figures['removed'] ?? 0) > 0)
  assert.ok((r.figures['keysRepairedInBackground'] ?? 0) > 0, 'background anti-entropy repaired corrupted copies during the run')
})
seeded(ttl, 1, (r) => {
  assert.ok((r.figures['expiringPuts'] ?? 0) > 0)
  assert.ok((r.figures['aeTombstonesCollected'] ?? 0) > 0, 'expired values were collected past the grace period')
})
seeded(joinDecommission, 1, (r) => {
  // 64 partitions x 3 replicas: a fourth node takes a quarter of them; leaving 4 -> 3 hands a quarter over.
  assert.ok(Math.abs((r.figures['joinMovedFraction'] ?? 0) - 0.25) < 0.05, `join moved ${r.figures['joinMovedFraction']}`)
  assert.ok(Math.abs((r.figures['decommissionMovedFraction'] ?? 0) - 0.25) < 0.05, `decommission moved ${r.figures['decommissionMovedFraction']}`)
})
seeded(siblings, 2, (r) => assert.ok(r.stats.maxSiblings >= 2, `concurrent writers made siblings (at most ${r.stats.maxSiblings})`))
seeded(wipedReplica, 3, (r) => assert.is(r.stats.wipes, 1))
seeded(powerLoss, 2, (r) => assert.ok(r.stats.unsyncedLost > 0, 'power cuts lost unsynced writes'))

const figures = (rs: readonly RunReport[]): string => {
  const text = summarizeFigures(rs)
  return text === '' ? '' : `; ${text}`
}

test('the faults bit: some operations failed, and nodes crashed, across the seeds', () => {
  const all = [...reports.values()].flat()
  assert.ok(all.length > 0)
  const failed = all.reduce((n, r) => n + Object.values(r.stats.errors).reduce((a, b) => a + b, 0), 0)
  assert.ok(failed > 0, 'no operation ever failed: the faults did not reach the clients')
  assert.ok(all.some((r) => r.stats.crashes > 0))
  const line = (name: string) => {
    const rs = reports.get(name) ?? []
    const sum = (f: (r: RunReport) => number) => rs.reduce((n, r) => n + f(r), 0)
    return `${name}: ${rs.length} seeds, acked writes checked ${sum((r) => r.stats.ackedChecked)}, lost ${sum((r) => r.stats.lost)}, most siblings ${Math.max(0, ...rs.map((r) => r.stats.maxSiblings))}, converged within ${Math.round(Math.max(0, ...rs.map((r) => r.stats.convergeMs)))} virtual ms${figures(rs)}`
  }
  if (process.env['RINGKV_SIM_SUMMARY'] !== '0') console.log(`\n  ${[...reports.keys()].map(line).join('\n  ')}`)
})

test.run()
