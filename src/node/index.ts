export { startNode, type NodeStats, type RingkvNode } from './node.ts'
export type { RepairReport, AntiEntropyStats } from './anti-entropy/index.ts'
export { keyspaceDefaults, localNodeDefaults, resolveNodeOptions, type KeyspaceOptions, type NodeOptions } from './options.ts'
