// Edge cases of claim, and what we decided for them:
// - one node owns everything; S < N gives every node every key (fewer than N primaries, no fallbacks);
// - Q = 1 is legal: one member owns the only partition, the rest own nothing and serve as fallbacks;
// - S > Q: members own 0 or 1 partitions (balance still within one);
// - a claim that changes nothing returns the previous ring itself (same version);
// - Q never changes after creation; a different n re-lays placement for the new n.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { claim, preferenceList, ringViolations } from '../../../src/ring/index.ts'
import { members, ownedCounts, spread, throwsCode } from './helpers.ts'

test('one node owns every partition', () => {
  const { ring, moved, violations } = claim(undefined, [{ id: 'solo' }], { q: 64, n: 3 })
  assert.ok(ring.owners.every((o) => o === 'solo'))
  assert.is(moved, 64)
  assert.equal(violations, [])
  assert.equal(preferenceList(ring, 5), { partition: 5, primaries: ['solo'], fallbacks: [] })
})

test('S < N: balanced, every node is a primary of every partition', () => {
  const { ring } = claim(undefined, members(2), { q: 1024, n: 3 })
  assert.is(spread(ring), 0)
  for (let p = 0; p < ring.q; p++) {
    assert.equal([...preferenceList(ring, p).primaries].sort(), ['n0', 'n1'])
    assert.equal(preferenceList(ring, p).fallbacks, [])
  }
})

test('Q = 1: one owner, the others are fallbacks', () => {
  const { ring } = claim(undefined, members(3), { q: 1, n: 3 })
  assert.is(ring.owners.length, 1)
  const list = preferenceList(ring, 0)
  assert.equal(list.primaries, [ring.owners[0]])
  assert.equal([...list.primaries, ...list.fallbacks].sort(), ['n0', 'n1', 'n2'])
})

test('S > Q: every member owns at most one partition', () => {
  const { ring } = claim(undefined, members(6), { q: 4, n: 2 })
  assert.equal([...ownedCounts(ring).values()].sort(), [0, 0, 1, 1, 1, 1])
  assert.is(preferenceList(ring, 0).primaries.length, 2)
  assert.is(preferenceList(ring, 0).fallbacks.length, 4)
})

test('a fresh ring is version 1; an unchanged claim returns the same ring', () => {
  const first = claim(undefined, members(5), { q: 256, n: 3 })
  assert.is(first.ring.version, 1)
  const again = claim(first.ring, members(5), { q: 256, n: 3 })
  assert.is(again.ring, first.ring)
  assert.is(again.moved, 0)
  const joined = claim(first.ring, members(6), { q: 256, n: 3 })
  assert.is(joined.ring.version, 2)
})

test('a host or zone change alone bumps the version without moving anything when placement allows', () => {
  const first = claim(undefined, members(5), { q: 256, n: 3 })
  const relabelled = claim(first.ring, members(5, (i) => ({ host: `h${i}` })), { q: 256, n: 3 })
  assert.is(relabelled.moved, 0)
  assert.is(relabelled.ring.version, 2)
  assert.is.not(relabelled.ring.checksum, first.ring.checksum)
})

test('deterministic: same inputs, same ring, whatever the member order', () => {
  const a = claim(undefined, members(9), { q: 1024, n: 3 })
  const b = claim(undefined, members(9).reverse(), { q: 1024, n: 3 })
  assert.is(a.ring.checksum, b.ring.checksum)
  const a2 = claim(a.ring, members(10), { q: 1024, n: 3 })
  const b2 = claim(b.ring, members(10).reverse(), { q: 1024, n: 3 })
  assert.is(a2.ring.checksum, b2.ring.checksum)
})

test('hosts: replicas land on distinct hosts when there are enough', () => {
  const { ring, violations } = claim(undefined, members(12, (i) => ({ host: `h${i % 6}` })), { q: 1024, n: 3 })
  assert.is(spread(ring), 0 + (1024 % 12 === 0 ? 0 : 1))
  assert.equal(violations, [])
  for (let p = 0; p < ring.q; p += 37) {
    const hosts = preferenceList(ring, p).primaries.map((id) => ring.members.find((m) => m.id === id)!.host)
    assert.is(new Set(hosts).size, 3)
  }
})

test('zones: four equal zones give every window three of them', () => {
  const { violations } = claim(undefined, members(8, (i) => ({ zone: `z${i % 4}` })), { q: 1024, n: 3 })
  assert.equal(violations, [])
})

test('zones: exactly N zones must repeat with period N, which Q (a power of two) never is a multiple of', () => {
  // So two windows at the wrap necessarily hold a zone twice -- as with S = N = 3 at the node level.
  const { violations } = claim(undefined, members(9, (i) => ({ zone: `z${i % 3}` })), { q: 1024, n: 3 })
  assert.ok(violations.length <= 2, JSON.stringify(violations))
  assert.ok(violations.every((v) => v.level === 'zone' && v.distinct === 2))
})

test('zones that cannot be satisfied degrade to as-distinct-as-possible and are reported', () => {
  // Two zones for N = 3: every window must repeat a zone, but none should be single-zone.
  const two = claim(undefined, members(6, (i) => ({ zone: `z${i % 2}` })), { q: 1024, n: 3 })
  assert.equal(two.violations, [])
  // One zone holding 5 of 6 nodes cannot appear only once per window: reported, balance untouched.
  const lopsided = claim(undefined, members(6, (i) => ({ zone: i === 0 ? 'small' : 'big' })), { q: 1024, n: 3 })
  assert.ok(lopsided.violations.length > 0)
  assert.ok(lopsided.violations.every((v) => v.level === 'zone' && v.required === 2))
  assert.is(spread(lopsided.ring), 1)
  assert.equal(ringViolations(lopsided.ring), lopsided.violations)
})

test('changing n re-lays placement for the new n', () => {
  const three = claim(undefined, members(8), { q: 512, n: 2 })
  const widened = claim(three.ring, members(8), { q: 512, n: 4 })
  assert.is(widened.ring.n, 4)
  assert.is(widened.minimumMoves, 0)
  assert.is(widened.extraMoves, widened.moved)
  assert.equal(widened.violations, [])
})

test('bad options and members are refused with a clear error', () => {
  throwsCode(() => claim(undefined, [], { q: 64, n: 3 }), 'ERR_BAD_RING', /at least one member/)
  throwsCode(() => claim(undefined, members(3), { q: 100, n: 3 }), 'ERR_BAD_RING', /options\.q must be a power of two/)
  throwsCode(() => claim(undefined, members(3), { q: 64, n: 9 }), 'ERR_BAD_RING', /options\.n \(replication factor\)/)
  throwsCode(() => claim(undefined, [{ id: 'a' }, { id: 'a' }], { q: 64, n: 3 }), 'ERR_BAD_RING', /appears twice/)
  const ring = claim(undefined, members(3), { q: 64, n: 3 }).ring
  throwsCode(() => claim(ring, members(3), { q: 128, n: 3 }), 'ERR_BAD_RING', /Q is fixed/)
})

test('fast enough: Q = 4096, S = 64 well under 100 ms of CPU', () => {
  const cpuMs = (fn: () => unknown): number => {
    const start = process.cpuUsage()
    fn()
    const used = process.cpuUsage(start)
    return (used.user + used.system) / 1000
  }
  claim(undefined, members(64), { q: 4096, n: 3 }) // warm up the JIT
  let ring = claim(undefined, members(63), { q: 4096, n: 3 }).ring
  const fresh = cpuMs(() => claim(undefined, members(64), { q: 4096, n: 3 }))
  const join = cpuMs(() => (ring = claim(ring, members(64), { q: 4096, n: 3 }).ring))
  const leave = cpuMs(() => claim(ring, members(64).slice(1), { q: 4096, n: 3 }))
  for (const [what, ms] of [['fresh', fresh], ['join', join], ['leave', leave]] as const) assert.ok(ms < 100, `${what} took ${ms} ms`)
})

test.run()
