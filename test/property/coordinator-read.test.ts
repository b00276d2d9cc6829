// Properties of the read core (DESIGN section 4) against a model that only counts: for random N, R, PR,
// replica lists (primaries and fallbacks, fewer or more than N) and interleavings of replies, not-found
// replies, errors, duplicates and replies from nodes never asked.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRetryableCode, ReadCore, type CoreStatus } from '../../src/coordinator/index.ts'
import { createEnvelope, envelopesEqual, mergeEnvelopes, vv, type Envelope, type Sibling } from '../../src/versioning/index.ts'

const NOW = 1_700_000_000_000
const ACTORS = ['n1#0', 'n2#0', 'n3#1']
const CODES = ['ERR_TIMEOUT', 'ERR_CONNECTION_CLOSED', 'ERR_OVERLOADED', 'ERR_INTERNAL', 'ERR_SIBLING_LIMIT']
const EMPTY: Envelope = { context: vv(), siblings: [] }

/** Content is a function of the dot, as in a real cluster where one dot names one write. */
function siblingAt(actor: string, counter: number): Sibling {
  const kind = (counter * 5 + actor.charCodeAt(1)) % 4
  return {
    dot: { actor, counter },
    value: kind === 0 ? null : new TextEncoder().encode(`${actor}:${counter}`),
    timestamp: NOW - 1000 + counter,
    expiresAt: kind === 3 ? NOW - 1 : 0,
  }
}

const envelope: fc.Arbitrary<Envelope> = fc
  .tuple(fc.dictionary(fc.constantFrom(...ACTORS), fc.integer({ min: 0, max: 4 })), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }))
  .map(([context, picks]) => {
    const siblings: Sibling[] = []
    let k = 0
    for (const [actor, max] of Object.entries(context)) for (let c = 1; c <= max; c++) if (picks[k++ % picks.length]) siblings.push(siblingAt(actor, c))
    return createEnvelope(vv(context), siblings)
  })

type Event = { node: number; kind: 'found'; env: Envelope } | { node: number; kind: 'notfound' } | { node: number; kind: 'error'; code: string }

const scenario = fc
  .integer({ min: 1, max: 5 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      r: fc.integer({ min: 1, max: n }),
      prPick: fc.nat(),
      primaries: fc.array(fc.boolean(), { minLength: 0, maxLength: n + 2 }),
    }),
  )
  .chain(({ n, r, prPick, primaries }) =>
    fc.record({
      n: fc.constant(n),
      r: fc.constant(r),
      pr: fc.constant(prPick % (r + 1)),
      primaries: fc.constant(primaries),
      // node === primaries.length is a node that was never asked.
      events: fc.array(
        fc.oneof(
          fc.record({ node: fc.integer({ min: 0, max: primaries.length }), kind: fc.constant('found' as const), env: envelope }),
          fc.record({ node: fc.integer({ min: 0, max: primaries.length }), kind: fc.constant('notfound' as const) }),
          fc.record({ node: fc.integer({ min: 0, max: primaries.length }), kind: fc.constant('error' as const), code: fc.constantFrom(...CODES) }),
        ),
        { maxLength: 14 },
      ),
    }),
  )

const nodeName = (i: number): string => `node${i}`
const same = (a: Envelope | undefined, b: Envelope | undefined, what: string): void => {
  if (a === undefined || b === undefined) assert.is(a, b, what)
  else assert.ok(envelopesEqual(a, b), what)
}
const mergeAll = (envs: Iterable<Envelope>): Envelope => {
  let m = EMPTY
  for (const e of envs) m = mergeEnvelopes(m, e)
  return m
}
const orUndefined = (e: Envelope): Envelope | undefined => (e.context.size === 0 ? undefined : e)

test('read core agrees with the counting model; results, answers and repairs are the merge of what was counted', () => {
  fc.assert(
    fc.property(scenario, ({ n, r, pr, primaries, events }) => {
      const replicas = primaries.map((primary, i) => ({ node: nodeName(i), primary }))
      const core = new ReadCore({ n, r, pr, replicas, now: NOW })
      // The model.
      const answered = new Map<string, { env: Envelope } | { code: string }>()
      let basis: Map<string, Envelope> | undefined
      let answerEnv: Envelope | undefined
      let final: CoreStatus | undefined
      const modelStatus = (): CoreStatus => {
        let got = 0
        let primaryGot = 0
        let pending = 0
        let primaryPending = 0
        for (const { node, primary } of replicas) {
          const a = answered.get(node)
          if (a === undefined) {
            pending++
            if (primary) primaryPending++
          } else if ('env' in a) {
            got++
            if (primary) primaryGot++
          }
        }
        if (got >= r && primaryGot >= pr) return 'ok'
        if (got + pending < r || primaryGot + primaryPending < pr) return 'failed'
        return 'pending'
      }
      const check = (): void => {
        const expected = modelStatus()
        assert.is(core.status(), expected)
        if (final !== undefined) assert.is(expected, final, 'a final status never changes')
        if (expected !== 'pending' && final === undefined) {
          final = expected
          if (expected === 'ok') {
            basis = new Map([...answered].flatMap(([node, a]) => ('env' in a ? [[node, a.env] as const] : [])))
            answerEnv = mergeAll(basis.values())
          }
        }
      }
      check()
      for (const event of events) {
        const node = nodeName(event.node)
        const feed = (): boolean =>
          event.kind === 'error' ? core.error(node, event.code) : core.ok(node, event.kind === 'found' ? event.env : undefined)
        if (event.node === replicas.length) {
          assert.throws(feed, (err: unknown) => err instanceof RangeError)
        } else {
          const first = !answered.has(node)
          assert.is(feed(), first, 'counted exactly once')
          if (first) answered.set(node, event.kind === 'error' ? { code: event.code } : { env: event.kind === 'found' ? event.env : EMPTY })
        }
        check()
      }

      // Pending and final.
      const pending = replicas.filter(({ node }) => !answered.has(node)).map(({ node }) => node)
      assert.equal(core.pending(), pending)
      assert.is(core.isFinal(), pending.length === 0)
      assert.is(core.needsMore(), pending.length > 0)

      // The result is the merge of every counted reply.
      const replies = [...answered].flatMap(([node, a]) => ('env' in a ? [[node, a.env] as const] : []))
      const merged = mergeAll(replies.map(([, e]) => e))
      same(core.result(), orUndefined(merged), 'result = merge of all replies')

      // The answer is the merge of the replies that made the quorum.
      const answer = core.answer()
      if (core.status() === 'ok') {
        assert.ok(answer !== undefined)
        same(answer.envelope, orUndefined(answerEnv!), 'answer = merge of the quorum')
        const visible = answerEnv!.siblings.filter((s) => s.value !== null && (s.expiresAt === 0 || s.expiresAt > NOW))
        assert.equal(answer.siblings, visible)
        assert.is(answer.state, answerEnv!.context.size === 0 ? 'not-found' : visible.length > 0 ? 'found' : 'deleted')
      } else {
        assert.is(answer, undefined)
      }

      // Repairs: exactly the repliers whose envelope differs from the merge; blocking = those in the basis.
      const repairs = core.repairs()
      const differing = replicas.map(({ node }) => node).filter((node) => replies.some(([m, e]) => m === node && !envelopesEqual(e, merged)))
      assert.equal([...repairs.blocking, ...repairs.background].sort(), [...differing].sort())
      assert.equal(repairs.blocking, differing.filter((node) => basis?.has(node) === true))
      same(repairs.envelope, differing.length > 0 ? merged : undefined, 'repair envelope')
      // After repair every replier holds the merge.
      for (const [, env] of replies) assert.ok(envelopesEqual(mergeEnvelopes(env, merged), merged))

      // The error.
      const err = core.quorumError()
      if (core.status() !== 'failed') {
        assert.is(err, undefined)
      } else {
        assert.ok(err !== undefined)
        const errors = replicas.flatMap(({ node }) => {
          const a = answered.get(node)
          return a !== undefined && 'code' in a ? [[node, a.code] as const] : []
        })
        assert.is(err.code, 'ERR_QUORUM')
        assert.is(err.details.required, r)
        assert.is(err.details.received, replies.length)
        assert.equal(err.details.errors, Object.fromEntries(errors))
        assert.is(err.details.retryable, errors.every(([, code]) => isRetryableCode(code)))
        assert.is(err.details.primaryRequired, pr > 0 ? pr : undefined)
      }
    }),
    { numRuns: 1500 },
  )
})

test('the order replies arrive in does not change the merged result', () => {
  fc.assert(
    fc.property(fc.array(fc.option(envelope, { nil: undefined }), { minLength: 1, maxLength: 5 }), fc.nat(), (envs, seed) => {
      const replicas = envs.map((_, i) => ({ node: nodeName(i), primary: true }))
      const order = envs.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13) || a - b)
      const a = new ReadCore({ n: envs.length, r: 1, pr: 0, replicas, now: NOW })
      const b = new ReadCore({ n: envs.length, r: 1, pr: 0, replicas, now: NOW })
      envs.forEach((e, i) => a.ok(nodeName(i), e))
      for (const i of order) b.ok(nodeName(i), envs[i])
      same(a.result(), b.result(), 'order-independent')
      assert.equal([...a.repairs().blocking, ...a.repairs().background].sort(), [...b.repairs().blocking, ...b.repairs().background].sort())
    }),
    { numRuns: 500 },
  )
})

test.run()
