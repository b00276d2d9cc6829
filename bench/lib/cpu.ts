// CPU time of processes and of the whole machine, from /proc (Linux). A benchmark on a shared 2-core machine
// must say how much CPU each of its own processes used and how busy the machine was with other work, or a
// reader cannot tell a slow system from a busy neighbour. Elsewhere the functions return undefined and the
// reports say "not measured".
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

/** Linux's USER_HZ: /proc times are in these ticks (100 on every mainstream architecture). */
const TICKS_PER_SECOND = 100

/** user + system CPU seconds a process has used so far, or undefined if it is gone (or not Linux). */
export function processCpuSeconds(pid: number): number | undefined {
  const stat = readStat(pid)
  return stat === undefined ? undefined : stat.ticks / TICKS_PER_SECOND
}

function readStat(pid: number): { comm: string; ticks: number } | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name is in parentheses and may itself contain spaces and parentheses.
  const close = text.lastIndexOf(')')
  const fields = text.slice(close + 2).split(' ')
  // Fields 14 (utime) and 15 (stime), counted from 1 with pid and comm as 1 and 2.
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? { comm: text.slice(text.indexOf('(') + 1, close), ticks } : undefined
}

export interface MachineCpu {
  /** Seconds of CPU spent busy (user, nice, system, irq, softirq, steal) and in total, over all cores. */
  busy: number
  total: number
}

export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
    const [, ...ticks] = line.trim().split(/\s+/)
    const n = ticks.map(Number)
    const idle = (n[3] ?? 0) + (n[4] ?? 0)
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND }
  } catch {
    return undefined
  }
}

/** CPU ticks of every process on the machine now: pid -> {name, ticks}. */
export function allProcesses(): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>()
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return out
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const stat = readStat(Number(entry))
    if (stat !== undefined) out.set(Number(entry), stat)
  }
  return out
}

export interface CpuWindow {
  seconds: number
  /** Per named process of ours: CPU seconds used in the window and that as a share of one core (1.0 = a core). */
  processes: { name: string; pid: number; cpuSeconds: number; cores: number }[]
  /** The machine over the same window: cores' worth busy, of `cores`. */
  machine: { cores: number; busyCores: number } | undefined
  /** Busy cores not explained by our processes: other work on the machine. */
  otherBusyCores: number | undefined
  /** The busiest processes that are not ours, for the record. */
  topOthers: { pid: number; name: string; cores: number }[]
  loadAverage: { start: number[]; end: number[] }
}

/**
 * Measures CPU between `start` and `stop`: the named processes (ours) and the machine. Processes that appear
 * during the window (a node restarted mid-run) can be added with `track`.
 */
export class CpuMeter {
  readonly #startedAt = performance.now()
  readonly #tracked = new Map<number, { name: string; startSeconds: number }>()
  readonly #machine = machineCpu()
  readonly #all = allProcesses()
  readonly #load = os.loadavg()
  readonly #finished: { name: string; pid: number; cpuSeconds: number }[] = []

  constructor(processes: { name: string; pid: number }[]) {
    for (const p of processes) this.track(p.name, p.pid)
  }

  track(name: string, pid: number): void {
    this.#tracked.set(pid, { name, startSeconds: processCpuSeconds(pid) ?? 0 })
  }

  /** A process of ours is about to exit: take its figure now. */
  untrack(pid: number): void {
    const t = this.#tracked.get(pid)
    if (t === undefined) return
    this.#tracked.delete(pid)
    this.#finished.push({ name: t.name, pid, cpuSeconds: (processCpuSeconds(pid) ?? t.startSeconds) - t.startSeconds })
  }

  stop(): CpuWindow {
    const seconds = (performance.now() - this.#startedAt) / 1000
    const machineNow = machineCpu()
    const all = allProcesses()
    for (const pid of [...this.#tracked.keys()]) this.untrack(pid)
    // The same name may cover several processes (a node before and after a restart): add them up.
    const byName = new Map<string, { name: string; pid: number; cpuSeconds: number }>()
    for (const f of this.#finished) {
      const prev = byName.get(f.name)
      byName.set(f.name, prev === undefined ? { ...f } : { ...prev, pid: f.pid, cpuSeconds: prev.cpuSeconds + f.cpuSeconds })
    }
    const processes = [...byName.values()].map((p) => ({ ...p, cpuSeconds: round(p.cpuSeconds), cores: round(p.cpuSeconds / seconds) }))
    const ours = new Set(this.#finished.map((f) => f.pid))
    const cores = os.availableParallelism()
    const machine =
      this.#machine !== undefined && machineNow !== undefined && machineNow.total > this.#machine.total
        ? { cores, busyCores: round(((machineNow.busy - this.#machine.busy) / (machineNow.total - this.#machine.total)) * cores) }
        : undefined
    const oursCores = processes.reduce((a, p) => a + p.cores, 0)
    const topOthers = [...all]
      .filter(([pid]) => !ours.has(pid))
      .map(([pid, s]) => ({ pid, name: s.comm, cores: round((s.ticks - (this.#all.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND / seconds) }))
      .filter((p) => p.cores >= 0.02)
      .sort((a, b) => b.cores - a.cores)
      .slice(0, 5)
    return {
      seconds: round(seconds),
      processes,
      machine,
      otherBusyCores: machine === undefined ? undefined : round(Math.max(0, machine.busyCores - oursCores)),
      topOthers,
      loadAverage: { start: this.#load.map(round), end: os.loadavg().map(round) },
    }
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}
