// Path keys, query parameters and bytes in JSON, without a server.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import {
  consistencyParam,
  encodingParam,
  integerParam,
  keyParam,
  parseQuery,
  percentDecode,
  putBytes,
} from '../../../src/http/encoding.ts'
import { statusForCode } from '../../../src/http/errors.ts'

function badRequest(fn: () => unknown, parameter: string | undefined, message: RegExp): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isRingkvError(err, 'ERR_BAD_REQUEST'), String(err))
    assert.is(err.details?.['parameter'], parameter)
    assert.match(err.message, message)
    return
  }
  assert.unreachable(`expected ERR_BAD_REQUEST matching ${message}`)
}

const decode = (s: string, plus = false): Buffer => percentDecode(s, 0, s.length, plus, 'x')

test('percentDecode: bytes from %XX (either case), other ASCII as itself, "+" per context', () => {
  assert.equal(decode('abc'), Buffer.from('abc'))
  assert.equal(decode('%00%ff%FF%7f'), Buffer.from([0, 255, 255, 127]))
  assert.equal(decode('a+b'), Buffer.from('a+b'))
  assert.equal(decode('a+b', true), Buffer.from('a b'))
  assert.equal(decode('%2B', true), Buffer.from('+'))
  assert.equal(decode('caf%C3%A9').toString('utf8'), 'café')
  assert.equal(decode(''), Buffer.alloc(0))
  assert.equal(percentDecode('/kv/a%20b', 4, 9, false, 'the key'), Buffer.from('a b'))
})

test('percentDecode: malformed escapes and non-ASCII name the position', () => {
  badRequest(() => decode('%'), undefined, /x has a malformed percent-encoding at character 0/)
  badRequest(() => decode('ab%4'), undefined, /at character 2/)
  badRequest(() => decode('ab%4g'), undefined, /at character 2/)
  badRequest(() => decode('%%41'), undefined, /at character 0/)
  badRequest(() => percentDecode('é', 0, 1, true, 'p', 'prefix'), 'prefix', /non-ASCII character at character 0/)
})

test('parseQuery: raw values by name; unknown, repeated and valueless parameters', () => {
  assert.equal([...parseQuery('r=1&timeout=5', ['r', 'timeout'])], [['r', '1'], ['timeout', '5']])
  assert.equal([...parseQuery('&r=a=b&&', ['r'])], [['r', 'a=b']])
  assert.equal([...parseQuery('', [])], [])
  assert.equal([...parseQuery('%72=2', ['r'])], [['r', '2']]) // an encoded name
  badRequest(() => parseQuery('x=1', ['r']), 'x', /unknown query parameter "x"; this route accepts r/)
  badRequest(() => parseQuery('x', []), 'x', /this route takes no query parameters/)
  badRequest(() => parseQuery('r=1&r=1', ['r']), 'r', /given more than once/)
  badRequest(() => parseQuery('__proto__=1', ['r']), '__proto__', /unknown/)
  badRequest(() => integerParam(parseQuery('limit', ['limit']), 'limit', 1, 5), 'limit', /needs a value/)
})

test('integers: plain decimal digits within bounds only', () => {
  const q = (v: string) => parseQuery(`n=${v}`, ['n'])
  assert.is(integerParam(q('42'), 'n', 1, 100), 42)
  assert.is(integerParam(q('%34%32'), 'n', 1, 100), 42)
  assert.is(integerParam(parseQuery('', []), 'n', 1, 100), undefined)
  for (const bad of ['0', '101', '-1', '+1', '1e1', '1.0', ' 1', '0x10', 'NaN', 'Infinity', '1'.repeat(20), '']) {
    badRequest(() => integerParam(q(bad), 'n', 1, 100), 'n', bad === '' ? /needs a value/ : /must be an integer between 1 and 100/)
  }
})

test('consistency: one, quorum, all or 1..200', () => {
  const q = (v: string) => parseQuery(`w=${v}`, ['w'])
  assert.is(consistencyParam(q('one'), 'w'), 'one')
  assert.is(consistencyParam(q('quorum'), 'w'), 'quorum')
  assert.is(consistencyParam(q('all'), 'w'), 'all')
  assert.is(consistencyParam(q('1'), 'w'), 1)
  assert.is(consistencyParam(q('200'), 'w'), 200)
  for (const bad of ['0', '201', 'One', 'ALL', 'majority', '2.5']) {
    badRequest(() => consistencyParam(q(bad), 'w'), 'w', /must be one, quorum, all or an integer between 1 and 200/)
  }
})

test('encoding: utf8 or base64, with a default per route', () => {
  assert.is(encodingParam(parseQuery('', []), 'utf8'), 'utf8')
  assert.is(encodingParam(parseQuery('', []), 'base64'), 'base64')
  assert.is(encodingParam(parseQuery('encoding=base64', ['encoding']), 'utf8'), 'base64')
  badRequest(() => encodingParam(parseQuery('encoding=UTF-8', ['encoding']), 'utf8'), 'encoding', /utf8 or base64/)
})

test('key parameters: bytes in utf8 mode; base64 in either alphabet, padded or not, "+" arriving as space', () => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00])
  const q = (v: string) => parseQuery(`after=${v}`, ['after'])
  assert.equal(keyParam(q('a%FFb'), 'after', 'utf8'), Buffer.from([0x61, 0xff, 0x62]))
  assert.equal(keyParam(q(''), 'after', 'utf8'), Buffer.alloc(0))
  for (const text of [bytes.toString('base64'), bytes.toString('base64url'), encodeURIComponent(bytes.toString('base64')), '+/+/AA', '-_-_AA']) {
    assert.equal(keyParam(q(text), 'after', 'base64'), bytes, text)
  }
  assert.equal(keyParam(q('cGxhaW4='), 'after', 'base64'), Buffer.from('plain'))
  for (const bad of ['a', 'ab!c', 'abc==x', '%FF']) {
    badRequest(() => keyParam(q(bad), 'after', 'base64'), 'after', /not valid base64/)
  }
})

test('putBytes: the field in the encoding asked for, or <field>Base64 for bytes that are not UTF-8', () => {
  const o: Record<string, unknown> = {}
  putBytes(o, 'key', 'keyBase64', Buffer.from('héllo'), 'utf8')
  putBytes(o, 'value', 'valueBase64', new Uint8Array([0xff]), 'utf8')
  assert.equal(o, { key: 'héllo', valueBase64: '/w==' })
  const b: Record<string, unknown> = {}
  putBytes(b, 'key', 'keyBase64', Buffer.from('hi'), 'base64')
  assert.equal(b, { key: 'aGk=' })
  // A view into a larger buffer encodes only its own bytes.
  const big = Buffer.from('xxhixx')
  const v: Record<string, unknown> = {}
  putBytes(v, 'key', 'keyBase64', new Uint8Array(big.buffer, big.byteOffset + 2, 2), 'utf8')
  assert.equal(v, { key: 'hi' })
})

test('status table: unknown codes and prototype names are 500', () => {
  assert.is(statusForCode('ERR_SOMETHING_NEW'), 500)
  assert.is(statusForCode('constructor'), 500)
  assert.is(statusForCode('__proto__'), 500)
})

test.run()
