// `npm run bench`: the whole suite in one command -- the engine benchmark (ringkv beside lmdb-js and
// classic-level), the micro benchmarks, and the cluster benchmark (a local 3-node cluster beside the bare
// request path and Redis) -- each in its own process, one after another, then the report: JSON and markdown
// per part, bench-latest.md for the whole run, and report.html with the latency curves and throughput over
// time, all in bench/results/ (or --out DIR).
//
// It is sized to finish within 15 minutes on the 2-core development machine: the engine part runs on 200k
// keys (the engine's own 1M-key figures come from `npm run bench:engine`) with phases capped at 10 s, the
// cluster scenarios 20 s each after 5 s of warm-up. Flags after `--` are passed on: --quick (shorter
// everything), --skip engine,micro,cluster, --check (exit 1 when a target is missed), --out DIR.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { allVerdicts } from './report/report.ts'
import { loadSuite, writeSuiteReport } from './report/run.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const PARTS = ['engine', 'micro', 'cluster'] as const
type Part = (typeof PARTS)[number]

function usage(): string {
  return `usage: npm run bench -- [--quick] [--skip ${PARTS.join(',')}] [--check] [--out DIR]`
}

function runPart(script: string, args: string[]): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT })
    child.once('error', fail)
    child.once('exit', (code, signal) => done(code ?? (signal === null ? 1 : 128)))
  })
}

async function main(): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: { quick: { type: 'boolean', default: false }, skip: { type: 'string' }, check: { type: 'boolean', default: false }, out: { type: 'string' }, help: { type: 'boolean', default: false } },
    }).values
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${usage()}`)
    return 2
  }
  if (values.help) {
    console.log(usage())
    return 0
  }
  const skip = new Set((values.skip ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''))
  for (const s of skip) {
    if (!(PARTS as readonly string[]).includes(s)) {
      console.error(`bench: --skip: unknown part '${s}'; choose from ${PARTS.join(', ')}`)
      return 2
    }
  }
  const out = values.out === undefined ? join(ROOT, 'bench', 'results') : resolve(values.out)
  mkdirSync(out, { recursive: true })
  const quick = values.quick
  const engineKeys = quick ? '50k' : '200k'
  const plan: Record<Part, { script: string; args: string[] }> = {
    engine: { script: 'bench/engine/run.ts', args: ['--keys', engineKeys, '--phase-seconds', quick ? '3' : '10', '--name', 'engine-suite', '--out', out] },
    micro: { script: 'bench/micro/run.ts', args: ['--time-ms', quick ? '100' : '300', '--out', out] },
    cluster: {
      script: 'bench/cluster/run.ts',
      args: ['--out', out, ...(quick ? ['--duration', '5', '--warmup', '2', '--keys', '20k'] : ['--duration', '20', '--warmup', '5'])],
    },
  }
  const startedAt = new Date().toISOString()
  const partSeconds: Record<string, number> = {}
  const failed: string[] = []
  for (const part of PARTS) {
    if (skip.has(part)) continue
    console.error(`\n=== bench: ${part} ===`)
    const t0 = performance.now()
    const code = await runPart(plan[part].script, plan[part].args)
    partSeconds[part] = (performance.now() - t0) / 1000
    if (code !== 0) failed.push(`${part} (exit ${code})`)
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' })
  const meta = {
    startedAt,
    finishedAt: new Date().toISOString(),
    commit: commit.status === 0 ? commit.stdout.trim() : undefined,
    partSeconds,
    notes: [
      `engine part on ${engineKeys} keys (npm run bench:engine runs the 1M-key workload of DESIGN.md section 10)`,
      ...[...skip].map((s) => `${s}: skipped (--skip); the report shows its previous result file if there is one`),
      ...failed.map((f) => `${f} failed: see its output above`),
    ],
  }
  writeFileSync(join(out, 'suite-latest.json.tmp'), `${JSON.stringify(meta, null, 2)}\n`)
  renameSync(join(out, 'suite-latest.json.tmp'), join(out, 'suite-latest.json'))
  const suite = loadSuite(out)
  const written = writeSuiteReport(out, suite)
  const verdicts = allVerdicts(suite)
  console.error(`\n=== bench: targets ===`)
  for (const v of verdicts) console.error(`${v.status.padEnd(5)} ${v.area.padEnd(8)} ${v.what}: wanted ${v.wanted}, measured ${v.measured}`)
  console.error(`\nreport: ${written.html}\nsummary: ${written.markdown}\ntook ${Math.round(Object.values(partSeconds).reduce((a, b) => a + b, 0))} s`)
  if (failed.length > 0) return 1
  if (values.check && verdicts.some((v) => v.status === 'FAIL' || v.status === 'ERROR')) return 1
  return 0
}

process.exitCode = await main()
