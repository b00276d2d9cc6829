// Hints whose target no longer replicates their partition (it left, or a join or decommission moved the
// partition) go to the partition's replicas under the settled ring instead -- never while a change is pending.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeReplicaPut, encodeReplicaPutReply } from '../../../src/cluster/messages.ts'
import { RingkvError } from '../../../src/errors.ts'
import { HintDelivery, HintStore, MemoryHintBacking } from '../../../src/handoff/index.ts'
import { VirtualClock, silentLogger } from '../../../src/runtime/index.ts'
import { updateEnvelope } from '../../../src/versioning/index.ts'

async function setup(options: { down?: string[]; failing?: string[] } = {}) {
  const clock = new VirtualClock({ startMs: 1_700_000_000_000 })
  const store = await HintStore.open(new MemoryHintBacking(), { maxBytes: 1 << 20, maxAgeMs: 3_600_000, clock })
  const down = new Set(options.down ?? [])
  const failing = new Set(options.failing ?? [])
  const sent: string[] = []
  let placement: ((partition: number) => readonly string[] | undefined) | undefined = () => undefined
  const delivery = new HintDelivery({
    store,
    peers: {
      request: async (node, _type, payload) => {
        const put = decodeReplicaPut(payload)
        sent.push(`${node}:${put.partition}:${Buffer.from(put.key).toString()}`)
        if (down.has(node) || failing.has(node)) throw new RingkvError('ERR_CONNECT_FAILED', `${node} is down`)
        return encodeReplicaPutReply(false)
      },
    },
    liveness: { isAlive: (node) => !down.has(node), onAlive: () => () => true },
    clock,
    logger: silentLogger,
    ratePerSec: 1000,
    bytesPerSec: 1 << 24,
    intervalMs: 1000,
    timeoutMs: 1000,
    placement: (p) => placement?.(p),
  })
  const hint = (target: string, partition: number, key: string) =>
    store.add(target, partition, Buffer.from(key), updateEnvelope(undefined, undefined, 'w#1/0', { value: Buffer.from('v'), timestamp: 1 }))
  return {
    store, delivery, sent, down, failing, hint,
    setPlacement: (f: typeof placement) => (placement = f),
  }
}

test("a hint whose partition moved away from its target goes to the partition's replicas, even with the target down", async () => {
  const t = await setup({ down: ['c'] })
  t.hint('c', 5, 'moved')
  t.setPlacement((p) => (p === 5 ? ['a', 'd'] : undefined))
  await t.delivery.tick()
  assert.equal(t.sent.sort(), ['a:5:moved', 'd:5:moved'])
  assert.is(t.store.target('c').pending, 0, 'deleted once every replica acknowledged')
  assert.is(t.delivery.stats().retargeted, 1)
})

test('while a ring change is pending (no placement), hints wait for their target', async () => {
  const t = await setup({ down: ['c'] })
  t.hint('c', 5, 'waiting')
  t.setPlacement(() => undefined)
  await t.delivery.tick()
  assert.equal(t.sent, [])
  assert.is(t.store.target('c').pending, 1)
})

test('a target that still replicates the partition gets its hint as before', async () => {
  const t = await setup()
  t.hint('c', 5, 'stays')
  t.setPlacement(() => ['a', 'c'])
  await t.delivery.tick()
  assert.equal(t.sent, ['c:5:stays'])
  assert.is(t.delivery.stats().delivered, 1)
  assert.is(t.delivery.stats().retargeted, 0)
})

test('a new replica that fails keeps the hint for the next tick; this node as the only replica drops it', async () => {
  const t = await setup({ down: ['c'], failing: ['d'] })
  t.hint('c', 5, 'retry')
  t.setPlacement(() => ['a', 'd'])
  await t.delivery.tick()
  assert.is(t.store.target('c').pending, 1, 'd failed: kept')
  t.failing.clear()
  await t.delivery.tick()
  assert.is(t.store.target('c').pending, 0)
  t.hint('c', 6, 'mine')
  t.setPlacement(() => [])
  await t.delivery.tick()
  assert.is(t.store.target('c').pending, 0, 'this node is the only replica and has the write')
})

test.run()
