// One quorum write's bookkeeping, as the coordinator drives it: the replies of the replicas it was sent to fed
// to the write core (src/coordinator), and to the second core of a joint quorum while a pending ring moves the
// partition, until the write is decided.
//
// One object per write rather than a closure per step: a write used to build a Map, a Set, a Waiter and six
// closures around the core, and to arm a timer of its own. The write's deadline now lives in one DeadlineQueue
// shared by every write of the coordinator (one timer for all of them, as reads' speculation does); a write
// that is decided leaves it, so a replica that answers later is not failed by it -- the RPC layer still fails
// that replica's request at the timeout, which keeps its hint.
import type { WriteCore } from '../coordinator/index.ts'
import type { WriteTarget } from '../coordinator/sloppy-quorum.ts'
import type { DeadlineQueue, Expirable } from '../net/deadlines.ts'

/** The second quorum of a write while a pending ring moves its partition: W of the partition's new replicas. */
export interface JointQuorum {
  readonly core: WriteCore
  readonly asked: ReadonlySet<string>
}

export class QuorumWrite implements Expirable {
  deadlineBucket: object | undefined = undefined
  deadlineSlot = 0
  readonly #core: WriteCore
  readonly #joint: JointQuorum | undefined
  readonly #targets: readonly WriteTarget[]
  readonly #deadlines: DeadlineQueue<QuorumWrite>
  /** Nodes that have not answered yet: the targets, then the joint quorum's other nodes. */
  readonly #pending: string[]
  #wake: (() => void) | undefined
  #done = false

  constructor(core: WriteCore, joint: JointQuorum | undefined, targets: readonly WriteTarget[], deadlines: DeadlineQueue<QuorumWrite>, timeoutMs: number) {
    this.#core = core
    this.#joint = joint
    this.#targets = targets
    this.#deadlines = deadlines
    const pending = targets.map((x) => x.node)
    if (joint !== undefined) for (const node of joint.asked) if (!pending.includes(node)) pending.push(node)
    this.#pending = pending
    deadlines.add(this, timeoutMs)
    // A core can be decided before any answer (too few targets for W): then nothing is waited for.
    this.#check()
  }

  /** Every node the write must be sent to (this node included), targets first. */
  get nodes(): readonly string[] {
    return this.#pending.slice()
  }

  /** The fallback's down primary when `node` stands in for one (the write goes to it as a hint). */
  hintFor(node: string): string | undefined {
    for (const target of this.#targets) if (target.node === node) return target.hintFor
    return undefined
  }

  ack(node: string, durable: boolean): void {
    if (!this.#answered(node)) return
    if (this.#isTarget(node)) this.#core.ack(node, { durable })
    if (this.#joint?.asked.has(node) === true) this.#joint.core.ack(node, { durable })
    this.#check()
  }

  fail(node: string, code: string): void {
    if (!this.#answered(node)) return
    if (this.#isTarget(node)) this.#core.error(node, code)
    if (this.#joint?.asked.has(node) === true) this.#joint.core.error(node, code)
    this.#check()
  }

  /** The write's deadline passed undecided: every node still silent counts as timed out. */
  expire(): void {
    for (const node of this.#pending.slice()) this.fail(node, 'ERR_TIMEOUT')
  }

  status(): 'pending' | 'ok' | 'failed' {
    const a = this.#core.status()
    const b = this.#joint?.core.status() ?? 'ok'
    return a === 'failed' || b === 'failed' ? 'failed' : a === 'ok' && b === 'ok' ? 'ok' : 'pending'
  }

  /** The error a failed write is answered with. */
  quorumError(): Error | undefined {
    return this.#core.status() === 'failed' || this.#joint === undefined ? this.#core.quorumError() : this.#joint.core.quorumError()
  }

  /** Resolves once the write is decided, or every node has answered. */
  settled(): Promise<void> {
    if (this.#done) return Promise.resolve()
    return new Promise<void>((resolve) => (this.#wake = resolve))
  }

  #answered(node: string): boolean {
    const i = this.#pending.indexOf(node)
    if (i < 0) return false
    this.#pending.splice(i, 1)
    return true
  }

  #isTarget(node: string): boolean {
    for (const target of this.#targets) if (target.node === node) return true
    return false
  }

  #check(): void {
    if (this.#done || (this.status() === 'pending' && this.#pending.length > 0)) return
    this.#done = true
    this.#deadlines.remove(this)
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
