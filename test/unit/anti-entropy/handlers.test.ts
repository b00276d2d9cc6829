// The answering side of anti-entropy, called directly: what each message answers from the store, and the
// errors a peer gets for malformed payloads, partitions this node does not replicate, and bad envelopes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import type { HandlerContext } from '../../../src/net/index.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { claim, preferenceList } from '../../../src/ring/index.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { silentLogger } from '../../../src/runtime/index.ts'
import { MemoryStore } from '../../../src/storage/index.ts'
import { encodeEnvelope, updateEnvelope } from '../../../src/versioning/index.ts'
import { AntiEntropy, antiEntropyDefaults } from '../../../src/node/anti-entropy/anti-entropy.ts'
import { antiEntropyHandlers } from '../../../src/node/anti-entropy/handlers.ts'
import {
  DIGEST_BYTES,
  ENTRIES_BY_KEYS,
  ENTRIES_BY_LEAVES,
  decodeKeyHashesReply,
  decodeLeafEntriesReply,
  decodeSyncReply,
  decodeTreeReply,
  encodeEntriesRequest,
  encodeSyncRequest,
  encodeTreeRequest,
} from '../../../src/node/anti-entropy/codec.ts'

const b = (s: string): Buffer => Buffer.from(s)

function setup() {
  const ring = claim(undefined, ['a', 'b', 'c', 'd'].map((id) => ({ id })), { q: 16, n: 2 }).ring
  const store = new MemoryStore()
  const clock = new VirtualClock({ startMs: 1_000_000 })
  const antiEntropy = new AntiEntropy({
    self: 'a',
    store,
    ring: () => ring,
    peers: { request: () => Promise.reject(new Error('no peers here')) },
    liveness: { isAlive: () => true, onAlive: () => () => {} },
    ringChanging: () => false,
    clock,
    logger: silentLogger,
    options: { ...antiEntropyDefaults, intervalMs: 0, requestTimeoutMs: 1000 },
  })
  const table = new Map(antiEntropyHandlers({ self: 'a', store, ring: () => ring, antiEntropy, clock, logger: silentLogger }))
  const call = async (type: number, payload: Buffer): Promise<Buffer> => Buffer.from(await table.get(type)!(payload, {} as HandlerContext))
  const mine = [...Array(16).keys()].filter((p) => preferenceList(ring, p).primaries.includes('a'))
  const notMine = [...Array(16).keys()].find((p) => !mine.includes(p))!
  return { ring, store, call, mine, notMine, table }
}

async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await p
  } catch (e) {
    assert.ok(isRingkvError(e, code), String(e))
    assert.match((e as Error).message, message)
    return
  }
  assert.unreachable(`expected ${code}`)
}

test('AE_TREE, AE_ENTRIES and AE_SYNC answer from the store', async () => {
  const { store, call, mine } = setup()
  const p = mine[0]!
  for (let i = 0; i < 20; i++) store.update(p, b(`k${i}`), undefined, 'a#1', { value: b(`v${i}`), timestamp: 1 })
  const digest = await store.merkle(p, 1024)
  const root = decodeTreeReply(await call(MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments: 1024, depth: 0, parents: [] })))
  assert.equal([root.entries, root.bytes, root.hashes.length, root.hashes[0]!.length], [20, digest.bytes, 1, DIGEST_BYTES])
  const branches = decodeTreeReply(await call(MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments: 1024, depth: 1, parents: [0] })))
  assert.is(branches.hashes.length, 32)
  const leaves = decodeTreeReply(await call(MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments: 1024, depth: 2, parents: [3, 4] })))
  assert.is(leaves.hashes.length, 64)
  assert.ok(leaves.hashes[0]!.equals(digest.leaves[96]!.subarray(0, DIGEST_BYTES)))
  const all = decodeLeafEntriesReply(
    await call(MessageType.AE_ENTRIES, encodeEntriesRequest({ partition: p, mode: ENTRIES_BY_LEAVES, segments: 1024, leaves: [...Array(1024).keys()] })),
  )
  assert.is(all.length, 20)
  const hashes = decodeKeyHashesReply(await call(MessageType.AE_ENTRIES, encodeEntriesRequest({ partition: p, mode: ENTRIES_BY_KEYS, keys: [b('k1'), b('nope')] })), 2)
  assert.ok(hashes[0]!.equals(store.entryHash(p, b('k1'))!))
  assert.is(hashes[1], undefined)
  // Sync: a newer k1 and a new k99 pushed; k1, k2 and k99 wanted back: only k2 comes back (k1 and k99 are
  // what was sent), and both pushes changed the store.
  const newer = updateEnvelope(store.get(p, b('k1')), store.get(p, b('k1'))!.context, 'b#1', { value: b('newer'), timestamp: 2 })
  const fresh = updateEnvelope(undefined, undefined, 'b#1', { value: b('fresh'), timestamp: 2 })
  const reply = decodeSyncReply(
    await call(
      MessageType.AE_SYNC,
      encodeSyncRequest({
        partition: p,
        push: [
          { key: b('k1'), envelope: Buffer.from(encodeEnvelope(newer)) },
          { key: b('k99'), envelope: Buffer.from(encodeEnvelope(fresh)) },
        ],
        want: [b('k1'), b('k2'), b('k99'), b('absent')],
      }),
    ),
  )
  assert.is(reply.changed, 2)
  assert.equal(reply.entries.map((e) => e.key.toString()), ['k2'])
  assert.equal(store.get(p, b('k1'))!.siblings.map((s) => Buffer.from(s.value!).toString()), ['newer'])
})

test('errors: malformed payloads, partitions this node does not replicate, depths and parents past the tree, bad envelopes', async () => {
  const { call, mine, notMine } = setup()
  const p = mine[0]!
  await rejects(call(MessageType.AE_TREE, Buffer.from([1])), 'ERR_BAD_REQUEST', /malformed message/)
  await rejects(call(MessageType.AE_TREE, encodeTreeRequest({ partition: notMine, segments: 8, depth: 0, parents: [] })), 'ERR_NOT_REPLICA', new RegExp(`partition ${notMine}`))
  await rejects(call(MessageType.AE_TREE, encodeTreeRequest({ partition: 40, segments: 8, depth: 0, parents: [] })), 'ERR_BAD_REQUEST', /not one of the ring's 16/)
  await rejects(call(MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments: 8, depth: 3, parents: [0] })), 'ERR_BAD_REQUEST', /depth 3/)
  await rejects(call(MessageType.AE_TREE, encodeTreeRequest({ partition: p, segments: 1024, depth: 2, parents: [32] })), 'ERR_BAD_REQUEST', /node 32 at depth 1/)
  await rejects(call(MessageType.AE_ENTRIES, encodeEntriesRequest({ partition: notMine, mode: ENTRIES_BY_KEYS, keys: [b('k')] })), 'ERR_NOT_REPLICA', /does not replicate/)
  await rejects(
    call(MessageType.AE_SYNC, encodeSyncRequest({ partition: p, push: [{ key: b('k'), envelope: b('garbage') }], want: [] })),
    'ERR_BAD_REQUEST',
    /envelope pushed for key 6b does not decode/,
  )
  await rejects(call(MessageType.AE_SYNC, encodeSyncRequest({ partition: notMine, push: [], want: [b('k')] })), 'ERR_NOT_REPLICA', /does not replicate/)
  await rejects(call(MessageType.ADMIN_REPAIR, Buffer.from([0, 0])), 'ERR_BAD_REQUEST', /malformed/)
})

test.run()
