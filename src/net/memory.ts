/**
 * An in-process network: byte-stream pipes between named listeners, driven by a Clock.
 *
 * It carries the same frames through the same connection layer as TCP (only the byte stream differs), so the
 * transport contract suite runs unchanged against it, and the deterministic simulator can run a whole cluster
 * in one process on a VirtualClock. Behaviour follows a half-closable TCP socket:
 *
 * - Delivery is always asynchronous: written chunks arrive `latencyMs` later (a clock timer; `setImmediate`
 *   when the latency is 0), in order, never from inside `write`. Nothing is re-entrant.
 * - Backpressure: bytes written and not yet delivered count against `highWaterMarkBytes`; `write` returns false
 *   past it and 'drain' follows once delivery brings it back under. A receiver that pauses stops delivery, so
 *   a slow reader pushes back on its writer exactly as TCP flow control does.
 * - `end` delivers end-of-stream after the data; the pipe closes once both sides ended and read the other's
 *   end. `destroy` drops undelivered data; the peer sees a reset one latency later.
 * - Listening on 'name:0' picks a fresh 'name:N', like port 0.
 */
import { RingkvError } from '../errors.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import type { Clock } from '../runtime/clock.ts'
import type { ByteStream, ByteStreamEvents, StreamFactory, StreamListener } from './stream.ts'
import { StreamTransport, type TransportOptions } from './stream-transport.ts'
import type { Transport } from './transport.ts'

export interface MemoryNetworkOptions {
  clock: Clock
  /** One-way delivery delay of every chunk, ms. Default 0 (next turn). */
  latencyMs?: number
  /** Undelivered bytes per direction before `write` returns false. Default 1 MiB. */
  highWaterMarkBytes?: number
}

export class MemoryNetwork implements StreamFactory {
  readonly clock: Clock
  readonly latencyMs: number
  readonly highWaterMarkBytes: number
  readonly #listeners = new Map<string, (stream: ByteStream) => void>()
  #nextPort = 1
  #nextClient = 1

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock
    this.latencyMs = options.latencyMs ?? 0
    this.highWaterMarkBytes = options.highWaterMarkBytes ?? 1024 * 1024
    if (!(this.latencyMs >= 0) || !Number.isFinite(this.latencyMs)) {
      throw new RangeError(`latencyMs must be a finite number >= 0, got ${this.latencyMs}`)
    }
    if (!Number.isInteger(this.highWaterMarkBytes) || this.highWaterMarkBytes < 1) {
      throw new RangeError(`highWaterMarkBytes must be a positive integer, got ${this.highWaterMarkBytes}`)
    }
  }

  /** A Transport over this network, on the network's clock. */
  transport(options: Omit<TransportOptions, 'clock'> = {}): Transport {
    return new StreamTransport(this, { ...options, clock: this.clock })
  }

  dial(address: string): Promise<ByteStream> {
    return new Promise((resolve, reject) => {
      this.#later(() => {
        const accept = this.#listeners.get(address)
        if (accept === undefined) {
          reject(new RingkvError(ErrorCode.CONNECT_FAILED, `cannot connect to ${address}: nothing listens there`, {
            details: { address, reason: 'ECONNREFUSED' },
          }))
          return
        }
        const client = new MemoryEnd(this, address)
        const server = new MemoryEnd(this, `memory-client:${this.#nextClient++}`)
        client.peer = server
        server.peer = client
        accept(server)
        resolve(client)
      })
    })
  }

  listen(address: string, onStream: (stream: ByteStream) => void): Promise<StreamListener> {
    return new Promise((resolve, reject) => {
      let bound = address
      if (address.endsWith(':0')) {
        const prefix = address.slice(0, -2)
        do bound = `${prefix}:${this.#nextPort++}`
        while (this.#listeners.has(bound))
      }
      if (bound === '' || this.#listeners.has(bound)) {
        reject(new RingkvError(ErrorCode.LISTEN_FAILED, `cannot listen on '${bound}': address in use or empty`, {
          details: { address: bound },
        }))
        return
      }
      this.#listeners.set(bound, onStream)
      resolve({
        address: bound,
        close: async () => {
          if (this.#listeners.get(bound) === onStream) this.#listeners.delete(bound)
        },
      })
    })
  }

  /** Run `callback` after one latency (the next turn when the latency is 0). */
  #later(callback: () => void): void {
    this.at(this.clock.now() + this.latencyMs, callback)
  }

  /** Schedule `callback` at an absolute clock time (the next turn when it is due); returns its cancel function. */
  at(time: number, callback: () => void): () => void {
    const delay = time - this.clock.now()
    if (delay > 0) {
      const handle = this.clock.setTimeout(callback, delay)
      return () => this.clock.clearTimeout(handle)
    }
    const handle = this.clock.setImmediate(callback)
    return () => this.clock.clearImmediate(handle)
  }
}

/** One end of a pipe. Its inbox holds what the peer wrote and this end has not yet received. */
class MemoryEnd implements ByteStream {
  peer!: MemoryEnd
  readonly remoteAddress: string
  readonly #net: MemoryNetwork
  #events: ByteStreamEvents | undefined

  // Inbox: chunks in flight towards this end, with their arrival times.
  #inbox: Buffer[] = []
  #arrivals: number[] = []
  #head = 0
  /** Bytes in the inbox (they count against the peer's high-water mark). */
  inboxBytes = 0
  /** The peer ended; deliver 'end' after the inbox. */
  #endAt: number | undefined
  /** Cancels the armed delivery, if any. */
  #timer: (() => void) | undefined

  #paused = false
  /** We called end(). */
  writeEnded = false
  /** We received the peer's end. */
  readEnded = false
  #destroyed = false
  #closed = false
  /** write() returned false; owe a 'drain'. */
  wantDrain = false

  constructor(net: MemoryNetwork, remoteAddress: string) {
    this.#net = net
    this.remoteAddress = remoteAddress
  }

  attach(events: ByteStreamEvents): void {
    this.#events = events
    this.#schedule()
  }

  write(chunks: readonly Buffer[]): boolean {
    if (this.#destroyed || this.writeEnded) return true
    const peer = this.peer
    if (peer.#destroyed) return true
    const arrival = this.#net.clock.now() + this.#net.latencyMs
    for (const chunk of chunks) {
      if (chunk.length === 0) continue
      peer.#inbox.push(chunk)
      peer.#arrivals.push(arrival)
      peer.inboxBytes += chunk.length
    }
    peer.#schedule()
    if (peer.inboxBytes < this.#net.highWaterMarkBytes) return true
    this.wantDrain = true
    return false
  }

  end(): void {
    if (this.#destroyed || this.writeEnded) return
    this.writeEnded = true
    if (this.peer.#destroyed) return
    this.peer.#endAt = this.#net.clock.now() + this.#net.latencyMs
    this.peer.#schedule()
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    this.#dropInbox()
    this.#timer?.()
    this.#timer = undefined
    this.#net.at(this.#net.clock.now(), () => this.#close(undefined))
    const peer = this.peer
    if (!peer.#destroyed) {
      peer.#dropInbox()
      peer.#destroyed = true
      this.#net.at(this.#net.clock.now() + this.#net.latencyMs, () =>
        peer.#close(Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' })),
      )
    }
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#schedule()
  }

  #dropInbox(): void {
    this.#inbox = []
    this.#arrivals = []
    this.#head = 0
    this.inboxBytes = 0
    this.#endAt = undefined
  }

  /** Arm delivery of the next inbox item (chunk or end) at its arrival time. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#paused || this.#destroyed || this.#events === undefined) return
    let at: number | undefined
    if (this.#head < this.#inbox.length) at = this.#arrivals[this.#head]
    else if (this.#endAt !== undefined && !this.readEnded) at = this.#endAt
    if (at === undefined) return
    this.#timer = this.#net.at(at, this.#deliver)
  }

  readonly #deliver = (): void => {
    this.#timer = undefined
    const events = this.#events
    if (events === undefined || this.#destroyed) return
    const now = this.#net.clock.now()
    while (!this.#paused && !this.#destroyed && this.#head < this.#inbox.length && (this.#arrivals[this.#head] as number) <= now) {
      const chunk = this.#inbox[this.#head] as Buffer
      this.#inbox[this.#head] = EMPTY
      this.#head++
      this.inboxBytes -= chunk.length
      events.data(chunk)
    }
    if (this.#head === this.#inbox.length && this.#head > 0) {
      this.#inbox = []
      this.#arrivals = []
      this.#head = 0
    }
    const writer = this.peer
    if (writer.wantDrain && this.inboxBytes < this.#net.highWaterMarkBytes && !writer.#destroyed) {
      writer.wantDrain = false
      writer.#events?.drain()
    }
    if (this.#destroyed) return
    if (this.#head === this.#inbox.length && this.#endAt !== undefined && this.#endAt <= now && !this.#paused && !this.readEnded) {
      this.readEnded = true
      events.end()
      this.#maybeClose()
    }
    this.#schedule()
  }

  /** Both directions finished: close both ends (next turn). */
  #maybeClose(): void {
    const peer = this.peer
    if (this.writeEnded && this.readEnded && peer.writeEnded && peer.readEnded) {
      this.#net.at(this.#net.clock.now(), () => {
        this.#close(undefined)
        peer.#close(undefined)
      })
    }
  }

  #close(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#destroyed = true
    this.#timer?.()
    this.#timer = undefined
    this.#events?.close(error)
  }
}

const EMPTY = Buffer.alloc(0)
