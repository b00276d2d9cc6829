// Errors: every code -> status mapping, JSON bodies, Retry-After, routes and methods, bad input, logging.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RingkvError } from '../../../src/errors.ts'
import { statusForCode } from '../../../src/http/index.ts'
import { request, startTestServer, type TestServer } from './helpers.ts'

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
  t.kv.failNext = undefined
  t.logs.length = 0
})

const MAPPED: Array<[string, number]> = [
  ['ERR_BAD_REQUEST', 400],
  ['ERR_BAD_CONTEXT', 400],
  ['ERR_INVALID_ARGUMENT', 400],
  ['ERR_NOT_FOUND', 404],
  ['ERR_TOO_MANY_SIBLINGS', 409],
  ['ERR_KEY_TOO_LARGE', 413],
  ['ERR_VALUE_TOO_LARGE', 413],
  ['ERR_OBJECT_TOO_LARGE', 413],
  ['ERR_QUORUM', 503],
  ['ERR_OVERLOADED', 503],
  ['ERR_CLOSED', 503],
  ['ERR_TIMEOUT', 504],
]

test('every service error code maps to its status with a JSON body of code, message and details, on every route', async () => {
  const routes: Array<[string, string, string | undefined]> = [
    ['GET', '/kv/k', undefined],
    ['PUT', '/kv/k', 'v'],
    ['POST', '/kv/k', 'v'],
    ['DELETE', '/kv/k', undefined],
    ['GET', '/kv', undefined],
  ]
  for (const [code, status] of MAPPED) {
    assert.is(statusForCode(code), status)
    for (const [method, path, body] of routes) {
      t.kv.failNext = new RingkvError(code, `${code} happened`, { details: { why: 'test' } })
      const res = await request(t, method, path, { body })
      assert.is(res.status, status, `${code} on ${method} ${path}`)
      assert.match(res.headers['content-type'] ?? '', /^application\/json/)
      assert.equal(res.json(), { error: { code, message: `${code} happened`, details: { why: 'test' } } })
    }
  }
  // Expected failures are logged at debug only.
  assert.ok(t.logs.every((l) => l['level'] === 'debug'))
})

test('a quorum failure carries required/received and Retry-After when retryable; not when it is not', async () => {
  t.kv.failNext = new RingkvError('ERR_QUORUM', 'needed 2 replies, got 1', { details: { required: 2, received: 1, retryable: true } })
  const retryable = await request(t, 'GET', '/kv/q')
  assert.is(retryable.status, 503)
  assert.is(retryable.headers['retry-after'], '1')
  assert.equal(retryable.json().error, { code: 'ERR_QUORUM', message: 'needed 2 replies, got 1', details: { required: 2, received: 1, retryable: true } })

  t.kv.failNext = new RingkvError('ERR_QUORUM', 'w=all cannot be met', { details: { required: 3, received: 2, retryable: false } })
  const final = await request(t, 'PUT', '/kv/q', { body: 'v' })
  assert.is(final.status, 503)
  assert.is(final.headers['retry-after'], undefined)
  assert.equal(final.json().error.details, { required: 3, received: 2, retryable: false })

  t.kv.failNext = new RingkvError('ERR_QUORUM', 'later', { details: { required: 2, received: 0, retryable: true, retryAfterMs: 2500 } })
  assert.is((await request(t, 'DELETE', '/kv/q')).headers['retry-after'], '3')

  t.kv.failNext = new RingkvError('ERR_OVERLOADED', 'busy')
  const busy = await request(t, 'GET', '/kv')
  assert.is(busy.status, 503)
  assert.is(busy.headers['retry-after'], '1')

  t.kv.failNext = new RingkvError('ERR_TIMEOUT', 'slow')
  const slow = await request(t, 'GET', '/kv/q')
  assert.is(slow.status, 504)
  assert.is(slow.headers['retry-after'], undefined)
})

test('anything else is 500 ERR_INTERNAL: message logged at error, never sent (no stack either)', async () => {
  const failures: unknown[] = [
    new Error('secret detail at /srv/data'),
    new RingkvError('ERR_CORRUPTION', 'table 000123.sst is corrupt at 4096'),
    new RingkvError('ERR_INTERNAL', 'invariant broken'),
    Object.assign(new Error('node error'), { code: 'EACCES' }),
    'a string',
    null,
  ]
  for (const failure of failures) {
    t.logs.length = 0
    t.kv.failNext = failure
    const res = await request(t, 'GET', '/kv/x')
    assert.is(res.status, 500)
    assert.equal(res.json(), { error: { code: 'ERR_INTERNAL', message: 'internal error' } })
    assert.not.match(res.text, /secret|corrupt|invariant|at \//)
    const logged = t.logs.find((l) => l['level'] === 'error')
    assert.ok(logged !== undefined, String(failure))
    assert.is(logged['msg'], 'http request failed')
    assert.is(logged['method'], 'GET')
  }
  // The logged error has the real message.
  t.logs.length = 0
  t.kv.failNext = new Error('the real reason')
  await request(t, 'PUT', '/kv/x', { body: 'v' })
  assert.is((t.logs[0]?.['error'] as { message: string }).message, 'the real reason')
  // A service that throws synchronously is the same.
  const sync = t.kv.get
  t.kv.get = () => {
    throw new Error('sync throw')
  }
  try {
    assert.is((await request(t, 'GET', '/kv/x')).status, 500)
  } finally {
    t.kv.get = sync
  }
  // Unserialisable details are dropped, not fatal.
  const cyclic: Record<string, unknown> = { n: 1n }
  t.kv.failNext = new RingkvError('ERR_QUORUM', 'odd details', { details: cyclic })
  assert.equal((await request(t, 'GET', '/kv/x')).json(), { error: { code: 'ERR_QUORUM', message: 'odd details' } })
  // Very long messages are cut.
  t.kv.failNext = new RingkvError('ERR_BAD_REQUEST', 'x'.repeat(5000))
  assert.is((await request(t, 'GET', '/kv/x')).json().error.message.length, 1024)
})

test('a reply Node refuses to write (a context that is not a valid header value) becomes a 500', async () => {
  const put = t.kv.put
  t.kv.put = async () => ({ context: 'bad\r\nX-Injected: 1' })
  try {
    const res = await request(t, 'PUT', '/kv/x', { body: 'v' })
    assert.is(res.status, 500)
    assert.is(res.headers['x-injected'], undefined)
    assert.equal(res.json(), { error: { code: 'ERR_INTERNAL', message: 'internal error' } })
    assert.is(t.logs.find((l) => l['level'] === 'error')?.['msg'], 'http reply failed')
  } finally {
    t.kv.put = put
  }
})

test('unknown routes: 404 ERR_UNKNOWN_ROUTE for any method', async () => {
  for (const [method, path] of [
    ['GET', '/'],
    ['GET', '/kvx'],
    ['GET', '/KV/a'],
    ['PUT', '/key/a'],
    ['DELETE', '/status/x'],
    ['GET', '/health/'],
    ['GET', '/metrics?x=1'],
    ['PATCH', '/nope'],
  ] as const) {
    const res = await request(t, method, path)
    assert.is(res.status, 404, `${method} ${path}`)
    assert.is(res.json().error.code, 'ERR_UNKNOWN_ROUTE')
    assert.match(res.json().error.message, /routes are \/kv\/\{key\}, \/kv, \/status and \/health/)
  }
})

test('wrong method: 405 ERR_METHOD_NOT_ALLOWED with Allow', async () => {
  const cases: Array<[string, string, string]> = [
    ['PATCH', '/kv/a', 'GET, HEAD, PUT, POST, DELETE'],
    ['OPTIONS', '/kv/a', 'GET, HEAD, PUT, POST, DELETE'],
    ['PUT', '/kv', 'GET, HEAD'],
    ['DELETE', '/kv', 'GET, HEAD'],
    ['POST', '/status', 'GET, HEAD'],
    ['PUT', '/health', 'GET, HEAD'],
  ]
  for (const [method, path, allow] of cases) {
    const res = await request(t, method, path, { body: method === 'PUT' || method === 'POST' ? 'x' : undefined })
    assert.is(res.status, 405, `${method} ${path}`)
    assert.is(res.headers['allow'], allow)
    assert.is(res.json().error.code, 'ERR_METHOD_NOT_ALLOWED')
  }
  assert.is(t.kv.calls.length, 0)
})

test('malformed percent-encoding in the key or the query: 400 saying where', async () => {
  for (const path of ['/kv/%', '/kv/a%2', '/kv/%zz', '/kv/ab%g1']) {
    const res = await request(t, 'GET', path)
    assert.is(res.status, 400, path)
    assert.match(res.json().error.message, /^the key has a malformed percent-encoding at character \d/)
  }
  const query = await request(t, 'GET', '/kv?prefix=ok%2')
  assert.is(query.status, 400)
  assert.equal(query.json().error.details, { parameter: 'prefix' })
  const name = await request(t, 'GET', '/kv/a?%zz=1')
  assert.is(name.status, 400)
  assert.match(name.json().error.message, /query parameter name has a malformed percent-encoding/)
  assert.is(t.kv.calls.length, 0)
})

test('bad query values on /kv/{key}: 400 naming the parameter, before the service or the body', async () => {
  const cases: Array<[string, string, string]> = [
    ['GET', 'r=abc', 'r'],
    ['GET', 'r=0', 'r'],
    ['GET', 'r=201', 'r'],
    ['GET', 'r=-1', 'r'],
    ['GET', 'r=1e1', 'r'],
    ['GET', 'r=+1', 'r'],
    ['GET', 'pr=QUORUM', 'pr'],
    ['GET', 'timeout=abc', 'timeout'],
    ['GET', 'timeout=3600001', 'timeout'],
    ['GET', 'encoding=latin1', 'encoding'],
    ['GET', 'w=1', 'w'],
    ['GET', 'r=1&r=1', 'r'],
    ['GET', 'r', 'r'],
    ['PUT', 'w=many', 'w'],
    ['PUT', 'pw=', 'pw'],
    ['PUT', 'dw=2.0', 'dw'],
    ['PUT', 'ttl=0', 'ttl'],
    ['PUT', 'ttl=-5', 'ttl'],
    ['PUT', 'ttl=99999999999999999', 'ttl'],
    ['PUT', 'r=1', 'r'],
    ['POST', 'timeout=', 'timeout'],
    ['DELETE', 'ttl=5', 'ttl'],
    ['DELETE', 'w=al', 'w'],
  ]
  for (const [method, query, parameter] of cases) {
    const res = await request(t, method, '/kv/k?' + query, { body: method === 'PUT' || method === 'POST' ? 'value' : undefined })
    assert.is(res.status, 400, `${method} ${query}`)
    const error = res.json().error
    assert.is(error.code, 'ERR_BAD_REQUEST')
    assert.is(error.details.parameter, parameter, `${method} ${query}`)
    assert.ok(error.message.includes(`'${parameter}'`) || error.message.includes(`"${parameter}"`), error.message)
  }
  assert.is(t.kv.calls.length, 0)
  // Bad requests are logged at debug, not error.
  assert.ok(t.logs.length > 0 && t.logs.every((l) => l['level'] === 'debug'))
  // Values that are fine: names, bounds, empty segments.
  for (const query of ['r=one', 'r=quorum&pr=all', 'r=1', 'r=200', 'timeout=1&', '&&r=2', 'encoding=utf8']) {
    assert.is((await request(t, 'GET', '/kv/k?' + query)).status, 404, query)
  }
})

test('the context header: malformed is ERR_BAD_CONTEXT 400 (from the service), sent twice is 400', async () => {
  for (const context of ['not base64!', 'AQ', '']) {
    const res = await request(t, 'PUT', '/kv/c', { body: 'v', headers: { 'X-Ringkv-Context': context } })
    assert.is(res.status, 400, context)
    assert.is(res.json().error.code, 'ERR_BAD_CONTEXT')
  }
  const twice = await new Promise<number>((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.request({ host: t.host, port: t.port, method: 'DELETE', path: '/kv/c', agent: false }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.setHeader('X-Ringkv-Context', ['AQEEbjEjMAE', 'AQEEbjEjMAI'])
      req.on('error', reject)
      req.end()
    }, reject)
  })
  assert.is(twice, 400)
})

test('/status and /health', async () => {
  const status = await request(t, 'GET', '/status')
  assert.is(status.status, 200)
  assert.equal(status.json(), {
    nodeId: 'n1',
    version: '0.1.0',
    members: [{ id: 'n1', address: '127.0.0.1:7000', http: '127.0.0.1:8080' }],
    ring: null,
    cluster: null,
  })
  const health = await request(t, 'GET', '/health')
  assert.is(health.status, 200)
  assert.is(health.text, 'ok\n')
  assert.match(health.headers['content-type'] ?? '', /^text\/plain/)
  assert.is((await request(t, 'HEAD', '/health')).body.length, 0)
  assert.is((await request(t, 'GET', '/health?verbose=1')).status, 400)
  assert.match((await request(t, 'GET', '/status?x')).json().error.message, /this route takes no query parameters/)
})

test('/status shows the ring summary (only its summary fields) and members without an HTTP address as null', async () => {
  const { startHttpServer } = await import('../../../src/http/index.ts')
  const ring = { version: 7, checksum: 'ab'.repeat(32), q: 64, n: 3, members: [], owners: new Array(64).fill('n1') }
  let throwInfo = false
  const server = await startHttpServer({
    address: '127.0.0.1:0',
    service: t.kv,
    version: '9.9.9',
    info: () => {
      if (throwInfo) throw new Error('info broke')
      return { nodeId: 'n2', members: [{ id: 'n2', address: '10.0.0.2:7000', http: undefined }], ring }
    },
  })
  const port = Number(server.address.split(':')[1])
  const other = { ...t, port }
  try {
    assert.equal((await request(other, 'GET', '/status')).json(), {
      nodeId: 'n2',
      version: '9.9.9',
      members: [{ id: 'n2', address: '10.0.0.2:7000', http: null }],
      ring: { version: 7, checksum: 'ab'.repeat(32), q: 64, n: 3 },
      cluster: null,
    })
    throwInfo = true
    assert.is((await request(other, 'GET', '/status')).status, 500)
  } finally {
    await server.close()
  }
})

test.run()
