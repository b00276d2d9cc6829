// Where the time went, from V8 CPU profiles (node --cpu-prof; `bench:cluster --cpu-prof DIR` writes one per
// node): self time per function and per file, and total (inclusive) time of the busiest functions, as text.
//
//   node --import tsx bench/lib/cpuprofile.ts DIR_OR_FILES... [--top 30] [--last SECONDS]
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  selfByFunction: { name: string; ms: number }[]
  selfByFile: { file: string; ms: number }[]
  inclusiveByFunction: { name: string; ms: number }[]
}

function shortUrl(url: string): string {
  if (url === '') return '(native)'
  const i = url.indexOf('/src/')
  if (i >= 0) return url.slice(i + 1)
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length)
  return url.replace(/^file:\/\//, '')
}

/** `window`: only the samples of the last that many seconds before the profile ended (the steady state). */
export function summarizeProfile(profile: Profile, top = 30, window?: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfMs = new Map<number, number>()
  const from = window === undefined ? -Infinity : profile.endTime - window * 1e6
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (at >= from) selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000)
  })
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)!
    const f = node.callFrame
    total += ms
    if (f.functionName === '(idle)') idle += ms
    const name = `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
    fn.set(name, (fn.get(name) ?? 0) + ms)
    const u = f.url === '' ? f.functionName : shortUrl(f.url)
    file.set(u, (file.get(u) ?? 0) + ms)
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const cf = byId.get(at)!.callFrame
      const key = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms)
    }
  }
  const sorted = <K extends string>(m: Map<string, number>, k: K) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ [k]: name, ms: Math.round(ms) }) as Record<K, string> & { ms: number })
  return {
    totalMs: Math.round(total),
    idleMs: Math.round(idle),
    selfByFunction: sorted(fn, 'name'),
    selfByFile: sorted(file, 'file'),
    inclusiveByFunction: sorted(inclusive, 'name'),
  }
}

export function renderProfileSummary(label: string, s: ProfileSummary): string {
  const busy = s.totalMs - s.idleMs
  const pct = (ms: number) => `${((100 * ms) / Math.max(1, busy)).toFixed(1)}%`.padStart(6)
  return [
    `${label}: ${busy} ms busy of ${s.totalMs} ms profiled`,
    '  self time by function:',
    ...s.selfByFunction.map((x) => `    ${pct(x.ms)} ${String(x.ms).padStart(6)} ms  ${x.name}`),
    '  self time by file:',
    ...s.selfByFile.map((x) => `    ${pct(x.ms)} ${String(x.ms).padStart(6)} ms  ${x.file}`),
    '  total time (callees included):',
    ...s.inclusiveByFunction.map((x) => `    ${pct(x.ms)} ${String(x.ms).padStart(6)} ms  ${x.name}`),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 30
  const lastAt = args.indexOf('--last')
  const last = lastAt >= 0 ? Number(args.splice(lastAt, 2)[1]) : undefined
  const files = args.flatMap((a) => (statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(a, f)) : [a]))
  if (files.length === 0) {
    console.error('usage: node --import tsx bench/lib/cpuprofile.ts DIR_OR_FILES... [--top 30] [--last SECONDS]')
    process.exitCode = 2
  }
  for (const f of files) console.log(renderProfileSummary(f, summarizeProfile(JSON.parse(readFileSync(f, 'utf8')) as Profile, top, last)) + '\n')
}
