import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { WriteCore, type WriteCoreOptions } from '../../../src/coordinator/index.ts'
import { replicas, throwsType } from './helpers.ts'

function core(spec: string, w: number, pw = 0, dw = 0, n = 3): WriteCore {
  return new WriteCore({ n, w, pw, dw, replicas: replicas(spec) })
}

const DURABLE = { durable: true }
const BUFFERED = { durable: false }

test('W acks make the quorum', () => {
  const wc = core('n1 n2 n3', 2)
  assert.is(wc.status(), 'pending')
  assert.ok(wc.ack('n1', BUFFERED))
  assert.is(wc.status(), 'pending')
  assert.ok(wc.ack('n3', BUFFERED))
  assert.is(wc.status(), 'ok')
  assert.is(wc.quorumError(), undefined)
  assert.equal(wc.pending(), ['n2'])
  assert.not.ok(wc.isFinal())
  wc.error('n2', 'ERR_TIMEOUT')
  assert.is(wc.status(), 'ok')
  assert.ok(wc.isFinal())
})

test('fails as soon as W is out of reach, and stays failed', () => {
  const wc = core('n1 n2 n3', 2)
  wc.ack('n2', DURABLE)
  wc.error('n1', 'ERR_TIMEOUT')
  assert.is(wc.status(), 'pending')
  wc.error('n3', 'ERR_CONNECTION_CLOSED')
  assert.is(wc.status(), 'failed')
  const err = wc.quorumError()!
  assert.is(err.message, 'write quorum not met: 1 of 2 replicas acknowledged (n1: ERR_TIMEOUT, n3: ERR_CONNECTION_CLOSED)')
  assert.equal(err.details, {
    op: 'write',
    required: 2,
    received: 1,
    errors: { n1: 'ERR_TIMEOUT', n3: 'ERR_CONNECTION_CLOSED' },
    retryable: true,
  })
})

test('a refused write is not retryable', () => {
  const wc = core('n1 n2 n3', 3)
  wc.error('n1', 'ERR_SIBLING_LIMIT')
  assert.is(wc.status(), 'failed')
  assert.is(wc.quorumError()!.details.retryable, false)
  // Mixed with timeouts, still not: the refusing replica would refuse again.
  const mixed = core('n1 n2 n3', 2)
  mixed.error('n1', 'ERR_TIMEOUT')
  mixed.error('n2', 'ERR_INTERNAL')
  assert.is(mixed.quorumError()!.details.retryable, false)
})

test('pw: acks from fallbacks (hinted) count for W, not for PW', () => {
  const wc = core('n1 f4 n3', 2, 2)
  wc.ack('f4', DURABLE)
  wc.ack('n1', DURABLE)
  assert.is(wc.status(), 'pending')
  wc.ack('n3', BUFFERED)
  assert.is(wc.status(), 'ok')

  const failing = core('n1 f4 n3', 2, 2)
  failing.ack('f4', DURABLE)
  failing.error('n3', 'ERR_TIMEOUT')
  assert.is(failing.status(), 'failed')
  const err = failing.quorumError()!
  assert.is(err.message, 'write quorum not met: 1 of 2 replicas acknowledged, 0 of 2 primaries acknowledged (n3: ERR_TIMEOUT)')
  assert.is(err.details.primaryRequired, 2)
  assert.is(err.details.primaryReceived, 0)
  assert.is(err.details.durableRequired, undefined)
})

test('dw: enough of the acks must be durable', () => {
  const wc = core('n1 n2 n3', 2, 0, 2)
  wc.ack('n1', DURABLE)
  wc.ack('n2', BUFFERED)
  assert.is(wc.status(), 'pending')
  wc.ack('n3', DURABLE)
  assert.is(wc.status(), 'ok')

  const failing = core('n1 n2 n3', 2, 0, 2)
  failing.ack('n1', BUFFERED)
  failing.ack('n2', BUFFERED)
  assert.is(failing.status(), 'failed')
  const err = failing.quorumError()!
  assert.is(err.message, 'write quorum not met: 0 of 2 replicas acknowledged durably (no replica failed; 3 replicas asked, 3 primaries among them)')
  assert.is(err.details.received, 2)
  assert.is(err.details.durableRequired, 2)
  assert.is(err.details.durableReceived, 0)
})

test('dw = 0 ignores durability; dw = w = n wants every replica durable', () => {
  const wc = core('n1 n2 n3', 2)
  wc.ack('n1', BUFFERED)
  wc.ack('n2', BUFFERED)
  assert.is(wc.status(), 'ok')
  const all = core('n1 n2 n3', 3, 3, 3)
  all.ack('n1', DURABLE)
  all.ack('n2', DURABLE)
  assert.is(all.status(), 'pending')
  all.ack('n3', DURABLE)
  assert.is(all.status(), 'ok')
})

test('n = 1', () => {
  const wc = core('n1', 1, 1, 1, 1)
  wc.ack('n1', DURABLE)
  assert.is(wc.status(), 'ok')
  const failing = core('n1', 1, 0, 0, 1)
  failing.error('n1', 'ERR_CONNECT_FAILED')
  assert.is(failing.status(), 'failed')
  assert.is(failing.quorumError()!.message, 'write quorum not met: 0 of 1 replica acknowledged (n1: ERR_CONNECT_FAILED)')
})

test('fails at once when too few replicas, or primaries, were asked', () => {
  assert.is(core('', 1).status(), 'failed')
  assert.is(core('n1 f2 f3', 2, 2).status(), 'failed')
  assert.is(core('n1 f2 f3', 2, 1).status(), 'pending')
  const few = core('n1', 2)
  assert.is(few.status(), 'failed')
  assert.equal(few.quorumError()!.details.errors, {})
  assert.is(few.quorumError()!.details.retryable, true)
})

test('a node answers once: a second ack (even a durable one) or error changes nothing', () => {
  const wc = core('n1 n2 n3', 2, 0, 1)
  assert.ok(wc.ack('n1', BUFFERED))
  assert.not.ok(wc.ack('n1', DURABLE))
  assert.not.ok(wc.ack('n1', BUFFERED))
  assert.not.ok(wc.error('n1', 'ERR_TIMEOUT'))
  assert.is(wc.status(), 'pending')
  assert.ok(wc.error('n2', 'ERR_TIMEOUT'))
  assert.not.ok(wc.ack('n2', DURABLE))
  assert.is(wc.status(), 'pending')
  wc.ack('n3', BUFFERED)
  assert.is(wc.status(), 'failed')
})

test('acks from nodes that were not asked are rejected and change nothing', () => {
  const wc = core('n1 n2 n3', 1)
  throwsType(() => wc.ack('n4', DURABLE), RangeError, /n4 is not a replica of this request/)
  throwsType(() => wc.error('n4', 'ERR_TIMEOUT'), RangeError)
  assert.is(wc.status(), 'pending')
  assert.equal(wc.pending(), ['n1', 'n2', 'n3'])
})

test('options are checked', () => {
  const base: WriteCoreOptions = { n: 3, w: 2, pw: 0, dw: 0, replicas: replicas('n1 n2 n3') }
  throwsType(() => new WriteCore({ ...base, w: 4 }), RangeError, /w must be an integer between 1 and n \(3\), got 4/)
  throwsType(() => new WriteCore({ ...base, pw: 3 }), RangeError, /pw must be an integer between 0 and w \(2\)/)
  throwsType(() => new WriteCore({ ...base, dw: 3 }), RangeError, /dw must be an integer between 0 and w \(2\)/)
  throwsType(() => new WriteCore({ ...base, dw: -1 }), RangeError)
  throwsType(() => new WriteCore({ ...base, replicas: replicas('n1 n2 n2') }), RangeError, /listed twice/)
  const wc = new WriteCore(base)
  throwsType(() => wc.ack('n1', {} as never), TypeError, /durable must be a boolean/)
  throwsType(() => wc.error('n1', undefined as never), TypeError)
  assert.is(wc.status(), 'pending')
})

test.run()
