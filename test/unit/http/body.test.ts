// Request bodies: the size limit (declared and chunked), 100-continue, and answers before the body is read.
import http from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DEFAULT_MAX_BODY_BYTES } from '../../../src/http/index.ts'
import { parseRaw, rawRequest, request, startTestServer, type TestServer } from './helpers.ts'

const LIMIT = 1024
let t: TestServer
test.before(async () => {
  t = await startTestServer({ maxBodyBytes: LIMIT })
})
test.after(async () => {
  await t.close()
})
test.before.each(() => {
  t.kv.data.clear()
  t.kv.calls.length = 0
})

test('the default limit leaves room above the 16 MiB value limit', () => {
  assert.is(DEFAULT_MAX_BODY_BYTES, 16 * 1024 * 1024 + 64 * 1024)
})

test('a body at the limit is accepted; one byte more is 413 ERR_BODY_TOO_LARGE and the service is not called', async () => {
  assert.is((await request(t, 'PUT', '/kv/at', { body: Buffer.alloc(LIMIT, 1) })).status, 204)
  assert.is(t.kv.calls[0]?.value?.length, LIMIT)
  const over = await request(t, 'PUT', '/kv/over', { body: Buffer.alloc(LIMIT + 1, 1) })
  assert.is(over.status, 413)
  assert.equal(over.json(), {
    error: { code: 'ERR_BODY_TOO_LARGE', message: `the request body (${LIMIT + 1} bytes) is larger than the limit of ${LIMIT} bytes`, details: { limit: LIMIT } },
  })
  assert.is(over.headers['connection'], 'close')
  assert.is(t.kv.calls.length, 1)
})

test('a huge declared Content-Length is refused at once, without waiting for the body, and the connection closed', async () => {
  const started = Date.now()
  const { text, closedByServer } = await rawRequest(t, 'PUT /kv/big HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\nsome bytes')
  const res = parseRaw(text)
  assert.is(res.status, 413)
  assert.is(res.headers['connection'], 'close')
  assert.is(JSON.parse(res.body).error.code, 'ERR_BODY_TOO_LARGE')
  assert.ok(closedByServer)
  assert.ok(Date.now() - started < 1500)
  assert.is(t.kv.calls.length, 0)
})

test('a chunked body is refused as soon as it passes the limit; the client is stopped long before it is done', async () => {
  const total = 64 * 1024 * 1024
  const outcome = await new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
    let written = 0
    const req = http.request({ host: t.host, port: t.port, method: 'PUT', path: '/kv/chunked', agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, written }))
      res.on('error', reject)
    })
    req.on('error', () => {}) // the server closes the connection while we are still writing
    const chunk = Buffer.alloc(64 * 1024, 7)
    const pump = (): void => {
      while (written < total && !req.destroyed) {
        written += chunk.length
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      if (!req.destroyed) req.end()
    }
    pump()
  })
  assert.is(outcome.status, 413)
  assert.is(JSON.parse(outcome.body).error.code, 'ERR_BODY_TOO_LARGE')
  assert.ok(outcome.written < total, `wrote ${outcome.written}`)
  assert.is(t.kv.calls.length, 0)
})

test('a large upload with a known length gets its 413 although the client keeps writing', async () => {
  const total = 32 * 1024 * 1024
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { host: t.host, port: t.port, method: 'PUT', path: '/kv/upload', agent: false, headers: { 'Content-Length': total } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      },
    )
    req.on('error', () => {})
    const chunk = Buffer.alloc(1024 * 1024)
    let n = 0
    const pump = (): void => {
      while (n < total / chunk.length && !req.destroyed) {
        n++
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      if (!req.destroyed) req.end()
    }
    pump()
  })
  assert.is(status, 413)
})

test('Expect: 100-continue: too large or invalid is answered without 100 Continue; acceptable gets 100 and then 204', async () => {
  const tooLarge = parseRaw(
    (await rawRequest(t, `PUT /kv/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`)).text,
  )
  assert.is(tooLarge.status, 413)
  const badQuery = await rawRequest(t, `PUT /kv/e?w=lots HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`)
  assert.not.match(badQuery.text, /100 Continue/)
  assert.is(parseRaw(badQuery.text).status, 400)
  assert.is(t.kv.calls.length, 0)

  const status = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
    let continued = false
    const req = http.request({
      host: t.host,
      port: t.port,
      method: 'PUT',
      path: '/kv/e',
      agent: false,
      headers: { Expect: '100-continue', 'Content-Length': 5 },
    })
    req.on('continue', () => {
      continued = true
      req.end('hello')
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve({ continued, status: res.statusCode ?? 0 }))
    })
    req.on('error', reject)
    req.flushHeaders()
  })
  assert.equal(status, { continued: true, status: 204 })
  assert.is(t.kv.calls[0]?.value?.toString(), 'hello')
})

test('an answer sent before the body was read closes the connection (the body is not drained)', async () => {
  const res = await request(t, 'PUT', '/kv/x?ttl=zero', { body: Buffer.alloc(900) })
  assert.is(res.status, 400)
  assert.is(res.headers['connection'], 'close')
  // A GET with a body is answered and closed as well; without a body the connection stays open.
  const raw = await rawRequest(t, 'GET /kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n', 300)
  assert.is(parseRaw(raw.text).status, 404)
  assert.is(parseRaw(raw.text).headers['connection'], 'close')
  assert.ok(raw.closedByServer)
  const keepAlive = await rawRequest(t, 'GET /kv/x HTTP/1.1\r\nHost: x\r\n\r\n', 300)
  assert.is(parseRaw(keepAlive.text).status, 404)
  assert.is(parseRaw(keepAlive.text).headers['connection'], 'keep-alive')
  assert.is(keepAlive.closedByServer, false)
})

test.run()
