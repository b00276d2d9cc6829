// Tombstone garbage collection through anti-entropy (DESIGN section 3): a deleted or expired key is collected
// only once the grace period has passed and a round has confirmed that every replica holds the same bytes;
// a replica that missed the delete gets the tombstone first; expired values never come back; a key written
// again after it was collected keeps its new write everywhere.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import type { Envelope } from '../../../src/versioning/index.ts'
import { startNode } from '../../../src/node/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { silentLogger } from '../../../src/runtime/index.ts'
import { pass, world, type World } from './helpers.ts'

const b = (s: string): Buffer => Buffer.from(s)
const GRACE = 60_000
const values = (e: Envelope | undefined): Array<string | null> =>
  e === undefined ? [] : e.siblings.map((s) => (s.value === null ? null : Buffer.from(s.value).toString()))

async function readEverywhere(w: World, key: string): Promise<Array<string | undefined>> {
  const out: Array<string | undefined> = []
  for (const id of w.ids) {
    const r = await w.node(id).service.get(b(key), { r: 'all' })
    out.push(r.found ? r.siblings.map((s) => s.value.toString()).join('|') : undefined)
  }
  return out
}

test('a deleted key is kept through the grace period and while a replica is down, then collected on every replica', async () => {
  const w = await world({ node: { tombstoneGraceMs: GRACE } })
  try {
    const a = w.node('a')
    await a.service.put(b('doomed'), b('v'), { w: 'all' })
    await a.service.put(b('kept'), b('v'), { w: 'all' })
    await a.service.delete(b('doomed'), { w: 'all' })
    const p = w.partition('doomed')
    const early = await a.repair()
    assert.is(early.tombstonesCollected, 0, 'not before the grace period')
    assert.equal(values(w.store('a').get(p, b('doomed'))), [null])

    await w.stop('c')
    await pass(w, GRACE + 1000)
    const partial = await a.repair()
    assert.is(partial.tombstonesCollected, 0, 'not while a replica is down')
    assert.is(partial.partitionsComplete, 0)
    assert.ok(partial.peersDown + partial.exchangesFailed >= 16)
    assert.equal(values(w.store('a').get(p, b('doomed'))), [null])

    await w.start('c')
    await w.node('c').waitForRing({ members: 3 })
    for (let i = 0; i < 100 && !w.ids.every((id) => w.node(id).status().members.every((m) => m.up)); i++) await pass(w, 200)
    const full = await a.repair()
    assert.is(full.tombstonesCollected, 1)
    assert.is(full.partitionsComplete, 16)
    assert.is(w.store('a').get(p, b('doomed')), undefined)
    assert.equal(values(w.store('b').get(p, b('doomed'))), [null], 'each replica collects in its own round')
    // b and c confirm with a, which no longer has it: "nothing" is as good as the same tombstone.
    assert.is((await w.node('b').repair()).tombstonesCollected, 1)
    assert.is((await w.node('c').repair()).tombstonesCollected, 1)
    for (const id of w.ids) assert.is(w.store(id).get(p, b('doomed')), undefined, `${id} collected it`)
    assert.ok(await w.converged())
    assert.equal(await readEverywhere(w, 'doomed'), [undefined, undefined, undefined])
    assert.equal(await readEverywhere(w, 'kept'), ['v', 'v', 'v'])
    // Nothing brings it back.
    await a.repair()
    assert.is(w.store('b').get(p, b('doomed')), undefined)
    assert.is(a.stats().antiEntropy.tombstonesCollected, 1)
  } finally {
    await w.close()
  }
})

test('a replica that was down during the delete gets the tombstone, and the key stays deleted past the grace period', async () => {
  // c stays down longer than hints live (1 s here), so only anti-entropy can bring it the tombstone.
  const w = await world({ node: { tombstoneGraceMs: GRACE, hints: { maxAgeMs: 1000 } } })
  try {
    const a = w.node('a')
    await a.service.put(b('k'), b('old'), { w: 'all' })
    const p = w.partition('k')
    await w.stop('c')
    await a.service.delete(b('k'), { w: 2 })
    await pass(w, 5000)
    assert.ok(w.ids.filter((id) => id !== 'c').every((id) => w.node(id).stats().hints.pending === 0), 'the hints for c expired')
    await w.start('c')
    await w.node('c').waitForRing({ members: 3 })
    assert.equal(values(w.store('c').get(p, b('k'))), ['old'], 'c missed the delete')
    for (let i = 0; i < 100 && !w.ids.every((id) => w.node(id).status().members.every((m) => m.up)); i++) await pass(w, 200)
    await pass(w, GRACE + 1000)
    assert.equal(values(w.store('c').get(p, b('k'))), ['old'])
    // c starts the round: the tombstone is past its grace, yet c holds an older value, so it is pulled, not
    // skipped; then every replica holds it, and c collects it in the same round.
    const fromC = await w.node('c').repair()
    assert.is(fromC.keysRepairedHere, 1, 'c took the tombstone over its old value')
    assert.is(fromC.tombstonesCollected, 1)
    assert.is(w.store('c').get(p, b('k')), undefined)
    for (const id of ['a', 'b']) assert.is((await w.node(id).repair()).tombstonesCollected, 1)
    for (const id of w.ids) assert.is(w.store(id).get(p, b('k')), undefined)
    assert.equal(await readEverywhere(w, 'k'), [undefined, undefined, undefined], 'the old value never comes back')
    await pass(w, GRACE)
    await w.node('c').repair()
    assert.equal(await readEverywhere(w, 'k'), [undefined, undefined, undefined])
  } finally {
    await w.close()
  }
})

test('expired values are never returned, never come back through anti-entropy, and are collected after the grace period', async () => {
  const w = await world({ node: { tombstoneGraceMs: GRACE } })
  try {
    const a = w.node('a')
    await a.service.put(b('session'), b('v0'), { w: 'all' })
    const p = w.partition('session')
    const stale = w.store('c').get(p, b('session'))!
    const read = await a.service.get(b('session'))
    await a.service.put(b('session'), b('v1'), { w: 'all', ttlMs: 5_000, context: read.context })
    // c is put back to the value before: live, no expiry.
    await w.store('c').remove(p, b('session'))
    w.store('c').merge(p, b('session'), stale)
    // b loses the key altogether.
    await w.store('b').remove(p, b('session'))
    await pass(w, 6_000)
    // (A read now would repair b and c itself: read repair. Anti-entropy is what this test is about.)
    const r = await a.repair()
    assert.is(r.keysRepaired, 2)
    for (const id of w.ids) {
      const e = w.store(id).get(p, b('session'))!
      assert.equal(values(e), ['v1'], `${id} holds the expired envelope, which supersedes v0`)
      assert.ok(e.siblings[0]!.expiresAt <= w.clock.now())
    }
    assert.equal(await readEverywhere(w, 'session'), [undefined, undefined, undefined])
    await pass(w, GRACE)
    assert.is((await w.node('b').repair()).tombstonesCollected, 1)
    assert.is((await a.repair()).tombstonesCollected, 1)
    assert.is((await w.node('c').repair()).tombstonesCollected, 1)
    for (const id of w.ids) assert.is(w.store(id).get(p, b('session')), undefined)
    assert.equal(await readEverywhere(w, 'session'), [undefined, undefined, undefined])
  } finally {
    await w.close()
  }
})

test('a key written again after one replica collected it keeps the new write on every replica', async () => {
  const w = await world({ node: { tombstoneGraceMs: GRACE } })
  try {
    const a = w.node('a')
    await a.service.put(b('user'), b('first'), { w: 'all' })
    await a.service.delete(b('user'), { w: 'all' })
    const p = w.partition('user')
    const tombstone = w.store('b').get(p, b('user'))!
    await pass(w, GRACE + 1000)
    assert.is((await a.repair({ partitions: [p] })).tombstonesCollected, 1)
    assert.is(w.store('a').get(p, b('user')), undefined)
    // b and c still hold the tombstone when the key is written again through a.
    await a.service.put(b('user'), b('second'), { w: 'all' })
    const dot = w.store('a').get(p, b('user'))!.siblings[0]!.dot
    assert.ok(!tombstone.context.has(dot.actor), `the new dot ${dot.actor}:${dot.counter} is of a key epoch no collected context names`)
    assert.equal(await readEverywhere(w, 'user'), ['second', 'second', 'second'])
    for (const id of w.ids) await w.node(id).repair()
    assert.equal(await readEverywhere(w, 'user'), ['second', 'second', 'second'])
    assert.ok(await w.converged())
    // And a delete of the new value still wins over it everywhere.
    const read = await a.service.get(b('user'))
    await w.node('b').service.delete(b('user'), { w: 'all', context: read.context })
    assert.equal(await readEverywhere(w, 'user'), [undefined, undefined, undefined])
  } finally {
    await w.close()
  }
})

test('repair before the cluster has a ring is ERR_UNAVAILABLE; after close, ERR_CLOSED', async () => {
  const clock = new VirtualClock({ startMs: 1_790_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock })
  const lone = await startNode({ id: 'a', listen: 'a:1', seeds: ['a:1', 'b:1', 'c:1'], partitions: 16, clock, logger: silentLogger, transport: network.transport() })
  try {
    await lone.repair()
    assert.unreachable('repaired without a ring')
  } catch (e) {
    assert.ok(isRingkvError(e, 'ERR_UNAVAILABLE'), String(e))
  } finally {
    await lone.close()
  }
  try {
    await lone.repair()
    assert.unreachable('repaired after close')
  } catch (e) {
    assert.ok(isRingkvError(e, 'ERR_CLOSED'), String(e))
  }
})

test.run()
