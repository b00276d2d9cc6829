// The coordinator (DESIGN section 4). The pure decision cores live here; they count replies and decide what
// to answer and whom to repair, while the effectful driver (sending, timing out, feeding replies in) wraps them.
//   quorum.ts      request options (r, w, pr, pw, dw; one|quorum|all) and the replica bookkeeping both cores share
//   read-core.ts   one quorum read: enough replies?, the merged answer, read repair (riak_kv_get_core)
//   write-core.ts  one quorum write: enough acks, from primaries, durable? (riak_kv_put_core)
//   sloppy-quorum.ts  where one write goes: live primaries, and fallbacks standing in for down ones
//   errors.ts      QuorumError (ERR_QUORUM) with required / received / retryable

export {
  DEFAULT_READ_OPTIONS,
  DEFAULT_WRITE_OPTIONS,
  resolveQuorum,
  resolveReadOptions,
  resolveWriteOptions,
  type Consistency,
  type CoreStatus,
  type ReadOptions,
  type Replica,
  type ResolvedReadOptions,
  type ResolvedWriteOptions,
  type WriteOptions,
} from './quorum.ts'
export { ReadCore, visibleSiblings, type ReadAnswer, type ReadCoreOptions, type ReadRepairs } from './read-core.ts'
export { WriteCore, type Ack, type WriteCoreOptions } from './write-core.ts'
export { planSloppyWrite, type SloppyWritePlan, type WriteTarget } from './sloppy-quorum.ts'
export { isRetryableCode, QuorumError, RETRYABLE_CODES, type QuorumErrorDetails } from './errors.ts'
