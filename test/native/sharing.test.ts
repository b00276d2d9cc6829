// One engine per directory per process: worker threads share it; another process is locked out.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Engine } from '../../src/index.ts'
import { native } from '../../src/engine/native.ts'
import { tempDir } from './helpers.ts'

const workerScript = fileURLToPath(new URL('./sharing-worker.mjs', import.meta.url))

function runWorker(dir: string, action: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const w = new Worker(workerScript, { workerData: { dir, action } })
    w.once('message', (m: string) => resolve(m))
    w.once('error', reject)
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
  })
}

test('worker threads opening the same directory share the engine', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  await db.put('from-main', 'm')
  const reply = await runWorker(dir, 'read-and-write')
  assert.is(reply, 'saw m; handles 2')
  // The worker's write is in the shared memtable.
  assert.is(db.get('from-worker')?.toString(), 'w')
  assert.is(native.openHandles(dir), 1, 'the worker closed its handle')
  await db.close()
  remove()
})

test('another process opening the same directory gets ERR_LOCKED', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  const script = `
    import { Engine } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)}
    try { await Engine.open(${JSON.stringify(dir)}); console.log('opened') }
    catch (e) { console.log(e.code + ' ' + e.message) }
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.match(r.stdout, /^ERR_LOCKED .*locked by another process/)
  await db.close()
  // Once closed, the other process may open it.
  const r2 = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.match(r2.stdout, /^opened/)
  remove()
})

test.run()
