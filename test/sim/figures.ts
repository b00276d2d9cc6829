// A scenario's own figures (ScenarioContext.figures) as a run line and a sweep's summary print them.
import type { RunReport } from './scenario.ts'

export function formatFigures(figures: Record<string, number>): string {
  const entries = Object.entries(figures)
  return entries.length === 0 ? '' : `  ${entries.map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(3)}`).join(' ')}`
}

/**
 * The scenario's own figures over its runs: time-like and fraction-like figures (names ending in Ms or Fraction)
 * as mean and max, counts as sums; anti-entropy bytes also against the data size.
 */
export function summarizeFigures(reports: readonly RunReport[]): string {
  const names = [...new Set(reports.flatMap((r) => Object.keys(r.figures)))]
  const parts = names.map((name) => {
    const values = reports.map((r) => r.figures[name]).filter((v): v is number => v !== undefined)
    if (/(Ms|Fraction)$/.test(name)) {
      const mean = values.reduce((a, b) => a + b, 0) / values.length
      return `${name} mean ${mean.toFixed(name.endsWith('Ms') ? 0 : 3)} max ${Math.max(...values).toFixed(name.endsWith('Ms') ? 0 : 3)}`
    }
    return `${name} ${values.reduce((a, b) => a + b, 0)}`
  })
  const ae = reports.reduce((n, r) => n + (r.figures['aeBytes'] ?? 0), 0)
  const data = reports.reduce((n, r) => n + (r.figures['dataBytes'] ?? 0), 0)
  if (ae > 0 && data > 0) parts.push(`anti-entropy bytes / data bytes ${(ae / data).toFixed(3)}`)
  return parts.join(', ')
}

