import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  ErrorCode,
  MAX_ERROR_MESSAGE_BYTES,
  decodeErrorPayload,
  encodeErrorPayload,
} from '../../../src/protocol/error-codes.ts'
import {
  decodeHelloRequest,
  decodeHelloResponse,
  encodeHelloRequest,
  encodeHelloResponse,
  negotiateVersion,
} from '../../../src/protocol/hello.ts'
import { MessageType, messageTypeName } from '../../../src/protocol/message-types.ts'
import { isRingkvError } from '../../../src/errors.ts'

test('error payload round trip; long messages are bounded on a character boundary', () => {
  assert.equal(decodeErrorPayload(encodeErrorPayload('ERR_X', 'héllo')), { code: 'ERR_X', message: 'héllo' })
  const long = 'é'.repeat(2000)
  const decoded = decodeErrorPayload(encodeErrorPayload('ERR_X', long))
  assert.ok(Buffer.byteLength(decoded.message) <= MAX_ERROR_MESSAGE_BYTES)
  assert.ok(long.startsWith(decoded.message))
  assert.is(encodeErrorPayload('ERR_X', '').toString('hex'), '0005' + Buffer.from('ERR_X').toString('hex'))
})

test('malformed error payloads are ERR_BAD_FRAME', () => {
  for (const bad of [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0]), Buffer.from([0, 9, 65])]) {
    assert.throws(() => decodeErrorPayload(bad), (e: unknown) => isRingkvError(e, ErrorCode.BAD_FRAME))
  }
})

test('HELLO request/response round trips and documented layout', () => {
  const req = { versions: { min: 1, max: 3 }, maxFrameBytes: 32 * 1024 * 1024, nodeId: 'node-a' }
  const bytes = encodeHelloRequest(req)
  assert.is(bytes.toString('hex'), '0103' + '02000000' + '0006' + Buffer.from('node-a').toString('hex'))
  assert.equal(decodeHelloRequest(bytes), req)
  const res = { version: 2, maxFrameBytes: 4096, nodeId: 'ß' }
  assert.equal(decodeHelloResponse(encodeHelloResponse(res)), res)
  assert.throws(() => encodeHelloRequest({ ...req, nodeId: '' }), /nodeId must be 1 to 255 bytes/)
})

test('property: HELLO decoders throw only ERR_BAD_FRAME on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const decode of [decodeHelloRequest, decodeHelloResponse]) {
        try {
          decode(Buffer.from(bytes))
        } catch (error) {
          assert.ok(isRingkvError(error, ErrorCode.BAD_FRAME), String(error))
        }
      }
    }),
    { numRuns: 1000 },
  )
})

test('version negotiation picks the highest common version', () => {
  assert.is(negotiateVersion({ min: 1, max: 1 }, { min: 1, max: 1 }), 1)
  assert.is(negotiateVersion({ min: 1, max: 3 }, { min: 2, max: 5 }), 3)
  assert.is(negotiateVersion({ min: 1, max: 1 }, { min: 2, max: 3 }), undefined)
  assert.is(negotiateVersion({ min: 4, max: 9 }, { min: 1, max: 3 }), undefined)
})

test('message type table is append-only and named', () => {
  // Pinned: changing any of these breaks every deployed peer.
  assert.equal(
    { ...MessageType },
    {
      PING: 1,
      ERROR: 2,
      HELLO: 3,
      CLIENT_GET: 16,
      CLIENT_PUT: 17,
      CLIENT_DELETE: 18,
      CLIENT_SCAN: 19,
      CLIENT_RING: 20,
      REPLICA_GET: 32,
      REPLICA_PUT: 33,
      REPLICA_SCAN: 34,
      MEMBERS: 35,
      GOSSIP_SYN: 36,
      GOSSIP_ACK2: 37,
      RING_GET: 38,
      ADMIN_STATUS: 39,
      AE_TREE: 40,
      AE_ENTRIES: 41,
      AE_SYNC: 42,
      ADMIN_REPAIR: 43,
      HINTED_PUT: 44,
      STREAM_PAGE: 48,
      STREAM_PULL: 49,
      ADMIN_JOIN: 50,
      ADMIN_DECOMMISSION: 51,
      ADMIN_ABORT: 52,
      REPLICA_GET_UNLESS: 53,
      REPLICA_DIGESTS: 54,
    },
  )
  assert.is(messageTypeName(1), 'PING')
  assert.is(messageTypeName(33), 'REPLICA_PUT')
  assert.is(messageTypeName(999), 'type 999')
})

test.run()
