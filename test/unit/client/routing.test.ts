/**
 * Token-aware routing: each key goes to a primary of its partition (checked by which test node received it),
 * load rotates over the key's primaries, `tokenAware: false` is round-robin; and the Router's orders.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connect } from '../../../src/client/index.ts'
import { Router } from '../../../src/client/routing.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { claim } from '../../../src/ring/claim.ts'
import { partitionOf } from '../../../src/ring/hash.ts'
import { preferenceList } from '../../../src/ring/preference.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { TestCluster, collect, utf8 } from './helpers.ts'

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })

async function cluster(n: number, nodes = 3) {
  return TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock: network.clock, nodes, n })
}

function client(seeds: string[], extra: { tokenAware?: boolean } = {}) {
  return connect({ seeds, transport: network.transport(), clock: network.clock, random: new SeededRandom(3), ...extra })
}

const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`)

test('N = 1: every key reaches exactly the owner of its partition', async () => {
  const c = await cluster(1)
  const kv = await client(c.seeds)
  c.clearReceived()
  for (const key of keys) await kv.put(key, 'v')
  for (const key of keys) await kv.get(key)
  for (const key of keys) await kv.delete(key)
  const owners = keys.map((k) => c.ring.owners[partitionOf(utf8(k), c.ring.q)])
  assert.equal(c.receivers(MessageType.CLIENT_PUT), owners)
  assert.equal(c.receivers(MessageType.CLIENT_GET), owners)
  assert.equal(c.receivers(MessageType.CLIENT_DELETE), owners)
  assert.is(new Set(owners).size, 3, 'the keys are spread over all three nodes')
  await kv.close()
  await c.close()
})

test('N = 2 of 3 nodes: each request reaches a primary of its key, rotating over both', async () => {
  const c = await cluster(2)
  const kv = await client(c.seeds)
  c.clearReceived()
  for (const key of keys) for (let i = 0; i < 4; i++) await kv.get(key)
  const byKey = new Map<string, Set<string>>()
  for (const r of c.received) {
    const key = r.key?.toString() as string
    const primaries = preferenceList(c.ring, utf8(key)).primaries
    assert.ok(primaries.includes(r.node), `${key} went to ${r.node}, not one of ${primaries.join(', ')}`)
    byKey.set(key, (byKey.get(key) ?? new Set()).add(r.node))
  }
  // Four reads of a key with two primaries, round-robin: both primaries see some.
  assert.ok([...byKey.values()].every((nodes) => nodes.size === 2), 'load spreads over the primaries')
  await kv.close()
  await c.close()
})

test('N = 3 of 3 nodes: every node replicates every key, and requests rotate over all of them', async () => {
  const c = await cluster(3)
  const kv = await client(c.seeds)
  c.clearReceived()
  for (let i = 0; i < 30; i++) await kv.get(keys[i] as string)
  const counts = new Map<string, number>()
  for (const node of c.receivers(MessageType.CLIENT_GET)) counts.set(node, (counts.get(node) ?? 0) + 1)
  assert.equal([...counts.values()], [10, 10, 10])
  await kv.close()
  await c.close()
})

test('one seed is enough: the ring reply tells the other members\' addresses', async () => {
  const c = await cluster(1)
  const kv = await client([c.seeds[0] as string])
  assert.equal(kv.ring().members.map((m) => m.address), c.seeds)
  assert.is(kv.ring().map?.checksum, c.ring.checksum)
  c.clearReceived()
  for (const key of keys) await kv.get(key)
  assert.equal(c.receivers(MessageType.CLIENT_GET), keys.map((k) => c.ring.owners[partitionOf(utf8(k), c.ring.q)]))
  await kv.close()
  await c.close()
})

test('tokenAware: false picks coordinators round-robin over every member', async () => {
  const c = await cluster(1)
  const kv = await client(c.seeds, { tokenAware: false })
  c.clearReceived()
  for (let i = 0; i < 30; i++) await kv.get('same-key')
  const counts = new Map<string, number>()
  for (const node of c.receivers(MessageType.CLIENT_GET)) counts.set(node, (counts.get(node) ?? 0) + 1)
  assert.equal([...counts.values()], [10, 10, 10])
  await kv.close()
  await c.close()
})

test('scans, which no key routes, go round-robin', async () => {
  const c = await cluster(1)
  const kv = await client(c.seeds)
  c.clearReceived()
  for (let i = 0; i < 6; i++) await collect(kv.scan())
  assert.is(new Set(c.receivers(MessageType.CLIENT_SCAN)).size, 3)
  await kv.close()
  await c.close()
})

test('a cluster that has no ring yet: connect succeeds, coordinators round-robin over the seeds', async () => {
  const c = await cluster(1)
  c.noRing = true
  const kv = await client(c.seeds)
  assert.is(kv.ring().map, undefined)
  c.clearReceived()
  for (let i = 0; i < 9; i++) await kv.put(`k${i}`, 'v')
  assert.is(new Set(c.receivers(MessageType.CLIENT_PUT)).size, 3)
  await kv.close()
  await c.close()
})

// ---- the Router alone --------------------------------------------------------------------------------

const ring = claim(undefined, [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }], { q: 16, n: 2 }).ring
const members = [
  { id: 'a', address: 'A', http: undefined },
  { id: 'b', address: 'B', http: undefined },
  { id: 'c', address: 'C', http: undefined },
  { id: 'd', address: 'D', http: undefined },
  { id: 'e', address: 'E', http: undefined }, // joining: a member, not in the ring yet
]
const addressOf = (id: string) => id.toUpperCase()

test('retry order: primaries, fallbacks in ring order, members outside the ring, then other seeds', () => {
  const router = new Router(['S', 'A'], true)
  router.update(ring, members)
  const key = utf8('k')
  const list = preferenceList(ring, key)
  assert.equal(router.candidates(key, 0), [...list.primaries, ...list.fallbacks].map(addressOf).concat(['E', 'S']))
  // Keyless requests: every member (ring order of ids), then seeds no member answers to.
  assert.equal(router.candidates(undefined, 0), ['A', 'B', 'C', 'D', 'E', 'S'])
})

test('retryTarget skips what was tried, then goes round again', () => {
  const router = new Router(['A'], true)
  router.update(ring, members.slice(0, 4))
  const key = utf8('k')
  const order = router.candidates(key, 0)
  const tried = new Set<string>()
  for (const expected of order) {
    const next = router.retryTarget(key, tried, 0)
    assert.is(next, expected)
    tried.add(next)
  }
  assert.ok(order.includes(router.retryTarget(key, tried, 0)))
})

test('a node marked down is picked last until its time is up', () => {
  const router = new Router(['A'], true)
  router.update(ring, members.slice(0, 4))
  const key = utf8('k')
  const [first, second] = preferenceList(ring, key).primaries.map(addressOf)
  router.markDown(first as string, 100)
  for (let i = 0; i < 4; i++) assert.is(router.pick(key, 50), second, 'the other primary while the first is down')
  assert.is(router.candidates(key, 50).at(-1), first)
  const later = new Set([router.pick(key, 100), router.pick(key, 100)])
  assert.equal(later, new Set([first, second]), 'both primaries again once the mark expires')
})

test('when every primary is down, the first live fallback coordinates', () => {
  const router = new Router(['A'], true)
  router.update(ring, members.slice(0, 4))
  const key = utf8('k')
  const list = preferenceList(ring, key)
  for (const id of list.primaries) router.markDown(addressOf(id), 1000)
  assert.is(router.pick(key, 0), addressOf(list.fallbacks[0] as string))
})

test('an older ring never replaces a newer one; an absent one never replaces any', () => {
  const router = new Router(['A'], true)
  const v2 = claim(ring, [{ id: 'a' }, { id: 'b' }], { q: 16, n: 2 }).ring
  assert.ok(v2.version > ring.version)
  assert.ok(router.update(v2, members.slice(0, 2)))
  assert.not.ok(router.update(ring, members))
  assert.not.ok(router.update(undefined, members))
  assert.is(router.snapshot.map, v2)
  assert.equal(router.snapshot.members.map((m) => m.id), ['a', 'b'])
  assert.ok(router.update(v2, members.slice(0, 3)), 'the same version again (new member addresses) is taken')
})

test('primaries without a known address are skipped, and seeds carry keyless requests', () => {
  const router = new Router(['S'], true)
  assert.is(router.pick(utf8('k'), 0), 'S', 'no ring yet: the seed')
  router.update(ring, [{ id: 'a', address: 'A', http: undefined }])
  for (let i = 0; i < 50; i++) {
    const picked = router.pick(utf8(`k${i}`), 0)
    assert.ok(picked === 'A' || picked === 'S')
    if (preferenceList(ring, utf8(`k${i}`)).primaries.includes('a')) assert.is(picked, 'A')
  }
})

test.run()
