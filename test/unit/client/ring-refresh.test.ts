/**
 * The cached ring follows the cluster's: fetched every ringRefreshMs (on the client's clock), at once when a
 * node says the client's ring is stale or a member stops accepting connections, and never rolled back.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connect } from '../../../src/client/index.ts'
import { RingkvError } from '../../../src/errors.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { claim } from '../../../src/ring/claim.ts'
import { partitionOf } from '../../../src/ring/hash.ts'
import { sleep } from '../../../src/runtime/clock.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { TestCluster, utf8 } from './helpers.ts'

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })
const clock = network.clock
const keys = Array.from({ length: 100 }, (_, i) => `key-${i}`)

async function setup(ringRefreshMs?: number) {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock, nodes: 3, n: 1 })
  const client = await connect({
    seeds: cluster.seeds,
    transport: network.transport(),
    clock,
    random: new SeededRandom(11),
    ...(ringRefreshMs === undefined ? {} : { ringRefreshMs }),
  })
  return { cluster, client }
}

/** Grow the test cluster by one node and give it the ring claim computes for four. */
async function addFourthNode(cluster: TestCluster): Promise<void> {
  await cluster.addNode('node-3')
  cluster.ring = claim(cluster.ring, cluster.nodes.map((n) => ({ id: n.id })), { q: cluster.ring.q, n: 1 }).ring
}

const ownerOf = (cluster: TestCluster, key: string) => cluster.ring.owners[partitionOf(utf8(key), cluster.ring.q)]

test('every 5 s the ring is fetched again, and requests follow the new one', async () => {
  const { cluster, client } = await setup()
  const before = client.ring().map
  await addFourthNode(cluster)
  await sleep(clock, 4000)
  assert.is(client.ring().map, before, 'not yet')
  await sleep(clock, 1100)
  assert.is(client.ring().map?.checksum, cluster.ring.checksum)
  assert.is(client.ring().map?.version, (before?.version ?? 0) + 1)
  assert.ok(client.ring().members.some((m) => m.id === 'node-3'))
  cluster.clearReceived()
  for (const key of keys) await client.get(key)
  assert.equal(cluster.receivers(MessageType.CLIENT_GET), keys.map((k) => ownerOf(cluster, k)))
  assert.ok(cluster.receivers(MessageType.CLIENT_GET).includes('node-3'), 'the new node coordinates its keys')
  // And it keeps going.
  cluster.clearReceived()
  await sleep(clock, 5000)
  assert.is(cluster.receivers(MessageType.CLIENT_RING).length, 1)
  await client.close()
  await cluster.close()
})

test('ringRefreshMs: 0 fetches the ring only at connect (and when a node says it is stale)', async () => {
  const { cluster, client } = await setup(0)
  cluster.clearReceived()
  await addFourthNode(cluster)
  await sleep(clock, 60_000)
  assert.is(cluster.receivers(MessageType.CLIENT_RING).length, 0)
  assert.not.ok(client.ring().members.some((m) => m.id === 'node-3'))
  await client.refreshRing()
  assert.ok(client.ring().members.some((m) => m.id === 'node-3'), 'refreshRing() on demand')
  await client.close()
  await cluster.close()
})

test('a node that says the ring is stale: the client fetches it, and the request is retried elsewhere', async () => {
  const { cluster, client } = await setup(0)
  await addFourthNode(cluster)
  // The old owners refuse keys that moved to node-3, as a node that is no longer their replica might.
  const moved = keys.filter((k) => ownerOf(cluster, k) === 'node-3')
  assert.ok(moved.length > 0)
  for (const node of cluster.nodes) {
    node.fault = (type, key) =>
      type !== MessageType.CLIENT_RING && key !== undefined && node.id !== ownerOf(cluster, key.toString())
        ? { error: new RingkvError('ERR_NOT_REPLICA', 'not a replica of this key') }
        : undefined
  }
  cluster.clearReceived()
  await client.put(moved[0] as string, 'v') // a write: refused by the node, so safe to send again
  assert.equal(cluster.receivers(MessageType.CLIENT_RING).length, 1, 'the ring was fetched')
  assert.is(cluster.received.filter((r) => r.type === MessageType.CLIENT_PUT).at(-1)?.node, 'node-3')
  // From now on the new ring routes: one request per key.
  cluster.clearReceived()
  for (const key of moved) await client.get(key)
  assert.equal(cluster.receivers(MessageType.CLIENT_GET), moved.map(() => 'node-3'))
  await client.close()
  await cluster.close()
})

test('a member that stops accepting connections makes the client ask for the ring', async () => {
  const { cluster, client } = await setup(0)
  const leaving = cluster.node('node-2')
  await leaving.server.close()
  cluster.nodes.splice(cluster.nodes.indexOf(leaving), 1)
  cluster.members = cluster.members.filter((m) => m.id !== 'node-2')
  cluster.ring = claim(cluster.ring, cluster.nodes.map((n) => ({ id: n.id })), { q: cluster.ring.q, n: 1 }).ring
  const key = keys.find((k) => client.ring().map?.owners[partitionOf(utf8(k), 64)] === 'node-2') as string
  await client.get(key) // refused by node-2, answered by another node
  await sleep(clock, 10)
  assert.not.ok(client.ring().members.some((m) => m.id === 'node-2'))
  assert.is(client.ring().map?.checksum, cluster.ring.checksum)
  await client.close()
  await cluster.close()
})

test('a lagging node\'s older ring is not adopted', async () => {
  const { cluster, client } = await setup(0)
  const old = cluster.ring
  await addFourthNode(cluster)
  await client.refreshRing()
  const current = client.ring().map
  cluster.ring = old
  await client.refreshRing()
  assert.is(client.ring().map, current)
  await client.close()
  await cluster.close()
})

test.run()
