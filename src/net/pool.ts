/**
 * One connection per address, shared by every caller: with pipelining, one connection carries any number of
 * concurrent requests, so a node needs no more than one per peer.
 *
 * `get` connects on first use; concurrent calls share one attempt; a failed attempt is not remembered; a
 * connection that closes is forgotten, so the next `get` connects again. Retrying, backing off and marking a
 * peer down are the caller's business (the failure detector's) — the pool never reconnects on its own, and
 * forwards each connection's 'close' as ('close', address, error).
 */
import { EventEmitter } from 'node:events'
import { RingkvError } from '../errors.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import type { ConnectOptions, Connection, RequestOptions, Transport } from './transport.ts'

export class ConnectionPool extends EventEmitter {
  readonly #transport: Transport
  readonly #options: ConnectOptions
  readonly #connections = new Map<string, Promise<Connection>>()
  #closed = false

  constructor(transport: Transport, options: ConnectOptions) {
    super()
    this.#transport = transport
    this.#options = options
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
    const attempt: Promise<Connection> = this.#transport.connect(address, this.#options).then(
      (connection) => {
        connection.once('close', (error) => {
          if (this.#connections.get(address) === attempt) this.#connections.delete(address)
          this.emit('close', address, error)
        })
        return connection
      },
      (error: unknown) => {
        if (this.#connections.get(address) === attempt) this.#connections.delete(address)
        throw error
      },
    )
    this.#connections.set(address, attempt)
    return attempt
  }

  async request(address: string, type: number, payload: Uint8Array, options?: RequestOptions): Promise<Buffer> {
    const connection = await this.get(address)
    return connection.request(type, payload, options)
  }

  /** Close every connection; later `get` calls fail with ERR_CONNECTION_CLOSED. */
  async close(): Promise<void> {
    this.#closed = true
    const attempts = [...this.#connections.values()]
    this.#connections.clear()
    await Promise.all(attempts.map((attempt) => attempt.then((c) => c.close(), () => {})))
  }
}

export interface ConnectionPool {
  on(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
  once(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
  off(event: 'close', listener: (address: string, error: RingkvError | undefined) => void): this
}
