/**
 * Every operation round-trips through the client, the wire codecs and a test node, over the real TCP
 * transport (127.0.0.1, port 0) and over the memory network (virtual time): the same suite for both.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { connect, type Client } from '../../../src/client/index.ts'
import type { GetRequest, ScanRequest, WriteRequest } from '../../../src/cluster/messages.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { tcpTransport } from '../../../src/net/tcp.ts'
import type { Transport } from '../../../src/net/transport.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { type Clock, VirtualClock, systemClock } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { TestCluster, collect, utf8 } from './helpers.ts'

interface Setup {
  transport: () => Transport
  listenAddress: string
  clock: Clock
}

function roundTrip(name: string, setup: Setup): void {
  const it = suite<{ cluster: TestCluster; client: Client }>(`client round trip (${name})`, {} as never)

  it.before.each(async (context) => {
    context.cluster = await TestCluster.start({ transport: setup.transport(), listenAddress: setup.listenAddress, clock: setup.clock, nodes: 3 })
    context.client = await connect({
      seeds: context.cluster.seeds,
      transport: setup.transport(),
      clock: setup.clock,
      random: new SeededRandom(7),
    })
  })

  it.after.each(async ({ cluster, client }) => {
    await client.close()
    await cluster.close()
  })

  it('put then get: strings are UTF-8, results are Buffers', async ({ client }) => {
    const { context } = await client.put('grüße', 'wörld ✓')
    assert.type(context, 'string')
    const got = await client.get('grüße')
    assert.is(got.found, true)
    assert.ok(Buffer.isBuffer(got.value))
    assert.equal(got.value, utf8('wörld ✓'))
    assert.is(got.siblings.length, 1)
    assert.equal(got.siblings[0]?.value, utf8('wörld ✓'))
    assert.is(got.context, context)
  })

  it('binary keys and values, byte for byte; a string and its bytes are the same key', async ({ client }) => {
    const key = Uint8Array.from({ length: 256 }, (_, i) => 255 - i)
    const value = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff)
    await client.put(key, value)
    assert.equal((await client.get(key)).value, Buffer.from(value))
    assert.is((await client.get(key.subarray(1))).found, false)
    await client.put(utf8('k\u0000\u00ff'), Buffer.from([0, 1, 2]))
    assert.equal((await client.get('k\u0000\u00ff')).value, Buffer.from([0, 1, 2]))
    await client.put(new Uint8Array(0), 'the empty key')
    assert.equal((await client.get('')).value, utf8('the empty key'))
  })

  it('not found: found false, no value, no siblings, and a context', async ({ client }) => {
    const got = await client.get('missing')
    assert.is(got.found, false)
    assert.is(got.value, undefined)
    assert.equal(got.siblings, [])
    assert.type(got.context, 'string')
  })

  it('writes without a context become siblings; a write with the read context resolves them', async ({ client }) => {
    await client.put('cart', 'apple')
    await client.put('cart', 'pear')
    const both = await client.get('cart')
    assert.is(both.found, true)
    assert.is(both.value, undefined, 'no single value when there are siblings')
    assert.equal(both.siblings.map((s) => s.value.toString()), ['pear', 'apple'])
    const { context } = await client.put('cart', 'apple+pear', { context: both.context })
    const merged = await client.get('cart')
    assert.equal(merged.value, utf8('apple+pear'))
    assert.is(merged.context, context)
    // The context a put returns supersedes exactly what it wrote.
    await client.put('cart', 'plum', { context })
    assert.equal((await client.get('cart')).siblings.map((s) => s.value.toString()), ['plum'])
  })

  it('delete with the read context removes the key', async ({ client }) => {
    await client.put('gone', 'soon')
    const { context } = await client.get('gone')
    assert.is(await client.delete('gone', { context }), undefined)
    const got = await client.get('gone')
    assert.is(got.found, false)
    assert.equal(got.siblings, [])
  })

  it('options travel on the wire: consistency, timeout, ttl', async ({ client, cluster }) => {
    await client.put('t', 'v', { w: 'all', pw: 2, dw: 'one', ttlMs: 60_000, timeoutMs: 1234 })
    await client.get('t', { r: 3, pr: 'quorum', timeoutMs: 99 })
    await client.delete('t', { w: 1 })
    await client.get('t', { pr: 0 })
    const [put, get, del, get2] = cluster.received.filter((r) => r.type !== MessageType.CLIENT_RING).map((r) => r.request)
    assert.equal(put as WriteRequest, {
      key: utf8('t'), value: utf8('v'), context: undefined, w: 'all', pw: 2, dw: 'one', timeoutMs: 1234, ttlMs: 60_000, hops: 0,
    })
    assert.equal(get as GetRequest, { key: utf8('t'), r: 3, pr: 'quorum', timeoutMs: 99 })
    assert.equal(del as WriteRequest, {
      key: utf8('t'), value: undefined, context: undefined, w: 1, pw: undefined, dw: undefined, timeoutMs: 5000, ttlMs: 0, hops: 0,
    })
    assert.is((get2 as GetRequest).pr, undefined, 'pr: 0 is the default, left to the node')
  })

  it('ttl reaches the stored sibling', async ({ client }) => {
    await client.put('ttl', 'v', { ttlMs: 60_000 })
    const [s] = (await client.get('ttl')).siblings
    assert.is(s?.expiresAt, (s?.timestamp ?? 0) + 60_000)
  })

  it('scan iterates every page in key order; scanPage hands out next for after', async ({ client, cluster }) => {
    const keys = Array.from({ length: 250 }, (_, i) => `item:${String(i).padStart(3, '0')}`)
    // Written in a scrambled order; read back sorted.
    for (let i = 0; i < keys.length; i++) await client.put(keys[(i * 97) % keys.length] as string, `v${(i * 97) % keys.length}`)
    await client.put('other', 'x')
    cluster.clearReceived()
    const entries = await collect(client.scan({ prefix: 'item:' }))
    assert.equal(entries.map((e) => e.key.toString()), keys)
    assert.equal(entries.map((e) => e.value?.toString()), keys.map((_, i) => `v${i}`))
    assert.ok(entries.every((e) => e.siblings.length === 1 && typeof e.context === 'string'))
    const pages = cluster.received.map((r) => r.request as ScanRequest)
    assert.equal(pages.map((p) => p.limit), [100, 100, 100], 'three pages of 100')
    assert.equal(pages.map((p) => p.after?.toString()), [undefined, 'item:099', 'item:199'])

    const sized = await collect(client.scan({ start: 'item:010', end: 'item:020', pageSize: 3 }))
    assert.equal(sized.map((e) => e.key.toString()), keys.slice(10, 20))
    const limited = await collect(client.scan({ prefix: 'item:', limit: 7, pageSize: 5 }))
    assert.equal(limited.map((e) => e.key.toString()), keys.slice(0, 7))
    assert.equal(await collect(client.scan({ prefix: 'nothing' })), [])

    const page1 = await client.scanPage({ prefix: 'item:', limit: 2 })
    assert.equal(page1.entries.map((e) => e.key.toString()), keys.slice(0, 2))
    assert.equal(page1.next, utf8('item:001'))
    const page2 = await client.scanPage({ prefix: 'item:', limit: 2, after: page1.next })
    assert.equal(page2.entries.map((e) => e.key.toString()), keys.slice(2, 4))
    const last = await client.scanPage({ prefix: 'item:', after: 'item:248' })
    assert.equal(last.entries.map((e) => e.key.toString()), ['item:249'])
    assert.is(last.next, undefined)
  })

  it('siblings come through scans too', async ({ client }) => {
    await client.put('s', 'a')
    await client.put('s', 'b')
    const [entry] = await collect(client.scan({ prefix: 's' }))
    assert.is(entry?.value, undefined)
    assert.equal(entry?.siblings.map((s) => s.value.toString()), ['b', 'a'])
  })

  it('many requests in flight on one connection per node', async ({ client, cluster }) => {
    const n = 500
    await Promise.all(Array.from({ length: n }, (_, i) => client.put(`k${i}`, `v${i}`)))
    const got = await Promise.all(Array.from({ length: n }, (_, i) => client.get(`k${i}`)))
    assert.ok(got.every((g, i) => g.value?.toString() === `v${i}`))
    for (const node of cluster.nodes) assert.ok(node.server.connections.size <= 1, `${node.id}: one connection at most`)
  })

  it.run()
}

roundTrip('tcp', { transport: () => tcpTransport(), listenAddress: '127.0.0.1:0', clock: systemClock })

const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }), latencyMs: 1 })
roundTrip('memory', { transport: () => network.transport(), listenAddress: 'node:0', clock: network.clock })
