// The answering side of anti-entropy: one handler per message (AE_TREE, AE_ENTRIES, AE_SYNC, ADMIN_REPAIR),
// registered by the node with its other handlers. Failures travel as the transport's error-response: a
// malformed payload is ERR_BAD_REQUEST, a partition this node does not replicate ERR_NOT_REPLICA (so a peer
// with another ring never pushes data to the wrong node), no ring yet ERR_UNAVAILABLE.
//
// A tree is computed when a root is asked for (depth 0: the start of an exchange) and kept briefly for the
// deeper requests of the same exchange, so the store digests the partition once per exchange, not per level.
// A stale tree costs nothing worse than a difference found in the next round.

import { RingkvError } from '../../errors.ts'
import type { Handler } from '../../net/index.ts'
import { MessageType } from '../../protocol/message-types.ts'
import { preferenceList, type RingMap } from '../../ring/index.ts'
import type { Clock, Logger } from '../../runtime/index.ts'
import type { ReplicaStore } from '../../storage/index.ts'
import { decodeEnvelope, encodeEnvelope, envelopesEqual, type Envelope } from '../../versioning/index.ts'
import type { AntiEntropy } from './anti-entropy.ts'
import {
  ENTRIES_BY_LEAVES,
  decodeEntriesRequest,
  decodeRepairRequest,
  decodeSyncRequest,
  decodeTreeRequest,
  encodeKeyHashesReply,
  encodeLeafEntriesReply,
  encodeSyncReply,
  encodeTreeReply,
  type SyncEntry,
} from './codec.ts'
import { readLocal, reconcile } from './reconcile.ts'
import { buildTree, childRange, levelSizes, type MerkleTree } from './tree.ts'

export interface AntiEntropyHandlerDeps {
  self: string
  store: ReplicaStore
  ring: () => RingMap
  antiEntropy: AntiEntropy
  clock: Clock
  logger: Logger
}

/** How long a tree computed for a root request serves the deeper requests of its exchange. */
const TREE_TTL_MS = 10_000
/** Trees kept at once: one per exchange in progress with this node, a few peers at a time. */
const TREE_CACHE_SIZE = 16

interface CachedTree {
  readonly segments: number
  readonly tree: MerkleTree
  readonly entries: number
  readonly bytes: number
  readonly at: number
}

function bad(message: string): RingkvError {
  return new RingkvError('ERR_BAD_REQUEST', message)
}

export function antiEntropyHandlers(d: AntiEntropyHandlerDeps): Array<readonly [number, Handler]> {
  const { store, clock, logger } = d
  const trees = new Map<number, CachedTree>()

  const assertReplica = (partition: number): void => {
    const ring = d.ring()
    if (partition >= ring.q) throw bad(`partition ${partition} is not one of the ring's ${ring.q}`)
    if (!preferenceList(ring, partition).primaries.includes(d.self)) {
      throw new RingkvError('ERR_NOT_REPLICA', `node ${d.self} does not replicate partition ${partition} in ring version ${ring.version}`)
    }
  }

  const treeOf = async (partition: number, segments: number, fresh: boolean): Promise<CachedTree> => {
    const cached = trees.get(partition)
    if (!fresh && cached !== undefined && cached.segments === segments && clock.monotonic() - cached.at < TREE_TTL_MS) return cached
    const digest = await store.merkle(partition, segments)
    const entry: CachedTree = { segments, tree: buildTree(digest.leaves), entries: digest.entries, bytes: digest.bytes, at: clock.monotonic() }
    trees.delete(partition)
    trees.set(partition, entry)
    if (trees.size > TREE_CACHE_SIZE) trees.delete(trees.keys().next().value!)
    return entry
  }

  return [
    [
      MessageType.AE_TREE,
      async (payload) => {
        const q = decodeTreeRequest(payload)
        assertReplica(q.partition)
        const t = await treeOf(q.partition, q.segments, q.depth === 0)
        const { levels } = t.tree
        if (q.depth >= levels.length) throw bad(`depth ${q.depth}: a tree of ${q.segments} leaves has ${levels.length} levels`)
        if (q.depth === 0) return encodeTreeReply({ entries: t.entries, bytes: t.bytes, hashes: [levels[0]![0]!] })
        const sizes = levelSizes(q.segments)
        const hashes: Buffer[] = []
        for (const parent of q.parents) {
          if (parent >= sizes[q.depth - 1]!) throw bad(`node ${parent} at depth ${q.depth - 1}: that level has ${sizes[q.depth - 1]} nodes`)
          const [start, end] = childRange(sizes, q.depth - 1, parent)
          for (let c = start; c < end; c++) hashes.push(levels[q.depth]![c]!)
        }
        return encodeTreeReply({ entries: t.entries, bytes: t.bytes, hashes })
      },
    ],
    [
      MessageType.AE_ENTRIES,
      async (payload) => {
        const q = decodeEntriesRequest(payload)
        assertReplica(q.partition)
        if (q.mode === ENTRIES_BY_LEAVES) return encodeLeafEntriesReply(await store.merkleEntries(q.partition, q.segments, q.leaves))
        return encodeKeyHashesReply(q.keys.map((k) => store.entryHash(q.partition, k)))
      },
    ],
    [
      MessageType.AE_SYNC,
      (payload) => {
        const q = decodeSyncRequest(payload)
        assertReplica(q.partition)
        const pushed = new Map<string, Envelope>()
        const incoming = q.push.map((e) => {
          try {
            return { key: Buffer.from(e.key), envelope: decodeEnvelope(e.envelope, { copy: true }) }
          } catch (err) {
            throw bad(`the envelope pushed for key ${e.key.toString('hex').slice(0, 64)} does not decode: ${(err as Error).message}`)
          }
        })
        // Every merge and every answer in one synchronous turn: what is answered is what the merges left.
        let changed = 0
        for (const { key, envelope } of incoming) {
          if (reconcile(store, q.partition, key, envelope, logger).changed) changed++
          pushed.set(key.toString('latin1'), envelope)
        }
        const entries: SyncEntry[] = []
        for (const key of q.want) {
          const { envelope } = readLocal(store, q.partition, key)
          if (envelope === undefined) continue
          // The sender's own envelope came back unchanged: it has it already.
          const sent = pushed.get(key.toString('latin1'))
          if (sent !== undefined && envelopesEqual(sent, envelope)) continue
          entries.push({ key, envelope: Buffer.from(encodeEnvelope(envelope)) })
        }
        return encodeSyncReply({ changed, entries })
      },
    ],
    [
      MessageType.ADMIN_REPAIR,
      async (payload) => {
        const partitions = decodeRepairRequest(payload)
        const report = await d.antiEntropy.repair(partitions === undefined ? {} : { partitions })
        return Buffer.from(JSON.stringify(report))
      },
    ],
  ]
}
