/**
 * close(): every connection is closed, calls in flight and every later call fail with ERR_CLOSED, the ring
 * is no longer fetched, and closing twice is harmless.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connect } from '../../../src/client/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { tcpTransport } from '../../../src/net/tcp.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { VirtualClock, sleep, systemClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { TestCluster, collect, rejection } from './helpers.ts'

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })
const clock = network.clock

test('tcp: close() closes the connection to every node', async () => {
  const cluster = await TestCluster.start({ transport: tcpTransport(), listenAddress: '127.0.0.1:0', clock: systemClock, nodes: 3, n: 1 })
  const client = await connect({ seeds: cluster.seeds, random: new SeededRandom(2) })
  for (let i = 0; i < 30; i++) await client.get(`k${i}`)
  assert.equal(cluster.nodes.map((n) => n.server.connections.size), [1, 1, 1])
  await client.close()
  assert.ok(client.closed)
  // The nodes see the close once the FIN arrives: poll (up to 2 s) rather than guess a delay.
  for (let i = 0; i < 200 && cluster.nodes.some((n) => n.server.connections.size > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.equal(cluster.nodes.map((n) => n.server.connections.size), [0, 0, 0])
  await cluster.close()
})

test('later calls fail with ERR_CLOSED, and close() again is harmless', async () => {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock, nodes: 3 })
  const client = await connect({ seeds: cluster.seeds, transport: network.transport(), clock, random: new SeededRandom(2) })
  await client.put('k', 'v')
  await client.close()
  cluster.clearReceived()
  await rejection(client.get('k'), 'ERR_CLOSED')
  await rejection(client.put('k', 'v'), 'ERR_CLOSED')
  await rejection(client.delete('k'), 'ERR_CLOSED')
  await rejection(client.scanPage(), 'ERR_CLOSED')
  await rejection(collect(client.scan()), 'ERR_CLOSED')
  await rejection(client.refreshRing(), 'ERR_CLOSED')
  await client.close()
  assert.equal(cluster.received, [])
  await cluster.close()
})

test('calls in flight when close() is called fail with ERR_CLOSED', async () => {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock, nodes: 3 })
  const client = await connect({ seeds: cluster.seeds, transport: network.transport(), clock, random: new SeededRandom(2), retries: 2 })
  cluster.fault = (type) => (type === MessageType.CLIENT_RING ? undefined : 'hang')
  const pending = [client.get('a'), client.put('b', 'v'), client.scanPage()]
  await sleep(clock, 1) // they are sent
  assert.is(cluster.received.filter((r) => r.type !== MessageType.CLIENT_RING).length, 3)
  const errors = Promise.all(pending.map((call) => rejection(call, 'ERR_CLOSED')))
  await client.close()
  for (const error of await errors) assert.is((error.cause as { code?: string } | undefined)?.code, 'ERR_CONNECTION_CLOSED')
  await cluster.close()
})

test('a closed client stops fetching the ring', async () => {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock, nodes: 3 })
  const client = await connect({ seeds: cluster.seeds, transport: network.transport(), clock, random: new SeededRandom(2), ringRefreshMs: 1000 })
  await sleep(clock, 3500)
  assert.is(cluster.receivers(MessageType.CLIENT_RING).length, 4, 'at connect, then every second')
  await client.close()
  await sleep(clock, 10_000)
  assert.is(cluster.receivers(MessageType.CLIENT_RING).length, 4)
  await cluster.close()
})

test.run()
