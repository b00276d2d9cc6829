/**
 * The memory network on a manually driven VirtualClock: exact virtual timings, asynchronous delivery, no timer
 * left behind, and the same run twice gives the same history.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { handlerTable } from '../../../src/net/rpc.ts'
import { VirtualClock, sleep } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { isRingkvError } from '../../../src/errors.ts'
import { ErrorCode } from '../../../src/protocol/error-codes.ts'

const ECHO = 16
const SLOW = 17

/** Advance virtual time 1 ms at a time until `promise` settles (at most `maxMs`). */
async function drive<T>(clock: VirtualClock, promise: Promise<T>, maxMs = 10_000): Promise<T> {
  let settled = false
  const watched = promise.finally(() => (settled = true))
  watched.catch(() => {})
  await clock.advance(0)
  for (let i = 0; i < maxMs && !settled; i++) await clock.advance(1)
  if (!settled) throw new Error(`not settled after ${maxMs} virtual ms`)
  return watched
}

const setup = async (latencyMs: number, random = new SeededRandom(1)) => {
  const clock = new VirtualClock({ startMs: 1_000_000 })
  const network = new MemoryNetwork({ clock, latencyMs })
  const transport = network.transport()
  const server = await drive(clock, transport.listen({
    address: 'server',
    nodeId: 'server',
    handlers: handlerTable([
      [ECHO, (p) => p],
      [SLOW, async (p) => {
        await sleep(clock, random.int(50))
        return p
      }],
    ]),
  }))
  const client = await drive(clock, transport.connect('server', { nodeId: 'client' }))
  return { clock, network, server, client }
}

test('delivery is asynchronous: nothing arrives inside write, everything after one latency', async () => {
  const clock = new VirtualClock()
  const network = new MemoryNetwork({ clock, latencyMs: 5 })
  const received: string[] = []
  let acceptedAt = -1
  await network.listen('x', (stream) => {
    acceptedAt = clock.now()
    stream.attach({ data: (c) => void received.push(c.toString()), drain() {}, end() {}, close() {} })
  })
  const dialing = network.dial('x')
  assert.is(acceptedAt, -1, 'no synchronous accept')
  const stream = await drive(clock, dialing)
  assert.is(acceptedAt, 5)
  stream.attach({ data() {}, drain() {}, end() {}, close() {} })
  stream.write([Buffer.from('a'), Buffer.from('b')])
  assert.equal(received, [], 'no synchronous delivery')
  await clock.advance(4)
  assert.equal(received, [])
  await clock.advance(1)
  assert.equal(received, ['a', 'b'])
  stream.destroy()
  await clock.runUntilIdle()
})

test('a round trip takes exactly two latencies of virtual time', async () => {
  const { clock, server, client } = await setup(10)
  const started = clock.now()
  const answer = await drive(clock, client.request(ECHO, Buffer.from('hi')))
  assert.is(answer.toString(), 'hi')
  assert.is(clock.now() - started, 20)
  await drive(clock, Promise.all([client.close(), server.close()]))
})

test('a request timeout fires at exactly its deadline', async () => {
  const { clock, server, client } = await setup(10)
  const started = clock.now()
  // the server answers after up to 49 ms + 20 ms of latency; 5 ms is always too short
  const request = client.request(SLOW, Buffer.alloc(1), { timeoutMs: 5 })
  try {
    await drive(clock, request)
    assert.unreachable()
  } catch (error) {
    assert.ok(isRingkvError(error, ErrorCode.TIMEOUT))
  }
  assert.is(clock.now() - started, 5)
  await drive(clock, Promise.all([client.close(), server.close()]))
})

test('closing everything leaves no timer behind (all requests answered, or some still pending)', async () => {
  for (const leaveOnePending of [false, true]) {
    const { clock, server, client } = await setup(3)
    await drive(clock, Promise.all(Array.from({ length: 50 }, (_, i) => client.request(ECHO, Buffer.from([i])))))
    if (leaveOnePending) client.request(SLOW, Buffer.alloc(0), { timeoutMs: 60_000 }).catch(() => {})
    await drive(clock, Promise.all([client.close(), server.close()]))
    await clock.advance(0)
    assert.is(clock.pendingTimers, 0, `leaveOnePending=${leaveOnePending}`)
  }
})

test('the same seed gives the same history', async () => {
  const history = async (seed: number) => {
    const { clock, server, client } = await setup(2, new SeededRandom(seed))
    const log: string[] = []
    await drive(clock, Promise.all(Array.from({ length: 30 }, (_, i) =>
      client.request(SLOW, Buffer.from([i])).then((r) => void log.push(`${r[0]}@${clock.now()}`)))))
    await drive(clock, Promise.all([client.close(), server.close()]))
    return log
  }
  const a = await history(7)
  assert.equal(await history(7), a)
  assert.not.equal(await history(8), a)
})

test('network options are validated', () => {
  const clock = new VirtualClock()
  assert.throws(() => new MemoryNetwork({ clock, latencyMs: -1 }), /latencyMs must be a finite number >= 0/)
  assert.throws(() => new MemoryNetwork({ clock, highWaterMarkBytes: 0 }), /highWaterMarkBytes must be a positive integer/)
})

test.run()
