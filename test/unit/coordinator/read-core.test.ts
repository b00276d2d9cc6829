import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ReadCore, visibleSiblings, type ReadCoreOptions } from '../../../src/coordinator/index.ts'
import { contextOf, envelopesEqual, mergeEnvelopes, updateEnvelope, type Envelope } from '../../../src/versioning/index.ts'
import { bytes, replicas, text, throwsType } from './helpers.ts'

const NOW = 1_700_000_000_000

function core(spec: string, r: number, pr = 0, n = 3): ReadCore {
  return new ReadCore({ n, r, pr, replicas: replicas(spec), now: NOW })
}

// A small history: v1 written by n1; v2 overwrites it (a replica that missed v2 is stale);
// c is concurrent with v2 (written without context); gone deletes v2; ttl expired before NOW.
const v1 = updateEnvelope(undefined, undefined, 'n1#0', { value: bytes('v1'), timestamp: NOW - 300 })
const v2 = updateEnvelope(v1, contextOf(v1), 'n1#0', { value: bytes('v2'), timestamp: NOW - 200 })
const c = updateEnvelope(v1, undefined, 'n2#0', { value: bytes('c'), timestamp: NOW - 150 })
const gone = updateEnvelope(v2, contextOf(v2), 'n1#0', { value: null, timestamp: NOW - 100 })
const ttl = updateEnvelope(undefined, undefined, 'n3#0', { value: bytes('t'), timestamp: NOW - 50, expiresAt: NOW - 1 })

const values = (env: Envelope | undefined): Array<string | null> => (env === undefined ? [] : env.siblings.map((s) => text(s.value)))
const same = (a: Envelope | undefined, b: Envelope | undefined): void => {
  assert.ok(a !== undefined && b !== undefined && envelopesEqual(a, b), `${values(a)} vs ${values(b)}`)
}

test('R replies make the quorum; the answer is their merge', () => {
  const rc = core('n1 n2 n3', 2)
  assert.is(rc.status(), 'pending')
  assert.is(rc.answer(), undefined)
  assert.ok(rc.ok('n1', v2))
  assert.is(rc.status(), 'pending')
  assert.ok(rc.ok('n2', v1))
  assert.is(rc.status(), 'ok')
  const answer = rc.answer()!
  assert.is(answer.state, 'found')
  same(answer.envelope, v2)
  assert.equal(answer.siblings.map((s) => text(s.value)), ['v2'])
  // n2 was stale and part of the answer: repaired before answering.
  const repairs = rc.repairs()
  same(repairs.envelope, v2)
  assert.equal(repairs.blocking, ['n2'])
  assert.equal(repairs.background, [])
  assert.is(rc.quorumError(), undefined)
})

test('a late reply is merged and repaired in the background; the answer stays what the quorum said', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', v1)
  rc.ok('n2', v1)
  assert.is(rc.status(), 'ok')
  assert.equal(rc.repairs(), { envelope: undefined, blocking: [], background: [] })
  assert.ok(rc.needsMore())
  assert.equal(rc.pending(), ['n3'])
  rc.ok('n3', c)
  assert.ok(rc.isFinal())
  assert.not.ok(rc.needsMore())
  assert.is(rc.status(), 'ok')
  same(rc.answer()!.envelope, v1)
  same(rc.result(), mergeEnvelopes(v1, c))
  // n1 and n2 answered with v1, which the merge now exceeds: they are the answer's basis (blocking), and
  // the driver resends to them because the envelope changed after their blocking repair.
  const repairs = rc.repairs()
  same(repairs.envelope, c)
  assert.equal(repairs.blocking, ['n1', 'n2'])
  assert.equal(repairs.background, [])
})

test('a stale late replica goes to background repair', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n2', v2)
  rc.ok('n3', v2)
  rc.ok('n1', undefined)
  assert.equal(rc.repairs().blocking, [])
  assert.equal(rc.repairs().background, ['n1'])
  same(rc.repairs().envelope, v2)
})

test('concurrent writes come back as siblings; every replica missing one is repaired', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', v2)
  rc.ok('n2', c)
  const answer = rc.answer()!
  assert.equal(answer.siblings.map((s) => text(s.value)).sort(), ['c', 'v2'])
  assert.equal(rc.repairs().blocking, ['n1', 'n2'])
})

test('not-found counts toward R; all not-found answers not-found with nothing to repair', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', undefined)
  rc.ok('n3', undefined)
  assert.is(rc.status(), 'ok')
  assert.equal(rc.answer(), { envelope: undefined, siblings: [], state: 'not-found' })
  assert.is(rc.result(), undefined)
  assert.equal(rc.repairs(), { envelope: undefined, blocking: [], background: [] })
})

test('a tombstone reads as deleted but is repaired to replicas that miss it, context included', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', gone)
  rc.ok('n2', undefined)
  const answer = rc.answer()!
  assert.is(answer.state, 'deleted')
  assert.equal(answer.siblings, [])
  same(answer.envelope, gone)
  assert.equal([...contextOf(answer.envelope!)], [['n1#0', 3]])
  assert.equal(rc.repairs().blocking, ['n2'])
  // A replica still holding the overwritten value is repaired too: the tombstone supersedes it.
  rc.ok('n3', v2)
  assert.equal(rc.repairs().background, ['n3'])
  same(rc.result(), gone)
})

test('expired values are never shown, but stay in what is merged and repaired', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', ttl)
  rc.ok('n2', undefined)
  const answer = rc.answer()!
  assert.is(answer.state, 'deleted')
  assert.equal(answer.siblings, [])
  same(rc.result(), ttl)
  assert.equal(rc.repairs().blocking, ['n2'])
  // Beside a live sibling, only the expired one is hidden.
  const both = new ReadCore({ n: 3, r: 2, pr: 0, replicas: replicas('n1 n2 n3'), now: NOW })
  both.ok('n1', ttl)
  both.ok('n2', v1)
  assert.equal(both.answer()!.siblings.map((s) => text(s.value)), ['v1'])
  assert.is(both.answer()!.state, 'found')
  assert.is(both.result()!.siblings.length, 2)
})

test('visibleSiblings: live and unexpired only; undefined reads as nothing', () => {
  assert.equal(visibleSiblings(undefined, NOW), [])
  assert.equal(visibleSiblings(gone, NOW), [])
  assert.equal(visibleSiblings(ttl, NOW), [])
  assert.equal(visibleSiblings(ttl, NOW - 2).map((s) => text(s.value)), ['t'])
  assert.equal(visibleSiblings(v2, NOW).map((s) => text(s.value)), ['v2'])
})

test('fails as soon as R is out of reach, and stays failed', () => {
  const rc = core('n1 n2 n3', 2)
  rc.error('n1', 'ERR_TIMEOUT')
  assert.is(rc.status(), 'pending')
  assert.is(rc.quorumError(), undefined)
  rc.error('n3', 'ERR_CONNECTION_CLOSED')
  assert.is(rc.status(), 'failed')
  const err = rc.quorumError()!
  assert.is(err.code, 'ERR_QUORUM')
  assert.is(err.message, 'read quorum not met: 0 of 2 replicas replied (n1: ERR_TIMEOUT, n3: ERR_CONNECTION_CLOSED)')
  assert.equal(err.details, {
    op: 'read',
    required: 2,
    received: 0,
    errors: { n1: 'ERR_TIMEOUT', n3: 'ERR_CONNECTION_CLOSED' },
    retryable: true,
  })
  rc.ok('n2', v1)
  assert.is(rc.status(), 'failed')
  assert.is(rc.answer(), undefined)
  assert.ok(rc.isFinal())
})

test('a failed read still repairs, all in the background', () => {
  const rc = core('n1 n2 n3', 3)
  rc.ok('n1', v2)
  rc.error('n2', 'ERR_INTERNAL')
  assert.is(rc.status(), 'failed')
  assert.is(rc.quorumError()!.details.retryable, false)
  rc.ok('n3', v1)
  assert.equal(rc.repairs().blocking, [])
  assert.equal(rc.repairs().background, ['n3'])
})

test('n = 1', () => {
  const ok = core('n1', 1, 0, 1)
  ok.ok('n1', v1)
  assert.is(ok.status(), 'ok')
  assert.ok(ok.isFinal())
  assert.equal(ok.repairs().blocking, [])
  const failed = core('n1', 1, 1, 1)
  failed.error('n1', 'ERR_TIMEOUT')
  assert.is(failed.status(), 'failed')
  assert.match(failed.quorumError()!.message, /0 of 1 replica replied, 0 of 1 primary replied \(n1: ERR_TIMEOUT\)/)
})

test('r = n needs every replica; any error fails it', () => {
  const rc = core('n1 n2 n3', 3)
  rc.ok('n1', v1)
  rc.ok('n2', v1)
  assert.is(rc.status(), 'pending')
  rc.ok('n3', v1)
  assert.is(rc.status(), 'ok')
  const failing = core('n1 n2 n3', 3)
  failing.error('n2', 'ERR_OVERLOADED')
  assert.is(failing.status(), 'failed')
})

test('pr counts primaries only: fallbacks make R but not PR', () => {
  // n3 is down; f4 stands in for it.
  const rc = core('n1 n2 f4', 2, 2)
  rc.ok('n1', v1)
  rc.ok('f4', v1)
  assert.is(rc.status(), 'pending')
  rc.ok('n2', v1)
  assert.is(rc.status(), 'ok')

  const failing = core('n1 n2 f4', 2, 2)
  failing.ok('f4', v1)
  failing.ok('n1', v1)
  failing.error('n2', 'ERR_TIMEOUT')
  assert.is(failing.status(), 'failed')
  const err = failing.quorumError()!
  assert.is(err.message, 'read quorum not met: 1 of 2 primaries replied (n2: ERR_TIMEOUT)')
  assert.is(err.details.received, 2)
  assert.is(err.details.primaryRequired, 2)
  assert.is(err.details.primaryReceived, 1)

  // Without pr the fallback counts like anyone.
  const sloppy = core('n1 n2 f4', 2)
  sloppy.ok('f4', undefined)
  sloppy.ok('n1', v1)
  assert.is(sloppy.status(), 'ok')
})

test('fails at once when too few replicas, or primaries, were asked', () => {
  const none = core('', 1)
  assert.is(none.status(), 'failed')
  assert.ok(none.isFinal())
  assert.is(none.quorumError()!.message, 'read quorum not met: 0 of 1 replica replied (no replica failed; 0 replicas asked, 0 primaries among them)')
  const fewPrimaries = core('n1 f2 f3', 2, 2)
  assert.is(fewPrimaries.status(), 'failed')
  assert.is(fewPrimaries.quorumError()!.details.retryable, true)
})

test('a node answers once: duplicates change nothing', () => {
  const rc = core('n1 n2 n3', 2)
  assert.ok(rc.ok('n1', v1))
  assert.not.ok(rc.ok('n1', v2))
  assert.not.ok(rc.error('n1', 'ERR_TIMEOUT'))
  assert.is(rc.status(), 'pending')
  same(rc.result(), v1)
  assert.ok(rc.error('n2', 'ERR_TIMEOUT'))
  assert.not.ok(rc.ok('n2', v2))
  assert.is(rc.status(), 'pending')
  assert.equal(rc.pending(), ['n3'])
})

test('replies from nodes that were not asked are rejected and change nothing', () => {
  const rc = core('n1 n2 n3', 2)
  rc.ok('n1', v1)
  throwsType(() => rc.ok('n9', v2), RangeError, /n9 is not a replica of this request/)
  throwsType(() => rc.error('n9', 'ERR_TIMEOUT'), RangeError)
  assert.is(rc.status(), 'pending')
  same(rc.result(), v1)
  assert.equal(rc.pending(), ['n2', 'n3'])
})

test('options are checked', () => {
  const base: ReadCoreOptions = { n: 3, r: 2, pr: 0, replicas: replicas('n1 n2 n3'), now: NOW }
  throwsType(() => new ReadCore({ ...base, r: 4 }), RangeError, /r must be an integer between 1 and n \(3\), got 4/)
  throwsType(() => new ReadCore({ ...base, r: 0 }), RangeError)
  throwsType(() => new ReadCore({ ...base, pr: 3 }), RangeError, /pr must be an integer between 0 and r \(2\), got 3/)
  throwsType(() => new ReadCore({ ...base, n: 0, r: 1 }), RangeError, /^n must/)
  throwsType(() => new ReadCore({ ...base, now: Number.NaN }), RangeError, /now/)
  throwsType(() => new ReadCore({ ...base, replicas: replicas('n1 n1') }), RangeError, /n1 is listed twice/)
  throwsType(() => new ReadCore({ ...base, replicas: [{ node: '', primary: true }] }), TypeError)
  throwsType(() => new ReadCore({ ...base, replicas: [{ node: 'n1' } as never] }), TypeError, /primary must be a boolean/)
  const rc = new ReadCore(base)
  throwsType(() => rc.ok('n1', {} as never), TypeError, /expected an envelope/)
  throwsType(() => rc.error('n1', ''), TypeError)
  assert.equal(rc.pending(), ['n1', 'n2', 'n3'])
})

test('more replicas than n (a speculative extra) is allowed', () => {
  const rc = core('n1 n2 n3 f4', 3)
  rc.error('n1', 'ERR_TIMEOUT')
  rc.ok('n2', v1)
  rc.ok('n3', v1)
  assert.is(rc.status(), 'pending')
  rc.ok('f4', v2)
  assert.is(rc.status(), 'ok')
  assert.equal(rc.repairs().blocking, ['n2', 'n3'])
})

test.run()
