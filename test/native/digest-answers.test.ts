// A replica's answer to a batch of digest reads (REPLICA_DIGESTS): the native store answers the whole request in
// one engine call (crates/napi/src/digests.rs). It must write exactly the reply the TypeScript handler builds
// with getDigest and getBytes (src/node/handlers.ts answerDigestsInTypeScript), entry for entry: same, differs
// with the bytes or with none, withheld past the budget, failed with the entry's code.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { decodeReplicaDigestsReply, encodeReplicaDigests, replicaDigestEntryBytes, type ReplicaGetUnless } from '../../src/cluster/messages.ts'
import { valueDigest } from '../../src/engine/index.ts'
import { isRingkvError } from '../../src/errors.ts'
import { answerDigestsInTypeScript } from '../../src/node/handlers.ts'
import { silentLogger } from '../../src/runtime/logger.ts'
import { NativeStore, encodeStorageKey } from '../../src/storage/index.ts'
import { tempDir } from './helpers.ts'

const BUDGET = 1024 * 1024

function request(entries: ReplicaGetUnless[]): Buffer {
  return encodeReplicaDigests(entries, entries.reduce((n, q) => n + replicaDigestEntryBytes(q), 0))
}

/** A store holding `count` keys k0..k(count-1) in partition 7, with values of the given sizes (cycled). */
async function storeWith(count: number, sizes: number[], maxKeyBytes = 1024): Promise<{ store: NativeStore; stored: Buffer[]; remove: () => void }> {
  const { dir, remove } = tempDir('ringkv-digests-')
  const store = await NativeStore.open(dir, { limits: { maxKeyBytes } })
  const stored: Buffer[] = []
  for (let i = 0; i < count; i++) {
    // Raw bytes under the storage key: digest reads compare bytes, whatever they hold.
    const bytes = Buffer.alloc(sizes[i % sizes.length]!, i + 1)
    await store.engine.put(encodeStorageKey(7, Buffer.from(`k${i}`), maxKeyBytes), bytes)
    stored.push(bytes)
  }
  return { store, stored, remove }
}

function bothWays(store: NativeStore, payload: Uint8Array, budget = BUDGET): { native: Uint8Array; typescript: Uint8Array } {
  const native = store.answerDigests(payload, budget)
  assert.ok(native !== undefined, 'answered natively')
  return { native, typescript: answerDigestsInTypeScript(store, payload, budget, silentLogger) }
}

test('every kind of entry, answered as the TypeScript handler answers it', async () => {
  const { store, stored, remove } = await storeWith(4, [100, 3000])
  try {
    const key = (i: number) => Buffer.from(`k${i}`)
    const entries: ReplicaGetUnless[] = [
      { partition: 7, key: key(0), digest: valueDigest(stored[0]!) }, // same
      { partition: 7, key: key(1), digest: valueDigest(Buffer.from('another copy')) }, // differs: the bytes
      { partition: 7, key: key(2), digest: undefined }, // the coordinator has none, this replica has: differs
      { partition: 7, key: Buffer.from('absent'), digest: undefined }, // neither has one: same
      { partition: 7, key: Buffer.from('absent'), digest: valueDigest(stored[3]!) }, // only the coordinator: differs, none
      { partition: 8, key: key(0), digest: valueDigest(stored[0]!) }, // another partition: absent here
      { partition: 7, key: Buffer.alloc(2000, 1), digest: undefined }, // over maxKeyBytes: failed
      { partition: 7, key: key(3), digest: valueDigest(stored[3]!) }, // same
    ]
    const { native, typescript } = bothWays(store, request(entries))
    assert.equal(Buffer.from(native), Buffer.from(typescript))
    const replies = decodeReplicaDigestsReply(native, entries.length)
    assert.equal(
      replies.map((r) => r.kind),
      ['same', 'differs', 'differs', 'same', 'differs', 'differs', 'failed', 'same'],
    )
    assert.equal(replies[1]!.kind === 'differs' && Buffer.from(replies[1]!.envelope!), stored[1])
    assert.is(replies[4]!.kind === 'differs' && replies[4]!.envelope, undefined)
    assert.is(replies[6]!.kind === 'failed' && replies[6]!.code, 'ERR_KEY_TOO_LARGE')
  } finally {
    await store.close()
    remove()
  }
})

test('past the budget, bytes are withheld exactly where the TypeScript handler withholds them', async () => {
  const { store, stored, remove } = await storeWith(40, [900, 1500, 50])
  try {
    const entries = stored.map((_, i): ReplicaGetUnless => ({ partition: 7, key: Buffer.from(`k${i}`), digest: undefined }))
    // 4 + the first value's size: the first entry exactly fills the budget and still goes in whole.
    for (const budget of [0, 10, 4 + stored[0]!.length, 2000, 5000, 20_000]) {
      const { native, typescript } = bothWays(store, request(entries), budget)
      assert.equal(Buffer.from(native), Buffer.from(typescript), `budget ${budget}`)
      const kinds = decodeReplicaDigestsReply(native, entries.length).map((r) => r.kind)
      if (budget < 20_000) assert.ok(kinds.includes('withheld'), `budget ${budget}: ${kinds.join(' ')}`)
      if (budget === 4 + stored[0]!.length) assert.is(kinds[0], 'differs')
    }
  } finally {
    await store.close()
    remove()
  }
})

test('any mix of entries: the same bytes both ways', async () => {
  const { store, stored, remove } = await storeWith(12, [1, 700, 5000, 64])
  try {
    const entry = fc.record({
      which: fc.integer({ min: 0, max: 14 }), // 12..14: keys this store does not hold
      partition: fc.constantFrom(7, 7, 7, 9),
      digest: fc.constantFrom('same', 'other', 'none'),
    })
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), fc.constantFrom(BUDGET, 6000), (specs, budget) => {
        const entries = specs.map(({ which, partition, digest }): ReplicaGetUnless => ({
          partition,
          key: Buffer.from(`k${which}`),
          digest: digest === 'none' ? undefined : valueDigest(digest === 'same' && which < stored.length ? stored[which]! : Buffer.from('x')),
        }))
        const { native, typescript } = bothWays(store, request(entries), budget)
        assert.equal(Buffer.from(native), Buffer.from(typescript))
      }),
      { numRuns: 200 },
    )
  } finally {
    await store.close()
    remove()
  }
})

test('a malformed request is left to the TypeScript decoder, which names what is wrong', async () => {
  const { store, remove } = await storeWith(1, [10])
  try {
    const good = request([{ partition: 7, key: Buffer.from('k0'), digest: undefined }])
    const tooMany = Buffer.alloc(4)
    tooMany.writeUInt32BE(4097)
    const badFlag = Buffer.from(good)
    badFlag[good.length - 1] = 7
    for (const bad of [Buffer.alloc(0), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), tooMany, badFlag]) {
      assert.is(store.answerDigests(bad, BUDGET), undefined, bad.toString('hex'))
      assert.throws(
        () => answerDigestsInTypeScript(store, bad, BUDGET, silentLogger),
        (e: unknown) => isRingkvError(e, 'ERR_BAD_REQUEST'),
        bad.toString('hex'),
      )
    }
  } finally {
    await store.close()
    remove()
  }
})

test('a closed store leaves the request to the handler, whose entries fail with ERR_CLOSED', async () => {
  const { store, remove } = await storeWith(1, [10])
  await store.close()
  try {
    const payload = request([{ partition: 7, key: Buffer.from('k0'), digest: undefined }])
    assert.is(store.answerDigests(payload, BUDGET), undefined)
    const replies = decodeReplicaDigestsReply(answerDigestsInTypeScript(store, payload, BUDGET, silentLogger), 1)
    assert.equal(replies, [{ kind: 'failed', code: 'ERR_CLOSED' }])
  } finally {
    remove()
  }
})

test.run()
