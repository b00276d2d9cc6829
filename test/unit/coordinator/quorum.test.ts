import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RingkvError } from '../../../src/errors.ts'
import { resolveQuorum, resolveReadOptions, resolveWriteOptions } from '../../../src/coordinator/index.ts'
import { throwsCode, throwsType } from './helpers.ts'

test('names resolve against n', () => {
  for (const [n, quorum] of [[1, 1], [2, 2], [3, 2], [4, 3], [5, 3], [7, 4]] as const) {
    assert.is(resolveQuorum('one', n, 'r'), 1)
    assert.is(resolveQuorum('quorum', n, 'r'), quorum)
    assert.is(resolveQuorum('all', n, 'r'), n)
  }
})

test('integers 1..n pass through; 0 only where it means "no constraint"', () => {
  for (let v = 1; v <= 3; v++) assert.is(resolveQuorum(v, 3, 'w'), v)
  assert.is(resolveQuorum(0, 3, 'pr', 0), 0)
  assert.is(resolveQuorum(3, 3, 'dw', 0), 3)
  throwsCode(() => resolveQuorum(0, 3, 'r'), 'ERR_BAD_REQUEST', /^r must be between 1 and 3 or one of one\|quorum\|all, got 0$/)
})

test('bad values name the option, its range and the value', () => {
  throwsCode(() => resolveQuorum(7, 3, 'r'), 'ERR_BAD_REQUEST', /^r must be between 1 and 3 or one of one\|quorum\|all, got 7$/)
  throwsCode(() => resolveQuorum(4, 3, 'pw', 0), 'ERR_BAD_REQUEST', /^pw must be between 0 and 3 or one of one\|quorum\|all, got 4$/)
  throwsCode(() => resolveQuorum(1.5, 3, 'w'), 'ERR_BAD_REQUEST', /got 1\.5$/)
  throwsCode(() => resolveQuorum(-1, 3, 'dw', 0), 'ERR_BAD_REQUEST', /got -1$/)
  throwsCode(() => resolveQuorum(Number.NaN, 3, 'w'), 'ERR_BAD_REQUEST', /got NaN$/)
  throwsCode(() => resolveQuorum('most', 3, 'w'), 'ERR_BAD_REQUEST', /got "most"$/)
  throwsCode(() => resolveQuorum('2', 3, 'w'), 'ERR_BAD_REQUEST', /got "2"$/)
  throwsCode(() => resolveQuorum(null, 3, 'w'), 'ERR_BAD_REQUEST', /got null$/)
  try {
    resolveQuorum(7, 3, 'r')
  } catch (err) {
    assert.instance(err, RingkvError)
    assert.equal((err as RingkvError).details, { option: 'r', value: '7', n: 3 })
  }
})

test('n itself must be a positive integer (a keyspace bug, not a request error)', () => {
  throwsType(() => resolveQuorum(1, 0, 'r'), RangeError, /n must be a positive integer, got 0/)
  throwsType(() => resolveQuorum(1, 2.5, 'r'), RangeError)
})

test('read options: request, then keyspace defaults, then r=quorum pr=0', () => {
  assert.equal(resolveReadOptions({}, 3), { r: 2, pr: 0 })
  assert.equal(resolveReadOptions({}, 5), { r: 3, pr: 0 })
  assert.equal(resolveReadOptions({ r: 'one' }, 3), { r: 1, pr: 0 })
  assert.equal(resolveReadOptions({}, 3, { r: 'all', pr: 'one' }), { r: 3, pr: 1 })
  assert.equal(resolveReadOptions({ r: 2 }, 3, { r: 'all', pr: 'quorum' }), { r: 2, pr: 2 })
  assert.equal(resolveReadOptions({ r: 'all', pr: 'all' }, 3), { r: 3, pr: 3 })
  assert.equal(resolveReadOptions({ r: undefined }, 1), { r: 1, pr: 0 })
})

test('write options: request, then keyspace defaults, then w=quorum pw=0 dw=0', () => {
  assert.equal(resolveWriteOptions({}, 3), { w: 2, pw: 0, dw: 0 })
  assert.equal(resolveWriteOptions({ w: 'all', dw: 'one' }, 3), { w: 3, pw: 0, dw: 1 })
  assert.equal(resolveWriteOptions({}, 3, { w: 1, pw: 1, dw: 1 }), { w: 1, pw: 1, dw: 1 })
  assert.equal(resolveWriteOptions({ pw: 0 }, 3, { pw: 2 }), { w: 2, pw: 0, dw: 0 })
  assert.equal(resolveWriteOptions({ w: 'one', pw: 'one', dw: 'one' }, 1), { w: 1, pw: 1, dw: 1 })
})

test('pr <= r, pw <= w, dw <= w', () => {
  throwsCode(() => resolveReadOptions({ pr: 'all' }, 3), 'ERR_BAD_REQUEST', /^pr must not exceed r: pr=3, r=2$/)
  throwsCode(() => resolveWriteOptions({ w: 1, pw: 2 }, 3), 'ERR_BAD_REQUEST', /^pw must not exceed w: pw=2, w=1$/)
  throwsCode(() => resolveWriteOptions({ dw: 'all' }, 3), 'ERR_BAD_REQUEST', /^dw must not exceed w: dw=3, w=2$/)
  // Equal is fine.
  assert.equal(resolveWriteOptions({ w: 2, pw: 2, dw: 2 }, 3), { w: 2, pw: 2, dw: 2 })
})

test('a bad keyspace default is named as such; a request value overrides it unchecked', () => {
  throwsCode(() => resolveReadOptions({}, 3, { r: 5 }), 'ERR_BAD_REQUEST', /^r \(keyspace default\) must be between 1 and 3/)
  throwsCode(() => resolveWriteOptions({}, 3, { dw: 'most' as never }), 'ERR_BAD_REQUEST', /^dw \(keyspace default\)/)
  assert.equal(resolveReadOptions({ r: 1 }, 3, { r: 5 }), { r: 1, pr: 0 })
})

test.run()
