// Seed bookkeeping: failed seeds are kept (once) and always run, with the length they failed at; a failure is
// printed seed first, with the command that replays it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { RunReport } from './scenario.ts'
import { formatFailure, readFailedSeeds, recordFailure, seedsFor } from './seeds.ts'

const report = (scenario: string, seed: number): RunReport =>
  ({
    scenario,
    seed,
    ok: false,
    violations: [{ check: 'lost', message: 'acknowledged #3 is missing', ops: [3] }],
    counts: { lost: 1 },
    error: undefined,
    stats: {} as RunReport['stats'],
    figures: {},
    trace: { hash: 'ab'.repeat(32), events: 10 },
    details: ['lost: acknowledged #3 is missing'],
  }) as RunReport

test('failed seeds are recorded once each and run after the regular ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-seeds-'))
  const file = join(dir, 'failed.json')
  const saved = process.env['RINGKV_SIM_RECORD']
  delete process.env['RINGKV_SIM_RECORD']
  try {
    assert.equal(seedsFor('p', 2, 1, file), [{ seed: 1 }, { seed: 2 }], 'no file yet: just the regular seeds')
    assert.ok(recordFailure(report('p', 40), undefined, file))
    assert.not.ok(recordFailure(report('p', 40), undefined, file), 'kept once')
    assert.ok(recordFailure(report('p', 40), 90_000, file), 'the same seed at another length is another run')
    assert.ok(recordFailure(report('q', 2), undefined, file))
    assert.equal(seedsFor('p', 2, 1, file), [{ seed: 1 }, { seed: 2 }, { seed: 40, durationMs: undefined }, { seed: 40, durationMs: 90_000 }])
    assert.equal(seedsFor('q', 2, 1, file), [{ seed: 1 }, { seed: 2 }], 'a seed already in the range runs once')
    assert.is(readFailedSeeds(file)[0]!.first, 'acknowledged #3 is missing')
    process.env['RINGKV_SIM_RECORD'] = '0'
    assert.not.ok(recordFailure(report('r', 1), undefined, file), 'recording can be turned off')
    writeFileSync(file, '{"not": "a list"}')
    assert.throws(() => readFailedSeeds(file), /must be an array/)
    writeFileSync(file, '[{')
    assert.throws(() => readFailedSeeds(file), /not valid JSON/)
  } finally {
    if (saved === undefined) delete process.env['RINGKV_SIM_RECORD']
    else process.env['RINGKV_SIM_RECORD'] = saved
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a failure report starts with SEED=n and the replay command', () => {
  const text = formatFailure(report('partitions', 17), 60_000)
  const [first, second] = text.split('\n')
  assert.is(first, 'SEED=17 scenario=partitions failed')
  assert.is(second, 'replay: npm run test:sim -- --scenario partitions --seed 17 --duration 60000')
  assert.match(text, 'lost: acknowledged #3 is missing')
})

test.run()
