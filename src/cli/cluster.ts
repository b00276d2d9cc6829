// `ringkv cluster`: a local cluster of N nodes, each its own process (as in production), on
// 127.0.0.1. Ctrl-C (or SIGTERM) stops every node by its PID and waits for them to exit.
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DURABILITY_MODES } from '../engine/index.ts'
import { parse, UsageError } from './args.ts'
import { SERVER_NODE_FLAGS } from './server-flags.ts'
import { intArg, onOffArg } from './start.ts'

const STOP_GRACE_MS = 10_000

export async function clusterCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    nodes: { type: 'string' },
    data: { type: 'string' },
    port: { type: 'string' },
    'http-port': { type: 'string' },
    durability: { type: 'string' },
    'huge-pages': { type: 'string' },
  })
  const nodes = intArg('nodes', values.nodes) ?? 3
  if (nodes < 1 || nodes > 32) throw new UsageError(`--nodes must be between 1 and 32, got ${nodes}`)
  // Checked here too, so that a typo is one usage error rather than every node starting and failing.
  if (values.durability !== undefined && !(DURABILITY_MODES as readonly string[]).includes(values.durability)) {
    throw new UsageError(`--durability must be one of ${DURABILITY_MODES.join(', ')}, got ${values.durability}`)
  }
  onOffArg('huge-pages', values['huge-pages'])
  const port = intArg('port', values.port) ?? 7001
  const httpPort = intArg('http-port', values['http-port']) ?? 8001
  const dataRoot = resolvePath(values.data ?? './data')
  const seeds = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${port + i}`).join(',')
  const entry = fileURLToPath(new URL('../../bin/ringkv.js', import.meta.url))
  const children: ChildProcess[] = []
  const exited = new Set<number>()
  let stopping = false

  console.log(`ringkv cluster: ${nodes} nodes, data under ${dataRoot}`)
  for (let i = 0; i < nodes; i++) {
    const id = `n${i + 1}`
    const args = [
      ...SERVER_NODE_FLAGS,
      entry,
      'start',
      '--id', id,
      '--listen', `127.0.0.1:${port + i}`,
      '--http', `127.0.0.1:${httpPort + i}`,
      '--seeds', seeds,
      '--data', `${dataRoot}/${id}`,
      ...(values.durability === undefined ? [] : ['--durability', values.durability]),
      ...(values['huge-pages'] === undefined ? [] : ['--huge-pages', values['huge-pages']]),
    ]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
    children.push(child)
    child.once('exit', (code, signal) => {
      exited.add(i)
      if (!stopping) console.error(`ringkv cluster: node ${id} (pid ${child.pid}) exited (${signal ?? code}); stopping the cluster`)
      if (!stopping) void stop(1)
    })
  }
  for (let i = 0; i < nodes; i++) {
    console.log(`  n${i + 1}: binary 127.0.0.1:${port + i}  http http://127.0.0.1:${httpPort + i}  pid ${children[i]!.pid}`)
  }
  console.log(`try: curl -X PUT --data-binary hello http://127.0.0.1:${httpPort}/kv/greeting && curl http://127.0.0.1:${httpPort}/kv/greeting`)
  console.log('Ctrl-C stops the cluster')

  let finish!: (code: number) => void
  const done = new Promise<number>((r) => (finish = r))
  async function stop(code: number): Promise<void> {
    if (stopping) return
    stopping = true
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    const waits = children.map(
      (child, i) =>
        new Promise<void>((resolve) => {
          if (exited.has(i) || child.pid === undefined) return resolve()
          const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
          child.once('exit', () => {
            clearTimeout(kill)
            resolve()
          })
          process.kill(child.pid, 'SIGTERM')
        }),
    )
    await Promise.all(waits)
    console.log('ringkv cluster: stopped')
    finish(code)
  }
  const onSignal = (): void => void stop(0)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return done
}
