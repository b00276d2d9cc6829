/**
 * The HELLO exchange: the first request on every connection, before any other frame.
 *
 * The client sends the range of protocol versions it speaks, the largest frame it accepts, and its node id; the
 * server answers with the highest version both speak, its own frame bound and node id — or, when the ranges do
 * not overlap, an error-response ERR_UNSUPPORTED_VERSION, and closes. Both sides then encode every frame in the
 * chosen version and refuse frames in any other. Each side sends at most the peer's frame bound.
 *
 * HELLO frames themselves always travel in frame version 1, and these payload layouts are frozen forever, so a
 * peer of any release can read a HELLO and answer it with a clear error.
 *
 * HELLO request payload:               HELLO response payload:
 *   0  u8   minVersion                   0  u8   version (chosen)
 *   1  u8   maxVersion                   1  u32  maxFrameBytes
 *   2  u32  maxFrameBytes                5  u16  nodeIdLength
 *   6  u16  nodeIdLength                 7  ...  nodeId (UTF-8)
 *   8  ...  nodeId (UTF-8)
 */
import { RingkvError } from '../errors.ts'
import { ErrorCode } from './error-codes.ts'
import { MIN_MAX_FRAME_BYTES } from './frame.ts'

export const HELLO_FRAME_VERSION = 1
export const MAX_NODE_ID_BYTES = 255

export interface VersionRange {
  readonly min: number
  readonly max: number
}

export interface HelloRequest {
  readonly versions: VersionRange
  readonly maxFrameBytes: number
  readonly nodeId: string
}

export interface HelloResponse {
  readonly version: number
  readonly maxFrameBytes: number
  readonly nodeId: string
}

/** The highest version in both ranges, or undefined when they do not overlap. */
export function negotiateVersion(local: VersionRange, remote: VersionRange): number | undefined {
  const version = Math.min(local.max, remote.max)
  return version >= Math.max(local.min, remote.min) ? version : undefined
}

export function encodeHelloRequest(hello: HelloRequest): Buffer {
  const id = nodeIdBytes(hello.nodeId)
  const out = Buffer.allocUnsafe(8 + id.length)
  out[0] = hello.versions.min
  out[1] = hello.versions.max
  out.writeUInt32BE(hello.maxFrameBytes, 2)
  out.writeUInt16BE(id.length, 6)
  id.copy(out, 8)
  return out
}

export function decodeHelloRequest(payload: Buffer): HelloRequest {
  if (payload.length < 8) throw bad('HELLO request shorter than 8 bytes')
  const min = payload[0] as number
  const max = payload[1] as number
  if (min < 1 || max < min) throw bad(`HELLO request has an invalid version range ${min}..${max}`)
  return { versions: { min, max }, maxFrameBytes: frameBound(payload.readUInt32BE(2)), nodeId: readNodeId(payload, 6) }
}

export function encodeHelloResponse(hello: HelloResponse): Buffer {
  const id = nodeIdBytes(hello.nodeId)
  const out = Buffer.allocUnsafe(7 + id.length)
  out[0] = hello.version
  out.writeUInt32BE(hello.maxFrameBytes, 1)
  out.writeUInt16BE(id.length, 5)
  id.copy(out, 7)
  return out
}

export function decodeHelloResponse(payload: Buffer): HelloResponse {
  if (payload.length < 7) throw bad('HELLO response shorter than 7 bytes')
  const version = payload[0] as number
  if (version < 1) throw bad('HELLO response chose version 0')
  return { version, maxFrameBytes: frameBound(payload.readUInt32BE(1)), nodeId: readNodeId(payload, 5) }
}

/** Validate a node id for HELLO: 1..255 bytes of UTF-8. */
export function nodeIdBytes(nodeId: string): Buffer {
  const bytes = Buffer.from(nodeId, 'utf8')
  if (bytes.length < 1 || bytes.length > MAX_NODE_ID_BYTES) {
    throw new RangeError(`nodeId must be 1 to ${MAX_NODE_ID_BYTES} bytes of UTF-8, got ${bytes.length}`)
  }
  return bytes
}

function readNodeId(payload: Buffer, at: number): string {
  const length = payload.readUInt16BE(at)
  if (length < 1 || length > MAX_NODE_ID_BYTES || at + 2 + length !== payload.length) {
    throw bad(`HELLO has an invalid node id length ${length}`)
  }
  return payload.toString('utf8', at + 2, at + 2 + length)
}

function frameBound(value: number): number {
  if (value < MIN_MAX_FRAME_BYTES) throw bad(`HELLO announces maxFrameBytes ${value} < ${MIN_MAX_FRAME_BYTES}`)
  return value
}

function bad(message: string): RingkvError {
  return new RingkvError(ErrorCode.BAD_FRAME, message)
}
