/**
 * A Transport built from a StreamFactory: servers, connect, and the bookkeeping around RpcConnection that
 * does not depend on what carries the bytes. tcp.ts and memory.ts only supply the factory.
 */
import { EventEmitter } from 'node:events'
import { RingkvError } from '../errors.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import { type Clock, type TimerHandle, systemClock } from '../runtime/clock.ts'
import { type Logger, silentLogger } from '../runtime/logger.ts'
import { type FlushMode, Flusher, RpcConnection, checkNodeId, handlerTable, resolveConnectionOptions } from './rpc.ts'
import type { ByteStream, StreamFactory, StreamListener } from './stream.ts'
import type { ConnectOptions, Connection, ListenOptions, Server, Transport } from './transport.ts'

export interface TransportOptions {
  clock?: Clock
  logger?: Logger
  /** When gathered frames are written; 'turn' (default) is once per event-loop turn. See rpc.ts. */
  flush?: FlushMode
}

const FLUSH_MODES: readonly FlushMode[] = ['turn', 'microtask', 'off']
const NO_HANDLERS = handlerTable([])

export class StreamTransport implements Transport {
  readonly #factory: StreamFactory
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #flusher: Flusher

  constructor(factory: StreamFactory, options: TransportOptions = {}) {
    const flush = options.flush ?? 'turn'
    if (!FLUSH_MODES.includes(flush)) throw new RangeError(`flush must be one of ${FLUSH_MODES.join(', ')}, got ${flush}`)
    this.#factory = factory
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger ?? silentLogger
    this.#flusher = new Flusher(this.#clock, flush)
  }

  async listen(options: ListenOptions): Promise<Server> {
    const connectionOptions = resolveConnectionOptions(options)
    checkNodeId(options.nodeId)
    const handlers = handlerTable(options.handlers)
    const server = new StreamServer(this.#clock)
    const log = this.#logger.child({ node: options.nodeId })
    const listener = await this.#factory.listen(options.address, (stream) => {
      if (server.closing) {
        stream.destroy()
        return
      }
      const connection = new RpcConnection({
        stream,
        role: 'server',
        nodeId: options.nodeId,
        handlers,
        options: connectionOptions,
        clock: this.#clock,
        logger: log,
        flusher: this.#flusher,
      })
      server.adopt(connection)
    })
    server.closeGraceMs = connectionOptions.closeGraceMs
    server.listener = listener
    log.debug('listening', { address: listener.address })
    return server
  }

  async connect(address: string, options: ConnectOptions): Promise<Connection> {
    const connectionOptions = resolveConnectionOptions(options)
    checkNodeId(options.nodeId)
    const handlers = options.handlers === undefined ? NO_HANDLERS : handlerTable(options.handlers)
    const started = this.#clock.monotonic()
    const stream = await this.#dial(address, connectionOptions.helloTimeoutMs)
    const remaining = Math.max(1, connectionOptions.helloTimeoutMs - (this.#clock.monotonic() - started))
    const connection = new RpcConnection({
      stream,
      role: 'client',
      nodeId: options.nodeId,
      handlers,
      options: { ...connectionOptions, helloTimeoutMs: remaining },
      clock: this.#clock,
      logger: this.#logger.child({ node: options.nodeId }),
      flusher: this.#flusher,
    })
    await connection.opened
    return connection
  }

  /** Dial with a deadline; a stream that arrives after the deadline is destroyed. */
  #dial(address: string, timeoutMs: number): Promise<ByteStream> {
    return new Promise((resolve, reject) => {
      let done = false
      const timer = this.#clock.setTimeout(() => {
        done = true
        reject(new RingkvError(ErrorCode.TIMEOUT, `connecting to ${address} timed out after ${timeoutMs} ms`, {
          details: { address },
        }))
      }, timeoutMs)
      this.#factory.dial(address).then(
        (stream) => {
          if (done) {
            stream.destroy()
            return
          }
          done = true
          this.#clock.clearTimeout(timer)
          resolve(stream)
        },
        (error: unknown) => {
          if (done) return
          done = true
          this.#clock.clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}

class StreamServer extends EventEmitter implements Server {
  listener: StreamListener | undefined
  closing = false
  closeGraceMs = 0
  readonly #clock: Clock
  readonly connections = new Set<RpcConnection>()
  /** Every accepted connection, including those still in HELLO, so close() reaches them all. */
  readonly #accepted = new Set<RpcConnection>()

  constructor(clock: Clock) {
    super()
    this.#clock = clock
  }

  get address(): string {
    return this.listener?.address ?? ''
  }

  adopt(connection: RpcConnection): void {
    this.#accepted.add(connection)
    connection.once('close', () => {
      this.#accepted.delete(connection)
      this.connections.delete(connection)
    })
    connection.opened.then(
      () => {
        if (!connection.isOpen) return
        this.connections.add(connection)
        this.emit('connection', connection)
      },
      () => {},
    )
  }

  async close(): Promise<void> {
    this.closing = true
    const stopped = this.listener?.close()
    // Requests being handled are answered first (at most closeGraceMs); see RpcConnection.drain.
    await Promise.all(
      [...this.#accepted].map(async (connection) => {
        let timer: TimerHandle | undefined
        await Promise.race([connection.drain(), new Promise<void>((r) => (timer = this.#clock.setTimeout(r, this.closeGraceMs)))])
        this.#clock.clearTimeout(timer)
        await connection.close()
      }),
    )
    await stopped
  }
}

interface StreamServer {
  on(event: 'connection', listener: (connection: Connection) => void): this
  off(event: 'connection', listener: (connection: Connection) => void): this
}
