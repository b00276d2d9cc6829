// The workload: client sessions that read and write a small set of keys, each a sequential logical client (one
// operation at a time, as one thread of an application), recording every operation in the history.
//
// A session's operations, in proportions the scenario sets:
//  - read-modify-write: read (R), then write a new value with the read's causal context (W) -- the way Dynamo
//    clients are meant to write, superseding exactly what they read;
//  - blind put: a write without context, which becomes a sibling of whatever is there;
//  - delete with the context of a read; blind delete (the coordinator deletes what it has seen);
//  - read.
// Every put writes a value unique in the run (`<session>.<n>`), so a value in a read names one write.
import type { DeleteOptions, GetOptions, GetResult, PutOptions, PutResult } from '../../src/cluster/api.ts'
import type { Consistency } from '../../src/cluster/api.ts'
import { isRingkvError } from '../../src/errors.ts'
import type { Random } from '../../src/runtime/random.ts'
import type { History, Op } from './history.ts'

/** What a session talks to: a client, or a node's service as an embedded caller. */
export interface Backend {
  get(key: Uint8Array, options?: GetOptions): Promise<GetResult>
  put(key: Uint8Array, value: Uint8Array, options?: PutOptions): Promise<PutResult>
  delete(key: Uint8Array, options?: DeleteOptions): Promise<void>
}

export interface OperationMix {
  rmw: number
  blindPut: number
  delete: number
  blindDelete: number
  read: number
}

export interface WorkloadOptions {
  /** Keys k0..k(n-1), chosen uniformly. */
  keys: number
  mix: OperationMix
  /** Mean pause between two operations of a session (exponential), ms. */
  thinkMs: number
  r: Consistency
  w: Consistency
  /** Fraction of puts with a time to live, and that time. */
  ttl?: { fraction: number; ms: number }
  /** Bound on operations per session. */
  maxOps: number
  /** Pad every value to this many bytes (to fill hint and anti-entropy budgets); values stay unique. */
  valueBytes?: number
}

export const defaultWorkload: WorkloadOptions = Object.freeze({
  keys: 12,
  mix: Object.freeze({ rmw: 0.55, blindPut: 0.1, delete: 0.1, blindDelete: 0, read: 0.25 }),
  thinkMs: 40,
  r: 2,
  w: 2,
  maxOps: 5000,
})

export interface SessionEnv {
  history: History
  random: Random
  sleep(ms: number): Promise<void>
}

export class Session {
  #n = 0
  ops = 0

  constructor(
    readonly name: string,
    readonly backend: Backend,
    readonly env: SessionEnv,
    readonly options: WorkloadOptions,
  ) {
    const m = options.mix
    if (Object.values(m).some((x) => !(x >= 0)) || Object.values(m).reduce((a, b) => a + b, 0) <= 0) {
      throw new RangeError(`the operation mix needs non-negative weights, not all zero: ${JSON.stringify(m)}`)
    }
  }

  /** Runs operations until `stop()` says so (checked between operations) or maxOps is reached. */
  async run(stop: () => boolean): Promise<void> {
    const { random } = this.env
    const m = this.options.mix
    const total = m.rmw + m.blindPut + m.delete + m.blindDelete + m.read
    while (!stop() && this.ops < this.options.maxOps) {
      await this.env.sleep(-Math.log(1 - random.next()) * this.options.thinkMs)
      if (stop()) break
      const key = `k${random.int(this.options.keys)}`
      let x = random.next() * total
      if ((x -= m.rmw) < 0) {
        const read = await this.get(key)
        if (read.outcome === 'ok') await this.put(key, read)
      } else if ((x -= m.blindPut) < 0) {
        await this.put(key, undefined)
      } else if ((x -= m.delete) < 0) {
        const read = await this.get(key)
        if (read.outcome === 'ok' && (read.siblings?.length ?? 0) > 0) await this.delete(key, read)
      } else if ((x -= m.blindDelete) < 0) {
        await this.delete(key, undefined)
      } else {
        await this.get(key)
      }
    }
  }

  async get(key: string, phase: 'run' | 'final' = 'run', r: Consistency = this.options.r): Promise<Op> {
    const op = this.env.history.invoke({ session: this.name, kind: 'get', key, phase })
    this.ops++
    try {
      const result = await this.backend.get(Buffer.from(key), { r })
      this.env.history.ok(op, { siblings: result.siblings.map((s) => s.value.toString()), context: result.context })
    } catch (e) {
      this.env.history.fail(op, codeOf(e))
    }
    return op
  }

  async put(key: string, after: Op | undefined): Promise<Op> {
    const name = `${this.name}.${++this.#n}`
    const value = this.options.valueBytes === undefined ? name : `${name}:`.padEnd(this.options.valueBytes, '~')
    const ttl = this.options.ttl
    const ttlMs = ttl !== undefined && this.env.random.next() < ttl.fraction ? ttl.ms : 0
    const op = this.env.history.invoke({ session: this.name, kind: 'put', key, value, contextFrom: after?.id, ttlMs })
    this.ops++
    try {
      await this.backend.put(Buffer.from(key), Buffer.from(value), { w: this.options.w, context: after?.context, ttlMs: ttlMs || undefined })
      this.env.history.ok(op)
    } catch (e) {
      this.env.history.fail(op, codeOf(e))
    }
    return op
  }

  async delete(key: string, after: Op | undefined): Promise<Op> {
    const op = this.env.history.invoke({ session: this.name, kind: 'delete', key, contextFrom: after?.id })
    this.ops++
    try {
      await this.backend.delete(Buffer.from(key), { w: this.options.w, context: after?.context })
      this.env.history.ok(op)
    } catch (e) {
      this.env.history.fail(op, codeOf(e))
    }
    return op
  }
}

function codeOf(e: unknown): string {
  if (isRingkvError(e)) return e.code
  // Anything else is a bug in the code under test (or the simulator): let it fail the run loudly.
  throw e
}
