// Clients that vanish at every stage of a request: the server answers the next request as if nothing happened.
import net from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request, startTestServer, type TestServer } from './helpers.ts'

const ROUNDS = 25
let t: TestServer
test.before(async () => {
  t = await startTestServer({ logLevel: 'warn' })
})
test.after(async () => {
  await t.close()
})
test.before.each(() => {
  t.kv.data.clear()
  t.kv.calls.length = 0
  t.kv.gate = undefined
  t.logs.length = 0
})

/** Opens a socket, writes `data`, then calls `then(socket)` (which ends it somehow); resolves on close. */
function vanish(data: string | Buffer, then: (socket: net.Socket) => void, afterMs = 0): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(t.port, t.host, () => {
      socket.write(data, () => setTimeout(() => then(socket), afterMs))
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve())
  })
}

const abort = (s: net.Socket): void => void s.destroy()
const reset = (s: net.Socket): void => void s.resetAndDestroy()

async function assertHealthy(): Promise<void> {
  const res = await request(t, 'GET', '/health')
  assert.is(res.status, 200)
  assert.equal(t.logs.filter((l) => l['level'] === 'error'), [])
}

test('disconnects while the service is working: the late answers go nowhere, quietly', async () => {
  let release!: () => void
  t.kv.gate = new Promise<void>((resolve) => (release = resolve))
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < ROUNDS; i++) {
    const how = i % 2 === 0 ? abort : reset
    pending.push(vanish(`GET /kv/k${i} HTTP/1.1\r\nHost: x\r\n\r\n`, how, 5))
    pending.push(vanish(`PUT /kv/k${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nv${i % 10}`, how, 5))
    pending.push(vanish(`GET /kv?limit=5 HTTP/1.1\r\nHost: x\r\n\r\n`, how, 5))
  }
  await Promise.all(pending)
  // Every request reached the service before its client left.
  while (t.kv.calls.length < ROUNDS * 3) await new Promise((r) => setTimeout(r, 5))
  t.kv.gate = undefined
  release()
  await new Promise((r) => setTimeout(r, 20))
  assert.is(t.kv.data.size, ROUNDS) // the writes themselves went through
  await assertHealthy()
})

test('disconnects in the middle of a request body: the service is never called', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    await vanish(`PUT /kv/half HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(10)}`, i % 2 === 0 ? abort : reset)
    await vanish(`PUT /kv/half HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`, i % 2 === 0 ? abort : reset)
  }
  assert.is(t.kv.calls.length, 0)
  await assertHealthy()
})

test('disconnects in the middle of the request line or headers', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    await vanish('GET /kv/', abort)
    await vanish('GET /kv/a HTTP/1.1\r\nHost: x\r\nX-Ringkv-Cont', reset)
    await vanish('PU', abort)
  }
  assert.is(t.kv.calls.length, 0)
  await assertHealthy()
})

test('disconnects while a large answer is being written', async () => {
  const value = Buffer.alloc(8 * 1024 * 1024, 0x61)
  await t.kv.put(Buffer.from('big'), value)
  for (let i = 0; i < 10; i++) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(t.port, t.host, () => socket.write('GET /kv/big HTTP/1.1\r\nHost: x\r\n\r\n'))
      socket.once('data', () => (i % 2 === 0 ? socket.destroy() : socket.resetAndDestroy()))
      socket.on('error', () => {})
      socket.on('close', () => resolve())
    })
  }
  const res = await request(t, 'GET', '/kv/big')
  assert.is(res.status, 200)
  assert.is(res.body.length, value.length)
  await assertHealthy()
})

test('disconnects on a keep-alive connection between requests and after a pipelined burst', async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const burst = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5) + 'PUT /kv/p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz'
    await vanish(burst, i % 2 === 0 ? abort : reset, 1)
  }
  await assertHealthy()
})

test('close() after all that finishes promptly: no connection was leaked', async () => {
  const other = await startTestServer({ closeGraceMs: 10_000 })
  const before = Date.now()
  const sockets: net.Socket[] = []
  for (let i = 0; i < 5; i++) {
    const s = net.connect(other.port, other.host)
    s.on('error', () => {})
    sockets.push(s)
  }
  await Promise.all(sockets.map((s) => new Promise((r) => s.once('connect', r))))
  await other.close()
  assert.ok(Date.now() - before < 2000, 'idle connections were closed at once')
  for (const s of sockets) s.destroy()
})

test.run()
