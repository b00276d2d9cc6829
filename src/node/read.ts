// One quorum read, as the coordinator drives it: the effects around the pure read core (src/coordinator).
//
// Messages per read. A coordinator that is a replica of the key reads its own copy and asks only R - 1 of the
// other replicas (rotating which, to spread the load), not all of them: with N = 3 and R = 2 that is one
// remote request instead of two, half the replica work and half the messages of asking everyone (Cassandra
// reads the same way). Another replica is asked when one fails, and when the quorum is still short after the
// replicas' recent p99 (speculative retry, replica-latency.ts), so a slow or dead replica costs a read that
// wait, not its timeout. The price: a replica that is not asked is not read-repaired by that read (the ones
// the answer came from are, before the answer, which is what keeps quorum reads monotonic); anti-entropy
// repairs the rest. Replicas the failure detector believes down are asked last.
//
// Bytes before envelopes. A replica sends its stored bytes as they are (no decode, no encode), and equal
// envelopes have equal canonical encodings. The common read -- the coordinator holds the key and one more reply
// completes the quorum -- keeps its own copy as bytes and starts no read core, and asks that replica with a
// digest read (Cassandra's digest requests in one round trip): "your copy, unless its digest is this one",
// gathered with the turn's other digest reads to that replica into one REPLICA_DIGESTS request
// (digest-reads.ts). When the replica answers 'same', the read is over (`agreed`), nothing needs repair, and
// the answer is read straight from the local bytes (readAnswer): no value crosses the network twice and no
// envelope is decoded at all. Anything else (a different copy, which comes back in the same reply; a failure;
// the speculative delay passing) builds the core from what came so far and goes on as the general read, with
// plain REPLICA_GETs. A replica too old to know digest reads is asked again the plain way.
//
// Deadlines. Every remote request carries the read's timeout (the RPC layer fails it with ERR_TIMEOUT), so a
// read needs no timer of its own; the speculative delay lives in one shared DeadlineQueue (one timer for all
// reads), not a timer per read.
import { RingkvError } from '../errors.ts'
import { decodeReplicaGetReply, encodeReplicaGet } from '../cluster/messages.ts'
import { valueDigest } from '../engine/index.ts'
import { ReadCore } from '../coordinator/index.ts'
import type { DeadlineQueue, Expirable } from '../net/deadlines.ts'
import { MessageType } from '../protocol/message-types.ts'
import type { Clock } from '../runtime/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { decodeEnvelope, type Envelope } from '../versioning/index.ts'
import type { DigestReads } from './digest-reads.ts'
import type { ReplicaLatency } from './replica-latency.ts'

export interface ReadPeers {
  request(node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer>
}

export interface ReadContext {
  readonly self: string
  readonly store: ReplicaStore
  readonly peers: ReadPeers
  readonly clock: Clock
  readonly latency: ReplicaLatency
  readonly speculation: DeadlineQueue<QuorumRead>
  /** Where digest reads go: gathered per replica per turn (digest-reads.ts). */
  readonly digests: DigestReads
  /** The failure detector's view: replicas believed down are asked last (absent: every replica is asked in turn). */
  readonly isAlive?: (node: string) => boolean
}

export interface ReadRequest {
  partition: number
  key: Uint8Array
  /** The key's replicas in preference order. */
  replicas: readonly { node: string; primary: boolean }[]
  /** The replicas other than this node, in preference order (a list shared by every read of the partition). */
  remotes: readonly string[]
  /** Whether this node is one of `replicas`. */
  selfIsReplica: boolean
  n: number
  r: number
  pr: number
  now: number
  timeoutMs: number
  /** Where to start among the remote replicas (a counter: successive reads start at successive replicas). */
  turn: number
}

function codeOf(e: unknown): string {
  return e instanceof RingkvError ? e.code : 'ERR_INTERNAL'
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export class QuorumRead implements Expirable {
  deadlineBucket: object | undefined = undefined
  deadlineSlot = 0
  readonly #c: ReadContext
  readonly #q: ReadRequest
  /** Built when the read cannot end as `agreed` (see the top of this file). */
  #core: ReadCore | undefined
  /** This node's copy and one replica's were byte-equal: the read is answered from #localBytes, with no core. */
  #agreed = false
  /** Remote replicas not asked yet, in the order they will be. */
  readonly #unasked: string[]
  /** Asked and not yet answered (nor failed). */
  #outstanding = 0
  /** Whether this node's copy was read (then #localBytes is it, undefined when the key is absent here). */
  #localRead = false
  #localBytes: Uint8Array | undefined
  #localEnvelope: Envelope | undefined
  #localDecoded = false
  #payload: Buffer | undefined
  #wake: (() => void) | undefined
  #onDrained: (() => void) | undefined

  constructor(context: ReadContext, request: ReadRequest) {
    this.#c = context
    this.#q = request
    const remotes = request.remotes
    const count = remotes.length
    const start = count === 0 ? 0 : request.turn % count
    // Built element by element: spreads of slices cost three arrays per read.
    const rotated: string[] = []
    for (let i = 0; i < count; i++) rotated.push(remotes[(start + i) % count]!)
    // A replica believed down would only fail (or time out) before the next is asked: ask it last.
    const isAlive = context.isAlive
    let allAlive = true
    if (isAlive !== undefined) for (let i = 0; i < count && allAlive; i++) allAlive = isAlive(rotated[i]!)
    this.#unasked = allAlive ? rotated : [...rotated.filter((x) => isAlive!(x)), ...rotated.filter((x) => !isAlive!(x))]
  }

  /** The read core; building it (when the read did not need one) feeds it what this read has seen. */
  get core(): ReadCore {
    if (this.#core !== undefined) return this.#core
    const { n, r, pr, replicas, now } = this.#q
    const core = new ReadCore({ n, r, pr, replicas, now })
    this.#core = core
    if (this.#localRead) {
      try {
        core.ok(this.#c.self, this.#local())
      } catch (e) {
        core.error(this.#c.self, codeOf(e))
      }
    }
    if (this.#agreed) {
      // The replica that agreed: the one asked, i.e. the first of the rotation no longer unasked.
      const agreedWith = this.#q.remotes.find((x) => !this.#unasked.includes(x))
      if (agreedWith !== undefined) core.ok(agreedWith, this.#local())
    }
    return core
  }

  get partition(): number {
    return this.#q.partition
  }

  get key(): Uint8Array {
    return this.#q.key
  }

  get now(): number {
    return this.#q.now
  }

  get timeoutMs(): number {
    return this.#q.timeoutMs
  }

  /** Whether this node's copy and a replica's were byte-equal and made the quorum (see the top of this file). */
  get agreed(): boolean {
    return this.#agreed
  }

  /** This node's stored bytes (when `agreed`: the answer); undefined when the key is absent here. */
  get localBytes(): Uint8Array | undefined {
    return this.#localBytes
  }

  /** This node's copy, decoded once (no copy: the store's bytes are this read's own). */
  #local(): Envelope | undefined {
    if (this.#localDecoded) return this.#localEnvelope
    const bytes = this.#localBytes
    let envelope: Envelope | undefined
    if (bytes !== undefined) {
      try {
        envelope = decodeEnvelope(bytes, { copy: false })
      } catch (e) {
        const { partition, key } = this.#q
        throw new RingkvError('ERR_CORRUPTION', `stored envelope of partition ${partition} key ${Buffer.from(key).toString('hex')} does not decode: ${(e as Error).message}`)
      }
    }
    this.#localEnvelope = envelope
    this.#localDecoded = true
    return envelope
  }

  status(): 'pending' | 'ok' | 'failed' {
    if (this.#agreed) return 'ok'
    return this.#core === undefined ? 'pending' : this.#core.status()
  }

  /** Reads locally (when a replica) and asks the remote replicas the quorum needs. */
  start(): void {
    const { store, self } = this.#c
    const { partition, key, r, pr } = this.#q
    if (this.#q.selfIsReplica) {
      try {
        this.#localBytes = store.getBytes(partition, key)
        this.#localRead = true
      } catch (e) {
        this.core.error(self, codeOf(e))
      }
    }
    const needed = Math.max(r, pr) - (this.#localRead ? 1 : 0)
    // The common read needs one reply besides this node's: it may end agreed. Anything else needs the core now.
    if (!(this.#localRead && pr === 0 && needed <= 1)) void this.core
    else if (needed === 0) this.#agreed = true
    for (let i = 0; i < needed && this.#unasked.length > 0; i++) this.#askNext()
    if (this.status() === 'pending' && this.#unasked.length > 0) this.#c.speculation.add(this, this.#c.latency.speculateAfterMs())
  }

  /** Resolves once the read is no longer pending. */
  settled(): Promise<void> {
    if (this.status() !== 'pending') return Promise.resolve()
    return new Promise<void>((resolve) => (this.#wake = resolve))
  }

  /** `settled` as a callback (at once when the read is not pending): a caller with a promise of its own needs no second one. */
  whenSettled(callback: () => void): void {
    if (this.status() !== 'pending') callback()
    else this.#wake = callback
  }

  /** `callback` runs once every asked replica has answered or failed (at once if they all have). */
  whenDrained(callback: () => void): void {
    if (this.#outstanding === 0) callback()
    else this.#onDrained = callback
  }

  /** The speculative delay passed with the quorum still short: ask one more replica. */
  speculate(): void {
    if (this.status() !== 'pending' || this.#unasked.length === 0) return
    void this.core
    this.#askNext()
    if (this.#unasked.length > 0) this.#c.speculation.add(this, this.#c.latency.speculateAfterMs())
  }

  #askNext(): void {
    const node = this.#unasked.shift()!
    this.#outstanding++
    const sentAt = this.#c.clock.monotonic()
    const { partition, key, timeoutMs } = this.#q
    const answered = (bytes: Uint8Array | undefined): void => {
      let envelope: Envelope | undefined
      try {
        envelope = bytes === undefined ? undefined : sameBytes(bytes, this.#localBytes) ? this.#local() : decodeEnvelope(bytes)
      } catch (e) {
        this.#settle(node, false, undefined, codeOf(e))
        return
      }
      this.#settle(node, true, envelope, '')
    }
    if (this.#core === undefined) {
      // The read may still end agreed: a digest read, gathered with the turn's others to this replica.
      const local = this.#localBytes
      const q = { partition, key, digest: local === undefined ? undefined : valueDigest(local) }
      this.#c.digests.ask(node, q, timeoutMs, (reply) => {
        switch (reply.kind) {
          case 'same':
            this.#c.latency.record(this.#c.clock.monotonic() - sentAt)
            if (this.#core === undefined) {
              this.#agreed = true
              this.#settle(node, true, undefined, '')
            } else answered(local) // the core was built meanwhile (speculation): 'same' means this node's copy
            return
          case 'differs':
            this.#c.latency.record(this.#c.clock.monotonic() - sentAt)
            answered(reply.envelope)
            return
          case 'failed':
            if (reply.code !== 'ERR_UNKNOWN_MESSAGE') {
              this.#settle(node, false, undefined, reply.code)
              return
            }
            break
          case 'withheld':
            break
        }
        // A replica of an older release, or bytes its reply had no room for: ask it the plain way.
        this.#outstanding--
        void this.core
        this.#unasked.unshift(node)
        this.#askNext()
      })
      return
    }
    this.#payload ??= encodeReplicaGet({ partition, key })
    this.#c.peers.request(node, MessageType.REPLICA_GET, this.#payload, timeoutMs).then(
      (reply) => {
        this.#c.latency.record(this.#c.clock.monotonic() - sentAt)
        let bytes: Uint8Array | undefined
        try {
          bytes = decodeReplicaGetReply(reply)
        } catch (e) {
          this.#settle(node, false, undefined, codeOf(e))
          return
        }
        answered(bytes)
      },
      (e: unknown) => this.#settle(node, false, undefined, codeOf(e)),
    )
  }

  #settle(node: string, ok: boolean, envelope: Envelope | undefined, code: string): void {
    this.#outstanding--
    if (!this.#agreed) {
      const core = this.core
      if (ok) core.ok(node, envelope)
      else core.error(node, code)
      // While the quorum is still short, a failed replica is replaced at once, and so is a reply that leaves
      // nothing on its way (this node's copy turned out unreadable when the core was built).
      if (core.status() === 'pending' && this.#unasked.length > 0 && (!ok || this.#outstanding === 0)) this.#askNext()
    }
    if (this.status() !== 'pending') {
      this.#c.speculation.remove(this)
      const wake = this.#wake
      this.#wake = undefined
      wake?.()
    } else if (this.#outstanding === 0 && this.#unasked.length === 0) {
      // Nothing more will come: fail rather than wait (the core fails once too few replicas are left).
      const wake = this.#wake
      this.#wake = undefined
      wake?.()
    }
    if (this.#outstanding === 0) {
      const drained = this.#onDrained
      this.#onDrained = undefined
      drained?.()
    }
  }
}
