// Digest reads gathered per replica per turn (src/node/digest-reads.ts), the REPLICA_DIGESTS messages they
// travel in, and the replica's handler answering them from a store.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RingkvError, isRingkvError } from '../../../src/errors.ts'
import {
  DIGEST_SAME,
  DIGEST_WITHHELD,
  type DigestReply,
  MAX_DIGEST_ENTRIES,
  ReplicaDigestsReply,
  type ReplicaGetUnless,
  decodeReplicaDigests,
  decodeReplicaDigestsReply,
  encodeReplicaDigests,
  replicaDigestEntryBytes,
} from '../../../src/cluster/messages.ts'
import { valueDigest } from '../../../src/engine/index.ts'
import { DigestReads, UNSUPPORTED_FOR_MS } from '../../../src/node/digest-reads.ts'
import { createHandlers } from '../../../src/node/handlers.ts'
import type { Coordinator } from '../../../src/node/coordinator.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { silentLogger } from '../../../src/runtime/logger.ts'
import { MemoryStore, type ReplicaStore } from '../../../src/storage/index.ts'
import { encodeEnvelope, updateEnvelope } from '../../../src/versioning/index.ts'

const entry = (key: string, digest?: Uint8Array): ReplicaGetUnless => ({ partition: 3, key: Buffer.from(key), digest })
const bytesOf = (entries: ReplicaGetUnless[]) => entries.reduce((n, q) => n + replicaDigestEntryBytes(q), 0)

test('request and reply round-trip; the reply keeps the order and the kind of every entry', () => {
  const entries = [entry('a', valueDigest(Buffer.from('x'))), entry('b'), entry('c', Buffer.alloc(16, 7))]
  const payload = encodeReplicaDigests(entries, bytesOf(entries))
  assert.is(payload.length, 4 + bytesOf(entries), 'replicaDigestEntryBytes is the exact size')
  assert.equal(decodeReplicaDigests(payload).map((q) => [q.partition, Buffer.from(q.key).toString(), q.digest && Buffer.from(q.digest)]), entries.map((q) => [3, Buffer.from(q.key).toString(), q.digest]))
  const reply = new ReplicaDigestsReply(4, 8)
  reply.same()
  reply.differs(Buffer.from('theirs'))
  reply.withheld()
  reply.failed('ERR_CORRUPTION')
  const bytes = reply.bytes
  const encoded = reply.finish()
  assert.is(encoded.length, bytes, 'the running size is exact')
  const decoded = decodeReplicaDigestsReply(encoded, 4)
  assert.is(decoded[0], DIGEST_SAME)
  assert.equal(decoded[1]!.kind === 'differs' && decoded[1]!.envelope?.toString(), 'theirs')
  assert.is(decoded[2], DIGEST_WITHHELD)
  assert.equal(decoded[3], { kind: 'failed', code: 'ERR_CORRUPTION' })
  const none = new ReplicaDigestsReply(1, 8)
  none.differs(undefined)
  assert.equal(decodeReplicaDigestsReply(none.finish(), 1), [{ kind: 'differs', envelope: undefined }])
})

test('malformed replies are ERR_BAD_REPLY, malformed requests ERR_BAD_REQUEST', () => {
  const one = new ReplicaDigestsReply(1, 8)
  one.same()
  const good = one.finish()
  const bad = [Buffer.from([]), Buffer.from([0, 0, 0, 1, 9]), Buffer.concat([good, Buffer.from([0])]), Buffer.from([0, 0, 0, 1, 0, 1, 0, 0])]
  for (const payload of bad) {
    try {
      decodeReplicaDigestsReply(payload, 1)
      assert.unreachable(`accepted ${payload.toString('hex')}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_BAD_REPLY'), `${payload.toString('hex')}: ${String(e)}`)
    }
  }
  try {
    decodeReplicaDigestsReply(good, 2)
    assert.unreachable('a reply with fewer entries than asked')
  } catch (e) {
    assert.ok(isRingkvError(e, 'ERR_BAD_REPLY'))
  }
  const tooMany = Buffer.alloc(4)
  tooMany.writeUInt32BE(MAX_DIGEST_ENTRIES + 1)
  for (const payload of [tooMany, Buffer.from([0, 0, 0, 1, 0])]) {
    try {
      decodeReplicaDigests(payload)
      assert.unreachable(`accepted ${payload.toString('hex')}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_BAD_REQUEST'), String(e))
    }
  }
})

/** Scripted peers: each request is recorded; the test answers it. */
function scriptedPeers() {
  const sent: { node: string; entries: ReplicaGetUnless[]; timeoutMs: number; answer: (reply: Buffer | Error) => void }[] = []
  return {
    sent,
    peers: {
      request: (node: string, type: number, payload: Uint8Array, timeoutMs: number) => {
        assert.is(type, MessageType.REPLICA_DIGESTS)
        return new Promise<Buffer>((resolve, reject) => {
          sent.push({ node, entries: decodeReplicaDigests(payload), timeoutMs, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) })
        })
      },
    },
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test("a turn's digest reads go to each replica in one request, sent when the microtask queue drains", async () => {
  const { sent, peers } = scriptedPeers()
  const reads = new DigestReads(peers, () => 0)
  const got: [string, DigestReply][] = []
  reads.ask('b', entry('k1'), 5000, (r) => got.push(['k1', r]))
  reads.ask('c', entry('k2'), 5000, (r) => got.push(['k2', r]))
  reads.ask('b', entry('k3', Buffer.alloc(16, 1)), 5000, (r) => got.push(['k3', r]))
  reads.ask('b', entry('k5'), 7000, (r) => got.push(['k5', r]))
  assert.is(sent.length, 0, 'nothing is sent while the turn is still being handled')
  await Promise.resolve()
  assert.equal(sent.map((s) => [s.node, s.entries.map((q) => Buffer.from(q.key).toString()), s.timeoutMs]), [
    ['b', ['k1', 'k3'], 5000],
    ['b', ['k5'], 7000],
    ['c', ['k2'], 5000],
  ], 'one request per replica and timeout: a read waits no longer than its own timeout')
  const toB = new ReplicaDigestsReply(2, 16)
  toB.differs(Buffer.from('v'))
  toB.same()
  sent[0]!.answer(toB.finish())
  sent[2]!.answer(new RingkvError('ERR_TIMEOUT', 'timed out'))
  await tick()
  assert.equal(got.map(([k, r]) => [k, r.kind]), [['k1', 'differs'], ['k3', 'same'], ['k2', 'failed']])
  assert.equal(got[2]![1], { kind: 'failed', code: 'ERR_TIMEOUT' }, 'a failed request fails each of its entries with its code')
  // The next turn starts a new batch.
  reads.ask('b', entry('k4'), 5000, () => {})
  await Promise.resolve()
  assert.is(sent.length, 4)
})

test('a reply that does not match its request fails every entry of it with ERR_BAD_REPLY', async () => {
  const { sent, peers } = scriptedPeers()
  const reads = new DigestReads(peers, () => 0)
  const got: DigestReply[] = []
  reads.ask('b', entry('k1'), 5000, (r) => got.push(r))
  reads.ask('b', entry('k2'), 5000, (r) => got.push(r))
  await Promise.resolve()
  const short = new ReplicaDigestsReply(1, 8)
  short.same()
  sent[0]!.answer(short.finish())
  await tick()
  assert.equal(got, [{ kind: 'failed', code: 'ERR_BAD_REPLY' }, { kind: 'failed', code: 'ERR_BAD_REPLY' }])
})

test('a read whose callback throws does not leave the rest of its batch unanswered', async () => {
  const { sent, peers } = scriptedPeers()
  const reads = new DigestReads(peers, () => 0)
  const got: string[] = []
  reads.ask('b', entry('k1'), 5000, () => {
    throw new Error('a bug in one read')
  })
  reads.ask('b', entry('k2'), 5000, (r) => got.push(r.kind))
  await Promise.resolve()
  const reply = new ReplicaDigestsReply(2, 8)
  reply.same()
  reply.same()
  const rejected = new Promise<unknown>((resolve) => process.once('unhandledRejection', resolve))
  sent[0]!.answer(reply.finish())
  const error = await rejected
  assert.equal(got, ['same'])
  assert.is((error as Error).message, 'a bug in one read', 'the error still surfaces')
})

test('a batch is cut at MAX_DIGEST_ENTRIES entries (and at its byte bound)', async () => {
  const { sent, peers } = scriptedPeers()
  const reads = new DigestReads(peers, () => 0)
  for (let i = 0; i < MAX_DIGEST_ENTRIES + 5; i++) reads.ask('b', entry(`k${i}`), 5000, () => {})
  await Promise.resolve()
  assert.equal(sent.map((s) => s.entries.length), [MAX_DIGEST_ENTRIES, 5])
  const big = Buffer.alloc(60 * 1024, 1).toString('latin1')
  for (let i = 0; i < 5; i++) reads.ask('c', entry(big + i), 5000, () => {})
  await Promise.resolve()
  assert.equal(sent.slice(2).map((s) => s.entries.length), [4, 1], '256 KiB of entries per request at most')
})

test('a replica without REPLICA_DIGESTS is not asked again for a while: its digest reads fail at once', async () => {
  const { sent, peers } = scriptedPeers()
  let now = 0
  const reads = new DigestReads(peers, () => now)
  const got: DigestReply[] = []
  reads.ask('old', entry('k1'), 5000, (r) => got.push(r))
  await Promise.resolve()
  sent[0]!.answer(new RingkvError('ERR_UNKNOWN_MESSAGE', 'no handler for type 54'))
  await tick()
  assert.equal(got, [{ kind: 'failed', code: 'ERR_UNKNOWN_MESSAGE' }])
  reads.ask('old', entry('k2'), 5000, (r) => got.push(r))
  reads.ask('new', entry('k3'), 5000, () => {})
  assert.is(got.length, 1, 'answered asynchronously, like any reply')
  await Promise.resolve()
  assert.equal(got[1], { kind: 'failed', code: 'ERR_UNKNOWN_MESSAGE' })
  assert.equal(sent.map((s) => s.node), ['old', 'new'], 'no request to the old replica; others are asked as usual')
  now = UNSUPPORTED_FOR_MS
  reads.ask('old', entry('k4'), 5000, () => {})
  await Promise.resolve()
  assert.equal(sent.map((s) => s.node), ['old', 'new', 'old'], 'asked again once the time is up (it may have been upgraded)')
})

test("the replica's handler answers each entry as a digest read would, and withholds bytes past its budget", async () => {
  const store = new MemoryStore()
  const put = (key: string, value: string) => {
    const env = updateEnvelope(undefined, undefined, 'a#1', { value: Buffer.from(value), timestamp: 1 })
    store.merge(3, Buffer.from(key), env)
    return valueDigest(encodeEnvelope(env))
  }
  const sameDigest = put('same', 'one')
  put('differs', 'two')
  put('big', 'x'.repeat(700 * 1024))
  put('big2', 'y'.repeat(700 * 1024))
  // A copy the store cannot read fails its entry alone (a NativeStore throws ERR_CORRUPTION for a bad block).
  const replicaStore = {
    getDigest: (p: number, k: Uint8Array) => {
      if (Buffer.from(k).toString() === 'corrupt') throw new RingkvError('ERR_CORRUPTION', 'block checksum mismatch')
      return store.getDigest(p, k)
    },
    getBytes: (p: number, k: Uint8Array) => store.getBytes(p, k),
  } as unknown as ReplicaStore
  const handlers = createHandlers({
    coordinator: {} as Coordinator,
    store: replicaStore,
    ring: () => {
      throw new Error('not used')
    },
    members: () => [],
    extra: [],
    logger: silentLogger,
    durableWrites: false,
  })
  const entries = [entry('same', sameDigest), entry('differs', sameDigest), entry('absent'), entry('absent-here', sameDigest), entry('corrupt'), entry('big'), entry('big2')]
  const handler = handlers.get(MessageType.REPLICA_DIGESTS)!
  const payload = (await handler(encodeReplicaDigests(entries, bytesOf(entries)), { connection: undefined as never })) as Buffer
  const replies = decodeReplicaDigestsReply(payload, entries.length)
  assert.equal(replies.map((r) => r.kind), ['same', 'differs', 'same', 'differs', 'failed', 'differs', 'withheld'])
  assert.equal(replies[4], { kind: 'failed', code: 'ERR_CORRUPTION' })
  assert.ok(replies[1]!.kind === 'differs' && replies[1]!.envelope !== undefined, 'the differing copy comes back')
  assert.ok(replies[3]!.kind === 'differs' && replies[3]!.envelope === undefined, 'no copy here: differs, with no bytes')
  assert.ok(payload.length < 1024 * 1024 + 4096, 'the reply stays within its budget')
})

test.run()
