export { startNode, type NodeStats, type RingkvNode } from './node.ts'
export type { RepairReport, AntiEntropyStats } from './anti-entropy/index.ts'
export {
  hintDefaults,
  keyspaceDefaults,
  localNodeDefaults,
  resolveNodeOptions,
  type HintOptions,
  type KeyspaceOptions,
  type NodeOptions,
} from './options.ts'
