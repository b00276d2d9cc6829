// The server's life: listening, options, Node's parser errors as JSON, and close().
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { startHttpServer } from '../../../src/http/index.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { MemoryKv, parseRaw, rawRequest, request, startTestServer } from './helpers.ts'

const info = () => ({ nodeId: 'n1', members: [] })

test('listens on port 0 and reports the real address', async () => {
  const t = await startTestServer()
  try {
    assert.match(t.server.address, /^127\.0\.0\.1:\d+$/)
    assert.ok(t.port > 0)
    assert.equal(t.logs[0], { time: t.logs[0]?.['time'], level: 'info', msg: 'http listening', address: t.server.address })
  } finally {
    await t.close()
  }
})

test('a port in use is ERR_LISTEN_FAILED; bad options are RangeErrors naming the option', async () => {
  const t = await startTestServer()
  try {
    try {
      await startHttpServer({ address: t.server.address, service: new MemoryKv(), info })
      assert.unreachable('second listen succeeded')
    } catch (err) {
      assert.ok(isRingkvError(err, 'ERR_LISTEN_FAILED'), String(err))
      assert.match((err as Error).message, /cannot listen on 127\.0\.0\.1:\d+/)
    }
  } finally {
    await t.close()
  }
  const service = new MemoryKv()
  await assertRejects(startHttpServer({ address: 'nowhere', service, info }), /address must be 'host:port'/)
  await assertRejects(startHttpServer({ address: '127.0.0.1:0', service, info, maxBodyBytes: -1 }), /maxBodyBytes must be an integer >= 0/)
  await assertRejects(startHttpServer({ address: '127.0.0.1:0', service, info, maxHeaderBytes: 10 }), /maxHeaderBytes must be an integer >= 1024/)
  await assertRejects(startHttpServer({ address: '127.0.0.1:0', service, info, closeGraceMs: 1.5 }), /closeGraceMs must be an integer >= 0/)
})

async function assertRejects(p: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await p
  } catch (err) {
    assert.match((err as Error).message, message)
    return
  }
  assert.unreachable(`expected a rejection matching ${message}`)
}

test("Node's parser errors are JSON answers and the connection is closed", async () => {
  const t = await startTestServer({ maxHeaderBytes: 2048 })
  try {
    const cases: Array<[string | Buffer, number, string]> = [
      ['NOT HTTP AT ALL\r\n\r\n', 400, 'ERR_BAD_REQUEST'],
      ['GET /kv/a HTTP/1.1\r\nBad Header\r\n\r\n', 400, 'ERR_BAD_REQUEST'],
      [Buffer.concat([Buffer.from('GET /kv/'), Buffer.from('é', 'utf8'), Buffer.from(' HTTP/1.1\r\n\r\n')]), 400, 'ERR_BAD_REQUEST'],
      ['PUT /kv/a HTTP/1.1\r\nContent-Length: abc\r\n\r\n', 400, 'ERR_BAD_REQUEST'],
      ['PUT /kv/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'ERR_BAD_REQUEST'],
      [`GET /kv/${'a'.repeat(4096)} HTTP/1.1\r\n\r\n`, 431, 'ERR_HEADERS_TOO_LARGE'],
      [`GET /kv/a HTTP/1.1\r\nX-Big: ${'b'.repeat(4096)}\r\n\r\n`, 431, 'ERR_HEADERS_TOO_LARGE'],
    ]
    for (const [data, status, code] of cases) {
      const { text, closedByServer } = await rawRequest(t, data)
      const res = parseRaw(text)
      assert.is(res.status, status, String(data).slice(0, 40))
      assert.is(res.headers['content-type'], 'application/json; charset=utf-8')
      assert.is(res.headers['connection'], 'close')
      assert.is(JSON.parse(res.body).error.code, code)
      assert.ok(closedByServer)
    }
    assert.is(t.kv.calls.length, 0)
    assert.ok(t.logs.filter((l) => l['level'] !== 'info').every((l) => l['level'] === 'debug'))
    // No Host header is fine (HTTP/1.0 and HTTP/1.1 alike).
    assert.is(parseRaw((await rawRequest(t, 'GET /health HTTP/1.1\r\n\r\n', 200)).text).status, 200)
    assert.is(parseRaw((await rawRequest(t, 'GET /health HTTP/1.0\r\n\r\n')).text).status, 200)
  } finally {
    await t.close()
  }
})

test('bad bytes after a request being answered: that answer goes out alone, then the connection closes', async () => {
  const t = await startTestServer()
  try {
    // An unframed body after `Connection: close` (what node:http's client sends for HEAD with a body).
    const afterClose = await rawRequest(t, 'HEAD /health HTTP/1.1\r\nConnection: close\r\n\r\nunframed body')
    assert.is(afterClose.text.match(/HTTP\/1\.1/g)?.length, 1)
    assert.is(parseRaw(afterClose.text).status, 200)
    assert.ok(afterClose.closedByServer)
    // Garbage pipelined behind a request the service is still working on.
    let release!: () => void
    t.kv.gate = new Promise<void>((resolve) => (release = resolve))
    const pending = rawRequest(t, 'GET /kv/a HTTP/1.1\r\n\r\nNOT HTTP\r\n\r\n')
    while (t.kv.calls.length === 0) await new Promise((r) => setTimeout(r, 2))
    await new Promise((r) => setTimeout(r, 20))
    release()
    const pipelined = await pending
    assert.is(pipelined.text.match(/HTTP\/1\.1/g)?.length, 1)
    assert.is(parseRaw(pipelined.text).status, 404)
    assert.ok(pipelined.closedByServer)
    // A malformed chunk in the body of a PUT being read: 400 for it, and the service never sees it.
    const badChunk = await rawRequest(t, 'PUT /kv/c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n')
    assert.is(parseRaw(badChunk.text).status, 400)
    assert.is(t.kv.calls.filter((c) => c.op === 'put').length, 0)
  } finally {
    await t.close()
  }
})

test('the default header limit takes a 64 KiB key, fully percent-encoded', async () => {
  const t = await startTestServer()
  try {
    const key = Buffer.alloc(64 * 1024, 0xfe)
    const path = '/kv/' + '%FE'.repeat(key.length)
    assert.is((await request(t, 'PUT', path, { body: 'big key' })).status, 204)
    assert.equal(t.kv.calls[0]?.key, key)
  } finally {
    await t.close()
  }
})

test('close(): requests in flight finish (with Connection: close), new connections are refused, idempotent', async () => {
  const t = await startTestServer()
  let release!: () => void
  t.kv.gate = new Promise<void>((resolve) => (release = resolve))
  const inFlight = request(t, 'PUT', '/kv/late', { body: 'v' })
  while (t.kv.calls.length === 0) await new Promise((r) => setTimeout(r, 2))
  const closing = t.close()
  assert.is(t.server.close(), closing)
  await assertRejects(request(t, 'GET', '/health'), /ECONNREFUSED/)
  release()
  const res = await inFlight
  assert.is(res.status, 204)
  assert.is(res.headers['connection'], 'close')
  await closing
})

test('close(): after the grace period (clock time) connections still busy are cut', async () => {
  const clock = new VirtualClock()
  const t = await startTestServer({ clock, closeGraceMs: 5000 })
  t.kv.gate = new Promise<void>(() => {}) // the service never answers
  const stuck = request(t, 'GET', '/kv/stuck').then(
    () => 'answered',
    (err: Error) => err.message,
  )
  while (t.kv.calls.length === 0) await new Promise((r) => setTimeout(r, 2))
  let done = false
  const closing = t.close().then(() => (done = true))
  await new Promise((r) => setTimeout(r, 50))
  assert.is(done, false)
  await clock.advance(4999)
  assert.is(done, false)
  await clock.advance(1)
  await closing
  assert.match(await stuck, /socket hang up|ECONNRESET/)
})

test('a raw socket idle at close is closed at once', async () => {
  const t = await startTestServer({ closeGraceMs: 60_000 })
  const socket = net.connect(t.port, t.host)
  socket.on('error', () => {})
  await new Promise((r) => socket.once('connect', r))
  socket.write('GET /kv/a HTTP/1.1\r\n') // half a request
  await new Promise((r) => setTimeout(r, 20))
  const closedAt = new Promise((r) => socket.once('close', r))
  const started = Date.now()
  await t.close()
  await closedAt
  assert.ok(Date.now() - started < 2000)
})

test.run()
