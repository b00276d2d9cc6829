// The cluster benchmark's verdicts and tables, as pure functions of the measured results (so they are tested
// without a cluster): the degraded run's phases, the targets of DESIGN.md section 10, the peer ratios, and
// the markdown report.
import type { CpuWindow } from '../lib/cpu.ts'
import { renderMarkdown, type Table } from '../lib/report.ts'
import type { LatencyMs } from './histograms.ts'
import type { TimelinePoint } from './loadgen.ts'
import type { ScenarioName } from './scenarios.ts'

export interface OperationResult extends LatencyMs {
  opsPerSec: number
  curve: [number, number][]
}

export interface ScenarioEvent {
  /** Seconds since the scenario's start (warm-up included). */
  t: number
  what: string
}

export interface DegradedPhases {
  stoppedNode: string
  stopAt: number
  restartAt: number
  /** The restarted node accepted requests this many seconds after its start. */
  restartSeconds: number
  before: PhaseFigures
  down: PhaseFigures
  after: PhaseFigures
  /** Seconds from the restarted node serving until throughput was back to 90% of before (2 seconds in a row). */
  catchUpSeconds: number | undefined
}

export interface PhaseFigures {
  seconds: number
  readsPerSec: number
  writesPerSec: number
  errors: number
  /** The worst one-second p99 within the phase. */
  worstReadP99Ms: number
  worstWriteP99Ms: number
}

export interface ScenarioResult {
  scenario: ScenarioName
  title: string
  target: 'ringkv' | 'bare' | 'redis'
  status: 'ok' | 'skipped' | 'failed'
  /** Why it was skipped or failed. */
  note?: string
  mode: 'open' | 'closed'
  distribution: 'uniform' | 'zipfian'
  durability: 'interval' | 'sync' | undefined
  readFraction: number
  /** Open loop: operations started per second (reads + writes). Closed loop: operations in flight. */
  ratePerSec?: number
  concurrency?: number
  warmupSeconds: number
  durationSeconds: number
  reads: OperationResult
  writes: OperationResult
  errors: Record<string, number>
  errorCount: number
  unfinished: number
  /** Open loop: operations due in the window that never started (recorded in the latencies with their wait). */
  unissued: number
  peakInFlight: number
  timeline: TimelinePoint[]
  events: ScenarioEvent[]
  degraded?: DegradedPhases
  cpu?: CpuWindow
  startedAt: string
}

export interface TargetVerdict {
  id: string
  what: string
  target: string
  measured: string
  status: 'PASS' | 'FAIL' | 'SKIP'
}

/** DESIGN.md section 10, cluster part. */
export const CLUSTER_TARGETS = {
  reads: 100_000,
  writes: 10_000,
  readP99Ms: 10,
  writeP99Ms: 20,
  degradedShare: 0.5,
  bareShare: 0.6,
} as const

const EMPTY_PHASE: PhaseFigures = { seconds: 0, readsPerSec: 0, writesPerSec: 0, errors: 0, worstReadP99Ms: 0, worstWriteP99Ms: 0 }

/** Figures of the timeline points whose interval ended within (from, to]. */
export function phaseOf(timeline: readonly TimelinePoint[], from: number, to: number): PhaseFigures {
  const points = timeline.filter((p) => p.t > from + 0.5 && p.t <= to + 0.5)
  if (points.length === 0) return EMPTY_PHASE
  const mean = (f: (p: TimelinePoint) => number): number => Math.round(points.reduce((a, p) => a + f(p), 0) / points.length)
  return {
    seconds: points.length,
    readsPerSec: mean((p) => p.readsPerSec),
    writesPerSec: mean((p) => p.writesPerSec),
    errors: points.reduce((a, p) => a + p.errorsPerSec, 0),
    worstReadP99Ms: Math.max(...points.map((p) => p.readP99Ms)),
    worstWriteP99Ms: Math.max(...points.map((p) => p.writeP99Ms)),
  }
}

export function degradedPhases(
  timeline: readonly TimelinePoint[],
  windowStart: number,
  windowEnd: number,
  stoppedNode: string,
  stopAt: number,
  restartAt: number,
  servingAt: number,
): DegradedPhases {
  const before = phaseOf(timeline, windowStart, stopAt)
  const down = phaseOf(timeline, stopAt, restartAt)
  const after = phaseOf(timeline, servingAt, windowEnd)
  let catchUpSeconds: number | undefined
  const goal = 0.9 * (before.readsPerSec + before.writesPerSec)
  const later = timeline.filter((p) => p.t > servingAt)
  for (let i = 0; i + 1 < later.length; i++) {
    const a = later[i]!
    const b = later[i + 1]!
    if (a.readsPerSec + a.writesPerSec >= goal && b.readsPerSec + b.writesPerSec >= goal) {
      catchUpSeconds = Math.max(0, Math.round((a.t - 1 - servingAt) * 10) / 10)
      break
    }
  }
  return { stoppedNode, stopAt, restartAt, restartSeconds: Math.round((servingAt - restartAt) * 10) / 10, before, down, after, catchUpSeconds }
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
const ms = (x: number): string => (x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`)

export function evaluateTargets(results: readonly ScenarioResult[]): TargetVerdict[] {
  const t = CLUSTER_TARGETS
  const ok = (name: ScenarioName) => results.find((r) => r.scenario === name && r.status === 'ok')
  const verdicts: TargetVerdict[] = []
  const mixed = ok('mixed')
  const add = (id: string, what: string, target: string, measured: string | undefined, pass: boolean | undefined): void => {
    verdicts.push({ id, what, target, measured: measured ?? '-', status: pass === undefined ? 'SKIP' : pass ? 'PASS' : 'FAIL' })
  }
  add('mixed-reads', 'mixed load: reads/s', `>= ${fmt(t.reads)}`, mixed && `${fmt(mixed.reads.opsPerSec)}/s`, mixed && mixed.reads.opsPerSec >= t.reads)
  add('mixed-writes', 'mixed load: writes/s (at the same time)', `>= ${fmt(t.writes)}`, mixed && `${fmt(mixed.writes.opsPerSec)}/s`, mixed && mixed.writes.opsPerSec >= t.writes)
  add('mixed-read-p99', 'mixed load: read p99', `< ${t.readP99Ms} ms`, mixed && ms(mixed.reads.p99Ms), mixed && mixed.reads.count > 0 && mixed.reads.p99Ms < t.readP99Ms)
  add('mixed-write-p99', 'mixed load: write p99', `< ${t.writeP99Ms} ms`, mixed && ms(mixed.writes.p99Ms), mixed && mixed.writes.count > 0 && mixed.writes.p99Ms < t.writeP99Ms)
  add('mixed-errors', 'mixed load: errors (and operations the cluster never got to)', '0', mixed && fmt(failures(mixed)), mixed && failures(mixed) === 0)
  const degraded = ok('degraded')
  const d = degraded?.degraded
  add('degraded-errors', 'one node down: client errors', '0', degraded && fmt(degraded.errorCount + degraded.unfinished), degraded && degraded.errorCount + degraded.unfinished === 0)
  add('degraded-throughput', 'one node down: reads/s and writes/s while down', `>= ${fmt(t.reads * t.degradedShare)} and ${fmt(t.writes * t.degradedShare)}`,
    d && `${fmt(d.down.readsPerSec)} and ${fmt(d.down.writesPerSec)}`,
    d && d.down.seconds > 0 && d.down.readsPerSec >= t.reads * t.degradedShare && d.down.writesPerSec >= t.writes * t.degradedShare)
  const closed = ok('mixed-closed')
  const bare = ok('bare')
  const share = closed && bare ? total(closed) / Math.max(1, total(bare)) : undefined
  add('bare-share', 'ringkv mixed (closed loop) against the bare path, ops/s', `>= ${Math.round(t.bareShare * 100)}%`,
    share === undefined ? undefined : `${(share * 100).toFixed(0)}% (${fmt(total(closed!))} / ${fmt(total(bare!))})`,
    share === undefined ? undefined : share >= t.bareShare)
  return verdicts
}

/**
 * CPU microseconds per operation, of the servers together and of the load generator: the steering figure on
 * a shared machine, where throughput moves with the neighbours' load but the CPU an operation costs does not
 * (much).
 */
export function cpuUsPerOp(r: ScenarioResult): { servers: number; loadgen: number } | undefined {
  const cpu = r.cpu
  const ops = (r.reads.opsPerSec + r.writes.opsPerSec) * (cpu?.seconds ?? 0)
  if (cpu === undefined || ops === 0) return undefined
  const servers = cpu.processes.filter((p) => p.name !== 'loadgen').reduce((a, p) => a + p.cpuSeconds, 0)
  const loadgen = cpu.processes.find((p) => p.name === 'loadgen')?.cpuSeconds ?? 0
  return { servers: Math.round((servers * 1e6) / ops), loadgen: Math.round((loadgen * 1e6) / ops) }
}

function cpuPerOp(r: ScenarioResult): string {
  const c = cpuUsPerOp(r)
  return c === undefined ? '-' : `${c.servers} / ${c.loadgen}`
}

function failures(r: ScenarioResult): number {
  return r.errorCount + r.unfinished + (r.unissued ?? 0)
}

function total(r: ScenarioResult): number {
  return r.reads.opsPerSec + r.writes.opsPerSec
}

export interface Comparison {
  what: string
  ringkv: string
  peer: string
  ratio: string
}

/** The figures the suite compares: ringkv's closed-loop mixed run against the bare path and against Redis. */
export function comparisons(results: readonly ScenarioResult[]): Comparison[] {
  const ringkv = results.find((r) => r.scenario === 'mixed-closed' && r.status === 'ok')
  const out: Comparison[] = []
  for (const peerName of ['bare', 'redis'] as const) {
    const peer = results.find((r) => r.scenario === peerName)
    if (peer === undefined) continue
    if (ringkv === undefined || peer.status !== 'ok') {
      out.push({ what: `mixed ops/s: ringkv (mixed-closed) / ${peerName}`, ringkv: ringkv ? fmt(total(ringkv)) : '-', peer: peer.status === 'ok' ? fmt(total(peer)) : (peer.note ?? peer.status), ratio: '-' })
      continue
    }
    out.push({ what: `mixed ops/s: ringkv (mixed-closed) / ${peerName}`, ringkv: fmt(total(ringkv)), peer: fmt(total(peer)), ratio: `${(total(ringkv) / Math.max(1, total(peer))).toFixed(2)}x` })
    out.push({ what: `read p99: ringkv / ${peerName}`, ringkv: ms(ringkv.reads.p99Ms), peer: ms(peer.reads.p99Ms), ratio: `${(ringkv.reads.p99Ms / Math.max(0.001, peer.reads.p99Ms)).toFixed(2)}x` })
  }
  return out
}

/** One scenario as the stdout JSON line: the figures without curves and timeline. */
export function scenarioLine(r: ScenarioResult): Record<string, unknown> {
  const op = ({ curve: _curve, ...rest }: OperationResult) => rest
  const { timeline: _timeline, reads, writes, ...rest } = r
  return { ...rest, reads: op(reads), writes: op(writes) }
}

export function scenarioTable(results: readonly ScenarioResult[]): Table {
  return {
    headers: ['scenario', 'loop', 'reads/s', 'read p50', 'read p99', 'read p99.9', 'writes/s', 'write p50', 'write p99', 'write p99.9', 'errors', 'CPU: nodes / loadgen / others (cores)', 'CPU us/op: nodes / loadgen'],
    rows: results.map((r) => {
      if (r.status !== 'ok') return [r.scenario, r.mode, r.note ?? r.status]
      const cpu = r.cpu
      const nodes = cpu?.processes.filter((p) => p.name !== 'loadgen').reduce((a, p) => a + p.cores, 0)
      const loadgen = cpu?.processes.find((p) => p.name === 'loadgen')?.cores
      const cpuText = cpu === undefined ? 'not measured' : `${nodes?.toFixed(2)} / ${loadgen?.toFixed(2) ?? '-'} / ${cpu.otherBusyCores?.toFixed(2) ?? '-'}`
      const errors = failures(r)
      return [
        r.scenario,
        r.mode === 'open' ? `open ${fmt(r.ratePerSec ?? 0)}/s` : `closed ${r.concurrency}`,
        r.readFraction > 0 ? fmt(r.reads.opsPerSec) : '-',
        r.reads.count > 0 ? ms(r.reads.p50Ms) : '-',
        r.reads.count > 0 ? ms(r.reads.p99Ms) : '-',
        r.reads.count > 0 ? ms(r.reads.p999Ms) : '-',
        r.readFraction < 1 ? fmt(r.writes.opsPerSec) : '-',
        r.writes.count > 0 ? ms(r.writes.p50Ms) : '-',
        r.writes.count > 0 ? ms(r.writes.p99Ms) : '-',
        r.writes.count > 0 ? ms(r.writes.p999Ms) : '-',
        errors === 0 ? '0' : `${fmt(errors)} (${[...Object.entries(r.errors).map(([c, n]) => `${c} ${n}`), ...(r.unfinished > 0 ? [`unfinished ${r.unfinished}`] : []), ...((r.unissued ?? 0) > 0 ? [`never started ${fmt(r.unissued)}`] : [])].join(', ')})`,
        cpuText,
        cpuPerOp(r),
      ]
    }),
    leftAligned: [0, 1],
  }
}

export function degradedTable(d: DegradedPhases): Table {
  const row = (name: string, p: PhaseFigures): string[] => [name, String(p.seconds), fmt(p.readsPerSec), fmt(p.writesPerSec), String(p.errors), ms(p.worstReadP99Ms), ms(p.worstWriteP99Ms)]
  return {
    headers: ['phase', 'seconds', 'reads/s', 'writes/s', 'errors', 'worst 1-s read p99', 'worst 1-s write p99'],
    rows: [row('before', d.before), row(`${d.stoppedNode} down`, d.down), row('after restart', d.after)],
  }
}

export function targetTable(verdicts: readonly TargetVerdict[]): Table {
  return { headers: ['target (DESIGN.md section 10)', 'wanted', 'measured', 'verdict'], rows: verdicts.map((v) => [v.what, v.target, v.measured, v.status]), leftAligned: [0, 1, 2, 3] }
}

export function comparisonTable(c: readonly Comparison[]): Table {
  return { headers: ['comparison', 'ringkv', 'peer', 'ratio'], rows: c.map((x) => [x.what, x.ringkv, x.peer, x.ratio]) }
}

export function describeCpu(cpu: CpuWindow | undefined): string {
  if (cpu === undefined) return 'CPU: not measured'
  const ours = cpu.processes.map((p) => `${p.name} ${p.cores.toFixed(2)}`).join(', ')
  const machine = cpu.machine === undefined ? 'machine: not measured' : `machine busy ${cpu.machine.busyCores.toFixed(2)} of ${cpu.machine.cores} cores, others ${cpu.otherBusyCores?.toFixed(2)}`
  const others = cpu.topOthers.length === 0 ? '' : `; busiest others: ${cpu.topOthers.map((p) => `${p.name}(${p.pid}) ${p.cores.toFixed(2)}`).join(', ')}`
  return `CPU (cores): ${ours}; ${machine}; load average ${cpu.loadAverage.start[0]} -> ${cpu.loadAverage.end[0]}${others}`
}

export function renderMarkdownReport(results: readonly ScenarioResult[], header: string[]): string {
  const parts = [...header, '', renderMarkdown(scenarioTable(results)), '', '### Targets', '', renderMarkdown(targetTable(evaluateTargets(results)))]
  const c = comparisons(results)
  if (c.length > 0) parts.push('', '### Peers in the same run', '', renderMarkdown(comparisonTable(c)))
  const degraded = results.find((r) => r.scenario === 'degraded' && r.degraded !== undefined)
  if (degraded?.degraded !== undefined) {
    const d = degraded.degraded
    parts.push('', `### Degraded: ${d.stoppedNode} stopped at ${d.stopAt.toFixed(1)} s, restarted at ${d.restartAt.toFixed(1)} s`, '', renderMarkdown(degradedTable(d)), '',
      `The restarted node served again after ${d.restartSeconds} s; throughput was back to 90% of before ` +
        (d.catchUpSeconds === undefined ? 'not within the run.' : `${d.catchUpSeconds} s later.`))
  }
  parts.push('', '### Machine load per scenario', '')
  for (const r of results) if (r.status === 'ok') parts.push(`- ${r.scenario}: ${describeCpu(r.cpu)}`)
  return parts.join('\n')
}
