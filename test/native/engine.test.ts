import { existsSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Engine, RingkvError, ringPositions, sha256 } from '../../src/index.ts'
import { contextBytes, decodeEnvelope, encodeContext, encodeEnvelope, updateEnvelope } from '../../src/versioning/index.ts'
import { rejectsWithCode, tempDir } from './helpers.ts'

const b = (s: string) => Buffer.from(s)

test('put, get, delete and getMany round-trip binary keys and values', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  try {
    const key = Buffer.from([0, 255, 1, 0])
    await db.put(key, Buffer.from([9, 8, 7]))
    assert.equal(db.get(key), Buffer.from([9, 8, 7]))
    await db.put('text', 'ünïcode')
    assert.is(db.get('text')?.toString(), 'ünïcode')
    assert.is(db.get('missing'), undefined)
    assert.equal(
      db.getMany([key, 'missing', 'text']).map((v) => v?.toString('hex')),
      ['090807', undefined, Buffer.from('ünïcode').toString('hex')],
    )
    await db.delete(key)
    assert.is(db.get(key), undefined)
    await db.put(b('empty'), Buffer.alloc(0))
    assert.equal(db.get('empty'), Buffer.alloc(0))
  } finally {
    await db.close()
    remove()
  }
})

test('get returns a fresh Buffer per call, for values of any size', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir, { maxValueBytes: 20 * 1024 * 1024 })
  try {
    const sizes = [0, 1, 16, 1024, 4095, 4096, 64 * 1024, 64 * 1024 + 1, 300 * 1024, 17 * 1024 * 1024]
    const values = sizes.map((n, i) => Buffer.alloc(n, i + 1))
    await db.writeBatch(sizes.map((n, i) => ({ type: 'put' as const, key: `v${n}`, value: values[i]! })))
    for (const round of [0, 1]) {
      const got = sizes.map((n) => db.get(`v${n}`))
      got.forEach((v, i) => assert.ok(v !== undefined && Buffer.isBuffer(v) && v.equals(values[i]!), `size ${sizes[i]}, round ${round}`))
      // Later reads never change an earlier result, and changing a result changes nothing stored.
      got[3]!.fill(0)
      assert.ok(got[2]!.equals(values[2]!))
      assert.ok(db.get('v1024')!.equals(values[3]!))
      if (round === 0) await db.flush()
    }
    assert.is(db.get('nope'), undefined)
  } finally {
    await db.close()
    remove()
  }
})

test('a write is visible before its promise resolves', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  const p = db.put('k', 'v')
  assert.is(db.get('k')?.toString(), 'v')
  await p
  await db.close()
  remove()
})

for (const durability of ['sync', 'interval', 'none'] as const) {
  test(`durability '${durability}': 64 concurrent writers resolve and survive reopen`, async () => {
    const { dir, remove } = tempDir()
    let db = await Engine.open(dir, { durability })
    assert.is(db.durability, durability)
    const before = db.stats().walFsyncs
    await Promise.all(Array.from({ length: 64 }, (_, i) => db.put(`k${i}`, `v${i}`)))
    if (durability === 'sync') {
      const fsyncs = db.stats().walFsyncs - before
      assert.ok(fsyncs <= 4, `64 writes of one turn took ${fsyncs} fsyncs`)
    }
    await db.close()
    db = await Engine.open(dir)
    for (let i = 0; i < 64; i++) assert.is(db.get(`k${i}`)?.toString(), `v${i}`)
    await db.close()
    remove()
  })
}

test("sync() fsyncs the log whatever the durability mode", async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir, { durability: 'none', syncIntervalMs: 60_000 })
  await db.put('k', 'v')
  const before = db.stats().walFsyncs
  await db.sync()
  assert.ok(db.stats().walFsyncs > before, 'sync() performed an fsync')
  await db.close()
  remove()
})

test('writeBatch is atomic and validates every op', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  await db.put('gone', 'x')
  await db.writeBatch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'b', value: '2', ttlMs: 60_000 },
    { type: 'delete', key: 'gone' },
  ])
  assert.equal([db.get('a')?.toString(), db.get('b')?.toString(), db.get('gone')], ['1', '2', undefined])
  const err = await rejectsWithCode(
    db.writeBatch([{ type: 'put', key: 'c', value: '3' }, { type: 'nope', key: 'd' } as never]),
    'ERR_INVALID_ARGUMENT',
  )
  assert.match(err.message, /ops\[1\]\.type/)
  assert.is(db.get('c'), undefined, 'a refused batch writes nothing')
  await db.close()
  remove()
})

test('scan: order, start/end, prefix, limit and a snapshot', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir, { memtableBytes: 64 * 1024 })
  for (let i = 0; i < 1000; i++) await db.put(`user:${String(i).padStart(4, '0')}`, `v${i}`)
  await db.put('other', 'x')
  await db.flush()
  const keys = async (o: Parameters<Engine['scan']>[0]) => {
    const out: string[] = []
    for await (const { key } of db.scan(o)) out.push(key.toString())
    return out
  }
  const all = await keys({})
  assert.is(all.length, 1001)
  assert.equal(all, [...all].sort())
  assert.equal(await keys({ prefix: 'user:000', batchSize: 3 }), Array.from({ length: 10 }, (_, i) => `user:000${i}`))
  assert.equal(await keys({ start: 'user:0998', end: 'user:1' }), ['user:0998', 'user:0999'])
  assert.equal(await keys({ start: 'user:0500', limit: 2 }), ['user:0500', 'user:0501'])
  // The snapshot is taken when the scan starts: later writes do not show.
  const it = db.scan({ prefix: 'user:', batchSize: 10 })
  const first = await it.next()
  assert.is(first.value?.key.toString(), 'user:0000')
  await db.delete('user:0500')
  await db.put('user:0501', 'changed')
  let count = 1
  let seen501 = ''
  for await (const { key, value } of it) {
    count++
    if (key.toString() === 'user:0501') seen501 = value.toString()
  }
  assert.is(count, 1000)
  assert.is(seen501, 'v501')
  await rejectsWithCode(() => keys({ prefix: 'a', start: 'b' }), 'ERR_INVALID_ARGUMENT')
  await db.close()
  remove()
})

test('TTL: expired values are never returned, scanned or counted', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  await db.put('short', 'x', { ttlMs: 50 })
  await db.put('past', 'x', { expiresAt: Date.now() - 1 })
  await db.put('long', 'y', { ttlMs: 60_000 })
  assert.is(db.get('short')?.toString(), 'x')
  assert.is(db.get('past'), undefined)
  await new Promise((r) => setTimeout(r, 80))
  assert.is(db.get('short'), undefined)
  await db.flush()
  await db.compact()
  const keys: string[] = []
  for await (const { key } of db.scan()) keys.push(key.toString())
  assert.equal(keys, ['long'])
  await rejectsWithCode(db.put('k', 'v', { ttlMs: -5 }), 'ERR_INVALID_ARGUMENT')
  await rejectsWithCode(db.put('k', 'v', { ttlMs: 5, expiresAt: 5 }), 'ERR_INVALID_ARGUMENT')
  await db.close()
  remove()
})

test('limits: oversized keys and values get their own codes and write nothing', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir, { maxValueBytes: 1024 })
  const e1 = await rejectsWithCode(db.put(Buffer.alloc(64 * 1024 + 1), 'v'), 'ERR_KEY_TOO_LARGE')
  assert.match(e1.message, /65537 bytes exceeds the maximum of 65536/)
  assert.instance(e1, RingkvError)
  await rejectsWithCode(db.put('k', Buffer.alloc(1025)), 'ERR_VALUE_TOO_LARGE')
  assert.is(db.get('k'), undefined)
  await db.put('k', Buffer.alloc(1024))
  await db.close()
  remove()
})

test('bad arguments are clear errors, never crashes', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  const bad: unknown[] = [undefined, null, 42, {}, [1, 2], Symbol('x')]
  for (const v of bad) {
    await rejectsWithCode(() => db.get(v as never), 'ERR_INVALID_ARGUMENT')
    await rejectsWithCode(db.put(v as never, 'x'), 'ERR_INVALID_ARGUMENT')
    await rejectsWithCode(db.put('x', v as never), 'ERR_INVALID_ARGUMENT')
  }
  await rejectsWithCode(() => db.getMany('nope' as never), 'ERR_INVALID_ARGUMENT')
  await rejectsWithCode(db.writeBatch(null as never), 'ERR_INVALID_ARGUMENT')
  await rejectsWithCode(Engine.open(dir + '/x', { durability: 'fast' as never }), 'ERR_INVALID_ARGUMENT')
  const e = await rejectsWithCode(Engine.open(dir + '/y', { memtableBytes: 5 }), 'ERR_INVALID_ARGUMENT')
  assert.match(e.message, /memtableBytes/)
  await rejectsWithCode(Engine.open(''), 'ERR_INVALID_ARGUMENT')
  await rejectsWithCode(() => db.merkle({ segments: 0 }), 'ERR_INVALID_ARGUMENT')
  await db.close()
  remove()
})

test('open refuses misspelt, mistyped and truncating options, naming them; nothing is created', async () => {
  const { dir, remove } = tempDir()
  const cases: [unknown, RegExp][] = [
    [{ memtableByte: 1 << 20 }, /^memtableByte is not an option \(known: durability, syncIntervalMs, memtableBytes,/],
    [{ hugePages: 'off' }, /hugePages must be a boolean, got 'off'/],
    [{ durability: 5 }, /durability must be a string, got 5/],
    [{ memtableBytes: '64MiB' }, /memtableBytes must be a non-negative integer, got '64MiB'/],
    [{ syncIntervalMs: 2.5 }, /syncIntervalMs must be a non-negative integer .*got 2\.5/],
    [{ maxLevels: -1 }, /maxLevels must be a non-negative integer .*got -1/],
    // The binding reads counts as 32-bit: 2^32 + 5 would have become 5.
    [{ syncIntervalMs: 2 ** 32 + 5 }, /syncIntervalMs must be a non-negative integer up to 4294967295/],
    [null, /options must be an object, got null/],
    ['sync', /options must be an object, got string/],
  ]
  for (const [options, message] of cases) {
    const e = await rejectsWithCode(Engine.open(`${dir}/async`, options as never), 'ERR_INVALID_ARGUMENT')
    assert.match(e.message, message)
    const s = await rejectsWithCode(() => Engine.openSync(`${dir}/sync`, options as never), 'ERR_INVALID_ARGUMENT')
    assert.match(s.message, message)
  }
  assert.not.ok(existsSync(`${dir}/async`) || existsSync(`${dir}/sync`), 'a refused open creates no directory')
  // Options left undefined are defaults, as if absent.
  const db = await Engine.open(`${dir}/ok`, { hugePages: false, cacheBytes: undefined })
  await db.put('k', 'v')
  assert.is(db.get('k')?.toString(), 'v')
  await db.close()
  remove()
})

test('use after close and double close are ERR_CLOSED', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  await db.put('k', 'v')
  const it = db.scan()
  await db.close()
  await rejectsWithCode(() => db.get('k'), 'ERR_CLOSED')
  await rejectsWithCode(db.put('k', 'v'), 'ERR_CLOSED')
  await rejectsWithCode(() => db.stats(), 'ERR_CLOSED')
  await rejectsWithCode(db.flush(), 'ERR_CLOSED')
  await rejectsWithCode(() => it.next(), 'ERR_CLOSED')
  await rejectsWithCode(db.close(), 'ERR_CLOSED')
  // And the directory can be opened again.
  const again = await Engine.open(dir)
  assert.is(again.get('k')?.toString(), 'v')
  await again.close()
  remove()
})

test('mergeEnvelope decides a replica merge in the engine when it can, and writes nothing when it cannot', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  try {
    const k = b('k')
    const noPrefix = new Uint8Array(0)
    const first = encodeEnvelope(updateEnvelope(undefined, undefined, 'n2#0/0', { value: b('v1'), timestamp: 1 }))
    const stored = db.mergeEnvelope(k, first, noPrefix)
    assert.instance(stored, Promise, 'into an absent key: written')
    await stored
    assert.equal(db.get(k), Buffer.from(first))
    assert.is(db.mergeEnvelope(k, first, noPrefix), 'unchanged')
    // Concurrent with what is stored: the caller's general merge.
    const other = encodeEnvelope(updateEnvelope(undefined, undefined, 'n3#0/0', { value: b('v2'), timestamp: 2 }))
    assert.is(db.mergeEnvelope(k, other, noPrefix), 'undecided')
    assert.is(db.mergeEnvelope(k, Buffer.from([1, 2, 3]), noPrefix), 'undecided', 'bytes that do not parse')
    // Dots of this store's own actors beyond the stored ones: key-epochs.ts must see them.
    assert.is(db.mergeEnvelope(b('k2'), first, Buffer.from('n2#0/')), 'undecided')
    assert.equal(db.get(k), Buffer.from(first), 'nothing undecided was written')
    assert.is(db.get(b('k2')), undefined)
    assert.throws(() => db.mergeEnvelope(k, 'x' as never, noPrefix), (e: unknown) => e instanceof RingkvError && e.code === 'ERR_INVALID_ARGUMENT')
    await db.close()
    assert.throws(() => db.mergeEnvelope(k, first, noPrefix), (e: unknown) => e instanceof RingkvError && e.code === 'ERR_CLOSED')
  } finally {
    if (!db.closed) await db.close()
    remove()
  }
})

test('updateEnvelope makes a coordinator write in the engine, or leaves it to the caller with nothing written', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir)
  try {
    const k = b('k')
    const base = {
      context: undefined,
      ownActorPrefix: b('n1#0/'),
      reuseFrom: 0,
      nextEpoch: 5,
      mayTakeNext: true,
      value: b('v1') as Uint8Array | null,
      timestamp: 10,
      expiresAt: 0,
      maxSiblings: 4,
      maxObjectBytes: 1 << 20,
    }
    const first = db.updateEnvelope(k, base)!
    assert.ok(first !== undefined)
    await first.durable
    assert.equal([first.siblings, first.epoch, first.fresh], [1, 5, true])
    assert.equal(db.get(k), first.bytes)
    assert.equal(first.bytes, Buffer.from(encodeEnvelope(updateEnvelope(undefined, undefined, 'n1#0/5', { value: b('v1'), timestamp: 10 }))))
    // With the context the client read: supersedes, keeps the key's epoch.
    const context = contextBytes(encodeContext(decodeEnvelope(first.bytes).context))
    const second = db.updateEnvelope(k, { ...base, context, value: null, timestamp: 11 })!
    assert.equal([second.siblings, second.epoch, second.fresh], [1, 5, false])
    const expected = updateEnvelope(decodeEnvelope(first.bytes), decodeEnvelope(first.bytes).context, 'n1#0/5', { value: null, timestamp: 11 })
    assert.equal(second.bytes, Buffer.from(encodeEnvelope(expected)))
    // Larger than the copy-out buffer: grown, and one write made.
    const big = db.updateEnvelope(b('big'), { ...base, value: Buffer.alloc(300_000, 7) })!
    assert.equal(db.get(b('big')), big.bytes)
    assert.is(decodeEnvelope(big.bytes).siblings.length, 1)
    // Left to the caller, nothing written: a new epoch beyond the lease, too many siblings, a context that does not parse.
    assert.is(db.updateEnvelope(b('k2'), { ...base, mayTakeNext: false }), undefined)
    assert.is(db.updateEnvelope(k, { ...base, maxSiblings: 1 }), undefined)
    assert.is(db.updateEnvelope(k, { ...base, context: Buffer.from([1, 1, 1]) }), undefined)
    assert.is(db.get(b('k2')), undefined)
    assert.equal(db.get(k), second.bytes)
    await db.close()
    assert.throws(() => db.updateEnvelope(k, base), (e: unknown) => e instanceof RingkvError && e.code === 'ERR_CLOSED')
  } finally {
    if (!db.closed) await db.close()
    remove()
  }
})

test('merkle: equal content gives equal digests; a change touches one leaf', async () => {
  const a = tempDir()
  const c = tempDir()
  const x = await Engine.open(a.dir)
  const y = await Engine.open(c.dir)
  for (let i = 0; i < 500; i++) await x.put(`k${i}`, `v${i}`)
  for (let i = 499; i >= 0; i--) await y.put(`k${i}`, `v${i}`)
  await y.flush()
  const [mx, my] = await Promise.all([x.merkle({ segments: 32 }), y.merkle({ segments: 32 })])
  assert.equal(mx.root, my.root)
  assert.is(mx.entries, 500)
  assert.is(mx.leaves.length, 32)
  await y.put('k42', 'changed')
  const my2 = await y.merkle({ segments: 32 })
  const differing = mx.leaves.map((l, i) => (l.equals(my2.leaves[i]!) ? -1 : i)).filter((i) => i >= 0)
  assert.is(differing.length, 1)
  const entries = await y.merkleEntries({ segments: 32 }, differing)
  assert.ok(entries.some((e) => e.key.toString() === 'k42'))
  assert.ok(entries.every((e) => e.hash.length === 32))
  await x.close()
  await y.close()
  a.remove()
  c.remove()
})

test('ring positions are the first 8 bytes of SHA-256, batched', () => {
  const keys = ['', 'a', Buffer.from([1, 2, 3])]
  const positions = ringPositions(keys)
  assert.is(positions.length, 3)
  assert.is(positions[0], 0xe3b0c44298fc1c14n)
  for (let i = 0; i < keys.length; i++) {
    const digest = sha256(keys[i]!)
    assert.is(positions[i], digest.readBigUInt64BE(0))
  }
})

test('stats report levels, memtable, cache and disk usage', async () => {
  const { dir, remove } = tempDir()
  const db = await Engine.open(dir, { memtableBytes: 64 * 1024 })
  for (let i = 0; i < 2000; i++) await db.put(`k${i}`, Buffer.alloc(100, i))
  await db.flush()
  for (let i = 0; i < 100; i++) db.get('k7')
  const s = db.stats()
  assert.ok(s.flushes >= 1)
  assert.ok(s.levels.reduce((n, l) => n + l.tables, 0) >= 1)
  assert.ok(s.diskBytes > 200_000)
  assert.ok(s.cacheHits >= 90, `cache hits ${s.cacheHits}`)
  assert.is(s.writes, 2000)
  await db.close()
  remove()
})

test.run()
