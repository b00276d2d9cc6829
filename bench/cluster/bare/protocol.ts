// The bare request path's wire format: the least a replicated request needs, so that what it costs on this
// machine is the ceiling for ringkv's own path (DESIGN.md sections 8 and 10).
//
//   frame   = u32 length of what follows | u8 type | u32 request id | payload
//   payload = u16 key length | key | value (the rest)        for GET / PUT / REPLICA_GET / REPLICA_PUT
//           = value                                           for OK
//
// No versions, no HELLO, no errors, no timeouts, no storage. What it keeps from ringkv's design: pipelining
// (request ids), one socket write per connection per event-loop turn, and the message pattern of a quorum
// request (the coordinator asks both other replicas, answers at the first reply).
import type { Socket } from 'node:net'

export const BareType = { GET: 1, PUT: 2, REPLICA_GET: 3, REPLICA_PUT: 4, OK: 5 } as const

const HEADER = 9

export function encodeFrame(type: number, id: number, key: Uint8Array | undefined, value: Uint8Array | undefined): Buffer {
  const keyPart = key === undefined ? 0 : 2 + key.length
  const length = 5 + keyPart + (value?.length ?? 0)
  const frame = Buffer.allocUnsafe(4 + length)
  frame.writeUInt32BE(length, 0)
  frame[4] = type
  frame.writeUInt32BE(id, 5)
  let at = HEADER
  if (key !== undefined) {
    frame.writeUInt16BE(key.length, at)
    frame.set(key, at + 2)
    at += 2 + key.length
  }
  if (value !== undefined) frame.set(value, at)
  return frame
}

/** The key of a GET/PUT/REPLICA_* payload and where its value starts. */
export function splitPayload(payload: Buffer): { key: Buffer; value: Buffer } {
  const keyLength = payload.readUInt16BE(0)
  return { key: payload.subarray(2, 2 + keyLength), value: payload.subarray(2 + keyLength) }
}

/** Calls `onFrame(type, id, payload)` for every whole frame a socket delivers; payloads are views. */
export function readFrames(socket: Socket, onFrame: (type: number, id: number, payload: Buffer) => void): void {
  let buffered: Buffer | undefined
  socket.on('data', (chunk: Buffer) => {
    let data = buffered === undefined ? chunk : Buffer.concat([buffered, chunk])
    let at = 0
    while (data.length - at >= 4) {
      const length = data.readUInt32BE(at)
      if (data.length - at - 4 < length) break
      onFrame(data[at + 4]!, data.readUInt32BE(at + 5), data.subarray(at + HEADER, at + 4 + length))
      at += 4 + length
    }
    buffered = at === data.length ? undefined : data.subarray(at)
  })
}

/** Frames gathered per connection and written once per event-loop turn (setImmediate), as ringkv does. */
export class CoalescingWriter {
  readonly #socket: Socket
  #frames: Buffer[] = []
  #scheduled = false

  constructor(socket: Socket) {
    this.#socket = socket
    socket.setNoDelay(true)
  }

  write(frame: Buffer): void {
    this.#frames.push(frame)
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#flush)
  }

  readonly #flush = (): void => {
    this.#scheduled = false
    const frames = this.#frames
    this.#frames = []
    if (this.#socket.destroyed) return
    this.#socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))
  }
}
