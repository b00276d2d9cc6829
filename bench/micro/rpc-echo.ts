/**
 * Echo requests per second over TCP loopback, 64 requests in flight, for each flush mode:
 *   turn       frames gathered per event-loop turn, one write per connection per turn (the default)
 *   microtask  gathered until the current microtask queue drains
 *   off        one socket write per frame (what the design warns against)
 *
 * and for two handlers: 'sync' answers at once; 'deferred' answers from a later macrotask (setImmediate), as a
 * handler waiting on the storage engine's thread pool would.
 *
 * The server runs in a child process so client and server each have a core, as two nodes would.
 *   node --import tsx bench/micro/rpc-echo.ts [seconds=3] [inflight=64] [payloadBytes=16]
 */
import { type ChildProcess, fork } from 'node:child_process'
import { handlerTable } from '../../src/net/rpc.ts'
import type { FlushMode } from '../../src/net/rpc.ts'
import { tcpTransport } from '../../src/net/tcp.ts'

const ECHO = 16

type HandlerKind = 'sync' | 'deferred'

async function serve(flush: FlushMode, kind: HandlerKind): Promise<void> {
  const echo =
    kind === 'sync'
      ? (payload: Buffer) => payload
      : (payload: Buffer) => new Promise<Uint8Array>((resolve) => setImmediate(resolve, payload))
  const server = await tcpTransport({ flush }).listen({
    address: '127.0.0.1:0',
    nodeId: 'echo-server',
    handlers: handlerTable([[ECHO, echo]]),
  })
  process.send?.(server.address)
  process.once('message', () => {
    void server.close().then(() => process.exit(0))
  })
}

async function run(flush: FlushMode, kind: HandlerKind, seconds: number, inflight: number, payloadBytes: number) {
  const child: ChildProcess = fork(new URL(import.meta.url), ['serve', flush, kind], { execArgv: ['--import', 'tsx'] })
  const address = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve(String(message)))
    child.once('error', reject)
  })
  const client = await tcpTransport({ flush }).connect(address, { nodeId: 'echo-client' })
  const payload = Buffer.alloc(payloadBytes, 1)
  const warmupEnd = performance.now() + 500
  const end = warmupEnd + seconds * 1000
  let counted = 0
  let writesAtStart = 0
  let startedAt = 0
  const loop = async () => {
    for (let i = 0; i < 1e9; i++) {
      const now = performance.now()
      if (now >= end) return
      await client.request(ECHO, payload)
      if (now >= warmupEnd) counted++
    }
  }
  const warm = setTimeout(() => {
    writesAtStart = client.stats.writes
    startedAt = performance.now()
  }, 500)
  await Promise.all(Array.from({ length: inflight }, loop))
  clearTimeout(warm)
  const elapsed = (performance.now() - startedAt) / 1000
  const writes = client.stats.writes - writesAtStart
  await client.close()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.send('stop')
  await exited
  return { flush, perSecond: Math.round(counted / elapsed), requestsPerWrite: counted / Math.max(1, writes) }
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as FlushMode, process.argv[4] as HandlerKind)
} else {
  const seconds = Number(process.argv[2] ?? 3)
  const inflight = Number(process.argv[3] ?? 64)
  const payloadBytes = Number(process.argv[4] ?? 16)
  console.log(`rpc echo over TCP loopback: ${inflight} in flight, ${payloadBytes}-byte payloads, ${seconds} s per mode`)
  for (const kind of ['sync', 'deferred'] as const) {
    for (const flush of ['turn', 'microtask', 'off'] as const) {
      const r = await run(flush, kind, seconds, inflight, payloadBytes)
      console.log(
        `  handler=${kind.padEnd(8)} flush=${r.flush.padEnd(9)} ${r.perSecond.toLocaleString('en-US').padStart(9)} requests/s` +
          `   ${r.requestsPerWrite.toFixed(1)} requests per client write`,
      )
    }
  }
}
