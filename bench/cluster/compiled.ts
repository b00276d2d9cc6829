// The server processes of a cluster benchmark run compiled JavaScript, as users run them (`ringkv` from dist/,
// built by `npm install`), not TypeScript through tsx: tsx's on-the-fly transform (esbuild's keepNames
// wrappers around every closure, for one) cost ringkv about a third of its CPU per operation when measured
// (121 vs 80 us/op, mixed closed loop). The bare path is compiled the same way so the two stay comparable, and
// so is the load generator's worker (the clients): its CPU comes out of the same two cores as the nodes'.
// Both builds are refreshed here when a source is newer than its output, so a benchmark never measures stale code.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/** `ringkv`'s command line, compiled (bin/ringkv.js over dist/). */
export const RINGKV_CLI = join(ROOT, 'bin', 'ringkv.js')
/** The bare path's node, compiled into bench/.build/bare. */
export const BARE_NODE_JS = join(ROOT, 'bench', '.build', 'bare', 'node.js')
/** The load generator's piscina worker with everything it imports, compiled into bench/.build/loadgen. */
export const LOADGEN_WORKER_JS = join(ROOT, 'bench', '.build', 'loadgen', 'bench', 'cluster', 'worker.js')

function newestMtime(dir: string, suffix: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, suffix))
    else if (entry.name.endsWith(suffix)) newest = Math.max(newest, statSync(path).mtimeMs)
  }
  return newest
}

function build(project: string, sources: readonly string[], output: string, what: string): void {
  if (existsSync(output) && sources.every((dir) => statSync(output).mtimeMs >= newestMtime(dir, '.ts'))) return
  const run = spawnSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`building ${what} failed (tsc -p ${project}):\n${run.stdout}${run.stderr}`)
}

/** Brings dist/, the bare node's and the load generator's builds up to date with their sources (seconds when stale). */
export function ensureCompiled(): void {
  const src = join(ROOT, 'src')
  const bench = join(ROOT, 'bench', 'cluster')
  build('tsconfig.build.json', [src], join(ROOT, 'dist', 'cli', 'main.js'), 'dist/ (ringkv)')
  build(join('bench', 'cluster', 'bare', 'tsconfig.json'), [join(bench, 'bare')], BARE_NODE_JS, 'the bare path')
  build(join('bench', 'cluster', 'loadgen.tsconfig.json'), [src, bench], LOADGEN_WORKER_JS, 'the load generator')
}
