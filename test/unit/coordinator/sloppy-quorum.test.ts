import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { planSloppyWrite } from '../../../src/coordinator/index.ts'

const up = (...down: string[]) => (node: string) => !down.includes(node)

test('every primary up: the write goes to the primaries only', () => {
  assert.equal(planSloppyWrite(['a', 'b', 'c'], ['d', 'e'], up()), {
    targets: [
      { node: 'a', primary: true },
      { node: 'b', primary: true },
      { node: 'c', primary: true },
    ],
    unplaced: [],
  })
})

test('a down primary is replaced by the next live fallback, in ring order, one fallback per primary', () => {
  assert.equal(planSloppyWrite(['a', 'b', 'c'], ['d', 'e', 'f'], up('b')).targets, [
    { node: 'a', primary: true },
    { node: 'd', primary: false, hintFor: 'b' },
    { node: 'c', primary: true },
  ])
  assert.equal(planSloppyWrite(['a', 'b', 'c'], ['d', 'e', 'f'], up('b', 'c', 'd')).targets, [
    { node: 'a', primary: true },
    { node: 'e', primary: false, hintFor: 'b' },
    { node: 'f', primary: false, hintFor: 'c' },
  ])
})

test('down primaries beyond the live fallbacks are unplaced (the coordinator keeps their hints)', () => {
  assert.equal(planSloppyWrite(['a', 'b', 'c'], ['d'], up('b', 'c')), {
    targets: [
      { node: 'a', primary: true },
      { node: 'd', primary: false, hintFor: 'b' },
    ],
    unplaced: ['c'],
  })
  assert.equal(planSloppyWrite(['a', 'b', 'c'], [], up('b', 'c')).unplaced, ['b', 'c'])
})

test('property: targets are distinct, live, one per placed primary; every primary is placed or unplaced', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }), (n, f, alive) => {
      const nodes = Array.from({ length: n + f }, (_, i) => `n${i}`)
      const isAlive = (node: string) => alive[Number(node.slice(1))]!
      const primaries = nodes.slice(0, n)
      const fallbacks = nodes.slice(n)
      const { targets, unplaced } = planSloppyWrite(primaries, fallbacks, isAlive)
      assert.is(new Set(targets.map((t) => t.node)).size, targets.length)
      assert.ok(targets.every((t) => isAlive(t.node)))
      assert.ok(targets.every((t) => t.primary === primaries.includes(t.node) && (t.primary ? t.hintFor === undefined : !isAlive(t.hintFor!))))
      const covered = [...targets.map((t) => (t.primary ? t.node : t.hintFor!)), ...unplaced].sort()
      assert.equal(covered, [...primaries].sort())
      const liveFallbacks = fallbacks.filter(isAlive).length
      assert.is(unplaced.length, Math.max(0, primaries.filter((p) => !isAlive(p)).length - liveFallbacks))
    }),
  )
})

test.run()
