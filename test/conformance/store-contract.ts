/**
 * The replica store contract: one suite, run against every ReplicaStore (store-native.test.ts,
 * store-memory.test.ts). See src/storage/store.ts for the contract itself.
 *
 * Each test makes its own store through the factory and disposes of it in `finally`. Operations that the contract
 * says happen "in one tick" are issued with no await between them.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../src/errors.ts'
import { valueDigest, VALUE_DIGEST_BYTES } from '../../src/engine/index.ts'
import {
  contextOf,
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  envelopesEqual,
  mergeEnvelopes,
  updateEnvelope,
  vv,
  type Envelope,
  type Write,
} from '../../src/versioning/index.ts'
import { encodeStorageKey, MAX_KEY_BYTES, MAX_PARTITION, type ReplicaStore, type ScanEntry, type ScanOptions, type StoreLimits } from '../../src/storage/index.ts'
import { DigestBuilder, entryHash, segmentOf, type PartitionDigest } from '../../src/storage/merkle.ts'

export interface StoreHarness {
  /** The store currently open (a new one after `reopen`). */
  readonly store: ReplicaStore
  /** Writes `bytes` as the stored value of a storage key, beneath the store (to plant garbage). */
  putRaw(storageKey: Uint8Array, bytes: Uint8Array): Promise<void>
  /** Closes the store and opens a new one over the same data. */
  reopen(): Promise<ReplicaStore>
  /** Closes what is open and removes the data. */
  dispose(): Promise<void>
}

export type StoreFactory = (options?: { limits?: Partial<StoreLimits> }) => Promise<StoreHarness>

const b = (s: string): Buffer => Buffer.from(s)
const text = (v: Uint8Array | null): string | null => (v === null ? null : Buffer.from(v).toString())
const values = (e: Envelope | undefined): Array<string | null> => (e === undefined ? [] : e.siblings.map((s) => text(s.value)))
const dots = (e: Envelope | undefined): string[] => (e === undefined ? [] : e.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`))
const w = (value: string | null, timestamp = 1_700_000_000_000, expiresAt = 0): Write => ({ value: value === null ? null : b(value), timestamp, expiresAt })

function same(actual: Envelope | undefined, expected: Envelope | undefined, message = ''): void {
  if (actual === undefined || expected === undefined) {
    assert.is(actual, expected, message)
    return
  }
  assert.ok(envelopesEqual(actual, expected), `${message} ${show(actual)} != ${show(expected)}`)
}

function show(e: Envelope): string {
  return `{${[...e.context].map(([a, c]) => `${a}=${c}`).join(' ')} | ${e.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}=${text(s.value)}`).join(' ')}}`
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): Error {
  try {
    fn()
  } catch (e) {
    if (!isRingkvError(e, code)) throw new Error(`expected ${code}, got ${String(e)}`)
    if (message !== undefined) assert.match(e.message, message)
    return e
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p
  } catch (e) {
    if (!isRingkvError(e, code)) throw new Error(`expected ${code}, got ${String(e)}`)
    return
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

async function collect(it: AsyncIterable<ScanEntry>): Promise<Array<[string, Array<string | null>]>> {
  const out: Array<[string, Array<string | null>]> = []
  for await (const e of it) out.push([e.key.toString('hex'), values(e.envelope)])
  return out
}

const hex = (s: string | Uint8Array): string => Buffer.from(s).toString('hex')

export function storeContract(name: string, factory: StoreFactory): void {
  const test = suite(`store contract: ${name}`)
  const withStore = (title: string, body: (h: StoreHarness) => Promise<void>, limits?: Partial<StoreLimits>) =>
    test(title, async () => {
      const h = await factory(limits === undefined ? {} : { limits })
      try {
        await body(h)
      } catch (e) {
        // uvu cannot print an error with an object `details` (every RingkvError) and drops the suite's other tests.
        if (isRingkvError(e)) throw new Error(`${e.code}: ${e.message}`, { cause: e })
        throw e
      } finally {
        await h.dispose()
      }
    })

  withStore('get of a missing key is undefined; update then get round-trips the envelope', async ({ store }) => {
    assert.is(store.get(7, b('k')), undefined)
    const r = store.update(7, b('k'), undefined, 'n1#0', w('hello'))
    assert.equal(values(r.stored), ['hello'])
    assert.equal(dots(r.stored), ['n1#0/0:1'], "the issuer's first key epoch (key-epochs.ts)")
    assert.is(r.siblingWarning, false)
    same(store.get(7, b('k')), r.stored)
    same(r.stored, updateEnvelope(undefined, undefined, 'n1#0/0', w('hello')))
    await r.durable
    same(store.get(7, b('k')), r.stored)
    assert.is(store.get(8, b('k')), undefined, 'another partition is another key')
    assert.is(store.get(7, b('K')), undefined)
  })

  withStore('getBytes: the canonical encoding of the stored envelope, as written, or undefined', async ({ store }) => {
    assert.is(store.getBytes(7, b('k')), undefined)
    const r = store.update(7, b('k'), undefined, 'n1#0', w('hello'))
    const bytes = store.getBytes(7, b('k'))!
    assert.ok(Buffer.from(bytes).equals(Buffer.from(encodeEnvelope(r.stored))), 'the bytes are encodeEnvelope of what get returns')
    same(decodeEnvelope(bytes), store.get(7, b('k'))!)
    assert.is(store.getBytes(8, b('k')), undefined, 'another partition is another key')
    const merged = store.merge(7, b('k'), updateEnvelope(undefined, undefined, 'n2#0', w('other')))
    assert.ok(Buffer.from(store.getBytes(7, b('k'))!).equals(Buffer.from(encodeEnvelope(merged.stored))), 'a merge changes the bytes')
    throwsCode(() => store.getBytes(-1, b('k')), 'ERR_BAD_REQUEST')
    await merged.durable
  })

  withStore('getDigest: the value digest of what getBytes returns, computed in place; undefined when absent', async ({ store }) => {
    assert.is(store.getDigest(7, b('k')), undefined)
    const r = store.update(7, b('k'), undefined, 'n1#0', w('hello'))
    const first = store.getDigest(7, b('k'))!
    assert.is(first.length, VALUE_DIGEST_BYTES)
    assert.ok(Buffer.from(first).equals(valueDigest(store.getBytes(7, b('k'))!)))
    const big = store.update(7, b('big'), undefined, 'n1#0', { value: new Uint8Array(300_000).fill(3), timestamp: 1 })
    assert.ok(Buffer.from(store.getDigest(7, b('big'))!).equals(valueDigest(store.getBytes(7, b('big'))!)), 'values beyond the read buffer too')
    const merged = store.merge(7, b('k'), updateEnvelope(undefined, undefined, 'n2#0', w('other')))
    assert.not.ok(Buffer.from(store.getDigest(7, b('k'))!).equals(first), 'another copy, another digest')
    assert.is(store.getDigest(8, b('k')), undefined, 'another partition is another key')
    await Promise.all([r.durable, big.durable, merged.durable])
  })

  withStore("update returns the stored envelope's encoding; merge writes the incoming bytes when the result is the incoming envelope", async ({ store }) => {
    const u = store.update(17, b('k'), undefined, 'a#0', w('v1'))
    assert.ok(Buffer.from(u.bytes).equals(Buffer.from(encodeEnvelope(u.stored))), 'update.bytes = encodeEnvelope(stored)')
    assert.ok(Buffer.from(store.getBytes(17, b('k'))!).equals(Buffer.from(u.bytes)), 'and that is what was written')
    // A newer write from another coordinator supersedes what is stored: the result is the incoming envelope.
    const newer = updateEnvelope(u.stored, contextOf(u.stored), 'b#0', w('v2'))
    const newerBytes = Buffer.from(encodeEnvelope(newer))
    const m = store.merge(17, b('k'), newer, newerBytes)
    assert.ok(m.changed)
    assert.ok(Buffer.from(store.getBytes(17, b('k'))!).equals(newerBytes))
    newerBytes.fill(0) // the store kept its own copy
    same(store.get(17, b('k')), newer)
    // A concurrent write: the merge keeps both, so it is encoded afresh, whatever bytes came along.
    const concurrent = updateEnvelope(undefined, undefined, 'c#0', w('v3'))
    store.merge(17, b('k'), concurrent, encodeEnvelope(concurrent))
    assert.equal(values(store.get(17, b('k'))).sort(), ['v2', 'v3'])
    same(decodeEnvelope(store.getBytes(17, b('k'))!), store.get(17, b('k'))!)
    throwsCode(() => store.merge(17, b('k'), concurrent, 'bytes' as never), 'ERR_BAD_REQUEST', /incomingBytes/)
    await store.sync()
  })

  withStore('mergeBytes: replica writes as bytes -- superseding, duplicate, stale, concurrent, malformed, over a corrupt copy', async (h) => {
    const { store } = h
    const k = b('k')
    const first = updateEnvelope(undefined, undefined, 'b#0/0', w('v1'))
    const r1 = store.mergeBytes(21, k, encodeEnvelope(first))
    assert.ok(r1.changed, 'into an absent key')
    await r1.durable
    same(store.get(21, k), first)
    const written = store.stats().keysWritten
    assert.is(store.mergeBytes(21, k, encodeEnvelope(first)).changed, false, 'a duplicate')
    assert.is(store.stats().keysWritten, written, 'a duplicate writes nothing')
    // A newer write supersedes the stored one: its bytes are stored as they came.
    const newer = updateEnvelope(first, contextOf(first), 'b#0/0', w('v2'))
    const newerBytes = Buffer.from(encodeEnvelope(newer))
    assert.ok(store.mergeBytes(21, k, newerBytes).changed)
    assert.ok(Buffer.from(store.getBytes(21, k)!).equals(newerBytes))
    newerBytes.fill(0) // the store kept its own copy
    same(store.get(21, k), newer)
    assert.is(store.mergeBytes(21, k, encodeEnvelope(first)).changed, false, 'a stale write')
    same(store.get(21, k), newer)
    const concurrent = updateEnvelope(undefined, undefined, 'c#0/0', w('v3'))
    assert.ok(store.mergeBytes(21, k, encodeEnvelope(concurrent)).changed, 'a concurrent write')
    same(store.get(21, k), mergeEnvelopes(newer, concurrent))
    // Actors beyond ASCII take the general path, to the same end.
    const accented = updateEnvelope(undefined, undefined, 'n\u00e9#0/0', w('v4'))
    assert.ok(store.mergeBytes(22, k, encodeEnvelope(accented)).changed)
    same(store.get(22, k), accented)
    const stats = store.stats()
    assert.equal([stats.merges, stats.mergesChanged], [6, 4])
    // Malformed bytes are refused, and nothing is stored.
    const good = Buffer.from(encodeEnvelope(first))
    throwsCode(() => store.mergeBytes(23, k, good.subarray(0, good.length - 1)), 'ERR_BAD_ENVELOPE', /truncated/)
    throwsCode(() => store.mergeBytes(23, k, Buffer.concat([good, Buffer.from([0])])), 'ERR_BAD_ENVELOPE', /trailing/)
    throwsCode(() => store.mergeBytes(23, k, 'bytes' as never), 'ERR_BAD_ENVELOPE', /Uint8Array/)
    assert.is(store.get(23, k), undefined)
    // Over a stored copy that does not decode: ERR_CORRUPTION, and the copy is left for an operator.
    const garbage = Buffer.from([1, 9, 9])
    await h.putRaw(encodeStorageKey(24, k, MAX_KEY_BYTES), garbage)
    throwsCode(() => store.mergeBytes(24, k, encodeEnvelope(newer)), 'ERR_CORRUPTION', /partition 24/)
    assert.ok(Buffer.from(store.getBytes(24, k)!).equals(garbage))
    await store.sync()
  })

  withStore('two updates of one key in one tick compose: without context both survive as siblings', async ({ store }) => {
    const k = b('race')
    const first = store.update(1, k, undefined, 'n1#0', w('a'))
    const second = store.update(1, k, undefined, 'n1#0', w('b'))
    assert.equal(values(second.stored), ['a', 'b'])
    assert.equal(dots(second.stored), ['n1#0/0:1', 'n1#0/0:2'], "the key's actor is kept")
    same(store.get(1, k), second.stored)
    await Promise.all([first.durable, second.durable])
    // Fifty writers of one tick, five actors: no update lost.
    const results = Array.from({ length: 50 }, (_, i) => store.update(1, b('many'), undefined, `n${i % 5}#0`, w(`v${i}`)))
    await Promise.all(results.map((r) => r.durable))
    const e = store.get(1, b('many'))!
    assert.is(e.siblings.length, 50)
    assert.equal(new Set(values(e)), new Set(Array.from({ length: 50 }, (_, i) => `v${i}`)))
  })

  withStore('two updates with the same read context in one tick: both survive, what was read is superseded', async ({ store }) => {
    const k = b('k')
    store.update(2, k, undefined, 'a#0', w('v0'))
    const read = store.get(2, k)!
    store.update(2, k, contextOf(read), 'a#0', w('x'))
    const r = store.update(2, k, contextOf(read), 'b#0', w('y'))
    assert.equal(values(r.stored), ['x', 'y'])
    await r.durable
  })

  withStore('an update with the context of a read supersedes exactly what the read saw', async ({ store }) => {
    const k = b('k')
    store.update(3, k, undefined, 'a#0', w('v1'))
    const read = store.get(3, k)!
    store.merge(3, k, updateEnvelope(undefined, undefined, 'b#0', w('v2'))) // concurrent with the reader: not seen by it
    const r = store.update(3, k, contextOf(read), 'a#0', w('v3'))
    assert.equal(dots(r.stored), ['a#0/0:2', 'b#0:1'], 'v1 (a#0/0:1) is gone; siblings are in dot order')
    assert.equal(values(r.stored), ['v3', 'v2'])
    const all = store.get(3, k)!
    const d = store.update(3, k, contextOf(all), 'a#0', w(null)) // a delete that saw everything
    assert.equal(values(d.stored), [null])
    same(store.get(3, k), d.stored)
    await d.durable
  })

  withStore('merge into an absent key stores the incoming envelope; merging it again changes nothing', async ({ store }) => {
    const incoming = updateEnvelope(updateEnvelope(undefined, undefined, 'r#1', w('a')), undefined, 'q#2', w('b'))
    const r = store.merge(4, b('k'), incoming)
    assert.is(r.changed, true)
    same(r.stored, incoming)
    same(store.get(4, b('k')), incoming)
    await r.durable
    const written = store.stats().keysWritten
    const again = store.merge(4, b('k'), incoming)
    assert.is(again.changed, false)
    same(again.stored, incoming)
    assert.is(store.stats().keysWritten, written, 'an idempotent merge writes nothing')
    await again.durable
    const stats = store.stats()
    assert.is(stats.merges, 2)
    assert.is(stats.mergesChanged, 1)
  })

  withStore('merging the empty envelope into an absent key writes nothing', async ({ store }) => {
    const r = store.merge(4, b('none'), createEnvelope(vv(), []))
    assert.is(r.changed, false)
    assert.is(r.stored.siblings.length, 0)
    assert.is(store.get(4, b('none')), undefined)
    assert.is(store.stats().keysWritten, 0)
    await r.durable
  })

  withStore('merge is commutative in effect: A then B equals B then A', async ({ store }) => {
    const base = updateEnvelope(undefined, undefined, 'a#0', w('base'))
    const A = updateEnvelope(base, contextOf(base), 'a#0', w('from a'))
    const B = updateEnvelope(updateEnvelope(base, undefined, 'b#0', w('from b')), undefined, 'c#0', w(null))
    store.merge(5, b('ab'), A)
    const ab = store.merge(5, b('ab'), B)
    store.merge(5, b('ba'), B)
    const ba = store.merge(5, b('ba'), A)
    same(ab.stored, ba.stored)
    same(store.get(5, b('ab')), store.get(5, b('ba')))
    same(ab.stored, mergeEnvelopes(A, B))
    assert.equal(values(ab.stored), ['from a', 'from b', null])
    await Promise.all([ab.durable, ba.durable])
  })

  withStore('merge of an older envelope leaves the stored one alone (changed: false, nothing written)', async ({ store }) => {
    const k = b('k')
    const old = store.update(6, k, undefined, 'a#0', w('old')).stored
    const current = store.update(6, k, contextOf(old), 'a#0', w('new')).stored
    const before = store.stats()
    const r = store.merge(6, k, old)
    assert.is(r.changed, false)
    same(r.stored, current)
    same(store.get(6, k), current)
    const after = store.stats()
    assert.is(after.keysWritten, before.keysWritten)
    assert.is(after.bytesWritten, before.bytesWritten)
    await r.durable
  })

  withStore('merge of a newer envelope replaces; of a concurrent one keeps both sides', async ({ store }) => {
    const k = b('k')
    const mine = store.update(6, k, undefined, 'a#0', w('mine')).stored
    const newer = updateEnvelope(mine, contextOf(mine), 'b#0', w('newer'))
    assert.equal(values(store.merge(6, k, newer).stored), ['newer'])
    const concurrent = updateEnvelope(undefined, undefined, 'c#0', w('other'))
    const r = store.merge(6, k, concurrent)
    assert.is(r.changed, true)
    assert.equal(values(r.stored), ['newer', 'other'])
    await r.durable
  })

  withStore(
    'sibling limits: warn at warnSiblings, refuse above maxSiblings; merges are exempt',
    async ({ store }) => {
      const k = b('k')
      const flags = [1, 2, 3, 4].map((i) => store.update(9, k, undefined, 'a#0', w(`v${i}`)).siblingWarning)
      assert.equal(flags, [false, false, true, true])
      const err = throwsCode(() => store.update(9, k, undefined, 'b#0', w('v5')), 'ERR_TOO_MANY_SIBLINGS', /5 siblings.*limit is 4/)
      assert.is((err as { details?: Record<string, unknown> }).details?.['siblings'], 5)
      assert.equal(values(store.get(9, k)), ['v1', 'v2', 'v3', 'v4'], 'a refused write changes nothing')
      // A keyspace's own policy for one write.
      assert.is(store.update(9, k, undefined, 'b#0', w('v5'), { maxSiblings: 10, warnSiblings: 10 }).siblingWarning, false)
      // Replica sync is exempt: it must converge whatever the count.
      let wide = store.get(9, k)!
      for (let i = 0; i < 6; i++) wide = updateEnvelope(wide, undefined, 'c#0', w(`c${i}`))
      const merged = store.merge(9, k, wide)
      assert.is(merged.stored.siblings.length, 11)
      // A write that resolves the siblings is allowed, however many there were.
      const resolved = store.update(9, k, contextOf(merged.stored), 'a#0', w('one'))
      assert.equal(values(resolved.stored), ['one'])
      assert.is(resolved.siblingWarning, false)
      const stats = store.stats()
      assert.is(stats.siblingWarnings, 2)
      assert.is(stats.siblingRefusals, 1)
      await resolved.durable
    },
    { warnSiblings: 3, maxSiblings: 4 },
  )

  withStore('default sibling policy: warning at 25, refusal above 100', async ({ store }) => {
    const k = b('k')
    const flags: boolean[] = []
    for (let i = 1; i <= 100; i++) flags.push(store.update(9, k, undefined, `a${i % 3}#0`, w(`v${i}`)).siblingWarning)
    assert.is(flags.indexOf(true), 24, 'the 25th sibling warns')
    assert.ok(flags.slice(24).every((f) => f))
    throwsCode(() => store.update(9, k, undefined, 'a#0', w('v101')), 'ERR_TOO_MANY_SIBLINGS')
    assert.is(store.get(9, k)!.siblings.length, 100)
  })

  withStore(
    'object size limit: a write whose encoded envelope exceeds maxObjectBytes is refused and changes nothing',
    async ({ store }) => {
      const k = b('k')
      throwsCode(() => store.update(10, k, undefined, 'a#0', { value: Buffer.alloc(1000), timestamp: 1 }), 'ERR_OBJECT_TOO_LARGE', /limit is 1000/)
      assert.is(store.get(10, k), undefined)
      const small = store.update(10, k, undefined, 'a#0', { value: Buffer.alloc(600), timestamp: 1 })
      // Siblings add up: a second 600-byte value without context makes the object too large.
      throwsCode(() => store.update(10, k, undefined, 'a#0', { value: Buffer.alloc(600), timestamp: 2 }), 'ERR_OBJECT_TOO_LARGE')
      same(store.get(10, k), small.stored)
      // Replacing the value (with the read context) is fine.
      store.update(10, k, contextOf(small.stored), 'a#0', { value: Buffer.alloc(900), timestamp: 3 })
      // A keyspace may allow more, up to the store's hard maximum.
      store.update(10, b('big'), undefined, 'a#0', { value: Buffer.alloc(3000), timestamp: 1 }, { maxObjectBytes: 4000 })
      throwsCode(() => store.update(10, b('big'), undefined, 'a#0', w('x'), { maxObjectBytes: 5000 }), 'ERR_BAD_REQUEST', /maxObjectBytes/)
      assert.is(store.stats().objectRefusals, 2)
      // Merges are exempt from the object policy but not from the hard maximum.
      const wide = updateEnvelope(store.get(10, b('big')), undefined, 'z#0', { value: Buffer.alloc(800), timestamp: 4 })
      assert.is(store.merge(10, b('big'), wide).changed, true)
      const huge = updateEnvelope(undefined, undefined, 'y#0', { value: Buffer.alloc(4100), timestamp: 5 })
      throwsCode(() => store.merge(10, b('big'), huge), 'ERR_VALUE_TOO_LARGE', /4096/)
      throwsCode(() => store.mergeBytes(10, b('big'), encodeEnvelope(huge)), 'ERR_VALUE_TOO_LARGE', /4096/)
      assert.is(store.get(10, b('big'))!.siblings.length, 2)
      assert.is(store.stats().valueRefusals, 2)
    },
    { maxObjectBytes: 1000, maxValueBytes: 4096 },
  )

  withStore('keys are bytes: 0x00, 0xff, the empty key and the longest key are distinct keys', async ({ store }) => {
    const keys = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0]), Buffer.from([0xff]), Buffer.from([0xff, 0]), Buffer.alloc(MAX_KEY_BYTES, 0xab)]
    for (const [i, k] of keys.entries()) store.update(MAX_PARTITION, k, undefined, 'a#0', w(`v${i}`))
    for (const [i, k] of keys.entries()) assert.equal(values(store.get(MAX_PARTITION, k)), [`v${i}`])
    for (const [i, k] of keys.entries()) store.update(0, k, undefined, 'a#0', w(`p0-${i}`))
    assert.equal(values(store.get(0, Buffer.alloc(0))), ['p0-0'])
    assert.equal(values(store.get(MAX_PARTITION, Buffer.alloc(0))), ['v0'])
    // A Uint8Array that is a view into a larger buffer is its own bytes only.
    const backing = new Uint8Array([9, 9, 0xff, 0, 9])
    assert.equal(values(store.get(MAX_PARTITION, backing.subarray(2, 4))), ['v4'])
  })

  withStore('bad requests get clear errors: partition, key type, key size, options', async ({ store }) => {
    for (const p of [-1, 65536, 1.5, Number.NaN, '1' as unknown as number]) {
      throwsCode(() => store.get(p, b('k')), 'ERR_BAD_REQUEST', /partition must be an integer between 0 and 65535/)
      throwsCode(() => store.update(p, b('k'), undefined, 'a#0', w('v')), 'ERR_BAD_REQUEST')
      throwsCode(() => store.merge(p, b('k'), updateEnvelope(undefined, undefined, 'a#0', w('v'))), 'ERR_BAD_REQUEST')
      throwsCode(() => store.scan(p), 'ERR_BAD_REQUEST')
      await rejectsCode(store.remove(p, b('k')), 'ERR_BAD_REQUEST')
    }
    throwsCode(() => store.get(1, 'k' as unknown as Uint8Array), 'ERR_BAD_REQUEST', /key must be a Buffer or Uint8Array, got string/)
    const long = Buffer.alloc(MAX_KEY_BYTES + 1)
    throwsCode(() => store.get(1, long), 'ERR_KEY_TOO_LARGE', new RegExp(`${MAX_KEY_BYTES + 1} bytes; the limit is ${MAX_KEY_BYTES}`))
    throwsCode(() => store.update(1, long, undefined, 'a#0', w('v')), 'ERR_KEY_TOO_LARGE')
    await rejectsCode(store.remove(1, long), 'ERR_KEY_TOO_LARGE')
    throwsCode(() => store.scan(1, { start: long }), 'ERR_KEY_TOO_LARGE')
    throwsCode(() => store.scan(1, { limit: -1 }), 'ERR_BAD_REQUEST', /limit/)
    throwsCode(() => store.scan(1, { limit: 1.5 }), 'ERR_BAD_REQUEST', /limit/)
    throwsCode(() => store.update(1, b('k'), undefined, 'a#0', w('v'), { warnSiblings: 0 }), 'ERR_BAD_REQUEST', /warnSiblings/)
    throwsCode(() => store.update(1, b('k'), { a: 1 } as never, 'a#0', w('v')), 'ERR_BAD_REQUEST', /context/)
    throwsCode(() => store.update(1, b('k'), undefined, '', w('v')), 'ERR_BAD_ENVELOPE', /actor/)
    throwsCode(() => store.update(1, b('k'), undefined, 'a#0', { value: 'str' as never, timestamp: 1 }), 'ERR_BAD_ENVELOPE')
    throwsCode(() => store.update(1, b('k'), undefined, 'a#0', { value: b('v'), timestamp: -1 }), 'ERR_BAD_ENVELOPE', /timestamp/)
    throwsCode(() => store.merge(1, b('k'), { siblings: [] } as never), 'ERR_BAD_REQUEST', /envelope/)
    throwsCode(() => store.merge(1, b('k'), null as never), 'ERR_BAD_REQUEST', /envelope/)
    // An incoming envelope that breaks the invariants is refused by the encoder, not stored.
    const broken = { context: vv({ 'a#0': 1 }), siblings: [{ dot: { actor: 'a#0', counter: 2 }, value: b('x'), timestamp: 1, expiresAt: 0 }] }
    throwsCode(() => store.merge(1, b('k'), broken), 'ERR_BAD_ENVELOPE')
    assert.is(store.get(1, b('k')), undefined, 'nothing was stored by any refused request')
    const stats = store.stats()
    assert.is(stats.keysWritten, 0)
    assert.is(stats.updates, 0)
  })

  withStore('scan returns only its partition, in key order, honouring start, end and limit', async ({ store }) => {
    const keys = [b(''), b('a'), b('a\0'), b('ab'), b('b'), Buffer.from([0xff]), Buffer.from([0xff, 0xff]), Buffer.from([0])]
    const writes: Array<Promise<void>> = []
    for (const p of [4, 5, 6]) for (const k of keys) writes.push(store.update(p, k, undefined, 'a#0', w(`${p}:${hex(k)}`)).durable)
    store.update(MAX_PARTITION, b('last'), undefined, 'a#0', w('last'))
    store.update(0, b('first'), undefined, 'a#0', w('first'))
    await Promise.all(writes)
    const sorted = [...keys].sort(Buffer.compare).map(hex)
    const all = await collect(store.scan(5))
    assert.equal(all.map(([k]) => k), sorted)
    assert.ok(all.every(([k, v]) => v[0] === `5:${k}`), 'only partition 5')
    const range = async (o: ScanOptions) => (await collect(store.scan(5, o))).map(([k]) => k)
    assert.equal(await range({ start: b('a') }), sorted.slice(sorted.indexOf(hex('a'))))
    assert.equal(await range({ end: b('a') }), [hex(''), '00'])
    assert.equal(await range({ start: b('a'), end: b('b') }), [hex('a'), hex('a\0'), hex('ab')])
    assert.equal(await range({ start: b('a'), end: b('b'), limit: 2 }), [hex('a'), hex('a\0')])
    assert.equal(await range({ limit: 3 }), sorted.slice(0, 3))
    assert.equal(await range({ limit: 0 }), [])
    assert.equal(await range({ start: b('b'), end: b('a') }), [], 'an empty range')
    assert.equal(await range({ start: b('a'), end: b('a') }), [])
    assert.equal(await range({ start: Buffer.from([0xff, 0xff, 0xff]) }), [])
    assert.equal(await range({ start: Buffer.from([0xff]) }), ['ff', 'ffff'])
    assert.equal(await collect(store.scan(MAX_PARTITION)), [[hex('last'), ['last']]])
    assert.equal(await collect(store.scan(0)), [[hex('first'), ['first']]])
    assert.equal(await collect(store.scan(7)), [])
  })

  withStore('scan is a snapshot taken when scan is called', async ({ store }) => {
    const n = 600 // more than one native batch
    const key = (i: number) => b(`k${String(i).padStart(4, '0')}`)
    for (let i = 0; i < n; i++) store.update(3, key(i), undefined, 'a#0', w('before'))
    const scan = store.scan(3)
    const bounded = store.scan(3, { start: key(100), limit: 5 })
    // Changes after the call, before and during iteration, are not seen.
    for (let i = 0; i < n; i += 2) store.update(3, key(i), contextOf(store.get(3, key(i))!), 'a#0', w('after'))
    await store.remove(3, key(1))
    store.update(3, b('k0000x'), undefined, 'a#0', w('new'))
    let seen = 0
    for await (const e of scan) {
      assert.equal(values(e.envelope), ['before'], e.key.toString())
      assert.is(e.key.toString(), key(seen).toString())
      seen++
      if (seen === 300) store.update(3, key(599), contextOf(store.get(3, key(599))!), 'a#0', w('during'))
    }
    assert.is(seen, n)
    assert.equal((await collect(bounded)).map(([, v]) => v[0]), ['before', 'before', 'before', 'before', 'before'])
    const now = await collect(store.scan(3, { limit: 3 }))
    assert.equal(now, [[hex(key(0)), ['after']], [hex('k0000x'), ['new']], [hex(key(2)), ['after']]])
  })

  withStore('a scan stopped early releases its snapshot and the store keeps working', async ({ store }) => {
    for (let i = 0; i < 10; i++) store.update(2, b(`k${i}`), undefined, 'a#0', w('v'))
    let n = 0
    for await (const _ of store.scan(2)) if (++n === 3) break
    assert.is(n, 3)
    assert.is((await collect(store.scan(2))).length, 10)
  })

  withStore('remove deletes the key physically; a later write starts afresh', async ({ store }) => {
    const k = b('k')
    store.update(8, k, undefined, 'a#0', w('v1'))
    store.update(8, b('other'), undefined, 'a#0', w('o'))
    const p = store.remove(8, k)
    assert.is(store.get(8, k), undefined, 'applied during the call')
    await p
    assert.equal((await collect(store.scan(8))).map(([key]) => key), [hex('other')])
    await store.remove(8, b('never written'))
    const r = store.update(8, k, undefined, 'a#0', w('v2'))
    assert.equal(dots(r.stored), ['a#0/2:1'], 'a new key epoch: replicas may still hold dots of a#0/0')
    assert.is(store.stats().removes, 2)
  })

  withStore('a stored value that does not decode is ERR_CORRUPTION naming partition and key; other keys keep working', async (h) => {
    const { store } = h
    const k = Buffer.from([0x00, 0xde, 0xad])
    store.update(12, b('a'), undefined, 'a#0', w('before'))
    store.update(12, b('z'), undefined, 'a#0', w('after'))
    const garbage = Buffer.from([1, 200, 3, 4, 5])
    await h.putRaw(encodeStorageKey(12, k, MAX_KEY_BYTES), garbage)
    const err = throwsCode(() => store.get(12, k), 'ERR_CORRUPTION', /partition 12, key 00dead/)
    assert.equal((err as { details?: unknown }).details, { partition: 12, key: '00dead', bytes: garbage.length })
    assert.ok(isRingkvError((err as Error).cause, 'ERR_BAD_ENVELOPE'), 'the decoder error is the cause')
    throwsCode(() => store.update(12, k, undefined, 'a#0', w('v')), 'ERR_CORRUPTION')
    throwsCode(() => store.merge(12, k, updateEnvelope(undefined, undefined, 'b#0', w('repair'))), 'ERR_CORRUPTION')
    // The scan yields what comes before the damaged key, then fails naming it.
    const seen: string[] = []
    try {
      for await (const e of store.scan(12)) seen.push(e.key.toString())
      assert.unreachable('the scan should fail at the corrupt key')
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_CORRUPTION'), String(e))
    }
    assert.equal(seen, [])
    assert.equal((await collect(store.scan(12, { start: b('a') }))).map(([key]) => key), [hex('a'), hex('z')])
    // Other keys are unharmed; the damaged one can be removed and written again.
    assert.equal(values(store.get(12, b('a'))), ['before'])
    store.update(12, b('a'), undefined, 'a#0', w('more'))
    await store.remove(12, k)
    assert.equal(values(store.update(12, k, undefined, 'a#0', w('fresh')).stored), ['fresh'])
    assert.is(store.stats().corruptions, 4)
    // An empty value and a valid envelope of a future format are corrupt too.
    await h.putRaw(encodeStorageKey(12, b('e'), MAX_KEY_BYTES), Buffer.alloc(0))
    throwsCode(() => store.get(12, b('e')), 'ERR_CORRUPTION', /truncated/)
    const future = Buffer.from(encodeEnvelope(updateEnvelope(undefined, undefined, 'a#0', w('x'))))
    future[0] = 2
    await h.putRaw(encodeStorageKey(12, b('f'), MAX_KEY_BYTES), future)
    throwsCode(() => store.get(12, b('f')), 'ERR_CORRUPTION', /format 2/)
  })

  withStore('writes are durable: durable resolves and the data survives close and reopen', async (h) => {
    const u = h.store.update(20, b('k'), undefined, 'a#0', w('v1'))
    const incoming = updateEnvelope(undefined, undefined, 'b#0', w('v2'))
    const m = h.store.merge(20, b('k'), incoming)
    const m2 = h.store.merge(21, b('j'), incoming)
    await Promise.all([u.durable, m.durable, m2.durable])
    const expected = m.stored
    const store = await h.reopen()
    same(store.get(20, b('k')), expected)
    same(store.get(21, b('j')), incoming)
    assert.equal((await collect(store.scan(20))).map(([k]) => k), [hex('k')])
  })

  withStore('a closed store refuses every operation with ERR_CLOSED', async (h) => {
    const { store } = h
    store.update(1, b('k'), undefined, 'a#0', w('v'))
    await store.close()
    throwsCode(() => store.get(1, b('k')), 'ERR_CLOSED')
    throwsCode(() => store.update(1, b('k'), undefined, 'a#0', w('v')), 'ERR_CLOSED')
    throwsCode(() => store.merge(1, b('k'), updateEnvelope(undefined, undefined, 'a#0', w('v'))), 'ERR_CLOSED')
    throwsCode(() => store.scan(1), 'ERR_CLOSED')
    await rejectsCode(store.remove(1, b('k')), 'ERR_CLOSED')
    await rejectsCode(store.close(), 'ERR_CLOSED')
    const reopened = await h.reopen()
    assert.equal(values(reopened.get(1, b('k'))), ['v'], 'what was written before close is kept')
  })

  withStore('expired siblings keep their causal context: the store returns them, and a stale replica cannot resurrect older data', async (h) => {
    const k = b('ttl')
    const v1 = h.store.update(13, k, undefined, 'a#0', w('v1', 1_000)).stored
    const stale = v1 // what a replica that missed the next write holds
    // Overwritten by a value that expired long ago (the engine's clock is well past 2_000).
    const v2 = h.store.update(13, k, contextOf(v1), 'a#0', w('v2', 1_500, 2_000))
    await v2.durable
    const store = await h.reopen()
    const kept = store.get(13, k)
    assert.ok(kept !== undefined, 'the engine did not expire the envelope')
    assert.equal(values(kept), ['v2'])
    assert.is(kept.siblings[0]!.expiresAt, 2_000)
    const r = store.merge(13, k, stale)
    assert.is(r.changed, false, 'the context covers the stale write')
    assert.equal(values(store.get(13, k)), ['v2'])
  })

  withStore('envelopes handed out are not aliased with what is stored', async ({ store }) => {
    const value = b('original')
    const r = store.update(1, b('k'), undefined, 'a#0', { value, timestamp: 1 })
    value.fill(0x21)
    assert.equal(values(store.get(1, b('k'))), ['original'], 'the caller reusing its buffer does not change the store')
    const read = store.get(1, b('k'))!
    ;(read.siblings[0]!.value as Uint8Array).fill(0x21)
    assert.equal(values(store.get(1, b('k'))), ['original'], 'writing into a read value does not change the store')
    for await (const e of store.scan(1)) (e.envelope.siblings[0]!.value as Uint8Array).fill(0x21)
    assert.equal(values(store.get(1, b('k'))), ['original'])
    await r.durable
  })

  withStore('stats count reads, writes, merges and removes', async ({ store }) => {
    const e = store.update(1, b('k'), undefined, 'a#0', w('v')).stored
    store.get(1, b('k'))
    store.get(1, b('missing'))
    store.merge(1, b('k'), e)
    store.merge(1, b('j'), e)
    await store.remove(1, b('j'))
    const s = store.stats()
    assert.equal(
      { gets: s.gets, updates: s.updates, merges: s.merges, mergesChanged: s.mergesChanged, removes: s.removes, keysWritten: s.keysWritten },
      { gets: 2, updates: 1, merges: 2, mergesChanged: 1, removes: 1, keysWritten: 2 },
    )
    assert.ok(s.bytesWritten > 0)
    s.gets = 1000
    assert.is(store.stats().gets, 2, 'stats() is a copy')
  })

  // ---- Merkle digests and garbage collection ----

  /** The digest of a partition as merkle.ts defines it, from what the store returns for its keys. */
  const expectedDigest = async (store: ReplicaStore, partition: number, segments: number): Promise<PartitionDigest> => {
    const builder = new DigestBuilder(segments)
    for await (const e of store.scan(partition)) builder.add(encodeStorageKey(partition, e.key, MAX_KEY_BYTES), encodeEnvelope(e.envelope))
    return builder.finish()
  }
  const leavesThatDiffer = (a: PartitionDigest, b: PartitionDigest): number[] =>
    a.leaves.flatMap((leaf, i) => (leaf.equals(b.leaves[i]!) ? [] : [i]))

  withStore('merkle digests a partition by content: the definition of merkle.ts, its entries and bytes', async ({ store }) => {
    const empty = await store.merkle(4, 16)
    assert.is(empty.entries, 0)
    assert.is(empty.leaves.length, 16)
    assert.ok(empty.root.equals(new DigestBuilder(16).finish().root), 'an empty partition has the empty digest')
    let bytes = 0
    for (let i = 0; i < 200; i++) {
      const key = b(`key-${i}`)
      const r = store.update(4, key, undefined, 'a#0', w(`value-${i}`.repeat(1 + (i % 4))))
      bytes += 2 + key.length + encodeEnvelope(r.stored).length
    }
    store.update(3, b('key-1'), undefined, 'a#0', w('a neighbour partition'))
    store.update(5, b('key-1'), undefined, 'a#0', w('a neighbour partition'))
    const d = await store.merkle(4, 16)
    assert.is(d.entries, 200)
    assert.is(d.bytes, bytes, 'bytes are storage keys plus encoded envelopes')
    const expected = await expectedDigest(store, 4, 16)
    assert.ok(d.root.equals(expected.root), 'root as merkle.ts defines it')
    assert.equal(d.leaves.map((l) => l.toString('hex')), expected.leaves.map((l) => l.toString('hex')))
    assert.ok(!d.root.equals((await store.merkle(4, 32)).root), 'the segment count is part of the digest')
    const last = await store.merkle(MAX_PARTITION, 8)
    assert.is(last.entries, 0, 'the last partition runs to the end of the key space')
  })

  withStore('one changed key changes exactly its leaf; merkleEntries lists that leaf with entry hashes', async ({ store }) => {
    for (let i = 0; i < 300; i++) store.update(9, b(`k${i}`), undefined, 'a#0', w(`v${i}`))
    const before = await store.merkle(9, 64)
    const changed = b('k123')
    const read = store.get(9, changed)!
    store.update(9, changed, contextOf(read), 'a#0', w('new'))
    const after = await store.merkle(9, 64)
    const leaf = segmentOf(encodeStorageKey(9, changed, MAX_KEY_BYTES), 64)
    assert.equal(leavesThatDiffer(before, after), [leaf])
    const entries = await store.merkleEntries(9, 64, [leaf])
    assert.ok(entries.some((e) => e.key.equals(changed)))
    const keys = entries.map((e) => e.key.toString())
    assert.equal(keys, [...keys].sort(), 'in key order')
    for (const e of entries) {
      assert.is(segmentOf(encodeStorageKey(9, e.key, MAX_KEY_BYTES), 64), leaf)
      assert.ok(e.hash.equals(store.entryHash(9, e.key)!), 'the same hash as entryHash')
      assert.ok(e.hash.equals(entryHash(encodeStorageKey(9, e.key, MAX_KEY_BYTES), encodeEnvelope(store.get(9, e.key)!))))
    }
    const all = await store.merkleEntries(9, 64, Array.from({ length: 64 }, (_, i) => i))
    assert.is(all.length, 300)
    assert.equal(await store.merkleEntries(9, 64, []), [])
    // A key removed behind the store's back: its leaf differs, the key is gone from the entries.
    await store.remove(9, changed)
    const removed = await store.merkle(9, 64)
    assert.equal(leavesThatDiffer(after, removed), [leaf])
    assert.ok(!(await store.merkleEntries(9, 64, [leaf])).some((e) => e.key.equals(changed)))
    assert.is(store.entryHash(9, changed), undefined)
  })

  withStore('merkle refuses bad segments and leaves with ERR_BAD_REQUEST', async ({ store }) => {
    for (const segments of [0, -1, 1.5, (1 << 20) + 1, Number.NaN]) {
      await rejectsCode(store.merkle(1, segments), 'ERR_BAD_REQUEST')
      await rejectsCode(store.merkleEntries(1, segments, [0]), 'ERR_BAD_REQUEST')
    }
    await rejectsCode(store.merkle(-1, 8), 'ERR_BAD_REQUEST')
    await rejectsCode(store.merkleEntries(1, 8, [8]), 'ERR_BAD_REQUEST')
    await rejectsCode(store.merkleEntries(1, 8, [-1]), 'ERR_BAD_REQUEST')
    await rejectsCode(store.merkleEntries(1, 8, 'all' as never), 'ERR_BAD_REQUEST')
    throwsCode(() => store.entryHash(1, 'k' as never), 'ERR_BAD_REQUEST')
  })

  withStore('collect removes an obsolete envelope whose hash is the confirmed one, and nothing else', async (h) => {
    const { store } = h
    const now = 1_800_000_000_000
    const live = store.update(6, b('live'), undefined, 'a#0', w('v')).stored
    const deleted = store.update(6, b('gone'), contextOf(store.update(6, b('gone'), undefined, 'a#0', w('v')).stored), 'a#0', w(null)).stored
    store.update(6, b('expired'), undefined, 'a#0', w('v', 1_000, 2_000))
    store.update(6, b('later'), undefined, 'a#0', w('v', 1_000, now + 1))
    await store.sync()
    const hashOf = (k: string): Buffer => store.entryHash(6, b(k))!
    assert.is(store.collect(6, b('live'), hashOf('live'), now).collected, false, 'a live value is never collected')
    assert.is(store.collect(6, b('later'), hashOf('later'), now).collected, false, 'not yet expired')
    assert.is(store.collect(6, b('gone'), hashOf('live'), now).collected, false, 'another hash: the key changed since')
    assert.is(store.collect(6, b('absent'), hashOf('live'), now).collected, false)
    const gone = store.collect(6, b('gone'), hashOf('gone'), now)
    assert.is(gone.collected, true)
    assert.is(store.collect(6, b('expired'), hashOf('expired'), now).collected, true)
    await gone.durable
    assert.is(store.get(6, b('gone')), undefined)
    assert.is(store.get(6, b('expired')), undefined)
    same(store.get(6, b('live')), live)
    assert.is(store.stats().collected, 2)
    assert.is((await store.merkle(6, 4)).entries, 2)
    assert.is((await store.merkle(0, 4)).entries, 0, 'the key epoch record is in no partition')
    assert.equal(await collect(store.scan(0)), [])
    // A write to the collected key issues its dot under a key epoch no collected context names, also after a restart.
    const reopened = await h.reopen()
    const again = reopened.update(6, b('gone'), undefined, 'a#0', w('back'))
    const dot = again.stored.siblings[0]!.dot
    assert.ok(dot.actor.startsWith('a#0/') && !deleted.context.has(dot.actor), `actor ${dot.actor}`)
    const merged = mergeEnvelopes(deleted, again.stored)
    assert.equal(values(merged).filter((v) => v !== null), ['back'], 'a replica still holding the tombstone keeps the new write')
    await again.durable
  })

  // ---- key epochs (key-epochs.ts): a store that lost a key never reissues a dot ----

  withStore('a key lost here takes a new key epoch: a replica holding the old writes keeps the new one', async ({ store }) => {
    const k = b('lost')
    const w1 = store.update(14, k, undefined, 'a#0', w('v1')).stored
    const w2 = store.update(14, k, contextOf(w1), 'a#0', w('v2')).stored
    assert.equal(dots(w2), ['a#0/0:2'])
    const replica = w2 // what another replica holds
    await store.remove(14, k) // lost here (an operator, a disk), while writes go on
    const w3 = store.update(14, k, undefined, 'a#0', w('v3')).stored
    assert.ok(!replica.context.has(w3.siblings[0]!.dot.actor), `a new actor: ${dots(w3).join(' ')}`)
    assert.equal(values(mergeEnvelopes(replica, w3)), ['v2', 'v3'], 'concurrent: both kept')
    const w4 = store.update(14, k, contextOf(mergeEnvelopes(replica, w3)), 'a#0', w('v4')).stored
    assert.equal(w4.siblings.map((s) => s.dot.actor), [w3.siblings[0]!.dot.actor], 'and kept for the following writes')
    await store.sync()
  })

  withStore("a merge that brings the store's own dots it lacks retires the key's actor", async ({ store }) => {
    const k = b('stale')
    const w1 = store.update(15, k, undefined, 'a#0', w('v1')).stored
    const w2 = store.update(15, k, contextOf(w1), 'a#0', w('v2')).stored
    await store.remove(15, k)
    // A replica that missed v2 gives its copy back (repair, anti-entropy): the store now holds a#0/0 up to 1 only.
    store.merge(15, k, w1)
    const w3 = store.update(15, k, undefined, 'a#0', w('v3')).stored
    const actor = w3.siblings.find((s) => text(s.value) === 'v3')!.dot.actor
    assert.ok(actor !== 'a#0/0' && actor.startsWith('a#0/'), `a new actor, not a#0/0 again: ${dots(w3).join(' ')}`)
    assert.ok(values(mergeEnvelopes(w2, w3)).includes('v3'), 'the replica holding a#0/0:2 keeps v3')
    // Merges of what the store already has do not retire anything.
    const before = store.update(15, b('steady'), undefined, 'a#0', w('s1')).stored
    store.merge(15, b('steady'), before)
    store.merge(15, b('steady'), updateEnvelope(before, contextOf(before), 'b#0', w('s2')))
    const after = store.update(15, b('steady'), undefined, 'a#0', w('s3')).stored
    assert.ok(after.siblings.every((s) => s.dot.actor === 'b#0' || s.dot.actor === before.siblings[0]!.dot.actor), dots(after).join(' '))
    await store.sync()
  })

  withStore('key epochs survive a restart: kept keys keep their actor, new keys get epochs never issued', async (h) => {
    const first = h.store.update(16, b('k1'), undefined, 'a#0', w('v')).stored.siblings[0]!.dot.actor
    const second = h.store.update(16, b('k2'), undefined, 'a#0', w('v')).stored.siblings[0]!.dot.actor
    await h.store.sync()
    const store = await h.reopen()
    const kept = store.update(16, b('k1'), undefined, 'a#0', w('again')).stored
    assert.equal(dots(kept), [`${first}:1`, `${first}:2`])
    const third = store.update(16, b('k3'), undefined, 'a#0', w('v')).stored.siblings[0]!.dot.actor
    const epoch = (a: string): number => parseInt(a.slice(a.indexOf('/') + 1), 36)
    assert.ok(epoch(third) > epoch(second), `${third} after ${second}`)
    await store.sync()
  })

  withStore('an issuer that is empty or has a "/" is refused with ERR_BAD_ENVELOPE', async ({ store }) => {
    throwsCode(() => store.update(1, b('k'), undefined, 'a/b', w('v')), 'ERR_BAD_ENVELOPE', /issuer/)
    throwsCode(() => store.update(1, b('k'), undefined, 5 as never, w('v')), 'ERR_BAD_ENVELOPE', /issuer/)
    assert.is(store.get(1, b('k')), undefined)
  })

  withStore('collect refuses bad input with ERR_BAD_REQUEST', async ({ store }) => {
    store.update(1, b('k'), undefined, 'a#0', w(null))
    throwsCode(() => store.collect(1, b('k'), Buffer.alloc(31), 1), 'ERR_BAD_REQUEST', /32 bytes/)
    throwsCode(() => store.collect(1, b('k'), store.entryHash(1, b('k'))!, -1), 'ERR_BAD_REQUEST', /now/)
    throwsCode(() => store.collect(70000, b('k'), Buffer.alloc(32), 1), 'ERR_BAD_REQUEST')
  })

  test.run()
}
