/**
 * Retries: what is retried (the pure rules), where (another coordinator: the key's next replica, then any
 * member), how often (at most `retries`), and what is never sent twice (a write that may have landed).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { connect } from '../../../src/client/index.ts'
import { type Delivery, backoffMs, deliveryOf, shouldRetry } from '../../../src/client/retry.ts'
import { RingkvError } from '../../../src/errors.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { tcpTransport } from '../../../src/net/tcp.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { preferenceList } from '../../../src/ring/preference.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { type FaultHook, TestCluster, rejection, spyTransport, utf8 } from './helpers.ts'

// ---- the rules -------------------------------------------------------------------------------------------

const err = (code: string, details?: Record<string, unknown>) => new RingkvError(code, code, details === undefined ? {} : { details })

test('a node that is shutting down or starting refused the request unprocessed: delivered is no, so writes go elsewhere too', () => {
  assert.is(deliveryOf(err('ERR_SHUTTING_DOWN')), 'no')
  assert.is(deliveryOf(err('ERR_OVERLOADED')), 'no')
  assert.is(deliveryOf(err('ERR_CONNECTION_CLOSED')), 'maybe')
  assert.ok(shouldRetry(err('ERR_SHUTTING_DOWN'), 'no', 'write', false))
  // A starting node answers with an error reply (the request reached it), and that reply still means 'never processed'.
  assert.is(deliveryOf(err('ERR_NOT_READY'), 'yes'), 'no')
  assert.ok(shouldRetry(err('ERR_NOT_READY'), deliveryOf(err('ERR_NOT_READY'), 'yes'), 'write', false))
  // Any other error reply stays 'yes'; a request that never left stays 'no'.
  assert.is(deliveryOf(err('ERR_QUORUM'), 'yes'), 'yes')
  assert.is(deliveryOf(err('ERR_CONNECT_FAILED'), 'no'), 'no')
})

test('connection-level failures: reads always, writes only when nothing was sent or retryWrites', () => {
  for (const code of ['ERR_CONNECT_FAILED', 'ERR_CONNECTION_CLOSED', 'ERR_TIMEOUT', 'ERR_OVERLOADED', 'ERR_SHUTTING_DOWN', 'ERR_NOT_READY']) {
    for (const delivered of ['no', 'maybe'] as Delivery[]) {
      assert.ok(shouldRetry(err(code), delivered, 'read', false), `${code} ${delivered} read`)
      assert.is(shouldRetry(err(code), delivered, 'write', false), delivered === 'no', `${code} ${delivered} write`)
      assert.ok(shouldRetry(err(code), delivered, 'write', true), `${code} ${delivered} write, retryWrites`)
    }
  }
})

test('node errors: retryable quorum failures on reads only, stale-ring answers always, nothing else', () => {
  const quorum = err('ERR_QUORUM', { required: 2, received: 1, retryable: true })
  assert.ok(shouldRetry(quorum, 'yes', 'read', false))
  assert.not.ok(shouldRetry(quorum, 'yes', 'write', false))
  assert.not.ok(shouldRetry(quorum, 'yes', 'write', true))
  assert.not.ok(shouldRetry(err('ERR_QUORUM', { required: 2, received: 1, retryable: false }), 'yes', 'read', false))
  assert.not.ok(shouldRetry(err('ERR_QUORUM', { required: 2, received: 1 }), 'yes', 'read', false))
  assert.ok(shouldRetry(err('ERR_NOT_REPLICA'), 'yes', 'write', false))
  for (const code of ['ERR_BAD_REQUEST', 'ERR_BAD_CONTEXT', 'ERR_INTERNAL', 'ERR_UNKNOWN_MESSAGE', 'ERR_FRAME_TOO_LARGE', 'ERR_BAD_REPLY']) {
    assert.not.ok(shouldRetry(err(code), 'yes', 'read', true), code)
    assert.not.ok(shouldRetry(err(code), 'no', 'read', true), code)
  }
})

test('backoff doubles per attempt, is jittered into [half, full], and is capped at 16x its base', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 1000 }), fc.integer(), (attempt, base, seed) => {
      const ceiling = base * Math.min(16, 2 ** (attempt - 1))
      const ms = backoffMs(attempt, base, new SeededRandom(seed))
      return ms >= Math.floor(ceiling / 2) && ms <= ceiling
    }),
  )
  assert.is(backoffMs(3, 0, new SeededRandom(1)), 0)
})

// ---- on the memory network -------------------------------------------------------------------------------

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })
const clock = network.clock

async function setup(options: { retries?: number; retryWrites?: boolean; timeoutMs?: number } = {}) {
  const cluster = await TestCluster.start({ transport: network.transport(), listenAddress: 'node:0', clock, nodes: 3, n: 2 })
  const transport = spyTransport(network.transport())
  const client = await connect({ seeds: cluster.seeds, transport, clock, random: new SeededRandom(5), timeoutMs: 100, ...options })
  cluster.clearReceived()
  return { cluster, client, transport }
}

/** The key's primaries in the order the client's rotation will try them first. */
function primariesOf(cluster: TestCluster, key: string): string[] {
  return [...preferenceList(cluster.ring, utf8(key)).primaries]
}

/** Make `id` fail requests of `type` with `fault` (every time). */
function failOn(cluster: TestCluster, id: string, type: number, fault: ReturnType<FaultHook>): void {
  cluster.node(id).fault = (t) => (t === type ? fault : undefined)
}

test('a node that is down: reads and writes go to the key\'s other primary', async () => {
  const { cluster, client } = await setup()
  const key = 'k-down'
  const [a, b] = primariesOf(cluster, key) as [string, string]
  await cluster.node(a).server.close()
  for (let i = 0; i < 4; i++) {
    await client.put(key, `v${i}`) // writes too: a refused connection provably sent nothing
    assert.is((await client.get(key)).found, true)
  }
  assert.ok(cluster.received.every((r) => r.node === b || r.type === MessageType.CLIENT_RING), 'all served by the other primary')
  await client.close()
  await cluster.close()
})

test('a refused node is marked down: later requests do not try it again for markDownMs', async () => {
  const { cluster, client, transport } = await setup()
  const key = 'k-marked'
  const [a] = primariesOf(cluster, key) as [string]
  const addressA = cluster.node(a).address
  await cluster.node(a).server.close()
  for (let i = 0; i < 10; i++) await client.get(key)
  assert.is(transport.connects.filter((x) => x === addressA).length, 1, 'one failed connect, then skipped')
  await new Promise<void>((resolve) => clock.setTimeout(resolve, 1001))
  await client.get(key)
  await client.get(key)
  assert.is(transport.connects.filter((x) => x === addressA).length, 2, 'tried again once the mark expired')
  await client.close()
  await cluster.close()
})

test('a refusal a node relays from the replica it forwarded to (details.forwardedTo) is retried without marking that node down', async () => {
  const { cluster, client } = await setup()
  const key = 'k-relayed'
  const [a, b] = primariesOf(cluster, key) as [string, string]
  const refuseOnce = (details: Record<string, unknown> | undefined): void => {
    let refused = false
    cluster.node(a).fault = (t) => {
      if (t !== MessageType.CLIENT_PUT || refused) return undefined
      refused = true
      return { error: new RingkvError('ERR_NOT_READY', 'n9 is starting', details === undefined ? {} : { details }) }
    }
  }
  /** Puts until one is refused by a and sent again to b, then reads 6 times: which nodes the reads went to. */
  const readsAfterRefusal = async (details: Record<string, unknown> | undefined): Promise<string[]> => {
    refuseOnce(details)
    cluster.clearReceived()
    for (let i = 0; i < 4 && !cluster.received.some((r) => r.node === a); i++) await client.put(key, `v${i}`)
    const puts = cluster.received.filter((r) => r.type === MessageType.CLIENT_PUT).map((r) => r.node)
    assert.equal(puts.slice(-2), [a, b], 'the refused write went to the other primary')
    cluster.clearReceived()
    for (let i = 0; i < 6; i++) await client.get(key)
    return cluster.received.filter((r) => r.type === MessageType.CLIENT_GET).map((r) => r.node)
  }

  // Relayed: a is up, and reads keep rotating over both primaries.
  const relayed = await readsAfterRefusal({ forwardedTo: 'n9' })
  assert.ok(relayed.includes(a) && relayed.includes(b), `reads went to ${relayed.join(', ')}`)

  // a's own refusal: a is tried last for markDownMs.
  await new Promise<void>((resolve) => clock.setTimeout(resolve, 1001))
  const own = await readsAfterRefusal(undefined)
  assert.ok(!own.includes(a), `reads went to ${own.join(', ')}`)
  await client.close()
  await cluster.close()
})

test('a slow node: the read times out there and is answered by the next replica', async () => {
  const { cluster, client } = await setup()
  const key = 'k-slow'
  const [a, b] = primariesOf(cluster, key) as [string, string]
  failOn(cluster, a, MessageType.CLIENT_GET, 'hang')
  await client.put(key, 'v')
  for (let i = 0; i < 4; i++) {
    const started = clock.monotonic()
    assert.equal((await client.get(key)).value, utf8('v'))
    const took = clock.monotonic() - started
    assert.ok(took < 300, `answered in ${took} virtual ms`)
  }
  const gets = cluster.receivers(MessageType.CLIENT_GET)
  assert.ok(gets.includes(a) && gets.includes(b))
  assert.ok(gets.filter((n) => n === b).length === 4, 'every read answered by the other primary')
  await client.close()
  await cluster.close()
})

test('retries give up after `retries` further attempts, each on another node, with the last error', async () => {
  for (const retries of [0, 1, 2]) {
    const { cluster, client } = await setup({ retries })
    cluster.fault = () => 'hang'
    const error = await rejection(client.get('k-all-slow'), 'ERR_TIMEOUT')
    assert.is(error.details?.['timeoutMs'], 125, 'the client waited timeoutMs plus its margin')
    const gets = cluster.receivers(MessageType.CLIENT_GET)
    assert.is(gets.length, retries + 1)
    assert.is(new Set(gets).size, retries + 1, 'a different node each time')
    await client.close()
    await cluster.close()
  }
})

test('the retry after a primary goes to the key\'s next replica before any other node', async () => {
  const { cluster, client } = await setup({ retries: 2 })
  for (let i = 0; i < 20; i++) {
    const key = `k-order-${i}`
    cluster.clearReceived()
    cluster.fault = () => 'hang'
    await rejection(client.get(key), 'ERR_TIMEOUT')
    const [first, second] = cluster.receivers(MessageType.CLIENT_GET)
    assert.equal(new Set([first, second]), new Set(primariesOf(cluster, key)))
  }
  await client.close()
  await cluster.close()
})

test('a write that was sent is not sent again: timeouts and dropped connections fail the call', async () => {
  const { cluster, client } = await setup()
  const key = 'k-write'
  // Every node hangs on writes: a call sends exactly one PUT, and fails.
  for (const node of cluster.nodes) node.fault = (t) => (t === MessageType.CLIENT_PUT ? 'hang' : undefined)
  await rejection(client.put(key, 'v'), 'ERR_TIMEOUT')
  assert.is(cluster.receivers(MessageType.CLIENT_PUT).length, 1)
  // Every node drops the connection on writes.
  for (const node of cluster.nodes) node.fault = (t) => (t === MessageType.CLIENT_RING ? undefined : 'close')
  cluster.clearReceived()
  await rejection(client.put(key, 'v'), 'ERR_CONNECTION_CLOSED')
  await rejection(client.delete(key), 'ERR_CONNECTION_CLOSED')
  assert.is(cluster.receivers(MessageType.CLIENT_PUT).length, 1)
  assert.is(cluster.receivers(MessageType.CLIENT_DELETE).length, 1)
  await client.close()
  await cluster.close()
})

test('retryWrites: true sends a write again after a timeout or a dropped connection', async () => {
  const { cluster, client } = await setup({ retryWrites: true })
  const key = 'k-retry-write'
  const [a, b] = primariesOf(cluster, key) as [string, string]
  failOn(cluster, a, MessageType.CLIENT_PUT, 'hang')
  failOn(cluster, b, MessageType.CLIENT_DELETE, 'close')
  for (let i = 0; i < 2; i++) await client.put(key, `v${i}`)
  for (let i = 0; i < 2; i++) await client.delete(key)
  assert.ok(cluster.receivers(MessageType.CLIENT_PUT).length > 2, 'some puts were sent twice')
  assert.ok(cluster.receivers(MessageType.CLIENT_DELETE).length > 2, 'some deletes were sent twice')
  await client.close()
  await cluster.close()
})

test('quorum errors arrive typed, with details; retried on reads when retryable, never on writes', async () => {
  const { cluster, client } = await setup()
  const quorum = (retryable: boolean) =>
    new RingkvError('ERR_QUORUM', 'put needs 2 acknowledgements, got 1', { details: { required: 2, received: 1, retryable } })
  cluster.fault = (type) => (type === MessageType.CLIENT_RING ? undefined : { error: quorum(false) })
  const error = await rejection(client.put('q', 'v', { w: 2 }), 'ERR_QUORUM')
  assert.is(error.message, 'put needs 2 acknowledgements, got 1')
  assert.equal(error.details, { required: 2, received: 1, retryable: false })
  await rejection(client.get('q'), 'ERR_QUORUM')
  assert.is(cluster.received.length, 2, 'neither was retried')

  // Retryable: a read tries another coordinator, a write still does not.
  cluster.fault = undefined
  const [a] = primariesOf(cluster, 'q') as [string]
  for (const node of cluster.nodes) node.fault = node.id === a ? () => ({ error: quorum(true) }) : undefined
  cluster.clearReceived()
  for (let i = 0; i < 4; i++) assert.is((await client.get('q')).found, false)
  assert.ok(cluster.receivers(MessageType.CLIENT_GET).length > 4, 'reads that hit the failing node were retried')
  cluster.clearReceived()
  let failed = 0
  for (let i = 0; i < 4; i++) {
    try {
      await client.put('q', 'v')
    } catch (e) {
      assert.equal((e as RingkvError).details, { required: 2, received: 1, retryable: true })
      failed++
    }
  }
  assert.ok(failed > 0, 'the rotation sent some writes to the failing node')
  assert.is(cluster.receivers(MessageType.CLIENT_PUT).length, 4, 'no write was sent twice')
  await client.close()
  await cluster.close()
})

test('the node\'s other errors are not retried', async () => {
  const { cluster, client } = await setup()
  cluster.fault = (type) =>
    type === MessageType.CLIENT_RING ? undefined : { error: new RingkvError('ERR_BAD_REQUEST', 'key too long', { details: { limit: 10 } }) }
  const error = await rejection(client.get('x'), 'ERR_BAD_REQUEST')
  assert.equal(error.details, { limit: 10 })
  assert.is(cluster.received.length, 1)
  await client.close()
  await cluster.close()
})

// ---- over TCP ---------------------------------------------------------------------------------------------

test('tcp: a stopped node (connection refused) is routed around, reads and writes', async () => {
  const cluster = await TestCluster.start({ transport: tcpTransport(), listenAddress: '127.0.0.1:0', clock: network.clock, nodes: 3, n: 2 })
  const client = await connect({ seeds: cluster.seeds, random: new SeededRandom(9) })
  await cluster.nodes[0]?.server.close()
  for (let i = 0; i < 50; i++) {
    await client.put(`tcp-${i}`, `v${i}`)
    assert.equal((await client.get(`tcp-${i}`)).value, utf8(`v${i}`))
  }
  assert.not.ok(cluster.received.some((r) => r.node === 'node-0' && r.type !== MessageType.CLIENT_RING))
  await client.close()
  await cluster.close()
})

test('tcp: a slow node times out for real and the read goes elsewhere', async () => {
  const cluster = await TestCluster.start({ transport: tcpTransport(), listenAddress: '127.0.0.1:0', clock: network.clock, nodes: 3, n: 2 })
  const client = await connect({ seeds: cluster.seeds, random: new SeededRandom(9), timeoutMs: 200 })
  const key = 'tcp-slow'
  const [a, b] = primariesOf(cluster, key) as [string, string]
  failOn(cluster, a, MessageType.CLIENT_GET, 'hang')
  for (let i = 0; i < 3; i++) assert.is((await client.get(key)).found, false)
  assert.is(cluster.receivers(MessageType.CLIENT_GET).filter((n) => n === b).length, 3)
  await client.close()
  await cluster.close()
})

test('tcp: no seed reachable: connect fails with ERR_CONNECT_FAILED naming the seeds', async () => {
  const cluster = await TestCluster.start({ transport: tcpTransport(), listenAddress: '127.0.0.1:0', clock: network.clock, nodes: 2 })
  const seeds = cluster.seeds
  await cluster.close()
  const error = await rejection(connect({ seeds, retries: 0 }), 'ERR_CONNECT_FAILED')
  assert.equal(error.details?.['seeds'], seeds)
  assert.match(error.message, seeds[0] as string)
})

test.run()
