/**
 * The hint store contract: one suite, run over every backing (hint-store-native.test.ts: the engine in a
 * directory; hint-store-memory.test.ts: process memory). See src/handoff/hint-store.ts for the contract.
 *
 * Time is a wall clock moved by hand (and stepped back once): ages, expiry and the oldest-first order are exact.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../src/errors.ts'
import { ENTRY_OVERHEAD_BYTES, HintStore, type HintStoreOptions, type PendingHint } from '../../src/handoff/index.ts'
import { encodeHintKey, encodeHintValue } from '../../src/handoff/codec.ts'
import type { Clock, TimerHandle } from '../../src/runtime/index.ts'
import { contextOf, decodeEnvelope, encodeEnvelope, envelopesEqual, mergeEnvelopes, updateEnvelope, type Envelope } from '../../src/versioning/index.ts'

/** The store reads only `now()`; this one moves when told, backwards too (as a stepped system clock does). */
export class WallClock implements Clock {
  #t: number
  constructor(t: number) {
    this.#t = t
  }
  now(): number {
    return this.#t
  }
  monotonic(): number {
    return this.#t
  }
  advance(ms: number): void {
    this.#t += ms
  }
  set(t: number): void {
    this.#t = t
  }
  setTimeout(): TimerHandle {
    throw new Error('the hint store sets no timers')
  }
  clearTimeout(): void {}
  setInterval(): TimerHandle {
    throw new Error('the hint store sets no timers')
  }
  clearInterval(): void {}
  setImmediate(): TimerHandle {
    throw new Error('the hint store sets no timers')
  }
  clearImmediate(): void {}
}

export interface HintHarness {
  readonly store: HintStore
  readonly clock: WallClock
  /** Writes raw bytes under a storage key, beneath the store (to plant garbage). */
  putRaw(key: Uint8Array, value: Uint8Array): Promise<void>
  /** Closes the store and opens a new one over the same bytes (with other options if given). */
  reopen(options?: Partial<Omit<HintStoreOptions, 'clock'>>): Promise<HintStore>
  dispose(): Promise<void>
}

export type HintStoreFactory = (options: Omit<HintStoreOptions, 'clock'>, clock: WallClock) => Promise<HintHarness>

const b = (s: string): Buffer => Buffer.from(s)
const T0 = 1_700_000_000_000
const HOUR = 3_600_000
const DEFAULTS = { maxBytes: 256 * 1024 * 1024, maxAgeMs: 3 * HOUR }

let counter = 0
/** A fresh write by `actor` (each call a new dot). */
function write(value: string, actor = 'c'): Envelope {
  return updateEnvelope(undefined, undefined, `${actor}#${++counter}`, { value: b(value), timestamp: T0 })
}

function values(e: Uint8Array | Envelope): string[] {
  const env = e instanceof Uint8Array ? decodeEnvelope(e) : e
  return env.siblings.map((s) => (s.value === null ? '<tombstone>' : Buffer.from(s.value).toString())).sort()
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn()
  } catch (e) {
    if (!isRingkvError(e, code)) throw new Error(`expected ${code}, got ${String(e)}`)
    if (message !== undefined) assert.match(e.message, message)
    return
  }
  throw new Error(`expected ${code}, but it succeeded`)
}

/** What a hint of `value` for (target, key) is charged. */
function charge(target: string, partition: number, key: string, envelope: Envelope): number {
  return encodeHintKey(target, partition, b(key)).length + encodeHintValue(0, encodeEnvelope(envelope)).length + ENTRY_OVERHEAD_BYTES
}

export function hintStoreContract(name: string, factory: HintStoreFactory): void {
  const test = suite(`hint store contract: ${name}`)
  const withStore = (title: string, body: (h: HintHarness) => Promise<void>, options: Partial<Omit<HintStoreOptions, 'clock'>> = {}) =>
    test(title, async () => {
      const h = await factory({ ...DEFAULTS, ...options }, new WallClock(T0))
      try {
        await body(h)
      } finally {
        await h.dispose()
      }
    })

  withStore('add, take oldest first, remove once delivered', async ({ store, clock }) => {
    const a1 = write('a1')
    const r = store.add('n2', 5, b('k1'), a1)
    assert.is(r.stored, true)
    assert.is(r.changed, true)
    await r.durable
    clock.advance(1000)
    await store.add('n2', 6, b('k2'), write('a2')).durable
    clock.advance(1000)
    await store.add('n3', 5, b('k1'), write('b1')).durable
    assert.equal(store.targets().sort(), ['n2', 'n3'])
    const hints = store.take('n2', 10)
    assert.equal(hints.map((h) => [h.partition, h.key.toString(), values(h.envelope)]), [
      [5, 'k1', ['a1']],
      [6, 'k2', ['a2']],
    ])
    assert.ok(envelopesEqual(decodeEnvelope(hints[0]!.envelope), a1))
    assert.is(hints[0]!.since, T0)
    assert.is(hints[1]!.since, T0 + 1000)
    assert.equal(store.take('n2', 1).map((h) => h.key.toString()), ['k1'], 'limit')
    assert.equal(store.take('n2', 10, new Set([hints[0]!.id])).map((h) => h.key.toString()), ['k2'], 'skip')
    assert.equal(store.take('nobody', 10), [])
    let s = store.stats()
    assert.is(s.pending, 3)
    assert.is(s.targets, 2)
    assert.is(s.stored, 3)
    assert.is(s.oldestAgeMs, 2000)
    assert.equal(store.target('n3'), { pending: 1, pendingBytes: charge('n3', 5, 'k1', write('b1')), oldestAgeMs: 0 })
    assert.is(store.remove(hints[0]!), true)
    assert.is(store.remove(hints[0]!), false, 'a second remove finds nothing')
    assert.equal(store.take('n2', 10).map((h) => h.key.toString()), ['k2'])
    s = store.stats()
    assert.is(s.pending, 2)
    assert.is(s.removed, 1)
    assert.is(s.oldestAgeMs, 1000, 'the oldest left is the second')
    assert.is(s.pendingBytes, store.target('n2').pendingBytes + store.target('n3').pendingBytes)
    assert.is(store.remove(store.take('n2', 10)[0]!, 'rejected'), true)
    assert.is(store.stats().rejected, 1, 'refused for good, counted apart from deliveries')
    assert.is(store.stats().removed, 1)
    assert.equal(store.targets(), ['n3'])
    assert.equal(store.target('n2'), { pending: 0, pendingBytes: 0, oldestAgeMs: 0 })
  })

  withStore('hints for one (target, key) collapse into one merged hint that keeps the first one\'s age', async ({ store, clock }) => {
    const first = write('x', 'a#1')
    const second = write('y', 'b#1') // concurrent with the first: both must reach the target
    store.add('n2', 1, b('hot'), first)
    clock.advance(5000)
    const r = store.add('n2', 1, b('hot'), second)
    assert.is(r.changed, true)
    await r.durable
    const [hint, ...rest] = store.take('n2', 10)
    assert.is(rest.length, 0)
    assert.equal(values(hint!.envelope), ['x', 'y'])
    assert.ok(envelopesEqual(decodeEnvelope(hint!.envelope), mergeEnvelopes(first, second)))
    assert.is(hint!.since, T0, 'the age of the oldest write it holds')
    // A hot key: a thousand writes, one hint.
    let env = second
    for (let i = 0; i < 1000; i++) {
      env = updateEnvelope(env, contextOf(env), 'b#1', { value: b(`v${i}`), timestamp: T0 + i })
      store.add('n2', 1, b('hot'), env)
    }
    const s = store.stats()
    assert.is(s.pending, 1)
    assert.is(s.collapsed, 1001)
    assert.equal(values(store.take('n2', 1)[0]!.envelope), ['v999', 'x'])
    // What the hint already holds changes nothing.
    const same = store.add('n2', 1, b('hot'), first)
    assert.is(same.changed, false)
    assert.is(same.stored, true)
    await same.durable
    assert.is(store.stats().stored, s.stored)
    // Another target, or another partition, is another hint.
    store.add('n3', 1, b('hot'), first)
    store.add('n2', 2, b('hot'), first)
    assert.is(store.stats().pending, 3)
  })

  withStore('a hint that changed while being delivered is not removed, and is handed out again', async ({ store }) => {
    store.add('n2', 1, b('k'), write('old'))
    const [sent] = store.take('n2', 10)
    store.add('n2', 1, b('k'), write('newer'))
    assert.is(store.remove(sent!), false)
    const [again] = store.take('n2', 10)
    assert.equal(values(again!.envelope), ['newer', 'old'])
    assert.ok(again!.version !== sent!.version)
    assert.is(store.remove(again!), true)
    assert.is(store.stats().pending, 0)
  })

  withStore('hints survive a reopen with their ages, order and accounting; removed ones stay removed', async (h) => {
    const { clock } = h
    for (let i = 0; i < 20; i++) {
      h.store.add(`n${i % 3}`, i, b(`key-${i}`), write(`v${i}`))
      clock.advance(100)
    }
    h.store.add('n0', 0, b('key-0'), write('collapsed'))
    const removed = h.store.take('n1', 2)
    for (const hint of removed) assert.ok(h.store.remove(hint))
    const before = h.store.stats()
    const listed = (s: HintStore): string[][] =>
      ['n0', 'n1', 'n2'].map((t) => s.take(t, 100).map((x) => `${x.partition}/${x.key.toString()}@${x.since}=${values(x.envelope).join('+')}`))
    const expected = listed(h.store)
    const store = await h.reopen()
    assert.equal(listed(store), expected)
    const after = store.stats()
    assert.is(after.pending, before.pending)
    assert.is(after.pendingBytes, before.pendingBytes)
    assert.is(after.oldestAgeMs, before.oldestAgeMs)
    assert.is(after.pending, 18)
    assert.ok(!expected[1]!.some((x) => x.includes('key-1=') || x.includes('key-4=')), 'the removed hints are gone')
    // And the reopened store goes on collapsing into what it found.
    store.add('n0', 0, b('key-0'), write('later'))
    assert.equal(values(store.take('n0', 1)[0]!.envelope), ['collapsed', 'later', 'v0'])
    assert.is(store.stats().pending, 18)
  })

  withStore(
    'over the byte budget the oldest hints, of any target, are dropped and counted; client-side nothing fails',
    async ({ store, clock }) => {
      const one = charge('n1', 1, 'k00', write('0123456789'))
      // Room for exactly 4 such hints (the constructor's budget is 4 * one + a little).
      for (let i = 0; i < 10; i++) {
        const r = store.add(`n${i % 2}`, 1, b(`k${String(i).padStart(2, '0')}`), write('0123456789'))
        assert.is(r.stored, true)
        await r.durable
        clock.advance(10)
      }
      const s = store.stats()
      assert.is(s.pending, 4)
      assert.is(s.droppedOverflow, 6)
      assert.ok(s.pendingBytes <= store.maxBytes)
      assert.is(s.pendingBytes, 4 * one)
      const left = [...store.take('n0', 10), ...store.take('n1', 10)].map((x) => x.key.toString()).sort()
      assert.equal(left, ['k06', 'k07', 'k08', 'k09'], 'the newest are kept')
      // A collapse that grows a hint evicts others, never the hint being written.
      store.add('n1', 1, b('k07'), write('x'.repeat(Math.floor(one * 1.5))))
      assert.ok(store.stats().pendingBytes <= store.maxBytes)
      assert.equal(values(store.take('n1', 10).find((x) => x.key.toString() === 'k07')!.envelope).length, 2)
    },
    { maxBytes: 4 * charge('n1', 1, 'k00', write('0123456789')) + 10 },
  )

  withStore('a hint larger than the whole budget is refused (counted) and the others are kept', async ({ store }) => {
    store.add('n1', 1, b('small'), write('s'))
    const r = store.add('n1', 1, b('big'), write('x'.repeat(70 * 1024)))
    assert.is(r.stored, false)
    assert.is(r.changed, false)
    await r.durable
    const s = store.stats()
    assert.is(s.droppedOverflow, 1)
    assert.is(s.pending, 1)
    assert.equal(store.take('n1', 10).map((x) => x.key.toString()), ['small'])
  }, { maxBytes: 64 * 1024 })

  withStore('hints older than maxAgeMs are dropped by expire (counted); a write to an expired key starts afresh', async ({ store, clock }) => {
    store.add('n1', 1, b('old'), write('o'))
    store.add('n2', 1, b('old2'), write('o2'))
    clock.advance(HOUR)
    store.add('n1', 1, b('young'), write('y'))
    store.add('n1', 1, b('again'), write('a1'))
    assert.is(store.expire(), 0)
    assert.is(store.stats().oldestAgeMs, HOUR)
    clock.advance(2 * HOUR)
    // 'old' and 'old2' are now exactly 3 h old; 'again' collapses into nothing old.
    store.add('n1', 1, b('old'), write('fresh'))
    let s = store.stats()
    assert.is(s.droppedExpired, 1, 'the expired hint under the same key was dropped, not merged')
    assert.is(store.expire(), 1, 'old2')
    s = store.stats()
    assert.is(s.droppedExpired, 2)
    assert.is(s.pending, 3)
    const n1 = store.take('n1', 10)
    assert.equal(n1.map((x) => [x.key.toString(), values(x.envelope)]), [
      ['young', ['y']],
      ['again', ['a1']],
      ['old', ['fresh']],
    ])
    assert.is(n1[2]!.since, T0 + 3 * HOUR)
    assert.is(s.oldestAgeMs, 2 * HOUR)
    assert.equal(store.targets(), ['n1'])
    clock.advance(HOUR)
    assert.is(store.expire(), 2)
    assert.is(store.stats().oldestAgeMs, HOUR)
    assert.is(store.stats().pending, 1)
  })

  withStore('a clock that steps back keeps a target\'s hints in order', async ({ store, clock }) => {
    store.add('n1', 1, b('a'), write('a'))
    clock.advance(1000)
    store.add('n1', 1, b('b'), write('b'))
    clock.set(T0 + 10) // NTP stepped the wall clock back
    store.add('n1', 1, b('c'), write('c'))
    const hints = store.take('n1', 10)
    assert.equal(hints.map((x) => x.key.toString()), ['a', 'b', 'c'])
    assert.equal(hints.map((x) => x.since), [T0, T0 + 1000, T0 + 1000])
  })

  withStore('bad input and a closed store get clear errors', async (h) => {
    const { store } = h
    throwsCode(() => store.add('', 1, b('k'), write('v')), 'ERR_BAD_REQUEST', /target/)
    throwsCode(() => store.add('x'.repeat(256), 1, b('k'), write('v')), 'ERR_BAD_REQUEST', /at most 255 bytes/)
    throwsCode(() => store.add('n1', 70000, b('k'), write('v')), 'ERR_BAD_REQUEST', /partition/)
    throwsCode(() => store.add('n1', 1, 'k' as never, write('v')), 'ERR_BAD_REQUEST', /key/)
    throwsCode(() => store.add('n1', 1, Buffer.alloc(70000), write('v')), 'ERR_KEY_TOO_LARGE')
    assert.is(store.stats().pending, 0)
    await store.close()
    await store.close()
    throwsCode(() => store.add('n1', 1, b('k'), write('v')), 'ERR_CLOSED')
    throwsCode(() => store.take('n1', 1), 'ERR_CLOSED')
    throwsCode(() => store.expire(), 'ERR_CLOSED')
    for (const [options, name] of [
      [{ maxBytes: 0 }, 'maxBytes'],
      [{ maxAgeMs: -1 }, 'maxAgeMs'],
      [{ maxBytes: 1.5 }, 'maxBytes'],
    ] as const) {
      try {
        await h.reopen(options)
        assert.unreachable(`${name} was accepted`)
      } catch (e) {
        assert.ok(isRingkvError(e, 'ERR_INVALID_ARGUMENT'), String(e))
        assert.match((e as Error).message, name)
      }
    }
  })

  withStore('a stored hint that does not decode is dropped on open (counted); the others load', async (h) => {
    await h.store.add('n1', 1, b('good'), write('g')).durable
    await h.putRaw(encodeHintKey('n1', 1, b('bad-value')), Buffer.from([9, 9, 9]))
    await h.putRaw(encodeHintKey('n1', 1, b('bad-envelope')), encodeHintValue(T0, Buffer.from([1, 200])))
    await h.putRaw(Buffer.from([0]), encodeHintValue(T0, encodeEnvelope(write('no target'))))
    const store = await h.reopen()
    const s = store.stats()
    assert.is(s.corrupt, 3)
    assert.is(s.pending, 1)
    assert.equal(store.take('n1', 10).map((x) => x.key.toString()), ['good'])
    const again = await h.reopen()
    assert.is(again.stats().corrupt, 0, 'the bad ones were deleted')
    assert.is(again.stats().pending, 1)
  })

  withStore('reopened with a smaller budget or age, the store sheds the oldest hints first', async (h) => {
    for (let i = 0; i < 10; i++) {
      h.store.add('n1', 1, b(`k${i}`), write('v'))
      h.clock.advance(60_000)
    }
    const one = h.store.target('n1').pendingBytes / 10
    let store = await h.reopen({ maxBytes: Math.floor(one * 5) })
    assert.equal(store.take('n1', 10).map((x) => x.key.toString()), ['k5', 'k6', 'k7', 'k8', 'k9'])
    assert.is(store.stats().droppedOverflow, 5)
    store = await h.reopen({ maxAgeMs: 150_000 })
    assert.equal(store.take('n1', 10).map((x) => x.key.toString()), ['k8', 'k9'])
    assert.is(store.stats().droppedExpired, 3)
  })

  withStore('take hands out copies: they stay valid after the hint changes or goes', async ({ store }) => {
    store.add('n1', 1, b('k'), write('v'))
    const [hint] = store.take('n1', 1) as [PendingHint]
    const envelope = Buffer.from(hint.envelope)
    const key = Buffer.from(hint.key)
    store.add('n1', 1, b('k'), write('w'))
    store.remove(store.take('n1', 1)[0]!)
    assert.equal(Buffer.from(hint.envelope), envelope)
    assert.equal(Buffer.from(hint.key), key)
  })

  test.run()
}
