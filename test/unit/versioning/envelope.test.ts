import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  contextOf,
  createEnvelope,
  dropExpired,
  envelopesEqual,
  isObsolete,
  lastModified,
  liveSiblings,
  mergeEnvelopes,
  resolveLww,
  siblingCount,
  updateEnvelope,
  vv,
  vvEntries,
  type Envelope,
} from '../../../src/versioning/index.ts'
import { bytes, dots, throwsCode, values } from './helpers.ts'

const put = (env: Envelope | undefined, ctx: Envelope | undefined, actor: string, value: string | null, timestamp = 1, expiresAt = 0) =>
  updateEnvelope(env, ctx === undefined ? undefined : contextOf(ctx), actor, { value: value === null ? null : bytes(value), timestamp, expiresAt })

test('the first write gets dot (actor, 1) and a context covering it', () => {
  const e = put(undefined, undefined, 'A', 'v1')
  assert.equal(dots(e), ['A:1'])
  assert.equal(vvEntries(e.context), [['A', 1]])
  assert.is(siblingCount(e), 1)
})

test('a write with the read context replaces what was read', () => {
  const read = put(undefined, undefined, 'A', 'v1')
  const e = put(read, read, 'A', 'v2')
  assert.equal(values(e), ['v2'])
  assert.equal(dots(e), ['A:2'])
})

test('a write without context becomes a sibling', () => {
  const e1 = put(undefined, undefined, 'A', 'v1')
  const e2 = put(e1, undefined, 'A', 'v2')
  assert.equal(values(e2), ['v1', 'v2'])
  assert.equal(dots(e2), ['A:1', 'A:2'])
})

test('a write keeps siblings its reader had not seen', () => {
  const e1 = put(undefined, undefined, 'A', 'v1')
  const read = e1
  const e2 = put(e1, undefined, 'B', 'other') // concurrent with the reader
  const e3 = put(e2, read, 'A', 'v2')
  assert.equal(values(e3), ['v2', 'other'])
  assert.equal(vvEntries(e3.context), [['A', 2], ['B', 1]])
})

test('the client context joins the stored one, so the write supersedes dots this replica never held', () => {
  const elsewhere = put(undefined, undefined, 'B', 'from B') // on another replica
  const here = put(undefined, undefined, 'A', 'from A')
  const written = put(here, mergeEnvelopes(here, elsewhere), 'A', 'final')
  assert.equal(vvEntries(written.context), [['A', 2], ['B', 1]])
  // When B's replica syncs, its sibling is known superseded and disappears.
  assert.equal(values(mergeEnvelopes(written, elsewhere)), ['final'])
})

test('a forged client context cannot make a dot be issued twice', () => {
  const e = put(undefined, undefined, 'A', 'v1')
  const e2 = updateEnvelope(e, vv({ A: 7 }), 'A', { value: bytes('v2'), timestamp: 2 })
  assert.equal(dots(e2), ['A:8'])
})

test('merge keeps concurrent siblings and drops superseded ones', () => {
  const base = put(undefined, undefined, 'A', 'v1')
  const left = put(base, base, 'A', 'left') // supersedes v1
  const right = put(base, undefined, 'B', 'right') // concurrent, keeps v1
  const m = mergeEnvelopes(left, right)
  assert.equal(values(m), ['left', 'right'])
  assert.ok(envelopesEqual(m, mergeEnvelopes(right, left)))
  assert.ok(envelopesEqual(mergeEnvelopes(m, m), m))
})

test('a delete is a tombstone sibling; reads skip it; it supersedes what its reader saw', () => {
  const e1 = put(undefined, undefined, 'A', 'v1')
  const del = put(e1, e1, 'A', null, 5)
  assert.equal(values(del), [null])
  assert.equal(liveSiblings(del, 10), [])
  assert.ok(isObsolete(del, 10))
  // A replica still holding v1 does not bring it back.
  assert.equal(values(mergeEnvelopes(e1, del)), [null])
})

test('expired values are not read, and dropping them never lets repair resurrect them', () => {
  const e = put(undefined, undefined, 'A', 'short', 1, 100)
  assert.is(liveSiblings(e, 99).length, 1)
  assert.is(liveSiblings(e, 100).length, 0)
  assert.ok(isObsolete(e, 100))
  const cleaned = dropExpired(e, 100)
  assert.is(siblingCount(cleaned), 0)
  assert.equal(values(mergeEnvelopes(cleaned, e)), [])
  assert.is(dropExpired(e, 50), e)
})

test('lww keeps the newest sibling, ties broken by the larger dot, and keeps the context', () => {
  let e = put(undefined, undefined, 'A', 'old', 10)
  e = put(e, undefined, 'B', 'new', 20)
  e = put(e, undefined, 'C', 'tie-low', 20)
  const won = resolveLww(e)
  assert.equal(values(won), ['tie-low'])
  assert.is(won.context, e.context)
  assert.equal(values(mergeEnvelopes(won, e)), ['tie-low'])
  const deleted = resolveLww(put(e, undefined, 'A', null, 30))
  assert.equal(values(deleted), [null])
  assert.is(lastModified(deleted), 30)
  assert.is(lastModified(createEnvelope(vv(), [])), 0)
})

test('writes are validated', () => {
  throwsCode(() => updateEnvelope(undefined, undefined, '', { value: null, timestamp: 1 }), 'ERR_BAD_ENVELOPE', /actor/)
  throwsCode(() => updateEnvelope(undefined, undefined, 'A', { value: null, timestamp: -1 }), 'ERR_BAD_ENVELOPE', /timestamp/)
  throwsCode(() => updateEnvelope(undefined, undefined, 'A', { value: null, timestamp: 1, expiresAt: 1.5 }), 'ERR_BAD_ENVELOPE', /expiresAt/)
  throwsCode(() => updateEnvelope(undefined, undefined, 'A', { value: 'x' as unknown as Uint8Array, timestamp: 1 }), 'ERR_BAD_ENVELOPE', /Uint8Array/)
})

test('createEnvelope sorts siblings and checks every invariant', () => {
  const s = (actor: string, counter: number) => ({ dot: { actor, counter }, value: null, timestamp: 0, expiresAt: 0 })
  const e = createEnvelope(vv({ A: 2, B: 1 }), [s('B', 1), s('A', 2)])
  assert.equal(dots(e), ['A:2', 'B:1'])
  throwsCode(() => createEnvelope(vv({ A: 1 }), [s('A', 2)]), 'ERR_BAD_ENVELOPE', /not covered/)
  throwsCode(() => createEnvelope(vv({ A: 1 }), [s('B', 1)]), 'ERR_BAD_ENVELOPE', /not covered/)
  throwsCode(() => createEnvelope(vv({ A: 1 }), [s('A', 1), s('A', 1)]), 'ERR_BAD_ENVELOPE', /twice/)
  throwsCode(() => createEnvelope(vv({ A: 1 }), [s('A', 0)]), 'ERR_BAD_ENVELOPE', /positive/)
  throwsCode(() => createEnvelope(new Map([['A', -3]]), []), 'ERR_BAD_ENVELOPE', /bad envelope context/)
})

test.run()
