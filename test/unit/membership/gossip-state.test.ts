import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { SeededRandom } from '../../../src/runtime/index.ts'
import { compareVersions, GossipState, type MemberState } from '../../../src/membership/index.ts'
import { CHECKSUM_A, CHECKSUM_B, exchange, node } from './helpers.ts'

test('a node starts knowing itself, at version 1, and tick bumps its version', () => {
  const a = node('a')
  assert.equal(a.digest(), [{ id: 'a', generation: 1000, version: 1 }])
  a.tick(0)
  a.tick(1000)
  assert.is(a.self.version, 3)
  assert.ok(a.isUp('a'))
})

test('status and ring changes bump the version', () => {
  const a = node('a', 1000, { status: 'joining' })
  a.setStatus('normal')
  assert.is(a.self.status, 'normal')
  a.setRing(4, CHECKSUM_A)
  assert.equal([a.self.version, a.self.ringVersion, a.self.ringChecksum], [3, 4, CHECKSUM_A])
  assert.throws(() => a.setStatus('bogus' as never), /status/)
})

test('one exchange gives both sides the newer of each view', () => {
  const a = node('a')
  const b = node('b')
  const c = node('c')
  exchange(c, b, 0) // b knows c
  exchange(a, b, 0)
  assert.equal(a.members().map((m) => m.id), ['a', 'b', 'c'])
  assert.equal(b.members().map((m) => m.id), ['a', 'b', 'c'])
  a.tick(1000)
  b.tick(1000)
  exchange(b, a, 1000)
  assert.is(b.member('a')?.version, a.self.version)
  assert.is(a.member('b')?.version, b.self.version)
})

test('delta sends only what the peer lacks, and wants what it has newer', () => {
  const a = node('a')
  const b = node('b')
  exchange(a, b, 0)
  a.tick(1)
  const delta = b.delta(a.digest())
  assert.equal(delta.states, [])
  assert.equal(delta.wants, [{ id: 'a', generation: 1000, version: 1 }])
  const answer = a.requested(delta.wants)
  assert.equal(answer.states.map((s) => [s.id, s.version]), [['a', 2]])
  assert.equal(answer.wants, [])
  const unknown = b.delta([{ id: 'z', generation: 5, version: 5 }])
  assert.equal(unknown.wants, [{ id: 'z', generation: 0, version: 0 }])
  assert.equal(unknown.states.map((s) => s.id).sort(), ['a', 'b'])
})

test('a higher generation wins over a higher version (restart)', () => {
  assert.ok(compareVersions({ generation: 2, version: 1 }, { generation: 1, version: 99 }) > 0)
  const a = node('a')
  const old = node('b', 1000)
  for (let i = 0; i < 10; i++) old.tick(i)
  exchange(old, a, 0)
  const restarted = node('b', 2000)
  exchange(restarted, a, 10)
  const changes = a.apply({ states: [old.self], wants: [] }, 20)
  assert.equal(changes, [])
  assert.is(a.member('b')?.generation, 2000)
  const c = node('c')
  exchange(c, a, 20)
  assert.is(c.member('b')?.generation, 2000)
})

test('apply reports new, restarted, status, address and ring changes, not plain heartbeats', () => {
  const a = node('a')
  const b = node('b')
  assert.equal(a.apply({ states: [b.self], wants: [] }, 0).map((c) => c.kind), ['new'])
  b.tick(1)
  assert.equal(a.apply({ states: [b.self], wants: [] }, 1).map((c) => c.kind), [])
  b.setStatus('leaving')
  b.setRing(2, CHECKSUM_B)
  assert.equal(a.apply({ states: [b.self], wants: [] }, 2).map((c) => c.kind), ['status', 'ring'])
  const b2 = new GossipState({ self: { id: 'b', address: 'b:7001', http: 'b:8001' }, generation: 5000 })
  assert.equal(a.apply({ states: [b2.self], wants: [] }, 3).map((c) => c.kind), ['restarted', 'status', 'address', 'ring'])
  assert.is(a.member('b')?.http, 'b:8001')
})

test('a silent peer is convicted locally, then up again when its version advances', () => {
  const a = node('a')
  const b = node('b')
  let t = 0
  for (; t < 30_000; t += 1000) {
    b.tick(t)
    a.tick(t)
    exchange(b, a, t)
  }
  assert.ok(a.isUp('b'))
  let downAt = -1
  for (; t < 60_000; t += 1000) {
    const changes = a.tick(t)
    if (changes.some((c) => c.kind === 'down' && c.id === 'b')) {
      downAt = t
      break
    }
  }
  assert.ok(downAt > 0, 'b is convicted')
  assert.ok(downAt - 29_000 >= 5000 && downAt - 29_000 <= 9000, `convicted ${downAt - 29_000} ms after its last heartbeat`)
  assert.not.ok(a.isUp('b'))
  assert.equal(a.downPeers().map((m) => m.id), ['b'])
  // The verdict is local: b's gossiped status is still its own.
  assert.is(a.member('b')?.status, 'normal')
  assert.equal(a.tick(t + 1000), [], 'a convicted peer is not reported again')
  b.tick(t)
  const changes = a.apply({ states: [b.self], wants: [] }, t + 1000)
  assert.equal(changes.map((c) => c.kind), ['up'])
  assert.ok(a.isUp('b'))
})

test('a peer that is down is gossiped to now and then; no one is chosen when alone', () => {
  const alone = node('a')
  assert.equal(alone.choosePeers(new SeededRandom(1)), [])
  const a = node('a')
  for (const id of ['b', 'c', 'd']) a.apply({ states: [node(id).self], wants: [] }, 0)
  a.tick(60_000) // all three convicted: nothing heard for a minute
  assert.equal(a.livePeers(), [])
  const random = new SeededRandom(7)
  const reasons = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    for (const t of a.choosePeers(random)) reasons.set(t.reason, (reasons.get(t.reason) ?? 0) + 1)
  }
  // down / (live + 1) = 3 / 1: always one down member.
  assert.is(reasons.get('down'), 1000)
  assert.is(reasons.get('live'), undefined)
})

test('choosePeers: one live peer each round, seeds sometimes, always a seed when nobody is live', () => {
  const fresh = node('x', 1, { seeds: ['s1:7000', 'x:7000'] })
  assert.equal(fresh.seeds, ['s1:7000'])
  assert.equal(fresh.choosePeers(new SeededRandom(1)), [{ id: undefined, address: 's1:7000', reason: 'seed' }])
  const a = node('a', 1, { seeds: ['n0:7000'] })
  for (let i = 0; i < 10; i++) a.apply({ states: [node(`n${i}`).self], wants: [] }, 0)
  const random = new SeededRandom(3)
  let seeds = 0
  const picked = new Set<string>()
  for (let i = 0; i < 2000; i++) {
    const targets = a.choosePeers(random)
    assert.is(targets[0]?.reason, 'live')
    picked.add(targets[0]!.id!)
    for (const t of targets.slice(1)) {
      assert.is(t.reason, 'seed')
      assert.is(t.id, 'n0')
      seeds++
    }
    assert.ok(new Set(targets.map((t) => t.address)).size === targets.length, 'no duplicate target')
  }
  assert.is(picked.size, 10)
  // The live peer is not the seed 90% of the time, then a seed with probability 1/10: about 180 in 2000.
  assert.ok(seeds > 100 && seeds < 280, `seed chosen ${seeds} times`)
})

test('a node hearing itself reported down at its generation refutes by bumping its version', () => {
  const a = node('a')
  const b = node('b')
  a.tick(0)
  const forged: MemberState = { ...a.self, status: 'down' }
  const changes = a.apply({ states: [forged], wants: [] }, 0)
  assert.equal(changes.map((c) => c.kind), ['refuted'])
  assert.is(a.self.status, 'normal')
  assert.ok(a.self.version > forged.version)
  // b heard the forged record first; a's refutation outranks it.
  b.apply({ states: [forged], wants: [] }, 0)
  assert.not.ok(b.isUp('a'))
  exchange(a, b, 1)
  assert.is(b.member('a')?.status, 'normal')
  assert.ok(b.isUp('a'))
  // An older record of ourselves, or our own current one, is no news.
  assert.equal(a.apply({ states: [{ ...forged, version: 1 }, a.self], wants: [] }, 2), [])
})

test('divergence lists live peers whose ring checksum differs', () => {
  const a = node('a', 1, { ring: { version: 3, checksum: CHECKSUM_A } })
  const b = node('b', 1, { ring: { version: 3, checksum: CHECKSUM_A } })
  const c = node('c', 1, { ring: { version: 2, checksum: CHECKSUM_B } })
  exchange(b, a, 0)
  exchange(c, a, 0)
  assert.equal(a.divergence(), [{ id: 'c', ringVersion: 2, ringChecksum: CHECKSUM_B }])
  c.setRing(3, CHECKSUM_A)
  exchange(c, a, 1)
  assert.equal(a.divergence(), [])
})

test('removed members are tombstones: kept, not watched, not chosen', () => {
  const a = node('a')
  const b = node('b')
  exchange(b, a, 0)
  b.setStatus('removed')
  exchange(b, a, 1)
  assert.is(a.member('b')?.status, 'removed')
  assert.equal(a.tick(600_000), [])
  assert.equal(a.choosePeers(new SeededRandom(1)), [])
  assert.equal(a.memberInfos().map((m) => m.id), ['a'])
})

test('merge is order-independent: any exchange order ends in the same views', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(3), fc.nat(3), fc.boolean()), { maxLength: 40 }), (ops) => {
      const nodes = ['a', 'b', 'c', 'd'].map((id) => node(id))
      let t = 0
      for (const [i, j, tick] of ops) {
        t += 100
        if (tick) nodes[i]!.tick(t)
        if (i !== j) exchange(nodes[i]!, nodes[j]!, t)
      }
      // A full round-robin afterwards converges everyone to the same digest.
      for (let k = 0; k < 2; k++) for (const x of nodes) for (const y of nodes) if (x !== y) exchange(x, y, t)
      const digests = nodes.map((n) => JSON.stringify(n.digest().sort((x, y) => (x.id < y.id ? -1 : 1))))
      assert.ok(digests.every((d) => d === digests[0]))
      for (const n of nodes) assert.is(n.members().length, 4)
    }),
    { numRuns: 100 },
  )
})

test('constructor options are validated', () => {
  assert.throws(() => new GossipState({ self: { id: '', address: 'x' }, generation: 1 }), /self.id/)
  assert.throws(() => new GossipState({ self: { id: 'a', address: '' }, generation: 1 }), /self.address/)
  assert.throws(() => new GossipState({ self: { id: 'a', address: 'x' }, generation: -1 }), /generation/)
  assert.throws(() => new GossipState({ self: { id: 'a', address: 'x' }, generation: 1, phiThreshold: 0 }), /phiThreshold/)
})

test.run()
