// The write core (DESIGN section 4; the role of Riak's riak_kv_put_core): the pure decisions of one quorum
// write. The coordinator has already made the new envelope (updateEnvelope with its own actor) and sends it
// to `replicas`; it feeds each outcome in -- `ack(node, { durable })` when a replica stored the write,
// `error(node, code)` when it refused or could not be reached, timeouts included -- and asks:
//
//   status()      'ok' once >= W replicas acknowledged, >= PW of them primaries (not fallbacks holding a
//                 hint) and >= DW of them durably (fsynced before acking); 'failed' as soon as that can no
//                 longer happen; 'pending' otherwise. Once 'ok' or 'failed' it never changes.
//   quorumError() the ERR_QUORUM error to answer a failed write with.
//
// Each replica answers once: its first ack or error counts and later ones are ignored. A replica asked for
// durability therefore acks once, after its fsync (`durable: true`), or once without it (`durable: false`,
// e.g. a store in durability mode 'none'); a non-durable ack is never upgraded later.
//
// A failed write may still have been stored by some replicas: ERR_QUORUM means "not acknowledged", not "not
// written" (Dynamo semantics; a retry with the same context supersedes it).

import { QuorumError } from './errors.ts'
import { checkCount, ReplicaTally, type CoreStatus, type Replica } from './quorum.ts'

export interface WriteCoreOptions {
  /** The keyspace's replication factor. */
  readonly n: number
  /** Acks needed, 1..n. */
  readonly w: number
  /** Of which from primaries, 0..w. */
  readonly pw: number
  /** Of which durable, 0..w. */
  readonly dw: number
  /** The nodes the write was sent to, primaries and fallbacks. */
  readonly replicas: readonly Replica[]
}

export interface Ack {
  /** The replica made the write durable (fsync) before acknowledging it. */
  readonly durable: boolean
}

export class WriteCore {
  readonly #w: number
  readonly #pw: number
  readonly #dw: number
  readonly #tally: ReplicaTally
  /** Failed replicas and their codes, by node. */
  readonly #errors = new Map<string, string>()
  #acks = 0
  #primaryAcks = 0
  #durableAcks = 0
  #status: CoreStatus = 'pending'

  constructor(options: WriteCoreOptions) {
    const { n, w, pw, dw, replicas } = options
    checkCount(n, 'n', 1, Number.MAX_SAFE_INTEGER, '2^53-1')
    checkCount(w, 'w', 1, n, 'n')
    checkCount(pw, 'pw', 0, w, 'w')
    checkCount(dw, 'dw', 0, w, 'w')
    this.#w = w
    this.#pw = pw
    this.#dw = dw
    this.#tally = new ReplicaTally(replicas)
    this.#decide()
  }

  /** A replica stored the write. Returns false (and changes nothing) when this node has answered before; throws RangeError for a node that was not asked. */
  ack(node: string, ack: Ack): boolean {
    if (typeof ack?.durable !== 'boolean') throw new TypeError(`ack from ${node}: durable must be a boolean`)
    const kind = this.#tally.answer(node)
    if (kind === 'duplicate') return false
    this.#acks++
    if (kind === 'primary') this.#primaryAcks++
    if (ack.durable) this.#durableAcks++
    this.#decide()
    return true
  }

  /** A replica failed (`code` as in RingkvError, e.g. ERR_TIMEOUT). Same duplicate and unknown-node rules as ack(). */
  error(node: string, code: string): boolean {
    if (typeof code !== 'string' || code.length === 0) throw new TypeError(`error from ${node}: code must be a non-empty string`)
    if (this.#tally.answer(node) === 'duplicate') return false
    this.#errors.set(node, code)
    this.#decide()
    return true
  }

  #decide(): void {
    if (this.#status !== 'pending') return
    const pending = this.#tally.pendingCount
    if (this.#acks >= this.#w && this.#primaryAcks >= this.#pw && this.#durableAcks >= this.#dw) {
      this.#status = 'ok'
    } else if (
      this.#acks + pending < this.#w ||
      this.#primaryAcks + this.#tally.primariesPending < this.#pw ||
      this.#durableAcks + pending < this.#dw
    ) {
      this.#status = 'failed'
    }
  }

  status(): CoreStatus {
    return this.#status
  }

  /** Replicas that have neither acknowledged nor failed, in the order they were listed. */
  pending(): string[] {
    return this.#tally.pending()
  }

  /** Every replica has acknowledged or failed. */
  isFinal(): boolean {
    return this.#tally.pendingCount === 0
  }

  /** The error to answer a failed write with; undefined unless status is 'failed'. */
  quorumError(): QuorumError | undefined {
    if (this.#status !== 'failed') return undefined
    const errors: Array<[string, string]> = []
    for (const node of this.#tally.nodes()) {
      const code = this.#errors.get(node)
      if (code !== undefined) errors.push([node, code])
    }
    return new QuorumError({
      op: 'write',
      required: this.#w,
      received: this.#acks,
      ...(this.#pw > 0 ? { primaryRequired: this.#pw, primaryReceived: this.#primaryAcks } : {}),
      ...(this.#dw > 0 ? { durableRequired: this.#dw, durableReceived: this.#durableAcks } : {}),
      errors,
      asked: this.#tally.asked,
      primariesAsked: this.#tally.primariesAsked,
    })
  }
}
