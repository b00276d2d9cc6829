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
  }
}

export function describeMachine(m: MachineInfo): string {
  return (
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB memory; Node ${m.node} on ${m.platform} ` +
    `(kernel ${m.kernel}); data under ${m.tmpdir} (${m.tmpdirFs})`
  )
}

// Longest mount point that prefixes the path, from /proc/mounts (Linux); the statfs magic number otherwise.
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
