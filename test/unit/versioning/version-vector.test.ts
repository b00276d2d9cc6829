import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { actorId, parseActor, vv, vvCompare, vvDescends, vvEntries, vvEquals, vvGet, vvIncrement, vvMerge } from '../../../src/versioning/index.ts'
import { throwsCode } from './helpers.ts'

test('construction from objects and entries; zeros dropped', () => {
  const v = vv({ 'a#0': 2, 'b#1': 0, 'c#0': 1 })
  assert.equal(vvEntries(v), [['a#0', 2], ['c#0', 1]])
  assert.ok(vvEquals(v, vv([['c#0', 1], ['a#0', 2]])))
  assert.is(vvGet(v, 'zzz'), 0)
})

test('construction validates actors and counters', () => {
  throwsCode(() => vv({ '': 1 }), 'ERR_BAD_CONTEXT', /non-empty/)
  throwsCode(() => vv({ a: -1 }), 'ERR_BAD_CONTEXT', /between 1 and 2\^53-1/)
  throwsCode(() => vv({ a: 1.5 }), 'ERR_BAD_CONTEXT', /between 1 and 2\^53-1/)
  throwsCode(() => vv({ a: 2 ** 53 }), 'ERR_BAD_CONTEXT')
  throwsCode(() => vv({ ['x'.repeat(256)]: 1 }), 'ERR_BAD_CONTEXT', /longer than 255/)
  throwsCode(() => vv([['a', 1], ['a', 2]]), 'ERR_BAD_CONTEXT', /appears twice/)
  throwsCode(() => vv({ 'a\uDC00': 1 }), 'ERR_BAD_CONTEXT', /lone surrogate/)
})

test('compare covers all four orderings', () => {
  const a = vv({ x: 1, y: 2 })
  assert.is(vvCompare(a, vv({ x: 1, y: 2 })), 'equal')
  assert.is(vvCompare(a, vv({ x: 1, y: 3 })), 'before')
  assert.is(vvCompare(a, vv({ x: 1 })), 'after')
  assert.is(vvCompare(a, vv({ x: 2, y: 1 })), 'concurrent')
  assert.is(vvCompare(vv(), vv()), 'equal')
  assert.is(vvCompare(vv(), a), 'before')
})

test('equality compares counters, not just actors (regression: {b:2} once equalled {b:1})', () => {
  assert.not.ok(vvEquals(vv({ b: 2 }), vv({ b: 1 })))
  assert.not.ok(vvEquals(vv({ a: 1 }), vv({ b: 1 })))
  assert.ok(vvEquals(vv({ a: 1, b: 2 }), vv({ b: 2, a: 1 })))
})

test('merge is the pointwise maximum and descends both', () => {
  const m = vvMerge(vv({ x: 3, y: 1 }), vv({ y: 4, z: 1 }))
  assert.equal(vvEntries(m), [['x', 3], ['y', 4], ['z', 1]])
  assert.ok(vvDescends(m, vv({ x: 3, y: 1 })) && vvDescends(m, vv({ y: 4, z: 1 })))
})

test('increment returns a new vector', () => {
  const a = vv({ x: 1 })
  const b = vvIncrement(a, 'x')
  assert.is(vvGet(a, 'x'), 1)
  assert.is(vvGet(b, 'x'), 2)
  assert.is(vvGet(vvIncrement(a, 'y'), 'y'), 1)
})

test('actors name a node incarnation', () => {
  assert.is(actorId('n1', 3), 'n1#3')
  assert.equal(parseActor('n1#3'), { node: 'n1', epoch: 3 })
  assert.equal(parseActor('host#a#12'), { node: 'host#a', epoch: 12 })
  assert.is(parseActor('plain'), undefined)
  assert.is(parseActor('#3'), undefined)
  assert.is(parseActor('n1#03'), undefined)
  throwsCode(() => actorId('n1', -1), 'ERR_BAD_CONTEXT', /epoch/)
})

test.run()
