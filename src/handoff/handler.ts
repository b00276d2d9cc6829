// The HINTED_PUT handler: a fallback keeps a write for a replica that is down. It acknowledges once the hint
// is stored (durable per the hint store's mode, or fsynced when the coordinator asked for a durable ack),
// and the coordinator counts that ack toward W but never toward PW.
//
// A hint addressed to this node itself (the coordinator's ring or liveness view differs from ours) is simply
// merged into the replica store: that is where the hint would end up anyway.
import { RingkvError } from '../errors.ts'
import { encodeReplicaPutReply } from '../cluster/messages.ts'
import type { Handler } from '../net/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { decodeEnvelope } from '../versioning/index.ts'
import { decodeHintedPut } from './codec.ts'
import type { HintStore } from './hint-store.ts'

export interface HintedPutDeps {
  self: string
  store: ReplicaStore
  hints: HintStore
  /** Whether the replica store's write promises mean fsynced. */
  durableWrites: boolean
}

export function hintedPutHandler(d: HintedPutDeps): Handler {
  return async (payload) => {
    const q = decodeHintedPut(payload)
    if (q.target === d.self) {
      await d.store.mergeBytes(q.partition, q.key, q.envelope).durable
      if (q.durable && !d.durableWrites) await d.store.sync()
      return encodeReplicaPutReply(q.durable || d.durableWrites)
    }
    const added = d.hints.add(q.target, q.partition, q.key, decodeEnvelope(q.envelope, { copy: true }))
    if (!added.stored) {
      throw new RingkvError('ERR_HINT_REFUSED', `a hint of partition ${q.partition} for ${q.target} is larger than this node's whole hint budget`, {
        details: { target: q.target, partition: q.partition, maxBytes: d.hints.maxBytes },
      })
    }
    await added.durable
    if (q.durable && !d.hints.durableWrites) await d.hints.sync()
    return encodeReplicaPutReply(q.durable || d.hints.durableWrites)
  }
}
