// The coordinator's read driver (src/node/read.ts) over a memory store and scripted peers, on virtual time:
// whom it asks, when it asks more, and what it answers.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RingkvError } from '../../../src/errors.ts'
import { ReplicaDigestsReply, decodeReplicaDigests, decodeReplicaGet, encodeReplicaGetReply } from '../../../src/cluster/messages.ts'
import { valueDigest } from '../../../src/engine/index.ts'
import { MessageType } from '../../../src/protocol/message-types.ts'
import { DeadlineQueue } from '../../../src/net/deadlines.ts'
import { QuorumRead, type ReadContext } from '../../../src/node/read.ts'
import { DigestReads } from '../../../src/node/digest-reads.ts'
import { ReplicaLatency } from '../../../src/node/replica-latency.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { MemoryStore, encodeStorageKey } from '../../../src/storage/index.ts'
import { encodeEnvelope, updateEnvelope, type Envelope } from '../../../src/versioning/index.ts'

const KEY = Buffer.from('k')
const PARTITION = 7
const replicas = ['a', 'b', 'c'].map((node) => ({ node, primary: true }))

/** How each peer answers: with an envelope (or undefined: not found) after `delayMs`, or with an error code. */
type Script = { envelope?: Envelope; delayMs?: number; code?: string; never?: boolean; oldRelease?: boolean; withhold?: boolean }

function setup(self: string, scripts: Record<string, Script>, local?: Envelope, down: readonly string[] = []) {
  const clock = new VirtualClock()
  const store = new MemoryStore()
  if (local !== undefined) store.merge(PARTITION, KEY, local)
  const asked: string[] = []
  /** What each request was: a digest read or a plain one. */
  const kinds: string[] = []
  const answerOf = (node: string, q: { partition: number; key: Uint8Array; digest: Uint8Array | undefined }): { stored: Uint8Array | undefined; same: boolean } => {
    assert.equal({ partition: q.partition, key: q.key }, { partition: PARTITION, key: KEY })
    const s = scripts[node] ?? {}
    const stored = s.envelope === undefined ? undefined : encodeEnvelope(s.envelope)
    const same = stored === undefined ? q.digest === undefined : q.digest !== undefined && valueDigest(stored).equals(q.digest)
    return { stored, same }
  }
  const peers = {
    request: (node: string, type: number, payload: Uint8Array): Promise<Buffer> => {
      const s = scripts[node] ?? {}
      let answer: Buffer
      if (type === MessageType.REPLICA_DIGESTS) {
        const entries = decodeReplicaDigests(payload)
        const reply = new ReplicaDigestsReply(entries.length, 64)
        for (const q of entries) {
          asked.push(node)
          kinds.push('digest')
          const { stored, same } = answerOf(node, q)
          if (same) reply.same()
          else if (s.withhold === true) reply.withheld()
          else reply.differs(stored)
        }
        answer = reply.finish()
      } else {
        assert.is(type, MessageType.REPLICA_GET)
        assert.equal(decodeReplicaGet(payload), { partition: PARTITION, key: KEY })
        asked.push(node)
        kinds.push('plain')
        answer = encodeReplicaGetReply(answerOf(node, { partition: PARTITION, key: KEY, digest: undefined }).stored)
      }
      if (s.never) return new Promise<Buffer>(() => {})
      return new Promise<Buffer>((resolve, reject) => {
        clock.setTimeout(() => {
          if (s.code !== undefined) reject(new RingkvError(s.code, `${node} failed`))
          else if (s.oldRelease === true && type === MessageType.REPLICA_DIGESTS) reject(new RingkvError('ERR_UNKNOWN_MESSAGE', 'no handler'))
          else resolve(answer)
        }, s.delayMs ?? 1)
      })
    },
  }
  const context: ReadContext = {
    self,
    store,
    clock,
    latency: new ReplicaLatency({ initialMs: 10, minMs: 2, maxMs: 1000 }),
    speculation: new DeadlineQueue<QuorumRead>(clock, (read) => read.speculate()),
    // Sent at once, one read per request: the tests below look at whom each read asks, right after start().
    digests: new DigestReads(peers, () => clock.monotonic(), (flush) => flush()),
    isAlive: (node) => !down.includes(node),
    peers,
  }
  const read = (r = 2, turn = 0) => new QuorumRead(context, { partition: PARTITION, key: KEY, replicas, remotes: replicas.map((x) => x.node).filter((x) => x !== self), selfIsReplica: replicas.some((x) => x.node === self), n: 3, r, pr: 0, now: 0, timeoutMs: 5000, turn })
  return { clock, asked, kinds, read, store }
}

const v1 = updateEnvelope(undefined, undefined, 'a#1', { value: Buffer.from('one'), timestamp: 1 })
const v2 = updateEnvelope(v1, v1.context, 'b#1', { value: Buffer.from('two'), timestamp: 2 })

test('a replica coordinator reads its own copy and asks one other replica at R=2, rotating which', async () => {
  const { clock, asked, read } = setup('a', { b: { envelope: v1 }, c: { envelope: v1 } }, v1)
  const first = read(2, 0)
  first.start()
  const second = read(2, 1)
  second.start()
  assert.equal(asked, ['b', 'c'], 'one remote each, successive reads start at successive replicas')
  await clock.advance(5)
  await first.settled()
  assert.is(first.core.status(), 'ok')
  assert.equal(first.core.repairs().blocking, [])
  assert.equal(first.core.answer()?.siblings.map((s) => Buffer.from(s.value!).toString()), ['one'])
})

test('a failed replica is replaced at once; a stale one is named for repair', async () => {
  const { clock, asked, read } = setup('a', { b: { code: 'ERR_CONNECT_FAILED' }, c: { envelope: v1 } }, v2)
  const r = read(2, 0)
  r.start()
  await clock.advance(1)
  assert.equal(asked, ['b', 'c'])
  await clock.advance(1)
  await r.settled()
  assert.is(r.core.status(), 'ok')
  assert.equal(r.core.repairs().blocking, ['c'], 'c answered with the older version')
})

test('a replica believed down is asked last, whichever turn it is', async () => {
  const { clock, asked, read } = setup('a', { b: { envelope: v1 }, c: { envelope: v1 } }, v1, ['b'])
  for (const turn of [0, 1, 2, 3]) read(2, turn).start()
  assert.equal(asked, ['c', 'c', 'c', 'c'], 'b is never the first choice while believed down')
  await clock.advance(5)
  // When every live replica fails, the one believed down is still tried: the detector can be wrong.
  const failing = setup('a', { b: { envelope: v1 }, c: { code: 'ERR_CONNECT_FAILED' } }, v1, ['b'])
  const r = failing.read(2, 0)
  r.start()
  await failing.clock.advance(5)
  await r.settled()
  assert.equal(failing.asked, ['c', 'b'])
  assert.is(r.core.status(), 'ok')
})

test('a read still short of its quorum after the replicas p99 asks one more replica', async () => {
  const { clock, asked, kinds, read } = setup('a', { b: { never: true }, c: { envelope: v1 } }, v1)
  const r = read(2, 0)
  r.start()
  assert.equal(asked, ['b'])
  await clock.advance(9)
  assert.equal(asked, ['b'], 'not before the speculative delay (10 ms before any sample)')
  await clock.advance(2)
  assert.equal(asked, ['b', 'c'])
  await clock.advance(2)
  await r.settled()
  assert.is(r.core.status(), 'ok')
  assert.equal(kinds, ['digest', 'plain'], 'once speculating, the read is the general one')
})

test('a node that is not a replica asks R replicas; R=all asks everyone; too many failures fail the read', async () => {
  const outside = setup('x', { a: { envelope: v1 }, b: { envelope: v1 }, c: { envelope: v1 } })
  const r = outside.read(2, 0)
  r.start()
  assert.equal(outside.asked.length, 2)
  await outside.clock.advance(2)
  await r.settled()
  assert.is(r.core.status(), 'ok')

  const all = setup('a', { b: { envelope: v1 }, c: { envelope: undefined } }, v1)
  const everyone = all.read(3, 0)
  everyone.start()
  assert.equal(all.asked, ['b', 'c'])
  await all.clock.advance(2)
  await everyone.settled()
  assert.equal(everyone.core.repairs().blocking, ['c'], 'the replica without the key is repaired')

  const down = setup('a', { b: { code: 'ERR_CONNECT_FAILED' }, c: { code: 'ERR_TIMEOUT' } }, v1)
  const failing = down.read(2, 0)
  failing.start()
  await down.clock.advance(5)
  await failing.settled()
  assert.is(failing.core.status(), 'failed')
  assert.is(failing.core.quorumError()?.code, 'ERR_QUORUM')
  let drained = false
  failing.whenDrained(() => (drained = true))
  assert.ok(drained, 'every asked replica has answered')
})

test('byte-equal copies end the read as agreed, with no core until asked for; anything else builds the core', async () => {
  const same = setup('a', { b: { envelope: v2 }, c: { envelope: v2 } }, v2)
  const r = same.read(2, 0)
  r.start()
  assert.is(r.status(), 'pending')
  await same.clock.advance(2)
  await r.settled()
  assert.ok(r.agreed)
  assert.is(r.status(), 'ok')
  assert.equal(same.asked, ['b'])
  assert.equal(same.kinds, ['digest'], 'one digest read: the value never crossed the network')
  assert.equal(r.localBytes, encodeEnvelope(v2), 'the answer is this node\'s stored bytes')
  // The core built afterwards says what the general read would have said.
  assert.is(r.core.status(), 'ok')
  assert.equal(r.core.repairs().blocking, [])
  assert.equal(r.core.answer()?.siblings.map((s) => Buffer.from(s.value!).toString()), ['two'])

  const absent = setup('a', { b: { envelope: undefined } })
  const notFound = absent.read(2, 0)
  notFound.start()
  await absent.clock.advance(2)
  await notFound.settled()
  assert.ok(notFound.agreed, 'two replicas without the key agree too')
  assert.is(notFound.localBytes, undefined)

  const differs = setup('a', { b: { envelope: v1 }, c: { envelope: v2 } }, v2)
  const stale = differs.read(2, 0)
  stale.start()
  await differs.clock.advance(2)
  await stale.settled()
  assert.not.ok(stale.agreed)
  assert.equal(differs.asked, ['b'], 'the differing copy came back in the digest read\'s own reply')
  assert.is(stale.core.status(), 'ok')
  assert.equal(stale.core.repairs().blocking, ['b'])
})

for (const [what, script, local, repaired] of [
  ['a replica of an older release, without digest reads, is asked again the plain way', { envelope: v2, oldRelease: true }, v2, []],
  ['a differing copy the batch reply had no room for is asked for alone, the plain way', { envelope: v1, withhold: true }, v2, ['b']],
] as const) {
  test(what, async () => {
    const { clock, asked, kinds, read } = setup('a', { b: script, c: { envelope: v2 } }, local)
    const r = read(2, 0)
    r.start()
    await clock.advance(3)
    await r.settled()
    assert.equal(asked, ['b', 'b'])
    assert.equal(kinds, ['digest', 'plain'])
    assert.is(r.status(), 'ok')
    assert.equal(r.core.repairs().blocking, [...repaired], 'a copy older than the answer (by REPLICA_GET) is named for repair')
  })
}

test('a copy here that does not decode is not agreed on: another replica is asked at once and the answer is theirs', async () => {
  const { clock, asked, read, store } = setup('a', { b: { envelope: v2 }, c: { envelope: v2 } })
  store.backing.put(encodeStorageKey(PARTITION, KEY, store.limits.maxKeyBytes), Buffer.from([9, 9, 9]))
  const r = read(2, 0)
  r.start()
  await clock.advance(2)
  await r.settled()
  assert.not.ok(r.agreed)
  assert.equal(asked, ['b', 'c'], 'c asked as soon as this node\'s copy proved unreadable, not after the speculative delay')
  assert.ok(clock.now() < 10)
  assert.is(r.core.status(), 'ok')
  assert.equal(r.core.answer()?.siblings.map((s) => Buffer.from(s.value!).toString()), ['two'])
})

test.run()
