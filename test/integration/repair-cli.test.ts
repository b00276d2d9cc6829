// `ringkv repair` against real nodes on 127.0.0.1: three embedded nodes over TCP (each on a memory store the test
// keeps, to make one diverge), the CLI run as its own process from source, its report printed and its exit code.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { startNode, type RingkvNode } from '../../src/index.ts'
import { silentLogger } from '../../src/runtime/index.ts'
import { MemoryStore } from '../../src/storage/index.ts'
import { partitionOf } from '../../src/ring/index.ts'
import { freePorts } from './harness.ts'

const RUN = fileURLToPath(new URL('./run-node.ts', import.meta.url))

function ringkv(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

test('ringkv repair runs a round on the node it names and prints the report; bad arguments exit 2', async () => {
  const ports = await freePorts(4)
  const seeds = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`)
  const stores = seeds.map(() => new MemoryStore())
  const nodes: RingkvNode[] = []
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startNode({ id: `r${i + 1}`, listen: seeds[i]!, seeds, partitions: 64, store: stores[i], logger: silentLogger, antiEntropyIntervalMs: 0 }),
      )
    }
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3, timeoutMs: 10_000 })))
    const up = (): boolean => nodes.every((n) => n.status().members.every((m) => m.up))
    for (let i = 0; i < 100 && !up(); i++) await new Promise((r) => setTimeout(r, 50))
    for (let i = 0; i < 20; i++) await nodes[0]!.service.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`), { w: 'all' })
    const lost = Buffer.from('k7')
    const p = partitionOf(lost, 64)
    await stores[1]!.remove(p, lost)

    const json = await ringkv(['repair', '--node', seeds[0]!, '--json'])
    assert.is(json.code, 0, json.stderr)
    const report = JSON.parse(json.stdout) as { node: string; partitions: number; keysRepaired: number; keysCompared: number; bytesSent: number }
    assert.equal([report.node, report.partitions, report.keysRepaired, report.keysCompared], ['r1', 64, 1, 1])
    assert.ok(report.bytesSent > 0)
    assert.is(Buffer.from(stores[1]!.get(p, lost)!.siblings[0]!.value!).toString(), 'v7', 'r2 has the key back')

    const human = await ringkv(['repair', '--node', seeds[2]!, '--partition', `${p}`])
    assert.is(human.code, 0, human.stderr)
    assert.match(human.stdout, /^repair on r3: 1 partitions \(1 reached every replica\), 2 exchanges, 0 failed/)
    assert.match(human.stdout, /repaired 0 copies/)
    assert.match(human.stdout, /moved \d+ B/)

    const bad = await ringkv(['repair', '--partition', 'seven'])
    assert.is(bad.code, 2)
    assert.match(bad.stderr, /--partition takes partition numbers/)
    const refused = await ringkv(['repair', '--node', seeds[0]!, '--partition', '64'])
    assert.is(refused.code, 1)
    assert.match(refused.stderr, /ERR_BAD_REQUEST: partition 64 is not one of the ring's 64/)
    const nobody = await ringkv(['repair', '--node', `127.0.0.1:${ports[3]}`, '--timeout', '2000'])
    assert.is(nobody.code, 1)
    assert.match(nobody.stderr, /ERR_CONNECT_FAILED/)

    // A replica down: the round reports it and exits 3.
    await nodes[2]!.close()
    const partial = await ringkv(['repair', '--node', seeds[0]!, '--partition', `${p}`, '--timeout', '20000'])
    assert.is(partial.code, 3, partial.stdout + partial.stderr)
    assert.match(partial.stdout, /1 failed|1 skipped/)
  } finally {
    await Promise.all(nodes.map((n) => n.close().catch(() => undefined)))
  }
})

test.run()
