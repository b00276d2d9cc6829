// `npm run bench:cluster`: a local ringkv cluster (3 node processes, N=3 R=2 W=2 by default) loaded with keys,
// then driven by the load generator (piscina worker threads) through the scenarios of scenarios.ts, beside
// the bare request path and a Redis server as peers. Every latency is recorded (hdr-histogram-js); each
// scenario reports throughput, p50/p99/p99.9 per operation, errors by code, and the CPU of every process and
// of the machine. Results: bench/results/cluster-<timestamp>.json, cluster-latest.json and cluster-latest.md;
// with --json one line per scenario on stdout. Exit code 0 whatever the figures unless --check (then 1 when
// a target is missed); 2 for a bad command line.
import { connect } from '../../src/client/index.ts'
import { CpuMeter, type CpuWindow } from '../lib/cpu.ts'
import { busyWarning, describeMachine, machineInfo } from '../lib/machine.ts'
import { renderText, writeResults } from '../lib/report.ts'
import { LoadGenerator, type DriveResult } from './loadgen.ts'
import { parseConfig, USAGE, UsageError, type ClusterBenchConfig } from './options.ts'
import { progressBar } from './progress.ts'
import { readFractionOf, scenario as scenarioOf, type Scenario, type ScenarioName } from './scenarios.ts'
import { redisServerPath, RingkvCluster, startBareCluster, startRedis, type Group } from './services.ts'
import {
  comparisons,
  comparisonTable,
  degradedPhases,
  degradedTable,
  describeCpu,
  evaluateTargets,
  renderMarkdownReport,
  scenarioLine,
  scenarioTable,
  targetTable,
  type ScenarioEvent,
  type ScenarioResult,
} from './summary.ts'
import type { TargetSpec } from './task.ts'

const RING_WAIT_MS = 30_000
const LOAD_CONCURRENCY = 256
/** Open loop: operations outstanding at most, over all threads, before new ones wait their turn. */
const OPEN_LOOP_MAX_IN_FLIGHT = 8192

const log = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** Until a client sees every node in the ring (membership is exchanged every second). */
async function waitForRing(seeds: string[], nodes: number): Promise<void> {
  const client = await connect({ seeds, ringRefreshMs: 0 })
  try {
    const deadline = Date.now() + RING_WAIT_MS
    for (;;) {
      const { map, members } = await client.refreshRing()
      if (map !== undefined && members.length >= nodes && new Set(map.owners).size >= Math.min(nodes, map.q)) return
      if (Date.now() > deadline) throw new Error(`the ring did not include all ${nodes} nodes within ${RING_WAIT_MS} ms`)
      await new Promise((r) => setTimeout(r, 200))
    }
  } finally {
    await client.close()
  }
}

class Bench {
  readonly results: ScenarioResult[] = []
  readonly #cfg: ClusterBenchConfig
  readonly #lg: LoadGenerator

  constructor(cfg: ClusterBenchConfig) {
    this.#cfg = cfg
    this.#lg = new LoadGenerator(cfg.threads)
  }

  async close(): Promise<void> {
    await this.#lg.close()
  }

  async load(label: string, target: TargetSpec): Promise<void> {
    const cfg = this.#cfg
    const started = performance.now()
    const bar = progressBar(cfg.progress, `load ${label}`, cfg.keys, 'keys')
    const r = await this.#lg.load(target, cfg.keys, cfg.valueBytes, LOAD_CONCURRENCY, cfg.seed, (done, errors) =>
      bar.update(done, { ops: Math.round(done / Math.max(0.001, (performance.now() - started) / 1000)), errors }))
    bar.stop()
    const seconds = (performance.now() - started) / 1000
    const errors = Object.entries(r.errors).map(([c, n]) => `${c} ${n}`).join(', ')
    log(`  loaded ${r.loaded.toLocaleString('en-US')} keys of ${cfg.valueBytes} B into ${label} in ${seconds.toFixed(1)} s (${Math.round(r.loaded / seconds).toLocaleString('en-US')} writes/s)${errors === '' ? '' : `; errors: ${errors}`}`)
  }

  /**
   * Operations per second an open-loop scenario offers: the target rate, or for 'mixed-half' half of what the
   * closed loop just sustained (a quarter of the target rate when it did not run).
   */
  #rateOf(s: Scenario): number {
    if (s.name !== 'mixed-half') return this.#cfg.ratePerSec
    const closed = this.results.find((r) => r.scenario === 'mixed-closed' && r.status === 'ok')
    const sustained = closed === undefined ? this.#cfg.ratePerSec / 2 : closed.reads.opsPerSec + closed.writes.opsPerSec
    return Math.max(100, Math.round(sustained / 2))
  }

  async run(s: Scenario, target: TargetSpec, group: Group, degraded?: { cluster: RingkvCluster }): Promise<ScenarioResult> {
    const cfg = this.#cfg
    const ratePerSec = this.#rateOf(s)
    const totalSeconds = cfg.warmupSeconds + cfg.durationSeconds
    log(`scenario ${s.name}: ${s.title}`)
    // CPU is measured over the measured window only (not the warm-up), so that CPU per operation is exact.
    const processes = (): { name: string; pid: number }[] => [
      ...group.services.filter((x) => x.pid !== undefined).map((x) => ({ name: x.name, pid: x.pid! })),
      { name: 'loadgen', pid: process.pid },
    ]
    let meter: CpuMeter | undefined
    let cpu: CpuWindow | undefined
    const meterTimers: NodeJS.Timeout[] = []
    const bar = progressBar(cfg.progress, s.name, totalSeconds)
    const events: ScenarioEvent[] = []
    let startAtMs = Date.now()
    let lastDone = 0
    let lastAt = performance.now()
    const onProgress = (done: number, errors: number): void => {
      const now = performance.now()
      const ops = now - lastAt > 500 ? Math.round(((done - lastDone) * 1000) / (now - lastAt)) : undefined
      if (ops !== undefined) {
        lastDone = done
        lastAt = now
        bar.update((Date.now() - startAtMs) / 1000, { ops, errors })
      }
    }
    let outage: Promise<{ stopAt: number; restartAt: number; servingAt: number }> | undefined
    const onStart = (at: number): void => {
      startAtMs = at
      const windowStart = at + cfg.warmupSeconds * 1000
      meterTimers.push(setTimeout(() => (meter = new CpuMeter(processes())), windowStart - Date.now()))
      meterTimers.push(setTimeout(() => (cpu = meter?.stop()), windowStart + cfg.durationSeconds * 1000 - Date.now()))
      if (degraded !== undefined) outage = this.#outage(degraded.cluster, at, () => meter, events)
    }
    let drive: DriveResult
    try {
      drive = await this.#lg.drive(
        {
          target, keys: cfg.keys, valueBytes: cfg.valueBytes, readFraction: readFractionOf(s, cfg.readsPerWrite),
          distribution: s.distribution === 'zipfian' ? 'zipfian' : cfg.distribution, mode: s.mode,
          concurrency: cfg.concurrency, ratePerSec, maxInFlight: OPEN_LOOP_MAX_IN_FLIGHT,
          warmupMs: cfg.warmupSeconds * 1000, durationMs: cfg.durationSeconds * 1000,
          drainMs: cfg.timeoutMs * 3 + 1000, seed: cfg.seed,
        },
        onProgress,
        onStart,
      )
    } finally {
      bar.stop()
      for (const t of meterTimers) clearTimeout(t)
    }
    // The workers end the window on their own timers; the drive can resolve before this thread's timer for the
    // window's end has fired (seen with 1 s windows on a loaded machine). The window then ends now.
    if (cpu === undefined && meter !== undefined) cpu = meter.stop()
    const o = outage === undefined ? undefined : await outage
    const op = (f: DriveResult['reads']) => ({ opsPerSec: f.opsPerSec, ...f.latency, curve: f.curve })
    const result: ScenarioResult = {
      scenario: s.name, title: s.title, target: s.target, status: 'ok', mode: s.mode,
      distribution: s.distribution === 'zipfian' ? 'zipfian' : cfg.distribution,
      durability: s.target === 'ringkv' ? s.durability : undefined,
      readFraction: readFractionOf(s, cfg.readsPerWrite),
      ...(s.mode === 'open' ? { ratePerSec } : { concurrency: cfg.concurrency }),
      warmupSeconds: cfg.warmupSeconds, durationSeconds: cfg.durationSeconds,
      reads: op(drive.reads), writes: op(drive.writes), errors: drive.errors, errorCount: drive.errorCount,
      unfinished: drive.unfinished, unissued: drive.unissued, peakInFlight: drive.peakInFlight, timeline: drive.timeline, events,
      cpu, startedAt: new Date(drive.startedAtMs).toISOString(),
      ...(o === undefined ? {} : {
        degraded: degradedPhases(drive.timeline, cfg.warmupSeconds, totalSeconds, degraded!.cluster.services.at(-1)!.name, o.stopAt, o.restartAt, o.servingAt),
      }),
    }
    this.#report(result)
    return result
  }

  /** Stops the last node a third into the window and restarts it at two thirds; times in scenario seconds. */
  async #outage(cluster: RingkvCluster, startAtMs: number, meter: () => CpuMeter | undefined, events: ScenarioEvent[]) {
    const cfg = this.#cfg
    const victim = cluster.services.at(-1)!
    const at = (fraction: number): number => cfg.warmupSeconds + cfg.durationSeconds * fraction
    const since = (): number => (Date.now() - startAtMs) / 1000
    const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, startAtMs + t * 1000 - Date.now())))
    await sleepUntil(at(1 / 3))
    const stopAt = since()
    meter()?.untrack(victim.pid!)
    await victim.stop()
    events.push({ t: stopAt, what: `${victim.name} stopped (SIGTERM)` })
    await sleepUntil(at(2 / 3))
    const restartAt = since()
    events.push({ t: restartAt, what: `${victim.name} restarting` })
    await victim.start()
    meter()?.track(victim.name, victim.pid!)
    const servingAt = since()
    events.push({ t: servingAt, what: `${victim.name} serving again` })
    return { stopAt, restartAt, servingAt }
  }

  #report(r: ScenarioResult): void {
    const line = scenarioLine(r)
    if (this.#cfg.json) process.stdout.write(`${JSON.stringify(line)}\n`)
    log(renderText(scenarioTable([r])).split('\n').map((l) => `  ${l}`).join('\n'))
    if (r.degraded !== undefined) log(renderText(degradedTable(r.degraded)).split('\n').map((l) => `  ${l}`).join('\n'))
    log(`  ${describeCpu(r.cpu)}`)
  }

  skipped(name: ScenarioName, note: string): void {
    const s = scenarioOf(name)
    const empty = { opsPerSec: 0, count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, curve: [] }
    const r: ScenarioResult = {
      scenario: name, title: s.title, target: s.target, status: 'skipped', note, mode: s.mode, distribution: s.distribution,
      durability: undefined, readFraction: readFractionOf(s, this.#cfg.readsPerWrite), warmupSeconds: 0, durationSeconds: 0,
      reads: empty, writes: empty, errors: {}, errorCount: 0, unfinished: 0, unissued: 0, peakInFlight: 0, timeline: [], events: [],
      startedAt: new Date().toISOString(),
    }
    log(`scenario ${name}: ${note}`)
    if (this.#cfg.json) process.stdout.write(`${JSON.stringify(scenarioLine(r))}\n`)
    this.results.push(r)
  }
}

async function main(): Promise<number> {
  let cfg: ClusterBenchConfig | 'help'
  try {
    cfg = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (error instanceof UsageError) {
      log(`bench:cluster: ${error.message}\n\n${USAGE}`)
      return 2
    }
    throw error
  }
  if (cfg === 'help') {
    console.log(USAGE)
    return 0
  }
  const started = new Date()
  const machine = machineInfo()
  log(describeMachine(machine))
  const busy = busyWarning(machine, 'at the start')
  if (busy !== undefined) log(busy)
  log(`cluster: ${cfg.nodes} nodes, N=${cfg.n} R=${cfg.r} W=${cfg.w}; ${cfg.keys.toLocaleString('en-US')} keys of ${cfg.valueBytes} B; ` +
    `${cfg.threads} load-generator threads; ${cfg.warmupSeconds} s warm-up + ${cfg.durationSeconds} s per scenario`)

  const bench = new Bench(cfg)
  const wanted = new Set(cfg.scenarios)
  try {
    const ringkv = cfg.scenarios.filter((n) => scenarioOf(n).target === 'ringkv')
    if (ringkv.length > 0) {
      const firstDurability = ringkv.every((n) => scenarioOf(n).durability === 'sync') ? 'sync' : 'interval'
      const cluster = await RingkvCluster.start({ nodes: cfg.nodes, n: cfg.n, r: cfg.r, w: cfg.w, durability: firstDurability, cpuProfDir: cfg.cpuProfDir, nodeFlags: cfg.nodeFlags })
      try {
        await waitForRing(cluster.addresses, cfg.nodes)
        const target: TargetSpec = { kind: 'ringkv', seeds: cluster.addresses, timeoutMs: cfg.timeoutMs }
        await bench.load('ringkv', target)
        for (const name of ringkv) {
          const s = scenarioOf(name)
          if (s.durability !== cluster.options.durability) {
            log(`  restarting the cluster with durability '${s.durability}'`)
            await cluster.restart({ durability: s.durability })
            await waitForRing(cluster.addresses, cfg.nodes)
          }
          bench.results.push(await bench.run(s, target, cluster, s.degraded ? { cluster } : undefined))
        }
      } finally {
        await cluster.close()
      }
    }
    if (wanted.has('bare')) {
      const group = await startBareCluster(cfg.nodes, cfg.valueBytes, cfg.cpuProfDir)
      try {
        bench.results.push(await bench.run(scenarioOf('bare'), { kind: 'bare', addresses: group.addresses }, group))
      } finally {
        await group.close()
      }
    }
    if (wanted.has('redis')) {
      const path = redisServerPath()
      if (path === undefined) bench.skipped('redis', 'Redis: not installed, skipped')
      else {
        const group = await startRedis(path)
        try {
          const target: TargetSpec = { kind: 'redis', address: group.addresses[0]! }
          await bench.load('redis', target)
          bench.results.push(await bench.run(scenarioOf('redis'), target, group))
        } finally {
          await group.close()
        }
      }
    }
  } finally {
    await bench.close()
  }

  const results = bench.results
  const verdicts = evaluateTargets(results)
  const c = comparisons(results)
  const end = machineInfo()
  log('')
  log(renderText(scenarioTable(results)))
  log('')
  log(renderText(targetTable(verdicts)))
  if (c.length > 0) log(`\nPeers in the same run (ratios are ringkv / peer):\n${renderText(comparisonTable(c))}`)
  const header = [
    `## Cluster benchmark, ${started.toISOString()}`,
    '',
    describeMachine(machine),
    '',
    `${cfg.nodes} node processes, N=${cfg.n} R=${cfg.r} W=${cfg.w}, ${cfg.keys.toLocaleString('en-US')} keys of ${cfg.valueBytes} B, ` +
      `${cfg.readsPerWrite}:1 reads to writes in the mixed scenarios, ${cfg.threads} load-generator threads (piscina), ` +
      `${cfg.warmupSeconds} s warm-up + ${cfg.durationSeconds} s measured per scenario; open loop at ${cfg.ratePerSec.toLocaleString('en-US')} ops/s, closed loop ${cfg.concurrency} in flight. ` +
      `Load average ${machine.loadAverage.join(' / ')} at the start, ${end.loadAverage.join(' / ')} at the end.`,
  ]
  const json = {
    benchmark: 'cluster',
    formatVersion: 1,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    loadAverageAtEnd: end.loadAverage,
    config: { ...cfg, out: undefined, cpuProfDir: undefined },
    scenarios: results,
    targets: verdicts,
    comparisons: c,
  }
  const written = writeResults(cfg.out, 'cluster', started, json, renderMarkdownReport(results, header))
  log(`\nresults: ${written.latestJson}, ${written.latestMarkdown}`)
  if (cfg.check && verdicts.some((v) => v.status === 'FAIL')) return 1
  return 0
}

process.exitCode = await main()
