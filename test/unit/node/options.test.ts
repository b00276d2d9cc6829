// Node options: defaults and refusals that name the option (the row cache and huge pages here; the rest is
// exercised by every test that starts a node).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { resolveNodeOptions } from '../../../src/node/options.ts'
import { UsageError } from '../../../src/cli/args.ts'
import { onOffArg } from '../../../src/cli/start.ts'

const base = { id: 'n1', listen: '127.0.0.1:7001' }

test('the row cache is off unless asked for', () => {
  assert.is(resolveNodeOptions(base).rowCacheBytes, 0)
  assert.is(resolveNodeOptions({ ...base, rowCacheBytes: 64 * 1024 * 1024 }).rowCacheBytes, 64 * 1024 * 1024)
})

test('a bad row cache size is refused, naming the option', () => {
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 41]) {
    try {
      resolveNodeOptions({ ...base, rowCacheBytes: bad })
      assert.unreachable(`accepted ${bad}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
      assert.match((e as Error).message, /rowCacheBytes/)
    }
  }
})

test('huge pages are on unless turned off; anything but a boolean is refused, naming the option', () => {
  assert.is(resolveNodeOptions(base).hugePages, true)
  assert.is(resolveNodeOptions({ ...base, hugePages: false }).hugePages, false)
  for (const bad of ['off', 0, 'true']) {
    try {
      resolveNodeOptions({ ...base, hugePages: bad as never })
      assert.unreachable(`accepted ${String(bad)}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
      assert.match((e as Error).message, /hugePages must be true or false/)
    }
  }
})

test('a misspelt option is refused, at the top level, in keyspace and in hints, naming it', () => {
  const cases: [object, RegExp][] = [
    [{ ...base, rowCacheByte: 5 }, /^rowCacheByte is not an option/],
    [{ ...base, keyspace: { w: 2, R: 2 } }, /^keyspace\.R is not an option \(known: n, r, w, lww,/],
    [{ ...base, hints: { maxAge: 1000 } }, /^hints\.maxAge is not an option/],
    [{ ...base, keyspace: 'quorum' }, /^keyspace must be an object/],
  ]
  for (const [options, message] of cases) {
    try {
      resolveNodeOptions(options as never)
      assert.unreachable(`accepted ${JSON.stringify(options)}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
      assert.match((e as Error).message, message)
    }
  }
  // An option given as undefined is the default, as if absent.
  assert.is(resolveNodeOptions({ ...base, rowCacheBytes: undefined, keyspace: { n: undefined } }).keyspace.n, 3)
})

test('--huge-pages takes on or off', () => {
  assert.is(onOffArg('huge-pages', undefined), undefined)
  assert.is(onOffArg('huge-pages', 'on'), true)
  assert.is(onOffArg('huge-pages', 'off'), false)
  assert.throws(() => onOffArg('huge-pages', 'no'), (e: Error) => e instanceof UsageError && /--huge-pages must be on or off, got no/.test(e.message))
})

test.run()
