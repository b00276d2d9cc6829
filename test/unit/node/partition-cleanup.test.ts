// PartitionCleanup on its own: what it removes, and every condition under which it removes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PartitionCleanup } from '../../../src/node/partition-cleanup.ts'
import { ringState, type RingState } from '../../../src/node/ring-state.ts'
import { claim, partitionsReplicatedBy } from '../../../src/ring/index.ts'
import { VirtualClock, silentLogger } from '../../../src/runtime/index.ts'
import { MemoryStore } from '../../../src/storage/index.ts'
import { updateEnvelope } from '../../../src/versioning/index.ts'

const Q = 64
const three = claim(undefined, [{ id: 'a' }, { id: 'b' }, { id: 'c' }], { q: Q, n: 2 }).ring
const four = claim(three, [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }], { q: Q, n: 2 }).ring

function setup(state: RingState) {
  const clock = new VirtualClock({ startMs: 1_000 })
  const store = new MemoryStore()
  // One key in every partition: a replicates some of them under either ring.
  for (let p = 0; p < Q; p++) store.merge(p, Buffer.from(`k${p}`), updateEnvelope(undefined, undefined, 'w#1', { value: Buffer.from('v'), timestamp: 1 }))
  const membership = { ringState: state, laggingMembers: [] as string[], lagging: (_: string) => membership.laggingMembers, onRingChange: () => () => true }
  const cleanup = new PartitionCleanup({ self: 'a', membership, store, clock, logger: silentLogger, graceMs: 1000, intervalMs: 0, batch: 1 })
  cleanup.start()
  const held = async (): Promise<number[]> => {
    const out: number[] = []
    for (let p = 0; p < Q; p++) for await (const _ of store.scan(p)) out.push(p)
    return out
  }
  return { clock, membership, cleanup, held }
}

test('removes the data of the partitions the node does not replicate, after the grace period, and nothing else', async () => {
  const { clock, cleanup, held } = setup(ringState(3, four, undefined))
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0, skipped: 'grace period' })
  await clock.advance(1000)
  const kept = partitionsReplicatedBy(four, 'a')
  const report = await cleanup.sweep()
  assert.equal(report, { partitions: Q - kept.length, keys: Q - kept.length })
  assert.equal(await held(), kept)
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0 }, 'a second sweep finds nothing')
})

test('nothing goes while a ring change is pending: what the pending ring gains or still copies is protected', async () => {
  const { clock, cleanup, held } = setup(ringState(2, three, four))
  await clock.advance(5000)
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0, skipped: 'pending ring' })
  assert.is((await held()).length, Q)
})

test('nothing goes while a live member holds another ring; the grace period starts over once they agree', async () => {
  const { clock, membership, cleanup, held } = setup(ringState(3, four, undefined))
  membership.laggingMembers = ['c']
  await clock.advance(5000)
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0, skipped: 'ring not agreed' })
  membership.laggingMembers = []
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0, skipped: 'grace period' })
  await clock.advance(1000)
  assert.ok((await cleanup.sweep()).keys > 0)
  assert.equal(await held(), partitionsReplicatedBy(four, 'a'))
})

test('a ring that changes during a sweep stops it', async () => {
  const { clock, membership, cleanup, held } = setup(ringState(3, four, undefined))
  await clock.advance(1000)
  assert.equal(await cleanup.sweep(), { partitions: 0, keys: 0, skipped: 'grace period' })
  await clock.advance(1000)
  const sweeping = cleanup.sweep()
  membership.ringState = ringState(4, four, three) // a change begins: the pending ring gives partitions back
  const report = await sweeping
  assert.ok(report.partitions <= 1, `stopped after at most the partition in hand, removed ${report.partitions}`)
  assert.ok((await held()).length >= Q - 1)
})

test.run()
