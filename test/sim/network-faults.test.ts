// The simulator's network fails the way TCP does: partitions hold data and then deliver it or time the sender
// out; dials across a partition hang; one-way partitions lose the ACKs; 'reject' fails fast; a killed process's
// kernel closes its sockets while a machine that lost power goes silent and answers with RST once it is back.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../src/errors.ts'
import { ErrorCode } from '../../src/protocol/error-codes.ts'
import { handlerTable } from '../../src/net/rpc.ts'
import { StreamTransport } from '../../src/net/stream-transport.ts'
import type { Connection, Server } from '../../src/net/transport.ts'
import { VirtualClock } from '../../src/runtime/clock.ts'
import { SeededRandom } from '../../src/runtime/random.ts'
import { drive, watch } from './drive.ts'
import { SimNetwork } from './network.ts'

const ECHO = 16

interface Setup {
  clock: VirtualClock
  net: SimNetwork
  server: Server
  client: Connection
  closes: { side: string; code: string | undefined; at: number }[]
  trace: string[]
}

async function setup(options: { abortAfterMs?: number; seed?: number } = {}): Promise<Setup> {
  const clock = new VirtualClock({ startMs: 1_000_000 })
  const trace: string[] = []
  const net = new SimNetwork({
    clock,
    random: new SeededRandom(options.seed ?? 1),
    link: { baseMs: 1, jitterMs: 1 },
    abortAfterMs: options.abortAfterMs ?? 10_000,
    onTrace: (e) => trace.push(e),
  })
  const closes: Setup['closes'] = []
  const server = await drive(clock, new StreamTransport(net.host('b'), { clock }).listen({ address: 'b:1', nodeId: 'b', handlers: handlerTable([[ECHO, (p) => p]]) }))
  server.on('connection', (c) => c.on('close', (e) => closes.push({ side: 'b', code: e?.code, at: clock.now() })))
  const client = await drive(clock, new StreamTransport(net.host('a'), { clock }).connect('b:1', { nodeId: 'a', requestTimeoutMs: 1000 }))
  client.on('close', (e) => closes.push({ side: 'a', code: e?.code, at: clock.now() }))
  return { clock, net, server, client, closes, trace }
}

const echo = (c: Connection, text: string, timeoutMs = 1000) => c.request(ECHO, Buffer.from(text), { timeoutMs })

test('a partition holds the bytes; healed before the sender gives up, they arrive and the connection lives on', async () => {
  const { clock, net, client, closes } = await setup()
  assert.is((await drive(clock, echo(client, 'before'))).toString(), 'before')
  net.partition(['a'], ['b'])
  const lost = watch(clock, echo(client, 'during'))
  await clock.advance(1500)
  assert.ok(isRingkvError(lost.error, ErrorCode.TIMEOUT), 'a request across the partition times out')
  await clock.advance(3000)
  net.heal()
  // The next retransmission after the heal gets through: within twice the time the data was held.
  assert.is((await drive(clock, echo(client, 'after', 10_000), { maxMs: 10_000 })).toString(), 'after')
  assert.is(client.stats.lateResponses, 1, 'the held request was answered late')
  assert.ok(client.isOpen)
  assert.equal(closes, [])
})

test('a partition outlasting abortAfterMs times the sender out; the other side hears the RST after the heal', async () => {
  const { clock, net, client, closes } = await setup({ abortAfterMs: 5000 })
  net.partition(['a'], ['b'])
  void echo(client, 'x').catch(() => {})
  await clock.advance(5100)
  assert.equal(closes.map((c) => c.side), ['a'], 'the sender gave up')
  assert.ok(!client.isOpen)
  await clock.advance(20_000)
  assert.is(closes.length, 1, 'the RST cannot cross the partition')
  net.heal()
  await clock.advance(100)
  assert.equal(closes.map((c) => c.side), ['a', 'b'])
  assert.is(net.stats.aborts, 1)
})

test('a dial across a partition hangs (no refusal); it completes if the partition heals in time', async () => {
  const { clock, net } = await setup()
  net.partition(['c'], ['b'])
  const transport = new StreamTransport(net.host('c'), { clock })
  const hung = watch(clock, transport.connect('b:1', { nodeId: 'c', helloTimeoutMs: 4000 }))
  await clock.advance(3999)
  assert.not.ok(hung.settled, 'nothing answers a SYN that is dropped')
  await clock.advance(2)
  assert.ok(isRingkvError(hung.error, ErrorCode.TIMEOUT), String(hung.error))
  const late = watch(clock, transport.connect('b:1', { nodeId: 'c', helloTimeoutMs: 10_000 }))
  await clock.advance(2000)
  net.heal()
  await clock.advance(3000)
  assert.ok(late.value?.isOpen, 'the SYN retransmitted after the heal (at 3 s) got through')
  await drive(clock, late.value!.close())
})

test('one-way partition: requests one way are lost, answers the other way are lost, and both senders time out', async () => {
  const { clock, net, client, server, closes } = await setup({ abortAfterMs: 5000 })
  net.partition(['b'], ['a'], { oneWay: true })
  const fromA = watch(clock, echo(client, 'a asks'))
  const serverSide = [...server.connections][0]!
  const fromB = watch(clock, serverSide.request(ECHO, Buffer.from('b asks'), { timeoutMs: 1000 }))
  await clock.advance(1100)
  assert.ok(isRingkvError(fromA.error, ErrorCode.TIMEOUT), 'a -> b arrives, but the answer b -> a is lost')
  assert.ok(isRingkvError(fromB.error, ErrorCode.TIMEOUT), 'b -> a is lost')
  await clock.advance(5000)
  // b's data is held (b times out); a's data reached b but b's ACKs cannot come back (a times out too).
  assert.equal(closes.map((c) => c.side).sort(), ['a', 'b'])
  assert.ok(closes.every((c) => c.code === ErrorCode.CONNECTION_CLOSED), JSON.stringify(closes))
})

test("a 'reject' block fails dials and the next write at once", async () => {
  const { clock, net, client, closes } = await setup()
  net.partition(['a'], ['b'], { mode: 'reject' })
  const write = watch(clock, echo(client, 'x'))
  await clock.advance(10)
  assert.ok(isRingkvError(write.error, ErrorCode.CONNECTION_CLOSED), String(write.error))
  assert.equal(closes.map((c) => c.side), ['a'])
  const dial = watch(clock, new StreamTransport(net.host('a'), { clock }).connect('b:1', { nodeId: 'a2' }))
  await clock.advance(10)
  assert.ok(isRingkvError(dial.error, ErrorCode.CONNECT_FAILED), String(dial.error))
})

test('kill -9: peers see the connection close at once and dials are refused; the dead process hears nothing', async () => {
  const { clock, net, client, closes } = await setup()
  const pending = watch(clock, echo(client, 'x', 5000))
  net.crashProcess('b')
  await clock.advance(20)
  assert.ok(isRingkvError(pending.error, ErrorCode.CONNECTION_CLOSED), String(pending.error))
  assert.equal(closes.map((c) => c.side), ['a'], 'the server side of the connection got no event')
  const dial = watch(clock, new StreamTransport(net.host('a'), { clock }).connect('b:1', { nodeId: 'a2' }))
  await clock.advance(20)
  assert.ok(isRingkvError(dial.error, ErrorCode.CONNECT_FAILED), String(dial.error))
  assert.match((dial.error as Error).message, 'nothing listens')
})

test('power cut: silence (dials hang, requests time out); after the restart the old connection is reset', async () => {
  const { clock, net, client, closes } = await setup({ abortAfterMs: 60_000 })
  net.crashMachine('b')
  const pending = watch(clock, echo(client, 'x'))
  const dial = watch(clock, new StreamTransport(net.host('a'), { clock }).connect('b:1', { nodeId: 'a2', helloTimeoutMs: 3000 }))
  await clock.advance(3100)
  assert.ok(isRingkvError(pending.error, ErrorCode.TIMEOUT))
  assert.ok(isRingkvError(dial.error, ErrorCode.TIMEOUT), 'a dial to a dead machine hangs until the deadline')
  assert.equal(closes, [], 'nobody told a anything')
  net.restartMachine('b')
  // a's held request is retransmitted; the rebooted kernel knows no such connection and answers RST.
  await clock.advance(10_000)
  assert.equal(closes.map((c) => c.side), ['a'])
  assert.ok(!client.isOpen)
})

test('reset: both ends see the connection reset', async () => {
  const { clock, net, closes } = await setup()
  assert.is(net.reset(1), 1)
  await clock.advance(20)
  assert.equal(closes.map((c) => c.side).sort(), ['a', 'b'])
  assert.is(net.reset(1), 0, 'nothing left to reset')
})

test('jitter reorders across connections, never within one; the same seed gives the same trace', async () => {
  const run = async (seed: number) => {
    const clock = new VirtualClock({ startMs: 0 })
    const trace: string[] = []
    const net = new SimNetwork({ clock, random: new SeededRandom(seed), link: { baseMs: 1, jitterMs: 5 }, onTrace: (e) => trace.push(e) })
    const order: string[] = []
    const handlers = handlerTable([[ECHO, (p) => {
      order.push(p.toString())
      return p
    }]])
    await drive(clock, new StreamTransport(net.host('s'), { clock }).listen({ address: 's:1', nodeId: 's', handlers }))
    const conns = await drive(clock, Promise.all(['x', 'y'].map((h) => new StreamTransport(net.host(h), { clock }).connect('s:1', { nodeId: h }))))
    const sends: Promise<unknown>[] = []
    for (let i = 0; i < 20; i++) {
      for (const [j, c] of conns.entries()) sends.push(c.request(ECHO, Buffer.from(`${j}:${i}`)))
      await clock.advance(1)
    }
    await drive(clock, Promise.all(sends))
    return { order, trace }
  }
  const a = await run(3)
  for (const j of [0, 1]) {
    const mine = a.order.filter((m) => m.startsWith(`${j}:`)).map((m) => Number(m.split(':')[1]))
    assert.equal(mine, [...mine].sort((x, y) => x - y), 'one connection keeps its order')
  }
  const interleavings = a.order.map((m) => m[0]).join('')
  assert.not.equal(interleavings, '01'.repeat(20), 'messages of the two connections were reordered')
  const b = await run(3)
  assert.equal(b.trace, a.trace)
  const c = await run(4)
  assert.not.equal(c.trace, a.trace)
})

test.run()
