// `npm run bench:engine`: ringkv's storage engine beside lmdb-js and classic-level (LevelDB), one workload,
// one process, one run, with ratios and the targets of DESIGN.md section 10.
//
// Each engine in turn gets a fresh directory under os.tmpdir() and the same seeded operations (workload.ts):
// load (single puts, then batches of 100), random reads of present keys (sync, then 64 in flight), reads of
// missing keys, 100-key scans, full compaction and size, then durable writes into a second store (1 at a time
// and 64 in flight) beside a one-fsync-per-write baseline on a plain file. Every phase has a time cap; a phase
// that hits it reports the operations it did and says so. Engines run one after another, not interleaved, so
// none competes with another for the 2 cores or the page cache; each directory is removed when its engine is
// done. Results: a console report, bench/results/engine-<timestamp>.json, engine-latest.json and
// engine-latest.md. The exit code is 0 whatever the figures, unless --check is given (then 1 on a missed or
// unmeasurable target); 2 for a bad command line.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { nowNs, secondsSince } from '../lib/histogram.ts'
import { busyWarning, currentLoadAverage, describeMachine, machineInfo } from '../lib/machine.ts'
import { writeResults } from '../lib/report.ts'
import { ENGINE_NAMES, directorySize, type EngineAdapter, type EngineName, type OpenStore } from './adapters/adapter.ts'
import { levelAdapter } from './adapters/level.ts'
import { lmdbAdapter } from './adapters/lmdb.ts'
import { loadEngineModule, makeRingkvAdapter } from './adapters/ringkv.ts'
import {
  CONCURRENCY,
  concurrentPuts,
  fsyncBaseline,
  FILL_BATCH,
  load,
  pickKeys,
  prepLoad,
  readConcurrent,
  readSync,
  scans,
  verifySample,
  type PhaseResult,
} from './phases.ts'
import {
  evaluateTargets,
  renderConsole,
  renderMarkdownReport,
  type EngineRun,
  type NativeResult,
  type RunResult,
} from './summary.ts'
import { KEY_BYTES, VALUE_BYTES, Workload } from './workload.ts'

const GROUPS = ['load', 'read', 'missing', 'scan', 'size', 'durable', 'native'] as const
type Group = (typeof GROUPS)[number]

const DEFAULT_PHASE_SECONDS = 30
/** The untimed fill after a capped load may take this many phase caps. */
const FILL_CAP_FACTOR = 10

const USAGE = `usage: npm run bench:engine -- [options]

  --keys N          keys to load (default 1000000; 100k, 1M and 1_000_000 also work)
  --quick           100,000 keys (unless --keys is given)
  --engines LIST    comma-separated, from: ${ENGINE_NAMES.join(', ')} (default: all)
  --only LIST       phases to run, from: ${GROUPS.join(', ')} (default: all; read, missing,
                    scan, size and native load the data first, untimed, when load is not listed)
  --seed N          workload seed (default 1)
  --phase-seconds S time cap per phase (default 30; the untimed fill that completes a capped
                    load gets ${FILL_CAP_FACTOR}x that)
  --out DIR         where result files go (default bench/results)
  --name NAME       result file names: NAME-<timestamp>.json, NAME-latest.json/.md (default engine;
                    npm run bench uses engine-suite, so its shorter run leaves the 1M-key files alone)
  --json            print the result JSON on stdout (the report goes to stderr)
  --check           exit 1 when a DESIGN.md section 10 target is missed or could not be measured
  --help            this text`

class UsageError extends Error {}

interface Config {
  keys: number
  engines: EngineName[]
  only: Group[]
  seed: number
  phaseSeconds: number
  out: string
  name: string
  json: boolean
  check: boolean
}

function parseCount(flag: string, text: string): number {
  const m = /^(\d[\d_,]*)([kKmM]?)$/.exec(text.trim())
  if (!m) throw new UsageError(`${flag} must be a positive whole number (e.g. 1000000, 1_000_000, 100k, 1M), got '${text}'`)
  const base = Number(m[1]!.replaceAll(/[_,]/g, ''))
  const unit = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6
  return base * unit
}

function parseList<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new UsageError(`${flag} needs at least one of: ${allowed.join(', ')}`)
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${flag}: unknown '${item}'; choose from: ${allowed.join(', ')}`)
    }
  }
  return allowed.filter((a) => items.includes(a))
}

function parseName(text: string | undefined): string {
  if (text === undefined) return 'engine'
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(text)) throw new UsageError(`--name must be lowercase letters, digits and '-', got '${text}'`)
  return text
}

function parseConfig(argv: string[]): Config | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        keys: { type: 'string' },
        quick: { type: 'boolean', default: false },
        engines: { type: 'string' },
        only: { type: 'string' },
        seed: { type: 'string' },
        'phase-seconds': { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    })
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const v = parsed.values
  if (v.help) return 'help'
  const keys = v.keys !== undefined ? parseCount('--keys', v.keys) : v.quick ? 100_000 : 1_000_000
  if (keys < 1000) throw new UsageError(`--keys must be at least 1000, got ${keys}`)
  const phaseSeconds = v['phase-seconds'] !== undefined ? Number(v['phase-seconds']) : DEFAULT_PHASE_SECONDS
  if (!Number.isFinite(phaseSeconds) || phaseSeconds <= 0) {
    throw new UsageError(`--phase-seconds must be a positive number, got '${v['phase-seconds']}'`)
  }
  const seed = v.seed !== undefined ? parseCount('--seed', v.seed) : 1
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
  return {
    keys,
    engines: v.engines !== undefined ? parseList('--engines', v.engines, ENGINE_NAMES) : [...ENGINE_NAMES],
    only: v.only !== undefined ? parseList('--only', v.only, GROUPS) : [...GROUPS],
    seed,
    phaseSeconds,
    out: v.out !== undefined ? resolve(v.out) : join(repoRoot, 'bench', 'results'),
    name: parseName(v.name),
    json: v.json,
    check: v.check,
  }
}

/** How many operations each phase plans (a phase may stop earlier at its time cap). */
function plan(keys: number) {
  return {
    load: keys,
    writeConcurrent: Math.min(Math.floor(keys / 10), 20_000),
    readSync: Math.min(keys, 200_000),
    readAsync: Math.min(keys, 100_000),
    missingSync: Math.min(keys, 200_000),
    scans: 10_000,
    scanLimit: 100,
    durable: 2_000,
    fsync: 2_000,
    noopCalls: 1_000_000,
    nativeKeys: Math.min(keys, 20_000),
    getManySize: 100,
  }
}

async function main(): Promise<number> {
  let config: Config | 'help'
  try {
    config = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench:engine: ${error.message}\n\n${USAGE}`)
      return 2
    }
    throw error
  }
  if (config === 'help') {
    console.log(USAGE)
    return 0
  }
  const cfg = config
  const report = cfg.json ? console.error : console.log
  const log = (line: string): void => console.error(line)
  const only = new Set<Group>(cfg.only)
  const started = new Date()
  const t0 = nowNs()
  const machine = machineInfo()
  const ops = plan(cfg.keys)
  log(describeMachine(machine))
  const busy = busyWarning(machine, 'at the start')
  if (busy !== undefined) log(busy)

  // Workload: generated once, shared by every engine.
  const workload = new Workload(cfg.seed, cfg.keys)
  const inputs = {
    readPicks: workload.picks('read-sync', ops.readSync),
    asyncPicks: workload.picks('read-async', ops.readAsync),
    nativePicks: workload.picks('native', ops.nativeKeys),
    missing: workload.missingKeys('read-missing', ops.missingSync),
    scanStarts: workload.scanStarts('scan', ops.scans),
    write64: only.has('load')
      ? { keys: workload.freshKeys('write-64', ops.writeConcurrent), values: workload.values('write-64').chunk(ops.writeConcurrent) }
      : { keys: [], values: [] },
    durableSingle: { keys: workload.freshKeys('durable-single', ops.durable), values: workload.values('durable-single').chunk(ops.durable) },
    durableConcurrent: { keys: workload.freshKeys('durable-64', ops.durable), values: workload.values('durable-64').chunk(ops.durable) },
  }

  // Adapters; ringkv only when its engine module loads.
  const adapters: EngineAdapter[] = []
  const runs: EngineRun[] = []
  const ringkv = await makeRingkvAdapter()
  for (const name of cfg.engines) {
    if (name === 'ringkv') {
      try {
        await loadEngineModule()
        adapters.push(ringkv)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        log(`ringkv: skipped: ${message}`)
        runs.push({ name, label: ringkv.label, status: 'unavailable', error: message, methods: ringkv.methods, loadedKeys: 0, extraKeys: 0, phases: [], seconds: 0 })
      }
    } else {
      adapters.push(name === 'lmdb' ? lmdbAdapter : levelAdapter)
    }
  }

  const root = mkdtempSync(join(tmpdir(), 'ringkv-bench-'))
  const removeRoot = (): void => rmSync(root, { recursive: true, force: true })
  const onSignal = (signal: NodeJS.Signals): void => {
    removeRoot()
    process.kill(process.pid, signal)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const baselines: RunResult['baselines'] = {}
  try {
    if (only.has('native') && ringkv.native !== undefined) {
      const noop = ringkv.native.noop
      for (let i = 0; i < 10_000; i++) noop()
      const start = nowNs()
      for (let i = 0; i < ops.noopCalls; i++) noop()
      const nsPerCall = Number(nowNs() - start) / ops.noopCalls
      baselines.noop = { source: ringkv.native.noopSource, calls: ops.noopCalls, nsPerCall }
      log(`native no-op (${ringkv.native.noopSource}): ${nsPerCall.toFixed(1)} ns per call`)
    }

    for (const adapter of adapters) {
      runs.push(await runEngine(adapter, cfg, only, workload, inputs, ops, join(root, adapter.name), log))
    }
  } finally {
    removeRoot()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const ordered = cfg.engines.map((n) => runs.find((r) => r.name === n)).filter((r): r is EngineRun => r !== undefined)
  const partial: Omit<RunResult, 'targets'> = {
    benchmark: 'engine',
    formatVersion: 1,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: secondsSince(t0),
    machine,
    loadAverageAtEnd: currentLoadAverage(),
    config: {
      keys: cfg.keys,
      keyBytes: KEY_BYTES,
      valueBytes: VALUE_BYTES,
      seed: cfg.seed,
      engines: cfg.engines,
      only: cfg.only,
      phaseCapSeconds: cfg.phaseSeconds,
      plannedOps: { ...ops, concurrency: CONCURRENCY },
    },
    baselines,
    engines: ordered,
  }
  const result: RunResult = { ...partial, targets: evaluateTargets(partial) }
  const text = renderConsole(result)
  const written = writeResults(cfg.out, cfg.name, started, result, renderMarkdownReport(result))
  report('')
  report(text)
  report(`results: ${written.timestamped}\n         ${written.latestJson}\n         ${written.latestMarkdown}`)
  if (cfg.json) console.log(JSON.stringify(result, null, 2))

  if (cfg.check) {
    const missed = result.targets.filter((t) => t.status === 'FAIL' || t.status === 'ERROR').map((t) => t.id)
    if (result.engines.some((e) => e.name === 'ringkv' && e.status === 'error')) missed.push('ringkv-failed')
    if (missed.length > 0) {
      console.error(`--check: missed or not measurable: ${missed.join(', ')}`)
      return 1
    }
  }
  return 0
}

type Inputs = {
  readPicks: Uint32Array
  asyncPicks: Uint32Array
  nativePicks: Uint32Array
  missing: Buffer[]
  scanStarts: Buffer[]
  write64: { keys: Buffer[]; values: Buffer[] }
  durableSingle: { keys: Buffer[]; values: Buffer[] }
  durableConcurrent: { keys: Buffer[]; values: Buffer[] }
}

async function runEngine(
  adapter: EngineAdapter,
  cfg: Config,
  only: Set<Group>,
  workload: Workload,
  inputs: Inputs,
  ops: ReturnType<typeof plan>,
  dir: string,
  log: (line: string) => void,
): Promise<EngineRun> {
  const run: EngineRun = {
    name: adapter.name,
    label: adapter.label,
    status: 'ok',
    methods: adapter.methods,
    loadedKeys: 0,
    extraKeys: 0,
    phases: [],
    seconds: 0,
  }
  const started = nowNs()
  const cap = cfg.phaseSeconds
  const add = (p: PhaseResult): void => {
    run.phases.push(p)
    log(progress(adapter.name, p))
  }
  mkdirSync(dir, { recursive: true })
  let store: OpenStore | undefined
  log(`${adapter.label}: starting`)
  try {
    const needsData = ['load', 'read', 'missing', 'scan', 'size', 'native'].some((g) => only.has(g as Group))
    if (needsData) {
      store = await adapter.open(join(dir, 'main'))
      const fillCap = FILL_CAP_FACTOR * cap
      const outcome = only.has('load')
        ? await load(store, workload, { single: cap, batch: cap, fill: fillCap })
        : await prepLoad(store, workload, fillCap)
      if (only.has('load')) {
        add(outcome.single)
        add(outcome.batch)
      }
      if (outcome.fill.keys > 0) {
        if (only.has('load')) run.loadFill = outcome.fill
        log(`${adapter.name} fill: ${outcome.fill.keys.toLocaleString('en-US')} keys ${only.has('load') ? 'the capped load did not reach' : '(no load phase)'}, ` +
          `loaded untimed in batches of ${FILL_BATCH} in ${outcome.fill.seconds.toFixed(1)} s`)
      }
      if (only.has('load')) {
        // Fresh keys, so the store ends with loaded + these; reads still pick among the loaded ones.
        const w = await concurrentPuts('write.async64', store, inputs.write64.keys, inputs.write64.values, CONCURRENCY, cap)
        add(w)
        run.extraKeys = w.ops
      }
      if (outcome.loaded < workload.keyCount) {
        log(`${adapter.name}: only ${outcome.loaded} of ${workload.keyCount} keys loaded within ${fillCap} s; later phases use those`)
      }
      run.loadedKeys = outcome.loaded
      run.verifyWrong = verifySample(store, outcome.sample, workload)
      if (run.verifyWrong > 0) log(`${adapter.name}: ${run.verifyWrong} of ${outcome.sample.size} sampled values read back wrong`)

      if (only.has('read')) {
        add(readSync('read.sync', store, pickKeys(workload, inputs.readPicks, run.loadedKeys), true, cap))
        add(await readConcurrent(store, pickKeys(workload, inputs.asyncPicks, run.loadedKeys), cap))
      }
      if (only.has('native')) {
        run.native = nativeCosts(adapter, store, pickKeys(workload, inputs.nativePicks, run.loadedKeys), ops.getManySize)
        log(`${adapter.name} native: get ${run.native.getNsPerCall.toFixed(0)} ns` +
          (run.native.getManyNsPerKey !== undefined ? `, getMany(100) ${run.native.getManyNsPerKey.toFixed(0)} ns per key` : ''))
      }
      if (only.has('missing')) add(readSync('missing.sync', store, inputs.missing, false, cap))
      if (only.has('scan')) add(await scans(store, inputs.scanStarts, ops.scanLimit, cap))
      if (only.has('size')) {
        const t = nowNs()
        const compacted = await store.compactAll()
        const compactSeconds = secondsSince(t)
        const size = directorySize(join(dir, 'main'))
        const engineReportedBytes = store.engineDiskBytes()
        run.size = {
          compacted,
          compactSeconds,
          diskBytes: size.allocated,
          apparentBytes: size.apparent,
          rawBytes: (run.loadedKeys + run.extraKeys) * (KEY_BYTES + VALUE_BYTES),
          ...(engineReportedBytes !== undefined ? { engineReportedBytes } : {}),
        }
        log(`${adapter.name} size: ${(size.allocated / 2 ** 20).toFixed(1)} MiB on disk for ` +
          `${(run.size.rawBytes / 2 ** 20).toFixed(1)} MiB raw${compacted ? ` after ${compactSeconds.toFixed(1)} s compaction` : ''}`)
      }
      await store.close()
      store = undefined
      rmSync(join(dir, 'main'), { recursive: true, force: true })
    }
    if (only.has('durable')) {
      const s = inputs.durableSingle
      add(fsyncBaseline(join(dir, 'fsync-baseline'), s.values, cap))
      const durable = await adapter.openDurable(join(dir, 'durable'))
      try {
        add(await concurrentPuts('durable.single', durable, s.keys, s.values, 1, cap))
        const c = inputs.durableConcurrent
        add(await concurrentPuts('durable.async64', durable, c.keys, c.values, CONCURRENCY, cap))
      } finally {
        await durable.close()
      }
    }
  } catch (error) {
    run.status = 'error'
    run.error = error instanceof Error ? (error.stack ?? error.message) : String(error)
    log(`${adapter.name}: FAILED: ${run.error}`)
  } finally {
    if (store !== undefined) await store.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
  run.seconds = secondsSince(started)
  log(`${adapter.label}: done in ${run.seconds.toFixed(1)} s`)
  return run
}

/** ns per sync get over `keys`, and for ringkv ns per key of getMany(batch) over the same keys. */
function nativeCosts(adapter: EngineAdapter, store: OpenStore, keys: Buffer[], batch: number): NativeResult {
  for (let i = 0; i < Math.min(1000, keys.length); i++) store.getSync(keys[i]!)
  let t = nowNs()
  for (const key of keys) store.getSync(key)
  const getNsPerCall = Number(nowNs() - t) / keys.length
  const result: NativeResult = { getNsPerCall }
  const getMany = adapter.native?.getMany
  if (getMany !== undefined) {
    const groups: Buffer[][] = []
    for (let i = 0; i + batch <= keys.length; i += batch) groups.push(keys.slice(i, i + batch))
    getMany(store, groups[0] ?? [])
    t = nowNs()
    for (const g of groups) getMany(store, g)
    const ns = Number(nowNs() - t)
    result.getManyNsPerKey = ns / (groups.length * batch)
    result.getManyNsPerCall = ns / groups.length
  }
  return result
}

function progress(engine: string, p: PhaseResult): string {
  const capped = p.stoppedEarly ? ` (stopped at the time cap: ${p.ops} of ${p.plannedOps})` : ''
  return (
    `${engine} ${p.id}: ${p.ops.toLocaleString('en-US')} ops in ${p.seconds.toFixed(2)} s = ` +
    `${Math.round(p.opsPerSec).toLocaleString('en-US')}/s, p50 ${p.latency.p50Us.toFixed(2)} µs, ` +
    `p99 ${p.latency.p99Us.toFixed(2)} µs${capped}`
  )
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('bench:engine crashed (a bug in the benchmark, not a timing result):', error)
    process.exit(1)
  },
)
