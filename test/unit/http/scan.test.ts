// GET /kv: scan pages in utf8 and base64, bounds, and paging through `next`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { percentAll, request, startTestServer, type TestServer } from './helpers.ts'

let t: TestServer
test.before(async () => {
  t = await startTestServer()
})
test.after(async () => {
  await t.close()
})
test.before.each(() => {
  t.kv.data.clear()
  t.kv.calls.length = 0
})

async function fill(keys: readonly string[]): Promise<void> {
  for (const k of keys) assert.is((await request(t, 'PUT', '/kv/' + encodeURIComponent(k), { body: `v:${k}` })).status, 204)
}

test('a page in utf8 (the default): key, value and context per entry, next = null at the end', async () => {
  await fill(['a', 'b/1', 'b/2', 'é'])
  const res = await request(t, 'GET', '/kv')
  assert.is(res.status, 200)
  assert.match(res.headers['content-type'] ?? '', /^application\/json/)
  const body = res.json()
  assert.is(body.encoding, 'utf8')
  assert.is(body.next, null)
  assert.equal(
    body.entries.map((e: { key: string; value: string }) => [e.key, e.value]),
    [
      ['a', 'v:a'],
      ['b/1', 'v:b/1'],
      ['b/2', 'v:b/2'],
      ['é', 'v:é'],
    ],
  )
  assert.equal(Object.keys(body.entries[0]), ['key', 'value', 'context'])
  const get = await request(t, 'GET', '/kv/a')
  assert.is(body.entries[0].context, get.headers['x-ringkv-context'])
})

test('paging: limit and next, passed back as after, visit every key once', async () => {
  const keys = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`)
  await fill(keys)
  const seen: string[] = []
  let after: string | null = null
  let pages = 0
  do {
    const q: string = after === null ? '' : `&after=${encodeURIComponent(after)}`
    const body = (await request(t, 'GET', `/kv?limit=5${q}`)).json()
    seen.push(...body.entries.map((e: { key: string }) => e.key))
    after = body.next
    pages++
  } while (after !== null)
  assert.equal(seen, keys)
  assert.is(pages, 5)
})

test('prefix, start/end reach the service as bytes and bound the page', async () => {
  await fill(['a', 'b/1', 'b/2', 'c', 'd'])
  const prefixed = (await request(t, 'GET', '/kv?prefix=b%2F')).json()
  assert.equal(prefixed.entries.map((e: { key: string }) => e.key), ['b/1', 'b/2'])
  assert.equal((t.kv.calls.at(-1)?.options as { prefix: Buffer }).prefix, Buffer.from('b/'))
  const ranged = (await request(t, 'GET', '/kv?start=b&end=d&timeout=100')).json()
  assert.equal(ranged.entries.map((e: { key: string }) => e.key), ['b/1', 'b/2', 'c'])
  const options = t.kv.calls.at(-1)?.options as Record<string, unknown>
  assert.equal(options['start'], Buffer.from('b'))
  assert.equal(options['end'], Buffer.from('d'))
  assert.is(options['timeoutMs'], 100)
  // '+' in a query is a space; %2B is a plus.
  await fill(['x y', 'x+y'])
  assert.equal((await request(t, 'GET', '/kv?prefix=x+')).json().entries.map((e: { key: string }) => e.key), ['x y'])
  assert.equal((await request(t, 'GET', '/kv?prefix=x%2B')).json().entries.map((e: { key: string }) => e.key), ['x+y'])
})

test('utf8 encoding with bytes that are not UTF-8: keyBase64 / valueBase64 / nextBase64 instead', async () => {
  const key = Buffer.from([0x6b, 0xff, 0x01])
  const value = Buffer.from([0xc3, 0x28])
  await request(t, 'PUT', '/kv/' + percentAll(key), { body: value })
  await request(t, 'PUT', '/kv/' + percentAll(Buffer.from([0x6b, 0xff, 0x02])), { body: 'text' })
  const body = (await request(t, 'GET', '/kv?limit=1')).json()
  const entry = body.entries[0]
  assert.equal(Object.keys(entry), ['keyBase64', 'valueBase64', 'context'])
  assert.equal(Buffer.from(entry.keyBase64, 'base64'), key)
  assert.equal(Buffer.from(entry.valueBase64, 'base64'), value)
  assert.ok(!('next' in body))
  assert.equal(Buffer.from(body.nextBase64, 'base64'), key)
  // The next page, asking with the raw bytes percent-encoded.
  const second = (await request(t, 'GET', '/kv?after=' + percentAll(key))).json()
  assert.equal(second.entries.map((e: { keyBase64: string; value: string }) => [e.keyBase64, e.value]), [['a/8C', 'text']])
})

test('base64 encoding: every key, value and next in base64; key parameters read as base64 (either alphabet)', async () => {
  const keys = [Buffer.from([0xfb, 0xef, 0x01]), Buffer.from([0xfb, 0xef, 0x02]), Buffer.from([0xfb, 0xef, 0x03]), Buffer.from('plain')]
  for (const k of keys) await request(t, 'PUT', '/kv/' + percentAll(k), { body: Buffer.concat([k, k]) })
  const first = (await request(t, 'GET', '/kv?encoding=base64&limit=2&prefix=' + encodeURIComponent(Buffer.from([0xfb, 0xef]).toString('base64')))).json()
  assert.is(first.encoding, 'base64')
  assert.equal((t.kv.calls.at(-1)?.options as { prefix: Buffer }).prefix, Buffer.from([0xfb, 0xef]))
  assert.equal(first.entries.map((e: { key: string }) => Buffer.from(e.key, 'base64')), keys.slice(0, 2))
  assert.equal(Buffer.from(first.entries[1].value, 'base64'), Buffer.concat([keys[1]!, keys[1]!]))
  assert.is(first.next, keys[1]!.toString('base64'))
  // `next` as given (with its '+'/'/' unescaped: '+' arrives as a space and is read back as '+').
  assert.match(first.next, /[+/]/)
  const second = (await request(t, 'GET', `/kv?encoding=base64&after=${first.next}&prefix=${Buffer.from([0xfb, 0xef]).toString('base64url')}`)).json()
  assert.equal(second.entries.map((e: { key: string }) => Buffer.from(e.key, 'base64')), [keys[2]])
  assert.is(second.next, null)
  // utf8 text is base64 too under encoding=base64.
  const all = (await request(t, 'GET', '/kv?encoding=base64&start=cGxhaW4&end=-w')).json()
  assert.equal(all.entries.map((e: { key: string }) => e.key), [Buffer.from('plain').toString('base64')])
})

test('several siblings: the entry carries siblings instead of value', async () => {
  await request(t, 'PUT', '/kv/s', { body: 'one' })
  await request(t, 'PUT', '/kv/s', { body: 'two' })
  const entry = (await request(t, 'GET', '/kv')).json().entries[0]
  assert.equal(Object.keys(entry), ['key', 'siblings', 'context'])
  assert.equal(entry.siblings.map((s: { value: string }) => s.value), ['two', 'one'])
  assert.equal(Object.keys(entry.siblings[0]), ['value', 'timestamp', 'expiresAt'])
})

test('an empty store is an empty page', async () => {
  assert.equal((await request(t, 'GET', '/kv')).json(), { encoding: 'utf8', entries: [], next: null })
})

test('bad scan parameters: 400 naming the parameter, and the service is not called', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['limit=0', 'limit', /between 1 and 10000/],
    ['limit=10001', 'limit', /between 1 and 10000/],
    ['limit=abc', 'limit', /got "abc"/],
    ['limit=1.5', 'limit', /integer/],
    ['limit=', 'limit', /needs a value/],
    ['timeout=0', 'timeout', /between 1 and 3600000/],
    ['encoding=hex', 'encoding', /utf8 or base64/],
    ['prefix=a&start=b', 'prefix', /cannot be combined/],
    ['prefix=a&end=b', 'prefix', /cannot be combined/],
    ['encoding=base64&after=!!', 'after', /not valid base64/],
    ['encoding=base64&start=a', 'start', /not valid base64/],
    ['after=%G0', 'after', /malformed percent-encoding at character 0/],
    ['limit=1&limit=2', 'limit', /more than once/],
    ['r=1', 'r', /unknown query parameter "r"; this route accepts prefix, start, end, after, limit, timeout, encoding/],
  ]
  for (const [query, parameter, message] of cases) {
    const res = await request(t, 'GET', '/kv?' + query)
    assert.is(res.status, 400, query)
    const error = res.json().error
    assert.is(error.code, 'ERR_BAD_REQUEST', query)
    assert.is(error.details.parameter, parameter, query)
    assert.match(error.message, message, query)
  }
  assert.is(t.kv.calls.length, 0)
})

test.run()
