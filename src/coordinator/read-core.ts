// The read core (DESIGN section 4; the role of Riak's riak_kv_get_core): the pure decisions of one quorum
// read. The coordinator (the effectful driver) sends the read to `replicas`, feeds every reply in as it
// comes -- `ok(node, envelope)` for a found key, `ok(node, undefined)` for not-found, `error(node, code)` for a
// failure, including the timeouts it decides on itself -- and asks:
//
//   status()      'pending' until R replies (found and not-found both count, Riak's notfound_ok) of which
//                 >= PR come from primaries, then 'ok'; 'failed' as soon as that can no longer happen (too
//                 few replicas left to answer). Once 'ok' or 'failed' it never changes.
//   answer()      what to return to the client: the merge of the replies that made the quorum, fixed at the
//                 moment status turned 'ok' -- its visible siblings, and its context.
//   result()      the merge of every reply so far (what the latest replies add is repaired, not answered).
//   repairs()     which replicas hold something other than result(), to be sent result(): `blocking` are
//                 those the answer was based on -- the coordinator awaits their repair before answering, so
//                 the answer is on R replicas and a later quorum read cannot return less (monotonic reads);
//                 `background` are replicas that answered after the quorum.
//   needsMore() / isFinal() / pending()  whether replicas are still to answer (late replies are worth
//                 waiting for: they are repaired too). The driver's protocol:
//                   on 'ok': send repairs().envelope to repairs().blocking, await that, answer with answer();
//                   when isFinal(): send repairs().envelope to repairs().background -- and to .blocking again
//                   if it differs from what they were sent (a late reply brought something new);
//                   on 'failed': answer quorumError(); once final, repairs() still applies (all background).
//
// Not-found is the bottom of the envelope semilattice: a replica without the key compares as the empty
// envelope, so it is repaired whenever the merge holds anything -- a tombstone's context included, which is
// what keeps a delete from being undone by a replica that missed it. An envelope whose siblings are all
// tombstones or expired is "deleted": it reads as not found, but it is a real envelope for merge and repair.
// Expired siblings are filtered when a read is answered (visibleSiblings), never dropped from what is
// repaired: the merge already drops them wherever a replica has dropped them, since contexts cover their dots.
//
// Time enters only as `now` (for expiry), given at creation; nothing here reads a clock or touches the network.

import {
  envelopesEqual,
  liveSiblings,
  mergeEnvelopes,
  vv,
  type Envelope,
  type Sibling,
} from '../versioning/index.ts'
import { QuorumError } from './errors.ts'
import { checkCount, ReplicaTally, type CoreStatus, type Replica } from './quorum.ts'

export interface ReadCoreOptions {
  /** The keyspace's replication factor. */
  readonly n: number
  /** Replies needed, 1..n. */
  readonly r: number
  /** Of which from primaries, 0..r. */
  readonly pr: number
  /** The nodes the read was sent to, primaries and fallbacks. */
  readonly replicas: readonly Replica[]
  /** Milliseconds since the epoch: what is expired when the read is answered. */
  readonly now: number
}

export interface ReadAnswer {
  /** The merged envelope the answer is based on (its context goes to the client); undefined if nobody had the key. */
  readonly envelope: Envelope | undefined
  /** What the client sees: live, unexpired siblings. Empty when the key is deleted or not found. */
  readonly siblings: readonly Sibling[]
  readonly state: 'found' | 'deleted' | 'not-found'
}

export interface ReadRepairs {
  /** What to send: result(). Undefined when no replica needs repair. */
  readonly envelope: Envelope | undefined
  /** Replicas the answer was based on that hold something else (empty unless status is 'ok'). */
  readonly blocking: readonly string[]
  /** Replicas that replied after the quorum and hold something else (all of them when the read failed). */
  readonly background: readonly string[]
}

type Reply = { readonly ok: true; readonly envelope: Envelope } | { readonly ok: false; readonly code: string }

/** The empty envelope: how a not-found reply takes part in merges and comparisons. */
const EMPTY: Envelope = Object.freeze({ context: vv(), siblings: Object.freeze([]) as readonly Sibling[] })

function isEmpty(env: Envelope): boolean {
  return env.context.size === 0 && env.siblings.length === 0
}

/** What a read shows of an envelope at `now`: values that are neither tombstones nor expired. */
export function visibleSiblings(env: Envelope | undefined, now: number): Sibling[] {
  return env === undefined ? [] : liveSiblings(env, now)
}

export class ReadCore {
  readonly #r: number
  readonly #pr: number
  readonly #now: number
  readonly #tally: ReplicaTally
  /** Each replica's first answer, by node. */
  readonly #replies = new Map<string, Reply>()
  #received = 0
  #primaryReceived = 0
  #merged: Envelope = EMPTY
  #status: CoreStatus = 'pending'
  /** Set when status turns 'ok': the nodes whose replies made the quorum, and the answer they gave. */
  #basis: ReadonlySet<string> | undefined
  #answer: ReadAnswer | undefined

  constructor(options: ReadCoreOptions) {
    const { n, r, pr, replicas, now } = options
    checkCount(n, 'n', 1, Number.MAX_SAFE_INTEGER, '2^53-1')
    checkCount(r, 'r', 1, n, 'n')
    checkCount(pr, 'pr', 0, r, 'r')
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new RangeError(`now must be a finite number, got ${String(now)}`)
    this.#r = r
    this.#pr = pr
    this.#now = now
    this.#tally = new ReplicaTally(replicas)
    this.#decide()
  }

  /**
   * A replica's reply: its envelope, or undefined when it does not have the key. Returns false (and changes
   * nothing) when this node has answered before; throws RangeError for a node that was not asked.
   */
  ok(node: string, envelope: Envelope | undefined): boolean {
    if (envelope !== undefined && !(envelope?.context instanceof Map && Array.isArray(envelope.siblings))) {
      throw new TypeError(`reply from ${node}: expected an envelope or undefined`)
    }
    const kind = this.#tally.answer(node)
    if (kind === 'duplicate') return false
    const env = envelope ?? EMPTY
    this.#replies.set(node, { ok: true, envelope: env })
    this.#received++
    if (kind === 'primary') this.#primaryReceived++
    this.#merged = mergeEnvelopes(this.#merged, env)
    this.#decide()
    return true
  }

  /** A replica failed (`code` as in RingkvError, e.g. ERR_TIMEOUT). Same duplicate and unknown-node rules as ok(). */
  error(node: string, code: string): boolean {
    if (typeof code !== 'string' || code.length === 0) throw new TypeError(`error from ${node}: code must be a non-empty string`)
    if (this.#tally.answer(node) === 'duplicate') return false
    this.#replies.set(node, { ok: false, code })
    this.#decide()
    return true
  }

  #decide(): void {
    if (this.#status !== 'pending') return
    if (this.#received >= this.#r && this.#primaryReceived >= this.#pr) {
      this.#status = 'ok'
      this.#basis = new Set([...this.#replies].filter(([, reply]) => reply.ok).map(([node]) => node))
      const envelope = this.result()
      const siblings = visibleSiblings(envelope, this.#now)
      this.#answer = Object.freeze({
        envelope,
        siblings: Object.freeze(siblings),
        state: envelope === undefined ? 'not-found' : siblings.length > 0 ? 'found' : 'deleted',
      })
    } else if (
      this.#received + this.#tally.pendingCount < this.#r ||
      this.#primaryReceived + this.#tally.primariesPending < this.#pr
    ) {
      this.#status = 'failed'
    }
  }

  status(): CoreStatus {
    return this.#status
  }

  /** The answer for the client, fixed when status turned 'ok'; undefined before (and when the read failed). */
  answer(): ReadAnswer | undefined {
    return this.#answer
  }

  /** The merge of every reply so far; undefined when every reply was not-found (or there is none yet). */
  result(): Envelope | undefined {
    return isEmpty(this.#merged) ? undefined : this.#merged
  }

  /** Replicas that replied with something other than result(); see the module comment for when to send what. */
  repairs(): ReadRepairs {
    const merged = this.#merged
    const blocking: string[] = []
    const background: string[] = []
    if (!isEmpty(merged)) {
      for (const node of this.#tally.nodes()) {
        const reply = this.#replies.get(node)
        if (reply === undefined || !reply.ok || envelopesEqual(reply.envelope, merged)) continue
        if (this.#basis?.has(node) === true) blocking.push(node)
        else background.push(node)
      }
    }
    return { envelope: blocking.length + background.length > 0 ? merged : undefined, blocking, background }
  }

  /** Replicas that have neither replied nor failed, in the order they were listed. */
  pending(): string[] {
    return this.#tally.pending()
  }

  /** Some replicas are still to answer: worth waiting for, even after 'ok', to repair them. */
  needsMore(): boolean {
    return this.#tally.pendingCount > 0
  }

  /** Every replica has replied or failed: repairs() is complete. */
  isFinal(): boolean {
    return this.#tally.pendingCount === 0
  }

  /** The error to answer a failed read with; undefined unless status is 'failed'. */
  quorumError(): QuorumError | undefined {
    if (this.#status !== 'failed') return undefined
    const errors: Array<[string, string]> = []
    for (const node of this.#tally.nodes()) {
      const reply = this.#replies.get(node)
      if (reply !== undefined && !reply.ok) errors.push([node, reply.code])
    }
    return new QuorumError({
      op: 'read',
      required: this.#r,
      received: this.#received,
      ...(this.#pr > 0 ? { primaryRequired: this.#pr, primaryReceived: this.#primaryReceived } : {}),
      errors,
      asked: this.#tally.asked,
      primariesAsked: this.#tally.primariesAsked,
    })
  }
}
