// Which seeds a scenario runs, and the seeds that ever failed: kept in failed-seeds.json (committed), and run
// by every later `npm test` and sweep, so a bug found once stays a regression test.
//
// A failing run prints `SEED=n` with the command that replays it, and adds itself to the file (set
// RINGKV_SIM_RECORD=0 to leave the file alone, e.g. when running a known-bad variant on purpose).
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { RunReport } from './scenario.ts'

export const FAILED_SEEDS_FILE = fileURLToPath(new URL('./failed-seeds.json', import.meta.url))

export interface FailedSeed {
  scenario: string
  seed: number
  /** The workload's length when it failed, if not the scenario's own (a longer sweep: --scale). */
  durationMs?: number
  /** The first violation (or error) it showed, to tell entries apart when reading the file. */
  first: string
}

export function readFailedSeeds(file = FAILED_SEEDS_FILE): FailedSeed[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`)
  }
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x?.scenario === 'string' && Number.isSafeInteger(x?.seed))) {
    throw new Error(`${file} must be an array of { scenario, seed, first }`)
  }
  return parsed as FailedSeed[]
}

export interface SeededRun {
  seed: number
  /** Undefined: the scenario's own duration. */
  durationMs?: number
}

/** The runs of a scenario: `count` seeds from `start`, then every seed that ever failed for it (as it failed). */
export function seedsFor(scenario: string, count: number, start = 1, file = FAILED_SEEDS_FILE): SeededRun[] {
  const runs: SeededRun[] = Array.from({ length: count }, (_, i) => ({ seed: start + i }))
  for (const f of readFailedSeeds(file)) {
    if (f.scenario === scenario && !runs.some((r) => r.seed === f.seed && r.durationMs === f.durationMs)) runs.push({ seed: f.seed, durationMs: f.durationMs })
  }
  return runs
}

/**
 * Adds a failing run to the file, unless it is there already or recording is off. `durationMs` when the run was
 * not of the scenario's own length. Returns whether it added.
 */
export function recordFailure(report: RunReport, durationMs?: number, file = FAILED_SEEDS_FILE): boolean {
  if (process.env['RINGKV_SIM_RECORD'] === '0') return false
  const seeds = readFailedSeeds(file)
  if (seeds.some((f) => f.scenario === report.scenario && f.seed === report.seed && f.durationMs === durationMs)) return false
  const first = report.violations[0]?.message ?? report.error?.split('\n')[0] ?? 'unknown'
  seeds.push({ scenario: report.scenario, seed: report.seed, ...(durationMs === undefined ? {} : { durationMs }), first: first.slice(0, 300) })
  writeFileSync(file, JSON.stringify(seeds, null, 2) + '\n')
  return true
}

export function replayCommand(scenario: string, seed: number, durationMs?: number): string {
  return `npm run test:sim -- --scenario ${scenario} --seed ${seed}${durationMs === undefined ? '' : ` --duration ${durationMs}`}`
}

/** What a failing run prints: the seed first, then how to replay it, then what went wrong. */
export function formatFailure(report: RunReport, durationMs?: number): string {
  return [
    `SEED=${report.seed} scenario=${report.scenario} failed`,
    `replay: ${replayCommand(report.scenario, report.seed, durationMs)}`,
    `trace ${report.trace.hash.slice(0, 16)} (${report.trace.events} events)`,
    ...report.details,
  ].join('\n')
}
