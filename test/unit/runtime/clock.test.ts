import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock, sleep, systemClock } from '../../../src/runtime/clock.ts'

test('virtual timers run in due-time order, ties in scheduling order, only when time advances', async () => {
  const clock = new VirtualClock({ startMs: 1000 })
  const log: string[] = []
  clock.setTimeout(() => log.push('b@20'), 20)
  clock.setTimeout(() => log.push('a@10'), 10)
  clock.setTimeout(() => log.push('c@20'), 20)
  clock.setImmediate(() => log.push('now'))
  assert.equal(log, [])
  await clock.advance(15)
  assert.equal(log, ['now', 'a@10'])
  assert.is(clock.now(), 1015)
  assert.is(clock.monotonic(), 15)
  await clock.advance(5)
  assert.equal(log, ['now', 'a@10', 'b@20', 'c@20'])
  assert.is(clock.pendingTimers, 0)
})

test('clearTimeout, intervals without drift, clearInterval from inside the callback', async () => {
  const clock = new VirtualClock()
  const hits: number[] = []
  const cancelled = clock.setTimeout(() => hits.push(-1), 5)
  clock.clearTimeout(cancelled)
  const interval = clock.setInterval(() => {
    hits.push(clock.now())
    if (hits.length === 3) clock.clearInterval(interval)
  }, 10)
  await clock.advance(100)
  assert.equal(hits, [10, 20, 30])
  assert.is(clock.pendingTimers, 0)
})

test('promise continuations of one timer settle before the next timer runs', async () => {
  const clock = new VirtualClock()
  const log: string[] = []
  clock.setTimeout(() => {
    void Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => log.push('continuation'))
  }, 1)
  clock.setTimeout(() => log.push('second timer'), 1)
  await clock.advance(1)
  assert.equal(log, ['continuation', 'second timer'])
})

test('timers scheduled by timers run within the same advance when due', async () => {
  const clock = new VirtualClock()
  const log: number[] = []
  clock.setTimeout(() => clock.setTimeout(() => log.push(clock.now()), 5), 5)
  await clock.advance(10)
  assert.equal(log, [10])
})

test('sleep() on an auto-advancing clock takes virtual, not real, time', async () => {
  const clock = new VirtualClock({ autoAdvance: true })
  const started = performance.now()
  await sleep(clock, 60_000)
  assert.is(clock.now(), 60_000)
  assert.ok(performance.now() - started < 1000)
})

test('runUntilIdle stops runaway intervals at its bound', async () => {
  const clock = new VirtualClock()
  clock.setInterval(() => {}, 1)
  try {
    await clock.runUntilIdle(100)
    assert.unreachable('should throw')
  } catch (error) {
    assert.instance(error, RangeError)
  }
})

test('systemClock reads real time and runs real timers', async () => {
  const before = systemClock.now()
  const t0 = systemClock.monotonic()
  await sleep(systemClock, 5)
  assert.ok(systemClock.monotonic() - t0 >= 4)
  assert.ok(systemClock.now() >= before)
  let ran = false
  const handle = systemClock.setImmediate(() => (ran = true))
  systemClock.clearImmediate(handle)
  await sleep(systemClock, 1)
  assert.is(ran, false)
})

test.run()
