// What the benchmark ran on: printed at the top of every report and stored with the results, because a
// figure means nothing without the machine that produced it.
import { readFileSync, statfsSync } from 'node:fs'
import os from 'node:os'

export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  node: string
  platform: string
  kernel: string
  /** Where the benchmark's data directories live, and the filesystem type there when it can be told. */
  tmpdir: string
  tmpdirFs: string
  hostname: string
  /** 1, 5 and 15 minute load averages when this was taken: other work on the machine skews every figure. */
  loadAverage: number[]
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: os.release(),
    tmpdir: os.tmpdir(),
    tmpdirFs: filesystemOf(os.tmpdir()),
    hostname: os.hostname(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

export function describeMachine(m: MachineInfo): string {
  return (
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB memory; Node ${m.node} on ${m.platform} ` +
    `(kernel ${m.kernel}); data under ${m.tmpdir} (${m.tmpdirFs})`
  )
}

// Longest mount point that prefixes the path, from /proc/mounts (Linux); the statfs magic number otherwise.
/**
 * A warning when the machine was busy with other work (1-minute load average above half the cores), or
 * undefined. Benchmarks print it beside their figures: a busy neighbour can halve a throughput.
 */
export function busyWarning(m: MachineInfo, when: string): string | undefined {
  const load = m.loadAverage[0] ?? 0
  if (load <= m.cores / 2) return undefined
  return (
    `WARNING: load average ${load.toFixed(2)} on ${m.cores} cores ${when}: other processes were using the CPU, ` +
    `so these figures understate every engine and the ratios are noisy; rerun on an idle machine`
  )
}

export function currentLoadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100)
}

function filesystemOf(path: string): string {
  try {
    let best = { mount: '', type: '', device: '' }
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mount, type] = line.split(' ')
      if (device === undefined || mount === undefined || type === undefined) continue
      const inside = path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`)
      if (inside && mount.length >= best.mount.length) best = { mount, type, device }
    }
    if (best.type !== '') return `${best.type} on ${best.device}`
  } catch {
    // not Linux: fall through
  }
  try {
    return `fs type 0x${statfsSync(path).type.toString(16)}`
  } catch {
    return 'unknown filesystem'
  }
}
