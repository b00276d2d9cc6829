// Random and mutated frames against a live ringkv node (fast-check, seeded, bounded): the node never
// crashes and keeps serving a well-behaved client on another connection.
import { connect as netConnect } from 'node:net'
import fc from 'fast-check'
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { connect } from '../../src/client/index.ts'
import { encodeFrame, FrameKind, PROTOCOL_VERSION } from '../../src/protocol/index.ts'
import { encodeHelloRequest } from '../../src/protocol/hello.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { encodeGetRequest, encodeReplicaPut, encodeWriteRequest } from '../../src/cluster/messages.ts'
import { startCluster, type TestCluster } from './harness.ts'

// Every message a peer may send, except the admin commands (join, decommission, repair), which take no
// payload to be malformed and whose whole point is to act.
const APP_TYPES = [16, 17, 18, 19, 20, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 44, 48, 49, 53, 999]

function hello(): Buffer {
  return encodeFrame({
    version: 1,
    kind: FrameKind.REQUEST,
    type: MessageType.HELLO,
    requestId: 1,
    payload: encodeHelloRequest({ versions: { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION }, maxFrameBytes: 1 << 20, nodeId: 'fuzzer' }),
  })
}

/** Sends raw bytes on a fresh connection and waits until the node answers or closes it (bounded). */
function blast(address: string, bytes: Buffer): Promise<void> {
  const [host, port] = address.split(':') as [string, string]
  return new Promise((resolve) => {
    const socket = netConnect(Number(port), host)
    const done = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve()
    }
    // Done once the node answered past its HELLO reply, or closed the connection; bounded either way.
    const timer = setTimeout(done, 250)
    let received = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      // Frames are length-prefixed: count whole frames (the node coalesces them into one write).
      let frames = 0
      for (let at = 0; at + 4 <= received.length; at += 4 + received.readUInt32BE(at)) frames++
      if (frames >= 2) done()
    })
    socket.on('error', done)
    socket.on('close', done)
    socket.on('connect', () => socket.write(bytes))
  })
}

let cluster: TestCluster

test.before(async () => {
  cluster = await startCluster(1, ['--n', '1'])
})
test.after(async () => {
  await cluster?.close()
})

test('valid HELLO then random application frames: the node stays up and keeps answering', async () => {
  const valid = [
    encodeGetRequest({ key: Buffer.from('k'), r: undefined, pr: undefined, timeoutMs: 0 }),
    encodeWriteRequest({ key: Buffer.from('k'), value: Buffer.from('v'), context: undefined, w: undefined, pw: undefined, dw: undefined, timeoutMs: 0, ttlMs: 0, hops: 0 }),
    encodeReplicaPut({ partition: 1, key: Buffer.from('k'), envelope: Buffer.from([1, 2, 3]), durable: false }),
  ]
  let sent = 0
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...APP_TYPES),
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, byte]) => {
          const m = Buffer.from(v)
          if (m.length > 0) m[at % m.length] = byte
          return m
        }),
        fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([v, cut]) => Buffer.from(v).subarray(0, cut % (v.length + 1))),
      ),
      fc.uint8Array({ maxLength: 40 }),
      async (type, payload, trailer) => {
        const frame = encodeFrame({ version: PROTOCOL_VERSION, kind: FrameKind.REQUEST, type, requestId: 7, payload })
        await blast(cluster.seeds[0]!, Buffer.concat([hello(), frame, trailer]))
        sent++
      },
    ),
    { numRuns: 150, seed: 20261124 },
  )
  const client = await connect({ seeds: cluster.seeds })
  await client.put('still-alive', 'yes')
  assert.is((await client.get('still-alive')).value?.toString(), 'yes')
  await client.close()
  assert.ok(cluster.nodes[0]!.process !== undefined, 'the node process is still running')
  console.log(`fuzz: ${sent} connections with random or mutated frames; node still serving`)
})

test('raw garbage without HELLO is refused per connection', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
      await blast(cluster.seeds[0]!, Buffer.from(bytes))
    }),
    { numRuns: 60, seed: 7 },
  )
  const client = await connect({ seeds: cluster.seeds })
  assert.is((await client.get('still-alive')).value?.toString(), 'yes')
  await client.close()
})

test.run()
