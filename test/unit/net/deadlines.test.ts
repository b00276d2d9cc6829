import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { DeadlineQueue, type Expirable } from '../../../src/net/deadlines.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'

interface Entry extends Expirable {
  name: string
}
const entry = (name: string): Entry => ({ name, deadlineBucket: undefined, deadlineSlot: 0 })

test('entries expire at their own deadline, in order, across timeout values', async () => {
  const clock = new VirtualClock()
  const expired: string[] = []
  const queue = new DeadlineQueue<Entry>(clock, (e) => expired.push(`${e.name}@${clock.now()}`))
  queue.add(entry('a100'), 100)
  await clock.advance(10)
  queue.add(entry('b50'), 50)
  queue.add(entry('c100'), 100)
  await clock.advance(200)
  assert.equal(expired, ['b50@60', 'a100@100', 'c100@110'])
})

test('removed entries never expire; one timer per timeout value, not per entry', async () => {
  const clock = new VirtualClock()
  const expired: string[] = []
  const queue = new DeadlineQueue<Entry>(clock, (e) => expired.push(e.name))
  const entries = Array.from({ length: 1000 }, (_, i) => entry(String(i)))
  for (const e of entries) queue.add(e, 100)
  assert.is(clock.pendingTimers, 1)
  for (const e of entries) if (e.name !== '500') queue.remove(e)
  queue.remove(entries[0] as Entry) // twice is harmless
  await clock.advance(100)
  assert.equal(expired, ['500'])
  assert.is(clock.pendingTimers, 0)
})

test('an entry added from an expiry callback gets its full timeout', async () => {
  const clock = new VirtualClock()
  const expired: string[] = []
  const queue: DeadlineQueue<Entry> = new DeadlineQueue<Entry>(clock, (e) => {
    expired.push(`${e.name}@${clock.now()}`)
    if (e.name === 'first') queue.add(entry('second'), 30)
  })
  queue.add(entry('first'), 30)
  await clock.advance(100)
  assert.equal(expired, ['first@30', 'second@60'])
})

test('clear() cancels every timer', async () => {
  const clock = new VirtualClock()
  const expired: string[] = []
  const queue = new DeadlineQueue<Entry>(clock, (e) => expired.push(e.name))
  queue.add(entry('a'), 10)
  queue.add(entry('b'), 20)
  queue.clear()
  assert.is(clock.pendingTimers, 0)
  await clock.advance(100)
  assert.equal(expired, [])
})

test('property: each entry expires exactly once, at add time + timeout, unless removed first', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          delayBefore: fc.integer({ min: 0, max: 20 }),
          timeout: fc.constantFrom(5, 10, 50),
          removeAfter: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
        }),
        { maxLength: 40 },
      ),
      async (ops) => {
        const clock = new VirtualClock()
        const expiredAt = new Map<string, number>()
        const queue = new DeadlineQueue<Entry>(clock, (e) => {
          assert.not.ok(expiredAt.has(e.name), 'expired twice')
          expiredAt.set(e.name, clock.monotonic())
        })
        const expected = new Map<string, number | undefined>()
        for (const [i, op] of ops.entries()) {
          await clock.advance(op.delayBefore)
          const e = entry(String(i))
          const addedAt = clock.monotonic()
          queue.add(e, op.timeout)
          // A removal due at the very deadline races the expiry (either may win): move it 1 ms later.
          const removeAfter = op.removeAfter === op.timeout ? op.timeout + 1 : op.removeAfter
          const removed = removeAfter !== undefined && removeAfter < op.timeout
          expected.set(e.name, removed ? undefined : addedAt + op.timeout)
          if (removeAfter !== undefined) clock.setTimeout(() => queue.remove(e), removeAfter)
        }
        await clock.advance(1000)
        for (const [name, at] of expected) assert.is(expiredAt.get(name), at, `entry ${name}`)
        assert.is(clock.pendingTimers, 0)
      },
    ),
    { numRuns: 200 },
  )
})

test.run()
