/**
 * Bad arguments are refused with ERR_INVALID_ARGUMENT naming the argument, before any I/O: connect options
 * before the first connection, call arguments before the request is sent.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ClientOptions, connect } from '../../../src/client/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { TestCluster, rejection, spyTransport } from './helpers.ts'

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })

function expectArgument(error: { message: string; details: Record<string, unknown> | undefined }, name: string): void {
  assert.is(error.details?.['argument'], name)
  assert.ok(error.message.startsWith(`${name} `), `"${error.message}" names ${name}`)
}

test('connect options are checked before any connection, each error naming its option', async () => {
  const transport = spyTransport(network.transport())
  const cases: [unknown, string][] = [
    [undefined, 'options'],
    [{}, 'seeds'],
    [{ seeds: [] }, 'seeds'],
    [{ seeds: '127.0.0.1:7001' }, 'seeds'],
    [{ seeds: [7001] }, 'seeds[0]'],
    [{ seeds: ['127.0.0.1:7001', 'localhost'] }, 'seeds[1]'],
    [{ seeds: ['127.0.0.1:0'] }, 'seeds[0]'],
    [{ seeds: ['127.0.0.1:7001'], timeoutMs: 0 }, 'timeoutMs'],
    [{ seeds: ['127.0.0.1:7001'], timeoutMs: 1.5 }, 'timeoutMs'],
    [{ seeds: ['127.0.0.1:7001'], timeoutMs: '100' }, 'timeoutMs'],
    [{ seeds: ['127.0.0.1:7001'], retries: -1 }, 'retries'],
    [{ seeds: ['127.0.0.1:7001'], retries: 11 }, 'retries'],
    [{ seeds: ['127.0.0.1:7001'], retryWrites: 'yes' }, 'retryWrites'],
    [{ seeds: ['127.0.0.1:7001'], tokenAware: 1 }, 'tokenAware'],
    [{ seeds: ['127.0.0.1:7001'], ringRefreshMs: -1 }, 'ringRefreshMs'],
    [{ seeds: ['127.0.0.1:7001'], backoffMs: Infinity }, 'backoffMs'],
    [{ seeds: ['127.0.0.1:7001'], connectTimeoutMs: 0 }, 'connectTimeoutMs'],
    [{ seeds: ['127.0.0.1:7001'], markDownMs: -5 }, 'markDownMs'],
    [{ seeds: ['127.0.0.1:7001'], clientId: '' }, 'clientId'],
    [{ seeds: ['127.0.0.1:7001'], clock: {} }, 'clock'],
    [{ seeds: ['127.0.0.1:7001'], random: Math }, 'random'],
    [{ seeds: ['127.0.0.1:7001'], logger: console.log }, 'logger'],
    [{ seeds: ['127.0.0.1:7001'], retry: 3 }, 'options.retry'],
    [{ seeds: ['mem:1'], transport, timeoutMs: -1 }, 'timeoutMs'],
  ]
  for (const [options, name] of cases) {
    const error = await rejection(connect(options as ClientOptions), 'ERR_INVALID_ARGUMENT')
    expectArgument(error, name)
  }
  assert.equal(transport.connects, [])
  // A custom transport has its own address syntax.
  await rejection(connect({ seeds: ['mem:nowhere'], transport, clock: network.clock }), 'ERR_CONNECT_FAILED')
})

test('call arguments are checked before the request is sent', async () => {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock: network.clock, nodes: 3 })
  const transport = spyTransport(network.transport())
  const client = await connect({ seeds: cluster.seeds, transport, clock: network.clock, random: new SeededRandom(1) })
  const sent = transport.requests.length
  cluster.clearReceived()
  const loose = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const cases: [() => Promise<unknown>, string][] = [
    [() => loose['get']!(42), 'key'],
    [() => loose['get']!(null), 'key'],
    [() => loose['get']!({ key: 'a' }), 'key'],
    [() => loose['get']!(['a']), 'key'],
    [() => loose['put']!('k', 7), 'value'],
    [() => loose['put']!('k', undefined), 'value'],
    [() => loose['put']!(undefined, undefined), 'key'],
    [() => loose['delete']!(Symbol.iterator), 'key'],
    [() => loose['get']!('k', 'fast'), 'options'],
    [() => loose['get']!('k', { r: 0 }), 'r'],
    [() => loose['get']!('k', { r: 'most' }), 'r'],
    [() => loose['get']!('k', { r: 201 }), 'r'],
    [() => loose['get']!('k', { r: 1.5 }), 'r'],
    [() => loose['get']!('k', { pr: -1 }), 'pr'],
    [() => loose['get']!('k', { timeoutMs: 0 }), 'timeoutMs'],
    [() => loose['get']!('k', { R: 2 }), 'options.R'],
    [() => loose['put']!('k', 'v', { w: 'two' }), 'w'],
    [() => loose['put']!('k', 'v', { dw: 'every' }), 'dw'],
    [() => loose['put']!('k', 'v', { pw: null }), 'pw'],
    [() => loose['put']!('k', 'v', { ttlMs: 0 }), 'ttlMs'],
    [() => loose['put']!('k', 'v', { ttlMs: 1.5 }), 'ttlMs'],
    [() => loose['put']!('k', 'v', { context: 5 }), 'context'],
    [() => loose['put']!('k', 'v', { W: 2 }), 'options.W'],
    [() => loose['delete']!('k', { ttlMs: 100 }), 'options.ttlMs'],
    [() => loose['delete']!('k', { w: 0 }), 'w'],
    [() => loose['scanPage']!({ prefix: 'a', start: 'b' }), 'prefix'],
    [() => loose['scanPage']!({ start: 'b', end: 'a' }), 'start'],
    [() => loose['scanPage']!({ limit: 0 }), 'limit'],
    [() => loose['scanPage']!({ limit: 10_001 }), 'limit'],
    [() => loose['scanPage']!({ after: 1 }), 'after'],
    [() => loose['scanPage']!({ pageSize: 10 }), 'options.pageSize'],
  ]
  for (const [call, name] of cases) {
    const error = await rejection(call(), 'ERR_INVALID_ARGUMENT')
    expectArgument(error, name)
  }
  // scan() refuses when it is called, not at the first next().
  for (const [options, name] of [
    [{ pageSize: 0 }, 'pageSize'],
    [{ pageSize: 10_001 }, 'pageSize'],
    [{ limit: -1 }, 'limit'],
    [{ prefix: 'p', end: 'q' }, 'prefix'],
    [{ start: 5 }, 'start'],
  ] as const) {
    try {
      client.scan(options as never)
      assert.unreachable(`scan(${JSON.stringify(options)}) should throw`)
    } catch (error) {
      expectArgument(error as never, name)
    }
  }
  assert.is(transport.requests.length, sent, 'no request left the client')
  assert.equal(cluster.received, [])
  await client.close()
  await cluster.close()
})

test.run()
