// Merging a replica's envelope into the local store, as both sides of an exchange do it.
//
// Reconciliation is the store's `merge` (by clock: the newer version always survives, concurrent ones become
// siblings), with one addition for anti-entropy: a stored value that no longer decodes (damaged behind the
// store's back) is replaced by the replica's copy. The store itself never overwrites such a value, because the
// lost envelope may have held writes no other replica has; anti-entropy replaces it only with a copy that
// another replica holds, which is all that can still be had. Both steps run in one synchronous turn.

import { isRingkvError } from '../../errors.ts'
import type { ReplicaStore } from '../../storage/index.ts'
import type { Envelope } from '../../versioning/index.ts'
import type { Logger } from '../../runtime/index.ts'

export interface Reconciled {
  /** The local store changed. */
  readonly changed: boolean
  /** It held an undecodable value that the replica's copy replaced. */
  readonly replacedCorrupt: boolean
}

export function reconcile(store: ReplicaStore, partition: number, key: Uint8Array, incoming: Envelope, logger: Logger): Reconciled {
  try {
    return { changed: store.merge(partition, key, incoming).changed, replacedCorrupt: false }
  } catch (e) {
    if (!isRingkvError(e, 'ERR_CORRUPTION')) throw e
    logger.warn('anti-entropy replaces a damaged value with a replica\'s copy', { partition, key: Buffer.from(key).toString('hex').slice(0, 64), error: e.message })
    // `remove` applies during the call; its durability is the merge's, which the next write covers.
    store.remove(partition, key).catch(() => undefined)
    store.merge(partition, key, incoming)
    return { changed: true, replacedCorrupt: true }
  }
}

/** The stored envelope, or undefined when absent or undecodable (`corrupt` tells which). */
export function readLocal(store: ReplicaStore, partition: number, key: Uint8Array): { envelope: Envelope | undefined; corrupt: boolean } {
  try {
    return { envelope: store.get(partition, key), corrupt: false }
  } catch (e) {
    if (!isRingkvError(e, 'ERR_CORRUPTION')) throw e
    return { envelope: undefined, corrupt: true }
  }
}
