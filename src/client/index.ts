// The TypeScript client of a ringkv cluster (DESIGN section 9):
//   client.ts    connect(), the operations, retries and ring refresh (the effects)
//   requests.ts  per-call argument checks and wire requests
//   routing.ts   the ring cache and the token-aware pick
//   retry.ts     what may be retried, and the backoff (pure)
//   options.ts   connect options: defaults and validation
export { connect, type Client } from './client.ts'
export { clientDefaults, type ClientOptions } from './options.ts'
export type { Bytes, ClientScanOptions, ScanPageOptions } from './requests.ts'
export type { RingSnapshot } from './routing.ts'
export type {
  Consistency,
  DeleteOptions,
  GetOptions,
  GetResult,
  MemberInfo,
  PutOptions,
  PutResult,
  ScanEntry,
  ScanPage,
  SiblingValue,
} from '../cluster/api.ts'
