import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { DEFAULT_STORE_LIMITS, MAX_KEY_BYTES, storeLimits, writeLimits } from '../../../src/storage/index.ts'

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isRingkvError(e, code), `expected ${code}, got ${String(e)}`)
    assert.match((e as Error).message, message)
    return
  }
  assert.unreachable(`expected ${code}`)
}

test('defaults: keys of 64 KiB less the prefix, 16 MiB values, 8 MiB objects, siblings warn at 25 and stop at 100', () => {
  assert.equal(storeLimits(), DEFAULT_STORE_LIMITS)
  assert.equal(DEFAULT_STORE_LIMITS, {
    maxKeyBytes: 65534,
    maxValueBytes: 16 * 1024 * 1024,
    warnSiblings: 25,
    maxSiblings: 100,
    maxObjectBytes: 8 * 1024 * 1024,
  })
  assert.is(MAX_KEY_BYTES, 65534)
  assert.ok(Object.isFrozen(storeLimits({ maxSiblings: 5 })))
})

test('the default object limit never exceeds the value limit', () => {
  assert.is(storeLimits({ maxValueBytes: 1000 }).maxObjectBytes, 1000)
  assert.is(storeLimits({ maxValueBytes: 64 * 1024 * 1024 }).maxObjectBytes, 8 * 1024 * 1024)
})

test('bad limits name the option and the allowed range', () => {
  throwsCode(() => storeLimits({ maxKeyBytes: 70000 }), 'ERR_BAD_REQUEST', /maxKeyBytes must be an integer between 0 and 65534, got 70000/)
  throwsCode(() => storeLimits({ maxValueBytes: 0 }), 'ERR_BAD_REQUEST', /maxValueBytes must be an integer between 1 and 1073741824, got 0/)
  throwsCode(() => storeLimits({ maxObjectBytes: 2000, maxValueBytes: 1000 }), 'ERR_BAD_REQUEST', /maxObjectBytes must be an integer between 1 and 1000, got 2000/)
  throwsCode(() => storeLimits({ warnSiblings: 1.5 }), 'ERR_BAD_REQUEST', /warnSiblings/)
  throwsCode(() => storeLimits({ maxSiblings: '3' as never }), 'ERR_BAD_REQUEST', /maxSiblings must be an integer between 1 and \d+, got 3/)
  throwsCode(() => storeLimits(null as never), 'ERR_BAD_REQUEST', /limits must be an object/)
})

test('write limits: the store defaults unless overridden, checked against the hard maximum', () => {
  const base = storeLimits({ maxValueBytes: 4096 })
  assert.is(writeLimits(undefined, base), base)
  assert.is(writeLimits({}, base), base)
  assert.equal(writeLimits({ maxSiblings: 7 }, base), { warnSiblings: 25, maxSiblings: 7, maxObjectBytes: 4096 })
  throwsCode(() => writeLimits({ maxObjectBytes: 4097 }, base), 'ERR_BAD_REQUEST', /maxObjectBytes must be an integer between 1 and 4096/)
  throwsCode(() => writeLimits(7 as never, base), 'ERR_BAD_REQUEST', /write limits must be an object/)
})

test.run()
