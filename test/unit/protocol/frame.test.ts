import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  FRAME_HEADER_BYTES,
  type Frame,
  FrameDecoder,
  FrameKind,
  encodeFrame,
} from '../../../src/protocol/frame.ts'
import { ErrorCode } from '../../../src/protocol/error-codes.ts'
import { isRingkvError } from '../../../src/errors.ts'

const FRAME_CODES = new Set<string>([ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE, ErrorCode.UNSUPPORTED_VERSION])

const frame = (kind: FrameKind, type: number, requestId: number, payload: string | Uint8Array): Frame => ({
  version: 1,
  kind,
  type,
  requestId,
  payload: Buffer.from(payload),
})

const plain = (f: Frame) => ({ ...f, payload: Buffer.from(f.payload).toString('hex') })

/** Feed `chunks` and collect every frame; rethrows decoder errors. */
function decodeAll(chunks: Buffer[], decoder = new FrameDecoder()): Frame[] {
  const out: Frame[] = []
  for (const chunk of chunks) {
    decoder.push(chunk)
    for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f)
  }
  return out
}

const sample: Frame[] = [
  frame(FrameKind.REQUEST, 1, 7, 'hi'),
  frame(FrameKind.RESPONSE, 1, 7, ''),
  frame(FrameKind.ONE_WAY, 20, 0, Buffer.alloc(300, 0xab)),
  frame(FrameKind.ERROR_RESPONSE, 65535, 0xffffffff, 'x'),
]

test('byte layout of a PING request is the documented one', () => {
  const bytes = encodeFrame(frame(FrameKind.REQUEST, 1, 7, 'hi'))
  assert.is(bytes.toString('hex'), '0000000a' + '01' + '01' + '0001' + '00000007' + '6869')
  assert.is(FRAME_HEADER_BYTES, 12)
})

test('round trip of several frames in one chunk; payloads are views, not copies', () => {
  const stream = Buffer.concat(sample.map(encodeFrame))
  const decoded = decodeAll([stream])
  assert.equal(decoded.map(plain), sample.map(plain))
  for (const f of decoded) assert.is(f.payload.buffer, stream.buffer)
})

test('a multi-frame stream split at every byte boundary decodes identically', () => {
  const stream = Buffer.concat(sample.map(encodeFrame))
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoded = decodeAll([stream.subarray(0, cut), stream.subarray(cut)])
    assert.equal(decoded.map(plain), sample.map(plain), `cut at ${cut}`)
  }
  for (let a = 0; a <= 40; a++) {
    for (let b = a; b <= 40; b++) {
      const decoded = decodeAll([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)])
      assert.equal(decoded.map(plain), sample.map(plain), `cuts at ${a}, ${b}`)
    }
  }
})

test('one byte per chunk', () => {
  const stream = Buffer.concat(sample.map(encodeFrame))
  const chunks = Array.from(stream, (byte) => Buffer.from([byte]))
  assert.equal(decodeAll(chunks).map(plain), sample.map(plain))
})

test('10,000 frames in one chunk', () => {
  const frames = Array.from({ length: 10_000 }, (_, i) => frame(FrameKind.REQUEST, 16 + (i % 100), i + 1, String(i)))
  const decoded = decodeAll([Buffer.concat(frames.map(encodeFrame))])
  assert.is(decoded.length, 10_000)
  assert.is(decoded[9_999]?.payload.toString(), '9999')
  assert.is(decoded[9_999]?.requestId, 10_000)
})

test('a large frame in small chunks is assembled in linear time', () => {
  const payload = Buffer.alloc(8 * 1024 * 1024)
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i & 0xff
  const bytes = encodeFrame(frame(FrameKind.RESPONSE, 16, 1, payload))
  const decoder = new FrameDecoder()
  const started = performance.now()
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 512) chunks.push(bytes.subarray(i, i + 512))
  const decoded = decodeAll(chunks, decoder)
  const elapsed = performance.now() - started
  assert.is(decoded.length, 1)
  assert.ok(decoded[0]?.payload.equals(payload))
  assert.is(decoder.bufferedBytes, 0)
  // 16k chunks: quadratic copying would take minutes; linear takes milliseconds.
  assert.ok(elapsed < 5000, `took ${elapsed} ms`)
})

const header = (length: number, version = 1, kind = 1, type = 1, id = 1) => {
  const b = Buffer.alloc(12)
  b.writeUInt32BE(length, 0)
  b[4] = version
  b[5] = kind
  b.writeUInt16BE(type, 6)
  b.writeUInt32BE(id, 8)
  return b
}

const failsWith = (code: string, bytes: Buffer, decoder = new FrameDecoder()) => {
  decoder.push(bytes)
  try {
    decoder.next()
    assert.unreachable(`expected ${code}`)
  } catch (error) {
    assert.ok(isRingkvError(error, code), `expected ${code}, got ${String(error)}`)
  }
  // A failed decoder stays failed.
  decoder.push(encodeFrame(sample[0] as Frame))
  assert.throws(() => decoder.next(), (e: unknown) => isRingkvError(e, code))
}

test('oversized length is refused from the first 4 bytes, before the payload arrives', () => {
  failsWith(ErrorCode.FRAME_TOO_LARGE, header(1024 * 1024).subarray(0, 4), new FrameDecoder({ maxFrameBytes: 1024 * 1024 }))
  failsWith(ErrorCode.FRAME_TOO_LARGE, header(0xffffffff).subarray(0, 4))
  // exactly at the bound is fine
  const ok = new FrameDecoder({ maxFrameBytes: 1024 })
  ok.push(header(1020))
  assert.is(ok.next(), undefined)
})

test('malformed headers: short length, bad version, unknown kind, type 0, ids that do not fit the kind', () => {
  failsWith(ErrorCode.BAD_FRAME, header(7).subarray(0, 4))
  failsWith(ErrorCode.UNSUPPORTED_VERSION, header(8, 0).subarray(0, 5))
  failsWith(ErrorCode.UNSUPPORTED_VERSION, header(8, 2).subarray(0, 5))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, 0).subarray(0, 6))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, 5).subarray(0, 6))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, 1, 0))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, FrameKind.REQUEST, 1, 0))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, FrameKind.RESPONSE, 1, 0))
  failsWith(ErrorCode.BAD_FRAME, header(8, 1, FrameKind.ONE_WAY, 1, 5))
  // a later version is fine for a decoder that speaks it
  const v2 = new FrameDecoder({ maxVersion: 2 })
  v2.push(header(8, 2))
  assert.is(v2.next()?.version, 2)
})

test('options are validated', () => {
  assert.throws(() => new FrameDecoder({ maxFrameBytes: 4 }), /maxFrameBytes must be an integer >= 12/)
})

// --- properties ---------------------------------------------------------------------------------------

const arbFrame = fc.record({
  version: fc.constant(1),
  kind: fc.constantFrom(FrameKind.REQUEST, FrameKind.RESPONSE, FrameKind.ERROR_RESPONSE, FrameKind.ONE_WAY),
  type: fc.integer({ min: 1, max: 0xffff }),
  requestId: fc.integer({ min: 1, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 200 }),
}).map((f): Frame => ({
  ...f,
  requestId: f.kind === FrameKind.ONE_WAY ? 0 : f.requestId,
  payload: Buffer.from(f.payload),
}))

/** Cut `bytes` at the given offsets (sorted, deduplicated by the caller's arbitrary). */
const cutAt = (bytes: Buffer, cuts: number[]): Buffer[] => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

test('property: any frames under any chunking decode to themselves', () => {
  fc.assert(
    fc.property(fc.array(arbFrame, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
      const stream = Buffer.concat(frames.map(encodeFrame))
      assert.equal(decodeAll(cutAt(stream, cuts)).map(plain), frames.map(plain))
    }),
    { numRuns: 500 },
  )
})

/** Decoding arbitrary bytes either yields frames or throws a coded RingkvError; it always terminates. */
const decodesOrFailsCleanly = (chunks: Buffer[]) => {
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 })
  let steps = 0
  const total = chunks.reduce((n, c) => n + c.length, 0)
  try {
    for (const chunk of chunks) {
      decoder.push(chunk)
      for (;;) {
        // each call either consumes >= 12 bytes or returns undefined: bounded by total / 12 + chunks
        if (++steps > total + chunks.length + 1) throw new Error('decoder did not make progress')
        if (decoder.next() === undefined) break
      }
    }
  } catch (error) {
    if (!isRingkvError(error) || !FRAME_CODES.has(error.code)) throw error
  }
}

test('property: random byte streams never throw anything but a coded RingkvError, never hang', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
      decodesOrFailsCleanly(chunks.map((c) => Buffer.from(c)))
    }),
    { numRuns: 2000 },
  )
})

test('property: mutated valid streams (flipped, dropped, inserted bytes) fail cleanly or decode', () => {
  const mutation = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('flip', 'drop', 'insert', 'truncate'),
    byte: fc.integer({ min: 0, max: 255 }),
  })
  fc.assert(
    fc.property(
      fc.array(arbFrame, { minLength: 1, maxLength: 8 }),
      fc.array(mutation, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (frames, mutations, cuts) => {
        let bytes = Buffer.concat(frames.map(encodeFrame))
        for (const m of mutations) {
          const at = m.at % Math.max(1, bytes.length)
          if (m.op === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (m.byte || 1)
          else if (m.op === 'drop') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)])
          else if (m.op === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([m.byte]), bytes.subarray(at)])
          else bytes = bytes.subarray(0, at)
        }
        decodesOrFailsCleanly(cutAt(bytes, cuts))
      },
    ),
    { numRuns: 2000 },
  )
})

test.run()
