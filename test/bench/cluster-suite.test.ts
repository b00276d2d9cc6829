// The cluster benchmark's and the report's pure parts, without a cluster: key choice, histograms, the degraded
// run's phases, the target verdicts and ratios, the command line, and the HTML/markdown report of a fixture.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeHistogram, encodeHistogram, newHistogram, percentileCurve, recordUs, summarize } from '../../bench/cluster/histograms.ts'
import { keyChooser } from '../../bench/cluster/keys.ts'
import { parseConfig, UsageError } from '../../bench/cluster/options.ts'
import { comparisons, cpuUsPerOp, degradedPhases, evaluateTargets, type ScenarioResult } from '../../bench/cluster/summary.ts'
import type { TimelinePoint } from '../../bench/cluster/loadgen.ts'
import { renderSuiteHtml, renderSuiteMarkdown, type ClusterRun } from '../../bench/report/report.ts'
import { machineInfo } from '../../bench/lib/machine.ts'
import { SeededRandom } from '../../src/runtime/random.ts'

test('key choice: uniform covers the range, zipfian is skewed, both are functions of the seed', () => {
  const uniform = keyChooser('uniform', 1000, new SeededRandom(1))
  const seen = new Set<number>()
  for (let i = 0; i < 20_000; i++) {
    const k = uniform.next()
    assert.ok(k >= 0 && k < 1000)
    seen.add(k)
  }
  assert.ok(seen.size > 990, `uniform reached ${seen.size} of 1000 keys`)
  const zipf = keyChooser('zipfian', 10_000, new SeededRandom(1))
  const counts = new Map<number, number>()
  for (let i = 0; i < 50_000; i++) {
    const k = zipf.next()
    assert.ok(k >= 0 && k < 10_000)
    counts.set(k, (counts.get(k) ?? 0) + 1)
  }
  const top = [...counts.values()].sort((a, b) => b - a).slice(0, 100).reduce((a, b) => a + b, 0)
  assert.ok(top / 50_000 > 0.2, `the hottest 1% of keys got ${((100 * top) / 50_000).toFixed(1)}% of the picks`)
  const again = keyChooser('zipfian', 10_000, new SeededRandom(1))
  const other = keyChooser('zipfian', 10_000, new SeededRandom(1))
  assert.equal(Array.from({ length: 20 }, () => again.next()), Array.from({ length: 20 }, () => other.next()))
  assert.throws(() => keyChooser('uniform', 0, new SeededRandom(1)), /keys must be a positive integer/)
})

test('histograms survive encoding; the percentile curve rises to the maximum', () => {
  const h = newHistogram()
  for (let i = 1; i <= 10_000; i++) recordUs(h, i) // 1 us .. 10 ms
  const back = decodeHistogram(encodeHistogram(h))
  const s = summarize(back)
  assert.is(s.count, 10_000)
  assert.ok(Math.abs(s.p99Ms - 9.9) < 0.05, `p99 ${s.p99Ms}`)
  const curve = percentileCurve(back)
  assert.equal(curve.at(-1), [100, back.maxValue / 1000])
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i]![1] >= curve[i - 1]![1] && curve[i]![0] > curve[i - 1]![0])
  assert.equal(percentileCurve(newHistogram()), [])
})

const point = (t: number, reads: number, writes = reads / 10, errors = 0): TimelinePoint =>
  ({ t, readsPerSec: reads, writesPerSec: writes, errorsPerSec: errors, readP99Ms: 5, writeP99Ms: 8 })

test('degraded phases: before, down and after, and when throughput came back', () => {
  // Warm-up to 5 s; a node down from 10 to 15 s; serving again at 16 s; back to speed from 18 s.
  const timeline = [
    ...[1, 2, 3, 4, 5].map((t) => point(t, 500)),
    ...[6, 7, 8, 9, 10].map((t) => point(t, 1000)),
    ...[11, 12, 13, 14, 15].map((t) => point(t, 600, 60, t === 11 ? 3 : 0)),
    point(16, 300), point(17, 700), point(18, 950), point(19, 1000), point(20, 1000),
  ]
  const d = degradedPhases(timeline, 5, 20, 'n3', 10, 15, 16)
  assert.is(d.before.readsPerSec, 1000)
  assert.is(d.down.readsPerSec, 600)
  assert.is(d.down.errors, 3)
  assert.is(d.restartSeconds, 1)
  assert.is(d.catchUpSeconds, 1, 'the 18 s interval (17..18 s) was the first of two at 90%')
})

function scenario(name: ScenarioResult['scenario'], reads: number, writes: number, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  const op = (opsPerSec: number, p99Ms: number) => ({ opsPerSec, count: opsPerSec * 10, meanMs: 1, p50Ms: 1, p90Ms: 2, p99Ms, p999Ms: p99Ms * 2, maxMs: p99Ms * 3, curve: [[0, 1], [99, p99Ms], [100, p99Ms * 3]] as [number, number][] })
  return {
    scenario: name, title: name, target: name === 'bare' ? 'bare' : name === 'redis' ? 'redis' : 'ringkv', status: 'ok',
    mode: name === 'mixed' ? 'open' : 'closed', distribution: 'uniform', durability: 'interval', readFraction: 10 / 11,
    warmupSeconds: 5, durationSeconds: 10, reads: op(reads, 4), writes: op(writes, 9), errors: {}, errorCount: 0,
    unfinished: 0, unissued: 0, peakInFlight: 256, timeline: [point(1, reads), point(2, reads)], events: [], startedAt: '',
    cpu: { seconds: 10, processes: [{ name: 'n1', pid: 1, cpuSeconds: 5, cores: 0.5 }, { name: 'loadgen', pid: 2, cpuSeconds: 2, cores: 0.2 }], machine: { cores: 2, busyCores: 1.5 }, otherBusyCores: 0.8, topOthers: [], loadAverage: { start: [1, 1, 1], end: [2, 1, 1] } },
    ...extra,
  }
}

test('targets: the mixed load, the degraded run and the share of the bare path', () => {
  const results = [
    scenario('mixed', 100_500, 10_100),
    scenario('mixed-closed', 40_000, 4_000),
    scenario('bare', 60_000, 6_000),
    scenario('degraded', 40_000, 4_000, {
      errorCount: 2,
      errors: { ERR_TIMEOUT: 2 },
      degraded: { stoppedNode: 'n3', stopAt: 8, restartAt: 11, restartSeconds: 1, catchUpSeconds: 2, before: { seconds: 3, readsPerSec: 40_000, writesPerSec: 4_000, errors: 0, worstReadP99Ms: 3, worstWriteP99Ms: 4 }, down: { seconds: 3, readsPerSec: 52_000, writesPerSec: 4_000, errors: 2, worstReadP99Ms: 3, worstWriteP99Ms: 4 }, after: { seconds: 3, readsPerSec: 40_000, writesPerSec: 4_000, errors: 0, worstReadP99Ms: 3, worstWriteP99Ms: 4 } },
    }),
  ]
  const byId = Object.fromEntries(evaluateTargets(results).map((v) => [v.id, v.status]))
  assert.equal(byId, {
    'mixed-reads': 'PASS', 'mixed-writes': 'PASS', 'mixed-read-p99': 'PASS', 'mixed-write-p99': 'PASS', 'mixed-errors': 'PASS',
    'degraded-errors': 'FAIL', 'degraded-throughput': 'FAIL', 'bare-share': 'PASS',
  })
  const unissued = evaluateTargets([scenario('mixed', 100_500, 10_100, { unissued: 5 })]).find((v) => v.id === 'mixed-errors')
  assert.is(unissued?.status, 'FAIL', 'operations the cluster never got to count against the target')
  assert.is(evaluateTargets([]).every((v) => v.status === 'SKIP'), true)
  const c = comparisons(results)
  assert.is(c[0]?.ratio, '0.67x', '44,000 / 66,000 ops/s')
  assert.equal(cpuUsPerOp(results[1]!), { servers: Math.round(5e6 / 440_000), loadgen: Math.round(2e6 / 440_000) })
})

test('command line: defaults, lists and clear errors', () => {
  const parsed = parseConfig(['--scenario', 'reads,mixed', '--duration', '5', '--keys', '20k'])
  if (parsed === 'help') throw new Error('expected a config')
  const cfg = parsed
  assert.equal(cfg.scenarios, ['mixed', 'reads'], 'run order is fixed')
  assert.is(cfg.keys, 20_000)
  assert.equal([cfg.nodes, cfg.n, cfg.r, cfg.w], [3, 3, 2, 2])
  assert.throws(() => parseConfig(['--scenario', 'nope']), (e: Error) => e instanceof UsageError && /unknown 'nope'/.test(e.message))
  assert.throws(() => parseConfig(['--duration', '0']), (e: Error) => e instanceof UsageError && /--duration must be a number between 1/.test(e.message))
  assert.throws(() => parseConfig(['--r', '4']), (e: Error) => e instanceof UsageError && /--r must be a number between 1 and 3/.test(e.message))
  assert.throws(() => parseConfig(['--bogus']), (e: Error) => e instanceof UsageError)
})

test('the report: HTML with charts and tables, markdown with the same verdicts', () => {
  const cluster: ClusterRun = {
    benchmark: 'cluster', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:05:00Z', machine: machineInfo(),
    loadAverageAtEnd: [1, 1, 1], config: { nodes: 3, n: 3, r: 2, w: 2, keys: 1000, valueBytes: 1024, threads: 1, warmupSeconds: 5, durationSeconds: 10 },
    scenarios: [scenario('mixed-closed', 40_000, 4_000), scenario('bare', 60_000, 6_000), { ...scenario('redis', 0, 0), status: 'skipped', note: 'Redis: not installed, skipped' }],
    targets: [],
  }
  const html = renderSuiteHtml({ cluster, meta: { commit: 'abc1234', notes: ['a note & <more>'] } })
  assert.match(html, /^<!doctype html>/)
  assert.ok((html.match(/<svg /g) ?? []).length >= 4, 'latency curves, the peer bars and throughput over time')
  assert.match(html, /Read latency by percentile/)
  assert.match(html, /a note &amp; &lt;more&gt;/)
  assert.match(html, /Redis: not installed, skipped/)
  assert.match(html, /<h2>Engine<\/h2>\s*<p>not run<\/p>/)
  const md = renderSuiteMarkdown({ cluster })
  assert.match(md, /\| cluster \| ringkv mixed \(closed loop\) against the bare path, ops\/s \| >= 60% \| 67% \(44,000 \/ 66,000\) \| PASS \|/)
  assert.match(md, /mixed ops\/s: ringkv \(mixed-closed\) \/ bare/)
})

test.run()
