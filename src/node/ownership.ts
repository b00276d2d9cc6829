// Join and decommission: moving partitions between nodes while the cluster serves (DESIGN section 5).
//
// The node that joins (or leaves) drives its own change:
//   1. plan: claim(current ring, members +/- this node) -- the claim moves only what must move, so a join
//      into S nodes moves 1/(S+1) of the partition replicas, all to the joiner;
//   2. propose the pending ring (ring-state.ts) and wait until every live member holds it: from then on every
//      coordinator writes to the replicas of both rings (acknowledged at W in each), so no new write can miss
//      the new owners; then wait one request timeout more, so writes begun under the old ring alone have
//      finished or failed before anything is copied;
//   3. each gainer pulls each partition it gains from the partition's current replicas (REPLICA_SCAN pages,
//      merged by clock into its store: idempotent, so a page sent twice or a partition pulled again is
//      harmless). A W-acknowledged write is on W of the N current replicas, so pulling from N - W + 1 of them
//      finds it; a gainer pulls from every one that answers and needs at least that many;
//   4. commit: the pending ring becomes the ring. The nodes that lost a partition remove its data once every
//      live member has held the committed ring for a grace period (partition-cleanup.ts).
// Resuming: the pending ring is persisted on every node (ring.bin) and each gainer records the partitions it
// finished for that ring (streams-<checksum>.log, an append-only list), so after a crash of the driver it
// resumes at startup from step 2, and after a crash of a gainer the driver's retries find the finished
// partitions skipped. A crashed source only narrows where the gainer pulls from.
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import { decodeReplicaScanReply, encodeReplicaScan } from '../cluster/messages.ts'
import { BinaryReader, BinaryWriter } from '../protocol/binary.ts'
import { MessageType } from '../protocol/message-types.ts'
import { claim, diffRings, preferenceList, type RingMap } from '../ring/index.ts'
import { sleep, type Clock, type Logger } from '../runtime/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { decodeEnvelope } from '../versioning/index.ts'
import type { Peers } from './coordinator.ts'
import type { GossipMembership } from './gossip-membership.ts'
import { ringState, type RingState } from './ring-state.ts'

export interface OwnershipOptions {
  self: string
  membership: GossipMembership
  store: ReplicaStore
  peers: Peers
  clock: Clock
  logger: Logger
  dataDir: string | undefined
  /** Replicas per key the keyspace asks for. */
  n: number
  requestTimeoutMs: number
  /** Entries per streamed page. */
  pageSize?: number
  /** How long every live member gets to learn the pending ring. */
  agreementTimeoutMs?: number
}

/** What a join or decommission did, as `ringkv join` / `ringkv decommission` print it. */
export interface TransferReport {
  operation: 'join' | 'decommission'
  node: string
  ringBefore: number
  ringAfter: number
  /** Partition replicas that changed hands, and that count over all partition replicas (q x n). */
  partitionReplicasMoved: number
  movedFraction: number
  keysStreamed: number
  bytesStreamed: number
  durationMs: number
}

/** What `ringkv abort` did. */
export interface AbortReport {
  /** The version of the pending ring that was discarded. */
  aborted: number
  /** The node whose join or decommission that was. */
  driver: string | undefined
  /** The ring that stays in force. */
  ring: number
}

export interface PullReport {
  partitions: number
  keys: number
  bytes: number
}

function busy(message: string): RingkvError {
  return new RingkvError('ERR_RING_BUSY', message, { details: { retryable: true } })
}

export function encodeStreamPull(ringChecksum: string, partitions: readonly number[]): Buffer {
  const w = new BinaryWriter(16 + partitions.length * 2)
  w.string(ringChecksum).u32(partitions.length)
  for (const p of partitions) w.u16(p)
  return w.finish()
}

export function decodeStreamPull(payload: Uint8Array): { ringChecksum: string; partitions: number[] } {
  const r = new BinaryReader(payload)
  const ringChecksum = r.string('ring checksum')
  const count = r.u32('partition count')
  if (count > 65536) throw new RingkvError('ERR_BAD_REQUEST', `malformed message: ${count} partitions`)
  const partitions: number[] = []
  for (let i = 0; i < count; i++) partitions.push(r.u16('partition'))
  r.end()
  return { ringChecksum, partitions }
}

export class Ownership {
  readonly #o: OwnershipOptions
  #running: Promise<TransferReport> | undefined
  #stopped = false
  readonly #pulls = new Map<string, Promise<PullReport>>()

  constructor(options: OwnershipOptions) {
    this.#o = options
  }

  /** Moves to this node the partitions a balanced ring gives it, then makes it an owner. */
  join(): Promise<TransferReport> {
    return this.#once(() => this.#change('join'))
  }

  /** Hands this node's partitions to the others, then leaves the ring (status 'removed'). */
  decommission(): Promise<TransferReport> {
    return this.#once(async () => {
      try {
        return await this.#change('decommission')
      } catch (e) {
        // Aborted (or overtaken) while still a member: no longer leaving.
        const { current, pending } = this.#o.membership.ringState
        if (pending === undefined && current?.members.some((m) => m.id === this.#o.self) === true) this.#o.membership.declare(undefined)
        throw e
      }
    })
  }

  /**
   * Discards the pending ring: for a join or decommission whose driving node is gone for good (it would otherwise
   * resume the change when it restarts, and until then no other change can start). Refused while the driver is
   * alive unless `force`: it is still moving partitions and would see its change overtaken. Partitions stay where
   * the current ring has them; what gainers pulled already is removed by their cleanup (partition-cleanup.ts).
   */
  abort(options: { force?: boolean } = {}): AbortReport {
    const { membership, self, logger } = this.#o
    const state = membership.ringState
    if (state.current === undefined || state.pending === undefined) {
      throw new RingkvError('ERR_NO_PENDING_CHANGE', `node ${self} holds no pending ring change (ring v${state.current?.version ?? 0} is in force)`)
    }
    const inCurrent = new Set(state.current.members.map((m) => m.id))
    const inPending = new Set(state.pending.members.map((m) => m.id))
    const driver = [...inPending].find((id) => !inCurrent.has(id)) ?? [...inCurrent].find((id) => !inPending.has(id))
    if (driver !== undefined && options.force !== true && (driver === self ? this.#running !== undefined : membership.isAlive(driver))) {
      throw busy(`node ${driver} is alive and driving the change to ring v${state.pending.version}; stop it first, or abort with force`)
    }
    membership.propose(ringState(state.version + 1, state.current, undefined))
    logger.warn('pending ring change aborted', { aborted: state.pending.version, driver, ring: state.current.version })
    return { aborted: state.pending.version, driver, ring: state.current.version }
  }

  /**
   * After a restart: a change this node was driving (a pending ring that adds or removes it) is carried on.
   * Resolves at once; the work runs in the background.
   */
  resume(): void {
    const { current, pending } = this.#o.membership.ringState
    if (current === undefined || pending === undefined) return
    const inCurrent = current.members.some((m) => m.id === this.#o.self)
    const inPending = pending.members.some((m) => m.id === this.#o.self)
    if (inCurrent === inPending) return
    const operation = inPending ? 'join' : 'decommission'
    this.#o.logger.info('resuming a ring change', { operation })
    this.#once(() => this.#change(operation)).catch((e: unknown) =>
      this.#o.logger.error('resumed ring change failed', { operation, code: (e as RingkvError).code, error: (e as Error).message }),
    )
  }

  /** The node is closing: a change under way stops at its next step (and resumes after a restart). */
  stop(): void {
    this.#stopped = true
  }

  #checkRunning(): void {
    if (this.#stopped) throw new RingkvError('ERR_CLOSED', `node ${this.#o.self} is closing; the ring change resumes when it restarts`)
  }

  #once(run: () => Promise<TransferReport>): Promise<TransferReport> {
    if (this.#running !== undefined) return Promise.reject(busy(`node ${this.#o.self} is already moving partitions`))
    const p = run().finally(() => {
      this.#running = undefined
    })
    this.#running = p
    return p
  }

  async #change(operation: 'join' | 'decommission'): Promise<TransferReport> {
    const { membership, self, clock, logger } = this.#o
    const began = clock.monotonic()
    let state = membership.ringState
    const current = state.current
    if (current === undefined) throw new RingkvError('ERR_UNAVAILABLE', `node ${self} has no ring yet: the cluster has not formed`, { details: { retryable: true } })
    const member = current.members.some((m) => m.id === self)
    let target: RingMap
    if (state.pending !== undefined) {
      // A change under way: ours to resume if it is the one asked for, else someone else's.
      const inPending = state.pending.members.some((m) => m.id === self)
      const ours = operation === 'join' ? !member && inPending : member && !inPending
      if (!ours) throw busy(`ring v${state.pending.version} is being moved to; try again when it is committed`)
      target = state.pending
    } else {
      if (operation === 'join' && member) throw new RingkvError('ERR_ALREADY_MEMBER', `node ${self} already owns partitions in ring v${current.version}`)
      if (operation === 'decommission' && !member) throw new RingkvError('ERR_NOT_MEMBER', `node ${self} owns no partitions in ring v${current.version}`)
      const members = operation === 'join' ? [...current.members, { id: self }] : current.members.filter((m) => m.id !== self)
      if (members.length === 0) throw new RingkvError('ERR_LAST_MEMBER', `node ${self} is the last member; nothing could take its partitions`)
      const n = Math.max(1, Math.min(this.#o.n, members.length))
      target = claim(current, members, { q: current.q, n }).ring
      state = ringState(state.version + 1, current, target)
      membership.propose(state)
    }
    if (operation === 'decommission') membership.declare('leaving')
    logger.info('ring change: waiting for every live member to hold the pending ring', { operation, pending: target.version })
    await this.#agreement(state)
    // Writes begun under the old ring alone finish (or time out) before anything is copied.
    await sleep(clock, this.#o.requestTimeoutMs)
    this.#checkRunning()

    const changes = diffRings(current, target)
    const byGainer = new Map<string, number[]>()
    let moved = 0
    for (const c of changes) {
      moved += c.gained.length
      for (const g of c.gained) {
        let list = byGainer.get(g)
        if (list === undefined) byGainer.set(g, (list = []))
        list.push(c.partition)
      }
    }
    let keys = 0
    let bytes = 0
    await Promise.all(
      [...byGainer].map(async ([gainer, partitions]) => {
        const r = await this.#pullAt(gainer, state, partitions)
        keys += r.keys
        bytes += r.bytes
      }),
    )
    // Commit. Someone else may have committed or overtaken our state meanwhile (our own resumed run, after a
    // restart that raced another): only commit what we proposed.
    if (membership.ringState.checksum !== state.checksum) throw busy('the pending ring changed while partitions were moving')
    membership.propose(ringState(state.version + 1, target, undefined))
    if (operation === 'decommission') membership.declare('removed')
    else membership.declare(undefined)
    const report: TransferReport = {
      operation,
      node: self,
      ringBefore: current.version,
      ringAfter: target.version,
      partitionReplicasMoved: moved,
      movedFraction: moved / (current.q * Math.max(current.n, target.n)),
      keysStreamed: keys,
      bytesStreamed: bytes,
      durationMs: clock.monotonic() - began,
    }
    logger.info('ring change committed', { ...report })
    return report
  }

  /** Until every live member holds `state` (a member that is down learns it when it is back). */
  async #agreement(state: RingState): Promise<void> {
    const limit = this.#o.agreementTimeoutMs ?? 60_000
    const began = this.#o.clock.monotonic()
    for (;;) {
      this.#checkRunning()
      if (this.#o.membership.ringState.checksum !== state.checksum) throw busy('the pending ring was overtaken by another change')
      const lagging = this.#o.membership.lagging(state.checksum)
      if (lagging.length === 0) return
      if (this.#o.clock.monotonic() - began > limit) {
        throw new RingkvError('ERR_TIMEOUT', `members ${lagging.join(', ')} did not learn the pending ring within ${limit} ms`, {
          details: { lagging, retryable: true },
        })
      }
      await sleep(this.#o.clock, 100)
    }
  }

  /** Has `gainer` pull `partitions`, retrying while it is down or unreachable. */
  async #pullAt(gainer: string, state: RingState, partitions: number[]): Promise<PullReport> {
    for (let attempt = 1; ; attempt++) {
      this.#checkRunning()
      if (this.#o.membership.ringState.checksum !== state.checksum) throw busy('the pending ring changed while partitions were moving')
      try {
        if (gainer === this.#o.self) return await this.pull(state.checksum, partitions)
        if (this.#o.membership.isAlive(gainer)) {
          const reply = await this.#o.peers.request(gainer, MessageType.STREAM_PULL, encodeStreamPull(state.checksum, partitions), 3_600_000)
          return JSON.parse(reply.toString('utf8')) as PullReport
        }
      } catch (e) {
        this.#o.logger.warn('partition pull failed; retrying', { gainer, attempt, code: (e as RingkvError).code, error: (e as Error).message })
      }
      await sleep(this.#o.clock, Math.min(5000, 250 * attempt))
    }
  }

  /** STREAM_PULL: pull `partitions` (which this node gains under the pending ring) from their current replicas. */
  handlePull(payload: Buffer): Promise<Uint8Array> {
    const { ringChecksum, partitions } = decodeStreamPull(payload)
    return this.pull(ringChecksum, partitions).then((r) => Buffer.from(JSON.stringify(r)))
  }

  pull(ringChecksum: string, partitions: readonly number[]): Promise<PullReport> {
    const key = `${ringChecksum}:${partitions.join(',')}`
    let p = this.#pulls.get(key)
    if (p === undefined) {
      p = this.#pull(ringChecksum, partitions).finally(() => this.#pulls.delete(key))
      this.#pulls.set(key, p)
    }
    return p
  }

  async #pull(ringChecksum: string, partitions: readonly number[]): Promise<PullReport> {
    const state = this.#o.membership.ringState
    if (state.checksum !== ringChecksum || state.current === undefined || state.pending === undefined) {
      throw busy(`node ${this.#o.self} does not hold the pending ring being moved to yet`)
    }
    const current = state.current
    const done = this.#loadDone(ringChecksum)
    const report: PullReport = { partitions: 0, keys: 0, bytes: 0 }
    const todo = partitions.filter((p) => !done.has(p))
    // A few partitions at a time: enough to hide round trips, few enough to leave the event loop to clients.
    let next = 0
    // A partition is recorded as done only once what was merged for it is fsynced, whatever the engine's
    // durability mode: one fsync per batch of partitions, not per write.
    let finished: number[] = []
    const flushDone = async (): Promise<void> => {
      if (finished.length === 0) return
      const batch = finished
      finished = []
      await this.#o.store.sync()
      this.#markDone(ringChecksum, batch)
    }
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        // A stopping node leaves the rest for its restart (what is done is recorded) rather than finishing it.
        this.#checkRunning()
        const p = todo[next++]!
        const r = await this.#pullPartition(current, p)
        report.keys += r.keys
        report.bytes += r.bytes
        report.partitions++
        finished.push(p)
        if (finished.length >= 64) await flushDone()
      }
    }
    await Promise.all(Array.from({ length: 4 }, worker))
    await flushDone()
    this.#forgetOtherRings(ringChecksum)
    return report
  }

  async #pullPartition(current: RingMap, partition: number): Promise<{ keys: number; bytes: number }> {
    const sources = preferenceList(current, partition).primaries.filter((s) => s !== this.#o.self)
    const n = preferenceList(current, partition).primaries.length
    const w = Math.floor(n / 2) + 1
    const needed = Math.min(sources.length, Math.max(1, n - w + 1))
    let keys = 0
    let bytes = 0
    let answered = 0
    const failures: string[] = []
    await Promise.all(
      sources.map(async (source) => {
        try {
          const r = await this.#pullFrom(source, partition)
          keys += r.keys
          bytes += r.bytes
          answered++
        } catch (e) {
          failures.push(`${source}: ${(e as RingkvError).code ?? (e as Error).message}`)
        }
      }),
    )
    if (answered < needed) {
      throw new RingkvError('ERR_UNAVAILABLE', `partition ${partition}: ${answered} of ${sources.length} sources answered, ${needed} needed (${failures.join('; ')})`, {
        details: { retryable: true },
      })
    }
    return { keys, bytes }
  }

  async #pullFrom(source: string, partition: number): Promise<{ keys: number; bytes: number }> {
    const pageSize = this.#o.pageSize ?? 512
    let after: Buffer | undefined
    let keys = 0
    let bytes = 0
    for (;;) {
      const reply = await this.#o.peers.request(
        source,
        MessageType.REPLICA_SCAN,
        encodeReplicaScan({ partitions: [partition], start: undefined, end: undefined, after, limit: pageSize }),
        this.#o.requestTimeoutMs,
      )
      const page = decodeReplicaScanReply(reply)
      for (const e of page.entries) {
        this.#o.store.merge(partition, e.key, decodeEnvelope(e.envelope, { copy: true }))
        keys++
        bytes += e.key.length + e.envelope.length
      }
      const last = page.entries[page.entries.length - 1]
      if (!page.more || last === undefined) return { keys, bytes }
      after = last.key
    }
  }

  #doneFile(ringChecksum: string): string | undefined {
    return this.#o.dataDir === undefined ? undefined : join(this.#o.dataDir, 'streams', `${ringChecksum.slice(0, 32)}.log`)
  }

  #loadDone(ringChecksum: string): Set<number> {
    const done = new Set<number>()
    const file = this.#doneFile(ringChecksum)
    if (file === undefined) return done
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return done
    }
    // A torn last line (a crash while appending) is simply not counted: that partition is pulled again.
    for (const line of text.split('\n')) if (/^\d+$/.test(line)) done.add(Number(line))
    return done
  }

  #markDone(ringChecksum: string, partitions: readonly number[]): void {
    const file = this.#doneFile(ringChecksum)
    if (file === undefined) return
    mkdirSync(join(this.#o.dataDir!, 'streams'), { recursive: true })
    appendFileSync(file, partitions.map((p) => `${p}\n`).join(''))
  }

  #forgetOtherRings(keep: string): void {
    if (this.#o.dataDir === undefined) return
    const dir = join(this.#o.dataDir, 'streams')
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) if (name !== `${keep.slice(0, 32)}.log`) rmSync(join(dir, name), { force: true })
  }
}
