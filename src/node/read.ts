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
// envelopes have equal canonical encodings, so a reply byte-equal to the coordinator's own copy is not decoded
// at all: in a healthy cluster only one envelope is decoded per read.
//
// Deadlines. Every remote request carries the read's timeout (the RPC layer fails it with ERR_TIMEOUT), so a
// read needs no timer of its own; the speculative delay lives in one shared DeadlineQueue (one timer for all
// reads), not a timer per read.
import { RingkvError } from '../errors.ts'
import { decodeReplicaGetReply, encodeReplicaGet } from '../cluster/messages.ts'
import { ReadCore } from '../coordinator/index.ts'
import type { DeadlineQueue, Expirable } from '../net/deadlines.ts'
import { MessageType } from '../protocol/message-types.ts'
import type { Clock } from '../runtime/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import { decodeEnvelope, type Envelope } from '../versioning/index.ts'
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
  /** The failure detector's view: replicas believed down are asked last (absent: every replica is asked in turn). */
  readonly isAlive?: (node: string) => boolean
}

export interface ReadRequest {
  partition: number
  key: Uint8Array
  /** The key's replicas in preference order. */
  replicas: readonly { node: string; primary: boolean }[]
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

export class QuorumRead implements Expirable {
  deadlineBucket: object | undefined = undefined
  deadlineSlot = 0
  readonly core: ReadCore
  readonly #c: ReadContext
  readonly #q: ReadRequest
  /** Remote replicas not asked yet, in the order they will be. */
  readonly #unasked: string[]
  /** Asked and not yet answered (nor failed). */
  #outstanding = 0
  #localBytes: Uint8Array | undefined
  #localEnvelope: Envelope | undefined
  #payload: Buffer | undefined
  #wake: (() => void) | undefined
  #onDrained: (() => void) | undefined

  constructor(context: ReadContext, request: ReadRequest) {
    this.#c = context
    this.#q = request
    this.core = new ReadCore({ n: request.n, r: request.r, pr: request.pr, replicas: request.replicas, now: request.now })
    const remotes = request.replicas.filter((x) => x.node !== context.self).map((x) => x.node)
    const start = remotes.length === 0 ? 0 : request.turn % remotes.length
    const rotated = remotes.length <= 1 ? remotes : [...remotes.slice(start), ...remotes.slice(0, start)]
    // A replica believed down would only fail (or time out) before the next is asked: ask it last.
    const isAlive = context.isAlive
    this.#unasked = isAlive === undefined || rotated.every(isAlive) ? rotated : [...rotated.filter(isAlive), ...rotated.filter((x) => !isAlive(x))]
  }

  /** Reads locally (when a replica) and asks the remote replicas the quorum needs. */
  start(): void {
    const { self, store } = this.#c
    const { partition, key } = this.#q
    let localOk = false
    if (this.#q.replicas.some((x) => x.node === self)) {
      try {
        const bytes = store.getBytes(partition, key)
        let envelope: Envelope | undefined
        if (bytes !== undefined) {
          try {
            // No copy: the store's bytes are this read's own (the engine returns a fresh copy; the memory store's
            // are never mutated), and the answer copies the values it hands out.
            envelope = decodeEnvelope(bytes, { copy: false })
          } catch (e) {
            throw new RingkvError('ERR_CORRUPTION', `stored envelope of partition ${partition} key ${Buffer.from(key).toString('hex')} does not decode: ${(e as Error).message}`)
          }
        }
        this.#localBytes = bytes
        this.#localEnvelope = envelope
        this.core.ok(self, envelope)
        localOk = true
      } catch (e) {
        this.core.error(self, codeOf(e))
      }
    }
    const needed = Math.max(this.#q.r, this.#q.pr) - (localOk ? 1 : 0)
    for (let i = 0; i < needed && this.#unasked.length > 0; i++) this.#askNext()
    if (this.core.status() === 'pending' && this.#unasked.length > 0) this.#c.speculation.add(this, this.#c.latency.speculateAfterMs())
  }

  /** Resolves once the core is no longer pending. */
  settled(): Promise<void> {
    if (this.core.status() !== 'pending') return Promise.resolve()
    return new Promise<void>((resolve) => (this.#wake = resolve))
  }

  /** `callback` runs once every asked replica has answered or failed (at once if they all have). */
  whenDrained(callback: () => void): void {
    if (this.#outstanding === 0) callback()
    else this.#onDrained = callback
  }

  /** The speculative delay passed with the quorum still short: ask one more replica. */
  speculate(): void {
    if (this.core.status() !== 'pending' || this.#unasked.length === 0) return
    this.#askNext()
    if (this.#unasked.length > 0) this.#c.speculation.add(this, this.#c.latency.speculateAfterMs())
  }

  #askNext(): void {
    const node = this.#unasked.shift()!
    this.#payload ??= encodeReplicaGet({ partition: this.#q.partition, key: this.#q.key })
    this.#outstanding++
    const sentAt = this.#c.clock.monotonic()
    this.#c.peers.request(node, MessageType.REPLICA_GET, this.#payload, this.#q.timeoutMs).then(
      (reply) => {
        this.#c.latency.record(this.#c.clock.monotonic() - sentAt)
        let envelope: Envelope | undefined
        try {
          const bytes = decodeReplicaGetReply(reply)
          if (bytes === undefined) envelope = undefined
          else if (this.#localBytes !== undefined && Buffer.compare(bytes, this.#localBytes) === 0) envelope = this.#localEnvelope
          else envelope = decodeEnvelope(bytes)
        } catch (e) {
          this.#settle(node, false, undefined, codeOf(e))
          return
        }
        this.#settle(node, true, envelope, '')
      },
      (e: unknown) => this.#settle(node, false, undefined, codeOf(e)),
    )
  }

  #settle(node: string, ok: boolean, envelope: Envelope | undefined, code: string): void {
    this.#outstanding--
    if (ok) this.core.ok(node, envelope)
    else {
      this.core.error(node, code)
      // A failed replica is replaced at once while the quorum is still short.
      if (this.core.status() === 'pending' && this.#unasked.length > 0) this.#askNext()
    }
    if (this.core.status() !== 'pending') {
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
