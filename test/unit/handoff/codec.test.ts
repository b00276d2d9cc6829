import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError } from '../../../src/errors.ts'
import {
  decodeHintKey,
  decodeHintValue,
  decodeHintedPut,
  encodeHintKey,
  encodeHintValue,
  encodeHintedPut,
  MAX_HINT_KEY_BYTES,
} from '../../../src/handoff/codec.ts'
import { MAX_KEY_BYTES } from '../../../src/storage/index.ts'

const code = (c: string) => (e: unknown) => isRingkvError(e, c)

test('HINTED_PUT round trips; its layout is REPLICA_PUT with the target in front', () => {
  const q = { target: 'n2', partition: 513, key: Buffer.from('k'), envelope: Buffer.from([1, 0, 0]), durable: true }
  const bytes = encodeHintedPut(q)
  assert.is(bytes.toString('hex'), '00000002' + Buffer.from('n2').toString('hex') + '0201' + '00000001' + '6b' + '00000003' + '010000' + '01')
  const back = decodeHintedPut(bytes)
  assert.equal({ ...back, key: Buffer.from(back.key), envelope: Buffer.from(back.envelope) }, q)
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.boolean(),
      (target, partition, key, envelope, durable) => {
        fc.pre(Buffer.byteLength(target) <= 255)
        const d = decodeHintedPut(encodeHintedPut({ target, partition, key, envelope, durable }))
        return d.target === target && d.partition === partition && Buffer.from(d.key).equals(key) && Buffer.from(d.envelope).equals(envelope) && d.durable === durable
      },
    ),
  )
})

test('malformed HINTED_PUT payloads are ERR_BAD_REQUEST (truncated, trailing bytes, empty target)', () => {
  const good = encodeHintedPut({ target: 'n2', partition: 1, key: Buffer.from('k'), envelope: Buffer.from([1]), durable: false })
  for (let cut = 0; cut < good.length; cut++) assert.throws(() => decodeHintedPut(good.subarray(0, cut)), code('ERR_BAD_REQUEST'), `cut at ${cut}`)
  assert.throws(() => decodeHintedPut(Buffer.concat([good, Buffer.from([0])])), code('ERR_BAD_REQUEST'))
  const noTarget = Buffer.concat([Buffer.from([0, 0, 0, 0]), good.subarray(6)])
  assert.throws(() => decodeHintedPut(noTarget), /target must be a non-empty node id/)
  assert.throws(() => encodeHintedPut({ target: 'é'.repeat(128), partition: 1, key: Buffer.alloc(0), envelope: Buffer.alloc(0), durable: false }), /at most 255 bytes/)
  assert.throws(() => encodeHintedPut({ target: 'n', partition: 65536, key: Buffer.alloc(0), envelope: Buffer.alloc(0), durable: false }), /partition/)
})

test('hint keys: target | partition | key, one target one contiguous range, round trip', () => {
  const k = encodeHintKey('n2', 7, Buffer.from('abc'))
  assert.is(k.toString('hex'), '02' + Buffer.from('n2').toString('hex') + '0007' + Buffer.from('abc').toString('hex'))
  assert.equal(decodeHintKey(k), { target: 'n2', partition: 7, key: Buffer.from('abc') })
  // Keys of one target sort together, whatever the partition or key, and apart from a target it prefixes.
  const keys = [encodeHintKey('n2', 0xffff, Buffer.from([0xff, 0xff])), encodeHintKey('n2', 0, Buffer.alloc(0)), encodeHintKey('n20', 0, Buffer.alloc(0)), encodeHintKey('n3', 0, Buffer.alloc(0))]
  const sorted = [...keys].sort(Buffer.compare).map((x) => decodeHintKey(x).target)
  assert.equal(sorted, ['n2', 'n2', 'n3', 'n20'])
  assert.is(encodeHintKey('x'.repeat(255), 1, Buffer.alloc(MAX_KEY_BYTES)).length, MAX_HINT_KEY_BYTES)
  assert.throws(() => encodeHintKey('n', 1, Buffer.alloc(MAX_KEY_BYTES + 1)), code('ERR_KEY_TOO_LARGE'))
  for (const bad of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([3, 0x61, 0x62]), Buffer.from([1, 0x61, 0])]) {
    assert.throws(() => decodeHintKey(bad), code('ERR_CORRUPTION'))
  }
})

test('hint values: format, since, envelope; anything else is ERR_CORRUPTION', () => {
  const v = encodeHintValue(1_700_000_000_123, Buffer.from([1, 2, 3]))
  const d = decodeHintValue(v)
  assert.is(d.since, 1_700_000_000_123)
  assert.equal(Buffer.from(d.envelope), Buffer.from([1, 2, 3]))
  for (const bad of [Buffer.alloc(0), Buffer.from([1, 0, 0]), Buffer.concat([Buffer.from([2]), Buffer.alloc(8)]), Buffer.concat([Buffer.from([1]), Buffer.alloc(8, 0xff)])]) {
    assert.throws(() => decodeHintValue(bad), code('ERR_CORRUPTION'))
  }
})

test.run()
