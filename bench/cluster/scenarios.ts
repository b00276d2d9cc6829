// The cluster benchmark's scenarios (DESIGN.md section 10). Each names its target system, its loop and its
// mix; the run order is fixed (ringkv on 'interval' durability, the degraded run, ringkv restarted on 'sync',
// then the peers), so a cluster is started and loaded once per durability.
export type ScenarioName =
  | 'mixed'
  | 'mixed-closed'
  | 'mixed-half'
  | 'mixed-zipfian'
  | 'reads'
  | 'writes-interval'
  | 'writes-sync'
  | 'degraded'
  | 'bare'
  | 'redis'

export interface Scenario {
  name: ScenarioName
  title: string
  target: 'ringkv' | 'bare' | 'redis'
  mode: 'open' | 'closed'
  /** 'mixed' uses the configured reads per write; 'reads' and 'writes' are pure. */
  mix: 'mixed' | 'reads' | 'writes'
  distribution: 'uniform' | 'zipfian'
  durability: 'interval' | 'sync'
  /** One node is stopped a third into the measured window and restarted at two thirds. */
  degraded: boolean
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'mixed', title: 'mixed reads and writes at the target rate (open loop)', target: 'ringkv', mode: 'open', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'mixed-closed', title: 'mixed reads and writes, as fast as it goes (closed loop)', target: 'ringkv', mode: 'closed', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'mixed-half', title: 'mixed at half the closed-loop throughput (open loop): latency at a load the cluster sustains', target: 'ringkv', mode: 'open', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'mixed-zipfian', title: 'mixed, zipfian keys (closed loop)', target: 'ringkv', mode: 'closed', mix: 'mixed', distribution: 'zipfian', durability: 'interval', degraded: false },
  { name: 'reads', title: 'reads only (closed loop)', target: 'ringkv', mode: 'closed', mix: 'reads', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'writes-interval', title: "writes only, durability 'interval' (closed loop)", target: 'ringkv', mode: 'closed', mix: 'writes', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'degraded', title: 'mixed with one node stopped mid-run, then restarted (closed loop)', target: 'ringkv', mode: 'closed', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: true },
  { name: 'writes-sync', title: "writes only, durability 'sync' (closed loop)", target: 'ringkv', mode: 'closed', mix: 'writes', distribution: 'uniform', durability: 'sync', degraded: false },
  { name: 'bare', title: 'the bare request path, mixed (closed loop): the ceiling', target: 'bare', mode: 'closed', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: false },
  { name: 'redis', title: 'one Redis server, unreplicated, mixed (closed loop)', target: 'redis', mode: 'closed', mix: 'mixed', distribution: 'uniform', durability: 'interval', degraded: false },
]

export const SCENARIO_NAMES: readonly ScenarioName[] = SCENARIOS.map((s) => s.name)

export function scenario(name: ScenarioName): Scenario {
  return SCENARIOS.find((s) => s.name === name)!
}

export function readFractionOf(s: Scenario, readsPerWrite: number): number {
  if (s.mix === 'reads') return 1
  if (s.mix === 'writes') return 0
  return readsPerWrite / (readsPerWrite + 1)
}
