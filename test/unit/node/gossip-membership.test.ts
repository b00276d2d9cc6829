// Gossip membership inside real nodes (startNode) over the in-process network in virtual time: a cluster
// forms, a stopping member announces it is down (conviction by the phi-accrual detector, for members that die
// without a word, is tested in test/unit/membership and test/sim) and is welcomed back when it restarts, a late
// node finds the ring and stays 'joining', and the ring state survives restarts (and refuses damage).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startNode, type RingkvNode } from '../../../src/node/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { VirtualClock, sleep } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { silentLogger } from '../../../src/runtime/index.ts'
import { NO_RING, compareRingStates, decodeRingState, encodeRingState, loadRingState, ringState, saveRingState } from '../../../src/node/ring-state.ts'
import { claim } from '../../../src/ring/index.ts'

function world(seed: number) {
  const clock = new VirtualClock({ startMs: 1_790_000_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 1 })
  const random = new SeededRandom(seed)
  const start = (id: string, seeds: string[], extra: Record<string, unknown> = {}): Promise<RingkvNode> =>
    startNode({
      id,
      listen: `${id}:1`,
      seeds,
      partitions: 64,
      clock,
      random: random.fork(),
      logger: silentLogger,
      transport: network.transport(),
      ...extra,
    })
  return { clock, start }
}

async function until(clock: VirtualClock, what: string, done: () => boolean, maxMs = 120_000): Promise<number> {
  const began = clock.now()
  while (!done()) {
    if (clock.now() - began > maxMs) throw new Error(`${what}: not within ${maxMs} ms of virtual time`)
    await sleep(clock, 100)
  }
  return clock.now() - began
}

test('three nodes form one ring; a stopping node announces it is down at once, and is up again once restarted', async () => {
  const { clock, start } = world(1)
  const seeds = ['a:1', 'b:1', 'c:1']
  const nodes = [await start('a', seeds), await start('b', seeds), await start('c', seeds)]
  try {
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3 })))
    assert.is(new Set(nodes.map((n) => n.ring().checksum)).size, 1, 'one ring')
    await until(clock, 'all normal', () => nodes.every((n) => n.status().members.every((m) => m.status === 'normal' && m.up)))
    const stoppedAt = clock.now()
    await nodes[2]!.close()
    // Taken from its own word during close, long before a failure detector could convict it (phi 8 needs
    // seconds of silence): peers stop sending it requests that would only fail.
    const downMs = clock.now() - stoppedAt
    for (const i of [0, 1]) {
      const view = nodes[i]!.status().members.find((m) => m.id === 'c')!
      assert.is(view.up, false, `${'ab'[i]} sees c down`)
      assert.is(view.status, 'down')
      assert.ok(view.phi < 8, `not convicted: phi ${view.phi}`)
    }
    assert.ok(downMs < 1000, `down after ${downMs} ms`)
    nodes[2] = await start('c', seeds)
    const backMs = await until(clock, 'c up again', () =>
      ['a', 'b'].every((_, i) => {
        const view = nodes[i]!.status().members.find((m) => m.id === 'c')!
        return view.up && view.status === 'normal'
      }),
    )
    assert.ok(backMs < 10_000, `up again after ${backMs} ms`)
    console.log(`gossip in nodes: a stopping node seen down after ${downMs} ms, up again ${backMs} ms after the restart (1 s rounds)`)
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
  }
})

test('a node started later adopts the existing ring and stays joining; members see it', async () => {
  const { clock, start } = world(2)
  const seeds = ['a:1', 'b:1', 'c:1']
  const nodes = [await start('a', seeds), await start('b', seeds), await start('c', seeds)]
  try {
    await Promise.all(nodes.map((n) => n.waitForRing({ members: 3 })))
    const late = await start('d', ['b:1'])
    nodes.push(late)
    await late.waitForRing()
    assert.is(late.ring().checksum, nodes[0]!.ring().checksum)
    assert.not.ok(late.ring().members.some((m) => m.id === 'd'), 'not an owner before it joins')
    await until(clock, 'd seen as joining', () => nodes[0]!.status().members.some((m) => m.id === 'd' && m.status === 'joining' && m.up))
    assert.is(nodes[0]!.status().members.find((m) => m.id === 'd')!.owned, 0)
  } finally {
    await Promise.all(nodes.map((n) => n.close()))
  }
})

test('requests before the cluster has formed fail as retryable ERR_UNAVAILABLE', async () => {
  const { start } = world(3)
  const a = await start('a', ['a:1', 'b:1', 'c:1'])
  try {
    assert.is(a.status().ring, undefined)
    try {
      await a.service.get(Buffer.from('k'))
      assert.unreachable('served without a ring')
    } catch (e) {
      assert.is((e as { code?: string }).code, 'ERR_UNAVAILABLE')
      assert.is((e as { details?: { retryable?: boolean } }).details?.retryable, true)
    }
  } finally {
    await a.close()
  }
})

test('ring state: ordering, codec round trip, persistence, damage is ERR_CORRUPTION', () => {
  const ring = claim(undefined, [{ id: 'a' }, { id: 'b' }], { q: 16, n: 2 }).ring
  const next = claim(ring, [{ id: 'a' }, { id: 'b' }, { id: 'c' }], { q: 16, n: 2 }).ring
  const s1 = ringState(1, ring, undefined)
  const s2 = ringState(2, ring, next)
  assert.ok(compareRingStates(s2, s1) > 0)
  assert.ok(compareRingStates(s1, NO_RING) > 0)
  const rival = ringState(2, ring, claim(ring, [{ id: 'a' }, { id: 'b' }, { id: 'd' }], { q: 16, n: 2 }).ring)
  assert.is(Math.sign(compareRingStates(s2, rival)), -Math.sign(compareRingStates(rival, s2)), 'equal versions order by checksum')
  const back = decodeRingState(encodeRingState(s2))
  assert.is(back.checksum, s2.checksum)
  assert.is(back.pending?.checksum, next.checksum)
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-ringstate-'))
  try {
    assert.is(loadRingState(dir), NO_RING)
    saveRingState(dir, s2)
    assert.is(loadRingState(dir).checksum, s2.checksum)
    const bytes = encodeRingState(s2)
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 5) ^ 0xff, bytes.length - 5)
    writeFileSync(join(dir, 'ring.bin'), bytes)
    assert.throws(() => loadRingState(dir), (e: { code?: string; message: string }) => e.code === 'ERR_CORRUPTION' && e.message.includes('ring.bin'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
