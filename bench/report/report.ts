// The suite's report: one self-contained HTML page (tables and inline SVG charts, no script) and one markdown
// summary, from the result files the three benchmarks wrote (cluster, engine, micro). People look at the
// curves; the tables hold the exact figures. Any of the three may be missing (a partial run): its section
// then says so.
import type { RunResult as EngineResult } from '../engine/summary.ts'
import type { MachineInfo } from '../lib/machine.ts'
import { renderMarkdown, type Table } from '../lib/report.ts'
import type { MicroResult } from '../micro/run.ts'
import {
  comparisons,
  degradedTable,
  describeCpu,
  evaluateTargets,
  scenarioTable,
  targetTable,
  type ScenarioResult,
  type TargetVerdict,
} from '../cluster/summary.ts'
import { barChart, esc, lineChart, type Series } from './svg.ts'

export interface ClusterRun {
  benchmark: 'cluster'
  startedAt: string
  finishedAt: string
  machine: MachineInfo
  loadAverageAtEnd: number[]
  config: Record<string, unknown>
  scenarios: ScenarioResult[]
  targets: TargetVerdict[]
}

export interface MicroRun {
  benchmark: 'micro'
  startedAt: string
  machine: MachineInfo
  loadAverageAtEnd: number[]
  timeMs: number
  results: MicroResult[]
}

export interface SuiteInput {
  cluster?: ClusterRun
  engine?: EngineResult
  micro?: MicroRun
  /** What the top-level run adds: how long each part took, the commit, notes such as a reduced key count. */
  meta?: { startedAt?: string; finishedAt?: string; commit?: string; notes?: string[]; partSeconds?: Record<string, number> }
}

export interface Verdict {
  area: string
  what: string
  wanted: string
  measured: string
  status: string
}

/** Every target of DESIGN.md section 10 the run measured, cluster and engine. */
export function allVerdicts(input: SuiteInput): Verdict[] {
  const out: Verdict[] = []
  if (input.cluster !== undefined) {
    for (const v of evaluateTargets(input.cluster.scenarios)) out.push({ area: 'cluster', what: v.what, wanted: v.target, measured: v.measured, status: v.status })
  }
  for (const t of input.engine?.targets ?? []) out.push({ area: 'engine', what: t.description, wanted: t.required, measured: t.measured, status: t.status })
  return out
}

function verdictTable(verdicts: readonly Verdict[]): Table {
  return { headers: ['area', 'target (DESIGN.md section 10)', 'wanted', 'measured', 'verdict'], rows: verdicts.map((v) => [v.area, v.what, v.wanted, v.measured, v.status]), leftAligned: [0, 1, 2, 3, 4] }
}

function engineTable(e: EngineResult): Table {
  const engines = e.engines.filter((x) => x.status === 'ok')
  const ids = [...new Set(engines.flatMap((x) => x.phases.map((p) => p.id)))]
  return {
    headers: ['phase (ops/s)', ...engines.map((x) => x.name), ...(engines.length > 1 ? engines.slice(1).map((x) => `${engines[0]!.name} / ${x.name}`) : [])],
    rows: ids.map((id) => {
      const rate = (x: (typeof engines)[number]) => x.phases.find((p) => p.id === id)?.opsPerSec
      const first = rate(engines[0]!)
      return [
        id,
        ...engines.map((x) => (rate(x) === undefined ? '-' : Math.round(rate(x)!).toLocaleString('en-US'))),
        ...engines.slice(1).map((x) => (first === undefined || rate(x) === undefined ? '-' : `${(first / rate(x)!).toFixed(2)}x`)),
      ]
    }),
  }
}

function microTable(m: MicroRun): Table {
  return {
    headers: ['group', 'operation', 'ns/op (median)', 'mean'],
    rows: m.results.map((r) => [r.group, r.name, r.medianNs.toLocaleString('en-US'), r.meanNs.toLocaleString('en-US')]),
    leftAligned: [0, 1],
  }
}

function machineLine(m: MachineInfo | undefined): string {
  return m === undefined ? 'machine: unknown' : `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node} on ${m.platform}; data under ${m.tmpdir} (${m.tmpdirFs})`
}

export function renderSuiteMarkdown(input: SuiteInput): string {
  const machine = input.cluster?.machine ?? input.engine?.machine ?? input.micro?.machine
  const out = ['# ringkv benchmark suite', '', `- ${machineLine(machine)}`]
  if (input.meta?.commit) out.push(`- commit ${input.meta.commit}`)
  if (input.meta?.startedAt) out.push(`- run ${input.meta.startedAt} .. ${input.meta.finishedAt ?? '?'}`)
  for (const [part, s] of Object.entries(input.meta?.partSeconds ?? {})) out.push(`- ${part}: ${Math.round(s)} s`)
  for (const n of input.meta?.notes ?? []) out.push(`- ${n}`)
  out.push('', '## Targets', '', renderMarkdown(verdictTable(allVerdicts(input))))
  if (input.cluster !== undefined) {
    const c = input.cluster
    out.push('', '## Cluster', '', renderMarkdown(scenarioTable(c.scenarios)))
    const cmp = comparisons(c.scenarios)
    if (cmp.length > 0) out.push('', renderMarkdown({ headers: ['comparison', 'ringkv', 'peer', 'ratio'], rows: cmp.map((x) => [x.what, x.ringkv, x.peer, x.ratio]) }))
    const d = c.scenarios.find((s) => s.degraded !== undefined)?.degraded
    if (d !== undefined) {
      out.push('', `Degraded: ${d.stoppedNode} stopped at ${d.stopAt.toFixed(1)} s, restarted at ${d.restartAt.toFixed(1)} s, serving after ${d.restartSeconds} s; ` +
        `throughput back to 90% ${d.catchUpSeconds === undefined ? 'not within the run' : `${d.catchUpSeconds} s later`}.`, '', renderMarkdown(degradedTable(d)))
    }
    out.push('', 'Machine load per scenario:', '')
    for (const s of c.scenarios) if (s.status === 'ok') out.push(`- ${s.scenario}: ${describeCpu(s.cpu)}`)
  } else out.push('', '## Cluster', '', 'not run')
  if (input.engine !== undefined) out.push('', `## Engine (${input.engine.config.keys.toLocaleString('en-US')} keys)`, '', renderMarkdown(engineTable(input.engine)))
  else out.push('', '## Engine', '', 'not run')
  if (input.micro !== undefined) out.push('', '## Micro benchmarks', '', renderMarkdown(microTable(input.micro)))
  else out.push('', '## Micro benchmarks', '', 'not run')
  return `${out.join('\n')}\n`
}

function htmlTable(t: Table, statusColumn?: number): string {
  const left = new Set(t.leftAligned ?? [0])
  const cell = (text: string, c: number, tag: 'td' | 'th'): string => {
    const cls = c === statusColumn ? ` class="status ${esc(text)}"` : left.has(c) ? '' : ' class="num"'
    return `<${tag}${cls}>${esc(text)}</${tag}>`
  }
  return `<table><thead><tr>${t.headers.map((h, c) => cell(h, c, 'th')).join('')}</tr></thead><tbody>${t.rows
    .map((r) => `<tr>${t.headers.map((_, c) => cell(r[c] ?? '', c, 'td')).join('')}</tr>`)
    .join('')}</tbody></table>`
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px}th{background:#f4f4f4}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.status.PASS{background:#dff0d8}.status.FAIL{background:#f2dede}
.status.SKIP,.status.ERROR{background:#fcf8e3}.charts svg{display:block;margin:12px 0}.note{color:#555;font-size:13px}ul{font-size:13px}`

export function renderSuiteHtml(input: SuiteInput): string {
  const machine = input.cluster?.machine ?? input.engine?.machine ?? input.micro?.machine
  const body: string[] = [`<h1>ringkv benchmark suite</h1>`, `<ul><li>${esc(machineLine(machine))}</li>`]
  if (input.meta?.commit) body.push(`<li>commit ${esc(input.meta.commit)}</li>`)
  if (input.meta?.startedAt) body.push(`<li>run ${esc(input.meta.startedAt)} .. ${esc(input.meta.finishedAt ?? '?')}</li>`)
  for (const [part, s] of Object.entries(input.meta?.partSeconds ?? {})) body.push(`<li>${esc(part)}: ${Math.round(s)} s</li>`)
  for (const n of input.meta?.notes ?? []) body.push(`<li>${esc(n)}</li>`)
  body.push('</ul>', '<h2>Targets</h2>', htmlTable(verdictTable(allVerdicts(input)), 4))

  body.push('<h2>Cluster</h2>')
  const c = input.cluster
  if (c === undefined) body.push('<p>not run</p>')
  else {
    body.push(`<p class="note">${esc(`${String(c.config.nodes)} node processes, N=${String(c.config.n)} R=${String(c.config.r)} W=${String(c.config.w)}, ${Number(c.config.keys).toLocaleString('en-US')} keys of ${String(c.config.valueBytes)} B, ` +
      `${String(c.config.threads)} load-generator threads; ${String(c.config.warmupSeconds)} s warm-up + ${String(c.config.durationSeconds)} s per scenario. ` +
      `Load average ${c.machine.loadAverage.join(' / ')} at the start, ${c.loadAverageAtEnd.join(' / ')} at the end.`)}</p>`)
    body.push(htmlTable(scenarioTable(c.scenarios)))
    const ok = c.scenarios.filter((s) => s.status === 'ok')
    const curves = (pick: (s: ScenarioResult) => ScenarioResult['reads']): Series[] =>
      ok.filter((s) => pick(s).count > 0).map((s) => ({ name: s.scenario, points: pick(s).curve, dashed: s.target !== 'ringkv' }))
    body.push('<div class="charts">')
    body.push(lineChart({ title: 'Read latency by percentile', series: curves((s) => s.reads), x: { label: 'percentile', kind: 'percentile' }, y: { label: 'ms', log: true }, threshold: { y: 10, label: 'target p99 10 ms' } }))
    body.push(lineChart({ title: 'Write latency by percentile', series: curves((s) => s.writes), x: { label: 'percentile', kind: 'percentile' }, y: { label: 'ms', log: true }, threshold: { y: 20, label: 'target p99 20 ms' } }))
    const peers = ['mixed-closed', 'bare', 'redis'].map((name) => ok.find((s) => s.scenario === name)).filter((s) => s !== undefined)
    if (peers.length > 1) {
      body.push(barChart('Mixed 10:1 load, closed loop: operations per second', peers.map((s) => ({
        label: s.scenario === 'mixed-closed' ? 'ringkv (N=3, R=2, W=2)' : s.scenario === 'bare' ? 'bare request path (no storage)' : 'Redis (1 node, no replication)',
        value: s.reads.opsPerSec + s.writes.opsPerSec,
        highlight: s.target === 'ringkv',
      })), 'ops/s'))
    }
    for (const s of ok) {
      const markers = [{ x: s.warmupSeconds, label: 'measuring' }, ...s.events.map((e) => ({ x: e.t, label: e.what }))]
      body.push(lineChart({
        title: `${s.scenario}: throughput over time`,
        series: [
          { name: 'reads/s', points: s.timeline.map((p) => [p.t, p.readsPerSec] as const) },
          { name: 'writes/s', points: s.timeline.map((p) => [p.t, p.writesPerSec] as const) },
          ...(s.timeline.some((p) => p.errorsPerSec > 0) ? [{ name: 'errors/s', points: s.timeline.map((p) => [p.t, p.errorsPerSec] as const) }] : []),
        ],
        x: { label: 'seconds', kind: 'linear' }, y: { label: 'operations per second' }, markers, height: 280,
      }))
      body.push(lineChart({
        title: `${s.scenario}: p99 latency per second`,
        series: [
          { name: 'read p99', points: s.timeline.filter((p) => p.readP99Ms > 0).map((p) => [p.t, p.readP99Ms] as const) },
          { name: 'write p99', points: s.timeline.filter((p) => p.writeP99Ms > 0).map((p) => [p.t, p.writeP99Ms] as const) },
        ],
        x: { label: 'seconds', kind: 'linear' }, y: { label: 'ms', log: true }, markers, height: 260,
      }))
    }
    body.push('</div>')
    const d = ok.find((s) => s.degraded !== undefined)?.degraded
    if (d !== undefined) {
      body.push(`<h3>Degraded run</h3><p>${esc(`${d.stoppedNode} stopped at ${d.stopAt.toFixed(1)} s, restarted at ${d.restartAt.toFixed(1)} s, serving after ${d.restartSeconds} s; throughput back to 90% of before ${d.catchUpSeconds === undefined ? 'not within the run' : `${d.catchUpSeconds} s later`}.`)}</p>`)
      body.push(htmlTable(degradedTable(d)))
    }
    body.push('<h3>Machine load per scenario</h3><ul>')
    for (const s of ok) body.push(`<li>${esc(`${s.scenario}: ${describeCpu(s.cpu)}`)}</li>`)
    body.push('</ul>')
  }

  body.push('<h2>Engine</h2>')
  const e = input.engine
  if (e === undefined) body.push('<p>not run</p>')
  else {
    body.push(`<p class="note">${esc(`${e.config.keys.toLocaleString('en-US')} keys of ${e.config.keyBytes} B with ${e.config.valueBytes} B values; engines run one after another in one process. Load average ${e.machine.loadAverage.join(' / ')} at the start, ${e.loadAverageAtEnd.join(' / ')} at the end.`)}</p>`)
    body.push(htmlTable(engineTable(e)))
    const okEngines = e.engines.filter((x) => x.status === 'ok')
    const phaseIds = ['read.sync', 'missing.sync', 'load.single', 'load.batch', 'scan', 'durable.async64']
    body.push('<div class="charts">')
    for (const id of phaseIds) {
      const bars = okEngines.flatMap((x) => {
        const p = x.phases.find((q) => q.id === id)
        return p === undefined ? [] : [{ label: x.label, value: p.opsPerSec, highlight: x.name === 'ringkv' }]
      })
      if (bars.length > 0) body.push(barChart(`engine ${id}`, bars, 'ops/s'))
    }
    body.push('</div>')
  }

  body.push('<h2>Micro benchmarks</h2>')
  if (input.micro === undefined) body.push('<p>not run</p>')
  else {
    body.push(htmlTable(microTable(input.micro)))
    body.push('<div class="charts">', barChart('Nanoseconds per operation (median)', input.micro.results.map((r) => ({ label: `${r.group}: ${r.name}`.slice(0, 44), value: r.medianNs, text: `${r.medianNs.toLocaleString('en-US')} ns` })), 'ns', 900), '</div>')
  }
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>ringkv benchmark suite</title><style>${STYLE}</style></head><body>\n${body.join('\n')}\n</body></html>\n`
}
