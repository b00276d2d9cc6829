/**
 * One connection per address, shared by every caller: with pipelining, one connection carries any number of
 * concurrent requests, so a node needs no more than one per peer.
 *
 * `get` connects on first use; concurrent calls share one attempt; a connection that closes is forgotten, so
 * the next `get` connects again. A failed attempt to an address that was connected before is remembered for
 * `retryAfterMs` (default 0: not at all): meanwhile `get` fails at once with the same error instead of
 * dialling again, so a node whose peer went down does not pay a refused connection on every request to it.
 * Addresses never reached are dialled every time: at start-up peers come up in any order, and a remembered
 * failure would turn "not listening yet" into "down" for a while. Retrying, backing off and marking a
 * peer down are the caller's business (the failure detector's) — the pool never reconnects on its own, and
 * forwards each connection's 'close' as ('close', address, error).
 */
import { EventEmitter } from 'node:events'
import { RingkvError } from '../errors.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import type { Clock } from '../runtime/clock.ts'
import type { ConnectOptions, Connection, RequestOptions, Transport } from './transport.ts'

export interface PoolOptions {
  /** How long a failed connect is remembered (ms); 0 dials again on the next `get`. Needs `clock` when > 0. */
  retryAfterMs?: number
  clock?: Clock
}

export class ConnectionPool extends EventEmitter {
  readonly #transport: Transport
  readonly #options: ConnectOptions
  readonly #connections = new Map<string, Promise<Connection>>()
  /** The same connections once open: a request on one needs no promise hop to find it. */
  readonly #open = new Map<string, Connection>()
  readonly #retryAfterMs: number
  readonly #clock: Clock | undefined
  /** Address -> the failed connect and until when (monotonic ms) it stands. */
  readonly #failed = new Map<string, { error: unknown; until: number }>()
  /** Addresses a connection was made to at least once. */
  readonly #reached = new Set<string>()
  #closed = false

  constructor(transport: Transport, options: ConnectOptions, pool: PoolOptions = {}) {
    super()
    this.#transport = transport
    this.#options = options
    this.#retryAfterMs = pool.retryAfterMs ?? 0
    if (!Number.isFinite(this.#retryAfterMs) || this.#retryAfterMs < 0) {
      throw new RangeError(`retryAfterMs must be a non-negative number of milliseconds, got ${pool.retryAfterMs}`)
    }
    if (this.#retryAfterMs > 0 && pool.clock === undefined) throw new RangeError('retryAfterMs needs a clock')
    this.#clock = pool.clock
  }

  /** Addresses with a connection (or an attempt) in the pool. */
  get size(): number {
    return this.#connections.size
  }

  get(address: string): Promise<Connection> {
    if (this.#closed) {
      return Promise.reject(new RingkvError(ErrorCode.CONNECTION_CLOSED, 'connection pool is closed', { details: { address } }))
    }
    const existing = this.#connections.get(address)
    if (existing !== undefined) return existing
    if (this.#failed.size > 0) {
      const failed = this.#failed.get(address)
      if (failed !== undefined) {
        if (this.#clock!.monotonic() < failed.until) return Promise.reject(failed.error)
        this.#failed.delete(address)
      }
    }
    const attempt: Promise<Connection> = this.#transport.connect(address, this.#options).then(
      (connection) => {
        connection.once('close', (error) => {
          if (this.#connections.get(address) === attempt) this.#connections.delete(address)
          if (this.#open.get(address) === connection) this.#open.delete(address)
          this.emit('close', address, error)
        })
        if (this.#connections.get(address) === attempt && connection.isOpen) this.#open.set(address, connection)
        this.#reached.add(address)
        return connection
      },
      (error: unknown) => {
        if (this.#connections.get(address) === attempt) this.#connections.delete(address)
        if (this.#retryAfterMs > 0 && this.#reached.has(address)) {
          this.#failed.set(address, { error, until: this.#clock!.monotonic() + this.#retryAfterMs })
        }
        throw error
      },
    )
    this.#connections.set(address, attempt)
    return attempt
  }

  /** Forgets a remembered failed connect to `address` (the caller learned the peer is back): the next `get` dials. */
  forgetFailure(address: string): void {
    this.#failed.delete(address)
  }

  /** The open connection to `address`, if there is one, without waiting: the hot path of every request. */
  peek(address: string): Connection | undefined {
    const connection = this.#open.get(address)
    return connection !== undefined && connection.isOpen ? connection : undefined
  }

  request(address: string, type: number, payload: Uint8Array, options?: RequestOptions): Promise<Buffer> {
    const open = this.peek(address)
    if (open === undefined) return this.get(address).then((connection) => connection.request(type, payload, options))
    try {
      return open.request(type, payload, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Close every connection; later `get` calls fail with ERR_CONNECTION_CLOSED. */
  async close(): Promise<void> {
    this.#closed = true
    const attempts = [...this.#connections.values()]
    this.#connections.clear()
    this.#open.clear()
    await Promise.all(attempts.map((attempt) => attempt.then((c) => c.close(), () => {})))
  }
}

export interface ConnectionPool {
  on(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
  once(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
  off(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
}
