// `npm run bench:micro`: the hot functions one by one, with tinybench, so the cost of each piece of a request is
// known before a design is built around it (STYLE practice 12): ring lookup, version-vector compare and merge,
// the envelope codec, frame encoding and decoding, request payload codecs, the replica store, and a no-op
// native call beside Engine.get and getMany(100).
//
// Functions that take well under a microsecond run `BATCH` times per timed call, and the figure is divided
// back: a clock read per call would otherwise be most of what is measured. Results: a console table,
// bench/results/micro-<timestamp>.json, micro-latest.json and micro-latest.md; `--json` prints the JSON.
//
//   npm run bench:micro [-- --time-ms 300] [--only ring,codec] [--json] [--out DIR]
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { decodeGetReply, encodeGetReply, encodeReplicaGet, decodeReplicaGet } from '../../src/cluster/messages.ts'
import { Engine, nativeNoop } from '../../src/engine/index.ts'
import { FrameDecoder, FrameKind, writeFrameHeader, FRAME_HEADER_BYTES } from '../../src/protocol/frame.ts'
import { claim } from '../../src/ring/claim.ts'
import { partitionOf } from '../../src/ring/hash.ts'
import { preferenceList } from '../../src/ring/preference.ts'
import { NativeStore } from '../../src/storage/index.ts'
import {
  contextOf,
  decodeEnvelope,
  encodeEnvelope,
  mergeEnvelopes,
  updateEnvelope,
  vv,
  vvCompare,
  vvMerge,
  type Envelope,
} from '../../src/versioning/index.ts'
import { describeMachine, machineInfo } from '../lib/machine.ts'
import { renderMarkdown, renderText, writeResults, type Table } from '../lib/report.ts'

const BATCH = 100
const GROUPS = ['ring', 'clock', 'codec', 'frame', 'native', 'store'] as const
type Group = (typeof GROUPS)[number]

export interface MicroResult {
  group: Group
  name: string
  /** Nanoseconds per operation: mean and median over the samples. */
  meanNs: number
  medianNs: number
  p99Ns: number
  opsPerSec: number
  samples: number
}

interface Task {
  group: Group
  name: string
  /** Operations per call of fn. */
  ops: number
  fn: () => unknown
}

let sink = 0
const use = (x: unknown): void => {
  if (x === sink) sink++
}

function batched(group: Group, name: string, one: (i: number) => unknown): Task {
  return {
    group,
    name,
    ops: BATCH,
    fn: () => {
      for (let i = 0; i < BATCH; i++) use(one(i))
    },
  }
}

async function buildTasks(dir: string): Promise<{ tasks: Task[]; close: () => Promise<void> }> {
  const tasks: Task[] = []
  const keys = Array.from({ length: BATCH }, (_, i) => Buffer.from(`key:${String(i * 7919).padStart(10, '0')}`))

  // Ring: SHA-256 of the key to its partition, then the partition's preference list (cached per ring).
  const three = claim(undefined, ['n1', 'n2', 'n3'].map((id) => ({ id })), { q: 4096, n: 3 }).ring
  const sixteen = claim(undefined, Array.from({ length: 16 }, (_, i) => ({ id: `n${i + 1}` })), { q: 4096, n: 3 }).ring
  tasks.push(batched('ring', 'partitionOf (SHA-256 of a 14-byte key)', (i) => partitionOf(keys[i]!, 4096)))
  tasks.push(batched('ring', 'preferenceList, 3 nodes (cached)', (i) => preferenceList(three, (i * 41) % 4096)))
  tasks.push(batched('ring', 'preferenceList, 16 nodes (cached)', (i) => preferenceList(sixteen, (i * 41) % 4096)))

  // Version vectors of three actors, as a 3-replica cluster makes them.
  const a = vv({ 'n1#1': 10, 'n2#1': 7, 'n3#1': 3 })
  const b = vv({ 'n1#1': 9, 'n2#1': 8, 'n3#1': 3 })
  tasks.push(batched('clock', 'vvCompare (3 actors, concurrent)', () => vvCompare(a, b)))
  tasks.push(batched('clock', 'vvMerge (3 actors)', () => vvMerge(a, b)))

  // Envelopes of 1 KiB values: one sibling (the common case) and three (concurrent writers).
  const value = randomBytes(1024)
  let one: Envelope = updateEnvelope(undefined, undefined, 'n1#1', { value, timestamp: 1 })
  one = updateEnvelope(one, contextOf(one), 'n2#1', { value, timestamp: 2 })
  let three3: Envelope = one
  for (const actor of ['n1#1', 'n2#1', 'n3#1']) three3 = updateEnvelope(three3, contextOf(one), actor, { value, timestamp: 3 })
  const oneBytes = encodeEnvelope(one)
  const threeBytes = encodeEnvelope(three3)
  tasks.push(batched('codec', 'encodeEnvelope (1 sibling, 1 KiB)', () => encodeEnvelope(one)))
  tasks.push(batched('codec', 'decodeEnvelope (1 sibling, 1 KiB)', () => decodeEnvelope(oneBytes)))
  tasks.push(batched('codec', 'decodeEnvelope (1 sibling, no copy)', () => decodeEnvelope(oneBytes, { copy: false })))
  tasks.push(batched('codec', 'decodeEnvelope (3 siblings)', () => decodeEnvelope(threeBytes)))
  tasks.push(batched('codec', 'mergeEnvelopes (equal, 1 sibling)', () => mergeEnvelopes(one, one)))
  tasks.push(batched('codec', 'updateEnvelope (with context)', () => updateEnvelope(one, contextOf(one), 'n1#1', { value, timestamp: 9 })))
  const getReply = encodeGetReply({ found: true, siblings: [{ value, timestamp: 1, expiresAt: 0 }], context: 'abcdefabcdefabcdef' })
  tasks.push(batched('codec', 'encodeGetReply (1 KiB)', () => encodeGetReply({ found: true, siblings: [{ value, timestamp: 1, expiresAt: 0 }], context: 'abcdefabcdefabcdef' })))
  tasks.push(batched('codec', 'decodeGetReply (1 KiB)', () => decodeGetReply(getReply)))
  const replicaGet = encodeReplicaGet({ partition: 17, key: keys[0]! })
  tasks.push(batched('codec', 'encode + decode REPLICA_GET', (i) => decodeReplicaGet(i === 0 ? replicaGet : encodeReplicaGet({ partition: 17, key: keys[i]! }))))

  // Frames: the 12-byte header written into a batch, and a batch of 100 frames decoded from one chunk.
  const arena = Buffer.allocUnsafe(BATCH * (FRAME_HEADER_BYTES + 64))
  tasks.push(batched('frame', 'writeFrameHeader + 64-byte payload copy', (i) => {
    const at = i * (FRAME_HEADER_BYTES + 64)
    writeFrameHeader(arena, at, 1, FrameKind.REQUEST, 64, i + 1, 64)
    arena.set(value.subarray(0, 64), at + FRAME_HEADER_BYTES)
    return at
  }))
  tasks.push({
    group: 'frame',
    name: 'FrameDecoder: 100 frames from one chunk, per frame',
    ops: BATCH,
    fn: () => {
      const decoder = new FrameDecoder()
      decoder.push(arena)
      let n = 0
      while (decoder.next() !== undefined) n++
      use(n)
    },
  })

  // Native calls: the cost of crossing into Rust, beside a read and a batched read.
  const engine = await Engine.open(join(dir, 'engine'), { durability: 'none' })
  const engineKeys = Array.from({ length: 10_000 }, (_, i) => Buffer.from(`engine:${String(i).padStart(8, '0')}`))
  for (let i = 0; i < engineKeys.length; i += 500) {
    await engine.writeBatch(engineKeys.slice(i, i + 500).map((key) => ({ type: 'put' as const, key, value })))
  }
  tasks.push(batched('native', 'no-op native call', () => nativeNoop()))
  tasks.push(batched('native', 'Engine.get (memtable, 1 KiB)', (i) => engine.get(engineKeys[(i * 97) % engineKeys.length]!)))
  const many = engineKeys.slice(0, 100)
  tasks.push({ group: 'native', name: 'Engine.getMany(100), per key', ops: 100, fn: () => use(engine.getMany(many)) })

  // The replica store: what a replica does per request (read + decode; read, merge, write).
  const store = await NativeStore.open(join(dir, 'store'), { engine: { durability: 'none' } })
  for (let i = 0; i < BATCH; i++) store.update(i % 64, keys[i]!, undefined, 'n1#1', { value, timestamp: 1 })
  tasks.push(batched('store', 'store.get (read + decode)', (i) => store.get(i % 64, keys[i]!)))
  const incoming = keys.map((k, i) => store.get(i % 64, k)!)
  tasks.push(batched('store', 'store.merge (same envelope: read, merge, no write)', (i) => store.merge(i % 64, keys[i]!, incoming[i]!)))
  let t = 10
  tasks.push(batched('store', 'store.update (read, update, write)', (i) => {
    const stored = store.get(i % 64, keys[i]!)
    return store.update(i % 64, keys[i]!, stored === undefined ? undefined : contextOf(stored), 'n1#1', { value, timestamp: t++ })
  }))
  return {
    tasks,
    close: async () => {
      await store.close()
      await engine.close()
    },
  }
}

async function main(): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        'time-ms': { type: 'string' },
        only: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values
  } catch (error) {
    console.error(`bench:micro: ${(error as Error).message}`)
    return 2
  }
  if (values.help) {
    console.log(`usage: npm run bench:micro -- [--time-ms 300] [--only ${GROUPS.join(',')}] [--json] [--out DIR]`)
    return 0
  }
  const timeMs = values['time-ms'] === undefined ? 300 : Number(values['time-ms'])
  if (!Number.isFinite(timeMs) || timeMs <= 0) {
    console.error(`bench:micro: --time-ms must be a positive number, got '${values['time-ms']}'`)
    return 2
  }
  const only = values.only === undefined ? [...GROUPS] : values.only.split(',').map((s) => s.trim())
  for (const g of only) {
    if (!(GROUPS as readonly string[]).includes(g)) {
      console.error(`bench:micro: --only: unknown group '${g}'; choose from ${GROUPS.join(', ')}`)
      return 2
    }
  }
  const report = values.json ? console.error : console.log
  const started = new Date()
  const machine = machineInfo()
  report(describeMachine(machine))
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-micro-'))
  const results: MicroResult[] = []
  try {
    const { tasks, close } = await buildTasks(dir)
    try {
      const bench = new Bench({ time: timeMs, warmupTime: Math.min(100, timeMs / 3) })
      const chosen = tasks.filter((t) => (only as string[]).includes(t.group))
      for (const t of chosen) bench.add(t.name, t.fn)
      await bench.run()
      for (const t of chosen) {
        const r = bench.getTask(t.name)?.result
        if (r === undefined || !('latency' in r)) throw new Error(`micro task '${t.name}' did not complete: ${r?.state}`)
        const perOp = (ms: number): number => Math.round((ms * 1e6) / t.ops)
        results.push({
          group: t.group,
          name: t.name,
          meanNs: perOp(r.latency.mean),
          medianNs: perOp(r.latency.p50),
          p99Ns: perOp(r.latency.p99),
          opsPerSec: Math.round((1e9 / Math.max(1, (r.latency.mean * 1e6) / t.ops))),
          samples: r.latency.samplesCount,
        })
      }
    } finally {
      await close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const table: Table = {
    headers: ['group', 'operation', 'ns/op (median)', 'mean', 'p99 of timed calls', 'ops/s'],
    rows: results.map((r) => [r.group, r.name, r.medianNs.toLocaleString('en-US'), r.meanNs.toLocaleString('en-US'), r.p99Ns.toLocaleString('en-US'), r.opsPerSec.toLocaleString('en-US')]),
    leftAligned: [0, 1],
  }
  report(renderText(table))
  const end = machineInfo()
  const json = { benchmark: 'micro', formatVersion: 1, startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine, loadAverageAtEnd: end.loadAverage, batch: BATCH, timeMs, results }
  const markdown = [`## Micro benchmarks, ${started.toISOString()}`, '', describeMachine(machine), '',
    `tinybench, ${timeMs} ms per task; functions under a microsecond are timed ${BATCH} calls at a time and divided back. ` +
      `Load average ${machine.loadAverage.join(' / ')} at the start, ${end.loadAverage.join(' / ')} at the end.`, '', renderMarkdown(table)].join('\n')
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
  const written = writeResults(values.out === undefined ? join(repoRoot, 'bench', 'results') : resolve(values.out), 'micro', started, json, markdown)
  if (values.json) console.log(JSON.stringify(json))
  report(`results: ${written.latestJson}, ${written.latestMarkdown}`)
  if (sink < 0) throw new Error('unreachable')
  return 0
}

process.exitCode = await main()
