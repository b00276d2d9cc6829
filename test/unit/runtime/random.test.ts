import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { SeededRandom, systemRandom } from '../../../src/runtime/random.ts'

const draw = (seed: number, n: number): number[] => {
  const r = new SeededRandom(seed)
  return Array.from({ length: n }, () => r.nextUint32())
}

test('the same seed gives the same sequence', () => {
  fc.assert(
    fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (seed) => {
      assert.equal(draw(seed, 32), draw(seed, 32))
    }),
    { numRuns: 200 },
  )
})

test('pinned output: a seed replays identically across releases', () => {
  // If this changes, every saved simulator seed stops reproducing: change the generator only deliberately.
  assert.equal(draw(42, 4), PINNED_42)
})

test('different seeds (0, 1, -1, 2^32) give different streams', () => {
  const streams = [0, 1, -1, 2 ** 32, 2 ** 32 + 1].map((seed) => draw(seed, 8).join(','))
  assert.is(new Set(streams).size, streams.length)
})

test('next() is in [0, 1) and int(bound) in [0, bound)', () => {
  const r = new SeededRandom(7)
  for (let i = 0; i < 10_000; i++) {
    const x = r.next()
    assert.ok(x >= 0 && x < 1)
    const k = r.int(10)
    assert.ok(Number.isInteger(k) && k >= 0 && k < 10)
  }
  assert.ok(r.int(2 ** 32) < 2 ** 32)
  assert.is(r.int(1), 0)
})

test('int(bound) is roughly uniform', () => {
  const r = new SeededRandom(123)
  const counts = new Array<number>(6).fill(0)
  const n = 60_000
  for (let i = 0; i < n; i++) counts[r.int(6)]! += 1
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < n / 6 * 0.05, `bucket count ${c}`)
})

test('int rejects bad bounds with a RangeError naming the argument', () => {
  const r = new SeededRandom(1)
  for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
    assert.throws(() => r.int(bad), (e: unknown) => e instanceof RangeError && /bound must be/.test(e.message))
  }
  assert.throws(() => new SeededRandom(1.5), /seed must be a safe integer/)
})

test('fill covers odd lengths deterministically; fork gives an independent reproducible stream', () => {
  const a = new SeededRandom(9).fill(new Uint8Array(7))
  const b = new SeededRandom(9).fill(new Uint8Array(7))
  assert.equal(a, b)
  const fa = new SeededRandom(9).fork()
  const fb = new SeededRandom(9).fork()
  assert.is(fa.nextUint32(), fb.nextUint32())
  assert.is.not(new SeededRandom(9).fork().seed, 9)
})

test('systemRandom draws values in range', () => {
  const seen = new Set<number>()
  for (let i = 0; i < 1000; i++) seen.add(systemRandom.nextUint32())
  assert.ok(seen.size > 990)
  const bytes = systemRandom.fill(new Uint8Array(70_000))
  assert.ok(bytes.some((x) => x !== 0))
})

const PINNED_42 = [131339294, 1640464037, 3806549446, 4218314521]
test.run()
