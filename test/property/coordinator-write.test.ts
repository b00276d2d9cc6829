// Properties of the write core (DESIGN section 4) against a model that only counts: for random N, W, PW, DW,
// replica lists (primaries and fallbacks, fewer or more than N) and interleavings of durable and buffered
// acks, errors, duplicates and acks from nodes never asked.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRetryableCode, WriteCore, type CoreStatus } from '../../src/coordinator/index.ts'

const CODES = ['ERR_TIMEOUT', 'ERR_CONNECTION_CLOSED', 'ERR_CONNECT_FAILED', 'ERR_INTERNAL', 'ERR_SIBLING_LIMIT']

const scenario = fc
  .integer({ min: 1, max: 5 })
  .chain((n) => fc.record({ n: fc.constant(n), w: fc.integer({ min: 1, max: n }), picks: fc.tuple(fc.nat(), fc.nat()), primaries: fc.array(fc.boolean(), { maxLength: n + 2 }) }))
  .chain(({ n, w, picks, primaries }) =>
    fc.record({
      n: fc.constant(n),
      w: fc.constant(w),
      pw: fc.constant(picks[0] % (w + 1)),
      dw: fc.constant(picks[1] % (w + 1)),
      primaries: fc.constant(primaries),
      // node === primaries.length is a node that was never asked.
      events: fc.array(
        fc.oneof(
          fc.record({ node: fc.integer({ min: 0, max: primaries.length }), kind: fc.constant('ack' as const), durable: fc.boolean() }),
          fc.record({ node: fc.integer({ min: 0, max: primaries.length }), kind: fc.constant('error' as const), code: fc.constantFrom(...CODES) }),
        ),
        { maxLength: 14 },
      ),
    }),
  )

const nodeName = (i: number): string => `node${i}`

test('write core agrees with the counting model', () => {
  fc.assert(
    fc.property(scenario, ({ n, w, pw, dw, primaries, events }) => {
      const replicas = primaries.map((primary, i) => ({ node: nodeName(i), primary }))
      const core = new WriteCore({ n, w, pw, dw, replicas })
      const answered = new Map<string, { durable: boolean } | { code: string }>()
      let final: CoreStatus | undefined
      const counts = () => {
        let acks = 0
        let primaryAcks = 0
        let durableAcks = 0
        let pending = 0
        let primaryPending = 0
        for (const { node, primary } of replicas) {
          const a = answered.get(node)
          if (a === undefined) {
            pending++
            if (primary) primaryPending++
          } else if ('durable' in a) {
            acks++
            if (primary) primaryAcks++
            if (a.durable) durableAcks++
          }
        }
        return { acks, primaryAcks, durableAcks, pending, primaryPending }
      }
      const modelStatus = (): CoreStatus => {
        const c = counts()
        if (c.acks >= w && c.primaryAcks >= pw && c.durableAcks >= dw) return 'ok'
        if (c.acks + c.pending < w || c.primaryAcks + c.primaryPending < pw || c.durableAcks + c.pending < dw) return 'failed'
        return 'pending'
      }
      const check = (): void => {
        const expected = modelStatus()
        assert.is(core.status(), expected)
        if (final !== undefined) assert.is(expected, final, 'a final status never changes')
        if (expected !== 'pending') final = expected
      }
      check()
      for (const event of events) {
        const node = nodeName(event.node)
        const feed = (): boolean => (event.kind === 'ack' ? core.ack(node, { durable: event.durable }) : core.error(node, event.code))
        if (event.node === replicas.length) {
          assert.throws(feed, (err: unknown) => err instanceof RangeError)
        } else {
          const first = !answered.has(node)
          assert.is(feed(), first, 'counted exactly once')
          if (first) answered.set(node, event.kind === 'ack' ? { durable: event.durable } : { code: event.code })
        }
        check()
      }

      const pending = replicas.filter(({ node }) => !answered.has(node)).map(({ node }) => node)
      assert.equal(core.pending(), pending)
      assert.is(core.isFinal(), pending.length === 0)

      const err = core.quorumError()
      if (core.status() !== 'failed') {
        assert.is(err, undefined)
      } else {
        assert.ok(err !== undefined)
        const c = counts()
        const errors = replicas.flatMap(({ node }) => {
          const a = answered.get(node)
          return a !== undefined && 'code' in a ? [[node, a.code] as const] : []
        })
        assert.equal(err.details, {
          op: 'write',
          required: w,
          received: c.acks,
          ...(pw > 0 ? { primaryRequired: pw, primaryReceived: c.primaryAcks } : {}),
          ...(dw > 0 ? { durableRequired: dw, durableReceived: c.durableAcks } : {}),
          errors: Object.fromEntries(errors),
          retryable: errors.every(([, code]) => isRetryableCode(code)),
        })
        assert.match(err.message, /^write quorum not met: /)
      }
    }),
    { numRuns: 2000 },
  )
})

test.run()
