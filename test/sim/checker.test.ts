// The checker on hand-written histories: each check fires on the bug it names and stays quiet on the
// legitimate outcomes next to it (failed writes that may or may not have landed, blind deletes, concurrency).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { checkConvergence, checkHistory, type CheckOptions } from './checker.ts'
import { History, type Op } from './history.ts'

/** A history on a hand-moved clock: `at(t)` sets the time for the next invoke/complete. */
function recorder() {
  let now = 0
  const h = new History(() => now)
  const at = (t: number) => {
    now = t
  }
  const get = (session: string, key: string, t0: number, t1: number, siblings: string[] | 'fail', phase: 'run' | 'final' = 'run'): Op => {
    at(t0)
    const op = h.invoke({ session, kind: 'get', key, phase })
    at(t1)
    if (siblings === 'fail') h.fail(op, 'ERR_QUORUM')
    else h.ok(op, { siblings, context: 'ctx' })
    return op
  }
  const put = (session: string, key: string, value: string, t0: number, t1: number, o: { after?: Op; fail?: boolean; ttlMs?: number } = {}): Op => {
    at(t0)
    const op = h.invoke({ session, kind: 'put', key, value, contextFrom: o.after?.id, ttlMs: o.ttlMs })
    at(t1)
    if (o.fail === true) h.fail(op, 'ERR_TIMEOUT')
    else h.ok(op)
    return op
  }
  const del = (session: string, key: string, t0: number, t1: number, after?: Op): Op => {
    at(t0)
    const op = h.invoke({ session, kind: 'delete', key, contextFrom: after?.id })
    at(t1)
    h.ok(op)
    return op
  }
  return { h, get, put, del }
}

const overlap: CheckOptions = { quorumOverlap: true }
const noOverlap: CheckOptions = { quorumOverlap: false }
const checks = (h: History, o: CheckOptions) => checkHistory(h, o).violations.map((v) => v.check)

test('lost: an acknowledged put missing from the final read; not when a later write carried it', () => {
  const { h, get, put } = recorder()
  put('a', 'k', 'a.1', 0, 1)
  put('b', 'k', 'b.1', 2, 3)
  get('z', 'k', 100, 101, ['b.1'], 'final')
  const r = checkHistory(h, noOverlap)
  assert.equal(r.violations.map((v) => v.check), ['lost'])
  assert.match(r.violations[0]!.message, 'a.1')
  assert.is(r.stats.ackedChecked, 2)
  assert.is(r.stats.lost, 1)

  const ok = recorder()
  ok.put('a', 'k', 'a.1', 0, 1)
  const read = ok.get('b', 'k', 2, 3, ['a.1'])
  // The superseding write failed: it may or may not have landed, so a.1 may be gone.
  ok.put('b', 'k', 'b.1', 4, 5, { after: read, fail: true })
  ok.get('z', 'k', 100, 101, [], 'final')
  assert.equal(checks(ok.h, noOverlap), [])
})

test('lost at a run read when quorums overlap (monotonic reads); a blind delete excuses earlier puts', () => {
  const { h, get, put, del } = recorder()
  put('a', 'k', 'a.1', 0, 1)
  get('b', 'k', 2, 3, [])
  assert.equal(checks(h, overlap), ['lost'])
  assert.equal(checks(h, noOverlap), [], 'without overlap only final reads are held to it')

  const d = recorder()
  d.put('a', 'k', 'a.1', 0, 1)
  d.del('b', 'k', 2, 3)
  d.get('b', 'k', 4, 5, [])
  d.put('a', 'k', 'a.2', 6, 7)
  d.get('z', 'k', 100, 101, ['a.2'], 'final')
  assert.equal(checks(d.h, overlap), [])
})

test('antichain: never a value together with one that superseded it', () => {
  const { h, get, put } = recorder()
  put('a', 'k', 'a.1', 0, 1)
  const r = get('b', 'k', 2, 3, ['a.1'])
  put('b', 'k', 'b.1', 4, 5, { after: r, fail: true })
  get('c', 'k', 6, 7, ['a.1', 'b.1'])
  assert.equal(checks(h, noOverlap), ['antichain'])
})

test('stale: a value superseded by a write acknowledged before the read began; resurrected after healing', () => {
  const { h, get, put } = recorder()
  put('a', 'k', 'a.1', 0, 1)
  const r = get('b', 'k', 2, 3, ['a.1'])
  put('b', 'k', 'b.1', 4, 5, { after: r })
  get('c', 'k', 4.5, 6, ['a.1']) // began before b.1 was acknowledged: fine
  get('c', 'k', 7, 8, ['a.1', 'b.1'].slice(0, 1))
  assert.equal(checks(h, overlap), ['stale', 'lost'])
  get('z', 'k', 100, 101, ['a.1', 'b.1'].slice(0, 1), 'final')
  assert.equal(checks(h, noOverlap), ['resurrected', 'lost'])
})

test('siblings: at most one per writer session plus uncertain and blind puts', () => {
  const { h, get, put } = recorder()
  const r0 = get('a', 'k', 0, 1, [])
  put('a', 'k', 'a.1', 2, 3, { after: r0 })
  const r1 = get('b', 'k', 0, 1, [])
  put('b', 'k', 'b.1', 2, 3, { after: r1 })
  // Two sessions wrote concurrently (neither read the other's value): both are siblings, within the bound.
  get('c', 'k', 8, 9, ['a.1', 'b.1'])
  assert.equal(checks(h, overlap), [])
  assert.equal(checkHistory(h, overlap).stats, { ...checkHistory(h, overlap).stats, maxSiblings: 2, siblingBound: 2 })
  const bad = recorder()
  const s0 = bad.get('a', 'k', 0, 1, [])
  bad.put('a', 'k', 'a.1', 2, 3, { after: s0 })
  const s1 = bad.get('a', 'k', 4, 5, [])
  bad.put('a', 'k', 'a.2', 6, 7, { after: s1 })
  // The session's second read missed its own acknowledged a.1 (lost), and now both live: over the bound.
  bad.get('c', 'k', 8, 9, ['a.1', 'a.2'])
  assert.equal(checks(bad.h, overlap).sort(), ['lost', 'siblings'])
  // Had a.1 failed, a second sibling from that session would be legitimate.
  const fine = recorder()
  const f0 = fine.get('a', 'k', 0, 1, [])
  fine.put('a', 'k', 'a.1', 2, 3, { after: f0, fail: true })
  const f1 = fine.get('a', 'k', 4, 5, [])
  fine.put('a', 'k', 'a.2', 6, 7, { after: f1 })
  fine.get('c', 'k', 8, 9, ['a.1', 'a.2'])
  assert.equal(checks(fine.h, overlap), [])
  assert.is(checkHistory(fine.h, overlap).stats.maxSiblings, 2)
})

test('phantom, duplicate and expired values', () => {
  const { h, get, put } = recorder()
  put('a', 'k', 'a.1', 0, 1, { ttlMs: 50 })
  get('b', 'k', 2, 3, ['a.1', 'a.1'])
  get('b', 'k', 4, 5, ['nobody.1'])
  get('b', 'j', 6, 7, ['a.1'])
  get('b', 'k', 100, 101, ['a.1'])
  assert.equal(checks(h, noOverlap).sort(), ['duplicate', 'expired', 'phantom', 'phantom'])
})

test('expiry runs from when a put was certainly applied: a put given up on and applied late is not blamed early', () => {
  const { h, get, put } = recorder()
  // Invoked at 0, the client gave up at 10; a partition held it and it was applied later, first seen at 200.
  put('a', 'k', 'a.1', 0, 10, { ttlMs: 50, fail: true })
  get('b', 'k', 199, 200, ['a.1'])
  get('b', 'k', 240, 241, ['a.1'])
  assert.equal(checks(h, noOverlap), [])
  // ...but a read that began past first-seen + ttl must not return it.
  get('b', 'k', 260, 261, ['a.1'])
  assert.equal(checks(h, noOverlap), ['expired'])
})

test('convergence: replicas of a partition with different data', () => {
  const digests = new Map([
    [0, new Map([['n1', 'aa'], ['n2', 'aa']])],
    [1, new Map([['n1', 'aa'], ['n2', 'bb']])],
  ])
  assert.equal(checkConvergence(digests).map((v) => v.message.split(':')[0]), ['partition 1'])
})

test('a write carrying the context of a failed read is a bug in the workload, not a pass', () => {
  const { h, get, put } = recorder()
  const r = get('a', 'k', 0, 1, 'fail')
  put('a', 'k', 'a.1', 2, 3, { after: r })
  assert.throws(() => checkHistory(h, overlap), /not a successful read/)
})

test.run()
