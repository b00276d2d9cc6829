// `npm run bench:report`: (re)builds the suite's report from the latest result files in bench/results (or
// --in DIR): report.html (open it in a browser) and bench-latest.md. `npm run bench` calls this at its end.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { renderSuiteHtml, renderSuiteMarkdown, type SuiteInput } from './report.ts'

function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined
}

export function loadSuite(dir: string): SuiteInput {
  return {
    cluster: readJson(join(dir, 'cluster-latest.json')),
    // The suite's own (shorter) engine run when there is one, else the last full bench:engine run.
    engine: readJson(join(dir, 'engine-suite-latest.json')) ?? readJson(join(dir, 'engine-latest.json')),
    micro: readJson(join(dir, 'micro-latest.json')),
    meta: readJson(join(dir, 'suite-latest.json')),
  }
}

export function writeSuiteReport(dir: string, input: SuiteInput): { html: string; markdown: string } {
  const html = join(dir, 'report.html')
  const markdown = join(dir, 'bench-latest.md')
  writeFileSync(`${html}.tmp`, renderSuiteHtml(input))
  renameSync(`${html}.tmp`, html)
  writeFileSync(`${markdown}.tmp`, renderSuiteMarkdown(input))
  renameSync(`${markdown}.tmp`, markdown)
  return { html, markdown }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { in: { type: 'string' } } })
  const dir = values.in === undefined ? fileURLToPath(new URL('../results/', import.meta.url)) : resolve(values.in)
  const written = writeSuiteReport(dir, loadSuite(dir))
  console.log(`report: ${written.html}\nsummary: ${written.markdown}`)
}
