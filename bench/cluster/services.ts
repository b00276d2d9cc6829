// The processes a cluster benchmark starts: ringkv nodes, the bare path's nodes, a Redis server. Each is
// started here, waited for until it serves, and stopped by its own PID (SIGTERM, then SIGKILL after a grace
// period); ports are picked free on 127.0.0.1; data lives in a temporary directory removed at the end.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const START_TIMEOUT_MS = 30_000
const STOP_GRACE_MS = 10_000
import { SERVER_NODE_FLAGS } from '../../src/cli/server-flags.ts'
import { BARE_NODE_JS, RINGKV_CLI, ensureCompiled } from './compiled.ts'

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => resolve(s))
    })),
  )
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** One process: started on demand, and again after a stop (the degraded scenario restarts a node). */
export class Service {
  process: ChildProcess | undefined
  #output = ''

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly command: string,
    private readonly args: () => string[],
    private readonly ready: RegExp,
  ) {}

  get pid(): number | undefined {
    return this.process?.pid
  }

  /** Last lines the process printed (for error messages). */
  get output(): string {
    return this.#output.split('\n').slice(-20).join('\n')
  }

  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = spawn(this.command, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] })
      this.process = child
      let started = false
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${this.name} did not start within ${START_TIMEOUT_MS} ms:\n${this.output}`))
      }, START_TIMEOUT_MS)
      const onOutput = (chunk: Buffer): void => {
        this.#output = (this.#output + chunk.toString()).slice(-20_000)
        if (!started && this.ready.test(this.#output)) {
          started = true
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on('data', onOutput)
      child.stderr?.on('data', onOutput)
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        if (this.process === child) this.process = undefined
        if (!started) reject(new Error(`${this.name} exited (${signal ?? code}) while starting:\n${this.output}`))
      })
    })
  }

  /** SIGTERM (a clean stop), SIGKILL if it has not exited after the grace period; waits for the exit. */
  stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.process
    if (child === undefined || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      child.once('exit', () => {
        clearTimeout(force)
        resolve()
      })
      process.kill(child.pid!, signal)
    })
  }
}

export interface Group {
  services: Service[]
  addresses: string[]
  close(): Promise<void>
}

export interface RingkvClusterOptions {
  nodes: number
  n: number
  r: number
  w: number
  durability: 'sync' | 'interval' | 'none'
  /** Write a V8 CPU profile of each node into this directory when it exits. */
  cpuProfDir: string | undefined
  /** Extra Node.js flags for the node processes (experiments: --perf-basic-prof for perf, GC settings). */
  nodeFlags?: string[]
}

/** A local ringkv cluster, one process per node, each started with `ringkv start` from the sources. */
export class RingkvCluster implements Group {
  readonly services: Service[]
  readonly addresses: string[]
  readonly root: string
  #options: RingkvClusterOptions

  private constructor(root: string, ports: number[], options: RingkvClusterOptions) {
    this.root = root
    this.#options = options
    const n = options.nodes
    this.addresses = ports.slice(0, n).map((p) => `127.0.0.1:${p}`)
    this.services = this.addresses.map((address, i) => {
      const id = `n${i + 1}`
      const args = (): string[] => [
        ...SERVER_NODE_FLAGS,
        ...(this.#options.nodeFlags ?? []),
        ...(this.#options.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', this.#options.cpuProfDir, '--cpu-prof-name', `${id}-${Date.now()}.cpuprofile`]),
        RINGKV_CLI, 'start',
        '--id', id, '--listen', address, '--http', `127.0.0.1:${ports[n + i]}`,
        '--seeds', this.addresses.join(','), '--data', join(root, id),
        '--durability', this.#options.durability,
        '--n', String(this.#options.n), '--r', String(this.#options.r), '--w', String(this.#options.w),
      ]
      return new Service(id, address, process.execPath, args, new RegExp(`ringkv node ${id}:`))
    })
  }

  static async start(options: RingkvClusterOptions): Promise<RingkvCluster> {
    ensureCompiled()
    const root = mkdtempSync(join(tmpdir(), 'ringkv-bench-'))
    const cluster = new RingkvCluster(root, await freePorts(options.nodes * 2), options)
    try {
      await Promise.all(cluster.services.map((s) => s.start()))
    } catch (error) {
      await cluster.close()
      throw error
    }
    return cluster
  }

  get options(): Readonly<RingkvClusterOptions> {
    return this.#options
  }

  /** Stop every node and start them again on the same data with other options (e.g. another durability). */
  async restart(options: Partial<RingkvClusterOptions>): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop()))
    this.#options = { ...this.#options, ...options }
    await Promise.all(this.services.map((s) => s.start()))
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop()))
    rmSync(this.root, { recursive: true, force: true })
  }
}

/** The bare request path: `nodes` processes, each connected to all others. */
export async function startBareCluster(nodes: number, valueBytes: number, cpuProfDir?: string): Promise<Group> {
  ensureCompiled()
  const ports = await freePorts(nodes)
  const services = ports.map((port, i) => {
    const peers = ports.filter((_, j) => j !== i).map(String)
    return new Service(`bare-${i + 1}`, `127.0.0.1:${port}`, process.execPath,
      () => [...SERVER_NODE_FLAGS, ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]), BARE_NODE_JS, String(port), String(valueBytes), ...peers], /bare node listening/)
  })
  const group: Group = {
    services,
    addresses: services.map((s) => s.address),
    close: async () => {
      await Promise.all(services.map((s) => s.stop()))
    },
  }
  try {
    await Promise.all(services.map((s) => s.start()))
  } catch (error) {
    await group.close()
    throw error
  }
  return group
}

/** The redis-server on PATH, or undefined when none is installed. */
export function redisServerPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

/** A Redis server on a free port with persistence off: the ceiling of a networked key-value store here. */
export async function startRedis(path: string): Promise<Group> {
  const [port] = await freePorts(1)
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-bench-redis-'))
  const service = new Service('redis', `127.0.0.1:${port}`, path,
    () => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
    /Ready to accept connections/)
  await service.start()
  return {
    services: [service],
    addresses: [service.address],
    close: async () => {
      await service.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
