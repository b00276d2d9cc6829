/**
 * The transport contract: one suite, run against every Transport (tcp.test.ts, memory.test.ts).
 *
 * Each test opens what it needs and closes it in `finally`; each is bounded by a real-time deadline, and every
 * loop by a count. Waiting is done on the environment's clock, so on the memory network (a VirtualClock that
 * jumps to the next timer) a 50 ms timeout costs no real time.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RingkvError, isRingkvError } from '../../src/errors.ts'
import { FrameKind, encodeFrame } from '../../src/protocol/frame.ts'
import { ErrorCode } from '../../src/protocol/error-codes.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { type Clock, sleep } from '../../src/runtime/clock.ts'
import { SeededRandom } from '../../src/runtime/random.ts'
import { type FlushMode, handlerTable } from '../../src/net/rpc.ts'
import { ConnectionPool } from '../../src/net/pool.ts'
import type { StreamFactory } from '../../src/net/stream.ts'
import type { ConnectOptions, Connection, Handler, ListenOptions, Server, Transport } from '../../src/net/transport.ts'
import { RawPeer } from './raw-peer.ts'

export interface ContractEnv {
  /** A fresh transport (its own flusher) for each call. */
  transport(flush?: FlushMode): Transport
  /** Raw byte streams of the same kind, to send arbitrary bytes. */
  streams: StreamFactory
  /** An address to listen on that picks a fresh free address ('127.0.0.1:0', 'mem:0'). */
  listenAddress: string
  clock: Clock
}

const ECHO = 16
const NEVER = 17
const DELAYED_ECHO = 18
const FAIL = 19
const RECORD = 20
const BIG = 21
const CALL_BACK = 22

/** Real-time bound on every test: a hang fails the test instead of the whole run. */
const TEST_DEADLINE_MS = 30_000

export function transportContract(name: string, env: ContractEnv): void {
  const test = suite(`transport contract: ${name}`)
  const it = (title: string, body: () => Promise<void>) =>
    test(title, async () => {
      const started = performance.now()
      await withDeadline(body(), TEST_DEADLINE_MS, title)
      if (process.env['CONTRACT_TIMING']) console.log(`${name}: ${title}: ${Math.round(performance.now() - started)} ms`)
    })

  const opened: { close(): Promise<void> }[] = []
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    opened.push(x)
    return x
  }
  test.after.each(async () => {
    await Promise.all(opened.splice(0).map((x) => x.close()))
  })

  const received: number[] = []
  const handlers = (extra: [number, Handler][] = []) =>
    handlerTable([
      [ECHO, (payload) => payload],
      [NEVER, () => new Promise<Uint8Array>(() => {})],
      [DELAYED_ECHO, async (payload) => {
        await sleep(env.clock, payload.readUInt32BE(0))
        return payload
      }],
      [FAIL, (payload) => {
        const how = payload.toString()
        if (how === 'coded') throw new RingkvError('ERR_NOT_FOUND', 'no such key', { details: { key: 'k' } })
        if (how === 'plain') throw new Error('kaboom')
        if (how === 'async') return Promise.reject(new RingkvError('ERR_ASYNC', 'later'))
        return 'not bytes' as unknown as Uint8Array
      }],
      [RECORD, (payload) => {
        received.push(payload.readUInt32BE(0))
        return Buffer.alloc(0)
      }],
      [BIG, (payload) => {
        // Bounded: the bombardment mutates this size, and a 4 GiB fill would stall the test.
        const size = payload.readUInt32BE(0)
        if (size > 4 * 1024 * 1024) throw new RingkvError('ERR_TOO_BIG', `refusing to build ${size} bytes`)
        return Buffer.alloc(size, 7)
      }],
      ...extra,
    ])

  const listen = async (options: Partial<ListenOptions> = {}, transport = env.transport()): Promise<Server> =>
    track(await transport.listen({ address: env.listenAddress, nodeId: 'server', handlers: handlers(), ...options }))
  const connect = async (server: Server, options: Partial<ConnectOptions> = {}, transport = env.transport()) =>
    track(await transport.connect(server.address, { nodeId: 'client', ...options }))
  const serverSide = async (server: Server, clientCount = 1): Promise<Connection> => {
    for (let i = 0; i < 1000 && server.connections.size < clientCount; i++) await sleep(env.clock, 1)
    return [...server.connections].at(-1) as Connection
  }
  const rawPeer = async (address: string): Promise<RawPeer> => {
    const peer = new RawPeer(await env.streams.dial(address), env.clock)
    track({ close: async () => peer.destroy() })
    return peer
  }
  const u32 = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }
  const rejectsWith = async (promise: Promise<unknown>, code: string): Promise<RingkvError> => {
    try {
      await promise
    } catch (error) {
      assert.ok(isRingkvError(error, code), `expected ${code}, got ${String(error)}`)
      return error as RingkvError
    }
    assert.unreachable(`expected a rejection with ${code}`)
    throw new Error('unreachable')
  }

  // --- handshake and framing ---------------------------------------------------------------------------

  it('HELLO: both sides learn node ids and the version; the server announces the connection', async () => {
    const server = await listen()
    const announced: Connection[] = []
    server.on('connection', (c) => announced.push(c))
    const client = await connect(server)
    assert.is(client.remoteNodeId, 'server')
    assert.is(client.localNodeId, 'client')
    assert.is(client.protocolVersion, 1)
    assert.ok(client.isOpen)
    const peer = await serverSide(server)
    assert.is(announced.length, 1)
    assert.is(peer.remoteNodeId, 'client')
    assert.is(peer.protocolVersion, 1)
  })

  it('PING is answered by the connection layer with its payload', async () => {
    const server = await listen()
    const client = await connect(server)
    assert.is((await client.request(MessageType.PING, Buffer.from('ping!'))).toString(), 'ping!')
  })

  it('framing: payloads of every size class arrive intact, Uint8Array views included', async () => {
    const server = await listen()
    const client = await connect(server)
    const random = new SeededRandom(1)
    const sizes = [0, 1, 11, 12, 13, 1000, 65_535, 65_536, 65_537, 1024 * 1024, 3 * 1024 * 1024 + 5]
    const payloads = sizes.map((n) => random.fill(Buffer.allocUnsafe(n)))
    const echoed = await Promise.all(payloads.map((p) => client.request(ECHO, p)))
    sizes.forEach((n, i) => assert.ok(echoed[i]?.equals(payloads[i] as Buffer), `size ${n}`))
    const backing = random.fill(new Uint8Array(200_000))
    for (const view of [backing.subarray(3, 103), backing.subarray(5, 100_005)]) {
      assert.ok((await client.request(ECHO, view)).equals(view))
    }
  })

  it('pipelining: 2000 concurrent requests, answered out of order, each get their own response', async () => {
    const server = await listen()
    const client = await connect(server)
    const random = new SeededRandom(2)
    const order: number[] = []
    const requests = Array.from({ length: 2000 }, (_, i) => {
      const payload = Buffer.alloc(8)
      payload.writeUInt32BE(random.int(20), 0) // delay, ms
      payload.writeUInt32BE(i, 4)
      return client.request(DELAYED_ECHO, payload).then((response) => {
        order.push(i)
        return response.readUInt32BE(4)
      })
    })
    assert.is(client.pendingRequests, 2000)
    const answers = await Promise.all(requests)
    answers.forEach((answer, i) => assert.is(answer, i))
    assert.ok(order.some((v, i) => v !== i), 'responses should complete out of order')
    assert.is(client.pendingRequests, 0)
  })

  it('order: one-way messages and requests are handled in the order they were sent', async () => {
    received.length = 0
    const server = await listen()
    const client = await connect(server)
    for (let i = 0; i < 1000; i++) {
      if (i % 10 === 0) await client.request(RECORD, u32(i))
      else client.send(RECORD, u32(i))
      if (i % 97 === 0) await sleep(env.clock, 0)
    }
    await client.request(ECHO, Buffer.alloc(0)) // everything sent before it has been handled
    assert.equal(received, Array.from({ length: 1000 }, (_, i) => i))
  })

  it('coalescing: 100 requests issued in one turn leave in one write; flush "off" writes each', async () => {
    for (const flush of ['turn', 'microtask', 'off'] as const) {
      const server = await listen({}, env.transport(flush))
      const client = await connect(server, {}, env.transport(flush))
      const peer = await serverSide(server)
      const clientWrites = client.stats.writes
      const serverWrites = peer.stats.writes
      await Promise.all(Array.from({ length: 100 }, (_, i) => client.request(ECHO, u32(i))))
      const clientDelta = client.stats.writes - clientWrites
      const serverDelta = peer.stats.writes - serverWrites
      if (flush === 'off') {
        assert.is(clientDelta, 100, 'client writes, flush off')
        assert.is(serverDelta, 100, 'server writes, flush off')
      } else {
        assert.is(clientDelta, 1, `client writes, flush ${flush}`)
        assert.ok(serverDelta >= 1 && serverDelta <= 3, `server writes ${serverDelta}, flush ${flush}`)
      }
      assert.is(client.stats.framesSent - 1, peer.stats.framesReceived - 1) // minus HELLO
      await client.close()
      await server.close()
    }
  })

  it('server-to-client requests on the same connection (bidirectional)', async () => {
    const server = await listen({
      handlers: handlers([[CALL_BACK, async (payload, ctx) => {
        const answer = await ctx.connection.request(ECHO, Buffer.concat([Buffer.from('back:'), payload]))
        return Buffer.concat([Buffer.from('via '), answer])
      }]]),
    })
    const client = await connect(server, { handlers: handlerTable([[ECHO, (p) => p]]) })
    assert.is((await client.request(CALL_BACK, Buffer.from('x'))).toString(), 'via back:x')
  })

  // --- errors that keep the connection open ------------------------------------------------------------

  it('a request for a message type without handler gets ERR_UNKNOWN_MESSAGE; the connection stays open', async () => {
    const server = await listen()
    const client = await connect(server)
    await rejectsWith(client.request(999, Buffer.alloc(0)), ErrorCode.UNKNOWN_MESSAGE)
    client.send(998, Buffer.alloc(1)) // one-way without handler: dropped silently
    assert.ok(client.isOpen)
    assert.is((await client.request(ECHO, Buffer.from('still here'))).toString(), 'still here')
  })

  it('handler failures become error-responses carrying the remote code and message', async () => {
    const server = await listen()
    const client = await connect(server)
    const coded = await rejectsWith(client.request(FAIL, Buffer.from('coded')), 'ERR_NOT_FOUND')
    assert.is(coded.message, 'no such key')
    assert.is(coded.details?.['remote'], true)
    await rejectsWith(client.request(FAIL, Buffer.from('plain')), ErrorCode.INTERNAL)
    await rejectsWith(client.request(FAIL, Buffer.from('async')), 'ERR_ASYNC')
    await rejectsWith(client.request(FAIL, Buffer.from('garbage')), ErrorCode.INTERNAL)
    assert.ok(client.isOpen)
  })

  it('request timeout: ERR_TIMEOUT at the deadline, id forgotten, late answer dropped, connection usable', async () => {
    const server = await listen()
    const client = await connect(server)
    const started = env.clock.monotonic()
    const error = await rejectsWith(client.request(NEVER, Buffer.alloc(0), { timeoutMs: 50 }), ErrorCode.TIMEOUT)
    const elapsed = env.clock.monotonic() - started
    assert.ok(elapsed >= 49 && elapsed < 2000, `timed out after ${elapsed} ms`)
    assert.is(error.details?.['timeoutMs'], 50)
    assert.is(client.pendingRequests, 0)
    await rejectsWith(client.request(DELAYED_ECHO, u32(100), { timeoutMs: 20 }), ErrorCode.TIMEOUT)
    await sleep(env.clock, 200)
    assert.is(client.stats.lateResponses, 1)
    assert.is((await client.request(ECHO, Buffer.from('ok'))).toString(), 'ok')
    assert.throws(() => client.request(ECHO, Buffer.alloc(0), { timeoutMs: -1 }), /timeoutMs must be/)
  })

  it('frames above the negotiated maximum are refused before sending, both ways; connection stays open', async () => {
    const server = await listen({ maxFrameBytes: 64 * 1024 })
    const client = await connect(server, { maxFrameBytes: 1024 * 1024 })
    await rejectsWith(client.request(ECHO, Buffer.alloc(64 * 1024)), ErrorCode.FRAME_TOO_LARGE)
    assert.throws(() => client.send(ECHO, Buffer.alloc(100_000)), (e: unknown) => isRingkvError(e, ErrorCode.FRAME_TOO_LARGE))
    await rejectsWith(client.request(BIG, u32(100_000)), ErrorCode.FRAME_TOO_LARGE)
    assert.is((await client.request(BIG, u32(1000))).length, 1000)
    assert.ok(client.isOpen)
  })

  // --- closing -------------------------------------------------------------------------------------------

  it('peer close (graceful) fails pending requests with ERR_CONNECTION_CLOSED and emits close', async () => {
    const server = await listen()
    const client = await connect(server)
    const closeEvents: (RingkvError | undefined)[] = []
    client.on('close', (e) => closeEvents.push(e))
    const pending = Array.from({ length: 10 }, () => rejectsWith(client.request(NEVER, Buffer.alloc(0)), ErrorCode.CONNECTION_CLOSED))
    await client.request(ECHO, Buffer.alloc(0)) // the NEVER requests have reached the server
    await server.close()
    await Promise.all(pending)
    for (let i = 0; i < 1000 && closeEvents.length === 0; i++) await sleep(env.clock, 1)
    assert.equal(closeEvents, [undefined])
    assert.not.ok(client.isOpen)
    await rejectsWith(client.request(ECHO, Buffer.alloc(0)), ErrorCode.CONNECTION_CLOSED)
    assert.throws(() => client.send(ECHO, Buffer.alloc(0)), (e: unknown) => isRingkvError(e, ErrorCode.CONNECTION_CLOSED))
    await rejectsWith(env.transport().connect(server.address, { nodeId: 'late' }), ErrorCode.CONNECT_FAILED)
  })

  it('peer reset (destroy) fails pending requests with ERR_CONNECTION_CLOSED', async () => {
    const server = await listen()
    const client = await connect(server)
    const pending = rejectsWith(client.request(NEVER, Buffer.alloc(0)), ErrorCode.CONNECTION_CLOSED)
    await client.request(ECHO, Buffer.alloc(0))
    ;(await serverSide(server)).destroy()
    await pending
    for (let i = 0; i < 1000 && server.connections.size > 0; i++) await sleep(env.clock, 1)
    assert.is(server.connections.size, 0)
  })

  it('local close fails our pending requests, closes the server side, and is idempotent', async () => {
    const server = await listen()
    const client = await connect(server)
    const peer = await serverSide(server)
    const peerClosed = new Promise((resolve) => peer.once('close', resolve))
    const pending = rejectsWith(client.request(NEVER, Buffer.alloc(0)), ErrorCode.CONNECTION_CLOSED)
    await Promise.all([client.close(), client.close()])
    await pending
    assert.is(await peerClosed, undefined)
    assert.is(server.connections.size, 0)
    client.destroy() // no-op once closed
  })

  it('connecting to an address nobody listens on fails with ERR_CONNECT_FAILED', async () => {
    const server = await listen()
    const address = server.address
    await server.close()
    await rejectsWith(env.transport().connect(address, { nodeId: 'c' }), ErrorCode.CONNECT_FAILED)
  })

  // --- malformed input: only the offending connection is closed ----------------------------------------

  const header = (length: number, version = 1, kind = 1, type = ECHO, id = 5) => {
    const b = Buffer.alloc(12)
    b.writeUInt32BE(length, 0)
    b[4] = version
    b[5] = kind
    b.writeUInt16BE(type, 6)
    b.writeUInt32BE(id, 8)
    return b
  }
  const malformed: [string, Buffer, string][] = [
    ['an oversized length', header(64 * 1024 * 1024), ErrorCode.FRAME_TOO_LARGE],
    ['a length shorter than the header', header(3), ErrorCode.BAD_FRAME],
    ['an unknown version', header(8, 9), ErrorCode.UNSUPPORTED_VERSION],
    ['an unknown kind', header(8, 1, 7), ErrorCode.BAD_FRAME],
    ['message type 0', header(8, 1, 1, 0), ErrorCode.BAD_FRAME],
    ['a request with id 0', header(8, 1, 1, ECHO, 0), ErrorCode.BAD_FRAME],
    ['a second HELLO', header(8, 1, 1, MessageType.HELLO), ErrorCode.BAD_FRAME],
    ['a malformed error-response', header(9, 1, FrameKind.ERROR_RESPONSE, ECHO, 1), ErrorCode.BAD_FRAME],
  ]
  for (const [what, bytes, code] of malformed) {
    it(`${what} gets an ERROR frame ${code} and closes that connection only`, async () => {
      const server = await listen({ maxFrameBytes: 1024 * 1024 })
      const good = await connect(server)
      const raw = await rawPeer(server.address)
      await raw.handshake()
      raw.write(Buffer.concat([bytes, Buffer.alloc(1)]))
      await raw.waitClosed()
      assert.is(raw.errorCode(), code)
      assert.is(raw.decodeError, undefined)
      assert.is((await good.request(ECHO, Buffer.from('fine'))).toString(), 'fine')
      assert.is(server.connections.size, 1)
    })
  }

  it('a first frame that is not HELLO is ERR_BAD_FRAME', async () => {
    const server = await listen()
    const raw = await rawPeer(server.address)
    raw.request(ECHO, 1, Buffer.from('hi'))
    await raw.waitClosed()
    assert.is(raw.errorCode(), ErrorCode.BAD_FRAME)
  })

  it('HELLO with no common version gets ERR_UNSUPPORTED_VERSION and the connection closes', async () => {
    const server = await listen()
    const raw = await rawPeer(server.address)
    raw.sendHello({ min: 2, max: 3 })
    await raw.waitClosed()
    assert.equal(raw.errorResponses(), [{ requestId: 1, code: ErrorCode.UNSUPPORTED_VERSION }])
  })

  it('a frame in a version other than the negotiated one is ERR_UNSUPPORTED_VERSION', async () => {
    const server = await listen()
    const raw = await rawPeer(server.address)
    await raw.handshake()
    raw.write(header(8, 2, 1, ECHO, 1))
    await raw.waitClosed()
    // version 2 is beyond what this build decodes: refused by the decoder or by negotiation, same code
    assert.is(raw.errorCode(), ErrorCode.UNSUPPORTED_VERSION)
  })

  it('a client that never says HELLO is dropped after helloTimeoutMs with ERR_TIMEOUT', async () => {
    const server = await listen({ helloTimeoutMs: 100 })
    const raw = await rawPeer(server.address)
    await raw.waitClosed()
    assert.is(raw.errorCode(), ErrorCode.TIMEOUT)
  })

  it('client side: a server that never answers HELLO fails connect with ERR_TIMEOUT', async () => {
    const accepted: RawPeer[] = []
    const listener = track(await env.streams.listen(env.listenAddress, (s) => accepted.push(new RawPeer(s, env.clock))))
    track({ close: async () => accepted.forEach((p) => p.destroy()) })
    await rejectsWith(env.transport().connect(listener.address, { nodeId: 'c', helloTimeoutMs: 100 }), ErrorCode.TIMEOUT)
  })

  it('client side: a server choosing a version we did not offer fails connect with ERR_UNSUPPORTED_VERSION', async () => {
    const accepted: RawPeer[] = []
    const listener = track(await env.streams.listen(env.listenAddress, (s) => {
      const peer = new RawPeer(s, env.clock)
      accepted.push(peer)
      void peer.answerHello(7)
    }))
    track({ close: async () => accepted.forEach((p) => p.destroy()) })
    await rejectsWith(env.transport().connect(listener.address, { nodeId: 'c' }), ErrorCode.UNSUPPORTED_VERSION)
    await accepted[0]?.waitClosed()
    assert.is(accepted[0]?.errorCode(), ErrorCode.UNSUPPORTED_VERSION)
  })

  it('client side: garbage from the server closes the client connection with an ERROR frame back', async () => {
    const accepted: RawPeer[] = []
    const listener = track(await env.streams.listen(env.listenAddress, (s) => {
      const peer = new RawPeer(s, env.clock)
      accepted.push(peer)
      void peer.answerHello(1)
    }))
    track({ close: async () => accepted.forEach((p) => p.destroy()) })
    const client = await env.transport().connect(listener.address, { nodeId: 'c' })
    track(client)
    const closed = new Promise<RingkvError | undefined>((resolve) => client.once('close', resolve))
    const pending = rejectsWith(client.request(ECHO, Buffer.alloc(0)), ErrorCode.CONNECTION_CLOSED)
    accepted[0]?.write(header(8, 1, 9))
    const error = await pending
    assert.is(error.details?.['reasonCode'], ErrorCode.BAD_FRAME)
    assert.is((await closed)?.code, ErrorCode.BAD_FRAME)
    await accepted[0]?.waitFor(() => accepted[0]?.errorCode() !== undefined)
    assert.is(accepted[0]?.errorCode(), ErrorCode.BAD_FRAME)
  })

  it('200 connections sending random and mutated frames do not disturb a well-behaved client', async () => {
    const server = await listen({ maxFrameBytes: 1024 * 1024, helloTimeoutMs: 500, closeGraceMs: 500 })
    const good = await connect(server)
    const random = new SeededRandom(3)
    let goodRequests = 0
    let attacking = true
    const goodLoop = (async () => {
      for (let i = 0; attacking && i < 100_000; i++) {
        const payload = random.fill(Buffer.alloc(random.int(100)))
        assert.ok((await good.request(ECHO, payload)).equals(payload))
        goodRequests++
        if (i % 10 === 0) await sleep(env.clock, 1)
      }
    })()
    const valid = (): Buffer[] => [
      encodeFrame({ version: 1, kind: FrameKind.REQUEST, type: ECHO, requestId: 2, payload: Buffer.from('x') }),
      encodeFrame({ version: 1, kind: FrameKind.ONE_WAY, type: RECORD, requestId: 0, payload: u32(1) }),
      encodeFrame({ version: 1, kind: FrameKind.REQUEST, type: BIG, requestId: 3, payload: u32(10) }),
    ]
    const attack = async (n: number) => {
      const raw = new RawPeer(await env.streams.dial(server.address), env.clock)
      try {
        const kind = n % 4
        if (kind !== 0) raw.sendHello()
        let bytes: Buffer
        if (kind <= 1) {
          bytes = random.fill(Buffer.alloc(1 + random.int(200)))
        } else {
          bytes = Buffer.concat(valid())
          for (let m = 0; m < 1 + random.int(4); m++) {
            const at = random.int(bytes.length)
            bytes[at] = (bytes[at] ?? 0) ^ (1 + random.int(255))
          }
        }
        if (kind === 3) for (let i = 0; i < bytes.length; i += 7) raw.write(bytes.subarray(i, i + 7))
        else raw.write(bytes)
        raw.end()
        await raw.waitClosed(10_000)
      } finally {
        raw.destroy()
      }
    }
    goodLoop.catch(() => {}) // awaited below; never an unhandled rejection if an attack fails first
    try {
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => attack(batch * 10 + i)))
      }
    } finally {
      attacking = false
    }
    await goodLoop
    assert.ok(goodRequests > 0)
    assert.is((await good.request(ECHO, Buffer.from('after'))).toString(), 'after')
    for (let i = 0; i < 1000 && server.connections.size > 1; i++) await sleep(env.clock, 1)
    assert.is(server.connections.size, 1, 'only the good connection is left')
  })

  // --- backpressure ------------------------------------------------------------------------------------

  it('backpressure: a peer that stops reading makes requests fail with ERR_OVERLOADED; drain recovers', async () => {
    let rawServer: RawPeer | undefined
    const listener = track(await env.streams.listen(env.listenAddress, (s) => {
      rawServer = new RawPeer(s, env.clock)
      void rawServer.answerHello(1)
    }))
    track({ close: async () => rawServer?.destroy() })
    const maxQueuedBytes = 2 * 1024 * 1024
    const client = track(await env.transport().connect(listener.address, {
      nodeId: 'c', maxFrameBytes: 1024 * 1024, maxQueuedBytes, requestTimeoutMs: 60_000,
    }))
    const server = rawServer as RawPeer
    server.pause()
    const payload = Buffer.alloc(256 * 1024, 1)
    const accepted: Promise<Buffer>[] = []
    let overloaded: RingkvError | undefined
    for (let i = 0; i < 2000 && overloaded === undefined; i++) {
      const request = client.request(ECHO, payload)
      request.catch(() => {})
      try {
        await Promise.race([request, sleep(env.clock, 0).then(() => undefined)])
        accepted.push(request)
      } catch (error) {
        overloaded = error as RingkvError
      }
      if (i % 4 === 3) await sleep(env.clock, 1)
    }
    assert.ok(isRingkvError(overloaded, ErrorCode.OVERLOADED), `expected ERR_OVERLOADED, got ${String(overloaded)}`)
    assert.ok(client.stats.queuedBytes <= maxQueuedBytes, `queued ${client.stats.queuedBytes}`)
    assert.ok(accepted.length > 0)
    // The server starts reading again and answers everything it receives.
    server.resume()
    let answered = 0
    const answer = () => {
      for (; answered < server.frames.length; answered++) {
        const f = server.frames[answered]
        if (f !== undefined && f.kind === FrameKind.REQUEST && f.type === ECHO) {
          server.write(encodeFrame({ version: 1, kind: FrameKind.RESPONSE, type: ECHO, requestId: f.requestId, payload: Buffer.alloc(0) }))
        }
      }
    }
    const responder = env.clock.setInterval(answer, 1)
    try {
      await Promise.all(accepted)
      assert.is((await client.request(ECHO, Buffer.from('after'), { timeoutMs: 10_000 })).length, 0)
    } finally {
      env.clock.clearInterval(responder)
    }
    assert.is(client.stats.queuedBytes, 0)
  })

  it('backpressure: a client that stops reading responses is slowed down; memory stays bounded', async () => {
    const maxQueuedBytes = 2 * 1024 * 1024
    const server = await listen({ maxFrameBytes: 1024 * 1024, maxQueuedBytes })
    const raw = await rawPeer(server.address)
    await raw.handshake()
    const peer = await serverSide(server)
    raw.pause()
    const request = Buffer.alloc(64 * 1024, 2)
    let sent = 0
    let blocked = false
    let maxQueued = 0
    const bound = maxQueuedBytes + 1024 * 1024
    for (let i = 0; i < 2000 && !blocked && maxQueued <= bound; i++) {
      const drains = raw.drains
      if (!raw.request(BIG, 10 + i, Buffer.concat([u32(256 * 1024), request]))) {
        // Backed up — for good (the server stopped reading), or only until it reads the next chunk?
        await raw.waitFor(() => raw.drains > drains, 100).catch(() => (blocked = peer.stats.readPauses > 0))
      }
      sent++
      await sleep(env.clock, 1)
      maxQueued = Math.max(maxQueued, peer.stats.queuedBytes)
    }
    assert.ok(blocked, 'the raw client saw its writes back up')
    assert.ok(peer.stats.readPauses >= 1, 'the server paused reading')
    assert.ok(maxQueued <= bound, `server queued up to ${maxQueued} bytes`)
    raw.resume()
    await raw.waitFor(() => raw.frames.filter((f) => f.type === BIG).length === sent, 20_000, `${sent} responses`)
    assert.ok(raw.frames.filter((f) => f.type === BIG).every((f) => f.kind === FrameKind.RESPONSE && f.payload.length === 256 * 1024))
  })

  // --- pool ------------------------------------------------------------------------------------------------

  it('pool: one connection per address, shared by concurrent callers, replaced after it closes', async () => {
    const server = await listen()
    const pool = track(new ConnectionPool(env.transport(), { nodeId: 'pooled' }))
    const closes: string[] = []
    pool.on('close', (address) => closes.push(address))
    const [a, b] = await Promise.all([pool.get(server.address), pool.get(server.address)])
    assert.ok(a === b)
    await serverSide(server)
    assert.is(server.connections.size, 1)
    assert.is(pool.size, 1)
    assert.is((await pool.request(server.address, ECHO, Buffer.from('p'))).toString(), 'p')
    await a?.close()
    assert.equal(closes, [server.address])
    const c = await pool.get(server.address)
    assert.ok(c !== a && c.isOpen)
    await pool.close()
    assert.not.ok(c.isOpen)
    await rejectsWith(pool.get(server.address), ErrorCode.CONNECTION_CLOSED)
  })

  it('pool: a failed connect to an address reached before is remembered for retryAfterMs, then dialled again', async () => {
    const never = await listen()
    const neverAddress = never.address
    await never.close()
    const pool = track(new ConnectionPool(env.transport(), { nodeId: 'pooled', helloTimeoutMs: 1000 }, { clock: env.clock, retryAfterMs: 200 }))
    const a = await rejectsWith(pool.get(neverAddress), ErrorCode.CONNECT_FAILED)
    const b = await rejectsWith(pool.get(neverAddress), ErrorCode.CONNECT_FAILED)
    assert.ok(a !== b, 'an address never reached is dialled every time (peers start in any order)')
    const server = await listen()
    const address = server.address
    const connection = await pool.get(address)
    await server.close()
    for (let i = 0; i < 100 && connection.isOpen; i++) await sleep(env.clock, 1)
    const first = await rejectsWith(pool.get(address), ErrorCode.CONNECT_FAILED)
    const again = await rejectsWith(pool.get(address), ErrorCode.CONNECT_FAILED)
    assert.ok(again === first, 'within retryAfterMs the same failure is returned without dialling')
    pool.forgetFailure(address)
    const forgotten = await rejectsWith(pool.get(address), ErrorCode.CONNECT_FAILED)
    assert.ok(forgotten !== first, 'a forgotten failure is dialled again at once (the peer is known to be back)')
    await sleep(env.clock, 250)
    const later = await rejectsWith(pool.get(address), ErrorCode.CONNECT_FAILED)
    assert.ok(later !== forgotten, 'after retryAfterMs it dials again')
    assert.throws(() => new ConnectionPool(env.transport(), { nodeId: 'x' }, { retryAfterMs: 5 }), /retryAfterMs needs a clock/)
    assert.throws(() => new ConnectionPool(env.transport(), { nodeId: 'x' }, { retryAfterMs: -1, clock: env.clock }), /retryAfterMs must be a non-negative/)
  })

  it('server close drains: requests being handled are answered, new ones refused with ERR_SHUTTING_DOWN', async () => {
    const server = await listen({ closeGraceMs: 5000 })
    const client = await connect(server)
    const slow = client.request(DELAYED_ECHO, u32(100))
    await sleep(env.clock, 10)
    const closing = server.close()
    await sleep(env.clock, 10)
    const refused = await rejectsWith(client.request(ECHO, Buffer.from('late')), ErrorCode.SHUTTING_DOWN)
    assert.match(refused.message, /shutting down/)
    assert.is((await slow).readUInt32BE(0), 100, 'the request in flight was answered before the close')
    await closing
    assert.not.ok(client.isOpen)
  })

  it('server close does not wait past closeGraceMs for a handler that never answers', async () => {
    const server = await listen({ closeGraceMs: 50 })
    const client = await connect(server)
    const never = rejectsWith(client.request(NEVER, Buffer.alloc(0), { timeoutMs: 60_000 }), ErrorCode.CONNECTION_CLOSED)
    await sleep(env.clock, 5)
    await server.close()
    await never
  })

  it('options are validated with messages that name the option', async () => {
    const transport = env.transport()
    const base = { address: env.listenAddress, nodeId: 'n', handlers: handlerTable([]) }
    for (const [options, message] of [
      [{ maxFrameBytes: 10 }, /maxFrameBytes must be an integer between 1024 and 1073741824/],
      [{ maxFrameBytes: 4096, maxQueuedBytes: 1024 }, /maxQueuedBytes must be an integer at least 4096/],
      [{ requestTimeoutMs: 0 }, /requestTimeoutMs must be a number of milliseconds/],
      [{ nodeId: '' }, /nodeId must be 1 to 255 bytes/],
    ] as const) {
      try {
        await transport.listen({ ...base, ...options })
        assert.unreachable(`accepted ${JSON.stringify(options)}`)
      } catch (error) {
        assert.instance(error, RangeError)
        assert.match((error as Error).message, message)
      }
    }
    assert.throws(() => handlerTable([[5, (p) => p]]), /message type must be an integer between 16 and 65535/)
    assert.throws(() => handlerTable([[16, (p) => p], [16, (p) => p]]), /message type 16 has two handlers/)
  })

  test.run()
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`'${what}' did not finish within ${ms} ms (real time)`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}
