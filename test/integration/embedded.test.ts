// startNode: ring members inside the caller's process (three here, over TCP on 127.0.0.1), used
// through their `service` directly (local reads skip the network) and through a client.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { connect, startNode, type RingkvNode } from '../../src/index.ts'
import { silentLogger } from '../../src/runtime/index.ts'
import { freePorts } from './harness.ts'

test('three embedded nodes form a cluster; a write through one is read through another', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-embedded-'))
  const ports = await freePorts(3)
  const seeds = ports.map((p) => `127.0.0.1:${p}`)
  const nodes: RingkvNode[] = []
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startNode({ id: `e${i + 1}`, listen: seeds[i]!, seeds, dataDir: join(root, `e${i + 1}`), logger: silentLogger }),
      )
    }
    // The three find each other over gossip; the smallest id forms the ring and the others fetch it.
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3, timeoutMs: 10_000 })))
    assert.ok(nodes.every((n) => n.members().length === 3))
    assert.is(nodes[0]!.ring().checksum, nodes[2]!.ring().checksum, 'every node holds the same ring')
    // Their statuses ('joining' until they hold the ring, then 'normal') reach the others in a gossip round or two.
    const allNormal = (): boolean => nodes.every((n) => n.status().members.every((m) => m.status === 'normal' && m.up))
    for (let i = 0; i < 100 && !allNormal(); i++) await new Promise((r) => setTimeout(r, 50))
    for (const n of nodes) {
      const status = n.status()
      assert.is(status.members.length, 3)
      assert.ok(status.members.every((m) => m.status === 'normal' && m.up), JSON.stringify(status.members))
      assert.is(status.members.reduce((sum, m) => sum + m.owned, 0), status.ring!.q, 'every partition has one owner')
    }
    const written = await nodes[0]!.service.put(Buffer.from('embedded'), Buffer.from('yes'))
    assert.ok(written.context)
    const read = await nodes[2]!.service.get(Buffer.from('embedded'))
    assert.is(read.value?.toString(), 'yes')
    const client = await connect({ seeds: [seeds[1]!] })
    assert.is((await client.get('embedded')).value?.toString(), 'yes')
    await client.close()
    assert.ok(nodes[0]!.stats().coordinator.writes >= 1)
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
    rmSync(root, { recursive: true, force: true })
  }
})

test('bad node options are refused by name', async () => {
  for (const [options, name] of [
    [{ id: '', listen: '127.0.0.1:1' }, 'id'],
    [{ id: 'a', listen: 'nope' }, 'listen'],
    [{ id: 'a', listen: '127.0.0.1:1', partitions: 1000 }, 'partitions'],
    [{ id: 'a', listen: '127.0.0.1:1', keyspace: { n: 3, r: 5 } }, 'keyspace.r'],
    [{ id: 'a', listen: '127.0.0.1:1', durability: 'fast' }, 'durability'],
  ] as const) {
    try {
      await startNode(options as never)
      assert.unreachable(`${name} was accepted`)
    } catch (e) {
      const err = e as { code?: string; message: string }
      assert.is(err.code, 'ERR_INVALID_ARGUMENT', err.message)
      assert.match(err.message, name)
    }
  }
})

test.run()
