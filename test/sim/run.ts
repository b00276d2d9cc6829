// The simulator's sweep: `npm run test:sim -- --seeds N` runs N seeds of every scenario (and every seed that
// ever failed), prints one line per run and a summary per scenario, and exits non-zero if any run failed.
//
//   --seeds N          seeds per scenario (default 10), starting at --start (default 1)
//   --scenario a,b     only these scenarios
//   --seed n           exactly this seed (replaying a failure); implies --verbose
//   --scale x          run each scenario's workload x times as long (e.g. 5 for long runs)
//   --duration ms      run each scenario's workload this long (replaying a failure of a scaled run)
//   --verbose          the report of every run, not only of failures
import { parseArgs } from 'node:util'
import { formatFailure, recordFailure, seedsFor } from './seeds.ts'
import { runScenario, type RunReport } from './scenario.ts'
import { scenarioNamed, scenarios } from './scenarios.ts'
import { formatFigures, summarizeFigures } from './figures.ts'

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run test:sim -- [--seeds N] [--start S] [--scenario name,...] [--seed n] [--scale x] [--verbose]\n`)
  process.exit(2)
}

function positiveInt(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`)
  return n
}

async function main(): Promise<void> {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        seeds: { type: 'string' },
        start: { type: 'string' },
        scenario: { type: 'string' },
        seed: { type: 'string' },
        verbose: { type: 'boolean' },
        scale: { type: 'string' },
        duration: { type: 'string' },
      },
      strict: true,
    }))
  } catch (e) {
    usage((e as Error).message)
  }
  const count = positiveInt('seeds', values.seeds, 10, 1)
  const start = positiveInt('start', values.start, 1, 0)
  const only = values.seed === undefined ? undefined : positiveInt('seed', values.seed, 0, 0)
  const verbose = values.verbose === true || only !== undefined
  const scale = values.scale === undefined ? 1 : Number(values.scale)
  if (!(scale > 0 && scale <= 100)) usage(`--scale must be a number in (0, 100], got ${JSON.stringify(values.scale)}`)
  const duration = values.duration === undefined ? undefined : positiveInt('duration', values.duration, 0, 1)
  if (duration !== undefined && values.scale !== undefined) usage('--duration and --scale cannot both be given')
  let chosen = scenarios
  if (values.scenario !== undefined) {
    try {
      chosen = values.scenario.split(',').map((name) => scenarioNamed(name.trim()))
    } catch (e) {
      usage((e as Error).message)
    }
  }
  let failures = 0
  for (const scenario of chosen) {
    // A run's length: the scenario's own, scaled, or given; failed seeds replay at the length they failed at.
    const asked = duration ?? (scale === 1 ? undefined : Math.round(scenario.durationMs * scale))
    const runs = only !== undefined ? [{ seed: only, durationMs: asked }] : seedsFor(scenario.name, count, start).map((r) => (r.durationMs === undefined ? { ...r, durationMs: asked } : r))
    process.stdout.write(`\n${scenario.name}: ${scenario.description}\n  ${runs.length} seeds (${only ?? `${start}..${start + count - 1}`}, plus seeds that failed before)${asked === undefined ? '' : `, ${asked} ms each`}\n`)
    const reports: RunReport[] = []
    for (const { seed, durationMs } of runs) {
      const r = await runScenario(durationMs === undefined ? scenario : { ...scenario, durationMs }, seed)
      reports.push(r)
      const s = r.stats
      process.stdout.write(
        `  ${r.ok ? 'ok  ' : 'FAIL'} seed ${String(seed).padStart(5)}  ops ${String(s.ops).padStart(5)}  acked ${s.ackedWrites}/${s.writes}` +
          `  checked ${s.ackedChecked} lost ${s.lost}  siblings<=${s.maxSiblings}  faults ${s.faults} crashes ${s.crashes} wipes ${s.wipes} unsynced-lost ${s.unsyncedLost}` +
          `  converged in ${Math.round(s.convergeMs)} ms${formatFigures(r.figures)}  ${s.realMs} ms real\n`,
      )
      if (!r.ok) {
        failures++
        const added = recordFailure(r, durationMs)
        process.stdout.write(formatFailure(r, durationMs).replace(/^/gm, '    ') + '\n')
        if (added) process.stdout.write('    (added to test/sim/failed-seeds.json: commit it)\n')
      } else if (verbose) {
        process.stdout.write(`    ${JSON.stringify(s)}\n    trace ${r.trace.hash} (${r.trace.events} events)\n`)
      }
    }
    const sum = (f: (r: RunReport) => number) => reports.reduce((n, r) => n + f(r), 0)
    const max = (f: (r: RunReport) => number) => reports.reduce((n, r) => Math.max(n, f(r)), 0)
    process.stdout.write(
      `  summary: ${reports.length} seeds, ${reports.filter((r) => !r.ok).length} failed; operations ${sum((r) => r.stats.ops)};` +
        ` acknowledged writes ${sum((r) => r.stats.ackedWrites)} of ${sum((r) => r.stats.writes)}, checked ${sum((r) => r.stats.ackedChecked)}, lost ${sum((r) => r.stats.lost)};` +
        ` most siblings ${max((r) => r.stats.maxSiblings)}; convergence after healing ${Math.round(sum((r) => r.stats.convergeMs) / reports.length)} ms mean,` +
        ` ${Math.round(max((r) => r.stats.convergeMs))} ms max (virtual); data ${sum((r) => r.stats.dataBytes)} B stored, ${sum((r) => r.stats.networkBytes)} B on the network\n`,
    )
    const figures = summarizeFigures(reports)
    if (figures !== '') process.stdout.write(`  figures: ${figures}\n`)
  }
  process.exitCode = failures > 0 ? 1 : 0
}

await main()
