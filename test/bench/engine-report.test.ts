// The engine benchmark's pure parts: the seeded workload, table rendering and the target verdicts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { EngineRun, RunResult } from '../../bench/engine/summary.ts'
import { evaluateTargets } from '../../bench/engine/summary.ts'
import type { PhaseId, PhaseResult } from '../../bench/engine/phases.ts'
import { KEY_BYTES, Workload } from '../../bench/engine/workload.ts'
import { renderMarkdown, renderText } from '../../bench/lib/report.ts'
import { machineInfo } from '../../bench/lib/machine.ts'

test('the workload is a function of its seed', () => {
  const a = new Workload(7, 1000)
  const b = new Workload(7, 1000)
  const c = new Workload(8, 1000)
  assert.ok(a.key(123).equals(b.key(123)))
  assert.not.ok(a.key(123).equals(c.key(123)))
  assert.ok(a.values('x').chunk(3)[2]!.equals(b.values('x').chunk(3)[2]!))
  assert.equal(Array.from(a.picks('p', 5)), Array.from(b.picks('p', 5)))
})

test('loaded keys and missing keys never meet (last byte even / odd)', () => {
  const w = new Workload(1, 1000)
  for (let i = 0; i < 1000; i++) assert.is(w.key(i)[KEY_BYTES - 1]! & 1, 0)
  for (const k of w.missingKeys('m', 1000)) assert.is(k[KEY_BYTES - 1]! & 1, 1)
  assert.is(w.key(0).length, KEY_BYTES)
})

test('tables render as aligned text and as markdown', () => {
  const table = { headers: ['phase', 'ops/s'], rows: [['read', '1,000'], ['scan | x', '20']] }
  assert.equal(renderText(table).split('\n'), ['phase     ops/s', '--------  -----', 'read      1,000', 'scan | x     20'])
  assert.match(renderMarkdown(table), '| scan \\| x | 20 |')
})

function phase(id: PhaseId, opsPerSec: number): PhaseResult {
  const latency = { count: 1, meanUs: 1, p50Us: 1, p99Us: 1, p999Us: 1, maxUs: 1 }
  return { id, ops: 1, plannedOps: 1, seconds: 1, opsPerSec, latency, timing: 'per-op', stoppedEarly: false, detail: {} }
}

function engine(name: EngineRun['name'], phases: PhaseResult[], extra: Partial<EngineRun> = {}): EngineRun {
  const m = { put: '', putBatch: '', getSync: '', getAsync: '', scan: '', durable: '', compact: '' }
  return { name, label: name, status: 'ok', methods: m, loadedKeys: 1, extraKeys: 0, phases, seconds: 1, ...extra }
}

function result(engines: EngineRun[], only = ['load', 'read', 'missing', 'scan', 'size', 'durable', 'native']): Omit<RunResult, 'targets'> {
  return {
    benchmark: 'engine',
    formatVersion: 1,
    startedAt: '',
    finishedAt: '',
    durationSeconds: 1,
    machine: machineInfo(),
    loadAverageAtEnd: [0, 0, 0],
    config: { keys: 1, keyBytes: 16, valueBytes: 1024, seed: 1, engines: ['ringkv', 'lmdb', 'level'], only, phaseCapSeconds: 30, plannedOps: {} },
    baselines: {},
    engines,
  }
}

test('targets: ratios against lmdb, the fsync baseline and raw size', () => {
  const ringkv = engine('ringkv', [
    phase('read.sync', 300),
    phase('load.single', 199),
    phase('load.batch', 100),
    phase('fsync', 100),
    phase('durable.async64', 1000),
  ], { size: { compacted: true, compactSeconds: 1, diskBytes: 120, apparentBytes: 120, rawBytes: 100 } })
  const lmdb = engine('lmdb', [phase('read.sync', 300), phase('load.single', 100), phase('load.batch', 101)])
  const byId = Object.fromEntries(evaluateTargets(result([ringkv, lmdb])).map((t) => [t.id, t.status]))
  assert.equal(byId, {
    'sync-reads': 'PASS',
    'unbatched-writes': 'FAIL',
    'batched-writes': 'FAIL',
    'missing-reads': 'SKIP',
    scans: 'SKIP',
    'group-commit': 'PASS',
    space: 'PASS',
  })
})

test('targets: a requested ringkv that could not run is an error, not a skip', () => {
  const ringkv = engine('ringkv', [], { status: 'unavailable', error: 'ringkv engine not built yet' })
  const lmdb = engine('lmdb', [phase('read.sync', 300)])
  const targets = evaluateTargets(result([ringkv, lmdb], ['read']))
  assert.is(targets.find((t) => t.id === 'sync-reads')?.status, 'ERROR')
  assert.is(targets.find((t) => t.id === 'scans')?.status, 'SKIP')
})

test.run()
