// `npm run bench:cluster` command line: every flag checked up front, a bad one named in a usage error
// (exit code 2), never a stack trace or a silent default.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { KEY_DISTRIBUTIONS, type KeyDistribution } from './keys.ts'
import { SCENARIO_NAMES, type ScenarioName } from './scenarios.ts'

export const USAGE = `usage: npm run bench:cluster -- [options]

  --scenario LIST     comma-separated, from: ${SCENARIO_NAMES.join(', ')}; or 'all' (default)
  --duration S        measured seconds per scenario (default 20)
  --warmup S          unmeasured seconds before each (default 5)
  --keys N            keys loaded before the scenarios (default 100000; 100k and 1M also work)
  --value-bytes N     value size (default 1024)
  --read-ratio N      reads per write in the mixed scenarios (default 10)
  --rate N            open loop: operations per second, reads and writes together (default 110000)
  --concurrency N     closed loop: operations in flight over all client threads (default 256)
  --threads N         load-generator worker threads (default 1: one drives 20k+ ops/s; more compete for the cores)
  --distribution D    key choice of the non-zipfian scenarios: ${KEY_DISTRIBUTIONS.join(' | ')} (default uniform)
  --nodes N --n N --r N --w N   cluster size and quorum (default 3, 3, 2, 2)
  --timeout-ms N      the client's per-request timeout (default 5000)
  --seed N            workload seed (default 1)
  --cpu-prof DIR      write a V8 CPU profile of every node into DIR (for finding where time goes)
  --node-flags FLAGS  extra Node.js flags for the node processes, space-separated (experiments)
  --out DIR           where result files go (default bench/results)
  --json              one JSON line per scenario on stdout (the report goes to stderr)
  --no-progress       no progress bar
  --check             exit 1 when a target of DESIGN.md section 10 is missed
  --help              this text`

export class UsageError extends Error {}

export interface ClusterBenchConfig {
  scenarios: ScenarioName[]
  durationSeconds: number
  warmupSeconds: number
  keys: number
  valueBytes: number
  readsPerWrite: number
  ratePerSec: number
  concurrency: number
  threads: number
  distribution: KeyDistribution
  nodes: number
  n: number
  r: number
  w: number
  timeoutMs: number
  seed: number
  cpuProfDir: string | undefined
  nodeFlags: string[]
  out: string
  json: boolean
  progress: boolean
  check: boolean
}

export function parseCount(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const m = /^(\d[\d_,]*(?:\.\d+)?)([kKmM]?)$/.exec(text.trim())
  const value = m === null ? NaN : Number(m[1]!.replaceAll(/[_,]/g, '')) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6)
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a number between ${min} and ${max} (100k and 1M work too), got '${text}'`)
  }
  return value
}

function whole(flag: string, text: string, min: number, max?: number): number {
  const v = parseCount(flag, text, min, max)
  if (!Number.isInteger(v)) throw new UsageError(`${flag} must be a whole number, got '${text}'`)
  return v
}

export function parseConfig(argv: string[]): ClusterBenchConfig | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scenario: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' }, keys: { type: 'string' },
        'value-bytes': { type: 'string' }, 'read-ratio': { type: 'string' }, rate: { type: 'string' },
        concurrency: { type: 'string' }, threads: { type: 'string' }, distribution: { type: 'string' },
        nodes: { type: 'string' }, n: { type: 'string' }, r: { type: 'string' }, w: { type: 'string' },
        'timeout-ms': { type: 'string' }, seed: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'node-flags': { type: 'string' }, out: { type: 'string' },
        json: { type: 'boolean', default: false }, 'no-progress': { type: 'boolean', default: false },
        check: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      },
    })
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const v = parsed.values
  if (v.help) return 'help'
  let scenarios: ScenarioName[] = [...SCENARIO_NAMES]
  if (v.scenario !== undefined && v.scenario !== 'all') {
    const asked = v.scenario.split(',').map((s) => s.trim()).filter((s) => s !== '')
    if (asked.length === 0) throw new UsageError(`--scenario needs at least one of: ${SCENARIO_NAMES.join(', ')}`)
    for (const s of asked) {
      if (!(SCENARIO_NAMES as readonly string[]).includes(s)) throw new UsageError(`--scenario: unknown '${s}'; choose from: ${SCENARIO_NAMES.join(', ')}`)
    }
    scenarios = SCENARIO_NAMES.filter((s) => asked.includes(s))
  }
  const distribution = v.distribution ?? 'uniform'
  if (!(KEY_DISTRIBUTIONS as readonly string[]).includes(distribution)) {
    throw new UsageError(`--distribution must be one of ${KEY_DISTRIBUTIONS.join(', ')}, got '${distribution}'`)
  }
  const nodes = v.nodes === undefined ? 3 : whole('--nodes', v.nodes, 1, 32)
  const n = v.n === undefined ? Math.min(3, nodes) : whole('--n', v.n, 1, nodes)
  const r = v.r === undefined ? Math.floor(n / 2) + 1 : whole('--r', v.r, 1, n)
  const w = v.w === undefined ? Math.floor(n / 2) + 1 : whole('--w', v.w, 1, n)
  if (scenarios.includes('degraded') && nodes < 2) throw new UsageError('the degraded scenario needs at least 2 nodes')
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
  return {
    scenarios,
    durationSeconds: v.duration === undefined ? 20 : parseCount('--duration', v.duration, 1, 3600),
    warmupSeconds: v.warmup === undefined ? 5 : parseCount('--warmup', v.warmup, 0, 600),
    keys: v.keys === undefined ? 100_000 : whole('--keys', v.keys, 1, 100_000_000),
    valueBytes: v['value-bytes'] === undefined ? 1024 : whole('--value-bytes', v['value-bytes'], 1, 1_000_000),
    readsPerWrite: v['read-ratio'] === undefined ? 10 : parseCount('--read-ratio', v['read-ratio'], 0, 1_000_000),
    ratePerSec: v.rate === undefined ? 110_000 : parseCount('--rate', v.rate, 1, 100_000_000),
    concurrency: v.concurrency === undefined ? 256 : whole('--concurrency', v.concurrency, 1, 1_000_000),
    threads: v.threads === undefined ? 1 : whole('--threads', v.threads, 1, 64),
    distribution: distribution as KeyDistribution,
    nodes, n, r, w,
    timeoutMs: v['timeout-ms'] === undefined ? 5000 : whole('--timeout-ms', v['timeout-ms'], 1, 600_000),
    seed: v.seed === undefined ? 1 : whole('--seed', v.seed, 0),
    cpuProfDir: v['cpu-prof'] === undefined ? undefined : resolve(v['cpu-prof']),
    nodeFlags: (v['node-flags'] ?? '').split(' ').filter((f) => f !== ''),
    out: v.out === undefined ? resolve(repoRoot, 'bench', 'results') : resolve(v.out),
    json: v.json,
    progress: !v['no-progress'],
    check: v.check,
  }
}
