/**
 * What one replica-store operation costs on the native store, 1 KiB values, beside what it is made of (the
 * engine's get and put, the envelope codec and arithmetic, a no-op native call), so that the store's own
 * overhead is visible:
 *   update           the coordinator's write with the context of the previous write (one sibling stays one)
 *   merge (changed)  replica sync of a newer envelope: read, merge, write
 *   merge (same)     replica sync of an envelope already stored: read, merge, no write
 *   get              read and decode
 * Writes run `perTurn` to an event-loop turn, and the time includes the turns' log writes ('interval' mode,
 * the engine default); figures are the median of `rounds` rounds over `keys` keys, taken in the memtable and
 * again after a flush (reads from the table files, through the row cache).
 *
 *   node --import tsx bench/micro/store.ts [keys=20000] [rounds=5] [perTurn=1000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nativeNoop } from '../../src/engine/index.ts'
import { NativeStore } from '../../src/storage/index.ts'
import { contextOf, decodeEnvelope, encodeEnvelope, mergeEnvelopes, updateEnvelope, type Envelope } from '../../src/versioning/index.ts'
import { describeMachine, machineInfo } from '../lib/machine.ts'

const keys = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 5)
const perTurn = Number(process.argv[4] ?? 1000)
const VALUE_BYTES = 1024
const PARTITIONS = 64

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Timing {
  /** Wall-clock ns per op. */
  wall: number
  /** CPU ns per op (user + system, the whole process: the engine's own threads included). */
  cpu: number
}

/** Cost per op of `op(i)` for i in 0..n, `perTurn` to a turn, waiting for the last turn's promises. */
async function timed(n: number, op: (i: number) => Promise<void> | void): Promise<Timing> {
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  let pending: Promise<void> | void = undefined
  for (let i = 0; i < n; i++) {
    pending = op(i)
    if ((i + 1) % perTurn === 0) {
      await pending
      await nextTurn()
    }
  }
  await pending
  const used = process.cpuUsage(cpu)
  return { wall: Number(process.hrtime.bigint() - start) / n, cpu: ((used.user + used.system) * 1000) / n }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function main(): Promise<void> {
  console.log(describeMachine(machineInfo()))
  console.log(`keys=${keys} rounds=${rounds} perTurn=${perTurn} value=${VALUE_BYTES} B, durability 'interval'\n`)
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-store-'))
  const store = await NativeStore.open(dir)
  const engine = store.engine
  const key = Array.from({ length: keys }, (_, i) => Buffer.from(`user:${String(i).padStart(8, '0')}`))
  const partition = (i: number) => i % PARTITIONS
  const value = (i: number, r: number) => {
    const v = Buffer.alloc(VALUE_BYTES, (i + r) & 0xff)
    v.writeUInt32BE(r, 0)
    return v
  }
  const order = Array.from({ length: keys }, (_, i) => (i * 7919) % keys) // a fixed permutation
  const results: Record<string, Timing[]> = {}
  const record = (name: string, t: Timing) => (results[name] ??= []).push(t)

  // Load: one sibling per key.
  const ctx: Array<Envelope['context'] | undefined> = new Array(keys).fill(undefined)
  await timed(keys, (i) => {
    const r = store.update(partition(i), key[i]!, undefined, 'n1#0', { value: value(i, 0), timestamp: 1 })
    ctx[i] = contextOf(r.stored)
    return r.durable
  })

  const phase = async (label: string) => {
    for (let r = 1; r <= rounds; r++) {
      const fresh = key.map((_, i) => value(i, r)) // the clients' values, made outside the timing
      record(`${label} update`, await timed(keys, (j) => {
        const i = order[j]!
        const u = store.update(partition(i), key[i]!, ctx[i], 'n1#0', { value: fresh[i]!, timestamp: r })
        ctx[i] = contextOf(u.stored)
        return u.durable
      }))
      // Newer envelopes from another replica, prepared outside the timing.
      const incoming = key.map((k, i) => {
        const stored = store.get(partition(i), k)!
        return updateEnvelope(stored, contextOf(stored), 'n2#0', { value: value(i, r + 100), timestamp: r })
      })
      record(`${label} merge (changed)`, await timed(keys, (j) => {
        const i = order[j]!
        return store.merge(partition(i), key[i]!, incoming[i]!).durable
      }))
      record(`${label} merge (same)`, await timed(keys, (j) => {
        const i = order[j]!
        return store.merge(partition(i), key[i]!, incoming[i]!).durable
      }))
      for (let i = 0; i < keys; i++) ctx[i] = contextOf(incoming[i]!)
      record(`${label} get`, await timed(keys, (j) => {
        const i = order[j]!
        store.get(partition(i), key[i]!)
      }))
      // The parts, on the same data.
      const storageKeys = key.map((k, i) => Buffer.concat([Buffer.from([0, partition(i)]), k]))
      const raw = storageKeys.map((k) => engine.get(k)!)
      record(`${label} part: engine.get`, await timed(keys, (j) => {
        engine.get(storageKeys[order[j]!]!)
      }))
      record(`${label} part: decode (zero-copy)`, await timed(keys, (j) => {
        decodeEnvelope(raw[order[j]!]!, { copy: false })
      }))
      const envs = raw.map((b) => decodeEnvelope(b))
      record(`${label} part: updateEnvelope`, await timed(keys, (j) => {
        const e = envs[order[j]!]!
        updateEnvelope(e, e.context, 'n1#0', { value: fresh[0]!, timestamp: r })
      }))
      record(`${label} part: mergeEnvelopes`, await timed(keys, (j) => {
        const i = order[j]!
        mergeEnvelopes(envs[i]!, incoming[i]!)
      }))
      record(`${label} part: encodeEnvelope`, await timed(keys, (j) => {
        encodeEnvelope(envs[order[j]!]!)
      }))
      record(`${label} part: engine.put`, await timed(keys, (j) => {
        const i = order[j]!
        return engine.put(storageKeys[i]!, raw[i]!)
      }))
    }
  }

  await phase('memtable')
  await engine.flush()
  await engine.compact()
  await phase('tables')

  const start = process.hrtime.bigint()
  for (let i = 0; i < 1_000_000; i++) nativeNoop()
  const noop = Number(process.hrtime.bigint() - start) / 1_000_000

  console.log('| operation | wall ns/op: median | min | CPU ns/op: median | min |')
  console.log('|---|---:|---:|---:|---:|')
  for (const [name, ts] of Object.entries(results)) {
    const wall = ts.map((t) => t.wall)
    const cpu = ts.map((t) => t.cpu)
    console.log(`| ${name} | ${median(wall).toFixed(0)} | ${Math.min(...wall).toFixed(0)} | ${median(cpu).toFixed(0)} | ${Math.min(...cpu).toFixed(0)} |`)
  }
  console.log(`| native no-op call | ${noop.toFixed(0)} | | | |`)
  console.log(`\nload average after the run: ${machineInfo().loadAverage.join(', ')} on ${machineInfo().cores} cores`)
  const s = store.stats()
  console.log(`\nstore stats: ${JSON.stringify(s)}`)
  console.log(`engine: ${engine.stats().walFsyncs} fsyncs, ${engine.stats().cacheHits} cache hits, ${engine.stats().cacheMisses} misses`)
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}

await main()
