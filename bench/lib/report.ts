// Tables and result files shared by the benchmarks.
//
// A table is plain data (headers and string cells) rendered twice: aligned text for the console and a
// GitHub markdown table for `<name>-latest.md`. Result files go to one directory: `<name>-<timestamp>.json`
// (kept, one per run) and `<name>-latest.json` / `<name>-latest.md` (overwritten, the last run).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Table {
  headers: string[]
  rows: string[][]
  /** Columns (by index) aligned left; the rest are right-aligned (numbers). Defaults to column 0. */
  leftAligned?: number[]
}

export function renderText(table: Table): string {
  const left = new Set(table.leftAligned ?? [0])
  const all = [table.headers, ...table.rows]
  const widths = table.headers.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)))
  const line = (row: string[]): string =>
    widths
      .map((w, c) => {
        const cell = row[c] ?? ''
        return left.has(c) ? cell.padEnd(w) : cell.padStart(w)
      })
      .join('  ')
      .trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(table.headers), rule, ...table.rows.map(line)].join('\n')
}

export function renderMarkdown(table: Table): string {
  const left = new Set(table.leftAligned ?? [0])
  const esc = (s: string): string => s.replaceAll('|', '\\|')
  const head = `| ${table.headers.map(esc).join(' | ')} |`
  const align = `|${table.headers.map((_, c) => (left.has(c) ? ' --- ' : ' ---: ')).join('|')}|`
  const body = table.rows.map((row) => `| ${table.headers.map((_, c) => esc(row[c] ?? '')).join(' | ')} |`)
  return [head, align, ...body].join('\n')
}

/** Operations per second with thousands separators: 1234567.8 -> "1,234,568". */
export function fmtRate(opsPerSec: number | undefined): string {
  if (opsPerSec === undefined || !Number.isFinite(opsPerSec)) return '-'
  if (opsPerSec >= 100) return Math.round(opsPerSec).toLocaleString('en-US')
  return opsPerSec.toFixed(1)
}

/** Microseconds, with precision that suits the magnitude. */
export function fmtUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return '-'
  if (us < 10) return us.toFixed(2)
  if (us < 100) return us.toFixed(1)
  return Math.round(us).toLocaleString('en-US')
}

export function fmtRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '-'
  return `${ratio.toFixed(2)}x`
}

export function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}

/** A timestamp usable in a file name, in UTC: 2026-01-31T12-34-56Z. */
export function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')
}

export interface WrittenResults {
  timestamped: string
  latestJson: string
  latestMarkdown: string
}

/** Writes `<name>-<timestamp>.json`, `<name>-latest.json` and `<name>-latest.md` under `dir`. */
export function writeResults(dir: string, name: string, when: Date, json: unknown, markdown: string): WrittenResults {
  mkdirSync(dir, { recursive: true })
  const text = `${JSON.stringify(json, null, 2)}\n`
  const out = {
    timestamped: join(dir, `${name}-${fileTimestamp(when)}.json`),
    latestJson: join(dir, `${name}-latest.json`),
    latestMarkdown: join(dir, `${name}-latest.md`),
  }
  writeAtomic(out.timestamped, text)
  writeAtomic(out.latestJson, text)
  writeAtomic(out.latestMarkdown, markdown.endsWith('\n') ? markdown : `${markdown}\n`)
  return out
}

// Temp file then rename, so a reader never sees half a result file.
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text)
  renameSync(`${path}.tmp`, path)
}
