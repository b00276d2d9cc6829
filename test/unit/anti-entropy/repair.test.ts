// Anti-entropy between three in-process nodes: replicas made to diverge behind the nodes' backs (a key removed,
// an older version put back, writes that reached one replica, bytes damaged) converge after `repair`, newer data
// is never overwritten, the report counts exactly what diverged, and 1% divergence moves a small share of what
// a full copy would.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { MAX_KEY_BYTES, encodeStorageKey, segmentOf, type MemoryStore } from '../../../src/storage/index.ts'
import { contextOf, envelopesEqual, type Envelope } from '../../../src/versioning/index.ts'
import { START_MS, world, type World } from './helpers.ts'

const b = (s: string): Buffer => Buffer.from(s)
const values = (e: Envelope | undefined): string[] => (e === undefined ? [] : e.siblings.map((s) => (s.value === null ? '<deleted>' : Buffer.from(s.value).toString())))

/** Keys written through the node, and for each partition, how many keys share each leaf. */
function leafLoad(w: World, keys: string[]): Map<string, number> {
  const load = new Map<string, number>()
  for (const k of keys) {
    const p = w.partition(k)
    const id = `${p}/${segmentOf(encodeStorageKey(p, b(k), MAX_KEY_BYTES), 1024)}`
    load.set(id, (load.get(id) ?? 0) + 1)
  }
  return load
}

function leafOf(w: World, k: string): string {
  const p = w.partition(k)
  return `${p}/${segmentOf(encodeStorageKey(p, b(k), MAX_KEY_BYTES), 1024)}`
}

// The virtual clock advances whenever JavaScript is idle, also while the engine computes a digest on its own
// thread: on a loaded machine that real wait can be many virtual seconds, and an exchange must not time out on it.
const NATIVE_TIMEOUT_MS = 600_000

test('diverged replicas converge, newer data is never overwritten, and the report counts exactly what diverged', async () => {
  const w = await world()
  try {
    const a = w.node('a')
    const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`)
    for (const k of keys) await a.service.put(b(k), b(`v1 of ${k}`), { w: 'all' })
    // Four keys in four partitions, each alone in its leaf, so the expected leaves and keys are exact.
    const load = leafLoad(w, keys)
    const chosen: string[] = []
    const used = new Set<number>()
    for (const k of keys) {
      if (chosen.length === 4) break
      if (load.get(leafOf(w, k)) === 1 && !used.has(w.partition(k))) {
        chosen.push(k)
        used.add(w.partition(k))
      }
    }
    const [removed, older, onlyOnA, newerOnC] = chosen as [string, string, string, string]
    const actor = (id: string): string => w.node(id).actor
    const now = (): number => w.clock.now()

    // `older`: overwritten through the node; c is put back to the version before.
    const p2 = w.partition(older)
    const before = w.store('c').get(p2, b(older))!
    const current = await a.service.get(b(older), { r: 'all' })
    await a.service.put(b(older), b('v2'), { w: 'all', context: current.context })
    await w.store('c').remove(p2, b(older))
    w.store('c').merge(p2, b(older), before)
    // `removed`: gone from b.
    await w.store('b').remove(w.partition(removed), b(removed))
    // `onlyOnA`: a new key that reached a alone (its coordinator crashed before sending it on, say).
    w.store('a').update(w.partition(onlyOnA), b('fresh:1'), undefined, actor('a'), { value: b('only on a'), timestamp: now() })
    // `newerOnC`: a newer write that reached c alone.
    const p4 = w.partition(newerOnC)
    w.store('c').update(p4, b(newerOnC), contextOf(w.store('c').get(p4, b(newerOnC))!), actor('c'), { value: b('newer on c'), timestamp: now() })
    assert.not.ok(await w.converged())

    const report = await a.repair()
    assert.ok(await w.converged(), 'every replica of every partition has the same root')
    for (const id of w.ids) {
      const s = w.store(id)
      assert.equal(values(s.get(p2, b(older))), ['v2'], `${id}: the newer version won`)
      assert.equal(values(s.get(w.partition(removed), b(removed))), [`v1 of ${removed}`], `${id}: the removed key is back`)
      assert.equal(values(s.get(w.partition(onlyOnA), b('fresh:1'))), ['only on a'])
      assert.equal(values(s.get(p4, b(newerOnC))), ['newer on c'], `${id}: c's newer write was not overwritten`)
    }
    // a<->b: `removed` and `fresh:1` differ; a<->c: `older`, `fresh:1`, `newerOnC`; a learned `newerOnC` from c,
    // so a second pass a<->b carries it on. fresh:1 may share a leaf with another key of its partition.
    const freshShares = (load.get(leafOf(w, 'fresh:1')) ?? 0) > 0 ? load.get(leafOf(w, 'fresh:1'))! : 0
    assert.equal(
      {
        partitions: report.partitions,
        exchanges: report.exchanges,
        failed: report.exchangesFailed,
        leaves: report.leavesDiffering,
        compared: report.keysCompared,
        repaired: report.keysRepaired,
        here: report.keysRepairedHere,
        peers: report.keysRepairedOnPeers,
        complete: report.partitionsComplete,
      },
      {
        partitions: 16,
        exchanges: 32 + 1,
        failed: 0,
        leaves: 2 + 3 + 1,
        compared: 6 + 2 * freshShares,
        repaired: 6,
        here: 1,
        peers: 5,
        complete: 16,
      },
    )
    assert.ok(report.bytesSent > 0 && report.bytesReceived > 0)
    assert.is(report.errors.length, 0)
    // In sync now: a second round only compares roots.
    const again = await w.node('b').repair()
    assert.equal([again.leavesDiffering, again.keysRepaired, again.exchanges], [0, 0, 32])
    assert.ok(again.bytesSent + again.bytesReceived < 32 * 100, `${again.bytesSent + again.bytesReceived} bytes for 32 roots`)
    const stats = a.stats().antiEntropy
    assert.equal([stats.rounds, stats.keysRepaired], [1, 6])
  } finally {
    await w.close()
  }
})

test('1% divergence: anti-entropy sends a small share of what a full copy would', async () => {
  const w = await world({ q: 16 })
  try {
    const random = new SeededRandom(7)
    const keys = 4000
    const value = (i: number, version: number): Buffer => Buffer.alloc(1000, `${i}:${version};`)
    // Loaded straight into the stores (as three replicas that received every write), then made to diverge.
    const [sa, sb, sc] = w.ids.map((id) => w.store(id))
    const older = new Map<number, Envelope>()
    for (let i = 0; i < keys; i++) {
      const k = b(`key:${i}`)
      const p = w.partition(k)
      let e = sa!.update(p, k, undefined, w.node('a').actor, { value: value(i, 1), timestamp: START_MS }).stored
      if (i % 100 === 0) {
        older.set(i, e)
        e = sa!.update(p, k, contextOf(e), w.node('a').actor, { value: value(i, 2), timestamp: START_MS + 1 }).stored
      }
      sb!.merge(p, k, e)
      sc!.merge(p, k, e)
    }
    const diverged = keys / 100
    for (let n = 0; n < diverged; n++) {
      const i = n * 100
      const k = b(`key:${i}`)
      const p = w.partition(k)
      const target = [sa, sb, sc][random.int(3)]!
      const kind = n % 3
      if (kind === 0) await target.remove(p, k)
      else if (kind === 1) {
        await target.remove(p, k)
        target.merge(p, k, older.get(i)!)
      } else {
        const stored = target.get(p, k)!
        target.update(p, k, contextOf(stored), 'writer#1', { value: value(i, 3), timestamp: START_MS + 2 })
      }
    }
    const report = await w.node('a').repair()
    assert.ok(await w.converged())
    for (let n = 0; n < diverged; n++) {
      const k = b(`key:${n * 100}`)
      const p = w.partition(k)
      const [ea, eb, ec] = [sa, sb, sc].map((s) => s!.get(p, k)!)
      assert.ok(envelopesEqual(ea!, eb!) && envelopesEqual(ea!, ec!))
      if (n % 3 === 2) assert.equal(values(ea), [`${value(n * 100, 3).toString()}`], 'the newer write everywhere')
      else assert.equal(values(ea), [`${value(n * 100, 2).toString()}`], 'version 2 everywhere')
    }
    const moved = report.bytesSent + report.bytesReceived
    const ofData = moved / report.dataBytes
    const ofFullCopies = moved / report.fullCopyBytes
    console.log(
      `anti-entropy after 1% divergence (${diverged} of ${keys} keys, 1 KB values, ${w.q} partitions, 3 replicas): ` +
        `${moved} bytes moved (${report.bytesSent} sent, ${report.bytesReceived} received) for ${report.keysRepaired} repaired copies; ` +
        `${(100 * ofData).toFixed(2)}% of the ${report.dataBytes} bytes of data, ${(100 * ofFullCopies).toFixed(2)}% of the ` +
        `${report.fullCopyBytes} bytes that full copies to both peers would move`,
    )
    assert.ok(ofData < 0.05, `${(100 * ofData).toFixed(2)}% of the data`)
    const again = await w.node('a').repair()
    assert.is(again.keysRepaired, 0)
    console.log(`  a round with nothing to repair: ${again.bytesSent + again.bytesReceived} bytes (${again.exchanges} exchanges)`)
  } finally {
    await w.close()
  }
})

test('damaged bytes are found and replaced by a replica\'s copy, whichever side starts the round', async () => {
  const w = await world()
  try {
    for (let i = 0; i < 50; i++) await w.node('a').service.put(b(`k${i}`), b(`v${i}`), { w: 'all' })
    const damaged = ['k3', 'k17']
    for (const k of damaged) (w.store('b') as MemoryStore).backing.put(encodeStorageKey(w.partition(k), b(k), MAX_KEY_BYTES), b('\x00not an envelope'))
    assert.throws(() => w.store('b').get(w.partition('k3'), b('k3')), (e: { code?: string }) => e.code === 'ERR_CORRUPTION')
    const fromB = await w.node('b').repair({ partitions: [w.partition('k3')] })
    assert.is(fromB.corruptRepaired, 1)
    assert.equal(values(w.store('b').get(w.partition('k3'), b('k3'))), ['v3'])
    const fromA = await w.node('a').repair()
    assert.is(fromA.keysRepairedOnPeers, 1, 'k17 replaced on b')
    assert.equal(values(w.store('b').get(w.partition('k17'), b('k17'))), ['v17'])
    assert.ok(await w.converged())
  } finally {
    await w.close()
  }
})

test('nodes on the native engine converge the same way (digests computed by the engine)', async () => {
  const w = await world({ native: true, node: { requestTimeoutMs: NATIVE_TIMEOUT_MS } })
  try {
    const a = w.node('a')
    for (let i = 0; i < 200; i++) await a.service.put(b(`n${i}`), b(`v${i}`), { w: 'all' })
    await w.store('b').remove(w.partition('n5'), b('n5'))
    const p = w.partition('n9')
    const stored = w.store('c').get(p, b('n9'))!
    w.store('c').update(p, b('n9'), contextOf(stored), w.node('c').actor, { value: b('newer'), timestamp: w.clock.now() })
    const report = await w.node('b').repair()
    assert.equal([report.keysRepaired, report.keysRepairedHere, report.keysRepairedOnPeers], [3, 2, 1])
    assert.ok(await w.converged())
    for (const id of w.ids) assert.equal(values(w.store(id).get(p, b('n9'))), ['newer'])
  } finally {
    await w.close()
  }
})

test('repair of named partitions; partitions the node does not hold or that do not exist are refused', async () => {
  const w = await world({ q: 16 })
  try {
    const a = w.node('a')
    await a.service.put(b('k'), b('v'), { w: 'all' })
    const p = w.partition('k')
    await w.store('c').remove(p, b('k'))
    const other = await a.repair({ partitions: [(p + 1) % 16] })
    assert.equal([other.partitions, other.keysRepaired], [1, 0])
    const mine = await a.repair({ partitions: [p, p] })
    assert.equal([mine.partitions, mine.keysRepaired], [1, 1])
    for (const partitions of [[16], [-1], [1.5]]) {
      try {
        await a.repair({ partitions })
        assert.unreachable(`${partitions} accepted`)
      } catch (e) {
        assert.is((e as { code?: string }).code, 'ERR_BAD_REQUEST')
        assert.match((e as Error).message, /partition/)
      }
    }
  } finally {
    await w.close()
  }
})

test('background rounds repair on their own every antiEntropyIntervalMs; the throttle paces them', async () => {
  const w = await world({ node: { antiEntropyIntervalMs: 30_000, antiEntropyMaxPartitionsPerSecond: 8 } })
  try {
    await w.node('a').service.put(b('k'), b('v'), { w: 'all' })
    await w.store('b').remove(w.partition('k'), b('k'))
    const started = w.clock.now()
    const repaired = (): boolean => w.ids.some((id) => w.node(id).stats().antiEntropy.keysRepaired >= 1)
    while (!repaired() || !(await w.converged())) {
      assert.ok(w.clock.now() - started < 120_000, 'converged within a few intervals')
      await new Promise<void>((r) => w.clock.setTimeout(r, 1000))
    }
    assert.ok(w.clock.now() - started >= 30_000, 'not before the first interval')
    const rounds = w.ids.map((id) => w.node(id).stats().antiEntropy)
    // 16 partitions at 8 per second: about two seconds a round.
    const last = rounds.find((s) => s.lastRound !== undefined)!.lastRound!
    assert.ok(last.durationMs >= 1800, `a round took ${last.durationMs} ms`)
  } finally {
    await w.close()
  }
})

test.run()
