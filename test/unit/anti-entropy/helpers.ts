// In-process clusters for the anti-entropy tests: nodes started with startNode over the in-process network, in
// virtual time, each on a store the test keeps (a MemoryStore, or with `native` a NativeStore in a temporary
// directory), so it can make replicas diverge behind the nodes' backs and restart a node over the same data.
import { startNode, type RingkvNode } from '../../../src/node/index.ts'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { VirtualClock, sleep } from '../../../src/runtime/clock.ts'
import { SeededRandom } from '../../../src/runtime/random.ts'
import { silentLogger } from '../../../src/runtime/index.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBacking, MemoryStore, NativeStore, type ReplicaStore } from '../../../src/storage/index.ts'
import { partitionOf } from '../../../src/ring/index.ts'
import type { NodeOptions } from '../../../src/node/options.ts'

export const START_MS = 1_790_000_000_000
export const DAY_MS = 24 * 3600_000

export type TestStore = ReplicaStore & { readonly closed: boolean }

export interface World {
  clock: VirtualClock
  q: number
  ids: string[]
  nodes: Map<string, RingkvNode>
  stores: Map<string, TestStore>
  node(id: string): RingkvNode
  store(id: string): TestStore
  /** Starts (or restarts, over the same data) a node. */
  start(id: string, extra?: Partial<NodeOptions>): Promise<RingkvNode>
  stop(id: string): Promise<void>
  partition(key: string | Uint8Array): number
  /** Every replica's root of every partition equal (the stores' own digests). */
  converged(): Promise<boolean>
  close(): Promise<void>
}

export async function world(options: { seed?: number; q?: number; ids?: string[]; node?: Partial<NodeOptions>; native?: boolean } = {}): Promise<World> {
  const clock = new VirtualClock({ startMs: START_MS, autoAdvance: true })
  const network = new MemoryNetwork({ clock, latencyMs: 1 })
  const random = new SeededRandom(options.seed ?? 1)
  const q = options.q ?? 16
  const ids = options.ids ?? ['a', 'b', 'c']
  const seeds = ids.map((id) => `${id}:1`)
  const backings = new Map(ids.map((id) => [id, new MemoryBacking()]))
  const root = options.native ? mkdtempSync(join(tmpdir(), 'ringkv-ae-')) : undefined
  const openStore = async (id: string): Promise<TestStore> =>
    root === undefined ? new MemoryStore({ backing: backings.get(id)! }) : NativeStore.open(join(root, id), { engine: { durability: 'none' } })
  const nodes = new Map<string, RingkvNode>()
  const stores = new Map<string, TestStore>()
  const w: World = {
    clock,
    q,
    ids,
    nodes,
    stores,
    node: (id) => nodes.get(id)!,
    store: (id) => stores.get(id)!,
    async start(id, extra = {}) {
      const store = await openStore(id)
      stores.set(id, store)
      const node = await startNode({
        id,
        listen: `${id}:1`,
        seeds,
        partitions: q,
        clock,
        random: random.fork(),
        logger: silentLogger,
        transport: network.transport(),
        store,
        // Rounds run when a test asks (repair); the pace is the machine's.
        antiEntropyIntervalMs: 0,
        antiEntropyMaxPartitionsPerSecond: 1_000_000,
        antiEntropyMaxBytesPerSecond: 2 ** 40,
        ...options.node,
        ...extra,
      })
      nodes.set(id, node)
      return node
    },
    async stop(id) {
      await nodes.get(id)?.close()
      const store = stores.get(id)
      if (store !== undefined && !store.closed) await store.close()
      nodes.delete(id)
    },
    partition: (key) => partitionOf(typeof key === 'string' ? Buffer.from(key) : key, q),
    async converged() {
      for (let p = 0; p < q; p++) {
        const roots = await Promise.all([...stores.values()].filter((s) => !s.closed).map(async (s) => (await s.merkle(p, 1024)).root.toString('hex')))
        if (new Set(roots).size !== 1) return false
      }
      return true
    },
    async close() {
      for (const id of [...nodes.keys()]) await w.stop(id)
      if (root !== undefined) rmSync(root, { recursive: true, force: true })
    },
  }
  for (const id of ids) await w.start(id)
  await Promise.all([...nodes.values()].map((n) => n.waitForRing({ members: ids.length })))
  // Everyone up in everyone's failure detector.
  for (let i = 0; i < 600 && ![...nodes.values()].every((n) => n.status().members.every((m) => m.up)); i++) await sleep(clock, 100)
  return w
}

/** Waits `ms` of virtual time. */
export function pass(w: World, ms: number): Promise<void> {
  return sleep(w.clock, ms)
}

export function stores(w: World): ReplicaStore[] {
  return [...w.stores.values()]
}
