/**
 * client.get requests per second against one in-test node over TCP loopback, 64 calls in flight, beside the
 * bare path it is built on, in the same run:
 *   rpc          connection.request(CLIENT_GET) with a pre-encoded payload and decodeGetReply: the floor
 *   client       client.get(key): argument checks, encoding, token-aware pick, the retry loop, the result
 *                (a one-node ring: every key has the same primary, so the key is not hashed)
 *   client-hash  the same against a four-member ring (N = 2): SHA-256 of every key to find its primaries
 *   round-robin  client.get(key) with tokenAware: false
 *
 * The node runs in a child process (so client and node each have a core, as they would in a deployment) and
 * answers CLIENT_GET from a Map.
 *   node --import tsx bench/micro/client-get.ts [seconds=3] [inflight=64] [valueBytes=100] [keys=10000] [rounds=5]
 *
 * The variants run interleaved, round after round, and the median round is reported: on a shared machine one
 * variant measured alone can be hit by a burst of load from elsewhere.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { connect } from '../../src/client/index.ts'
import { decodeGetReply, decodeGetRequest, encodeGetReply, encodeGetRequest, encodeRingReply } from '../../src/cluster/messages.ts'
import { handlerTable } from '../../src/net/rpc.ts'
import { tcpTransport } from '../../src/net/tcp.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { claim } from '../../src/ring/claim.ts'
import { encodeRingMap } from '../../src/ring/ring-map.ts'

const keyOf = (i: number) => Buffer.from(`bench-key-${String(i).padStart(8, '0')}`)

/**
 * Two listeners on one store: the first sends a one-node ring, the second a ring of four members with N = 2
 * that all have the second listener's address -- so the client hashes every key to find its primaries (with
 * at most N members it need not: every member replicates every key).
 */
async function serve(valueBytes: number, keyCount: number): Promise<void> {
  const store = new Map<string, Buffer>()
  for (let i = 0; i < keyCount; i++) store.set(keyOf(i).toString('latin1'), Buffer.alloc(valueBytes, i & 0xff))
  const get = (payload: Buffer) => {
    const value = store.get(Buffer.from(decodeGetRequest(payload).key).toString('latin1'))
    const siblings = value === undefined ? [] : [{ value, timestamp: 1, expiresAt: 0 }]
    return encodeGetReply({ found: value !== undefined, siblings, context: 'c1' })
  }
  const addresses: string[] = []
  for (const ids of [['solo'], ['m0', 'm1', 'm2', 'm3']]) {
    const ring = encodeRingMap(claim(undefined, ids.map((id) => ({ id })), { q: 4096, n: Math.min(2, ids.length) }).ring)
    let address = ''
    const server = await tcpTransport().listen({
      address: '127.0.0.1:0',
      nodeId: 'bench-node',
      handlers: handlerTable([
        [MessageType.CLIENT_RING, () => encodeRingReply(ring, ids.map((id) => ({ id, address, http: undefined })))],
        [MessageType.CLIENT_GET, get],
      ]),
    })
    address = server.address
    addresses.push(address)
  }
  process.send?.(addresses)
  process.once('message', () => process.exit(0))
}

/** Run `inflight` loops of `call` for `seconds` after a 500 ms warm-up; requests per second. */
async function measure(call: (i: number) => Promise<unknown>, seconds: number, inflight: number, keyCount: number): Promise<number> {
  const warmupEnd = performance.now() + 500
  const end = warmupEnd + seconds * 1000
  let counted = 0
  let next = 0
  const loop = async () => {
    for (;;) {
      const now = performance.now()
      if (now >= end) return
      await call(next++ % keyCount)
      if (now >= warmupEnd) counted++
    }
  }
  await Promise.all(Array.from({ length: inflight }, loop))
  return Math.round(counted / seconds)
}

async function main(seconds: number, inflight: number, valueBytes: number, keyCount: number, rounds: number): Promise<void> {
  const child: ChildProcess = fork(new URL(import.meta.url), ['serve', String(valueBytes), String(keyCount)], {
    execArgv: ['--import', 'tsx'],
  })
  const [address, fourMembers] = await new Promise<string[]>((resolve, reject) => {
    child.once('message', (message) => resolve(message as string[]))
    child.once('error', reject)
  })
  console.log(
    `client.get over TCP loopback: ${inflight} in flight, ${valueBytes}-byte values, ${keyCount} keys, ` +
      `${rounds} rounds of ${seconds} s per variant, interleaved (median reported)`,
  )

  const keys = Array.from({ length: keyCount }, (_, i) => keyOf(i))
  const payloads = keys.map((key) => encodeGetRequest({ key, r: undefined, pr: undefined, timeoutMs: 5000 }))
  const connection = await tcpTransport().connect(address as string, { nodeId: 'bench-rpc' })
  const tokenAware = await connect({ seeds: [address as string] })
  const hashing = await connect({ seeds: [fourMembers as string] })
  const roundRobin = await connect({ seeds: [address as string], tokenAware: false })
  const clientGet = (client: typeof tokenAware) => async (i: number) => {
    const got = await client.get(keys[i] as Buffer)
    if (!got.found) throw new Error('missing key')
  }
  const variants: [string, (i: number) => Promise<unknown>][] = [
    ['rpc', async (i) => decodeGetReply(await connection.request(MessageType.CLIENT_GET, payloads[i] as Buffer))],
    ['client', clientGet(tokenAware)],
    ['client-hash', clientGet(hashing)],
    ['round-robin', clientGet(roundRobin)],
  ]
  const results = new Map<string, number[]>(variants.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const [name, call] of variants) results.get(name)?.push(await measure(call, seconds, inflight, keyCount))
  }
  await connection.close()
  await tokenAware.close()
  await hashing.close()
  await roundRobin.close()

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const floor = median(results.get('rpc') ?? [])
  for (const [name, xs] of results) {
    const m = median(xs)
    console.log(
      `  ${name.padEnd(12)} ${m.toLocaleString('en-US').padStart(9)} requests/s` +
        (name === 'rpc' ? '' : `   ${((100 * m) / floor).toFixed(0)}% of rpc`) +
        `   (rounds: ${xs.map((x) => Math.round(x / 1000)).join(', ')} k)`,
    )
  }

  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.send('stop')
  await exited
}

if (process.argv[2] === 'serve') {
  await serve(Number(process.argv[3]), Number(process.argv[4]))
} else {
  const [seconds, inflight, valueBytes, keyCount, rounds] = [3, 64, 100, 10_000, 5].map((fallback, i) => Number(process.argv[i + 2] ?? fallback))
  await main(seconds as number, inflight as number, valueBytes as number, keyCount as number, rounds as number)
}
