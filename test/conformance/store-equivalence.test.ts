// The native and the memory store are one contract: random sequences of coordinator writes, replica syncs (as
// envelopes and as bytes),
// removes and garbage collection, over a few keys, actors and remote replicas, give the same results, the same envelopes (byte for byte)
// and the same stats on both -- and the same as the versioning algebra applied to a plain Map. Holding equal data,
// they give equal Merkle digests (the engine's native hashing and merkle.ts's restatement of it agree).
//
// Each run uses its own partition of two long-lived stores (the native one in 'none' mode, for speed). The model
// restates the key-epoch rule (src/storage/key-epochs.ts) on its own: a write keeps the key's highest actor of
// its issuer unless the key is absent, names none, or a merge brought that actor's dots beyond the model's.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { isRingkvError, RingkvError } from '../../src/errors.ts'
import { MAX_KEY_BYTES, MemoryStore, NativeStore, encodeStorageKey, entryHash, type ReplicaStore } from '../../src/storage/index.ts'
import {
  contextBytes,
  contextOf,
  encodeContext,
  encodeEnvelope,
  envelopesEqual,
  isObsolete,
  mergeEnvelopes,
  updateEnvelope,
  type Envelope,
  type VersionVector,
  type Write,
} from '../../src/versioning/index.ts'
import { tempDir } from '../native/helpers.ts'

const KEYS = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff, 0xff])]
const LOCAL_ACTORS = ['n1#0', 'n1#1'] // one node, before and after a wipe
const REMOTES = ['n2#0', 'n3#0']
const LIMITS = { warnSiblings: 3, maxSiblings: 4 }

type Context = { kind: 'none' } | { kind: 'fresh' } | { kind: 'history'; index: number } | { kind: 'remote'; remote: number }
type Command =
  | { t: 'update'; key: number; actor: number; context: Context; encoded: boolean; value: string | null; expiresAt: number }
  | { t: 'remoteUpdate'; remote: number; key: number; own: boolean; value: string | null }
  | { t: 'merge'; key: number; remote: number; bytes: boolean }
  | { t: 'mergeHistory'; key: number; index: number; bytes: boolean }
  | { t: 'pull'; remote: number; key: number }
  | { t: 'remove'; key: number }
  | { t: 'collect'; key: number; now: number }

const key = fc.nat(KEYS.length - 1)
const remote = fc.nat(REMOTES.length - 1)
const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 6 }))
const context: fc.Arbitrary<Context> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'fresh' as const }),
  fc.nat(20).map((index) => ({ kind: 'history' as const, index })),
  remote.map((r) => ({ kind: 'remote' as const, remote: r })),
)
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('update' as const), key, actor: fc.nat(LOCAL_ACTORS.length - 1), context, encoded: fc.boolean(), value, expiresAt: fc.constantFrom(0, 0, 5) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('remoteUpdate' as const), remote, key, own: fc.boolean(), value }) },
  // `bytes`: through mergeBytes, as replica writes arrive (the native store decides most of those in the engine).
  { weight: 3, arbitrary: fc.record({ t: fc.constant('merge' as const), key, remote, bytes: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('mergeHistory' as const), key, index: fc.nat(20), bytes: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pull' as const), remote, key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('collect' as const), key, now: fc.constantFrom(3, 10, 1_000) }) },
)

type Outcome = { ok: true; stored: Envelope; flag: boolean } | { ok: false; code: string }

function attempt(f: () => { stored: Envelope; flag: boolean }): Outcome {
  try {
    return { ok: true, ...f() }
  } catch (e) {
    if (!isRingkvError(e)) throw e
    return { ok: false, code: e.code }
  }
}

function sameOutcome(a: Outcome, b: Outcome, what: string): void {
  assert.is(a.ok, b.ok, what)
  if (a.ok && b.ok) {
    assert.ok(envelopesEqual(a.stored, b.stored), `${what}: different envelopes`)
    assert.is(a.flag, b.flag, `${what}: different flags`)
  } else if (!a.ok && !b.ok) assert.is(a.code, b.code, what)
}

const EMPTY: Envelope = { context: new Map(), siblings: [] }
const bytesOf = (e: Envelope | undefined): string => (e === undefined ? '-' : Buffer.from(encodeEnvelope(e)).toString('hex'))

test('native and memory stores agree with each other and with the versioning algebra', async () => {
  const { dir, remove } = tempDir('ringkv-store-eq-')
  const nativeStore = await NativeStore.open(dir, { engine: { durability: 'none' } })
  const memoryStore = new MemoryStore()
  let partition = 0
  // Key epochs are one counter per store, across partitions (and runs).
  const epochs = { issuer: undefined as string | undefined, next: 0, retired: new Set<string>() }
  const epochOf = (actor: string, issuer: string): number => {
    const m = actor.startsWith(`${issuer}/`) ? /^[0-9a-z]+$/.exec(actor.slice(issuer.length + 1)) : null
    return m === null ? -1 : parseInt(m[0], 36)
  }
  const chooseActor = (issuer: string, id: string, stored: Envelope | undefined): { actor: string; epoch: number; fresh: boolean } => {
    if (issuer === epochs.issuer && stored !== undefined && !epochs.retired.has(id)) {
      const best = Math.max(-1, ...[...stored.context.keys()].map((a) => epochOf(a, issuer)))
      if (best >= 0) return { actor: `${issuer}/${best.toString(36)}`, epoch: best, fresh: false }
    }
    return { actor: `${issuer}/${epochs.next.toString(36)}`, epoch: epochs.next, fresh: true }
  }
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 60, size: 'max' }), async (commands) => {
        partition++
        const stores: ReplicaStore[] = [nativeStore, memoryStore]
        const model = new Map<number, Envelope>()
        const remotes = REMOTES.map(() => new Map<number, Envelope>())
        const history: Envelope[] = []
        let time = 1
        const write = (v: string | null, expiresAt = 0): Write => ({ value: v === null ? null : Buffer.from(v), timestamp: time++, expiresAt })
        for (const [step, c] of commands.entries()) {
          const what = `step ${step}: ${JSON.stringify(c)}`
          const k = KEYS[c.key]!
          if (c.t === 'update') {
            const ctx: VersionVector | undefined =
              c.context.kind === 'none'
                ? undefined
                : c.context.kind === 'fresh'
                  ? model.get(c.key)?.context
                  : c.context.kind === 'history'
                    ? history[c.context.index % Math.max(1, history.length)]?.context
                    : remotes[c.context.remote]!.get(c.key)?.context
            const wr = write(c.value, c.expiresAt)
            const issuer = LOCAL_ACTORS[c.actor]!
            const id = `${partition}/${c.key}`
            const choice = chooseActor(issuer, id, model.get(c.key))
            const expected = attempt(() => {
              const stored = updateEnvelope(model.get(c.key), ctx, choice.actor, wr)
              if (stored.siblings.length > LIMITS.maxSiblings) throw new RingkvError('ERR_TOO_MANY_SIBLINGS', 'model')
              return { stored, flag: stored.siblings.length >= LIMITS.warnSiblings }
            })
            const outcomes = stores.map((s) => attempt(() => {
              // `encoded`: the context as a request carries it (the native store decides those writes in the engine).
              const given = c.encoded && ctx !== undefined && ctx.size > 0 ? contextBytes(encodeContext(ctx)) : ctx
              const r = s.update(partition, k, given, issuer, wr, LIMITS)
              return { stored: r.stored, flag: r.siblingWarning }
            }))
            sameOutcome(outcomes[0]!, outcomes[1]!, what)
            if (expected.ok) {
              sameOutcome(outcomes[0]!, expected, `${what} (model)`)
              model.set(c.key, expected.stored)
              if (choice.fresh) {
                if (issuer !== epochs.issuer) epochs.retired.clear()
                epochs.issuer = issuer
                epochs.next = choice.epoch + 1
                epochs.retired.delete(id)
              }
            } else sameOutcome(outcomes[0]!, expected, `${what} (model)`)
          } else if (c.t === 'remoteUpdate') {
            const r = remotes[c.remote]!
            const own = r.get(c.key)
            r.set(c.key, updateEnvelope(own, c.own ? own?.context : undefined, REMOTES[c.remote]!, write(c.value)))
          } else if (c.t === 'merge' || c.t === 'mergeHistory') {
            const incoming = c.t === 'merge' ? remotes[c.remote]!.get(c.key) : history[c.index % Math.max(1, history.length)]
            if (incoming === undefined) continue
            const before = model.get(c.key)
            const merged = mergeEnvelopes(before ?? { context: new Map(), siblings: [] }, incoming)
            const outcomes = stores.map((s) => attempt(() => {
              if (!c.bytes) {
                const r = s.merge(partition, k, incoming)
                return { stored: r.stored, flag: r.changed }
              }
              const r = s.mergeBytes(partition, k, encodeEnvelope(incoming))
              return { stored: s.get(partition, k) ?? EMPTY, flag: r.changed }
            }))
            sameOutcome(outcomes[0]!, outcomes[1]!, what)
            const changed = before === undefined ? merged.siblings.length > 0 || merged.context.size > 0 : !envelopesEqual(before, merged)
            sameOutcome(outcomes[0]!, { ok: true, stored: merged, flag: changed }, `${what} (model)`)
            if (changed) {
              const mine = epochs.issuer
              if (mine !== undefined && [...incoming.context].some(([a, n]) => epochOf(a, mine) >= 0 && n > (before?.context.get(a) ?? 0))) {
                epochs.retired.add(`${partition}/${c.key}`)
              }
              model.set(c.key, merged)
            }
          } else if (c.t === 'pull') {
            const local = model.get(c.key)
            const r = remotes[c.remote]!
            if (local !== undefined) r.set(c.key, mergeEnvelopes(r.get(c.key) ?? { context: new Map(), siblings: [] }, local))
          } else if (c.t === 'collect') {
            const current = model.get(c.key)
            const hash = current === undefined ? Buffer.alloc(32) : entryHash(encodeStorageKey(partition, k, MAX_KEY_BYTES), encodeEnvelope(current))
            const outcomes = stores.map((s) => s.collect(partition, k, hash, c.now).collected)
            const expected = current !== undefined && isObsolete(current, c.now)
            assert.equal(outcomes, [expected, expected], what)
            if (expected) {
              epochs.retired.delete(`${partition}/${c.key}`)
              model.delete(c.key)
            }
          } else {
            await Promise.all(stores.map((s) => s.remove(partition, k)))
            epochs.retired.delete(`${partition}/${c.key}`)
            model.delete(c.key)
          }
          const current = model.get(c.key)
          if (current !== undefined) history.push(current)
          for (const s of stores) assert.is(bytesOf(s.get(partition, k)), bytesOf(current), `${what}: stored bytes`)
        }
        // Scans agree, in the same order, and match the model.
        const scans = await Promise.all(
          stores.map(async (s) => {
            const out: string[] = []
            for await (const e of s.scan(partition)) out.push(`${e.key.toString('hex')}=${bytesOf(e.envelope)}`)
            return out
          }),
        )
        assert.equal(scans[0], scans[1])
        const expected = [...model.entries()]
          .sort(([a], [b]) => Buffer.compare(KEYS[a]!, KEYS[b]!))
          .map(([i, e]) => `${KEYS[i]!.toString('hex')}=${bytesOf(e)}`)
        assert.equal(scans[0], expected)
        assert.equal(nativeStore.stats(), memoryStore.stats())
        // Equal data, equal digests: root, every leaf, and the entries of every leaf.
        for (const segments of [1, 4, 64]) {
          const [n, m] = await Promise.all(stores.map((s) => s.merkle(partition, segments)))
          assert.ok(n!.root.equals(m!.root), `root with ${segments} segments`)
          assert.equal(n!.leaves.map((l) => l.toString('hex')), m!.leaves.map((l) => l.toString('hex')))
          assert.equal([n!.entries, n!.bytes], [m!.entries, m!.bytes])
          const all = Array.from({ length: segments }, (_, i) => i)
          const [ne, me] = await Promise.all(stores.map((s) => s.merkleEntries(partition, segments, all)))
          const show = (es: typeof ne) => es!.map((e) => `${e.key.toString('hex')}:${e.hash.toString('hex')}`)
          assert.equal(show(ne), show(me))
        }
      }),
      { numRuns: 150 },
    )
    assert.ok(nativeStore.stats().collected > 0, 'the runs collected something')
  } finally {
    await nativeStore.close()
    remove()
  }
})

test.run()
