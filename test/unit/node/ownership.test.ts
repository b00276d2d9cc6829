// Join and decommission with real nodes over the in-process network in virtual time, under a write load:
// every acknowledged write is readable at R=all afterwards, the moved fraction is what the claim promises,
// and a node's data directory records the partitions it finished pulling.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startNode, type NodeOptions, type RingkvNode } from '../../../src/node/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { VirtualClock, sleep } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { silentLogger } from '../../../src/runtime/index.ts'
import { MemoryStore } from '../../../src/storage/index.ts'
import { MemoryHintBacking } from '../../../src/handoff/index.ts'
import { partitionOf, partitionsReplicatedBy, preferenceList } from '../../../src/ring/index.ts'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const Q = 256

function world(seed: number) {
  const clock = new VirtualClock({ startMs: 1_790_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 1 })
  const random = new SeededRandom(seed)
  const start = (id: string, seeds: string[], extra: Partial<NodeOptions> = {}): Promise<RingkvNode> =>
    startNode({ id, listen: `${id}:1`, seeds, partitions: Q, clock, random: random.fork(), logger: silentLogger, transport: network.transport(), requestTimeoutMs: 1000, ...extra })
  return { clock, start, random }
}

/** Writes keys through random coordinators until stopped; records what was acknowledged. */
function writeLoad(nodes: () => RingkvNode[], random: SeededRandom, clock: VirtualClock) {
  const acked = new Map<string, string>()
  let stop = false
  let attempts = 0
  let failures = 0
  const done = (async () => {
    for (let i = 0; !stop && i < 5000; i++) {
      const live = nodes()
      const node = live[random.int(live.length)]!
      const key = `k${i}`
      const value = `v${i}`
      attempts++
      try {
        await node.service.put(Buffer.from(key), Buffer.from(value))
        acked.set(key, value)
      } catch {
        failures++
      }
      await sleep(clock, 5)
    }
  })()
  return {
    acked,
    stats: () => ({ attempts, failures }),
    stop: async () => {
      stop = true
      await done
    },
  }
}

async function checkAll(node: RingkvNode, acked: Map<string, string>): Promise<number> {
  let checked = 0
  for (const [key, value] of acked) {
    const r = await node.service.get(Buffer.from(key), { r: 'all' })
    assert.ok(r.siblings.some((s) => s.value.toString() === value), `acknowledged ${key}=${value} is missing after the ring change`)
    checked++
  }
  return checked
}

test('a fourth node joins and one leaves under a write load: nothing acknowledged is lost, ~1/(S+1) moves', async () => {
  const { clock, start, random } = world(11)
  const seeds = ['a:1', 'b:1', 'c:1']
  const nodes = [await start('a', seeds), await start('b', seeds), await start('c', seeds)]
  try {
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3 })))
    for (let i = 0; i < 200; i++) await nodes[i % 3]!.service.put(Buffer.from(`pre${i}`), Buffer.from(`p${i}`))
    const load = writeLoad(() => nodes, random, clock)
    const d = await start('d', seeds)
    nodes.push(d)
    await d.waitForRing()
    const joined = await d.join()
    assert.is(d.ring().members.length, 4)
    assert.ok(Math.abs(joined.movedFraction - 1 / 4) <= 0.02, `moved ${joined.movedFraction}`)
    assert.ok(joined.keysStreamed > 0)
    await sleep(clock, 3000)
    const left = await nodes[0]!.decommission()
    for (let i = 0; i < 100 && nodes[1]!.ring().members.length !== 3; i++) await sleep(clock, 100)
    assert.is(nodes[1]!.ring().members.length, 3)
    assert.not.ok(nodes[1]!.ring().members.some((m) => m.id === 'a'))
    await load.stop()
    const { attempts, failures } = load.stats()
    // Let every node learn the final ring, then read everything from a node that stayed.
    await sleep(clock, 3000)
    const all = new Map(load.acked)
    for (let i = 0; i < 200; i++) all.set(`pre${i}`, `p${i}`)
    const checked = await checkAll(nodes[1]!, all)
    console.log(
      `join: ${joined.partitionReplicasMoved} partition replicas moved (${(joined.movedFraction * 100).toFixed(2)}%), ${joined.keysStreamed} keys streamed; ` +
        `decommission: ${(left.movedFraction * 100).toFixed(2)}% moved; writes during the changes: ${attempts} attempted, ${failures} failed, ` +
        `${checked} acknowledged writes checked at R=all, 0 lost`,
    )
    assert.ok(load.acked.size > 50, `only ${load.acked.size} writes were acknowledged during the changes`)
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
  }
})

test('after a join, the nodes that handed partitions over remove their data once the ring is agreed for the grace period', async () => {
  const { clock, start } = world(5)
  const seeds = ['a:1', 'b:1', 'c:1']
  const stores = new Map(['a', 'b', 'c', 'd'].map((id) => [id, new MemoryStore()]))
  const options = (id: string): Partial<NodeOptions> => ({ store: stores.get(id)!, partitionCleanupGraceMs: 2000, partitionCleanupIntervalMs: 0 })
  const nodes = [await start('a', seeds, options('a')), await start('b', seeds, options('b')), await start('c', seeds, options('c'))]
  try {
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3 })))
    for (let i = 0; i < 300; i++) await nodes[i % 3]!.service.put(Buffer.from(`key${i}`), Buffer.from(`v${i}`), { w: 'all' })
    const d = await start('d', seeds, options('d'))
    nodes.push(d)
    await d.waitForRing()
    await d.join()
    for (let i = 0; i < 100 && !nodes.every((n) => n.ring().members.length === 4); i++) await sleep(clock, 100)
    const a = nodes[0]!
    const foreign = async (id: string): Promise<number> => {
      const kept = new Set(partitionsReplicatedBy(a.ring(), id))
      let count = 0
      for (let p = 0; p < Q; p++) if (!kept.has(p)) for await (const _ of stores.get(id)!.scan(p)) count++
      return count
    }
    const before = await foreign('a')
    assert.ok(before > 0, 'a still holds the partitions it handed over right after the commit')
    let early = await a.cleanupPartitions()
    // Until gossip shows every member holding the committed ring, nothing goes; then the grace period starts.
    for (let i = 0; i < 50 && early.skipped === 'ring not agreed'; i++) {
      await sleep(clock, 200)
      early = await a.cleanupPartitions()
    }
    assert.equal(early, { partitions: 0, keys: 0, skipped: 'grace period' }, 'not before the ring was agreed on for the grace period')
    await sleep(clock, 2500)
    const swept = await a.cleanupPartitions()
    assert.is(swept.keys, before)
    assert.ok(swept.partitions > 0)
    assert.is(await foreign('a'), 0)
    assert.is(a.stats().partitionCleanup.keys, before)
    for (const id of ['b', 'c']) await nodes.find((n) => n.id === id)!.cleanupPartitions()
    await sleep(clock, 2500)
    for (const n of nodes) await n.cleanupPartitions()
    for (const id of ['a', 'b', 'c', 'd']) assert.is(await foreign(id), 0, `${id} holds only partitions it replicates`)
    // Everything is still where the ring says: read at R=all from every replica.
    for (let i = 0; i < 300; i++) {
      const r = await nodes[i % 4]!.service.get(Buffer.from(`key${i}`), { r: 'all' })
      assert.is(r.value?.toString(), `v${i}`, `key${i}`)
    }
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
  }
})

test('join is refused for a member, decommission for a non-member, and both while another change is pending', async () => {
  const { start } = world(12)
  const seeds = ['a:1', 'b:1', 'c:1']
  const nodes = [await start('a', seeds), await start('b', seeds), await start('c', seeds)]
  try {
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3 })))
    const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => {
      try {
        await p
        return undefined
      } catch (e) {
        return (e as { code?: string }).code
      }
    }
    assert.is(await codeOf(nodes[0]!.join()), 'ERR_ALREADY_MEMBER')
    const d = await start('d', seeds)
    nodes.push(d)
    await d.waitForRing()
    assert.is(await codeOf(d.decommission()), 'ERR_NOT_MEMBER')
    const joining = d.join()
    assert.is(await codeOf(d.join()), 'ERR_RING_BUSY')
    await joining
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
  }
})

test('a join resumes after the joining node stops mid-stream, and after a source stops mid-stream', async () => {
  // Each node has a "disk" that outlives it: its replica store and hints in memory, its own files (ring state,
  // stream progress) in a data directory.
  const root = mkdtempSync(join(tmpdir(), 'ringkv-resume-'))
  const clock = new VirtualClock({ startMs: 1_790_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 1 })
  const random = new SeededRandom(13)
  const disks = new Map<string, { store: MemoryStore; hints: MemoryHintBacking }>()
  const running = new Map<string, RingkvNode>()
  const seeds = ['a:1', 'b:1', 'c:1']
  const start = async (id: string): Promise<RingkvNode> => {
    let disk = disks.get(id)
    if (disk === undefined) disks.set(id, (disk = { store: new MemoryStore(), hints: new MemoryHintBacking() }))
    const node = await startNode({
      id, listen: `${id}:1`, seeds, partitions: Q, clock, random: random.fork(), logger: silentLogger,
      transport: network.transport(), requestTimeoutMs: 1000, dataDir: join(root, id), store: disk.store, hintBacking: disk.hints,
    })
    running.set(id, node)
    return node
  }
  const stop = async (id: string): Promise<void> => {
    await running.get(id)!.close()
    running.delete(id)
  }
  try {
    for (const id of ['a', 'b', 'c']) await start(id)
    await Promise.all([...running.values()].map((n) => n.waitForRing({ members: 3 })))
    const written = new Map<string, string>()
    for (let i = 0; i < 600; i++) {
      await running.get('a')!.service.put(Buffer.from(`key${i}`), Buffer.from(`v${i}`))
      written.set(`key${i}`, `v${i}`)
    }
    let d = await start('d')
    await d.waitForRing()
    const streams = join(root, 'd', 'streams')
    const progress = (): number => (existsSync(streams) ? readdirSync(streams).length : 0)
    // The joiner stops once it has recorded some partitions but not all.
    const first = d.join().then(
      () => 'finished',
      (e: { code?: string }) => e.code,
    )
    for (let i = 0; i < 600 && progress() === 0; i++) await sleep(clock, 10)
    assert.ok(progress() > 0, 'the joiner started recording pulled partitions')
    await stop('d')
    assert.is(await first, 'ERR_CLOSED', 'the join stopped with its node')
    assert.ok(d.ringState().pending !== undefined, 'the pending ring is still there')
    // A source goes down too; the restarted joiner resumes on its own and pulls from the replicas that answer.
    await stop('b')
    d = await start('d')
    await sleep(clock, 3000)
    await start('b')
    for (let i = 0; i < 600 && !(d.ringState().pending === undefined && d.ring().members.length === 4); i++) await sleep(clock, 100)
    assert.is(d.ring().members.length, 4, 'the resumed join committed')
    for (const [key, value] of written) {
      const r = await running.get('c')!.service.get(Buffer.from(key), { r: 'all' })
      assert.equal(r.value?.toString(), value, key)
    }
    // The new owner holds what it gained on its own disk.
    let held = 0
    for (const [key] of written) {
      const p = partitionOf(Buffer.from(key), Q)
      if (preferenceList(d.ring(), p).primaries.includes('d') && disks.get('d')!.store.get(p, Buffer.from(key)) !== undefined) held++
    }
    const owned = [...written.keys()].filter((k) => preferenceList(d.ring(), partitionOf(Buffer.from(k), Q)).primaries.includes('d')).length
    assert.is(held, owned, 'every key of a gained partition is on the joiner')
  } finally {
    for (const n of running.values()) await n.close()
    rmSync(root, { recursive: true, force: true })
  }
})

test('abort: a join whose joiner is gone for good is discarded; refused while the joiner is alive or when nothing is pending', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-abort-'))
  const clock = new VirtualClock({ startMs: 1_790_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 1 })
  const random = new SeededRandom(17)
  const running = new Map<string, RingkvNode>()
  const seeds = ['a:1', 'b:1', 'c:1']
  const start = async (id: string): Promise<RingkvNode> => {
    const node = await startNode({
      id, listen: `${id}:1`, seeds, partitions: Q, clock, random: random.fork(), logger: silentLogger,
      transport: network.transport(), requestTimeoutMs: 1000, dataDir: join(root, id),
    })
    running.set(id, node)
    return node
  }
  const code = (f: () => unknown): string | undefined => {
    try {
      f()
      return undefined
    } catch (e) {
      return (e as { code?: string }).code
    }
  }
  try {
    for (const id of ['a', 'b', 'c']) await start(id)
    await Promise.all([...running.values()].map((n) => n.waitForRing({ members: 3 })))
    const b = running.get('b')!
    assert.is(code(() => b.abortRingChange()), 'ERR_NO_PENDING_CHANGE')
    for (let i = 0; i < 300; i++) await b.service.put(Buffer.from(`key${i}`), Buffer.from(`v${i}`))
    const d = await start('d')
    await d.waitForRing()
    const joining = d.join().then(() => 'finished', (e: { code?: string }) => e.code)
    for (let i = 0; i < 200 && b.ringState().pending === undefined; i++) await sleep(clock, 10)
    assert.ok(b.ringState().pending !== undefined, 'the join proposed its pending ring')
    assert.is(code(() => b.abortRingChange()), 'ERR_RING_BUSY', 'not while the joiner is alive')
    // The joiner dies for good (its data directory goes with it).
    await d.close()
    running.delete('d')
    assert.is(await joining, 'ERR_CLOSED')
    for (let i = 0; i < 300 && b.status().members.find((m) => m.id === 'd')?.up !== false; i++) await sleep(clock, 100)
    const report = b.abortRingChange()
    assert.equal(report, { aborted: b.ring().version + 1, driver: 'd', ring: b.ring().version })
    for (let i = 0; i < 100 && [...running.values()].some((n) => n.ringState().pending !== undefined); i++) await sleep(clock, 100)
    for (const n of running.values()) {
      assert.is(n.ringState().pending, undefined, `${n.id} dropped the pending ring`)
      assert.equal(n.ring().members.map((m) => m.id), ['a', 'b', 'c'])
    }
    // The cluster can change again, and nothing was lost.
    const e = await start('e')
    await e.waitForRing()
    await e.join()
    for (let i = 0; i < 100 && b.ring().members.length !== 4; i++) await sleep(clock, 100)
    assert.equal(b.ring().members.map((m) => m.id).sort(), ['a', 'b', 'c', 'e'])
    for (let i = 0; i < 300; i++) assert.is((await running.get('c')!.service.get(Buffer.from(`key${i}`), { r: 'all' })).value?.toString(), `v${i}`)
  } finally {
    for (const n of running.values()) await n.close()
    rmSync(root, { recursive: true, force: true })
  }
})

test.run()
