// Charts as inline SVG strings: line charts (linear or log axes, and HdrHistogram's percentile axis) and
// horizontal bar charts. No script, no external file: the report is one HTML file that any browser opens.

export interface Series {
  name: string
  points: readonly (readonly [number, number])[]
  /** Dashed line (e.g. the peers beside ringkv). */
  dashed?: boolean
}

export interface Marker {
  x: number
  label: string
}

export interface LineChartOptions {
  title: string
  series: readonly Series[]
  /** 'percentile': x values are percentiles (0..100) spread as 1/(1-p), the HdrHistogram latency plot. */
  x: { label: string; kind: 'linear' | 'percentile' }
  y: { label: string; log?: boolean; min?: number }
  markers?: readonly Marker[]
  /** A horizontal line, e.g. a latency target. */
  threshold?: { y: number; label: string }
  width?: number
  height?: number
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22']

export function esc(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}

/** 1/(1-p) on a log scale: 0% -> 0, 90% -> 1, 99% -> 2, 99.9% -> 3. */
function percentileX(p: number): number {
  return Math.log10(1 / Math.max(1e-7, 1 - Math.min(p, 99.99999) / 100))
}

function niceStep(span: number, ticks: number): number {
  const raw = span / Math.max(1, ticks)
  const mag = Math.pow(10, Math.floor(Math.log10(raw)))
  const n = raw / mag
  return (n >= 5 ? 10 : n >= 2 ? 5 : n >= 1 ? 2 : 1) * mag
}

function fmtNumber(v: number): string {
  if (v === 0) return '0'
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(1)}M`
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
  if (Math.abs(v) >= 1) return `${+v.toFixed(1)}`
  return `${+v.toPrecision(2)}`
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 760
  const height = o.height ?? 340
  const m = { left: 64, right: 16, top: 34, bottom: 48 + 18 * Math.ceil(o.series.length / 4) }
  const plotW = width - m.left - m.right
  const plotH = height - m.top - m.bottom
  const all = o.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y) && (!o.y.log || y > 0)))
  // Percentile axis: the 100th percentile (the maximum) sits one decade past the finest percentile measured,
  // labelled "max", instead of at 99.99999%.
  const finest = Math.max(1, ...all.filter(([x]) => x < 100).map(([x]) => Math.ceil(percentileX(x))))
  const tx = (x: number): number => (o.x.kind !== 'percentile' ? x : x >= 100 ? finest + 1 : Math.min(percentileX(x), finest))
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="60"><text x="8" y="30" font-size="14">${esc(o.title)}: no data</text></svg>`
  const xs = all.map(([x]) => tx(x))
  let xMin = Math.min(...xs)
  let xMax = Math.max(...xs)
  if (o.x.kind === 'percentile') {
    xMin = 0
    xMax = finest + 1
  }
  if (xMax === xMin) xMax = xMin + 1
  const ys = all.map(([, y]) => y)
  let yMin = o.y.min ?? (o.y.log ? Math.min(...ys) : 0)
  let yMax = Math.max(...ys, o.threshold?.y ?? -Infinity)
  const ty = o.y.log ? (y: number) => Math.log10(Math.max(y, 1e-9)) : (y: number) => y
  if (o.y.log) {
    yMin = Math.pow(10, Math.floor(Math.log10(Math.max(yMin, 1e-6))))
    yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(yMax, yMin * 10))))
  } else {
    const step = niceStep(yMax - yMin || 1, 5)
    yMax = Math.ceil(yMax / step) * step || 1
  }
  const px = (x: number): number => m.left + ((tx(x) - xMin) / (xMax - xMin)) * plotW
  const py = (y: number): number => m.top + plotH - ((ty(y) - ty(yMin)) / (ty(yMax) - ty(yMin))) * plotH
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`)
  parts.push(`<text x="${m.left}" y="20" font-size="14" font-weight="600">${esc(o.title)}</text>`)
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#ccc"/>`)
  // y grid
  const yTicks: number[] = []
  if (o.y.log) for (let v = yMin; v <= yMax * 1.0001; v *= 10) yTicks.push(v)
  else {
    const step = niceStep(yMax - yMin || 1, 5)
    for (let v = yMin; v <= yMax + step / 2; v += step) yTicks.push(v)
  }
  for (const v of yTicks) {
    const y = py(v)
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${m.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmtNumber(v)}</text>`)
  }
  // x grid
  const xTicks: { at: number; label: string }[] = []
  if (o.x.kind === 'percentile') {
    for (let k = 0; k <= finest; k++) xTicks.push({ at: 100 * (1 - Math.pow(10, -k)), label: k === 0 ? '0%' : `${(100 * (1 - Math.pow(10, -k))).toFixed(Math.max(0, k - 2))}%` })
    xTicks.push({ at: 100, label: 'max' })
  } else {
    const step = niceStep(xMax - xMin, 8)
    for (let v = Math.ceil(xMin / step) * step; v <= xMax; v += step) xTicks.push({ at: v, label: fmtNumber(v) })
  }
  for (const t of xTicks) {
    const x = px(t.at)
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + plotH}" stroke="#eee"/>`)
    parts.push(`<text x="${x.toFixed(1)}" y="${m.top + plotH + 14}" text-anchor="middle">${esc(t.label)}</text>`)
  }
  parts.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 30}" text-anchor="middle" fill="#555">${esc(o.x.label)}</text>`)
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">${esc(o.y.label)}${o.y.log ? ' (log)' : ''}</text>`)
  if (o.threshold !== undefined && o.threshold.y <= yMax) {
    const y = py(o.threshold.y)
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#d62728" stroke-dasharray="6 4"/>`)
    parts.push(`<text x="${m.left + plotW - 4}" y="${(y - 4).toFixed(1)}" text-anchor="end" fill="#d62728">${esc(o.threshold.label)}</text>`)
  }
  for (const mk of o.markers ?? []) {
    const x = px(mk.x)
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.top}" y2="${m.top + plotH}" stroke="#555" stroke-dasharray="3 3"/>`)
    parts.push(`<text x="${(x + 3).toFixed(1)}" y="${m.top + 12}" fill="#555">${esc(mk.label)}</text>`)
  }
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!o.y.log || y > 0)).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`)
    if (pts.length > 0) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts.join(' ')}"><title>${esc(s.name)}</title></polyline>`)
    }
    const lx = m.left + (i % 4) * (plotW / 4)
    const ly = m.top + plotH + 46 + 18 * Math.floor(i / 4)
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`)
    parts.push(`<text x="${lx + 22}" y="${ly}">${esc(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

export interface Bar {
  label: string
  value: number
  /** Shown after the bar instead of the bare number. */
  text?: string
  highlight?: boolean
}

export function barChart(title: string, bars: readonly Bar[], unit: string, width = 760): string {
  const rowH = 24
  const labelW = 250
  const m = { top: 34, bottom: 10 }
  const height = m.top + bars.length * rowH + m.bottom
  const max = Math.max(1, ...bars.map((b) => b.value))
  const plotW = width - labelW - 140
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<text x="8" y="20" font-size="14" font-weight="600">${esc(title)}</text>`]
  bars.forEach((b, i) => {
    const y = m.top + i * rowH
    const w = Math.max(1, (b.value / max) * plotW)
    parts.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`)
    parts.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${b.highlight ? '#1f77b4' : '#9ecae1'}"/>`)
    parts.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 15}">${esc(b.text ?? `${fmtNumber(b.value)} ${unit}`)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}
