import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  claim,
  createRingMap,
  diffRings,
  partitionOf,
  partitionsOwnedBy,
  partitionsReplicatedBy,
  preferenceList,
  replicasOfPartition,
} from '../../../src/ring/index.ts'
import { members, throwsCode } from './helpers.ts'

// A hand-made ring with a repeat, so the walk has to skip: owners a a b c a b d, N = 3.
const ring = createRingMap({
  version: 1,
  q: 8,
  n: 3,
  members: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }],
  owners: ['a', 'a', 'b', 'c', 'a', 'b', 'd', 'c'],
})

test('primaries walk the ring skipping repeats; fallbacks follow in ring order, idle members last', () => {
  assert.equal(preferenceList(ring, 0), { partition: 0, primaries: ['a', 'b', 'c'], fallbacks: ['d', 'e'] })
  assert.equal(preferenceList(ring, 4), { partition: 4, primaries: ['a', 'b', 'd'], fallbacks: ['c', 'e'] })
  assert.equal(preferenceList(ring, 7), { partition: 7, primaries: ['c', 'a', 'b'], fallbacks: ['d', 'e'] })
  assert.equal(replicasOfPartition(ring, 3), ['c', 'a', 'b'])
})

test('a key resolves to its partition', () => {
  const key = new TextEncoder().encode('user:7')
  assert.equal(preferenceList(ring, key), preferenceList(ring, partitionOf(key, 8)))
})

test('lists are cached per ring and frozen', () => {
  assert.is(preferenceList(ring, 2), preferenceList(ring, 2))
  assert.ok(Object.isFrozen(preferenceList(ring, 2).primaries))
})

test('bad partitions are refused', () => {
  throwsCode(() => preferenceList(ring, 8), 'ERR_BAD_RING', /\[0, 8\)/)
  throwsCode(() => preferenceList(ring, -1), 'ERR_BAD_RING')
  throwsCode(() => preferenceList(ring, 0.5), 'ERR_BAD_RING')
})

test('partitions owned and replicated by a node', () => {
  assert.equal(partitionsOwnedBy(ring, 'a'), [0, 1, 4])
  assert.equal(partitionsOwnedBy(ring, 'e'), [])
  assert.equal(partitionsReplicatedBy(ring, 'd'), [4, 5, 6])
  assert.equal(partitionsReplicatedBy(ring, 'e'), [])
})

test('diffRings lists exactly the partitions whose replica set changed', () => {
  const before = claim(undefined, members(6), { q: 256, n: 3 }).ring
  const after = claim(before, members(7), { q: 256, n: 3 }).ring
  const changes = diffRings(before, after)
  assert.ok(changes.length > 0)
  const changed = new Set(changes.map((c) => c.partition))
  for (let p = 0; p < 256; p++) {
    const a = [...preferenceList(before, p).primaries].sort()
    const b = [...preferenceList(after, p).primaries].sort()
    assert.is(changed.has(p), a.join() !== b.join(), `partition ${p}`)
  }
  for (const c of changes) {
    assert.equal(c.gained, ['n6'])
    assert.is(c.lost.length, 1)
  }
  assert.equal(diffRings(before, before), [])
  throwsCode(() => diffRings(before, claim(undefined, members(6), { q: 512, n: 3 }).ring), 'ERR_BAD_RING', /different partition counts/)
})

test.run()
