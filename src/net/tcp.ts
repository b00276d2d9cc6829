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

class TcpStream implements ByteStream {
  readonly remoteAddress: string
  readonly #socket: net.Socket
  #error: Error | undefined

  constructor(socket: net.Socket) {
    this.#socket = socket
    this.remoteAddress = formatTcpAddress(socket.remoteAddress, socket.remotePort)
    socket.setNoDelay(true)
    // Recorded from the start so no error goes unobserved; reported with 'close', which always follows.
    socket.on('error', (error) => {
      this.#error ??= error
    })
  }

  attach(events: ByteStreamEvents): void {
    const socket = this.#socket
    socket.on('data', events.data)
    socket.on('drain', events.drain)
    socket.on('end', events.end)
    socket.on('close', () => events.close(this.#error))
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

/** Raw TCP byte streams (the transport uses these; tests use them to send arbitrary bytes). */
export const tcpStreams: StreamFactory = Object.freeze({
  dial(address: string): Promise<ByteStream> {
    const { host, port } = parseTcpAddress(address)
    return new Promise<ByteStream>((resolve, reject) => {
      const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
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
        const stream = new TcpStream(socket)
        socket.off('error', onError)
        resolve(stream)
      })
    })
  },

  listen(address: string, onStream: (stream: ByteStream) => void): Promise<StreamListener> {
    const { host, port } = parseTcpAddress(address)
    return new Promise<StreamListener>((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => onStream(new TcpStream(socket)))
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
