// The digest read's messages (REPLICA_GET_UNLESS): round trips, and malformed replies named.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import {
  decodeReplicaGetUnless,
  decodeReplicaGetUnlessReply,
  encodeReplicaGetUnless,
  encodeReplicaGetUnlessReply,
  REPLICA_SAME_REPLY,
} from '../../../src/cluster/messages.ts'
import { valueDigest } from '../../../src/engine/index.ts'

test('request: partition, key and the digest (absent when the coordinator has no copy)', () => {
  const digest = valueDigest(Buffer.from('envelope bytes'))
  const q = decodeReplicaGetUnless(encodeReplicaGetUnless({ partition: 513, key: Buffer.from('k1'), digest }))
  assert.is(q.partition, 513)
  assert.equal(Buffer.from(q.key), Buffer.from('k1'))
  assert.equal(Buffer.from(q.digest!), digest)
  assert.is(decodeReplicaGetUnless(encodeReplicaGetUnless({ partition: 0, key: Buffer.from('k'), digest: undefined })).digest, undefined)
})

test("reply: 'same' carries nothing; otherwise the replica's bytes, or none", () => {
  assert.equal(decodeReplicaGetUnlessReply(REPLICA_SAME_REPLY), { same: true })
  assert.is(REPLICA_SAME_REPLY.length, 1)
  const differs = decodeReplicaGetUnlessReply(encodeReplicaGetUnlessReply(Buffer.from('theirs')))
  assert.equal(differs.same, false)
  assert.equal(differs.same === false && differs.envelope?.toString(), 'theirs')
  assert.equal(decodeReplicaGetUnlessReply(encodeReplicaGetUnlessReply(undefined)), { same: false, envelope: undefined })
})

test('malformed replies are ERR_BAD_REPLY', () => {
  for (const bad of [Buffer.from([]), Buffer.from([2]), Buffer.from([1, 0]), Buffer.from([0, 1, 0, 0])]) {
    try {
      decodeReplicaGetUnlessReply(bad)
      assert.unreachable(`accepted ${bad.toString('hex')}`)
    } catch (e) {
      assert.ok(isRingkvError(e, 'ERR_BAD_REPLY'), `${bad.toString('hex')}: ${String(e)}`)
    }
  }
})

test.run()
