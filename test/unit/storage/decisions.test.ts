// The decision code both stores run (store.ts): what it refuses, what it counts and how it names a key.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { decodeStored, emptyStats, keyHex, planMerge, planUpdate } from '../../../src/storage/store.ts'
import { DEFAULT_STORE_LIMITS } from '../../../src/storage/index.ts'
import { contextOf, updateEnvelope, vv } from '../../../src/versioning/index.ts'

const write = (v: string) => ({ value: Buffer.from(v), timestamp: 1 })

test('a key is named in hex, whole up to 64 bytes, else its start and length', () => {
  assert.is(keyHex(Uint8Array.of(0, 0xff)), '00ff')
  assert.is(keyHex(new Uint8Array(0)), '')
  const long = Buffer.alloc(100, 0xab)
  assert.is(keyHex(long), `${'ab'.repeat(64)}... (100 bytes)`)
})

test('corruption: the message names partition and (shortened) key; details carry the whole key', () => {
  const stats = emptyStats()
  const key = Buffer.alloc(70, 1)
  try {
    decodeStored(Uint8Array.of(9, 9), 513, key, true, stats)
    assert.unreachable()
  } catch (e) {
    assert.ok(isRingkvError(e, 'ERR_CORRUPTION'))
    assert.match(e.message, /partition 513, key (01){64}\.\.\. \(70 bytes\) does not decode: envelope format 9 is not supported/)
    assert.equal(e.details, { partition: 513, key: '01'.repeat(70), bytes: 2 })
  }
  assert.is(stats.corruptions, 1)
})

test('planUpdate counts what it stores, warns and refuses', () => {
  const stats = emptyStats()
  const policy = { warnSiblings: 2, maxSiblings: 2, maxObjectBytes: 1 << 20 }
  const one = planUpdate(undefined, undefined, 'a#0', write('1'), policy, stats, 0, Buffer.from('k'))
  assert.is(one.siblingWarning, false)
  const two = planUpdate(one.envelope, undefined, 'a#0', write('2'), policy, stats, 0, Buffer.from('k'))
  assert.is(two.siblingWarning, true)
  assert.throws(() => planUpdate(two.envelope, undefined, 'a#0', write('3'), policy, stats, 0, Buffer.from('k')), (e: unknown) => isRingkvError(e, 'ERR_TOO_MANY_SIBLINGS'))
  const resolved = planUpdate(two.envelope, contextOf(two.envelope), 'a#0', write('4'), policy, stats, 0, Buffer.from('k'))
  assert.is(resolved.envelope.siblings.length, 1)
  assert.equal(
    [stats.updates, stats.keysWritten, stats.siblingWarnings, stats.siblingRefusals],
    [3, 3, 1, 1],
  )
  assert.is(stats.bytesWritten, one.bytes.length + two.bytes.length + resolved.bytes.length)
})

test('planMerge: an absent key is the empty envelope; nothing to write when nothing changes', () => {
  const stats = emptyStats()
  const key = Buffer.from('k')
  assert.is(planMerge(undefined, { context: vv(), siblings: [] }, DEFAULT_STORE_LIMITS.maxValueBytes, stats, 0, key).bytes, undefined)
  const e = updateEnvelope(undefined, undefined, 'a#0', write('x'))
  const first = planMerge(undefined, e, DEFAULT_STORE_LIMITS.maxValueBytes, stats, 0, key)
  assert.ok(first.bytes !== undefined)
  assert.is(planMerge(first.envelope, e, DEFAULT_STORE_LIMITS.maxValueBytes, stats, 0, key).bytes, undefined)
  assert.equal([stats.merges, stats.mergesChanged, stats.keysWritten], [3, 1, 1])
})

test.run()
