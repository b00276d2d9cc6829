/**
 * TCP transport: net.Socket as a ByteStream, and the Transport built on it.
 *
 * Sockets are half-open capable (allowHalfOpen) so the connection layer can flush what it gathered before it
 * ends its own side, and Nagle is off (noDelay): coalescing already fills packets, so waiting for more only
 * adds latency. A flush with several segments (a large payload travels as its own segment) is written under
 * cork/uncork, which Node turns into one writev.
 *
 * Addresses are 'host:port' ('[::1]:7000' for IPv6); listening on port 0 picks a free port.
 */
import net from 'node:net'
import { RingkvError } from '../errors.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import type { ByteStream, ByteStreamEvents, StreamFactory, StreamListener } from './stream.ts'
import { StreamTransport, type TransportOptions } from './stream-transport.ts'
import type { Transport } from './transport.ts'

/** Split 'host:port' / '[v6]:port'. */
export function parseTcpAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':')
  const portText = address.slice(colon + 1)
  let host = address.slice(0, colon)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  const port = Number(portText)
  if (colon <= 0 || !/^\d+$/.test(portText) || port > 65535 || host === '') {
    throw new RangeError(`address must be 'host:port' with a port between 0 and 65535, got '${address}'`)
  }
  return { host, port }
}

export function formatTcpAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? '?'
  return `${h.includes(':') ? `[${h}]` : h}:${port ?? 0}`
}

/**
 * What every socket of this thread reads into (net's `onread`), one read at a time. The bytes are copied out at
 * once into a buffer of exactly the read's size, so the layers above get a fresh chunk per read as with 'data'
 * events and may keep views of it. What this saves, per read: Node allocating a 64 KiB buffer (fresh pages the
 * kernel faults in), a second zero-filled one of the read's size and a copy between the two, then freeing the
 * first; and the Readable stream machinery around each chunk.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024)

/** Socket options that make a socket read into READ_BUFFER and hand each read to `onRead`. */
function readingInto(onRead: (chunk: Buffer) => void): { onread: { buffer: Buffer; callback: (length: number, buffer: Uint8Array) => boolean } } {
  return {
    onread: {
      buffer: READ_BUFFER,
      callback: (length, buffer) => {
        const chunk = Buffer.allocUnsafe(length)
        chunk.set(buffer.subarray(0, length))
        onRead(chunk)
        return true
      },
    },
  }
}

type EarlyEvent = { kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'close' }

class TcpStream implements ByteStream {
  readonly remoteAddress: string
  readonly #socket: net.Socket
  #error: Error | undefined
  #events: ByteStreamEvents | undefined
  /**
   * What the socket delivered before `attach` (or while its replay is pending), in order: an `onread` socket reads
   * from the moment it exists, where a 'data' listener would have kept it paused until attached.
   */
  #early: EarlyEvent[] | undefined

  constructor(socket: net.Socket) {
    this.#socket = socket
    this.remoteAddress = formatTcpAddress(socket.remoteAddress, socket.remotePort)
    socket.setNoDelay(true)
    // Recorded from the start so no error goes unobserved; reported with 'close', which always follows.
    socket.on('error', (error) => {
      this.#error ??= error
    })
    socket.on('drain', () => this.#events?.drain())
    socket.on('end', () => this.#deliver({ kind: 'end' }))
    socket.on('close', () => this.#deliver({ kind: 'close' }))
  }

  /** A read, copied out of READ_BUFFER (see `readingInto`). */
  readonly onChunk = (chunk: Buffer): void => {
    const events = this.#events
    if (events !== undefined && this.#early === undefined) events.data(chunk)
    else this.#deliver({ kind: 'data', chunk })
  }

  #deliver(event: EarlyEvent): void {
    const events = this.#events
    if (events === undefined || this.#early !== undefined) (this.#early ??= []).push(event)
    else this.#dispatch(events, event)
  }

  #dispatch(events: ByteStreamEvents, event: EarlyEvent): void {
    if (event.kind === 'data') events.data(event.chunk)
    else if (event.kind === 'end') events.end()
    else events.close(this.#error)
  }

  attach(events: ByteStreamEvents): void {
    this.#events = events
    if (this.#early === undefined) return
    // Replayed after attach returns (events never arrive from inside a call), in order; later events queue behind.
    queueMicrotask(() => {
      while (this.#early !== undefined && this.#early.length > 0) this.#dispatch(events, this.#early.shift()!)
      this.#early = undefined
    })
  }

  write(chunks: readonly Buffer[]): boolean {
    const socket = this.#socket
    if (socket.destroyed || socket.writableEnded) return true
    if (chunks.length === 1) return socket.write(chunks[0] as Buffer)
    socket.cork()
    let ok = true
    for (const chunk of chunks) ok = socket.write(chunk)
    socket.uncork()
    return ok
  }

  released(): boolean {
    // Nothing queued in the socket's writable state: the last write went to the kernel synchronously and Node
    // holds no reference to its buffers.
    return this.#socket.writableLength === 0
  }

  end(): void {
    if (!this.#socket.writableEnded) this.#socket.end()
  }

  destroy(): void {
    this.#socket.destroy()
  }

  pause(): void {
    this.#socket.pause()
  }

  resume(): void {
    this.#socket.resume()
  }
}

/**
 * An accepted socket, made to read into READ_BUFFER. net.Server has no `onread` option, so the accepted socket
 * (paused by `pauseOnConnect`) gives its handle to a new socket made with one -- `net.Socket({ handle })` is
 * how net itself wraps accepted handles -- and is destroyed without it, which also ends the server's count of
 * it. Should a Node.js release change those internals, the accepted socket is used as it is (with 'data' events).
 */
export function readingSocket(accepted: net.Socket): ByteStream {
  const internals = accepted as unknown as { _handle: { readStart?: unknown; useUserBuffer?: unknown } | null }
  const handle = internals._handle
  if (handle === null || typeof handle.useUserBuffer !== 'function' || typeof handle.readStart !== 'function') {
    const stream = new TcpStream(accepted)
    accepted.on('data', stream.onChunk)
    accepted.resume()
    return stream
  }
  internals._handle = null
  accepted.destroy()
  let stream: TcpStream | undefined
  const socket = new net.Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    ...readingInto((chunk) => stream!.onChunk(chunk)),
  } as net.SocketConstructorOpts)
  stream = new TcpStream(socket)
  return stream
}

/** Raw TCP byte streams (the transport uses these; tests use them to send arbitrary bytes). */
export const tcpStreams: StreamFactory = Object.freeze({
  dial(address: string): Promise<ByteStream> {
    const { host, port } = parseTcpAddress(address)
    return new Promise<ByteStream>((resolve, reject) => {
      let stream: TcpStream | undefined
      const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true, ...readingInto((chunk) => stream!.onChunk(chunk)) })
      const onError = (error: Error & { code?: string }) => {
        reject(
          new RingkvError(ErrorCode.CONNECT_FAILED, `cannot connect to ${address}: ${error.message}`, {
            details: { address, reason: error.code },
            cause: error,
          }),
        )
      }
      socket.once('error', onError)
      socket.once('connect', () => {
        stream = new TcpStream(socket)
        socket.off('error', onError)
        resolve(stream)
      })
    })
  },

  listen(address: string, onStream: (stream: ByteStream) => void): Promise<StreamListener> {
    const { host, port } = parseTcpAddress(address)
    return new Promise<StreamListener>((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (accepted) => onStream(readingSocket(accepted)))
      const onError = (error: Error & { code?: string }) => {
        reject(
          new RingkvError(ErrorCode.LISTEN_FAILED, `cannot listen on ${address}: ${error.message}`, {
            details: { address, reason: error.code },
            cause: error,
          }),
        )
      }
      server.once('error', onError)
      server.listen(port, host, () => {
        server.off('error', onError)
        // Accept failures (EMFILE...) are emitted here; they are transient and the server keeps listening.
        server.on('error', () => {})
        const bound = server.address() as net.AddressInfo
        const closed = new Promise<void>((done) => server.once('close', () => done()))
        resolve({
          address: formatTcpAddress(bound.address, bound.port),
          close: () => {
            if (server.listening) server.close()
            return closed
          },
        })
      })
    })
  },
})

/** The TCP transport. */
export function tcpTransport(options: TransportOptions = {}): Transport {
  return new StreamTransport(tcpStreams, options)
}
