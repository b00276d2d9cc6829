// Properties of the ring (DESIGN section 2): balance, placement, minimal movement, preference lists, the
// checksum and the codec. Where a property only holds in part of the parameter space, the generator says
// which part and the comment says why; claim.ts documents the measurements behind those limits.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  claim,
  createRingMap,
  decodeRingMap,
  encodeRingMap,
  preferenceList,
  type Member,
  type RingMap,
} from '../../src/ring/index.ts'
import { members, spread } from '../unit/ring/helpers.ts'

const nodeViolations = (ring: RingMap): number => claimViolations(ring).filter((v) => v.level === 'node').length
const claimViolations = (ring: RingMap) => claim(ring, ring.members, { q: ring.q, n: ring.n }).violations

const pow2 = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((k) => 2 ** k)

test('balance: every member owns floor(Q/S) or ceil(Q/S) partitions', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 48 }), pow2(0, 13), fc.integer({ min: 1, max: 5 }), (s, q, n) => {
      const { ring } = claim(undefined, members(s), { q, n })
      assert.ok(spread(ring) <= 1, `spread ${spread(ring)}`)
    }),
    { numRuns: 80 },
  )
})

test('placement: any N consecutive partitions have N distinct owners (S > N)', () => {
  // Fresh rings, Q >= 256. At S = N + 1 with N >= 5 the layout is so rigid that a couple of windows can stay
  // shared (reported, see claim.ts), so the generator leaves that corner out.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), pow2(8, 13), (n, extra, q) => {
      const s = n + extra
      fc.pre(n <= 4 || s >= n + 2)
      const { ring, violations } = claim(undefined, members(s), { q, n })
      assert.equal(violations, [])
      for (let p = 0; p < q; p++) {
        const window = new Set<string>()
        for (let k = 0; k < n; k++) window.add(ring.owners[(p + k) % q]!)
        assert.is(window.size, n)
      }
    }),
    { numRuns: 60 },
  )
})

test('placement: equal-sized hosts and zones, enough of them, are never shared within a window', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (n, hostsOverN, perHost) => {
      const hosts = n + hostsOverN
      const ms = members(hosts * perHost, (i) => ({ host: `h${i % hosts}`, zone: `z${i % hosts}` }))
      const { violations } = claim(undefined, ms, { q: 1024, n })
      assert.equal(violations, [])
    }),
    { numRuns: 30 },
  )
})

test('preference lists: min(N, S) distinct primaries, every member exactly once overall', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 24 }), pow2(0, 12), fc.integer({ min: 1, max: 5 }), fc.nat(), (s, q, n, seed) => {
      const { ring, violations } = claim(undefined, members(s), { q, n })
      const owning = new Set(ring.owners).size
      for (const p of [seed % q, (seed * 7) % q, q - 1]) {
        const { primaries, fallbacks } = preferenceList(ring, p)
        assert.is(new Set(primaries).size, primaries.length)
        assert.is(primaries.length, Math.min(n, owning))
        assert.equal([...primaries, ...fallbacks].sort(), ring.members.map((m) => m.id).sort())
        assert.is(primaries[0], ring.owners[p])
        if (violations.length === 0 && s >= n && q >= n) {
          assert.equal(primaries, Array.from({ length: n }, (_, k) => ring.owners[(p + k) % q]))
        }
      }
    }),
    { numRuns: 80 },
  )
})

test('adding a node moves ~Q/(S+1) partitions (within 2% of Q), all of them to the new node', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(1024, 4096), (s, n, q) => {
      const before = claim(undefined, members(s), { q, n }).ring
      const after = claim(before, members(s + 1), { q, n })
      let moved = 0
      for (let p = 0; p < q; p++) {
        if (after.ring.owners[p] === before.owners[p]) continue
        moved++
        assert.is(after.ring.owners[p], `n${s}`, `partition ${p} went to ${after.ring.owners[p]}`)
      }
      assert.is(moved, after.moved)
      assert.is(after.extraMoves, 0)
      assert.ok(Math.abs(moved - q / (s + 1)) <= 0.02 * q, `moved ${moved} of ${q} for S=${s}`)
      assert.ok(spread(after.ring) <= 1)
      if (s + 1 > n) assert.is(after.violations.filter((v) => v.level === 'node').length, 0)
    }),
    { numRuns: 60 },
  )
})

test('removing a node moves only its partitions, except where placement is tight', () => {
  // Into S - 1 <= 2(N - 1), each vacated partition's 2(N - 1) neighbours already hold every remaining node, so
  // no partition can be refilled in place and placement costs extra moves (counted); elsewhere none.
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (s, n, pick) => {
      const q = 4096
      const before = claim(undefined, members(s), { q, n }).ring
      const victim = `n${pick % s}`
      const after = claim(before, before.members.filter((m) => m.id !== victim), { q, n })
      const remaining = s - 1
      let moved = 0
      let movedFromOthers = 0
      for (let p = 0; p < q; p++) {
        assert.is.not(after.ring.owners[p], victim)
        if (after.ring.owners[p] === before.owners[p]) continue
        moved++
        if (before.owners[p] !== victim) movedFromOthers++
      }
      assert.is(moved, after.moved)
      assert.is(after.minimumMoves, before.owners.filter((o) => o === victim).length)
      assert.is(after.extraMoves, movedFromOthers)
      assert.ok(spread(after.ring) <= 1)
      if (remaining <= n || remaining > 2 * (n - 1)) assert.is(after.extraMoves, 0)
      else assert.ok(after.extraMoves <= q / 2, `extra ${after.extraMoves}`)
      if (remaining > n) assert.is(after.violations.filter((v) => v.level === 'node').length, 0)
    }),
    { numRuns: 60 },
  )
})

const history = fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: 1, maxLength: 8 })

/** Plays joins (true) and leaves (false) from a small cluster; yields every ring with its claim report. */
function play(steps: Array<[boolean, number]>, q: number, n: number, withHosts: boolean) {
  const make = (id: number): Member => (withHosts ? { id: `m${id}`, host: `h${id % 5}` } : { id: `m${id}` })
  let next = 4
  let current: Member[] = [0, 1, 2, 3].map(make)
  let result = claim(undefined, current, { q, n })
  const out = [result]
  for (const [join, pick] of steps) {
    if (join || current.length === 1) current = [...current, make(next++)]
    else current = current.filter((_, i) => i !== pick % current.length)
    result = claim(result.ring, current, { q, n })
    out.push(result)
  }
  return out
}

test('random membership histories keep balance, accounting and preference lists', () => {
  fc.assert(
    fc.property(history, fc.integer({ min: 1, max: 3 }), fc.boolean(), (steps, n, withHosts) => {
      const q = 1024
      let previous: RingMap | undefined
      for (const r of play(steps, q, n, withHosts)) {
        assert.ok(spread(r.ring) <= 1)
        let moved = 0
        for (let p = 0; p < q; p++) if (previous === undefined || previous.owners[p] !== r.ring.owners[p]) moved++
        assert.is(r.moved, moved)
        assert.is(r.extraMoves, r.moved - r.minimumMoves)
        assert.ok(r.extraMoves >= 0)
        const s = r.ring.members.length
        // Incremental histories through S = N + 1 may leave a few rigid windows (reported), never many.
        if (s > n) assert.ok(r.violations.filter((v) => v.level === 'node').length <= q / 100)
        const list = preferenceList(r.ring, q - 1)
        assert.is(new Set(list.primaries).size, Math.min(n, s))
        previous = r.ring
      }
    }),
    { numRuns: 25 },
  )
})

test('the checksum changes iff the owners change (same q, n, members)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.nat(), fc.nat(), (s, i, j) => {
      const base = claim(undefined, members(s), { q: 256, n: 2 }).ring
      const owners = [...base.owners]
      const a = i % 256
      const b = j % 256
      ;[owners[a], owners[b]] = [owners[b]!, owners[a]!]
      const swapped = createRingMap({ ...base, owners })
      assert.is(swapped.checksum === base.checksum, owners.every((o, p) => o === base.owners[p]))
    }),
    { numRuns: 100 },
  )
  // And across independently derived rings over the same members.
  const rings = [1, 2, 3].flatMap((n) => [claim(undefined, members(6), { q: 64, n }).ring])
  const same = rings.map((r) => createRingMap({ ...r, n: 2 }))
  for (const x of same) for (const y of same) assert.is(x.checksum === y.checksum, x.owners.join() === y.owners.join())
})

test('encode / decode round-trips any claimed ring', () => {
  fc.assert(
    fc.property(history, fc.integer({ min: 1, max: 3 }), fc.boolean(), (steps, n, withHosts) => {
      for (const { ring } of play(steps, 64, n, withHosts)) {
        const back = decodeRingMap(encodeRingMap(ring))
        assert.equal({ ...back }, { ...ring })
      }
    }),
    { numRuns: 25 },
  )
})

test('claim is deterministic and ignores member order', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (s, n, seed) => {
      const ms = members(s)
      const shuffled = [...ms].sort((x, y) => ((x.id.length * 31 + seed) % 7) - ((y.id.length * 17 + seed) % 5))
      const a = claim(undefined, ms, { q: 512, n })
      const b = claim(undefined, shuffled, { q: 512, n })
      assert.is(a.ring.checksum, b.ring.checksum)
      const a2 = claim(a.ring, members(s + 1), { q: 512, n })
      const b2 = claim(b.ring, [...members(s + 1)].reverse(), { q: 512, n })
      assert.is(a2.ring.checksum, b2.ring.checksum)
    }),
    { numRuns: 30 },
  )
})

test.run()
