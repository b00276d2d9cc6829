// The pure parts of anti-entropy: the tree over a partition's leaves, the comparison core, the garbage
// collection rule, the throttle (in virtual time), the message codecs (round trips, and malformed payloads
// refused with ERR_BAD_REQUEST / ERR_BAD_REPLY), and the node options that configure it.
import { createHash } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError } from '../../../src/errors.ts'
import { resolveNodeOptions } from '../../../src/node/options.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { buildTree, childRange, FANOUT, levelSizes } from '../../../src/node/anti-entropy/tree.ts'
import { diffEntries, differingIndexes } from '../../../src/node/anti-entropy/compare.ts'
import { collectible, obsoleteSince } from '../../../src/node/anti-entropy/gc-rule.ts'
import { Throttle } from '../../../src/node/anti-entropy/throttle.ts'
import {
  DIGEST_BYTES,
  ENTRIES_BY_KEYS,
  ENTRIES_BY_LEAVES,
  decodeEntriesRequest,
  decodeKeyHashesReply,
  decodeLeafEntriesReply,
  decodeRepairRequest,
  decodeSyncReply,
  decodeSyncRequest,
  decodeTreeReply,
  decodeTreeRequest,
  encodeEntriesRequest,
  encodeKeyHashesReply,
  encodeLeafEntriesReply,
  encodeRepairRequest,
  encodeSyncReply,
  encodeSyncRequest,
  encodeTreeReply,
  encodeTreeRequest,
} from '../../../src/node/anti-entropy/codec.ts'
import type { Envelope } from '../../../src/versioning/index.ts'

const h = (s: string): Buffer => createHash('sha256').update(s).digest()
const b = (s: string): Buffer => Buffer.from(s)

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    if (isRingkvError(e)) return e.code
    throw e
  }
  return undefined
}

test('tree: levels of fanout 32 over the leaves, root first; one changed leaf changes one node per level', () => {
  assert.equal(levelSizes(1024), [1, 32, 1024])
  assert.equal(levelSizes(1), [1])
  assert.equal(levelSizes(33), [1, 2, 33])
  assert.equal(levelSizes(2000), [1, 2, 63, 2000])
  const leaves = Array.from({ length: 1024 }, (_, i) => h(`leaf ${i}`))
  const t = buildTree(leaves)
  assert.equal(t.levels.map((l) => l.length), [1, 32, 1024])
  const first = createHash('sha256')
  for (const l of leaves.slice(0, FANOUT)) first.update(l)
  assert.ok(t.levels[1]![0]!.equals(first.digest()))
  assert.equal(childRange(levelSizes(1024), 0, 0), [0, 32])
  assert.equal(childRange(levelSizes(1024), 1, 31), [992, 1024])
  assert.equal(childRange(levelSizes(33), 1, 1), [32, 33])
  const changed = [...leaves]
  changed[700] = h('other')
  const u = buildTree(changed)
  assert.equal(differingIndexes(t.levels[0]!, u.levels[0]!), [0])
  assert.equal(differingIndexes(t.levels[1]!, u.levels[1]!), [Math.floor(700 / FANOUT)])
  assert.equal(differingIndexes(t.levels[2]!, u.levels[2]!), [700])
  assert.ok(buildTree([h('x')]).levels[0]![0]!.equals(h('x')), 'a tree of one leaf is that leaf')
})

test('compare: differing indexes need lists of one length; the entry diff splits keys into push, pull and both', () => {
  assert.is(code(() => differingIndexes([h('a')], [h('a'), h('b')])), 'ERR_BAD_REPLY')
  const mine = [
    { key: b('a'), hash: h('1') },
    { key: b('c'), hash: h('3') },
    { key: b('d'), hash: h('4') },
  ]
  const theirs = [
    { key: b('d'), hash: h('other') },
    { key: b('b'), hash: h('2') },
    { key: b('c'), hash: h('3') },
  ]
  const d = diffEntries(mine, theirs)
  assert.equal(
    { compared: d.compared, onlyMine: d.onlyMine.map(String), onlyTheirs: d.onlyTheirs.map(String), differing: d.differing.map(String) },
    { compared: 4, onlyMine: ['a'], onlyTheirs: ['b'], differing: ['d'] },
    'unsorted input is sorted first',
  )
  // Against a model over maps: every key lands in exactly the list its presence and hashes say.
  const side = fc.uniqueArray(fc.tuple(fc.uint8Array({ maxLength: 3 }), fc.nat(2)), { selector: ([k]) => Buffer.from(k).toString('hex') })
  fc.assert(
    fc.property(side, side, (x, y) => {
      const list = (s: typeof x) => s.map(([k, v]) => ({ key: Buffer.from(k), hash: h(String(v)) }))
      const mx = new Map(x.map(([k, v]) => [Buffer.from(k).toString('hex'), v]))
      const my = new Map(y.map(([k, v]) => [Buffer.from(k).toString('hex'), v]))
      const keys = new Set([...mx.keys(), ...my.keys()])
      const r = diffEntries(list(x), list(y))
      const hex = (l: Buffer[]) => l.map((k) => k.toString('hex')).sort()
      assert.is(r.compared, keys.size)
      assert.equal(hex(r.onlyMine), [...keys].filter((k) => !my.has(k)).sort())
      assert.equal(hex(r.onlyTheirs), [...keys].filter((k) => !mx.has(k)).sort())
      assert.equal(hex(r.differing), [...keys].filter((k) => mx.has(k) && my.has(k) && mx.get(k) !== my.get(k)).sort())
    }),
  )
})

test('gc rule: obsolete since the newest tombstone or last expiry, collectible after the grace period', () => {
  const tomb = (timestamp: number) => ({ dot: { actor: 'a#1', counter: 1 }, value: null, timestamp, expiresAt: 0 })
  const value = (timestamp: number, expiresAt: number, counter = 2) => ({ dot: { actor: 'a#1', counter }, value: b('v'), timestamp, expiresAt })
  const env = (...siblings: Envelope['siblings'][number][]): Envelope => ({ context: new Map([['a#1', 5]]), siblings })
  assert.is(obsoleteSince(env(tomb(100))), 100)
  assert.is(obsoleteSince(env(tomb(100), value(50, 300))), 300)
  assert.ok(collectible(env(tomb(100)), 1100, 1000))
  assert.not.ok(collectible(env(tomb(100)), 1099, 1000), 'within the grace period')
  assert.not.ok(collectible(env(tomb(100), value(50, 0)), 10_000, 1000), 'a live sibling: never')
  assert.not.ok(collectible(env(value(50, 2000)), 2500, 1000), 'expired, but only 500 ms ago')
  assert.ok(collectible(env(value(50, 2000)), 3000, 1000))
  assert.ok(collectible(env(), 0, 0), 'an envelope with nothing left in it')
})

test('throttle: partitions and bytes per second, in virtual time', async () => {
  const clock = new VirtualClock({ autoAdvance: true })
  const t = new Throttle(clock, { maxPartitionsPerSecond: 10, maxBytesPerSecond: 1000 })
  const start = clock.monotonic()
  for (let i = 0; i < 21; i++) await t.partition()
  assert.ok(Math.abs(clock.monotonic() - start - 2000) < 1, `21 partitions at 10/s: ${clock.monotonic() - start} ms`)
  const bytesStart = clock.monotonic()
  for (let i = 0; i < 10; i++) await t.bytes(500)
  assert.ok(clock.monotonic() - bytesStart >= 4990, `5000 bytes at 1000/s: ${clock.monotonic() - bytesStart} ms`)
  const free = new Throttle(clock, { maxPartitionsPerSecond: Infinity, maxBytesPerSecond: Infinity })
  const freeStart = clock.monotonic()
  for (let i = 0; i < 100; i++) {
    await free.partition()
    await free.bytes(1 << 20)
  }
  assert.is(clock.monotonic(), freeStart, 'no limit, no wait')
})

test('codec: every message round-trips; digests are 16 bytes on the wire, confirmation hashes 32', () => {
  const tree = { partition: 9, segments: 1024, depth: 2, parents: [0, 5, 31] }
  assert.equal(decodeTreeRequest(encodeTreeRequest(tree)), tree)
  const reply = decodeTreeReply(encodeTreeReply({ entries: 7, bytes: 1234, hashes: [h('a'), h('b')] }))
  assert.equal([reply.entries, reply.bytes], [7, 1234])
  assert.ok(reply.hashes[1]!.equals(h('b').subarray(0, DIGEST_BYTES)))
  const byLeaves = { partition: 3, mode: ENTRIES_BY_LEAVES as typeof ENTRIES_BY_LEAVES, segments: 64, leaves: [0, 63] }
  assert.equal(decodeEntriesRequest(encodeEntriesRequest(byLeaves)), byLeaves)
  const byKeys = decodeEntriesRequest(encodeEntriesRequest({ partition: 3, mode: ENTRIES_BY_KEYS, keys: [b('x'), b('')] }))
  assert.equal(byKeys.mode === ENTRIES_BY_KEYS ? byKeys.keys.map(String) : [], ['x', ''])
  const entries = decodeLeafEntriesReply(encodeLeafEntriesReply([{ key: b('k'), hash: h('k') }]))
  assert.ok(entries[0]!.key.equals(b('k')) && entries[0]!.hash.equals(h('k').subarray(0, DIGEST_BYTES)))
  const hashes = decodeKeyHashesReply(encodeKeyHashesReply([h('1'), undefined]), 2)
  assert.ok(hashes[0]!.equals(h('1')))
  assert.is(hashes[1], undefined)
  const sync = decodeSyncRequest(encodeSyncRequest({ partition: 1, push: [{ key: b('k'), envelope: b('env') }], want: [b('k'), b('j')] }))
  assert.equal([sync.partition, sync.push[0]!.key.toString(), sync.push[0]!.envelope.toString(), sync.want.map(String)], [1, 'k', 'env', ['k', 'j']])
  const syncReply = decodeSyncReply(encodeSyncReply({ changed: 3, entries: [{ key: b('j'), envelope: b('e') }] }))
  assert.equal([syncReply.changed, syncReply.entries[0]!.key.toString()], [3, 'j'])
  assert.equal(decodeRepairRequest(encodeRepairRequest([1, 2])), [1, 2])
  assert.is(decodeRepairRequest(encodeRepairRequest(undefined)), undefined)
  assert.is(code(() => encodeRepairRequest([70000])), 'ERR_BAD_REQUEST')
})

test('codec: malformed payloads are ERR_BAD_REQUEST (requests) and ERR_BAD_REPLY (replies), naming the problem', () => {
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    ['empty tree request', () => decodeTreeRequest(Buffer.alloc(0)), 'ERR_BAD_REQUEST', /partition/],
    ['zero segments', () => decodeTreeRequest(encodeTreeRequest({ partition: 1, segments: 0, depth: 0, parents: [] })), 'ERR_BAD_REQUEST', /segments/],
    ['too deep', () => decodeTreeRequest(encodeTreeRequest({ partition: 1, segments: 8, depth: 99, parents: [1] })), 'ERR_BAD_REQUEST', /depth/],
    ['root with parents', () => decodeTreeRequest(encodeTreeRequest({ partition: 1, segments: 8, depth: 0, parents: [1] })), 'ERR_BAD_REQUEST', /root/],
    ['trailing bytes', () => decodeTreeRequest(Buffer.concat([encodeTreeRequest({ partition: 1, segments: 8, depth: 0, parents: [] }), Buffer.from([0])])), 'ERR_BAD_REQUEST', /trailing/],
    ['leaf past segments', () => decodeEntriesRequest(encodeEntriesRequest({ partition: 1, mode: ENTRIES_BY_LEAVES, segments: 8, leaves: [8] })), 'ERR_BAD_REQUEST', /leaf 8/],
    ['unknown mode', () => decodeEntriesRequest(Buffer.from([0, 1, 7])), 'ERR_BAD_REQUEST', /mode 7/],
    ['huge key count', () => decodeEntriesRequest(Buffer.from([0, 1, 1, 0xff, 0xff, 0xff, 0xff])), 'ERR_BAD_REQUEST', /keys/],
    ['truncated sync', () => decodeSyncRequest(encodeSyncRequest({ partition: 1, push: [{ key: b('k'), envelope: b('e') }], want: [] }).subarray(0, 9)), 'ERR_BAD_REQUEST', /past the end/],
    ['truncated tree reply', () => decodeTreeReply(encodeTreeReply({ entries: 1, bytes: 1, hashes: [h('a')] }).subarray(0, 30)), 'ERR_BAD_REPLY', /past the end/],
    ['wrong hash count', () => decodeKeyHashesReply(encodeKeyHashesReply([h('a')]), 2), 'ERR_BAD_REPLY', /1 hashes for 2 keys/],
    ['bad present flag', () => decodeKeyHashesReply(Buffer.from([0, 0, 0, 1, 2]), 1), 'ERR_BAD_REPLY', /present/],
    ['truncated repair', () => decodeRepairRequest(Buffer.from([0, 0, 0, 2, 0, 1])), 'ERR_BAD_REQUEST', /past the end/],
  ]
  for (const [name, fn, expected, message] of cases) {
    try {
      fn()
      assert.unreachable(`${name}: accepted`)
    } catch (e) {
      assert.ok(isRingkvError(e, expected), `${name}: ${String(e)}`)
      assert.match((e as Error).message, message, name)
    }
  }
  // Random bytes never crash a decoder with anything but a RingkvError.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const decode of [decodeTreeRequest, decodeEntriesRequest, decodeSyncRequest, decodeRepairRequest, decodeTreeReply, decodeLeafEntriesReply, decodeSyncReply]) {
        try {
          decode(Buffer.from(bytes))
        } catch (e) {
          assert.ok(isRingkvError(e), `${decode.name}: ${String(e)}`)
        }
      }
    }),
  )
})

test('node options: anti-entropy defaults, and bad values refused by name', () => {
  const o = resolveNodeOptions({ id: 'a', listen: '127.0.0.1:1' })
  assert.equal(
    [o.antiEntropyIntervalMs, o.tombstoneGraceMs, o.antiEntropyMaxPartitionsPerSecond, o.antiEntropyMaxBytesPerSecond],
    [600_000, 10 * 24 * 3600_000, 100, 16 * 1024 * 1024],
  )
  assert.is(resolveNodeOptions({ id: 'a', listen: '127.0.0.1:1', antiEntropyIntervalMs: 0 }).antiEntropyIntervalMs, 0, '0: no background rounds')
  for (const [name, value] of [
    ['antiEntropyIntervalMs', -1],
    ['antiEntropyIntervalMs', 1.5],
    ['tombstoneGraceMs', -5],
    ['tombstoneGraceMs', 'ten days'],
    ['antiEntropyMaxPartitionsPerSecond', 0],
    ['antiEntropyMaxBytesPerSecond', 10],
    ['store', { get: () => undefined }],
  ] as const) {
    try {
      resolveNodeOptions({ id: 'a', listen: '127.0.0.1:1', [name]: value } as never)
      assert.unreachable(`${name}=${String(value)} accepted`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
      assert.match((e as Error).message, name)
    }
  }
})

test.run()
