// The CLIENT_GET reply an agreed read builds from stored bytes (src/node/stored-reply.ts): the native builder
// must write exactly what the TypeScript path (readAnswer, then encodeGetReply) writes, for any envelope and
// any time of reading, and leave to that path what it does not read itself.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { native } from '../../src/engine/native.ts'
import { storedGetReply, storedGetReplyInTypeScript } from '../../src/node/stored-reply.ts'
import { createEnvelope, encodeEnvelope, vv, type Sibling } from '../../src/versioning/index.ts'

const ACTORS = ['n1#1/0', 'n1#1/7', 'n2#3/0', 'n3#1/12']
const BASE = 1_700_000_000_000

const sibling = fc.record({
  actor: fc.constantFrom(...ACTORS),
  kind: fc.constantFrom('value', 'value', 'tombstone'),
  size: fc.integer({ min: 0, max: 3000 }),
  // Few distinct timestamps, so that equal ones (the sort's stability) come up.
  timestamp: fc.integer({ min: 0, max: 4 }).map((t) => BASE + t),
  expiresAt: fc.constantFrom(0, 0, BASE + 10, BASE + 20, 2 ** 53 - 1),
})

/** Envelopes whose siblings sit at distinct dots their context covers, with values, tombstones and expiries. */
const stored = fc.array(sibling, { maxLength: 6 }).map((specs) => {
  const counters = new Map<string, number>()
  const siblings: Sibling[] = specs.map((s, i) => {
    const counter = (counters.get(s.actor) ?? 0) + 1 + (i % 2)
    counters.set(s.actor, counter)
    return {
      dot: { actor: s.actor, counter },
      value: s.kind === 'tombstone' ? null : Buffer.alloc(s.size, i + 1),
      timestamp: s.timestamp,
      expiresAt: s.expiresAt,
    }
  })
  const context = vv(Object.fromEntries([...counters].map(([a, c]) => [a, c + 1])))
  return encodeEnvelope(createEnvelope(context, siblings))
})

const getReplyInto = native.getReplier()
const scratch = Buffer.alloc(64 * 1024)

const readAt = fc.constantFrom(BASE, BASE + 9, BASE + 10, BASE + 10.5, BASE + 20, BASE + 1e9, 2 ** 53)

test('the native reply equals the TypeScript one for any envelope, read at any time', () => {
  fc.assert(
    fc.property(stored, readAt, (bytes, now) => {
      // Decided natively (not handed back to TypeScript), and the same bytes.
      assert.ok(getReplyInto(bytes, now, scratch) >= 0)
      assert.equal(storedGetReply(bytes, now), storedGetReplyInTypeScript(bytes, now))
    }),
    { numRuns: 500 },
  )
})

test('replies larger than the scratch buffer are built in a buffer of their own', () => {
  const bytes = encodeEnvelope(
    createEnvelope(vv({ 'n1#1/0': 2 }), [
      { dot: { actor: 'n1#1/0', counter: 1 }, value: Buffer.alloc(40_000, 1), timestamp: BASE, expiresAt: 0 },
      { dot: { actor: 'n1#1/0', counter: 2 }, value: Buffer.alloc(30_000, 2), timestamp: BASE + 1, expiresAt: 0 },
    ]),
  )
  const reply = storedGetReply(bytes, BASE)
  assert.ok(reply.length > 70_000)
  assert.equal(reply, storedGetReplyInTypeScript(bytes, BASE))
  // And the next, small one is unaffected.
  const small = encodeEnvelope(createEnvelope(vv({ 'n2#1/0': 1 }), [{ dot: { actor: 'n2#1/0', counter: 1 }, value: Buffer.from('x'), timestamp: BASE, expiresAt: 0 }]))
  assert.equal(storedGetReply(small, BASE), storedGetReplyInTypeScript(small, BASE))
})

test('actors that are not ASCII are answered by the TypeScript path, with the same bytes', () => {
  const bytes = encodeEnvelope(
    createEnvelope(vv({ 'nü#1/0': 1, 'n1#1/0': 1 }), [
      { dot: { actor: 'nü#1/0', counter: 1 }, value: Buffer.from('ü'), timestamp: BASE, expiresAt: 0 },
    ]),
  )
  assert.equal(storedGetReply(bytes, BASE), storedGetReplyInTypeScript(bytes, BASE))
  assert.is(getReplyInto(bytes, BASE, scratch), -1, 'left to TypeScript')
})

test('bytes that do not parse are ERR_BAD_ENVELOPE, as readAnswer says', () => {
  const good = encodeEnvelope(
    createEnvelope(vv({ 'n1#1/0': 1 }), [{ dot: { actor: 'n1#1/0', counter: 1 }, value: Buffer.from('v'), timestamp: BASE, expiresAt: 0 }]),
  )
  for (const bad of [new Uint8Array(0), Uint8Array.of(9), good.subarray(0, good.length - 1), Buffer.concat([good, Uint8Array.of(0)])]) {
    assert.throws(() => storedGetReply(bad, BASE), (e: Error & { code?: string }) => e.code === 'ERR_BAD_ENVELOPE')
  }
})

test.run()
