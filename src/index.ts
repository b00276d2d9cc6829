// ringkv's public API. Each part is re-exported from the module that owns it.
export * from './engine/index.ts'
export { RingkvError, isRingkvError } from './errors.ts'
export {
  connect,
  clientDefaults,
  type Client,
  type ClientOptions,
  type ClientScanOptions,
  type ScanPageOptions,
  type RingSnapshot,
  type Bytes,
  type Consistency,
  type DeleteOptions,
  type GetOptions,
  type GetResult,
  type MemberInfo,
  type PutOptions,
  type PutResult,
  type ScanEntry,
  type ScanPage,
  type SiblingValue,
} from './client/index.ts'
export {
  startNode,
  localNodeDefaults,
  keyspaceDefaults,
  type KeyspaceOptions,
  type NodeOptions,
  type NodeStats,
  type RingkvNode,
} from './node/index.ts'
export type { KvService } from './cluster/api.ts'
