// A seed is a replayable run: the same seed gives the same trace (every network delivery with its bytes, every
// fault, every operation and its outcome, hashed) and the same figures; another seed gives another run.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runScenario } from './scenario.ts'
import { partitions } from './scenarios.ts'

test('one seed twice: the same trace hash; another seed: a different one', async () => {
  const short = { ...partitions, durationMs: 6000 }
  const a = await runScenario(short, 11)
  const b = await runScenario(short, 11)
  const c = await runScenario(short, 12)
  for (const r of [a, b, c]) assert.ok(r.ok, r.details.join('\n'))
  assert.ok(a.trace.events > 1000, `a real run traces many events (${a.trace.events})`)
  assert.is(b.trace.hash, a.trace.hash)
  assert.is(b.trace.events, a.trace.events)
  const { realMs: _a, ...figuresA } = a.stats
  const { realMs: _b, ...figuresB } = b.stats
  assert.equal(figuresB, figuresA)
  assert.is.not(c.trace.hash, a.trace.hash)
})

test.run()
