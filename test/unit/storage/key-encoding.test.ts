// The engine key of (partition, key) -- u16 BE partition | key -- and the ranges a partition scan reads.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError } from '../../../src/errors.ts'
import { decodeStorageKey, encodeStorageKey, MAX_KEY_BYTES, MAX_PARTITION, storageRange } from '../../../src/storage/index.ts'

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isRingkvError(e, code), `expected ${code}, got ${String(e)}`)
    if (message) assert.match((e as Error).message, message)
    return
  }
  assert.unreachable(`expected ${code}`)
}

const partition = fc.integer({ min: 0, max: MAX_PARTITION })
const key = fc.uint8Array({ maxLength: 12 })

test('the layout: two bytes of big-endian partition, then the key', () => {
  assert.equal([...encodeStorageKey(0x0102, Buffer.from([0xaa, 0xbb]), MAX_KEY_BYTES)], [0x01, 0x02, 0xaa, 0xbb])
  assert.equal([...encodeStorageKey(0, new Uint8Array(0), MAX_KEY_BYTES)], [0, 0])
  assert.equal([...encodeStorageKey(MAX_PARTITION, Buffer.from([0]), MAX_KEY_BYTES)], [0xff, 0xff, 0])
  // A view into a larger buffer contributes only its own bytes.
  const big = Buffer.from([1, 2, 3, 4, 5])
  assert.equal([...encodeStorageKey(7, big.subarray(1, 3), MAX_KEY_BYTES)], [0, 7, 2, 3])
})

test('decode inverts encode', () => {
  fc.assert(
    fc.property(partition, key, (p, k) => {
      const d = decodeStorageKey(encodeStorageKey(p, k, MAX_KEY_BYTES))
      assert.is(d.partition, p)
      assert.equal([...d.key], [...k])
    }),
  )
  throwsCode(() => decodeStorageKey(Buffer.from([1])), 'ERR_BAD_REQUEST')
})

test('engine key order is (partition, key) order: a partition is one contiguous range, sorted by key', () => {
  fc.assert(
    fc.property(partition, key, partition, key, (p1, k1, p2, k2) => {
      const expected = p1 !== p2 ? Math.sign(p1 - p2) : Math.sign(Buffer.compare(Buffer.from(k1), Buffer.from(k2)))
      assert.is(Math.sign(Buffer.compare(encodeStorageKey(p1, k1, MAX_KEY_BYTES), encodeStorageKey(p2, k2, MAX_KEY_BYTES))), expected)
    }),
  )
})

test('a partition range holds exactly that partition keys within [start, end)', () => {
  fc.assert(
    fc.property(partition, partition, key, fc.option(key, { nil: undefined }), fc.option(key, { nil: undefined }), (p, q0, k, start, end) => {
      const q = q0 % 3 === 0 ? p : q0 // often the same partition
      const r = storageRange(p, { ...(start && { start }), ...(end && { end }) }, MAX_KEY_BYTES)
      const sk = encodeStorageKey(q, k, MAX_KEY_BYTES)
      const inside = Buffer.compare(sk, r.start) >= 0 && (r.end === undefined || Buffer.compare(sk, r.end) < 0)
      const kb = Buffer.from(k)
      const expected =
        p === q && (start === undefined || Buffer.compare(kb, Buffer.from(start)) >= 0) && (end === undefined || Buffer.compare(kb, Buffer.from(end)) < 0)
      assert.is(inside, expected)
      // Without a start the range starts at the empty key.
      assert.is(r.empty, end !== undefined && Buffer.compare(Buffer.from(start ?? []), Buffer.from(end)) >= 0)
    }),
  )
})

test('the last partition range runs to the end of the key space; limit 0 is empty', () => {
  const r = storageRange(MAX_PARTITION, undefined, MAX_KEY_BYTES)
  assert.equal([...r.start], [0xff, 0xff])
  assert.is(r.end, undefined)
  assert.equal([...storageRange(0x00ff, {}, MAX_KEY_BYTES).end!], [0x01, 0x00])
  assert.is(storageRange(3, { limit: 0 }, MAX_KEY_BYTES).empty, true)
  assert.is(storageRange(3, { end: new Uint8Array(0) }, MAX_KEY_BYTES).empty, true, 'nothing sorts before the empty key')
  assert.is(storageRange(3, { end: Uint8Array.of(0) }, MAX_KEY_BYTES).empty, false, 'the empty key itself')
  assert.is(storageRange(3, { limit: 5 }, MAX_KEY_BYTES).limit, 5)
})

test('bad partitions, keys and options are named in the error', () => {
  for (const p of [-1, 65536, 0.5, Number.NaN, Infinity, '3', null, undefined]) {
    throwsCode(() => encodeStorageKey(p as number, Buffer.alloc(1), MAX_KEY_BYTES), 'ERR_BAD_REQUEST', /partition must be an integer between 0 and 65535/)
  }
  throwsCode(() => encodeStorageKey(1, 'abc' as unknown as Uint8Array, MAX_KEY_BYTES), 'ERR_BAD_REQUEST', /got string/)
  throwsCode(() => encodeStorageKey(1, [1, 2] as unknown as Uint8Array, MAX_KEY_BYTES), 'ERR_BAD_REQUEST', /got an array/)
  throwsCode(() => encodeStorageKey(1, Buffer.alloc(11), 10), 'ERR_KEY_TOO_LARGE', /11 bytes; the limit is 10/)
  assert.is(encodeStorageKey(1, Buffer.alloc(10), 10).length, 12)
  throwsCode(() => storageRange(1, { end: Buffer.alloc(11) }, 10), 'ERR_KEY_TOO_LARGE', /scan end is 11 bytes/)
  throwsCode(() => storageRange(1, { start: 'a' as unknown as Uint8Array }, 10), 'ERR_BAD_REQUEST', /start must be a Buffer/)
  throwsCode(() => storageRange(1, 5 as never, 10), 'ERR_BAD_REQUEST', /scan options must be an object/)
  throwsCode(() => storageRange(1, { limit: -1 }, 10), 'ERR_BAD_REQUEST', /limit must be a non-negative integer, got -1/)
})

test.run()
