// The history of a simulated run: every client operation's invocation and completion (virtual times, what it
// wrote or read, which read's causal context a write carried), and every fault the nemesis injected. The checker
// (checker.ts) judges the history, not only the end state: Jepsen's and Cassandra's simulator's way.
//
// Values are unique per write (`<session>.<n>`), so a value seen in a read names exactly one write.

export type OpKind = 'get' | 'put' | 'delete'
export type Outcome = 'pending' | 'ok' | 'error'

export interface Op {
  readonly id: number
  readonly session: string
  readonly kind: OpKind
  readonly key: string
  /** A put's value, unique in the history. */
  readonly value: string | undefined
  /**
   * The read whose causal context a write carried: it supersedes exactly what that read returned (and what
   * those values superseded). Undefined for a blind write (no context: a put becomes a sibling; a delete
   * supersedes whatever its coordinator had).
   */
  readonly contextFrom: number | undefined
  /** Time to live of a put, ms (0 = none). */
  readonly ttlMs: number
  readonly invokedAt: number
  completedAt: number | undefined
  outcome: Outcome
  errorCode: string | undefined
  /** A successful get: the values of the siblings it returned. */
  siblings: string[] | undefined
  /** A successful get: its causal context, for the write that follows. */
  context: string | undefined
  /** 'run' during the workload; 'final' for the checker's reads after healing. */
  readonly phase: 'run' | 'final'
}

export interface FaultEvent {
  readonly at: number
  readonly description: string
}

export class History {
  readonly ops: Op[] = []
  readonly faults: FaultEvent[] = []
  readonly #putsByValue = new Map<string, Op>()
  readonly #now: () => number
  readonly #trace: (event: string) => void

  constructor(now: () => number, trace: (event: string) => void = () => {}) {
    this.#now = now
    this.#trace = trace
  }

  invoke(o: { session: string; kind: OpKind; key: string; value?: string; contextFrom?: number; ttlMs?: number; phase?: 'run' | 'final' }): Op {
    if (o.kind === 'put' && (o.value === undefined || this.#putsByValue.has(o.value))) {
      throw new Error(`a put needs a value not written before, got ${String(o.value)}`)
    }
    const op: Op = {
      id: this.ops.length,
      session: o.session,
      kind: o.kind,
      key: o.key,
      value: o.value,
      contextFrom: o.contextFrom,
      ttlMs: o.ttlMs ?? 0,
      invokedAt: this.#now(),
      completedAt: undefined,
      outcome: 'pending',
      errorCode: undefined,
      siblings: undefined,
      context: undefined,
      phase: o.phase ?? 'run',
    }
    this.ops.push(op)
    if (op.kind === 'put') this.#putsByValue.set(op.value!, op)
    this.#trace(`invoke ${op.id} ${op.session} ${op.kind} ${op.key} ${op.value ?? ''} ${op.contextFrom ?? ''}`)
    return op
  }

  ok(op: Op, result: { siblings?: string[]; context?: string } = {}): void {
    op.completedAt = this.#now()
    op.outcome = 'ok'
    op.siblings = result.siblings
    op.context = result.context
    this.#trace(`ok ${op.id} ${op.siblings?.join(',') ?? ''}`)
  }

  fail(op: Op, code: string): void {
    op.completedAt = this.#now()
    op.outcome = 'error'
    op.errorCode = code
    this.#trace(`error ${op.id} ${code}`)
  }

  fault(description: string): void {
    this.faults.push({ at: this.#now(), description })
    this.#trace(`fault ${description}`)
  }

  /** The put that wrote `value`. */
  putOf(value: string): Op | undefined {
    return this.#putsByValue.get(value)
  }

  get keys(): string[] {
    return [...new Set(this.ops.map((o) => o.key))].sort()
  }

  /** A compact line per op, for failure reports. */
  describe(op: Op): string {
    const t = (ms: number | undefined) => (ms === undefined ? '-' : String(ms))
    const what = op.kind === 'put' ? `put ${op.key}=${op.value}` : `${op.kind} ${op.key}`
    const ctx = op.contextFrom === undefined ? (op.kind === 'get' ? '' : ' blind') : ` ctx<-#${op.contextFrom}`
    const result = op.outcome === 'error' ? ` ${op.errorCode}` : op.siblings !== undefined ? ` -> [${op.siblings.join(', ')}]` : ''
    return `#${op.id} ${op.session} ${what}${ctx} @${t(op.invokedAt)}..${t(op.completedAt)} ${op.outcome}${result}`
  }
}
