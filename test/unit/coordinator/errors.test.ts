import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError, RingkvError } from '../../../src/errors.ts'
import { isRetryableCode, QuorumError } from '../../../src/coordinator/index.ts'

const base = { asked: 3, primariesAsked: 3 }

test('a write quorum error: message, code, details', () => {
  const err = new QuorumError({
    ...base,
    op: 'write',
    required: 2,
    received: 1,
    errors: [
      ['n1', 'ERR_TIMEOUT'],
      ['n3', 'ERR_CONNECTION_CLOSED'],
    ],
  })
  assert.instance(err, RingkvError)
  assert.instance(err, QuorumError)
  assert.ok(isRingkvError(err, 'ERR_QUORUM'))
  assert.is(err.name, 'QuorumError')
  assert.is(err.message, 'write quorum not met: 1 of 2 replicas acknowledged (n1: ERR_TIMEOUT, n3: ERR_CONNECTION_CLOSED)')
  assert.equal(err.details, {
    op: 'write',
    required: 2,
    received: 1,
    errors: { n1: 'ERR_TIMEOUT', n3: 'ERR_CONNECTION_CLOSED' },
    retryable: true,
  })
})

test('a read that met R but not PR names only what is unmet', () => {
  const err = new QuorumError({
    ...base,
    op: 'read',
    required: 2,
    received: 2,
    primaryRequired: 2,
    primaryReceived: 1,
    errors: [['n2', 'ERR_TIMEOUT']],
  })
  assert.is(err.message, 'read quorum not met: 1 of 2 primaries replied (n2: ERR_TIMEOUT)')
  assert.is(err.details.primaryRequired, 2)
  assert.is(err.details.primaryReceived, 1)
})

test('durability and singular forms', () => {
  const err = new QuorumError({
    ...base,
    op: 'write',
    required: 1,
    received: 0,
    durableRequired: 1,
    durableReceived: 0,
    errors: [['n1', 'ERR_SIBLING_LIMIT']],
  })
  assert.is(err.message, 'write quorum not met: 0 of 1 replica acknowledged, 0 of 1 replica acknowledged durably (n1: ERR_SIBLING_LIMIT)')
})

test('without any replica error the message says what was available', () => {
  const err = new QuorumError({ op: 'read', required: 2, received: 0, errors: [], asked: 1, primariesAsked: 1 })
  assert.is(err.message, 'read quorum not met: 0 of 2 replicas replied (no replica failed; 1 replica asked, 1 primary among them)')
  assert.is(err.details.retryable, true)
  assert.equal(err.details.errors, {})
})

test('retryable: only when every failure was unavailability', () => {
  for (const code of ['ERR_TIMEOUT', 'ERR_CONNECTION_CLOSED', 'ERR_CONNECT_FAILED', 'ERR_OVERLOADED']) assert.ok(isRetryableCode(code), code)
  for (const code of ['ERR_INTERNAL', 'ERR_BAD_REQUEST', 'ERR_SIBLING_LIMIT', 'ERR_BAD_ENVELOPE']) assert.not.ok(isRetryableCode(code), code)
  const mixed = new QuorumError({
    ...base,
    op: 'write',
    required: 2,
    received: 1,
    errors: [
      ['n1', 'ERR_TIMEOUT'],
      ['n2', 'ERR_SIBLING_LIMIT'],
    ],
  })
  assert.is(mixed.details.retryable, false)
})

test('node ids that look like Object.prototype keys stay plain entries', () => {
  const err = new QuorumError({ ...base, op: 'read', required: 2, received: 0, errors: [['__proto__', 'ERR_TIMEOUT'], ['toString', 'ERR_TIMEOUT']] })
  assert.equal(Object.keys(err.details.errors), ['__proto__', 'toString'])
  assert.is(err.details.errors['__proto__'], 'ERR_TIMEOUT')
})

test.run()
