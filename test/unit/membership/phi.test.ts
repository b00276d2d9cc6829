import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { PhiAccrualDetector, phiOf } from '../../../src/membership/phi.ts'

/** Heartbeats from `peer` every `everyMs`, `count` times, starting at `startMs`; returns the last time. */
function train(d: PhiAccrualDetector, peer: string, everyMs: number, count: number, startMs = 0): number {
  let t = startMs
  for (let i = 0; i < count; i++, t += everyMs) d.heartbeat(peer, t)
  return t - everyMs
}

test('an unknown peer has phi 0 and is available', () => {
  const d = new PhiAccrualDetector()
  assert.is(d.phi('nobody', 1e9), 0)
  assert.ok(d.isAvailable('nobody', 1e9))
  assert.not.ok(d.has('nobody'))
  assert.is(d.sampleCount('nobody'), 0)
})

test('after one heartbeat phi uses the first-heartbeat estimate', () => {
  const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 1000 })
  d.heartbeat('a', 10_000)
  assert.is(d.sampleCount('a'), 2)
  assert.is(d.meanIntervalMs('a'), 1000)
  assert.ok(d.phi('a', 10_500) < 1)
  assert.ok(d.isAvailable('a', 11_000))
  assert.not.ok(d.isAvailable('a', 10_000 + 60_000))
})

test('phi rises monotonically with silence', () => {
  const d = new PhiAccrualDetector()
  const last = train(d, 'a', 1000, 50)
  let previous = -1
  for (let t = last; t <= last + 20_000; t += 100) {
    const phi = d.phi('a', t)
    assert.ok(Number.isFinite(phi), `phi at ${t - last} ms is finite`)
    assert.ok(phi >= previous, `phi does not fall with silence (${t - last} ms)`)
    previous = phi
  }
  assert.ok(previous > 100)
})

test('phi falls back after a heartbeat', () => {
  const d = new PhiAccrualDetector()
  const last = train(d, 'a', 1000, 50)
  assert.ok(d.phi('a', last + 8000) > 8)
  d.heartbeat('a', last + 8000)
  assert.ok(d.phi('a', last + 8100) < 1)
  assert.ok(d.isAvailable('a', last + 8100))
})

test('adapts to the interval: a 5 s peer is fine after 2 s, a 1 s peer is suspected after several seconds', () => {
  const d = new PhiAccrualDetector()
  const slow = train(d, 'slow', 5000, 40)
  const fast = train(d, 'fast', 1000, 40)
  assert.ok(d.phi('slow', slow + 2000) < 0.5, `slow peer phi after 2 s: ${d.phi('slow', slow + 2000)}`)
  assert.ok(d.isAvailable('slow', slow + 6000))
  assert.ok(d.isAvailable('fast', fast + 2000))
  assert.not.ok(d.isAvailable('fast', fast + 8000), `fast peer phi after 8 s: ${d.phi('fast', fast + 8000)}`)
  // Where the threshold falls: mean 1 s + 3 s pause + ~5.2 x 0.5 s minimum deviation, about 6.6 s.
  let t = fast
  while (d.isAvailable('fast', t)) t += 10
  assert.ok(t - fast > 5000 && t - fast < 8000, `1 s peer suspected after ${t - fast} ms`)
  let u = slow
  while (d.isAvailable('slow', u)) u += 10
  assert.ok(u - slow > 10_000, `5 s peer suspected after ${u - slow} ms`)
})

test('jittery heartbeats widen the tolerance', () => {
  const regular = new PhiAccrualDetector()
  const jittery = new PhiAccrualDetector()
  const a = train(regular, 'p', 1000, 200)
  let t = 0
  for (let i = 0; i < 200; i++) {
    jittery.heartbeat('p', t)
    t += i % 2 === 0 ? 200 : 1800 // mean 1000, deviation 800
  }
  const b = t - 1800
  assert.ok(jittery.phi('p', b + 7000) < regular.phi('p', a + 7000))
})

test('memory is bounded by the window', () => {
  const d = new PhiAccrualDetector({ windowSize: 16 })
  train(d, 'a', 1000, 1000)
  assert.is(d.sampleCount('a'), 16)
  // The old samples (including the first-heartbeat seeds) have left the window: the mean is exact.
  assert.is(d.meanIntervalMs('a'), 1000)
})

test('the window forgets an old rate', () => {
  const d = new PhiAccrualDetector({ windowSize: 20 })
  const t = train(d, 'a', 5000, 30)
  const last = train(d, 'a', 1000, 30, t + 1000)
  assert.is(d.meanIntervalMs('a'), 1000)
  assert.not.ok(d.isAvailable('a', last + 8000))
})

test('an outage-length gap is not recorded as a sample', () => {
  const d = new PhiAccrualDetector({ maxSampleMs: 10_000 })
  const last = train(d, 'a', 1000, 50)
  const before = d.sampleCount('a')
  d.heartbeat('a', last + 120_000)
  assert.is(d.sampleCount('a'), before)
  assert.is(d.meanIntervalMs('a'), 1000)
  assert.ok(d.isAvailable('a', last + 120_500))
})

test('time going backwards is ignored; remove forgets a peer', () => {
  const d = new PhiAccrualDetector()
  const last = train(d, 'a', 1000, 10)
  const count = d.sampleCount('a')
  d.heartbeat('a', last - 500)
  assert.is(d.sampleCount('a'), count)
  assert.is(d.phi('a', last - 1000), 0)
  d.remove('a')
  assert.not.ok(d.has('a'))
  assert.is(d.size, 0)
})

test('phiOf: monotone in elapsed time, finite, 0.3 at the mean', () => {
  assert.ok(Math.abs(phiOf(1000, 1000, 100) - Math.log10(2)) < 1e-12)
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      fc.double({ min: 1, max: 1e5, noNaN: true }),
      fc.double({ min: 1, max: 1e4, noNaN: true }),
      (x, dx, mean, std) => {
        const a = phiOf(x, mean, std)
        const b = phiOf(x + dx, mean, std)
        assert.ok(Number.isFinite(a) && a >= 0)
        assert.ok(b >= a)
      },
    ),
  )
})

test('options are validated', () => {
  assert.throws(() => new PhiAccrualDetector({ windowSize: 1 }), /windowSize/)
  assert.throws(() => new PhiAccrualDetector({ minStdDeviationMs: 0 }), /minStdDeviationMs/)
  assert.throws(() => new PhiAccrualDetector({ acceptablePauseMs: -1 }), /acceptablePauseMs/)
  assert.throws(() => new PhiAccrualDetector({ firstHeartbeatEstimateMs: Number.NaN }), /firstHeartbeatEstimateMs/)
})

test.run()
