import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  contextOf,
  decodeContext,
  decodeEnvelope,
  encodeContext,
  encodeEnvelope,
  envelopesEqual,
  liveSiblings,
  MAX_CONTEXT_CHARS,
  contextOfBytes,
  readAnswer,
  updateEnvelope,
  vv,
  vvEntries,
  vvEquals,
  type Envelope,
} from '../../../src/versioning/index.ts'
import { bytes, throwsCode } from './helpers.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

function sample(): Envelope {
  const e1 = updateEnvelope(undefined, undefined, 'n1#0', { value: bytes('a'), timestamp: 1 })
  const e2 = updateEnvelope(e1, undefined, 'n2#0', { value: bytes('b'), timestamp: 2 })
  return updateEnvelope(e2, contextOf(e1), 'n1#0', { value: bytes('c'), timestamp: 3, expiresAt: 200 })
}

// The format is what the engine stores on disk: this golden vector pins it.
const GOLDEN = `01
  02 04 6e312330 02   04 6e322330 01
  02 00 02 03 c801 01 01 63
     01 01 02 00   01 01 62`

test('golden encoding of a two-sibling envelope', () => {
  assert.is(hex(encodeEnvelope(sample())), hex(unhex(GOLDEN)))
  assert.ok(envelopesEqual(decodeEnvelope(unhex(GOLDEN)), sample()))
})

test('round trip: empty, tombstones, large values, large numbers', () => {
  const empty: Envelope = { context: vv(), siblings: [] }
  assert.is(hex(encodeEnvelope(empty)), '010000')
  let e = updateEnvelope(undefined, undefined, 'x', { value: null, timestamp: Number.MAX_SAFE_INTEGER, expiresAt: 2 ** 40 })
  e = updateEnvelope(e, undefined, 'ü#7', { value: new Uint8Array(100_000).fill(7), timestamp: 0 })
  const back = decodeEnvelope(encodeEnvelope(e))
  assert.ok(envelopesEqual(back, e))
  assert.is(back.siblings[0]!.timestamp, Number.MAX_SAFE_INTEGER)
})

test('decoded values are copies, not views of the input', () => {
  const encoded = encodeEnvelope(sample())
  const decoded = decodeEnvelope(encoded)
  encoded.fill(0)
  assert.is(new TextDecoder().decode(decoded.siblings[0]!.value!), 'c')
})

test('decoded values are copies even when the input is a Buffer (whose slice is a view)', () => {
  const encoded = Buffer.from(encodeEnvelope(sample()))
  const decoded = decodeEnvelope(encoded)
  encoded.fill(0)
  assert.is(new TextDecoder().decode(decoded.siblings[0]!.value!), 'c')
  assert.is(new TextDecoder().decode(decoded.siblings[1]!.value!), 'b')
  assert.is(decoded.siblings[0]!.dot.actor, 'n1#0')
})

test('copy: false returns views of caller-owned memory, and still validates', () => {
  const encoded = encodeEnvelope(sample())
  const decoded = decodeEnvelope(encoded, { copy: false })
  assert.is(decoded.siblings[0]!.value!.buffer, encoded.buffer)
  assert.ok(envelopesEqual(decoded, sample()))
  throwsCode(() => decodeEnvelope(encoded.subarray(1), { copy: false }), 'ERR_BAD_ENVELOPE')
})

test('every truncation is ERR_BAD_ENVELOPE', () => {
  const full = encodeEnvelope(sample())
  for (let len = 0; len < full.length; len++) throwsCode(() => decodeEnvelope(full.subarray(0, len)), 'ERR_BAD_ENVELOPE')
})

test('each defect is named', () => {
  const bad = (s: string, message: RegExp) => throwsCode(() => decodeEnvelope(unhex(s)), 'ERR_BAD_ENVELOPE', message)
  bad('02 00 00', /format 2 is not supported/)
  bad('01 00 00 00', /1 trailing bytes/)
  bad('01 01 01 61 00 00', /counter of actor #0 is 0/)
  bad('01 02 01 62 01 01 61 01 00', /sorted and unique/)
  bad('01 02 01 61 01 01 61 01 00', /sorted and unique/)
  bad('01 01 00 01 00', /actor #0 is 0 bytes/)
  bad('01 01 01 ff 01 00', /not valid UTF-8/)
  bad('01 01 01 61 02 01 00 03 00 00 00', /counter 3, outside 1\.\.2/)
  bad('01 01 01 61 02 01 05 01 00 00 00', /names actor #5/)
  bad('01 01 01 61 02 02 00 02 00 00 00 00 01 00 00 00', /sorted by \(actor, counter\)/)
  bad('01 01 01 61 02 01 00 01 00 00 07', /kind 7/)
  bad('01 01 01 61 8100 00', /non-minimal counter/)
  bad('01 01 01 61 ffffffffffffffff01 00', /over-long counter/)
  bad('01 01 01 61 ffffffffffffff7f 00', /beyond 2\^53-1/)
  bad('01 ffffffff0f', /claims 4294967295 context entries/)
  bad('01 00 ffffffff0f', /claims 4294967295 siblings/)
  bad('01 01 01 61 01 01 00 01 00 00 01 ffffffff0f', /truncated/)
  throwsCode(() => decodeEnvelope('x' as unknown as Uint8Array), 'ERR_BAD_ENVELOPE', /Uint8Array/)
})

test('envelopes that break the invariants are not encoded', () => {
  const s = { dot: { actor: 'A', counter: 3 }, value: null, timestamp: 0, expiresAt: 0 }
  throwsCode(() => encodeEnvelope({ context: vv({ A: 2 }), siblings: [s] }), 'ERR_BAD_ENVELOPE', /not covered/)
  const t = { ...s, dot: { actor: 'A', counter: 1 } }
  throwsCode(() => encodeEnvelope({ context: vv({ A: 3 }), siblings: [s, t] }), 'ERR_BAD_ENVELOPE', /sorted/)
})

test('client context: golden string, round trip', () => {
  const ctx = vv({ 'n1#0': 2, 'n2#0': 1 })
  const s = encodeContext(ctx)
  assert.is(s, 'AQIEbjEjMAIEbjIjMAE')
  assert.ok(vvEquals(decodeContext(s), ctx))
  assert.equal(vvEntries(decodeContext(encodeContext(vv()))), [])
  assert.is(encodeContext(vv()), 'AQA')
})

test('client context: standard base64 and padding are accepted', () => {
  const ctx = vv({ 'n?>#0': 62 }) // bytes that map to '+' and '/' in standard base64
  const urlSafe = encodeContext(ctx)
  const standard = Buffer.from(urlSafe, 'base64url').toString('base64')
  assert.ok(vvEquals(decodeContext(standard), ctx))
})

test('client context: malformed input is ERR_BAD_CONTEXT saying what is wrong', () => {
  const bad = (s: unknown, message: RegExp) => throwsCode(() => decodeContext(s as string), 'ERR_BAD_CONTEXT', message)
  bad(42, /must be a string/)
  bad('', /is empty/)
  bad('A'.repeat(MAX_CONTEXT_CHARS + 1), /limit is 65536/)
  bad('AQ$A', /not valid base64url/)
  bad('A', /not valid base64url/)
  bad('AQB', /non-zero padding bits/)
  bad('Ag', /format 2 is not supported/)
  bad('AQ', /truncated/)
  bad(Buffer.from([1, 1, 1, 0x61, 0]).toString('base64url'), /counter of actor #0 is 0/)
  bad(Buffer.from([1, 0, 9]).toString('base64url'), /1 trailing bytes/)
  bad(Buffer.from([1, 2, 1, 0x62, 1, 1, 0x61, 1]).toString('base64url'), /sorted and unique/)
})

test('readAnswer: the context and live values a decode would give, read straight from the bytes', () => {
  let many = updateEnvelope(undefined, undefined, 'ü#7', { value: null, timestamp: 5 })
  many = updateEnvelope(many, undefined, 'n1#0/2kx', { value: new Uint8Array(3000).fill(9), timestamp: 2 ** 45 })
  many = updateEnvelope(many, undefined, 'n2#0', { value: bytes(''), timestamp: 7, expiresAt: 150 })
  const cases: Envelope[] = [{ context: vv(), siblings: [] }, sample(), many]
  for (const env of cases) {
    for (const now of [0, 100, 150, 250]) {
      const encoded = encodeEnvelope(env)
      const answer = readAnswer(encoded, now)
      assert.is(answer.context, encodeContext(contextOf(env)))
      assert.is(contextOfBytes(encoded), answer.context)
      const expected = liveSiblings(env, now).map((s) => ({ value: hex(s.value!), timestamp: s.timestamp, expiresAt: s.expiresAt }))
      assert.equal(answer.values.map((v) => ({ value: hex(v.value), timestamp: v.timestamp, expiresAt: v.expiresAt })), expected)
    }
  }
})

test('readAnswer: bytes that do not parse are ERR_BAD_ENVELOPE', () => {
  const good = encodeEnvelope(sample())
  for (let cut = 0; cut < good.length; cut++) throwsCode(() => readAnswer(good.subarray(0, cut), 0), 'ERR_BAD_ENVELOPE')
  throwsCode(() => readAnswer(unhex('02 00 00'), 0), 'ERR_BAD_ENVELOPE', /format 2/)
  throwsCode(() => readAnswer(unhex('01 00 01 05 01 00 00 01 00'), 0), 'ERR_BAD_ENVELOPE', /actor/)
  throwsCode(() => readAnswer(unhex('01 01 01 61 01 01 00 01 00 00 07'), 0), 'ERR_BAD_ENVELOPE', /kind 7/)
})

test.run()
