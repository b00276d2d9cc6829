// /kv/{key}: values, contexts and siblings over real HTTP, against a KvService with real causal contexts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeContext, vvGet } from '../../../src/versioning/index.ts'
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

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

test('binary value round trip: PUT 204 with a context, GET 200 octet-stream with the same bytes and context', async () => {
  const put = await request(t, 'PUT', '/kv/bin', { body: ALL_BYTES })
  assert.is(put.status, 204)
  assert.is(put.body.length, 0)
  const context = put.headers['x-ringkv-context']
  assert.type(context, 'string')
  const get = await request(t, 'GET', '/kv/bin')
  assert.is(get.status, 200)
  assert.is(get.headers['content-type'], 'application/octet-stream')
  assert.is(get.headers['content-length'], '256')
  assert.ok(get.body.equals(ALL_BYTES))
  assert.is(get.headers['x-ringkv-context'], context)
})

test('an empty value is a value', async () => {
  assert.is((await request(t, 'PUT', '/kv/empty', { body: '' })).status, 204)
  const get = await request(t, 'GET', '/kv/empty')
  assert.is(get.status, 200)
  assert.is(get.body.length, 0)
})

test('POST is PUT', async () => {
  const post = await request(t, 'POST', '/kv/p', { body: 'posted' })
  assert.is(post.status, 204)
  assert.type(post.headers['x-ringkv-context'], 'string')
  assert.is((await request(t, 'GET', '/kv/p')).text, 'posted')
})

test('keys: percent-decoded bytes, "/" and "+" literal in the path, every byte via %XX', async () => {
  await request(t, 'PUT', '/kv/users/1+2%20x', { body: 'v' })
  assert.equal(t.kv.calls[0]?.key, Buffer.from('users/1+2 x'))
  await request(t, 'PUT', '/kv/' + percentAll(ALL_BYTES), { body: 'all' })
  assert.equal(t.kv.calls[1]?.key, ALL_BYTES)
  assert.is((await request(t, 'GET', '/kv/' + percentAll(ALL_BYTES))).text, 'all')
  // Lower-case hex and a UTF-8 key.
  await request(t, 'PUT', '/kv/caf%c3%a9', { body: 'e' })
  assert.is(t.kv.calls[3]?.key?.toString('utf8'), 'café')
})

test('context round trip: a write with the read context supersedes; without it the write is a sibling', async () => {
  await request(t, 'PUT', '/kv/k', { body: 'v1' })
  const read = await request(t, 'GET', '/kv/k')
  const context = read.headers['x-ringkv-context'] as string
  const put = await request(t, 'PUT', '/kv/k', { body: 'v2', headers: { 'X-Ringkv-Context': context } })
  assert.is(put.status, 204)
  assert.is(vvGet(decodeContext(put.headers['x-ringkv-context'] as string), 'n1#0'), 2)
  assert.is((t.kv.calls.at(-1)?.options as { context?: string }).context, context)
  const after = await request(t, 'GET', '/kv/k')
  assert.is(after.status, 200)
  assert.is(after.text, 'v2')
})

test('siblings: 300 Multiple Choices with every sibling in JSON (base64 by default) and the context', async () => {
  await request(t, 'PUT', '/kv/s', { body: Buffer.from([0xff, 0x00]) })
  await request(t, 'PUT', '/kv/s', { body: 'second' })
  const res = await request(t, 'GET', '/kv/s')
  assert.is(res.status, 300)
  assert.match(res.headers['content-type'] ?? '', /^application\/json/)
  const body = res.json()
  assert.is(body.found, true)
  assert.is(body.encoding, 'base64')
  assert.is(body.context, res.headers['x-ringkv-context'])
  assert.equal(
    body.siblings.map((s: { value: string }) => Buffer.from(s.value, 'base64')),
    [Buffer.from('second'), Buffer.from([0xff, 0x00])],
  )
  assert.equal(Object.keys(body.siblings[0]), ['value', 'timestamp', 'expiresAt'])
  assert.ok(body.siblings[0].timestamp > body.siblings[1].timestamp)
  // encoding=utf8: text when valid UTF-8, valueBase64 when not.
  const utf8 = (await request(t, 'GET', '/kv/s?encoding=utf8')).json()
  assert.is(utf8.encoding, 'utf8')
  assert.equal(utf8.siblings.map((s: Record<string, unknown>) => s['value'] ?? s['valueBase64']), ['second', '/wA='])
  assert.ok('valueBase64' in utf8.siblings[1] && !('value' in utf8.siblings[1]))
  // Resolving: a write with the context of the 300 replaces both.
  await request(t, 'PUT', '/kv/s', { body: 'merged', headers: { 'X-Ringkv-Context': body.context } })
  const resolved = await request(t, 'GET', '/kv/s')
  assert.is(resolved.status, 200)
  assert.is(resolved.text, 'merged')
})

test('Accept: application/json: 200 with found, siblings and context for one value, several, or none', async () => {
  const json = { Accept: 'application/json' }
  await request(t, 'PUT', '/kv/j', { body: 'one' })
  const one = await request(t, 'GET', '/kv/j', { headers: json })
  assert.is(one.status, 200)
  assert.equal(
    { ...one.json(), siblings: one.json().siblings.map((s: { value: string }) => s.value) },
    { found: true, encoding: 'base64', siblings: [Buffer.from('one').toString('base64')], context: one.headers['x-ringkv-context'] },
  )
  await request(t, 'PUT', '/kv/j', { body: 'two' })
  const two = await request(t, 'GET', '/kv/j?encoding=utf8', { headers: { Accept: 'text/html, application/json;q=0.9' } })
  assert.is(two.status, 200)
  assert.equal(two.json().siblings.map((s: { value: string }) => s.value), ['two', 'one'])
  const none = await request(t, 'GET', '/kv/nothing', { headers: json })
  assert.is(none.status, 200)
  assert.equal(none.json(), { found: false, encoding: 'base64', siblings: [], context: none.headers['x-ringkv-context'] })
})

test('not found: 404 JSON error with a context header; deleted keys too, and the context covers the delete', async () => {
  const missing = await request(t, 'GET', '/kv/missing')
  assert.is(missing.status, 404)
  assert.equal(missing.json(), { error: { code: 'ERR_NOT_FOUND', message: 'key not found' } })
  assert.type(missing.headers['x-ringkv-context'], 'string')

  const put = await request(t, 'PUT', '/kv/d', { body: 'x' })
  const del = await request(t, 'DELETE', '/kv/d', { headers: { 'X-Ringkv-Context': put.headers['x-ringkv-context'] as string } })
  assert.is(del.status, 204)
  assert.is(del.body.length, 0)
  const gone = await request(t, 'GET', '/kv/d')
  assert.is(gone.status, 404)
  const context = gone.headers['x-ringkv-context'] as string
  assert.is(vvGet(decodeContext(context), 'n1#0'), 2)
  // A write after the delete that passes its context leaves one value, no tombstone sibling.
  await request(t, 'PUT', '/kv/d', { body: 'back', headers: { 'X-Ringkv-Context': context } })
  const back = await request(t, 'GET', '/kv/d')
  assert.is(back.status, 200)
  assert.is(back.text, 'back')
  assert.is(t.kv.data.get('d')?.siblings.length, 1)
})

test('DELETE without a context is concurrent with what it did not read: a tombstone sibling, the value stays', async () => {
  await request(t, 'PUT', '/kv/t', { body: 'x' })
  assert.is((await request(t, 'DELETE', '/kv/t')).status, 204)
  assert.is(t.kv.data.get('t')?.siblings.length, 2)
  assert.is((await request(t, 'GET', '/kv/t')).status, 200)
  assert.is((await request(t, 'DELETE', '/kv/never')).status, 204)
})

test('HEAD: status and context, no body', async () => {
  await request(t, 'PUT', '/kv/h', { body: 'hello' })
  const head = await request(t, 'HEAD', '/kv/h')
  assert.is(head.status, 200)
  assert.is(head.headers['content-length'], '5')
  assert.is(head.body.length, 0)
  assert.type(head.headers['x-ringkv-context'], 'string')
  assert.is((await request(t, 'HEAD', '/kv/none')).status, 404)
})

test('query options reach the service: r, pr, timeout; w, pw, dw, ttl, timeout', async () => {
  await request(t, 'GET', '/kv/o?r=all&pr=1&timeout=250')
  assert.equal(t.kv.calls[0]?.options, { r: 'all', pr: 1, timeoutMs: 250 })
  await request(t, 'PUT', '/kv/o?w=quorum&pw=one&dw=2&ttl=60000&timeout=1000', { body: 'v' })
  assert.equal(t.kv.calls[1]?.options, { w: 'quorum', pw: 'one', dw: 2, timeoutMs: 1000, context: undefined, ttlMs: 60000 })
  await request(t, 'DELETE', '/kv/o?w=200&timeout=3600000')
  assert.equal(t.kv.calls[2]?.options, { w: 200, pw: undefined, dw: undefined, timeoutMs: 3600000, context: undefined })
  // No options: the service gets none (its defaults apply).
  await request(t, 'GET', '/kv/o')
  assert.is(t.kv.calls[3]?.options, undefined)
})

test('ttl: the value expires', async () => {
  await request(t, 'PUT', '/kv/ttl?ttl=5', { body: 'brief' })
  assert.is((await request(t, 'GET', '/kv/ttl')).status, 200)
  t.kv.now += 10
  assert.is((await request(t, 'GET', '/kv/ttl')).status, 404)
})

test('empty key: 400 for every method', async () => {
  for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
    const res = await request(t, method, '/kv/', { body: method === 'PUT' ? 'x' : undefined })
    assert.is(res.status, 400, method)
    if (method !== 'HEAD') assert.match(res.json().error.message, /the key is empty/)
  }
  assert.is(t.kv.calls.length, 0)
})

test('keep-alive: several requests on one connection', async () => {
  const http = await import('node:http')
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const sockets = new Set<unknown>()
  try {
    for (let i = 0; i < 5; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: t.host, port: t.port, method: 'PUT', path: `/kv/ka${i}`, agent }, (res) => {
          sockets.add(res.socket)
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', reject)
        req.end('v')
      })
      assert.is(status, 204)
    }
    assert.is(sockets.size, 1)
  } finally {
    agent.destroy()
  }
})

test.run()
