/**
 * The ringkv frame: the unit of every byte stream between nodes and from clients.
 *
 * Layout (all integers big-endian, offsets in bytes from the start of the frame):
 *
 *   offset  size  field
 *   ------  ----  ----------------------------------------------------------------------------------
 *        0     4  length      u32: bytes that FOLLOW this field = 8 + payload length (so >= 8)
 *        4     1  version     u8: protocol version the frame is encoded in (1 .. PROTOCOL_VERSION)
 *        5     1  kind        u8: 1 request | 2 response | 3 error-response | 4 one-way
 *        6     2  type        u16: message type (see message-types.ts); 0 is invalid
 *        8     4  requestId   u32: chosen by the requester, echoed by the response or error-response;
 *                             never 0 for those three kinds, always 0 for one-way frames
 *       12     n  payload     n = length - 8 bytes, opaque to this layer
 *
 *   e.g. a PING request, id 7, payload "hi":
 *     00 00 00 0a | 01 | 01 | 00 01 | 00 00 00 07 | 68 69
 *
 * The first 6 bytes (length, version, kind) are frozen for every future version, so any peer can find the
 * end of any frame and reject a version it does not speak with a proper error instead of misreading it.
 * An error-response's payload is an encoded error (error-codes.ts). A frame's total size (4 + length) is
 * bounded by `maxFrameBytes` (default 32 MiB: values go up to 16 MiB, plus keys, clocks and siblings).
 *
 * The decoder is streaming: `push` whatever chunks the socket delivers, then call `next` until it returns
 * undefined. It keeps a list of chunks and an offset into the first (no concatenation per chunk), validates a
 * header as soon as its bytes are there (an oversized length is refused before any of its payload arrives),
 * and returns a payload as a zero-copy view into the chunk when the frame sits inside one chunk; a frame that
 * spans chunks is copied exactly once. Malformed input makes `next` throw a RingkvError whose code is
 * ERR_FRAME_TOO_LARGE, ERR_BAD_FRAME or ERR_UNSUPPORTED_VERSION; the decoder then stays failed (every
 * later call throws the same error), because a byte stream cannot be resynchronised after a bad length.
 */
import { RingkvError } from '../errors.ts'
import { ErrorCode } from './error-codes.ts'

/** The newest protocol version this build speaks; it speaks every version from 1 to this one. */
export const PROTOCOL_VERSION = 1
/** Bytes before the payload: length (4) + version (1) + kind (1) + type (2) + request id (4). */
export const FRAME_HEADER_BYTES = 12
/** Default bound on a frame's total size, header included. */
export const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024
/** The largest maxFrameBytes we accept: a frame must fit a single Buffer comfortably. */
export const MAX_MAX_FRAME_BYTES = 1024 * 1024 * 1024
export const MIN_MAX_FRAME_BYTES = 1024

export const FrameKind = Object.freeze({
  REQUEST: 1,
  RESPONSE: 2,
  ERROR_RESPONSE: 3,
  ONE_WAY: 4,
} as const)
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface Frame {
  readonly version: number
  readonly kind: FrameKind
  readonly type: number
  readonly requestId: number
  /** A view into received memory when possible: copy it if you keep it beyond the current call. */
  readonly payload: Buffer
}

/** Write the 12-byte header of a frame carrying `payloadLength` bytes at `target[offset]`. */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  version: number,
  kind: FrameKind,
  type: number,
  requestId: number,
  payloadLength: number,
): void {
  target.writeUInt32BE(payloadLength + 8, offset)
  target[offset + 4] = version
  target[offset + 5] = kind
  target.writeUInt16BE(type, offset + 6)
  target.writeUInt32BE(requestId, offset + 8)
}

/** Encode one frame into a fresh buffer (tests, tools; the connection layer encodes into its write batch). */
export function encodeFrame(frame: Omit<Frame, 'payload'> & { payload: Uint8Array }): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.payload.length)
  writeFrameHeader(out, 0, frame.version, frame.kind, frame.type, frame.requestId, frame.payload.length)
  out.set(frame.payload, FRAME_HEADER_BYTES)
  return out
}

export interface FrameDecoderOptions {
  /** Bound on a frame's total size (4 + length). Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number
  /** Highest version accepted in the version byte. Default PROTOCOL_VERSION. */
  maxVersion?: number
}

export class FrameDecoder {
  readonly #maxFrameBytes: number
  readonly #maxVersion: number
  /** Buffered chunks; chunks[head] is the oldest with unread bytes, starting at `offset`. */
  #chunks: Buffer[] = []
  #head = 0
  #offset = 0
  #buffered = 0
  /** Scratch for a header split across chunks. */
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES)
  #failure: RingkvError | undefined

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.#maxVersion = options.maxVersion ?? PROTOCOL_VERSION
    if (!Number.isInteger(this.#maxFrameBytes) || this.#maxFrameBytes < FRAME_HEADER_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer >= ${FRAME_HEADER_BYTES}`)
    }
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.#failure !== undefined) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /** The next complete frame, or undefined until more bytes arrive. Throws a RingkvError on malformed input. */
  next(): Frame | undefined {
    if (this.#failure !== undefined) throw this.#failure
    if (this.#buffered < 4) return undefined
    const first = this.#chunks[this.#head] as Buffer
    let header: Buffer
    let at: number
    if (first.length - this.#offset >= FRAME_HEADER_BYTES) {
      header = first
      at = this.#offset
    } else {
      header = this.#header
      at = 0
      this.#peek(header, Math.min(FRAME_HEADER_BYTES, this.#buffered))
    }
    const length = header.readUInt32BE(at)
    if (length < 8) return this.#fail(ErrorCode.BAD_FRAME, `frame length ${length} is shorter than its header`)
    if (length > this.#maxFrameBytes - 4) {
      return this.#fail(
        ErrorCode.FRAME_TOO_LARGE,
        `frame of ${length + 4} bytes exceeds the maximum of ${this.#maxFrameBytes}`,
      )
    }
    const available = Math.min(this.#buffered, FRAME_HEADER_BYTES)
    if (available > 4) {
      const version = header[at + 4] as number
      if (version < 1 || version > this.#maxVersion) {
        return this.#fail(
          ErrorCode.UNSUPPORTED_VERSION,
          `frame version ${version} is not supported (this side speaks 1..${this.#maxVersion})`,
        )
      }
    }
    if (available > 5) {
      const kind = header[at + 5] as number
      if (kind < FrameKind.REQUEST || kind > FrameKind.ONE_WAY) {
        return this.#fail(ErrorCode.BAD_FRAME, `unknown frame kind ${kind}`)
      }
    }
    if (available < FRAME_HEADER_BYTES || this.#buffered < length + 4) return undefined

    const version = header[at + 4] as number
    const kind = header[at + 5] as FrameKind
    const type = header.readUInt16BE(at + 6)
    const requestId = header.readUInt32BE(at + 8)
    if (type === 0) return this.#fail(ErrorCode.BAD_FRAME, 'message type 0 is invalid')
    if ((kind === FrameKind.ONE_WAY) !== (requestId === 0)) {
      return this.#fail(ErrorCode.BAD_FRAME, `request id ${requestId} is invalid for frame kind ${kind}`)
    }
    return { version, kind, type, requestId, payload: this.#takePayload(length + 4) }
  }

  #fail(code: string, message: string): never {
    this.#failure = new RingkvError(code, message)
    // Release the buffered bytes: a failed decoder never reads them.
    this.#chunks = []
    this.#head = 0
    this.#offset = 0
    this.#buffered = 0
    throw this.#failure
  }

  /** Copy the first `n` buffered bytes into `target` without consuming them. */
  #peek(target: Buffer, n: number): void {
    let copied = 0
    let index = this.#head
    let offset = this.#offset
    while (copied < n) {
      const chunk = this.#chunks[index++] as Buffer
      const count = Math.min(chunk.length - offset, n - copied)
      chunk.copy(target, copied, offset, offset + count)
      copied += count
      offset = 0
    }
  }

  /**
   * Consume a whole frame of `n` bytes and return its payload: a view when the frame sits in one chunk
   * (one Buffer object per frame), otherwise a single copy.
   */
  #takePayload(n: number): Buffer {
    const first = this.#chunks[this.#head] as Buffer
    let payload: Buffer
    if (first.length - this.#offset >= n) {
      payload = first.subarray(this.#offset + FRAME_HEADER_BYTES, this.#offset + n)
      this.#offset += n
      if (this.#offset === first.length) this.#dropHead()
    } else {
      this.#skip(FRAME_HEADER_BYTES)
      payload = Buffer.allocUnsafe(n - FRAME_HEADER_BYTES)
      let copied = 0
      while (copied < payload.length) {
        const chunk = this.#chunks[this.#head] as Buffer
        const count = Math.min(chunk.length - this.#offset, payload.length - copied)
        chunk.copy(payload, copied, this.#offset, this.#offset + count)
        copied += count
        this.#offset += count
        if (this.#offset === chunk.length) this.#dropHead()
      }
    }
    this.#buffered -= n
    return payload
  }

  /** Discard `n` bytes from the front (their content was already read through #peek). */
  #skip(n: number): void {
    while (n > 0) {
      const chunk = this.#chunks[this.#head] as Buffer
      const count = Math.min(chunk.length - this.#offset, n)
      n -= count
      this.#offset += count
      if (this.#offset === chunk.length) this.#dropHead()
    }
  }

  #dropHead(): void {
    this.#chunks[this.#head] = EMPTY
    this.#head++
    this.#offset = 0
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0
      this.#head = 0
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      // Compact now and then so the array does not grow with every chunk ever received.
      this.#chunks = this.#chunks.slice(this.#head)
      this.#head = 0
    }
  }
}

const EMPTY = Buffer.alloc(0)
