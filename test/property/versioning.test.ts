// Properties of versioning (DESIGN section 3): the version-vector algebra, the envelope merge as a join
// semilattice, the causal meaning of a client context, the sibling bound, and decoders that fail only with
// their own error code.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError } from '../../src/errors.ts'
import {
  contextOf,
  createEnvelope,
  decodeContext,
  decodeEnvelope,
  encodeContext,
  encodeEnvelope,
  envelopesEqual,
  mergeEnvelopes,
  siblingCount,
  updateEnvelope,
  vv,
  vvCompare,
  vvDescends,
  vvEquals,
  vvMerge,
  type Envelope,
  type Sibling,
  type VersionVector,
} from '../../src/versioning/index.ts'

const ACTORS = ['a#0', 'b#0', 'b#1', 'c#2', 'ü#0']
const actor = fc.constantFrom(...ACTORS)
const versionVector: fc.Arbitrary<VersionVector> = fc
  .dictionary(actor, fc.integer({ min: 0, max: 6 }), { maxKeys: ACTORS.length })
  .map((o) => vv(o))

/** Content is a function of the dot, as in a real system where one dot names one write. */
function siblingAt(actorName: string, counter: number, variant: number): Sibling {
  const kind = (counter * 7 + actorName.length + variant) % 4
  return {
    dot: { actor: actorName, counter },
    value: kind === 0 ? null : new TextEncoder().encode(`${actorName}:${counter}`.repeat(kind)),
    timestamp: 1_700_000_000_000 + counter * 1000 + actorName.charCodeAt(0),
    expiresAt: kind === 3 ? 1_700_000_500_000 : 0,
  }
}

/** Any valid envelope: a context, and siblings at a subset of the dots it covers. */
const envelope: fc.Arbitrary<Envelope> = fc.tuple(versionVector, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 })).map(([context, picks]) => {
  const siblings: Sibling[] = []
  let k = 0
  for (const [a, max] of context) for (let c = 1; c <= max; c++) if (picks[k++ % picks.length]) siblings.push(siblingAt(a, c, 0))
  return createEnvelope(context, siblings)
})

const same = (x: Envelope, y: Envelope): void => assert.ok(envelopesEqual(x, y), `${show(x)} != ${show(y)}`)
const show = (e: Envelope): string => `{${[...e.context].join(' ')} | ${e.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`).join(' ')}}`

test('version vectors: merge is commutative, associative, idempotent', () => {
  fc.assert(
    fc.property(versionVector, versionVector, versionVector, (a, b, c) => {
      assert.ok(vvEquals(vvMerge(a, b), vvMerge(b, a)))
      assert.ok(vvEquals(vvMerge(vvMerge(a, b), c), vvMerge(a, vvMerge(b, c))))
      assert.ok(vvEquals(vvMerge(a, a), a))
    }),
    { numRuns: 300 },
  )
})

test('version vectors: merge agrees with compare', () => {
  fc.assert(
    fc.property(versionVector, versionVector, (a, b) => {
      const m = vvMerge(a, b)
      assert.ok(vvDescends(m, a) && vvDescends(m, b))
      assert.is(vvDescends(a, b), vvEquals(m, a))
      const order = vvCompare(a, b)
      const expected = vvEquals(a, b) ? 'equal' : vvDescends(a, b) ? 'after' : vvDescends(b, a) ? 'before' : 'concurrent'
      assert.is(order, expected)
      assert.is(vvCompare(b, a), { equal: 'equal', before: 'after', after: 'before', concurrent: 'concurrent' }[order])
    }),
    { numRuns: 300 },
  )
})

test('envelopes: merge is commutative, associative, idempotent', () => {
  fc.assert(
    fc.property(envelope, envelope, envelope, (a, b, c) => {
      same(mergeEnvelopes(a, b), mergeEnvelopes(b, a))
      same(mergeEnvelopes(mergeEnvelopes(a, b), c), mergeEnvelopes(a, mergeEnvelopes(b, c)))
      same(mergeEnvelopes(a, a), a)
    }),
    { numRuns: 300 },
  )
})

test('envelopes: merge stays commutative and associative even if a dot carries different content', () => {
  // Cannot happen without corruption; merge must still not depend on argument order.
  const variant = fc.tuple(envelope, fc.nat(3)).map(([e, v]) =>
    createEnvelope(e.context, e.siblings.map((s) => siblingAt(s.dot.actor, s.dot.counter, v))),
  )
  fc.assert(
    fc.property(variant, variant, variant, (a, b, c) => {
      same(mergeEnvelopes(a, b), mergeEnvelopes(b, a))
      same(mergeEnvelopes(mergeEnvelopes(a, b), c), mergeEnvelopes(a, mergeEnvelopes(b, c)))
    }),
    { numRuns: 200 },
  )
})

// A small replicated system: R replicas, writes coordinated anywhere (with or without a context read from
// some replica), and pairwise syncs. Timestamps are logical; only causality matters here.
type Op =
  | { kind: 'write'; at: number; readFrom: number | null; tomb: boolean }
  | { kind: 'sync'; from: number; to: number }
const R = 3
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), at: fc.nat(R - 1), readFrom: fc.option(fc.nat(R - 1), { nil: null }), tomb: fc.boolean() }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(R - 1), to: fc.nat(R - 1) }),
)

function run(ops: readonly Op[]): Array<Envelope | undefined> {
  const replicas: Array<Envelope | undefined> = new Array(R).fill(undefined)
  let clock = 0
  for (const o of ops) {
    if (o.kind === 'write') {
      const read = o.readFrom === null ? undefined : replicas[o.readFrom]
      const value = o.tomb ? null : new TextEncoder().encode(`w${clock}`)
      replicas[o.at] = updateEnvelope(replicas[o.at], read && contextOf(read), `r${o.at}#0`, { value, timestamp: ++clock })
    } else {
      const from = replicas[o.from]
      const to = replicas[o.to]
      if (from !== undefined) replicas[o.to] = to === undefined ? from : mergeEnvelopes(to, from)
    }
  }
  return replicas
}

const mergeAll = (replicas: Array<Envelope | undefined>): Envelope =>
  replicas.reduce<Envelope>((acc, e) => (e === undefined ? acc : mergeEnvelopes(acc, e)), { context: vv(), siblings: [] })

test('replicas converge whatever order they sync in', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const replicas = run(ops)
      const forward = mergeAll(replicas)
      const backward = mergeAll([...replicas].reverse())
      same(forward, backward)
      for (const e of replicas) if (e !== undefined) same(mergeEnvelopes(e, forward), forward)
    }),
    { numRuns: 200 },
  )
})

const dotKey = (s: Sibling): string => `${s.dot.actor}:${s.dot.counter}`

test('a write with the context of a read supersedes exactly what that read saw', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.nat(R - 1), fc.nat(R - 1), (ops, readAt, writeAt) => {
      const replicas = run(ops)
      const read = replicas[readAt]
      fc.pre(read !== undefined)
      const seen = new Set(read.siblings.map(dotKey))
      const before = mergeAll(replicas)
      replicas[writeAt] = updateEnvelope(replicas[writeAt], contextOf(read), `r${writeAt}#0`, { value: null, timestamp: 1e6 })
      const newDot = dotKey(replicas[writeAt]!.siblings.find((s) => s.timestamp === 1e6)!)
      const after = mergeAll(replicas)
      const expected = [...before.siblings.map(dotKey).filter((d) => !seen.has(d)), newDot].sort()
      assert.equal(after.siblings.map(dotKey).sort(), expected)
    }),
    { numRuns: 200 },
  )
})

test('concurrent writes without a context all survive as siblings', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), fc.array(fc.nat(R - 1), { minLength: 1, maxLength: 6 }), (ops, writers) => {
      const replicas = run(ops)
      const before = mergeAll(replicas)
      const written: string[] = []
      writers.forEach((at, i) => {
        replicas[at] = updateEnvelope(replicas[at], undefined, `r${at}#0`, { value: new Uint8Array([i]), timestamp: 1e6 + i })
        written.push(dotKey(replicas[at]!.siblings.find((s) => s.timestamp === 1e6 + i)!))
      })
      const after = mergeAll(replicas)
      const keys = after.siblings.map(dotKey)
      for (const d of [...written, ...before.siblings.map(dotKey)]) assert.ok(keys.includes(d), `${d} lost`)
      assert.is(siblingCount(after), siblingCount(before) + writers.length)
    }),
    { numRuns: 200 },
  )
})

test('W writers that each write with the context of their own last read never make more than W siblings', () => {
  // One coordinating replica; each writer alternates read, write. Interleavings are arbitrary.
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { minLength: 1, maxLength: 80 }), (w, schedule) => {
      let stored: Envelope | undefined
      const lastRead: Array<VersionVector | undefined> = new Array(w).fill(undefined)
      const hasRead: boolean[] = new Array(w).fill(false)
      let clock = 0
      for (const pick of schedule) {
        const who = pick % w
        if (!hasRead[who]) {
          lastRead[who] = stored === undefined ? undefined : contextOf(stored)
          hasRead[who] = true
        } else {
          stored = updateEnvelope(stored, lastRead[who], 'server#0', { value: new Uint8Array([who]), timestamp: ++clock })
          hasRead[who] = false
          assert.ok(siblingCount(stored) <= w, `${siblingCount(stored)} siblings with ${w} writers`)
        }
      }
    }),
    { numRuns: 300 },
  )
})

test('codec: any envelope round-trips, and its bytes are canonical', () => {
  fc.assert(
    fc.property(envelope, (e) => {
      const bytes = encodeEnvelope(e)
      const back = decodeEnvelope(bytes)
      same(back, e)
      assert.equal(encodeEnvelope(back), bytes)
    }),
    { numRuns: 300 },
  )
})

function onlyCode(code: string, fn: () => unknown): boolean {
  try {
    fn()
    return true
  } catch (err) {
    if (isRingkvError(err, code)) return false
    throw err
  }
}

test('codec: random bytes fail only with ERR_BAD_ENVELOPE; anything accepted is canonical', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const raw = new Uint8Array([1, ...bytes]) // past the format byte, to reach deeper code
      for (const input of [bytes, raw]) {
        if (onlyCode('ERR_BAD_ENVELOPE', () => decodeEnvelope(input))) assert.equal(encodeEnvelope(decodeEnvelope(input)), input)
      }
    }),
    { numRuns: 2000 },
  )
})

test('codec: mutated encodings fail only with ERR_BAD_ENVELOPE', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.nat(255) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  )
  fc.assert(
    fc.property(envelope, fc.array(mutation, { minLength: 1, maxLength: 4 }), (e, mutations) => {
      let bytes = Array.from(encodeEnvelope(e))
      for (const m of mutations) {
        const at = m.at % (bytes.length + 1)
        if (m.kind === 'flip' && at < bytes.length) bytes[at]! ^= m.bits
        if (m.kind === 'cut') bytes = bytes.slice(0, at)
        if (m.kind === 'insert') bytes.splice(at, 0, m.byte)
        if (m.kind === 'delete') bytes.splice(at, 1)
      }
      const input = new Uint8Array(bytes)
      if (onlyCode('ERR_BAD_ENVELOPE', () => decodeEnvelope(input))) assert.equal(encodeEnvelope(decodeEnvelope(input)), input)
    }),
    { numRuns: 1000 },
  )
})

test('client context: round trip, and random text fails only with ERR_BAD_CONTEXT', () => {
  fc.assert(
    fc.property(versionVector, (v) => assert.ok(vvEquals(decodeContext(encodeContext(v)), v))),
    { numRuns: 300 },
  )
  const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/='.split('')), maxLength: 40 })
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), b64), versionVector, fc.nat(), (junk, v, at) => {
      onlyCode('ERR_BAD_CONTEXT', () => decodeContext(junk))
      const good = encodeContext(v)
      const mutated = good.slice(0, at % (good.length + 1)) + junk.slice(0, 3) + good.slice((at % (good.length + 1)) + 1)
      onlyCode('ERR_BAD_CONTEXT', () => decodeContext(mutated))
    }),
    { numRuns: 2000 },
  )
})

test.run()
