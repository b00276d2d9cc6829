// The anti-entropy driver (DESIGN section 6): rounds over the partitions this node replicates, comparing each
// with every other live replica and syncing only the keys of differing leaves, then collecting the garbage that
// every replica has confirmed. The decisions are pure (tree.ts, compare.ts, gc-rule.ts); this module sends,
// paces and counts.
//
// One exchange of partition p with peer Y (the initiator drives; Y answers from its store, handlers.ts):
//   1. digest p locally and build the tree (tree.ts); ask Y for its root (AE_TREE depth 0). Equal: done.
//   2. descend: ask for the children of the nodes that differ, level by level, down to the differing leaves.
//   3. list the keys and entry hashes of those leaves on both sides (AE_ENTRIES), compare them (compare.ts).
//   4. AE_SYNC: push this node's envelopes of the keys that differ or only it holds; ask for the ones Y holds
//      that differ or only Y holds. Y merges what it got and answers with what this node lacks; this node merges
//      that. Merging is by clock (the store's `merge`), so newer data is never overwritten, whoever sends it.
//
// Garbage collection (gc-rule.ts says what may go). After a partition's round reached every one of its replicas,
// the node lists its collectible envelopes (obsolete for at least the grace period) and asks every other replica
// for its entry hash of those keys (AE_ENTRIES by keys). A key is collected only where every replica holds the
// same bytes or nothing: "seen on every replica" is checked, not inferred from timing, so it needs no bookkeeping
// that a restart could lose. The store removes it only if its bytes are still the confirmed ones, in one turn,
// and a later write to the key here takes a new key epoch (src/storage/key-epochs.ts), so it cannot reissue a
// collected dot.
// Replicas collect at different moments; meanwhile a replica that already collected a key must not receive it
// back, so an exchange neither pushes nor accepts a collectible envelope for a key the other side lacks.
//
// Pacing: one exchange at a time, rounds one after another (a `repair` waits for the running round, then runs
// its own), partitions and bytes per second bounded (throttle.ts), key lists and syncs in bounded batches,
// digests computed by the store off the event loop, and garbage collection's scan yielding every page.

import { RingkvError, isRingkvError } from '../../errors.ts'
import { MessageType } from '../../protocol/message-types.ts'
import { partitionsReplicatedBy, preferenceList, type RingMap } from '../../ring/index.ts'
import type { Clock, Logger, TimerHandle } from '../../runtime/index.ts'
import type { ReplicaStore } from '../../storage/index.ts'
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../versioning/index.ts'
import type { Peers } from '../coordinator.ts'
import type { Liveness } from '../liveness.ts'
import {
  ENTRIES_BY_KEYS,
  ENTRIES_BY_LEAVES,
  decodeKeyHashesReply,
  decodeLeafEntriesReply,
  decodeSyncReply,
  decodeTreeReply,
  encodeEntriesRequest,
  encodeSyncRequest,
  encodeTreeRequest,
  shortDigest,
  type SyncEntry,
} from './codec.ts'
import { diffEntries, differingIndexes, type EntryDiff } from './compare.ts'
import { collectible } from './gc-rule.ts'
import { readLocal, reconcile } from './reconcile.ts'
import { Throttle } from './throttle.ts'
import { buildTree, childRange, levelSizes, type MerkleTree } from './tree.ts'

export interface AntiEntropyOptions {
  /** Time between the starts of background rounds; 0 runs none (only `repair`). */
  intervalMs: number
  /** How long an envelope stays obsolete before garbage collection may remove it (DESIGN section 3). */
  tombstoneGraceMs: number
  maxPartitionsPerSecond: number
  maxBytesPerSecond: number
  /** Per request to a peer. */
  requestTimeoutMs: number
  /** Leaves per partition digest; every replica must use the same. */
  segments: number
}

export const antiEntropyDefaults = Object.freeze({
  // A round over 4096 partitions at 100 partitions per second takes about 80 s with two peers each; every
  // ten minutes keeps that a small share of the node's time while bounding how long a divergence lives.
  intervalMs: 10 * 60_000,
  tombstoneGraceMs: 10 * 24 * 3600_000,
  maxPartitionsPerSecond: 100,
  maxBytesPerSecond: 16 * 1024 * 1024,
  segments: 1024,
})

export interface AntiEntropyDeps {
  self: string
  store: ReplicaStore
  ring: () => RingMap
  peers: Peers
  liveness: Liveness
  /**
   * Whether partitions are moving (a join or decommission under way): their new replicas are not yet in the
   * ring, so nothing is collected until the move is over.
   */
  ringChanging: () => boolean
  clock: Clock
  logger: Logger
  options: AntiEntropyOptions
}

/** What one round did. Byte counts are message payloads (frame headers excluded), both directions. */
export interface RepairReport {
  node: string
  /** Wall-clock start, ms since the epoch. */
  startedAt: number
  durationMs: number
  /** Partitions of this node's that the round went through. */
  partitions: number
  /** (partition, peer) comparisons that completed. */
  exchanges: number
  exchangesFailed: number
  /** (partition, peer) pairs skipped because the peer is down. */
  peersDown: number
  /** Partitions whose round reached every replica with no partitions moving, so garbage collection ran there. */
  partitionsComplete: number
  leavesDiffering: number
  /** Distinct keys listed by either side in the differing leaves. */
  keysCompared: number
  /** Replica copies changed by the round: on this node plus on its peers. */
  keysRepaired: number
  keysRepairedHere: number
  keysRepairedOnPeers: number
  /** Undecodable values replaced by a replica's copy (on this node). */
  corruptRepaired: number
  bytesSent: number
  bytesReceived: number
  /** What full copies would have moved instead: this node's partition bytes, once per completed exchange. */
  fullCopyBytes: number
  /** Bytes of this node's data in the partitions it went through. */
  dataBytes: number
  tombstonesCollected: number
  /** The first few failures, for the operator. */
  errors: string[]
}

export interface AntiEntropyStats {
  rounds: number
  exchanges: number
  exchangesFailed: number
  keysCompared: number
  keysRepaired: number
  bytesSent: number
  bytesReceived: number
  tombstonesCollected: number
  lastRound: RepairReport | undefined
}

/** Differing leaves whose keys are listed per AE_ENTRIES request. */
const LEAVES_PER_REQUEST = 256
/** Keys and envelope bytes per AE_SYNC request. */
const SYNC_KEYS = 256
const SYNC_BYTES = 4 * 1024 * 1024
/** Collectible keys confirmed per AE_ENTRIES request, and at most per partition and round. */
const GC_BATCH = 1024
const GC_MAX_PER_PARTITION = 16 * 1024
/** Envelopes decoded by garbage collection's scan between two yields to the event loop. */
const GC_SCAN_PAGE = 256
const MAX_REPORTED_ERRORS = 10

function emptyReport(node: string, startedAt: number): RepairReport {
  return {
    node,
    startedAt,
    durationMs: 0,
    partitions: 0,
    exchanges: 0,
    exchangesFailed: 0,
    peersDown: 0,
    partitionsComplete: 0,
    leavesDiffering: 0,
    keysCompared: 0,
    keysRepaired: 0,
    keysRepairedHere: 0,
    keysRepairedOnPeers: 0,
    corruptRepaired: 0,
    bytesSent: 0,
    bytesReceived: 0,
    fullCopyBytes: 0,
    dataBytes: 0,
    tombstonesCollected: 0,
    errors: [],
  }
}

/** An envelope's encoding, copied: the encoder may hand out a view of a buffer it reuses. */
function encoded(envelope: Envelope): Buffer {
  return Buffer.from(encodeEnvelope(envelope))
}

interface Digest {
  readonly tree: MerkleTree
  /** This node's bytes in the partition. */
  readonly bytes: number
}

function message(e: unknown): string {
  return e instanceof RingkvError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e)
}

export class AntiEntropy {
  readonly #d: AntiEntropyDeps
  readonly #throttle: Throttle
  readonly #stats: AntiEntropyStats = {
    rounds: 0,
    exchanges: 0,
    exchangesFailed: 0,
    keysCompared: 0,
    keysRepaired: 0,
    bytesSent: 0,
    bytesReceived: 0,
    tombstonesCollected: 0,
    lastRound: undefined,
  }
  /** The running round, or the last one: rounds run one after another. */
  #tail: Promise<unknown> = Promise.resolve()
  #running = false
  #timer: TimerHandle | undefined
  #closed = false

  constructor(deps: AntiEntropyDeps) {
    this.#d = deps
    this.#throttle = new Throttle(deps.clock, deps.options)
  }

  stats(): AntiEntropyStats {
    return { ...this.#stats }
  }

  /** Starts background rounds every `intervalMs` (none when it is 0). */
  start(): void {
    const { intervalMs } = this.#d.options
    if (intervalMs === 0 || this.#timer !== undefined || this.#closed) return
    this.#timer = this.#d.clock.setInterval(() => {
      // A round still running (large partitions, tight throttle) is not doubled up.
      if (this.#running) return
      this.repair().catch((e: unknown) => {
        if (isRingkvError(e, 'ERR_UNAVAILABLE') || isRingkvError(e, 'ERR_CLOSED')) this.#d.logger.debug('anti-entropy round skipped', { reason: message(e) })
        else this.#d.logger.warn('anti-entropy round failed', { error: message(e) })
      })
    }, intervalMs)
  }

  /**
   * Runs a round now (after the one running, if any) over `partitions` (default: every partition this node
   * replicates) and reports what it did. ERR_UNAVAILABLE while the node has no ring yet.
   */
  repair(options: { partitions?: readonly number[] } = {}): Promise<RepairReport> {
    if (this.#closed) return Promise.reject(new RingkvError('ERR_CLOSED', 'anti-entropy is stopped'))
    const run = this.#tail.then(() => this.#round(options.partitions))
    this.#tail = run.catch(() => undefined)
    return run
  }

  /** Stops background rounds; the running round stops at its next partition. */
  async stop(): Promise<void> {
    this.#closed = true
    this.#d.clock.clearInterval(this.#timer)
    this.#timer = undefined
    await this.#tail
  }

  async #round(only: readonly number[] | undefined): Promise<RepairReport> {
    const { self, clock, logger } = this.#d
    const ring = this.#d.ring()
    const began = clock.monotonic()
    const report = emptyReport(self, clock.now())
    const mine = new Set(partitionsReplicatedBy(ring, self))
    if (only !== undefined) {
      for (const p of only) {
        if (!Number.isInteger(p) || p < 0 || p >= ring.q) throw new RingkvError('ERR_BAD_REQUEST', `partition ${p} is not one of the ring's ${ring.q}`)
        if (!mine.has(p)) throw new RingkvError('ERR_BAD_REQUEST', `node ${self} does not replicate partition ${p}`)
      }
    }
    const partitions = only === undefined ? [...mine].sort((a, b) => a - b) : [...new Set(only)].sort((a, b) => a - b)
    this.#running = true
    try {
      for (const p of partitions) {
        if (this.#closed) break
        await this.#throttle.partition()
        await this.#partition(ring, p, report)
      }
    } finally {
      this.#running = false
      report.durationMs = Math.round(clock.monotonic() - began)
      report.keysRepaired = report.keysRepairedHere + report.keysRepairedOnPeers
      const s = this.#stats
      s.rounds++
      s.exchanges += report.exchanges
      s.exchangesFailed += report.exchangesFailed
      s.keysCompared += report.keysCompared
      s.keysRepaired += report.keysRepaired
      s.bytesSent += report.bytesSent
      s.bytesReceived += report.bytesReceived
      s.tombstonesCollected += report.tombstonesCollected
      s.lastRound = report
    }
    if (report.keysRepaired > 0 || report.exchangesFailed > 0 || report.tombstonesCollected > 0) {
      logger.info('anti-entropy round', {
        partitions: report.partitions,
        exchanges: report.exchanges,
        failed: report.exchangesFailed,
        repaired: report.keysRepaired,
        collected: report.tombstonesCollected,
        bytes: report.bytesSent + report.bytesReceived,
        ms: report.durationMs,
      })
    }
    return report
  }

  async #partition(ring: RingMap, p: number, report: RepairReport): Promise<void> {
    const { self, liveness, logger } = this.#d
    const others = preferenceList(ring, p).primaries.filter((r) => r !== self)
    report.partitions++
    let complete = true
    let local: Digest | undefined
    let counted = false
    /** Index of the last peer whose exchange changed this node's data. */
    let lastChangedBy = -1
    const exchangeWith = async (peer: string, i: number): Promise<void> => {
      if (!liveness.isAlive(peer)) {
        report.peersDown++
        complete = false
        return
      }
      try {
        // A digest taken before an exchange that changed this node is stale for the next peer: take another.
        local ??= await this.#digest(p)
        if (!counted) {
          report.dataBytes += local.bytes
          counted = true
        }
        if (await this.#exchange(p, peer, local, report)) {
          local = undefined
          lastChangedBy = i
        }
      } catch (e) {
        complete = false
        report.exchangesFailed++
        if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push(`partition ${p} with ${peer}: ${message(e)}`)
        logger.debug('anti-entropy exchange failed', { partition: p, peer, error: message(e) })
      }
    }
    for (const [i, peer] of others.entries()) {
      if (this.#closed) return
      await exchangeWith(peer, i)
    }
    // What this node learned from a later peer, the earlier ones have not seen: one more pass over those makes
    // a single round converge every replica of the partition.
    const again = lastChangedBy
    for (let i = 0; i < again; i++) {
      if (this.#closed) return
      await exchangeWith(others[i]!, i)
    }
    if (!complete || this.#closed || this.#d.ringChanging()) return
    report.partitionsComplete++
    try {
      await this.#collectGarbage(p, others, report)
    } catch (e) {
      if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push(`garbage collection of partition ${p}: ${message(e)}`)
      logger.debug('anti-entropy garbage collection failed', { partition: p, error: message(e) })
    }
  }

  async #digest(p: number): Promise<Digest> {
    const digest = await this.#d.store.merkle(p, this.#d.options.segments)
    return { tree: buildTree(digest.leaves), bytes: digest.bytes }
  }

  async #request(peer: string, type: number, payload: Buffer, report: RepairReport): Promise<Buffer> {
    report.bytesSent += payload.length
    await this.#throttle.bytes(payload.length)
    const reply = await this.#d.peers.request(peer, type, payload, this.#d.options.requestTimeoutMs)
    report.bytesReceived += reply.length
    await this.#throttle.bytes(reply.length)
    return reply
  }

  /** One exchange of partition `p` with `peer`; returns whether this node's data changed. */
  async #exchange(p: number, peer: string, local: Digest, report: RepairReport): Promise<boolean> {
    const { segments } = this.#d.options
    const { levels } = local.tree
    const sizes = levelSizes(segments)
    const root = decodeTreeReply(await this.#request(peer, MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments, depth: 0, parents: [] }), report))
    let differing = differingIndexes(levels[0]!.map(shortDigest), root.hashes)
    for (let depth = 1; depth < levels.length && differing.length > 0; depth++) {
      const reply = decodeTreeReply(
        await this.#request(peer, MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments, depth, parents: differing }), report),
      )
      const children: number[] = []
      for (const parent of differing) {
        const [start, end] = childRange(sizes, depth - 1, parent)
        for (let c = start; c < end; c++) children.push(c)
      }
      const diff = differingIndexes(children.map((c) => shortDigest(levels[depth]![c]!)), reply.hashes)
      differing = diff.map((i) => children[i]!)
    }
    report.exchanges++
    report.fullCopyBytes += local.bytes
    if (differing.length === 0) return false
    report.leavesDiffering += differing.length
    let changedHere = false
    for (let i = 0; i < differing.length; i += LEAVES_PER_REQUEST) {
      const leaves = differing.slice(i, i + LEAVES_PER_REQUEST)
      const mine = (await this.#d.store.merkleEntries(p, segments, leaves)).map((e) => ({ key: e.key, hash: shortDigest(e.hash) }))
      const theirs = decodeLeafEntriesReply(
        await this.#request(peer, MessageType.AE_ENTRIES, encodeEntriesRequest({ partition: p, mode: ENTRIES_BY_LEAVES, segments, leaves }), report),
      )
      const diff = diffEntries(mine, theirs)
      report.keysCompared += diff.compared
      if (await this.#sync(p, peer, diff, report)) changedHere = true
    }
    return changedHere
  }

  /** Pushes and pulls the keys of one entry comparison; returns whether this node's data changed. */
  async #sync(p: number, peer: string, diff: EntryDiff, report: RepairReport): Promise<boolean> {
    const { store, clock, logger } = this.#d
    const grace = this.#d.options.tombstoneGraceMs
    const now = clock.now()
    interface Item {
      key: Buffer
      push: Buffer | undefined
      want: boolean
    }
    const items: Item[] = []
    for (const key of diff.onlyMine) {
      const { envelope } = readLocal(store, p, key)
      // Absent since the listing, or undecodable (nothing to send); or collectible while the peer lacks it: the
      // peer most likely collected it already, and would only have to collect it again.
      if (envelope === undefined || collectible(envelope, now, grace)) continue
      items.push({ key, push: encoded(envelope), want: false })
    }
    for (const key of diff.differing) {
      const { envelope } = readLocal(store, p, key)
      items.push({ key, push: envelope === undefined ? undefined : encoded(envelope), want: true })
    }
    for (const key of diff.onlyTheirs) items.push({ key, push: undefined, want: true })
    let changedHere = false
    for (let i = 0; i < items.length; ) {
      const batch: Item[] = []
      let bytes = 0
      while (i < items.length && batch.length < SYNC_KEYS && (batch.length === 0 || bytes + (items[i]!.push?.length ?? 0) <= SYNC_BYTES)) {
        bytes += items[i]!.push?.length ?? 0
        batch.push(items[i++]!)
      }
      const push: SyncEntry[] = batch.flatMap((it) => (it.push === undefined ? [] : [{ key: it.key, envelope: it.push }]))
      const want = batch.filter((it) => it.want).map((it) => it.key)
      const reply = decodeSyncReply(await this.#request(peer, MessageType.AE_SYNC, encodeSyncRequest({ partition: p, push, want }), report))
      report.keysRepairedOnPeers += reply.changed
      const wanted = new Set(want.map((k) => k.toString('latin1')))
      const at = clock.now()
      for (const e of reply.entries) {
        if (!wanted.has(e.key.toString('latin1'))) throw new RingkvError('ERR_BAD_REPLY', `${peer} sent key ${e.key.toString('hex').slice(0, 64)}, which was not asked for`)
        let envelope
        try {
          envelope = decodeEnvelope(e.envelope, { copy: true })
        } catch (err) {
          throw new RingkvError('ERR_BAD_REPLY', `${peer} sent an envelope that does not decode: ${message(err)}`, { cause: err })
        }
        const local = readLocal(store, p, e.key)
        // A key this node lacks, whose envelope is collectible: this node most likely collected it already.
        if (local.envelope === undefined && !local.corrupt && collectible(envelope, at, grace)) continue
        const r = reconcile(store, p, e.key, envelope, logger)
        if (r.changed) {
          report.keysRepairedHere++
          changedHere = true
        }
        if (r.replacedCorrupt) report.corruptRepaired++
      }
    }
    return changedHere
  }

  /** Garbage collection of partition `p`, after a round that reached every replica (`others` and this node). */
  async #collectGarbage(p: number, others: readonly string[], report: RepairReport): Promise<void> {
    const { store, clock } = this.#d
    const grace = this.#d.options.tombstoneGraceMs
    const now = clock.now()
    const candidates: Buffer[] = []
    let seen = 0
    for await (const e of store.scan(p)) {
      if (++seen % GC_SCAN_PAGE === 0) await new Promise<void>((resolve) => clock.setImmediate(resolve))
      if (collectible(e.envelope, now, grace)) candidates.push(e.key)
      if (candidates.length >= GC_MAX_PER_PARTITION || this.#closed) break
    }
    for (let i = 0; i < candidates.length && !this.#closed; i += GC_BATCH) {
      const keys = candidates.slice(i, i + GC_BATCH)
      const hashes = keys.map((k) => store.entryHash(p, k))
      const confirmed = hashes.map((h) => h !== undefined)
      for (const peer of others) {
        const theirs = decodeKeyHashesReply(
          await this.#request(peer, MessageType.AE_ENTRIES, encodeEntriesRequest({ partition: p, mode: ENTRIES_BY_KEYS, keys }), report),
          keys.length,
        )
        theirs.forEach((h, j) => {
          // The same bytes, or nothing (a replica that collected it already, or never had any version of it).
          if (h !== undefined && !h.equals(hashes[j]!)) confirmed[j] = false
        })
      }
      const at = clock.now()
      keys.forEach((key, j) => {
        if (!confirmed[j]) return
        if (store.collect(p, key, hashes[j]!, at).collected) report.tombstonesCollected++
      })
    }
  }
}
