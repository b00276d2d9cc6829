import { test } from 'uvu'
import * as assert from 'uvu/assert'
import crypto from 'node:crypto'
import { digestPrefixPortable } from '../../../src/ring/hash.ts'
import { keyPosition, partitionOf, partitionOfPosition, partitionRange, partitionsOf, partitionStart } from '../../../src/ring/index.ts'
import { throwsCode } from './helpers.ts'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

test('a key position is the first 8 bytes of SHA-256, big-endian', () => {
  // SHA-256("") = e3b0c44298fc1c14 9afbf4c8996fb924 ...
  assert.is(keyPosition(new Uint8Array(0)), 0xe3b0c44298fc1c14n)
  const digest = crypto.createHash('sha256').update('hello').digest()
  assert.is(keyPosition(utf8('hello')), digest.readBigUInt64BE(0))
})

test('the partition is the top log2(Q) bits of the position', () => {
  assert.is(partitionOf(new Uint8Array(0), 4096), 0xe3b)
  assert.is(partitionOf(new Uint8Array(0), 2), 1)
  assert.is(partitionOf(new Uint8Array(0), 1), 0)
  assert.is(partitionOf(new Uint8Array(0), 65536), 0xe3b0)
  for (const key of ['a', 'b', 'user:42', '']) {
    for (const q of [1, 2, 64, 4096, 65536]) {
      assert.is(partitionOf(utf8(key), q), partitionOfPosition(keyPosition(utf8(key)), q), `${key} q=${q}`)
    }
  }
})

test('partitions from the native hash equal those from node:crypto, for any key (views and large keys too)', () => {
  const keys: Uint8Array[] = [new Uint8Array(0), new Uint8Array(70_000).fill(1), Buffer.from('xxkeyxx').subarray(2, 5)]
  for (let i = 0; i < 2000; i++) keys.push(crypto.randomBytes(i % 97))
  for (const key of keys) {
    const word = digestPrefixPortable(key)
    assert.is(word, crypto.createHash('sha256').update(key).digest().readUInt32BE(0))
    for (const q of [1, 2, 4096, 65536]) assert.is(partitionOf(key, q), q === 1 ? 0 : word >>> (32 - Math.log2(q)))
  }
})

test('partitionsOf agrees with partitionOf', () => {
  const keys = Array.from({ length: 500 }, (_, i) => utf8(`key-${i}`))
  const batch = partitionsOf(keys, 1024)
  assert.is(batch.length, keys.length)
  keys.forEach((k, i) => assert.is(batch[i], partitionOf(k, 1024)))
  assert.is(partitionsOf([], 1024).length, 0)
})

test('partitions tile the 64-bit space in equal, contiguous ranges', () => {
  const q = 8
  let expectedStart = 0n
  for (let p = 0; p < q; p++) {
    const { start, end } = partitionRange(p, q)
    assert.is(start, expectedStart)
    assert.is(end - start, (1n << 64n) / 8n)
    assert.is(partitionStart(p, q), start)
    assert.is(partitionOfPosition(start, q), p)
    assert.is(partitionOfPosition(end - 1n, q), p)
    expectedStart = end
  }
  assert.is(expectedStart, 1n << 64n)
  assert.equal(partitionRange(0, 1), { start: 0n, end: 1n << 64n })
})

test('partition counts and positions are validated', () => {
  for (const q of [0, 3, 6, -4, 1.5, 131072, Number.NaN]) {
    throwsCode(() => partitionOf(new Uint8Array(0), q), 'ERR_BAD_RING', /power of two/)
  }
  throwsCode(() => partitionRange(8, 8), 'ERR_BAD_RING', /partition must be an integer in \[0, 8\)/)
  throwsCode(() => partitionOfPosition(-1n, 8), 'ERR_BAD_RING')
  throwsCode(() => partitionOfPosition(1n << 64n, 8), 'ERR_BAD_RING')
})

test('keys spread evenly over partitions', () => {
  const q = 64
  const counts = new Array<number>(q).fill(0)
  const keys = Array.from({ length: 64_000 }, (_, i) => utf8(`k${i}`))
  for (const p of partitionsOf(keys, q)) counts[p]!++
  // 1000 expected per partition; 5 standard deviations is about 160.
  for (const c of counts) assert.ok(Math.abs(c - 1000) < 160, `count ${c}`)
})

test.run()
