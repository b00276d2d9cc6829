/**
 * A raw protocol peer over a ByteStream: writes arbitrary bytes, decodes what comes back, and waits for
 * frames or for the close — so the contract suite can speak (and break) the protocol by hand against either
 * transport.
 */
import { type Frame, FrameDecoder, FrameKind, encodeFrame } from '../../src/protocol/frame.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { decodeErrorPayload } from '../../src/protocol/error-codes.ts'
import { decodeHelloRequest, encodeHelloRequest, encodeHelloResponse } from '../../src/protocol/hello.ts'
import type { ByteStream } from '../../src/net/stream.ts'
import type { Clock } from '../../src/runtime/clock.ts'

interface Waiter {
  check: () => boolean
  resolve: () => void
}

export class RawPeer {
  readonly frames: Frame[] = []
  /** Set when the peer's bytes did not decode. */
  decodeError: unknown
  ended = false
  closed = false
  closeError: Error | undefined
  drains = 0
  readonly #stream: ByteStream
  readonly #decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 })
  #waiters: Waiter[] = []
  readonly #clock: Clock

  constructor(stream: ByteStream, clock: Clock) {
    this.#stream = stream
    this.#clock = clock
    stream.attach({
      data: (chunk) => {
        if (this.decodeError !== undefined) return
        this.#decoder.push(chunk)
        try {
          for (let f = this.#decoder.next(); f !== undefined; f = this.#decoder.next()) {
            // Copy: payloads are views into the chunk, and we keep them.
            this.frames.push({ ...f, payload: Buffer.from(f.payload) })
          }
        } catch (error) {
          this.decodeError = error
        }
        this.#wake()
      },
      drain: () => {
        this.drains++
        this.#wake()
      },
      end: () => {
        // Like a socket without allowHalfOpen: the peer's end ends our side too.
        this.ended = true
        stream.end()
        this.#wake()
      },
      close: (error) => {
        this.closed = true
        this.closeError = error
        this.#wake()
      },
    })
  }

  write(...frames: Buffer[]): boolean {
    return this.#stream.write(frames)
  }

  /** Send a HELLO request (id 1) in frame version 1. */
  sendHello(versions = { min: 1, max: 1 }, nodeId = 'raw'): boolean {
    const payload = encodeHelloRequest({ versions, maxFrameBytes: 64 * 1024 * 1024, nodeId })
    return this.write(encodeFrame({ version: 1, kind: FrameKind.REQUEST, type: MessageType.HELLO, requestId: 1, payload }))
  }

  /** Send HELLO and wait for the server's answer. */
  async handshake(timeoutMs = 5000): Promise<void> {
    this.sendHello()
    await this.waitFor(() => this.frames.some((f) => f.type === MessageType.HELLO), timeoutMs)
  }

  /** As a raw server: wait for the client's HELLO and answer it with `version`. */
  async answerHello(version = 1, timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.frames.some((f) => f.type === MessageType.HELLO), timeoutMs)
    const hello = this.frames.find((f) => f.type === MessageType.HELLO) as Frame
    decodeHelloRequest(hello.payload)
    const payload = encodeHelloResponse({ version, maxFrameBytes: 64 * 1024 * 1024, nodeId: 'raw-server' })
    this.write(encodeFrame({ version: 1, kind: FrameKind.RESPONSE, type: MessageType.HELLO, requestId: hello.requestId, payload }))
  }

  request(type: number, requestId: number, payload: Uint8Array = Buffer.alloc(0), version = 1): boolean {
    return this.write(encodeFrame({ version, kind: FrameKind.REQUEST, type, requestId, payload }))
  }

  /** The code of the ERROR frame (one-way) the other side sent before closing, if any. */
  errorCode(): string | undefined {
    const frame = this.frames.find((f) => f.kind === FrameKind.ONE_WAY && f.type === MessageType.ERROR)
    return frame === undefined ? undefined : decodeErrorPayload(frame.payload).code
  }

  /** Error-responses received, as {requestId, code}. */
  errorResponses(): { requestId: number; code: string }[] {
    return this.frames
      .filter((f) => f.kind === FrameKind.ERROR_RESPONSE)
      .map((f) => ({ requestId: f.requestId, code: decodeErrorPayload(f.payload).code }))
  }

  pause(): void {
    this.#stream.pause()
  }
  resume(): void {
    this.#stream.resume()
  }
  end(): void {
    this.#stream.end()
  }
  destroy(): void {
    this.#stream.destroy()
  }

  /** Resolve once `check()` holds (re-checked on every event); reject after `timeoutMs` of clock time. */
  waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(new Error(`raw peer: timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      const waiter: Waiter = {
        check,
        resolve: () => {
          this.#clock.clearTimeout(timer)
          resolve()
        },
      }
      this.#waiters.push(waiter)
    })
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.waitFor(() => this.closed, timeoutMs, 'close')
  }

  #wake(): void {
    const ready = this.#waiters.filter((w) => w.check())
    if (ready.length === 0) return
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w))
    for (const w of ready) w.resolve()
  }
}
