// The speculative-retry delay (src/node/replica-latency.ts): the p99 of recent replica latencies, and the
// selection it is computed with.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ReplicaLatency, select } from '../../../src/node/replica-latency.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'

test('select returns what sorting would, on random, sorted, reversed, constant and tied inputs', () => {
  const random = new SeededRandom(7)
  const inputs: number[][] = [[5], [2, 1], [1, 1, 1, 1], [3, 1, 2, 3, 1, 2]]
  for (const n of [3, 10, 100, 1024]) {
    inputs.push(Array.from({ length: n }, () => random.next() * 50))
    inputs.push(Array.from({ length: n }, (_, i) => i))
    inputs.push(Array.from({ length: n }, (_, i) => n - i))
    inputs.push(Array.from({ length: n }, () => 4))
    inputs.push(Array.from({ length: n }, () => Math.floor(random.next() * 3)))
  }
  for (const input of inputs) {
    const sorted = [...input].sort((a, b) => a - b)
    for (const k of new Set([0, input.length - 1, Math.floor(input.length / 2), Math.floor(input.length * 0.99)])) {
      const a = Float64Array.from(input)
      assert.is(select(a, input.length, k), sorted[k], `k=${k} of ${input.length}: ${input.slice(0, 8).join(',')}...`)
    }
  }
})

test('select looks only at the first n elements', () => {
  assert.is(select(Float64Array.from([9, 8, 7, 1, 0]), 3, 0), 7)
})

test('the delay is the p99 of the window, rounded up and clamped, recomputed every 256 samples', () => {
  const latency = new ReplicaLatency({ initialMs: 10, minMs: 2, maxMs: 40 })
  assert.is(latency.speculateAfterMs(), 10)
  for (let i = 0; i < 255; i++) latency.record(1)
  assert.is(latency.speculateAfterMs(), 10, 'not recomputed before 256 samples')
  latency.record(1)
  assert.is(latency.speculateAfterMs(), 2, 'a p99 of 1 ms is clamped to minMs')
  // 1024 samples: 1000 at 3.2 ms, 24 at 100 ms -> the p99 (index 1013) is 100, clamped to 40.
  for (let i = 0; i < 1000; i++) latency.record(3.2)
  for (let i = 0; i < 24; i++) latency.record(100)
  assert.is(latency.speculateAfterMs(), 40)
  for (let i = 0; i < 1024; i++) latency.record(i < 1020 ? 3.2 : 100)
  assert.is(latency.speculateAfterMs(), 4, 'the p99 of 3.2 ms rounds up')
})

test.run()
