import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { TokenBucket } from '../../../src/handoff/index.ts'
import { VirtualClock } from '../../../src/runtime/index.ts'

/** Takes `cost` each time the bucket allows, waiting on the clock as told, until `until` ms; returns the total. */
async function drain(clock: VirtualClock, bucket: TokenBucket, cost: number, until: number): Promise<number> {
  let taken = 0
  while (clock.monotonic() < until) {
    const wait = bucket.delay()
    if (wait > 0) {
      await clock.advance(wait)
      continue
    }
    bucket.take(cost)
    taken += cost
  }
  return taken
}

test('the long-run rate holds: a burst, then the rate', async () => {
  const clock = new VirtualClock()
  const bucket = new TokenBucket(clock, 100)
  const taken = await drain(clock, bucket, 1, 10_000)
  // One second of burst plus ten seconds at 100/s, give or take the last wait.
  assert.ok(taken >= 1090 && taken <= 1101, `took ${taken}`)
})

test('costs larger than the burst still go, and the debt is paid back before the next', async () => {
  const clock = new VirtualClock()
  const bucket = new TokenBucket(clock, 1000, 1000)
  assert.is(bucket.delay(), 0)
  bucket.take(5000)
  const wait = bucket.delay()
  assert.ok(wait >= 4000 && wait <= 4001, `waits ${wait} ms`)
  await clock.advance(wait - 1)
  assert.ok(bucket.delay() > 0)
  await clock.advance(1)
  assert.is(bucket.delay(), 0)
  const taken = await drain(clock, bucket, 5000, clock.monotonic() + 20_000)
  assert.ok(taken >= 20_000 && taken <= 25_000, `${taken} bytes in 20 s at 1000/s`)
})

test('bad rates are refused by name', () => {
  const clock = new VirtualClock()
  assert.throws(() => new TokenBucket(clock, 0), /ratePerSec/)
  assert.throws(() => new TokenBucket(clock, Infinity), /ratePerSec/)
  assert.throws(() => new TokenBucket(clock, 10, -1), /burst/)
})

test.run()
