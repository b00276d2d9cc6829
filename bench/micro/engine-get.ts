/**
 * What one synchronous `Engine.get` costs through the napi binding, by where the answer comes from:
 * the memtable, an SSTable, or nowhere (a missing key), beside a native no-op and a 1 KiB
 * `Buffer.allocUnsafe`. 16-byte random keys, 1 KiB values, like the engine benchmark.
 *
 *   node --import tsx bench/micro/engine-get.ts [keys=20000] [rounds=7]
 *
 * Each figure is the median over `rounds` passes over the keys in random order (ns per call).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine, nativeNoop } from '../../src/engine/index.ts'

const n = Number(process.argv[2] ?? 20_000)
const rounds = Number(process.argv[3] ?? 7)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function time(label: string, body: () => number, calls: number): void {
  const results: number[] = []
  let sink = 0
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    sink += body()
    results.push(Number(process.hrtime.bigint() - t0) / calls)
  }
  if (sink < 0) throw new Error('unreachable')
  console.log(`${label.padEnd(34)} ${median(results).toFixed(0).padStart(6)} ns  (min ${Math.min(...results).toFixed(0)})`)
}

function shuffled<T>(xs: T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'ringkv-get-'))
const db = await Engine.open(dir, { durability: 'none' })
try {
  const keys = Array.from({ length: n }, () => randomBytes(16))
  const missing = Array.from({ length: n }, () => randomBytes(16))
  for (let i = 0; i < n; i += 100) {
    await db.writeBatch(keys.slice(i, i + 100).map((key) => ({ type: 'put' as const, key, value: randomBytes(1024) })))
  }
  const present = shuffled(keys)
  const gets = (ks: Buffer[]) => () => {
    let found = 0
    for (const k of ks) if (db.get(k) !== undefined) found++
    return found
  }
  time('noop', () => {
    for (let i = 0; i < n; i++) nativeNoop()
    return 0
  }, n)
  time('Buffer.allocUnsafe(1024)', () => {
    let s = 0
    for (let i = 0; i < n; i++) s += Buffer.allocUnsafe(1024).length
    return s
  }, n)
  time('get present (memtable)', gets(present), n)
  time('get missing (memtable only)', gets(missing), n)
  await db.flush()
  time('get present (sstable)', gets(present), n)
  time('get missing (with sstables)', gets(missing), n)
} finally {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
}
