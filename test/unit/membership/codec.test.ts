import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError } from '../../../src/errors.ts'
import { decodeDelta, decodeDigest, encodeDelta, encodeDigest } from '../../../src/membership/codec.ts'
import { MEMBER_STATUSES, type Delta, type MemberState } from '../../../src/membership/index.ts'
import { CHECKSUM_A, throwsCode } from './helpers.ts'

const name = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter((s) => Buffer.byteLength(s) <= 255)
const counter = fc.oneof(fc.nat(300), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }))
const entry = fc.record({ id: name, generation: counter, version: counter })
const state: fc.Arbitrary<MemberState> = fc.record({
  id: name,
  address: name,
  http: fc.option(name, { nil: undefined }),
  generation: counter,
  version: counter,
  status: fc.constantFrom(...MEMBER_STATUSES),
  ringVersion: counter,
  ringChecksum: fc.oneof(fc.constant(''), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))),
})
const uniqueBy = <T extends { id: string }>(a: fc.Arbitrary<T>) => fc.uniqueArray(a, { selector: (x) => x.id, maxLength: 20 })
const delta: fc.Arbitrary<Delta> = fc.record({ states: uniqueBy(state), wants: uniqueBy(entry) })

/** fast-check builds null-prototype records; compare plain data. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x))

test('digests and deltas round-trip', () => {
  fc.assert(
    fc.property(uniqueBy(entry), (d) => {
      assert.equal(plain(decodeDigest(encodeDigest(d))), plain(d))
    }),
  )
  fc.assert(
    fc.property(delta, (d) => {
      assert.equal(plain(decodeDelta(encodeDelta(d))), plain(d))
    }),
  )
})

test('the encoding is compact: a 100-member digest of realistic counters is under 2 KiB (16 bytes a member)', () => {
  const d = Array.from({ length: 100 }, (_, i) => ({ id: `node-${i}`, generation: 1_760_000_000_000 + i, version: 3600 }))
  const bytes = encodeDigest(d)
  assert.ok(bytes.length < 2048, `${bytes.length} bytes`)
  const s: MemberState = {
    id: 'node-1',
    address: '10.0.0.1:7000',
    http: '10.0.0.1:8000',
    generation: 1_760_000_000_000,
    version: 3600,
    status: 'normal',
    ringVersion: 12,
    ringChecksum: CHECKSUM_A,
  }
  assert.ok(encodeDelta({ states: [s], wants: [] }).length < 90)
})

test('every truncation and every bit flip is an ERR_BAD_GOSSIP or a valid message, never another error', () => {
  const s: MemberState = {
    id: 'n1',
    address: 'h:1',
    http: 'h:2',
    generation: 123_456_789,
    version: 77,
    status: 'leaving',
    ringVersion: 3,
    ringChecksum: CHECKSUM_A,
  }
  const bytes = encodeDelta({ states: [s, { ...s, id: 'n2', http: undefined, ringChecksum: '' }], wants: [{ id: 'n3', generation: 1, version: 2 }] })
  for (let cut = 0; cut < bytes.length; cut++) throwsCode(() => decodeDelta(bytes.subarray(0, cut)), 'ERR_BAD_GOSSIP')
  throwsCode(() => decodeDelta(new Uint8Array([...bytes, 0])), 'ERR_BAD_GOSSIP', /trailing/)
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const flipped = Uint8Array.from(bytes)
      flipped[i]! ^= 1 << bit
      try {
        decodeDelta(flipped)
      } catch (err) {
        assert.ok(isRingkvError(err, 'ERR_BAD_GOSSIP'), `byte ${i} bit ${bit}: ${String(err)}`)
      }
    }
  }
})

test('random bytes never throw anything but ERR_BAD_GOSSIP', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, prefix) => {
      const input = prefix ? Uint8Array.from([1, 2, ...bytes]) : bytes
      for (const decode of [decodeDigest, decodeDelta]) {
        try {
          decode(input)
        } catch (err) {
          assert.ok(isRingkvError(err, 'ERR_BAD_GOSSIP'), String(err))
        }
      }
    }),
    { numRuns: 2000 },
  )
})

test('decoding names the defect', () => {
  const digest = encodeDigest([{ id: 'a', generation: 1, version: 1 }])
  throwsCode(() => decodeDigest(Uint8Array.from([9, ...digest.subarray(1)])), 'ERR_BAD_GOSSIP', /format 9/)
  throwsCode(() => decodeDelta(digest), 'ERR_BAD_GOSSIP', /expected a delta/)
  const twice = encodeDigest([{ id: 'a', generation: 1, version: 1 }]).subarray(3)
  throwsCode(() => decodeDigest(Uint8Array.from([1, 1, 2, ...twice, ...twice])), 'ERR_BAD_GOSSIP', /twice/)
  // An overlong varint (0x80 0x00 for 0).
  throwsCode(() => decodeDigest(Uint8Array.from([1, 1, 1, 1, 0x61, 0x80, 0x00, 1])), 'ERR_BAD_GOSSIP', /minimally/)
  // Invalid UTF-8 in an id.
  throwsCode(() => decodeDigest(Uint8Array.from([1, 1, 1, 1, 0xff, 1, 1])), 'ERR_BAD_GOSSIP', /UTF-8/)
  // A status code past the last status.
  const s = encodeDelta({ states: [{ id: 'a', address: 'b', http: undefined, generation: 1, version: 1, status: 'normal', ringVersion: 0, ringChecksum: '' }], wants: [] })
  const badStatus = Uint8Array.from(s)
  badStatus[10] = 9 // format, kind, count, id (2), address (2), http flag, generation, version, status
  throwsCode(() => decodeDelta(badStatus), 'ERR_BAD_GOSSIP', /status 9/)
})

test('encoding refuses what cannot round-trip', () => {
  throwsCode(() => encodeDigest([{ id: 'x'.repeat(256), generation: 1, version: 1 }]), 'ERR_BAD_GOSSIP', /256 UTF-8 bytes/)
  throwsCode(() => encodeDigest([{ id: 'a', generation: -1, version: 1 }]), 'ERR_BAD_GOSSIP', /generation/)
  throwsCode(() => encodeDigest([{ id: '\uD800', generation: 1, version: 1 }]), 'ERR_BAD_GOSSIP', /surrogate/)
  const s: MemberState = { id: 'a', address: 'b', http: undefined, generation: 1, version: 1, status: 'normal', ringVersion: 0, ringChecksum: 'zz' }
  throwsCode(() => encodeDelta({ states: [s], wants: [] }), 'ERR_BAD_GOSSIP', /checksum/)
  throwsCode(() => encodeDelta({ states: [{ ...s, ringChecksum: '', status: 'gone' as never }], wants: [] }), 'ERR_BAD_GOSSIP', /status/)
})

test.run()
