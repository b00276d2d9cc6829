// Key epochs (src/storage/key-epochs.ts): which actor a write takes, the leased counter and its record, and
// retiring a key's actor when a merge shows the store lost some of its dots.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { KeyEpochs, LEASE_BLOCK, RETIRED_MAX, keyActor } from '../../../src/storage/key-epochs.ts'
import type { Envelope } from '../../../src/versioning/index.ts'

const key = (s: string): Buffer => Buffer.from(s)
const withContext = (entries: Record<string, number>): Envelope => ({ context: new Map(Object.entries(entries)), siblings: [] })

/** One write: choose, then commit; returns the actor and the record written with it. */
function write(epochs: KeyEpochs, issuer: string, k: string, stored: Envelope | undefined): { actor: string; record: Buffer | undefined } {
  const choice = epochs.choose(issuer, key(k), stored)
  return { actor: choice.actor, record: epochs.commit(choice, key(k)) }
}

test('actors: "<issuer>/<epoch in base 36>"', () => {
  assert.is(keyActor('n1#17', 0), 'n1#17/0')
  assert.is(keyActor('n1#17', 1295), 'n1#17/zz')
})

test('a new key takes the next epoch; a key whose stored envelope names an epoch of the issuer keeps the highest', () => {
  const epochs = new KeyEpochs(undefined)
  const a = write(epochs, 'n1#5', 'a', undefined)
  assert.is(a.actor, 'n1#5/0')
  assert.ok(a.record !== undefined, 'the first epoch of a lease writes the record first')
  const b = write(epochs, 'n1#5', 'b', undefined)
  assert.is(b.actor, 'n1#5/1')
  assert.is(b.record, undefined, 'inside the lease: no record')
  assert.is(write(epochs, 'n1#5', 'a', withContext({ 'n1#5/0': 3, 'n2#1/4': 9, 'n1#5/x': 1 })).actor, 'n1#5/x', 'the highest epoch is kept')
  assert.is(write(epochs, 'n1#5', 'c', withContext({ 'n2#1/4': 1, 'n1#5': 2, 'n1#50/1': 1 })).actor, 'n1#5/2', "none of the issuer's: a new epoch")
  assert.is(write(epochs, 'n1#5', 'd', withContext({ 'n1#4/0': 7 })).actor, 'n1#5/3', 'an older data epoch of the node is another issuer')
})

test('a choice whose write did not happen (refused) does not advance the counter', () => {
  const epochs = new KeyEpochs(undefined)
  const refused = epochs.choose('n1#5', key('a'), undefined)
  assert.is(refused.actor, 'n1#5/0')
  assert.is(epochs.choose('n1#5', key('b'), undefined).actor, 'n1#5/0')
})

test('the lease: a record every LEASE_BLOCK epochs; a reopened store starts after the lease, never below', () => {
  const epochs = new KeyEpochs(undefined)
  let record: Buffer | undefined
  let records = 0
  for (let i = 0; i < LEASE_BLOCK * 2 + 5; i++) {
    const r = write(epochs, 'n1#5', `k${i}`, undefined)
    if (r.record !== undefined) {
      records++
      record = r.record
    }
  }
  assert.is(records, 3)
  const reopened = new KeyEpochs(record)
  const next = reopened.state.next
  assert.ok(next >= LEASE_BLOCK * 2 + 5, `starts at ${next}`)
  assert.is(write(reopened, 'n1#5', 'new', undefined).actor, keyActor('n1#5', next))
})

test('a new issuer (a new data epoch) starts its keys afresh and writes the record', () => {
  const epochs = new KeyEpochs(undefined)
  write(epochs, 'n1#5', 'a', undefined)
  const r = write(epochs, 'n1#6', 'a', withContext({ 'n1#5/0': 1 }))
  assert.is(r.actor, 'n1#6/1')
  assert.ok(r.record !== undefined)
  assert.ok(r.record.toString().includes('"issuer":"n1#6"'))
})

test("a merge bringing the issuer's dots beyond the stored ones retires that key's actor, and only that key's", () => {
  const epochs = new KeyEpochs(undefined)
  write(epochs, 'n1#5', 'a', undefined) // n1#5/0
  write(epochs, 'n1#5', 'b', undefined) // n1#5/1
  assert.is(epochs.noteMerge(key('a'), withContext({ 'n1#5/0': 2 }), withContext({ 'n1#5/0': 2, 'n2#1/0': 5 })), undefined, 'nothing lost')
  const record = epochs.noteMerge(key('a'), undefined, withContext({ 'n1#5/0': 1 }))
  assert.ok(record !== undefined && record.toString().includes('"retiring":true'), 'the first retirement is recorded')
  assert.is(epochs.state.retiredKeys, 1)
  const again = write(epochs, 'n1#5', 'a', withContext({ 'n1#5/0': 1 }))
  assert.is(again.actor, 'n1#5/2', 'a new epoch for the retired key')
  assert.is(write(epochs, 'n1#5', 'a', withContext({ 'n1#5/0': 1, 'n1#5/2': 1 })).actor, 'n1#5/2', 'kept after that')
  assert.is(write(epochs, 'n1#5', 'b', withContext({ 'n1#5/1': 1 })).actor, 'n1#5/1', 'other keys keep theirs')
  assert.is(epochs.noteMerge(key('b'), withContext({ 'n1#5/1': 1 }), withContext({ 'n1#5/1': 3 })), undefined, 'already retiring: no new record')
  // A restart forgets which keys: every epoch issued so far is retired at once.
  const reopened = new KeyEpochs(record)
  assert.ok(reopened.state.reuseFrom >= 3, `reuseFrom ${reopened.state.reuseFrom}`)
  assert.is(write(reopened, 'n1#5', 'b', withContext({ 'n1#5/1': 3 })).actor, keyActor('n1#5', reopened.state.reuseFrom))
})

test('past RETIRED_MAX keys, every epoch below the counter is retired at once', () => {
  const epochs = new KeyEpochs(undefined)
  write(epochs, 'n1#5', 'a', undefined)
  for (let i = 0; i < RETIRED_MAX; i++) epochs.noteMerge(key(`k${i}`), undefined, withContext({ 'n1#5/0': 1 }))
  assert.is(epochs.state.retiredKeys, RETIRED_MAX)
  const record = epochs.noteMerge(key('one-more'), undefined, withContext({ 'n1#5/0': 1 }))
  assert.ok(record !== undefined)
  assert.is(epochs.state.retiredKeys, 0)
  assert.is(epochs.state.reuseFrom, 1)
  assert.is(write(epochs, 'n1#5', 'a', withContext({ 'n1#5/0': 1 })).actor, 'n1#5/1')
})

test('a bad issuer is ERR_BAD_ENVELOPE; a damaged record is ERR_CORRUPTION naming what is wrong', () => {
  const epochs = new KeyEpochs(undefined)
  for (const issuer of ['', 'a/b', 7]) {
    try {
      epochs.choose(issuer as string, key('k'), undefined)
      assert.unreachable(`accepted ${String(issuer)}`)
    } catch (e) {
      assert.ok(isRingkvError(e) && e.code === 'ERR_BAD_ENVELOPE', String(e))
    }
  }
  const bad: Array<[string, RegExp]> = [
    ['{', /does not parse/],
    ['[]', /no keyEpochs/],
    ['{"keyEpochs":{"issuer":null,"leaseEnd":-1,"reuseFrom":0,"retiring":false}}', /leaseEnd/],
    ['{"keyEpochs":{"issuer":null,"leaseEnd":4,"reuseFrom":9,"retiring":false}}', /beyond its lease/],
    ['{"keyEpochs":{"issuer":"","leaseEnd":4,"reuseFrom":0,"retiring":false}}', /issuer/],
    ['{"keyEpochs":{"issuer":null,"leaseEnd":4,"reuseFrom":0}}', /retiring/],
  ]
  for (const [text, message] of bad) {
    try {
      new KeyEpochs(Buffer.from(text))
      assert.unreachable(`accepted ${text}`)
    } catch (e) {
      assert.ok(isRingkvError(e) && e.code === 'ERR_CORRUPTION' && message.test(e.message), `${text}: ${String(e)}`)
    }
  }
  assert.is(new KeyEpochs(Buffer.from('{"floor":{"n1#1":4}}')).state.next, 0, 'the dot floor record of older stores reads as a new store')
})

test.run()
