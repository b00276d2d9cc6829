// A scenario is a seeded schedule of faults (the nemesis, and/or a script) + a workload + checks. Running one
// for a seed:
//
//   start the cluster -> start sessions and the nemesis -> run for durationMs of virtual time -> stop them
//   -> recover (heal the network, restart every node that is down)
//   -> quiesce: what the network still held from before the heal is delivered or given up, and the requests it
//      carried finish (a write a client gave up on can still be applied then, as on a real network)
//   -> settle: the background repair the cluster has (anti-entropy, hint delivery) runs to completion
//   -> read-repair sweep: an R = all read of every key, which repairs every replica it read
//   -> convergence: every partition's replicas hold the same bytes
//   -> final reads (R = all) -> check the history
//
// The report carries what the issue asks to be reported: operations, acknowledged writes checked and lost,
// siblings, time to converge, bytes moved. A failing run is reported with its seed and the command that replays
// it (seeds.ts keeps it for every later run).
import { performance } from 'node:perf_hooks'
import type { SimClusterOptions } from './cluster.ts'
import { SIM_START_MS, SimCluster } from './cluster.ts'
import { checkConvergence, checkHistory, type CheckOptions, type CheckStats, type Violation } from './checker.ts'
import { History } from './history.ts'
import { Nemesis, type NemesisOptions } from './nemesis.ts'
import { Session, type Backend, type WorkloadOptions } from './workload.ts'

export interface SessionSpec {
  name: string
  /** Through a real client on a host of its own, or embedded in a node's process (its service). */
  via: 'client' | { embedded: string }
}

export interface ScenarioContext {
  cluster: SimCluster
  history: History
  /** Stops the workload and the nemesis (they finish what they are doing). */
  readonly stopped: boolean
  /** The scenario's own figures (anti-entropy bytes, fraction moved, hints dropped...), printed with the run. */
  readonly figures: Record<string, number>
  /** Violations a script or settle step found (e.g. a check that must run before anti-entropy). */
  readonly violations: Violation[]
}

export interface Scenario {
  readonly name: string
  readonly description: string
  readonly cluster: Omit<SimClusterOptions, 'seed'>
  readonly sessions: readonly SessionSpec[]
  readonly workload: WorkloadOptions
  /** Random faults while the workload runs; undefined for none. */
  readonly nemesis: NemesisOptions | undefined
  /** Scripted faults, run beside the workload from its start (e.g. "at 3 s crash n1 and wipe it"). */
  readonly script?: (ctx: ScenarioContext) => Promise<void>
  /** Virtual time the workload runs. */
  readonly durationMs: number
  readonly check: CheckOptions
  /**
   * ANTI-ENTROPY PLUGS IN HERE. The cluster's own background repair, run to completion after recovery and
   * before the read-repair sweep: when anti-entropy (branch ae) and hinted handoff (branch hints) land, a
   * scenario runs them here -- e.g. `settle: (c) => c.runAntiEntropy()` -- and turns the sweep off to check that
   * they alone make replicas converge (issue 4, tests 2 and 6-8).
   */
  readonly settle?: (cluster: SimCluster, ctx: ScenarioContext) => Promise<void>
  /** Run the read-repair sweep before checking convergence. Default true. */
  readonly repairSweep?: boolean
  /** Checks of the scenario's own, on the recovered cluster after the final reads. */
  readonly verify?: (ctx: ScenarioContext) => Violation[]
}

export interface RunReport {
  scenario: string
  seed: number
  ok: boolean
  /** The first violations of each kind (the checker keeps a few of each). */
  violations: Violation[]
  /** How many violations of each kind there were. */
  counts: Record<string, number>
  /** An exception that ended the run (a bug in the code under test, or a hang). */
  error: string | undefined
  stats: CheckStats & {
    ops: number
    /** Operations that failed, by error code. */
    errors: Record<string, number>
    faults: number
    crashes: number
    wipes: number
    /** Replica writes lost to power cuts (not yet fsynced in 'interval' durability). */
    unsyncedLost: number
    /** Virtual time: of the workload; from recovery until what the network held drained; until converged. */
    runMs: number
    quiesceMs: number
    convergeMs: number
    /** Read-repair sweep: keys read, and the reads that failed and were tried again. */
    sweepKeys: number
    sweepRetries: number
    /** Bytes the network carried; bytes stored on all nodes at the end. */
    networkBytes: number
    dataBytes: number
    realMs: number
  }
  /** The scenario's own figures (ScenarioContext.figures). */
  figures: Record<string, number>
  trace: { hash: string; events: number }
  /** What to print when the run failed. */
  details: string[]
}

export async function runScenario(scenario: Scenario, seed: number): Promise<RunReport> {
  const started = performance.now()
  const cluster = new SimCluster({ ...scenario.cluster, seed })
  const history = new History(() => cluster.clock.now() - SIM_START_MS, (e) => cluster.trace(e))
  let stop = false
  const ctx: ScenarioContext = {
    cluster,
    history,
    get stopped() {
      return stop
    },
    figures: {},
    violations: [],
  }
  const details: string[] = []
  let error: string | undefined
  let violations: Violation[] = []
  let counts: Record<string, number> = {}
  let stats: CheckStats = { reads: 0, writes: 0, ackedWrites: 0, ackedChecked: 0, lost: 0, maxSiblings: 0, siblingBound: 0 }
  let runMs = 0
  let convergeMs = 0
  let quiesceMs = 0
  let sweepKeys = 0
  let sweepRetries = 0
  try {
    await cluster.drive(cluster.start(), 60_000, 'starting the cluster')
    const workloadRandom = cluster.random.fork()
    const sessions: Session[] = []
    const clientHosts: string[] = []
    for (const spec of scenario.sessions) {
      let backend: Backend
      if (spec.via === 'client') {
        backend = await cluster.drive(cluster.client(spec.name), 60_000, `connecting ${spec.name}`)
        clientHosts.push(spec.name)
      } else {
        backend = cluster.service(spec.via.embedded)
      }
      sessions.push(new Session(spec.name, backend, { history, random: workloadRandom.fork(), sleep: (ms) => cluster.sleep(ms) }, scenario.workload))
    }
    const running: Promise<void>[] = sessions.map((s) => s.run(() => stop))
    if (scenario.nemesis !== undefined) {
      running.push(new Nemesis(cluster, history, cluster.random.fork(), clientHosts, scenario.nemesis).run(() => stop))
    }
    if (scenario.script !== undefined) running.push(scenario.script(ctx))
    // A failure inside the workload (an unexpected exception) ends the run at once instead of after the duration.
    let failed: unknown
    const all = Promise.all(running).catch((e: unknown) => {
      failed = e
    })
    const t0 = cluster.clock.now()
    for (let t = 0; t < scenario.durationMs && failed === undefined; t += 100) await cluster.run(Math.min(100, scenario.durationMs - t))
    stop = true
    await cluster.drive(all, 120_000, 'stopping the workload')
    if (failed !== undefined) throw failed
    runMs = cluster.clock.now() - t0

    const recovered = cluster.clock.now()
    history.fault('recover: heal, restart every node')
    await cluster.drive(cluster.recover(), 60_000, 'recovering')
    await cluster.drive(cluster.quiesce(recovered), 120_000, 'quiescing')
    quiesceMs = cluster.clock.now() - recovered
    if (scenario.settle !== undefined) await cluster.drive(scenario.settle(cluster, ctx), 600_000, 'settling')
    const checker = await cluster.drive(cluster.client('checker', { retries: 0 }), 60_000, 'connecting the checker')
    const keys = history.keys
    if (scenario.repairSweep ?? true) {
      const sweep = async (): Promise<void> => {
        for (const key of keys) {
          sweepKeys++
          for (let attempt = 0; ; attempt++) {
            try {
              await checker.get(Buffer.from(key), { r: 'all' })
              break
            } catch (e) {
              if (attempt >= 20) throw e
              sweepRetries++
              await cluster.sleep(500)
            }
          }
        }
      }
      await cluster.drive(sweep(), 600_000, 'the read-repair sweep')
    }
    // Convergence is timed from the moment the cluster was quiet: what repair itself took.
    convergeMs = cluster.clock.now() - recovered - quiesceMs
    violations.push(...checkConvergence(cluster.partitionDigests()))

    const finals = new Session('final', checker, { history, random: cluster.random.fork(), sleep: (ms) => cluster.sleep(ms) }, scenario.workload)
    await cluster.drive(
      (async () => {
        for (const key of keys) {
          const op = await finals.get(key, 'final', 'all')
          if (op.outcome !== 'ok') throw new Error(`the final read of ${key} failed with ${op.errorCode} on a healed cluster`)
        }
      })(),
      600_000,
      'the final reads',
    )
    const result = checkHistory(history, scenario.check)
    violations = [...result.violations, ...violations, ...ctx.violations, ...(scenario.verify?.(ctx) ?? [])]
    counts = { ...result.counts }
    for (const v of violations) if (!(v.check in result.counts)) counts[v.check] = (counts[v.check] ?? 0) + 1
    stats = result.stats
  } catch (e) {
    error = e instanceof Error ? (e.stack ?? e.message) : String(e)
  }
  const report: RunReport = {
    scenario: scenario.name,
    seed,
    ok: error === undefined && violations.length === 0,
    violations,
    counts,
    error,
    stats: {
      ...stats,
      ops: history.ops.length,
      errors: countErrors(history),
      faults: history.faults.length,
      crashes: cluster.nodes.reduce((n, x) => n + x.crashes, 0),
      wipes: cluster.nodes.reduce((n, x) => n + x.wipes, 0),
      unsyncedLost: cluster.nodes.reduce((n, x) => n + x.lostWrites, 0),
      runMs,
      quiesceMs,
      convergeMs,
      sweepKeys,
      sweepRetries,
      networkBytes: cluster.net.stats.bytes,
      dataBytes: cluster.dataBytes(),
      realMs: 0,
    },
    figures: ctx.figures,
    trace: cluster.traceDigest(),
    details,
  }
  if (!report.ok) {
    if (violations.length > 0) details.push(`violations: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`)
    details.push(...violations.slice(0, 20).map((v) => `${v.check}: ${v.message}`))
    const involved = new Set(violations.slice(0, 5).flatMap((v) => v.ops))
    const keys = new Set([...involved].map((id) => history.ops[id]?.key))
    details.push('history of the keys involved:')
    for (const op of history.ops) if (keys.has(op.key)) details.push(`  ${history.describe(op)}`)
    details.push('faults:', ...history.faults.map((f) => `  @${Math.round(f.at)} ${f.description}`))
    details.push('last log lines:', ...cluster.logs.slice(-30).map((l) => `  ${l}`))
    if (error !== undefined) details.push(`error: ${error}`)
  }
  try {
    await cluster.close()
  } catch (e) {
    if (report.ok) {
      report.ok = false
      report.error = `closing the cluster failed: ${String(e)}`
    }
  }
  report.stats.realMs = Math.round(performance.now() - started)
  return report
}

function countErrors(history: History): Record<string, number> {
  const out: Record<string, number> = {}
  for (const op of history.ops) if (op.errorCode !== undefined) out[op.errorCode] = (out[op.errorCode] ?? 0) + 1
  return out
}
