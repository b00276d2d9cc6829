import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { claim, createRingMap, decodeRingMap, encodeRingMap, preferenceList, type RingMap } from '../../../src/ring/index.ts'
import { members, throwsCode } from './helpers.ts'

const small = (): RingMap =>
  createRingMap({
    version: 7,
    q: 4,
    n: 2,
    members: [{ id: 'b', host: 'h2' }, { id: 'a', host: 'h1', zone: 'z1' }],
    owners: ['a', 'b', 'a', 'b'],
  })

test('members are sorted by id and the map is frozen', () => {
  const ring = small()
  assert.equal(ring.members.map((m) => m.id), ['a', 'b'])
  assert.equal(ring.members[0], { id: 'a', host: 'h1', zone: 'z1' })
  assert.ok(Object.isFrozen(ring) && Object.isFrozen(ring.owners) && Object.isFrozen(ring.members))
  assert.match(ring.checksum, /^[0-9a-f]{64}$/)
})

test('the checksum covers content, not version or input order', () => {
  const a = small()
  const b = createRingMap({ ...a, version: 99, members: [...a.members].reverse() })
  assert.is(a.checksum, b.checksum)
  const c = createRingMap({ ...a, owners: ['b', 'b', 'a', 'a'] })
  assert.is.not(a.checksum, c.checksum)
  const d = createRingMap({ ...a, n: 1 })
  assert.is.not(a.checksum, d.checksum)
  const e = createRingMap({ ...a, members: [{ id: 'a', host: 'h1', zone: 'z2' }, { id: 'b', host: 'h2' }] })
  assert.is.not(a.checksum, e.checksum)
})

test('encode / decode round-trips, including version, hosts and zones', () => {
  const ring = small()
  const back = decodeRingMap(encodeRingMap(ring))
  assert.equal({ ...back }, { ...ring })
  const big = claim(undefined, members(40, (i) => ({ host: `h${i % 7}`, zone: `z${i % 3}` })), { q: 4096, n: 3 }).ring
  const bytes = encodeRingMap(big)
  assert.is(bytes.length, 4 + 1 + 8 + 4 + 1 + 2 + big.members.reduce((s, m) => s + 3 + m.id.length + (m.host?.length ?? 0) + (m.zone?.length ?? 0), 0) + 2 * 4096 + 32)
  assert.equal({ ...decodeRingMap(bytes) }, { ...big })
})

test('createRingMap rejects bad input with a message naming the problem', () => {
  const base = { version: 1, q: 4, n: 2, members: [{ id: 'a' }, { id: 'b' }], owners: ['a', 'b', 'a', 'b'] }
  throwsCode(() => createRingMap({ ...base, q: 3 }), 'ERR_BAD_RING', /power of two/)
  throwsCode(() => createRingMap({ ...base, n: 0 }), 'ERR_BAD_RING', /between 1 and 7/)
  throwsCode(() => createRingMap({ ...base, n: 8 }), 'ERR_BAD_RING', /between 1 and 7/)
  throwsCode(() => createRingMap({ ...base, version: -1 }), 'ERR_BAD_RING', /version/)
  throwsCode(() => createRingMap({ ...base, version: 1.5 }), 'ERR_BAD_RING', /version/)
  throwsCode(() => createRingMap({ ...base, members: [] }), 'ERR_BAD_RING', /at least one member/)
  throwsCode(() => createRingMap({ ...base, members: [{ id: 'a' }, { id: 'a' }] }), 'ERR_BAD_RING', /appears twice/)
  throwsCode(() => createRingMap({ ...base, members: [{ id: '' }, { id: 'b' }] }), 'ERR_BAD_RING', /non-empty string/)
  throwsCode(() => createRingMap({ ...base, members: [{ id: 'x'.repeat(256) }, { id: 'b' }] }), 'ERR_BAD_RING', /256 UTF-8 bytes/)
  throwsCode(() => createRingMap({ ...base, members: [{ id: 'a\uD800' }, { id: 'b' }] }), 'ERR_BAD_RING', /lone surrogate/)
  throwsCode(() => createRingMap({ ...base, members: [{ id: 'a', host: '' }, { id: 'b' }] }), 'ERR_BAD_RING', /host must be/)
  throwsCode(() => createRingMap({ ...base, owners: ['a', 'b'] }), 'ERR_BAD_RING', /one member id per partition/)
  throwsCode(() => createRingMap({ ...base, owners: ['a', 'b', 'c', 'b'] }), 'ERR_BAD_RING', /partition 2 is owned by "c"/)
})

test('decodeRingMap rejects damaged bytes, each with its reason', () => {
  const bytes = encodeRingMap(small())
  throwsCode(() => decodeRingMap(bytes.subarray(0, 10)), 'ERR_BAD_RING', /at least/)
  const badMagic = bytes.slice()
  badMagic[0] = 0x58
  throwsCode(() => decodeRingMap(badMagic), 'ERR_BAD_RING', /bad magic/)
  const badFormat = bytes.slice()
  badFormat[4] = 2
  throwsCode(() => decodeRingMap(badFormat), 'ERR_BAD_RING', /format 2 is not supported/)
  for (let i = 13; i < bytes.length; i++) {
    const flipped = bytes.slice()
    flipped[i]! ^= 0x01
    throwsCode(() => decodeRingMap(flipped), 'ERR_BAD_RING')
  }
  for (let len = 0; len < bytes.length; len++) throwsCode(() => decodeRingMap(bytes.subarray(0, len)), 'ERR_BAD_RING')
  throwsCode(() => decodeRingMap('nope' as unknown as Uint8Array), 'ERR_BAD_RING')
})

test('rings built elsewhere (a JSON copy) are accepted only when canonical and intact', () => {
  const ring = small()
  const copy = JSON.parse(JSON.stringify(ring)) as RingMap
  assert.equal(preferenceList(copy, 1), preferenceList(ring, 1))
  throwsCode(() => preferenceList({ ...copy, owners: ['b', 'b', 'a', 'b'] }, 0), 'ERR_BAD_RING', /checksum does not match/)
  throwsCode(() => preferenceList({ ...copy, members: [...copy.members].reverse() }, 0), 'ERR_BAD_RING', /not sorted/)
})

test('a version flip changes nothing but the version', () => {
  const bytes = encodeRingMap(small())
  const v = bytes.slice()
  v[12] = 8
  assert.is(decodeRingMap(v).version, 8)
  assert.is(decodeRingMap(v).checksum, small().checksum)
})

test.run()
