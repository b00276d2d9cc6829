// Sloppy quorum and hinted handoff end to end, on an in-process cluster of real nodes (cluster-harness.ts):
// 4 nodes, N=3, so each key has 3 primaries and 1 fallback.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { tempDir } from '../../native/helpers.ts'
import { encodeHintedPut } from '../../../src/handoff/index.ts'
import { decodeReplicaPutReply } from '../../../src/cluster/messages.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { partitionOf } from '../../../src/ring/index.ts'
import { encodeEnvelope, updateEnvelope } from '../../../src/versioning/index.ts'
import { Engine } from '../../../src/engine/index.ts'
import { encodeStorageKey, MAX_KEY_BYTES } from '../../../src/storage/index.ts'
import { HandoffCluster } from './cluster-harness.ts'

const b = (s: string): Buffer => Buffer.from(s)

async function withCluster(options: Parameters<typeof HandoffCluster.start>[0], body: (c: HandoffCluster) => Promise<void>): Promise<void> {
  const cluster = await HandoffCluster.start(options)
  try {
    await body(cluster)
  } catch (e) {
    // uvu formats a failure's `details` as an assertion diff (a string); a RingkvError's details object
    // would make it drop the failure silently, so it fails as a plain Error carrying them.
    if (isRingkvError(e)) throw new Error(`${e.code}: ${e.message} ${JSON.stringify(e.details ?? {})}`, { cause: e })
    throw e
  } finally {
    await cluster.close()
  }
}

test('one primary down: a W=2 write succeeds, the fallback keeps a hint, delivers it on return, deletes it', async () => {
  await withCluster({ nodes: 4 }, async (c) => {
    const key = c.keyWithPrimaries(['n1', 'n2', 'n3'])
    const [fallback] = c.fallbacksOf(key)
    assert.is(fallback, 'n4')
    await c.stop('n3')
    const put = await c.node('n1').service.put(key, b('v1'), { w: 2 })
    assert.ok(put.context)
    // All three acks count: n1, n2 and the fallback standing in for n3.
    assert.is(c.node('n1').stats().coordinator.fallbackWrites, 1)
    assert.is(c.node('n1').stats().coordinator.localHints, 0)
    let hints = c.node('n4').stats().hints
    assert.is(hints.pending, 1)
    assert.is(hints.stored, 1)
    assert.equal(await c.values('n4', key), [], 'a hint is not replica data')
    // W=3 also succeeds: the fallback's ack counts toward W ...
    await c.node('n1').service.put(key, b('v2'), { w: 3, context: put.context })
    assert.is(c.node('n4').stats().hints.pending, 1, 'collapsed into the same hint')
    // ... but not toward PW: with two primaries up, PW=3 is out of reach before anything is sent back.
    const e = await c.node('n1').service.put(key, b('v3-unacknowledged'), { w: 3, pw: 3 }).then(() => undefined, (x: unknown) => x)
    assert.ok(isRingkvError(e, 'ERR_QUORUM'), String(e))
    assert.is((e as { details?: { primaryRequired?: number } }).details?.primaryRequired, 3)
    assert.match((e as Error).message, /of 3 primaries/)
    await c.node('n1').service.put(key, b('v3'), { w: 3, pw: 2 })

    await c.restart('n3')
    const took = await c.waitFor(() => c.node('n4').stats().hints.pending === 0, 'the hint is delivered')
    hints = c.node('n4').stats().hints
    assert.is(hints.delivered, 1)
    assert.is(hints.deliveryFailures, 0)
    // ERR_QUORUM means "not acknowledged", not "not written": that write travels with the rest.
    assert.equal(await c.values('n3', key), ['v2', 'v3', 'v3-unacknowledged'], 'the returning replica has what it missed')
    assert.equal(await c.values('n3', key), await c.values('n1', key))
    assert.ok(took <= 1000, `delivered within ${took} ms of virtual time after the target came back`)
  })
})

test('sloppy quorum: two primaries down, W=2 is met by the coordinator and the fallback; both get the write back', async () => {
  await withCluster({ nodes: 4 }, async (c) => {
    const key = c.keyWithPrimaries(['n1', 'n2', 'n3'])
    await c.stop('n2')
    await c.stop('n3')
    await c.node('n1').service.put(key, b('while-down'), { w: 2 })
    // The one fallback stands in for n2; nothing is left to stand in for n3, so n1 keeps that hint.
    assert.is(c.node('n4').stats().hints.pending, 1)
    assert.is(c.node('n1').stats().hints.pending, 1)
    assert.is(c.node('n1').stats().coordinator.localHints, 1)
    // W=3 cannot be met with one primary and one fallback: a quorum error, but the hints are still kept.
    const e = await c.node('n1').service.put(key, b('w3'), { w: 3 }).then(() => undefined, (x: unknown) => x)
    assert.ok(isRingkvError(e, 'ERR_QUORUM'), String(e))
    assert.is(c.node('n1').stats().hints.pending, 1, 'collapsed')

    await c.restart('n2')
    await c.restart('n3')
    await c.waitFor(() => c.ids.every((id) => c.node(id).stats().hints.pending === 0), 'every hint delivered')
    for (const id of ['n2', 'n3']) assert.equal(await c.values(id, key), ['w3', 'while-down'], id)
    assert.equal(await c.values('n4', key), [], 'the fallback keeps no replica copy')
    const read = await c.node('n2').service.get(key, { r: 3 })
    assert.equal(read.siblings.map((s) => s.value.toString()).sort(), ['w3', 'while-down'])
  })
})

test('a primary believed up that fails the write gets a hint from the coordinator; the tick retries until it is back', async () => {
  await withCluster({ nodes: 4, hints: { deliveryIntervalMs: 500 } }, async (c) => {
    const key = c.keyWithPrimaries(['n1', 'n2', 'n3'])
    await c.stop('n3', { tell: false }) // no failure detector noticed
    await c.node('n1').service.put(key, b('v'), { w: 2 })
    assert.is(c.node('n1').stats().coordinator.fallbackWrites, 0, 'no fallback: n3 was believed up')
    await c.waitFor(() => c.node('n1').stats().hints.pending === 1, 'the failed replica gets a hint')
    await c.waitFor(() => c.node('n1').stats().hints.deliveryFailures >= 2, 'delivery is retried while n3 is away')
    assert.is(c.node('n1').stats().hints.pending, 1)
    await c.restart('n3')
    await c.waitFor(() => c.node('n1').stats().hints.pending === 0, 'delivered on a tick')
    assert.equal(await c.values('n3', key), ['v'])
  })
})

test('overflow drops the oldest hints (counted) and every client write still succeeds', async () => {
  const maxBytes = 64 * 1024
  await withCluster({ nodes: 4, hints: { maxBytes } }, async (c) => {
    await c.stop('n3')
    const keys: Buffer[] = []
    for (let i = 0; keys.length < 120; i++) {
      const key = c.keyWithPrimaries(['n1', 'n2', 'n3'], `bulk-${i}`)
      if (!keys.some((k) => k.equals(key))) keys.push(key)
    }
    for (const key of keys) await c.node('n1').service.put(key, Buffer.alloc(1024, 7), { w: 3 })
    const hints = c.node('n4').stats().hints
    assert.ok(hints.droppedOverflow > 0, `dropped ${hints.droppedOverflow}`)
    assert.is(hints.pending + hints.droppedOverflow, keys.length)
    assert.ok(hints.pendingBytes <= maxBytes)
    assert.is(c.node('n1').stats().coordinator.quorumFailures, 0)
    await c.restart('n3')
    await c.waitFor(() => c.node('n4').stats().hints.pending === 0, 'what was kept is delivered')
    // The newest writes made it; the oldest were left to anti-entropy.
    const last = keys[keys.length - 1]!
    assert.is((await c.values('n3', last)).length, 1)
    assert.is((await c.values('n3', keys[0]!)).length, 0)
  })
})

test('delivery is rate-limited: 200 hints at 50/s take about 3 s (after a 1 s burst)', async () => {
  await withCluster({ nodes: 4, hints: { deliveryRate: 50 } }, async (c) => {
    await c.stop('n3')
    for (let i = 0; i < 200; i++) {
      const key = c.keyWithPrimaries(['n1', 'n2', 'n3'], `rate-${i}`)
      await c.node('n1').service.put(key, b(`v${i}`), { w: 2 })
    }
    const pending = c.node('n4').stats().hints.pending
    assert.ok(pending >= 190, `${pending} hints`) // a few keys repeat
    await c.restart('n3')
    const took = await c.waitFor(() => c.node('n4').stats().hints.pending === 0, 'all delivered')
    const expected = ((pending - 50) / 50) * 1000
    assert.ok(took >= expected - 100, `delivered ${pending} hints in ${took} ms of virtual time; at 50/s that takes >= ${expected}`)
    assert.ok(took <= expected + 3000, `took ${took} ms`)
  })
})

test('a fallback restarted on its data directory keeps its hints and delivers them', async () => {
  const { dir, remove } = tempDir('ringkv-hints-node-')
  try {
    await withCluster({ nodes: 4, dataDirs: { n4: `${dir}/n4` } }, async (c) => {
      const key = c.keyWithPrimaries(['n1', 'n2', 'n3'])
      await c.stop('n3')
      await c.node('n1').service.put(key, b('kept'), { w: 3, dw: 3 })
      assert.is(c.node('n4').stats().hints.pending, 1)
      await c.stop('n4')
      await c.restart('n4')
      const hints = c.node('n4').stats().hints
      assert.is(hints.pending, 1, 'reloaded from <dataDir>/hints')
      assert.is(hints.stored, 0, 'by this incarnation')
      await c.restart('n3')
      await c.waitFor(() => c.node('n4').stats().hints.pending === 0, 'delivered after the restart')
      assert.equal(await c.values('n3', key), ['kept'])
    })
  } finally {
    remove()
  }
})

test('a hint its target refuses for good is dropped (counted) and does not hold back the hints behind it', async () => {
  const { dir, remove } = tempDir('ringkv-hints-node-')
  try {
    await withCluster({ nodes: 4, dataDirs: { n3: `${dir}/n3` } }, async (c) => {
      const poisoned = c.keyWithPrimaries(['n1', 'n2', 'n3'], 'poisoned')
      const fine = c.keyWithPrimaries(['n1', 'n2', 'n3'], 'fine')
      await c.stop('n3')
      await c.node('n1').service.put(poisoned, b('p'), { w: 2 })
      await c.node('n1').service.put(fine, b('f'), { w: 2 })
      assert.is(c.node('n4').stats().hints.pending, 2)
      // n3's stored copy of the first key is damaged: it refuses every merge of that key (ERR_CORRUPTION).
      const engine = await Engine.open(`${dir}/n3/engine`)
      await engine.put(encodeStorageKey(partitionOf(poisoned, c.node('n1').ring().q), poisoned, MAX_KEY_BYTES), Buffer.from([0xde, 0xad]))
      await engine.close()
      await c.restart('n3')
      await c.waitFor(() => c.node('n4').stats().hints.pending === 0, 'both hints are done with')
      const hints = c.node('n4').stats().hints
      assert.is(hints.deliveryRefusals, 1)
      assert.is(hints.rejected, 1)
      assert.is(hints.delivered, 1)
      assert.equal(await c.values('n3', fine), ['f'])
    })
  } finally {
    remove()
  }
})

test('HINTED_PUT: a hint addressed to the receiver is merged into its store; a malformed one is refused', async () => {
  await withCluster({ nodes: 4 }, async (c) => {
    const key = b('direct')
    const partition = partitionOf(key, c.node('n2').ring().q)
    const envelope = encodeEnvelope(updateEnvelope(undefined, undefined, 'x#1', { value: b('v'), timestamp: 1 }))
    const connection = await c.transport.connect(c.address('n2'), { nodeId: 'probe' })
    try {
      const reply = await connection.request(MessageType.HINTED_PUT, encodeHintedPut({ target: 'n2', partition, key, envelope, durable: true }), { timeoutMs: 5000 })
      assert.is(decodeReplicaPutReply(reply), true)
      assert.equal(await c.values('n2', key), ['v'])
      assert.is(c.node('n2').stats().hints.pending, 0)
      await connection.request(MessageType.HINTED_PUT, encodeHintedPut({ target: 'n9', partition, key, envelope, durable: false }), { timeoutMs: 5000 })
      assert.is(c.node('n2').stats().hints.pending, 1, 'for another node: a hint')
      const bad = await connection.request(MessageType.HINTED_PUT, Buffer.from([0, 0, 0, 9]), { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e)
      assert.ok(isRingkvError(bad, 'ERR_BAD_REQUEST'), String(bad))
      const badEnvelope = encodeHintedPut({ target: 'n9', partition, key, envelope: Buffer.from([7]), durable: false })
      const refused = await connection.request(MessageType.HINTED_PUT, badEnvelope, { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e)
      assert.ok(isRingkvError(refused, 'ERR_BAD_ENVELOPE'), String(refused))
    } finally {
      connection.destroy()
    }
  })
})

test('hint options are validated by name', async () => {
  const { startNode } = await import('../../../src/node/index.ts')
  for (const [hints, name] of [
    [{ maxBytes: 10 }, 'hints.maxBytes'],
    [{ maxAgeMs: 0 }, 'hints.maxAgeMs'],
    [{ deliveryRate: 0.5 }, 'hints.deliveryRate'],
    [{ deliveryBytesPerSec: 'fast' }, 'hints.deliveryBytesPerSec'],
    [{ deliveryIntervalMs: -1 }, 'hints.deliveryIntervalMs'],
    ['lots', 'hints'],
  ] as const) {
    try {
      await startNode({ id: 'a', listen: '127.0.0.1:1', hints } as never)
      assert.unreachable(`${name} was accepted`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
      assert.match((e as Error).message, name)
    }
  }
})

test.run()
