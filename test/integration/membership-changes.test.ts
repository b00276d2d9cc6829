// Real node processes on 127.0.0.1 under a write load: a node is killed with SIGKILL mid-load and
// restarted, a fourth node joins (`ringkv join`) and one is decommissioned (`ringkv decommission`), both
// through the CLI. Every write the cluster acknowledged (W=2) is then read at R=all: none may be lost.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { connect, type Client } from '../../src/client/index.ts'
import { startCluster, waitForRing, type TestCluster } from './harness.ts'

const RUN_NODE = fileURLToPath(new URL('./run-node.ts', import.meta.url))

function cli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_NODE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`ringkv ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Sequential writers over distinct keys, bounded in count and time; what was acknowledged is recorded. */
function writeLoad(client: Client, writers: number, maxMs: number) {
  const acked = new Map<string, string>()
  const errors = new Map<string, number>()
  let stop = false
  let attempts = 0
  const began = Date.now()
  const run = async (w: number): Promise<void> => {
    for (let i = 0; !stop && i < 20_000 && Date.now() - began < maxMs; i++) {
      const key = `w${w}-${i}`
      const value = `${w}:${i}`
      attempts++
      try {
        await client.put(key, value, { w: 2 })
        acked.set(key, value)
      } catch (e) {
        const code = (e as { code?: string }).code ?? 'ERR_UNKNOWN'
        errors.set(code, (errors.get(code) ?? 0) + 1)
      }
    }
  }
  const done = Promise.all(Array.from({ length: writers }, (_, w) => run(w)))
  return {
    acked,
    errors,
    attempts: () => attempts,
    stop: async () => {
      stop = true
      await done
    },
  }
}

let cluster: TestCluster

test.after(async () => {
  await cluster?.close()
})

test('kill -9 during writes, then join and decommission through the CLI: no acknowledged write is lost', async () => {
  // 256 partitions keep the anti-entropy rounds below short at their default pace (100 partitions/s).
  cluster = await startCluster(3, ['--durability', 'sync', '--partitions', '256'], 1)
  const [n1, n2, , n4] = cluster.nodes
  const client = await connect({ seeds: cluster.seeds, timeoutMs: 3000 })
  try {
    const load = writeLoad(client, 4, 90_000)
    await new Promise((r) => setTimeout(r, 1500))
    await n2!.kill()
    const killedAt = load.attempts()
    await new Promise((r) => setTimeout(r, 1500))
    await n2!.start()
    await new Promise((r) => setTimeout(r, 1000))

    await n4!.start()
    const joined = await cli(['join', '--node', n4!.address, '--json'])
    assert.is(joined.code, 0, joined.stderr)
    const joinReport = JSON.parse(joined.stdout) as { movedFraction: number; keysStreamed: number; partitionReplicasMoved: number }
    assert.ok(Math.abs(joinReport.movedFraction - 0.25) <= 0.02, `join moved ${joinReport.movedFraction}`)
    await waitForRing([n2!, n4!], 4)

    const left = await cli(['decommission', '--node', n1!.address, '--json'])
    assert.is(left.code, 0, left.stderr)
    const leaveReport = JSON.parse(left.stdout) as { movedFraction: number }
    const status = await cli(['status', '--node', n4!.address, '--json'])
    assert.ok([0, 3].includes(status.code ?? -1), status.stderr)
    await load.stop()

    // Anti-entropy on every owner, then once more: the second pass must find every partition's Merkle tree
    // equal on all its replicas (nothing differing, nothing repaired).
    const owners = [n2!, cluster.nodes[2]!, n4!]
    const aeBegan = Date.now()
    const first: Array<{ keysRepaired: number; bytesSent: number; bytesReceived: number; dataBytes: number }> = []
    for (const n of owners) {
      const r = await cli(['repair', '--node', n.address, '--json'])
      assert.is(r.code, 0, r.stderr)
      first.push(JSON.parse(r.stdout))
    }
    const convergedMs = Date.now() - aeBegan
    for (const n of owners) {
      const r = await cli(['repair', '--node', n.address, '--json'])
      assert.is(r.code, 0, r.stderr)
      const again = JSON.parse(r.stdout) as { leavesDiffering: number; keysRepaired: number }
      assert.is(again.leavesDiffering, 0, `${n.id} still differs from a replica after a full round`)
      assert.is(again.keysRepaired, 0)
    }
    const aeBytes = first.reduce((s, r) => s + r.bytesSent + r.bytesReceived, 0)
    const dataBytes = first.reduce((s, r) => s + r.dataBytes, 0)

    // Read everything back through nodes that stayed (the decommissioned one still runs, owning nothing).
    const reader = await connect({ seeds: [n2!.address, n4!.address], timeoutMs: 5000 })
    let checked = 0
    const lost: string[] = []
    try {
      for (const [key, value] of load.acked) {
        const r = await reader.get(key, { r: 'all' })
        if (!r.siblings.some((s) => s.value.toString() === value)) lost.push(key)
        checked++
      }
    } finally {
      await reader.close()
    }
    console.log(
      `processes: ${load.attempts()} writes attempted (${killedAt} before the kill), ${load.acked.size} acknowledged, ` +
        `errors ${JSON.stringify(Object.fromEntries(load.errors))}; join moved ${(joinReport.movedFraction * 100).toFixed(2)}% ` +
        `(${joinReport.keysStreamed} keys streamed), decommission moved ${(leaveReport.movedFraction * 100).toFixed(2)}%; ` +
        `${checked} acknowledged writes checked at R=all, ${lost.length} lost; anti-entropy: ${first.reduce((s, r) => s + r.keysRepaired, 0)} keys repaired, ` +
        `${aeBytes} bytes moved for ${dataBytes} bytes of data, every replica equal after ${convergedMs} ms`,
    )
    assert.equal(lost, [], `acknowledged writes lost: ${lost.slice(0, 10).join(', ')}`)
    assert.ok(load.acked.size > 100, `only ${load.acked.size} writes acknowledged`)
  } finally {
    await client.close()
  }
})

test.run()
