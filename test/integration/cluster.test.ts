// Three real node processes on 127.0.0.1: the client, the HTTP API, siblings, failures, repair, TTL.
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { connect, type Client } from '../../src/client/index.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { decodeReplicaGetReply, encodeReplicaGet, encodeReplicaPut } from '../../src/cluster/messages.ts'
import { tcpTransport } from '../../src/net/index.ts'
import { partitionOf } from '../../src/ring/index.ts'
import { decodeEnvelope, encodeEnvelope, updateEnvelope, type Envelope } from '../../src/versioning/index.ts'
import { startCluster, waitUntilSeenDown, type TestCluster } from './harness.ts'

let cluster: TestCluster
let client: Client
const figures = { operations: 0, siblingsSeen: 0, repairsVerified: 0, quorumErrors: 0, msUntilSeenDown: -1 }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function http(path: string, init: RequestInit = {}): Promise<Response> {
  figures.operations++
  return fetch(`http://${cluster.nodes[0]!.http}${path}`, init)
}

/** The envelope a node holds for a key, asked over the replica protocol directly. */
async function replicaEnvelope(address: string, key: string) {
  const conn = await tcpTransport().connect(address, { nodeId: 'test-probe' })
  try {
    const k = Buffer.from(key)
    const reply = await conn.request(MessageType.REPLICA_GET, encodeReplicaGet({ partition: partitionOf(k, 4096), key: k }))
    const bytes = decodeReplicaGetReply(reply)
    return bytes === undefined ? undefined : decodeEnvelope(bytes)
  } finally {
    await conn.close()
  }
}

/** Stores an envelope on one replica only, as replication does (REPLICA_PUT). */
async function replicaPut(address: string, key: string, envelope: Envelope): Promise<void> {
  const conn = await tcpTransport().connect(address, { nodeId: 'test-probe' })
  try {
    const k = Buffer.from(key)
    await conn.request(MessageType.REPLICA_PUT, encodeReplicaPut({ partition: partitionOf(k, 4096), key: k, envelope: encodeEnvelope(envelope), durable: false }))
  } finally {
    await conn.close()
  }
}

test.before(async () => {
  cluster = await startCluster(3)
  client = await connect({ seeds: cluster.seeds, timeoutMs: 3000 })
})

test.after(async () => {
  await client?.close()
  await cluster?.close()
  console.log(`integration figures: ${JSON.stringify(figures)}`)
})

test('put, get, delete and scan through the client', async () => {
  for (let i = 0; i < 50; i++) {
    await client.put(`user:${String(i).padStart(3, '0')}`, `value ${i}`)
    figures.operations++
  }
  const g = await client.get('user:007')
  figures.operations++
  assert.ok(g.found)
  assert.is(g.value?.toString(), 'value 7')
  assert.ok(g.context.length > 0)
  await client.delete('user:007', { context: g.context })
  figures.operations++
  assert.is((await client.get('user:007')).found, false)
  const keys: string[] = []
  for await (const e of client.scan({ prefix: 'user:', pageSize: 7 })) keys.push(e.key.toString())
  figures.operations++
  assert.is(keys.length, 49, `scan returned ${keys.length}: ${keys.join(',')}`)
  assert.equal(keys, [...keys].sort())
  assert.not.ok(keys.includes('user:007'))
  // Durable acknowledgements from every replica, although the nodes fsync on an interval.
  await client.put('durable', 'yes', { w: 'all', dw: 'all' })
  figures.operations++
  // A delete without a context removes every version the coordinating replica has seen.
  await client.put('temp', 'x')
  await client.delete('temp')
  assert.is((await client.get('temp', { r: 'all' })).found, false)
  figures.operations += 3
  const binary = Buffer.from([0, 1, 2, 255, 254])
  await client.put(binary, Buffer.from([9, 9, 0, 9]))
  assert.equal((await client.get(binary)).value, Buffer.from([9, 9, 0, 9]))
  figures.operations += 2
})

test('the HTTP API: values, contexts, siblings as 300, JSON errors', async () => {
  let res = await http('/kv/greeting', { method: 'PUT', body: 'hello' })
  assert.ok(res.status < 300, `PUT status ${res.status}`)
  res = await http('/kv/greeting')
  assert.is(res.status, 200)
  assert.is(await res.text(), 'hello')
  const context = res.headers.get('x-ringkv-context')
  assert.ok(context)
  // Two writes without context: siblings.
  await http('/kv/greeting', { method: 'PUT', body: 'hi' })
  await http('/kv/greeting', { method: 'PUT', body: 'hey' })
  res = await http('/kv/greeting')
  assert.is(res.status, 300)
  const body = (await res.json()) as { siblings: unknown[]; context: string }
  assert.ok(body.siblings.length >= 2)
  figures.siblingsSeen += body.siblings.length
  // A write with that context resolves them.
  res = await http('/kv/greeting', { method: 'PUT', body: 'resolved', headers: { 'x-ringkv-context': body.context } })
  assert.ok(res.status < 300)
  res = await http('/kv/greeting')
  assert.is(res.status, 200)
  assert.is(await res.text(), 'resolved')
  res = await http('/kv/never-written')
  assert.is(res.status, 404)
  const err = (await res.json()) as { error: { code: string } }
  assert.ok(err.error.code)
  res = await http('/kv/x?r=abc')
  assert.is(res.status, 400)
  res = await http('/kv/x', { method: 'PUT', body: 'v', headers: { 'x-ringkv-context': 'not a context!' } })
  assert.is(res.status, 400)
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'ERR_BAD_CONTEXT')
})

test('concurrent writes without context become siblings; a write with the context resolves them', async () => {
  const other = await connect({ seeds: [cluster.seeds[2]!], tokenAware: false })
  try {
    await Promise.all([client.put('cart', 'apples'), other.put('cart', 'pears')])
    figures.operations += 2
    const g = await client.get('cart', { r: 'all' })
    figures.operations++
    const values = g.siblings.map((s) => s.value.toString()).sort()
    assert.equal(values, ['apples', 'pears'])
    assert.is(g.value, undefined)
    figures.siblingsSeen += g.siblings.length
    await client.put('cart', 'apples+pears', { context: g.context })
    const after = await client.get('cart', { r: 'all' })
    figures.operations += 2
    assert.is(after.siblings.length, 1)
    assert.is(after.value?.toString(), 'apples+pears')
  } finally {
    await other.close()
  }
})

test('with one node stopped, R=2 and W=2 still succeed', async () => {
  await cluster.nodes[2]!.stop()
  try {
    for (let i = 0; i < 20; i++) {
      await client.put(`degraded:${i}`, `v${i}`, { w: 2 })
      assert.is((await client.get(`degraded:${i}`, { r: 2 })).value?.toString(), `v${i}`)
      figures.operations += 2
    }
  } finally {
    await cluster.nodes[2]!.start()
  }
})

test('with two nodes stopped, W=2 fails with a quorum error; the cluster serves again once they return', async () => {
  await cluster.nodes[1]!.stop()
  await cluster.nodes[2]!.stop()
  try {
    // Normally at once (each stopping node announced it); under a loaded machine an announcement can miss its
    // window, and phi-accrual convicts the node instead. The write below is only deterministic once it is known.
    figures.msUntilSeenDown = await waitUntilSeenDown(cluster.nodes[0]!, [cluster.nodes[1]!.id, cluster.nodes[2]!.id], 20_000)
    const only = await connect({ seeds: [cluster.seeds[0]!], timeoutMs: 2000, retries: 0 })
    try {
      let error: { code?: string; details?: Record<string, unknown> } | undefined
      const began = performance.now()
      try {
        await only.put('lonely', 'x', { w: 2, timeoutMs: 1000 })
      } catch (e) {
        error = e as typeof error
      }
      figures.operations++
      assert.is(error?.code, 'ERR_QUORUM')
      assert.is(error?.details?.required, 2)
      // The coordinator knows both replicas are down: it answers at once that W=2 cannot be met, without waiting
      // for any acknowledgement (nor for the timeout). It still applied the write itself.
      assert.is(error?.details?.received, 0, JSON.stringify(error))
      assert.ok(performance.now() - began < 900, `failed after ${Math.round(performance.now() - began)} ms, not at once`)
      figures.quorumErrors++
    } finally {
      await only.close()
    }
  } finally {
    await Promise.all([cluster.nodes[1]!.start(), cluster.nodes[2]!.start()])
  }
  await client.put('lonely', 'back', { w: 2 })
  // The write that missed its quorum was still applied where it could be (Dynamo makes no promise to
  // undo it), so the later write without a context sits beside it as a sibling; a write with the
  // read's context resolves them.
  const g = await client.get('lonely', { r: 'all' })
  assert.equal(g.siblings.map((s) => s.value.toString()).sort(), ['back', 'x'])
  figures.siblingsSeen += g.siblings.length
  await client.put('lonely', 'settled', { w: 2, context: g.context })
  assert.is((await client.get('lonely', { r: 'all' })).value?.toString(), 'settled')
  figures.operations += 4
})

test('a replica that missed a write is repaired by a quorum read', async () => {
  const stale = cluster.nodes[2]!
  // Two replicas hold a version the third never got -- as after a lost message. (A replica that is merely
  // stopped during a write gets it back by hinted handoff once it returns: hinted-handoff.test.ts.)
  const fresh = updateEnvelope(undefined, undefined, 'writer#1', { value: Buffer.from('fresh'), timestamp: Date.now() })
  for (const node of cluster.nodes.slice(0, 2)) await replicaPut(node.address, 'repair-me', fresh)
  figures.operations++
  assert.is(await replicaEnvelope(stale.address, 'repair-me'), undefined, 'the third replica does not have the key')
  const g = await client.get('repair-me', { r: 'all' })
  figures.operations++
  assert.is(g.value?.toString(), 'fresh')
  // Repairs of replicas the answer came from complete before the answer.
  const env = await replicaEnvelope(stale.address, 'repair-me')
  assert.ok(env, 'the stale replica holds the key after the read')
  assert.is(Buffer.from(env!.siblings[0]!.value!).toString(), 'fresh')
  figures.repairsVerified++
})

test('values with a TTL disappear when they expire', async () => {
  await client.put('ephemeral', 'soon gone', { ttlMs: 400 })
  assert.is((await client.get('ephemeral')).value?.toString(), 'soon gone')
  await sleep(600)
  const g = await client.get('ephemeral', { r: 'all' })
  figures.operations += 3
  assert.is(g.found, false)
  const keys: string[] = []
  for await (const e of client.scan({ prefix: 'ephemeral' })) keys.push(e.key.toString())
  assert.equal(keys, [])
})

test('bad input gets clear errors', async () => {
  const big = Buffer.alloc(70 * 1024, 1)
  for (const [what, call, code] of [
    ['oversized key', () => client.put(big, 'v'), 'ERR_KEY_TOO_LARGE'],
    ['oversized value', () => client.put('k', Buffer.alloc(17 * 1024 * 1024)), 'ERR_VALUE_TOO_LARGE'],
    ['bad context', () => client.put('k', 'v', { context: '!!!' }), 'ERR_BAD_CONTEXT'],
  ] as const) {
    let code_: string | undefined
    try {
      await call()
    } catch (e) {
      code_ = (e as { code?: string }).code
    }
    figures.operations++
    assert.ok(code_ !== undefined, `${what} was accepted`)
    assert.ok([code, 'ERR_FRAME_TOO_LARGE', 'ERR_OBJECT_TOO_LARGE', 'ERR_INVALID_ARGUMENT'].includes(code_!), `${what}: got ${code_}`)
  }
})

test.run()
