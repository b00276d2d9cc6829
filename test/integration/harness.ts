// A cluster of real node processes on 127.0.0.1 for integration tests. Every process is started
// here and stopped by its own PID; ports are picked free; data lives in a temp directory removed at
// the end.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SERVER_NODE_FLAGS } from '../../src/cli/server-flags.ts'

const RUN_NODE = fileURLToPath(new URL('./run-node.ts', import.meta.url))
const START_TIMEOUT_MS = 20_000

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer()
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

export interface ClusterNode {
  id: string
  address: string
  http: string
  dataDir: string
  process: ChildProcess | undefined
  /** Starts (or restarts) the process and waits until it serves. */
  start(): Promise<void>
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>
}

export interface TestCluster {
  nodes: ClusterNode[]
  seeds: string[]
  root: string
  close(): Promise<void>
}

/**
 * `size` nodes started and formed into a ring, plus `spares` more (in `nodes` after them, not started) that
 * know the same seeds: started later, they find the ring and wait to be joined.
 */
export async function startCluster(size: number, extraArgs: string[] = [], spares = 0): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-it-'))
  const total = size + spares
  const ports = await freePorts(total * 2)
  const addresses = Array.from({ length: total }, (_, i) => `127.0.0.1:${ports[i]}`)
  const seeds = addresses.slice(0, size)
  const nodes: ClusterNode[] = addresses.map((address, i) => {
    const node: ClusterNode = {
      id: `n${i + 1}`,
      address,
      http: `127.0.0.1:${ports[total + i]}`,
      dataDir: join(root, `n${i + 1}`),
      process: undefined,
      start: () =>
        new Promise<void>((resolve, reject) => {
          const args = [
            ...SERVER_NODE_FLAGS, '--import', 'tsx', RUN_NODE, 'start',
            '--id', node.id, '--listen', node.address, '--http', node.http,
            '--seeds', seeds.join(','), '--data', node.dataDir, ...extraArgs,
          ]
          const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
          node.process = child
          let out = ''
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
            reject(new Error(`node ${node.id} did not start in ${START_TIMEOUT_MS} ms:\n${out}`))
          }, START_TIMEOUT_MS)
          const onData = (chunk: Buffer): void => {
            out += chunk.toString()
            if (out.includes(`ringkv node ${node.id}:`)) {
              clearTimeout(timer)
              child.stdout?.off('data', onData)
              child.stdout?.resume()
              resolve()
            }
          }
          child.stdout?.on('data', onData)
          child.stderr?.on('data', (chunk: Buffer) => {
            out += chunk.toString()
            if (process.env.RINGKV_TEST_LOGS) process.stderr.write(chunk)
          })
          child.once('exit', (code) => {
            clearTimeout(timer)
            if (node.process === child) node.process = undefined
            reject(new Error(`node ${node.id} exited with ${code} while starting:\n${out}`))
          })
        }),
      stop: () => stopProcess(node, 'SIGTERM'),
      kill: () => stopProcess(node, 'SIGKILL'),
    }
    return node
  })
  try {
    await Promise.all(nodes.slice(0, size).map((n) => n.start()))
    await waitForRing(nodes.slice(0, size), size)
  } catch (e) {
    await Promise.all(nodes.map((n) => n.kill()))
    rmSync(root, { recursive: true, force: true })
    throw e
  }
  return {
    nodes,
    seeds,
    root,
    close: async () => {
      await Promise.all(nodes.map((n) => n.stop()))
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** Polls every node's /status until each holds a ring of `members` members. */
export async function waitForRing(nodes: readonly ClusterNode[], members: number, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rings = await Promise.all(
      nodes.map(async (n) => {
        try {
          const body = (await (await fetch(`http://${n.http}/status`)).json()) as { cluster?: { ring?: { members?: string[] } } }
          return body.cluster?.ring?.members?.length ?? 0
        } catch {
          return 0
        }
      }),
    )
    if (rings.every((r) => r >= members)) return
    if (Date.now() > deadline) throw new Error(`the cluster did not form a ring of ${members} in ${timeoutMs} ms (ring sizes ${rings.join(', ')})`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * Polls `observer`'s /status until its failure detector and gossip show every one of `ids` as not up; returns how
 * long that took (ms). A node stopped with SIGTERM announces it at once; one that did not reach the observer in
 * its announcement's window is convicted by phi-accrual a few gossip rounds later.
 */
export async function waitUntilSeenDown(observer: ClusterNode, ids: readonly string[], timeoutMs = START_TIMEOUT_MS): Promise<number> {
  const began = Date.now()
  for (;;) {
    let up: string[] = [...ids]
    try {
      const body = (await (await fetch(`http://${observer.http}/status`)).json()) as { cluster?: { members?: { id: string; up: boolean }[] } }
      const members = body.cluster?.members ?? []
      up = ids.filter((id) => members.find((m) => m.id === id)?.up !== false)
    } catch {
      // Not answering yet: ask again.
    }
    if (up.length === 0) return Date.now() - began
    if (Date.now() - began > timeoutMs) throw new Error(`${observer.id} still saw ${up.join(', ')} up after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function stopProcess(node: ClusterNode, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const child = node.process
  if (child === undefined || child.pid === undefined || child.exitCode !== null) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(force)
      node.process = undefined
      resolve()
    })
    process.kill(child.pid!, signal)
  })
}
