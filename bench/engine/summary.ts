// Turns an engine-benchmark run into its report: the comparison table, baselines, sizes, the boundary-cost
// section, the targets of DESIGN.md section 10 with PASS/FAIL, and the methods behind each figure. The same
// tables render as aligned text (console) and markdown (bench/results/engine-latest.md).
import { busyWarning, describeMachine, type MachineInfo } from '../lib/machine.ts'
import { fmtBytes, fmtRate, fmtRatio, fmtUs, renderMarkdown, renderText, type Table } from '../lib/report.ts'
import type { AdapterMethods, EngineName } from './adapters/adapter.ts'
import type { PhaseId, PhaseResult, TimingMethod } from './phases.ts'

export interface SizeResult {
  compacted: boolean
  compactSeconds: number
  /** Allocated bytes of the store's directory (st_blocks, like du). */
  diskBytes: number
  /** Apparent bytes (st_size) of the same files. */
  apparentBytes: number
  /** The engine's own figure, where it reports one (ringkv stats().diskBytes). */
  engineReportedBytes?: number
  /** (loaded + extra keys) x (16 + 1024). */
  rawBytes: number
}

export interface NativeResult {
  /** ns per synchronous get, the same keys for every engine, timed as one loop. */
  getNsPerCall: number
  /** ringkv only: getMany over the same keys, 100 per call. */
  getManyNsPerKey?: number
  getManyNsPerCall?: number
}

export interface EngineRun {
  name: EngineName
  label: string
  status: 'ok' | 'unavailable' | 'error'
  error?: string
  methods: AdapterMethods
  /** Keys 0 .. loadedKeys-1 of the workload were loaded. */
  loadedKeys: number
  /** Fresh keys written after the load (the 64-in-flight single puts); counted in the raw size. */
  extraKeys: number
  /** Keys the capped load phases did not reach, loaded untimed so later phases see the full data set. */
  loadFill?: { keys: number; seconds: number }
  /** Sampled loaded keys whose value read back wrong (should be 0). */
  verifyWrong?: number
  phases: PhaseResult[]
  size?: SizeResult
  native?: NativeResult
  seconds: number
}

export interface TargetResult {
  id: string
  description: string
  required: string
  measured: string
  status: 'PASS' | 'FAIL' | 'SKIP' | 'ERROR'
}

export interface RunResult {
  benchmark: 'engine'
  formatVersion: 1
  startedAt: string
  finishedAt: string
  durationSeconds: number
  machine: MachineInfo
  /** Load averages when the run ended (the machine's are from its start). */
  loadAverageAtEnd: number[]
  config: {
    keys: number
    keyBytes: number
    valueBytes: number
    seed: number
    engines: EngineName[]
    only: string[]
    phaseCapSeconds: number
    plannedOps: Record<string, number>
  }
  baselines: {
    noop?: { source: string; calls: number; nsPerCall: number }
  }
  engines: EngineRun[]
  targets: TargetResult[]
}

const ROWS: { id: PhaseId; title: string }[] = [
  { id: 'load.single', title: 'load: single puts, awaited (1st half)' },
  { id: 'load.batch', title: 'load: batches of 100 (2nd half)' },
  { id: 'write.async64', title: 'write: single puts, 64 in flight' },
  { id: 'read.sync', title: 'read present keys: sync get' },
  { id: 'read.async64', title: 'read present keys: 64 in flight' },
  { id: 'missing.sync', title: 'read missing keys: sync get' },
  { id: 'scan', title: 'scan 100 keys from a random start' },
  { id: 'fsync', title: 'baseline: write 1 KiB + fdatasync, plain file' },
  { id: 'durable.single', title: 'durable put, 1 at a time' },
  { id: 'durable.async64', title: 'durable put, 64 in flight' },
]

const TIMING_NOTE: Record<TimingMethod, string> = {
  'per-op': 'op',
  'avg-100': 'avg100',
  'batch/100': 'batch/100',
}

/** A phase's result; an engine that failed part-way still shows the phases it finished. */
const phaseOf = (run: EngineRun | undefined, id: PhaseId): PhaseResult | undefined => run?.phases.find((p) => p.id === id)

export function evaluateTargets(result: Omit<RunResult, 'targets'>): TargetResult[] {
  const ringkv = result.engines.find((e) => e.name === 'ringkv')
  const lmdb = result.engines.find((e) => e.name === 'lmdb')
  const ringkvRequested = result.config.engines.includes('ringkv')
  const out: TargetResult[] = []

  const unavailable = (): string | undefined => {
    if (!ringkvRequested) return undefined
    if (ringkv === undefined || ringkv.status !== 'ok') {
      return ringkv?.status === 'unavailable' ? 'ringkv engine not built yet' : 'ringkv failed (see below)'
    }
    return undefined
  }

  const vsLmdb = (id: string, phase: PhaseId, factor: number, description: string): void => {
    const required = factor === 1 ? '>= lmdb' : `>= ${factor}x lmdb`
    const err = unavailable()
    const mine = phaseOf(ringkv, phase)
    const theirs = phaseOf(lmdb, phase)
    if (mine === undefined || theirs === undefined || theirs.opsPerSec <= 0) {
      if (err !== undefined && result.config.only.includes(groupOf(phase))) {
        out.push({ id, description, required, measured: err, status: 'ERROR' })
      } else {
        out.push({ id, description, required, measured: 'not run (needs ringkv and lmdb in this run)', status: 'SKIP' })
      }
    } else {
      const ratio = mine.opsPerSec / theirs.opsPerSec
      out.push({
        id,
        description,
        required,
        measured: `${fmtRatio(ratio)} (${fmtRate(mine.opsPerSec)} vs ${fmtRate(theirs.opsPerSec)} ops/s)`,
        status: ratio >= factor ? 'PASS' : 'FAIL',
      })
    }
  }

  vsLmdb('sync-reads', 'read.sync', 1, 'synchronous random reads')
  vsLmdb('unbatched-writes', 'load.single', 2, 'unbatched writes')
  vsLmdb('batched-writes', 'load.batch', 1, 'batched writes (100 per batch)')
  vsLmdb('missing-reads', 'missing.sync', 1, 'missing-key reads')
  vsLmdb('scans', 'scan', 1, '100-key scans')

  {
    const id = 'group-commit'
    const description = 'durable writes, 64 in flight, vs one fsync per write'
    const required = '>= 10x baseline'
    const err = unavailable()
    const mine = phaseOf(ringkv, 'durable.async64')
    const baseline = phaseOf(ringkv, 'fsync')
    if (mine === undefined || baseline === undefined) {
      if (err !== undefined && result.config.only.includes('durable')) {
        out.push({ id, description, required, measured: err, status: 'ERROR' })
      } else {
        out.push({ id, description, required, measured: 'not run', status: 'SKIP' })
      }
    } else {
      const ratio = mine.opsPerSec / baseline.opsPerSec
      out.push({
        id,
        description,
        required,
        measured: `${fmtRatio(ratio)} (${fmtRate(mine.opsPerSec)} vs ${fmtRate(baseline.opsPerSec)} fsyncs/s just before)`,
        status: ratio >= 10 ? 'PASS' : 'FAIL',
      })
    }
  }
  {
    const id = 'space'
    const description = 'disk size after full compaction vs raw keys+values'
    const required = '<= 1.2x raw'
    const err = unavailable()
    const size = ringkv?.size
    if (size === undefined) {
      if (err !== undefined && result.config.only.includes('size')) {
        out.push({ id, description, required, measured: err, status: 'ERROR' })
      } else {
        out.push({ id, description, required, measured: 'not run', status: 'SKIP' })
      }
    } else {
      const ratio = size.diskBytes / size.rawBytes
      out.push({
        id,
        description,
        required,
        measured: `${fmtRatio(ratio)} (${fmtBytes(size.diskBytes)} for ${fmtBytes(size.rawBytes)})`,
        status: ratio <= 1.2 ? 'PASS' : 'FAIL',
      })
    }
  }
  return out
}

export function groupOf(id: PhaseId): string {
  if (id.startsWith('load.') || id.startsWith('write.')) return 'load'
  if (id.startsWith('read.')) return 'read'
  if (id.startsWith('missing.')) return 'missing'
  if (id === 'scan') return 'scan'
  if (id === 'fsync') return 'durable'
  return 'durable'
}

interface Section {
  title: string
  table?: Table
  lines?: string[]
}

export function buildSections(result: RunResult): Section[] {
  const ran = result.engines.filter((e) => e.status !== 'unavailable')
  const names = ran.map((e) => e.name)
  const ringkv = ran.find((e) => e.name === 'ringkv')
  const peers = ran.filter((e) => e.name !== 'ringkv')
  const sections: Section[] = []
  const footnotes: string[] = []

  // Main comparison.
  const headers = ['phase', 'lat.']
  for (const name of names) headers.push(`${name} ops/s`, 'p50 µs', 'p99 µs')
  if (ringkv !== undefined) for (const p of peers) headers.push(`ringkv/${p.name}`)
  const rows: string[][] = []
  for (const { id, title } of ROWS) {
    const cells = ran.map((e) => phaseOf(e, id))
    if (cells.every((c) => c === undefined)) continue
    const timing = cells.find((c) => c !== undefined)?.timing ?? 'per-op'
    const row = [title, TIMING_NOTE[timing]]
    ran.forEach((e, k) => {
      const c = cells[k]
      if (c === undefined) {
        row.push('-', '-', '-')
        return
      }
      row.push(`${fmtRate(c.opsPerSec)}${c.stoppedEarly ? '*' : ''}`, fmtUs(c.latency.p50Us), fmtUs(c.latency.p99Us))
      if (c.stoppedEarly) {
        footnotes.push(
          `* ${e.name} ${id}: stopped at the ${result.config.phaseCapSeconds} s cap after ` +
            `${c.ops.toLocaleString('en-US')} of ${c.plannedOps.toLocaleString('en-US')} ops (rate is over the ops done)`,
        )
      }
      if ((c.detail.wrongAnswers ?? 0) > 0) footnotes.push(`! ${e.name} ${id}: ${c.detail.wrongAnswers} wrong answers`)
    })
    if (ringkv !== undefined && id === 'fsync') {
      row.push(...peers.map(() => '-'))
    } else if (ringkv !== undefined) {
      const mine = phaseOf(ringkv, id)
      for (const p of peers) {
        const theirs = phaseOf(p, id)
        row.push(mine && theirs && theirs.opsPerSec > 0 ? fmtRatio(mine.opsPerSec / theirs.opsPerSec) : '-')
      }
    }
    rows.push(row)
  }
  for (const e of ran) {
    if (e.loadFill !== undefined) {
      footnotes.push(
        `${e.name}: ${e.loadFill.keys.toLocaleString('en-US')} keys the capped load did not reach were loaded untimed ` +
          `in batches of 1000 (${e.loadFill.seconds.toFixed(1)} s), so later phases ran on the full data set`,
      )
    }
  }
  if (rows.length > 0) {
    const scan = ran.map((e) => [e.name, phaseOf(e, 'scan')] as const).filter(([, p]) => p !== undefined)
    for (const [name, p] of scan) {
      if (p !== undefined && p.ops > 0)
        footnotes.push(`${name} scan: ${(p.detail.entries! / p.ops).toFixed(1)} entries per scan on average`)
    }
    sections.push({
      title: 'Throughput and latency per operation (ratios are of ops/s; higher is better for ringkv)',
      table: { headers, rows, leftAligned: [0, 1] },
      lines: [
        'lat.: op = each operation timed alone; avg100 = runs of 100 sync ops timed together, percentiles of',
        'the run averages; batch/100 = each batch of 100 writes timed, batch time / 100 per write.',
        'The fsync baseline runs in each engine\'s turn, just before its durable puts (this disk\'s fsync time drifts);',
        'ringkv\'s own is the reference for the group-commit target.',
        ...footnotes,
      ],
    })
  }

  // Sizes.
  const sized = ran.filter((e) => e.size !== undefined)
  if (sized.length > 0) {
    sections.push({
      title: 'On-disk size after full compaction',
      table: {
        headers: ['engine', 'compaction', 'took s', 'on disk', 'apparent', 'engine says', 'raw keys+values', 'disk/raw'],
        rows: sized.map((e) => {
          const s = e.size!
          return [
            e.name,
            s.compacted ? 'full' : 'n/a',
            s.compacted ? s.compactSeconds.toFixed(1) : '-',
            fmtBytes(s.diskBytes),
            fmtBytes(s.apparentBytes),
            fmtBytes(s.engineReportedBytes),
            fmtBytes(s.rawBytes),
            fmtRatio(s.diskBytes / s.rawBytes),
          ]
        }),
      },
      lines: ['on disk = allocated blocks of every file in the store directory (like du); apparent = file sizes.'],
    })
  }

  // Boundary cost (STYLE practice 12).
  const nativeRows: string[][] = []
  if (result.baselines.noop !== undefined) {
    const n = result.baselines.noop
    nativeRows.push([`napi no-op call (${n.source})`, n.nsPerCall.toFixed(1), 'per call'])
  }
  for (const e of ran) {
    if (e.native === undefined) continue
    nativeRows.push([`${e.name}: sync get (${e.methods.getSync.split(' ')[0]})`, e.native.getNsPerCall.toFixed(1), 'per key'])
    if (e.native.getManyNsPerKey !== undefined) {
      nativeRows.push([`${e.name}: getMany(100)`, e.native.getManyNsPerKey.toFixed(1), 'per key'])
    }
  }
  if (nativeRows.length > 0) {
    sections.push({
      title: 'Crossing the native boundary (ns)',
      table: { headers: ['call', 'ns', ''], rows: nativeRows, leftAligned: [0, 2] },
      lines: ['no-op: 1,000,000 calls timed as one loop; get and getMany: the same random present keys, one loop each.'],
    })
  }

  // Targets.
  if (result.targets.length > 0) {
    sections.push({
      title: 'Targets (DESIGN.md section 10)',
      table: {
        headers: ['target', 'required', 'measured', 'result'],
        rows: result.targets.map((t) => [t.description, t.required, t.measured, t.status]),
        leftAligned: [0, 1, 2, 3],
      },
    })
  }

  // Engines that did not run, and methods.
  const lines: string[] = []
  for (const e of result.engines) {
    const why = (e.error ?? '').split('\n')[0]
    if (e.status !== 'ok') lines.push(`${e.name}: ${e.status === 'unavailable' ? 'skipped' : 'FAILED'}: ${why}`)
    if ((e.verifyWrong ?? 0) > 0) lines.push(`${e.name}: ${e.verifyWrong} sampled keys read back wrong after the load!`)
  }
  for (const e of result.engines) {
    lines.push(`${e.label}:`)
    for (const [k, v] of Object.entries(e.methods)) lines.push(`  ${k.padEnd(9)} ${v}`)
  }
  sections.push({ title: 'Engines and the calls behind each figure', lines })
  return sections
}

export function header(result: RunResult): string[] {
  const c = result.config
  return [
    describeMachine(result.machine),
    `workload: ${c.keys.toLocaleString('en-US')} keys of ${c.keyBytes} B, ${c.valueBytes} B random values, ` +
      `seed ${c.seed}; engines: ${c.engines.join(', ')}; phases: ${c.only.join(', ')}; ` +
      `each phase capped at ${c.phaseCapSeconds} s`,
    `run: ${result.startedAt}, ${result.durationSeconds.toFixed(0)} s; load average ` +
      `${result.machine.loadAverage.join(' ')} at start, ${result.loadAverageAtEnd.join(' ')} at end`,
    ...[
      busyWarning(result.machine, 'when the run started'),
      busyWarning({ ...result.machine, loadAverage: result.loadAverageAtEnd }, 'when it ended'),
    ].filter((w): w is string => w !== undefined),
  ]
}

export function renderConsole(result: RunResult): string {
  const out: string[] = [...header(result), '']
  for (const s of buildSections(result)) {
    out.push(`== ${s.title}`)
    if (s.table) out.push(renderText(s.table))
    if (s.lines && s.lines.length > 0) out.push(...s.lines)
    out.push('')
  }
  return out.join('\n')
}

export function renderMarkdownReport(result: RunResult): string {
  const out: string[] = ['# ringkv engine benchmark', '', ...header(result).map((l) => `- ${l}`), '']
  for (const s of buildSections(result)) {
    out.push(`## ${s.title}`, '')
    if (s.table) out.push(renderMarkdown(s.table), '')
    if (s.lines && s.lines.length > 0) out.push('```', ...s.lines, '```', '')
  }
  return out.join('\n')
}
