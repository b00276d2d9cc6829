// A node that is starting listens before its first gossip exchanges end (its peers must be able to reach it),
// but until they end it knows no peer as up and would fail every write it coordinated for want of replicas:
// the cluster benchmark saw a burst of ERR_QUORUM right after a node restarted. Until then it refuses client
// requests unprocessed (ERR_NOT_READY), and clients send them to another node, writes included. The network's
// latency (100 ms a hop) gives the probe's request time to arrive before the node has heard from its peers:
// without the gate, that write fails with ERR_QUORUM.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { connect } from '../../../src/client/index.ts'
import { decodeGetReply, decodePutReply, encodeGetRequest, encodeWriteRequest } from '../../../src/cluster/messages.ts'
import { RingkvError } from '../../../src/errors.ts'
import { MemoryNetwork, type Connection } from '../../../src/net/index.ts'
import { startNode, type RingkvNode } from '../../../src/node/index.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { SeededRandom, silentLogger, sleep, VirtualClock } from '../../../src/runtime/index.ts'
import { MemoryStore } from '../../../src/storage/memory-store.ts'

const ids = ['a', 'b', 'c']
const address = (id: string): string => `${id}:1`

/**
 * Nodes `ids` on a memory network with 100 ms a hop (see the top of this file), each with its own store and data
 * directory; `options` starts one of them with the given seeds. `close` stops whatever `running` and `starting` hold.
 */
function harness(ids: readonly string[], n: number, seed: number) {
  const clock = new VirtualClock({ startMs: 1_700_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 100 })
  const transport = network.transport()
  const random = new SeededRandom(seed)
  const dirs = Object.fromEntries(ids.map((id) => [id, mkdtempSync(join(tmpdir(), `ringkv-startup-${id}-`))]))
  const stores = Object.fromEntries(ids.map((id) => [id, new MemoryStore()]))
  const h = {
    clock,
    network,
    transport,
    random,
    running: [] as RingkvNode[],
    starting: undefined as Promise<RingkvNode> | undefined,
    options: (id: string, seeds: string[]) => ({
      id,
      listen: address(id),
      seeds,
      dataDir: dirs[id],
      store: stores[id],
      partitions: 16,
      keyspace: { n },
      requestTimeoutMs: 60_000,
      clock,
      random: random.fork(),
      logger: silentLogger,
      transport,
    }),
    /** Connects to `id` as a client would, retrying until it listens. */
    async connectTo(id: string): Promise<Connection> {
      for (let i = 0; ; i++) {
        if (i > 1000) assert.unreachable(`${id} never listened`)
        const connection = await transport.connect(address(id), { nodeId: 'probe' }).catch(() => undefined)
        if (connection !== undefined) return connection
        await sleep(clock, 1)
      }
    },
    async close(): Promise<void> {
      if (h.starting !== undefined) h.running.push(await h.starting)
      for (const node of h.running) await node.close().catch(() => undefined)
      for (const store of Object.values(stores)) await store.close()
      for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true })
    },
  }
  return h
}

/** The error decoding a reply throws (an error reply), or undefined when it decodes. */
function errorOf(decode: () => unknown): RingkvError | undefined {
  try {
    decode()
    return undefined
  } catch (e) {
    if (e instanceof RingkvError) return e
    throw e
  }
}

test('a starting node refuses client requests with ERR_NOT_READY until its first gossip exchanges end; clients go elsewhere', async () => {
  const h = harness(ids, 3, 3)
  const { clock, network, transport, random, running, options } = h
  let probe: Connection | undefined
  try {
    for (const id of ids) running.push(await startNode(options(id, ids.map(address))))
    await Promise.all(running.map((n) => n.waitForRing({ members: 3 })))
    const c = running.pop()!
    await c.close()

    // A seed that takes connections and never answers holds the restarted node's first exchanges open.
    const silent = await network.listen('silent:1', () => {})
    h.starting = startNode(options('c', [...ids.map(address), 'silent:1']))
    probe = await h.connectTo('c')
    const key = Buffer.from('k')
    const put = encodeWriteRequest({ key, value: Buffer.from('v1'), context: undefined, w: 2, pw: undefined, dw: undefined, timeoutMs: 5000, ttlMs: 0, hops: 0 })
    const get = encodeGetRequest({ key, r: 2, pr: undefined, timeoutMs: 5000 })
    const refusedPut = await probe.request(MessageType.CLIENT_PUT, put, { timeoutMs: 5000 })
    const putError = errorOf(() => decodePutReply(refusedPut))
    assert.is(putError?.code, 'ERR_NOT_READY', 'a write while starting is refused, not failed for want of replicas')
    assert.match(putError!.message, 'CLIENT_PUT')
    const refusedGet = await probe.request(MessageType.CLIENT_GET, get, { timeoutMs: 5000 })
    assert.is(errorOf(() => decodeGetReply(refusedGet))?.code, 'ERR_NOT_READY')

    // A client that meets the starting node first sends the write to another node and succeeds.
    const client = await connect({ seeds: [address('c'), address('a')], transport, clock, random: random.fork(), timeoutMs: 5000 })
    try {
      for (let i = 0; i < 20; i++) await client.put(Buffer.from(`key-${i}`), Buffer.from(`value-${i}`))
      assert.is((await client.get(Buffer.from('key-7'))).value?.toString(), 'value-7')
    } finally {
      await client.close()
    }

    // Once its exchanges are over (the silent seed's timed out), the node coordinates.
    running.push(await h.starting)
    h.starting = undefined
    await silent.close()
    const served = await probe.request(MessageType.CLIENT_PUT, put, { timeoutMs: 5000 })
    assert.type(decodePutReply(served), 'string')
    assert.is(decodeGetReply(await probe.request(MessageType.CLIENT_GET, get, { timeoutMs: 5000 })).siblings.length, 1)
  } finally {
    probe?.destroy()
    await h.close()
  }
})

test('a write forwarded to a starting replica comes back refused, naming that replica (details.forwardedTo)', async () => {
  // With n = 1 a key has one replica; a node that is not it forwards the write there. While that replica is
  // starting it refuses, and the forwarder relays the refusal: the client may send the write elsewhere (nothing
  // was applied), but must not take the forwarder, which is up, for a node that refused.
  const pair = ['a', 'b']
  const h = harness(pair, 1, 4)
  const { clock, network, running, options } = h
  let probe: Connection | undefined
  try {
    for (const id of pair) running.push(await startNode(options(id, pair.map(address))))
    await Promise.all(running.map((n) => n.waitForRing({ members: 2 })))
    // A key whose only replica is b, found by asking a until it forwards.
    const [a, b] = running as [RingkvNode, RingkvNode]
    let key: Buffer | undefined
    for (let i = 0; key === undefined; i++) {
      const candidate = Buffer.from(`key-${i}`)
      const before = a.stats().coordinator.forwarded
      await a.service.put(candidate, Buffer.from('v'))
      if (a.stats().coordinator.forwarded > before) key = candidate
    }
    running.pop()
    await b.close()

    const silent = await network.listen('silent:1', () => {})
    h.starting = startNode(options('b', [...pair.map(address), 'silent:1']))
    probe = await h.connectTo('a')
    // Until b listens, a cannot reach it at all; from then until its exchanges end, b refuses.
    let refusal: RingkvError | undefined
    for (let i = 0; refusal?.code !== 'ERR_NOT_READY'; i++) {
      if (i > 1000) assert.unreachable(`no refusal relayed; last error ${refusal?.code}`)
      const put = encodeWriteRequest({ key, value: Buffer.from('v2'), context: undefined, w: 1, pw: undefined, dw: undefined, timeoutMs: 5000, ttlMs: 0, hops: 0 })
      const reply = await probe.request(MessageType.CLIENT_PUT, put, { timeoutMs: 5000 })
      refusal = errorOf(() => decodePutReply(reply))
      if (refusal === undefined) assert.unreachable('the write succeeded while its only replica was starting')
      else if (refusal.code !== 'ERR_NOT_READY') await sleep(clock, 1)
    }
    assert.is(refusal?.details?.['forwardedTo'], 'b')
    assert.match(refusal?.message ?? '', 'forwarded to b')
    running.push(await h.starting)
    h.starting = undefined
    await silent.close()
  } finally {
    probe?.destroy()
    await h.close()
  }
})

test.run()
