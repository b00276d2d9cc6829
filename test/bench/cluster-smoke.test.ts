// The cluster benchmark end to end, tiny: a real 3-node cluster, 200 keys, one second of reads and of the bare
// path, one load-generator thread -- the plumbing (processes, piscina workers, histograms, CPU figures, JSON
// lines, result files, the report), not the figures. About 10 s; the process is stopped by its PID after 90 s.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadSuite, writeSuiteReport } from '../../bench/report/run.ts'

const RUN = fileURLToPath(new URL('../../bench/cluster/run.ts', import.meta.url))
const LIMIT_MS = 90_000

test('bench:cluster --json: one line per scenario, result files, and a report built from them', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ringkv-bench-smoke-'))
  try {
    const args = ['--import', 'tsx', RUN, '--scenario', 'reads,bare', '--duration', '1', '--warmup', '0', '--keys', '200',
      '--concurrency', '16', '--json', '--no-progress', '--out', out]
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), LIMIT_MS)
      child.once('error', reject)
      child.once('exit', (exitCode) => {
        clearTimeout(timer)
        resolve({ code: exitCode, stdout, stderr })
      })
    })
    assert.is(code, 0, stderr.slice(-2000))
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
    assert.equal(lines.map((l) => l.scenario), ['reads', 'bare'])
    for (const l of lines) {
      assert.is(l.status, 'ok')
      assert.equal(l.errors, {})
      for (const field of ['opsPerSec', 'p99Ms', 'p50Ms', 'p999Ms']) assert.type(l.reads[field], 'number')
      assert.type(l.writes.opsPerSec, 'number')
      assert.ok(l.cpu.processes.some((p: { name: string }) => p.name === 'loadgen'), 'the load generator CPU is recorded')
    }
    assert.ok(lines[0]!.reads.opsPerSec > 0 && lines[0]!.reads.count > 0)
    assert.ok(lines[1]!.reads.opsPerSec > 0 && lines[1]!.writes.opsPerSec > 0)
    assert.ok(existsSync(join(out, 'cluster-latest.json')) && existsSync(join(out, 'cluster-latest.md')))
    const written = writeSuiteReport(out, loadSuite(out))
    const html = readFileSync(written.html, 'utf8')
    assert.match(html, /reads: throughput over time/)
    assert.match(readFileSync(written.markdown, 'utf8'), /\| reads \| closed 256 |\| reads \| closed 16 /)
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})

test.run()
