// Shared fixtures for the membership tests.
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { GossipState, type GossipStateOptions } from '../../../src/membership/index.ts'
import { decodeDelta, decodeDigest, encodeDelta, encodeDigest } from '../../../src/membership/codec.ts'

export const CHECKSUM_A = 'a'.repeat(64)
export const CHECKSUM_B = 'b'.repeat(64)

export function node(id: string, generation = 1000, extra: Partial<GossipStateOptions> = {}): GossipState {
  return new GossipState({ self: { id, address: `${id}:7000` }, generation, status: 'normal', ...extra })
}

/** One three-message push-pull exchange from `a` to `b` through the codec, at `nowMs`. */
export function exchange(a: GossipState, b: GossipState, nowMs: number): void {
  const syn = decodeDigest(encodeDigest(a.digest()))
  const ack = decodeDelta(encodeDelta(b.delta(syn)))
  a.apply(ack, nowMs)
  const ack2 = decodeDelta(encodeDelta(a.requested(ack.wants)))
  b.apply(ack2, nowMs)
}

export function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn()
  } catch (err) {
    if (!isRingkvError(err, code)) {
      assert.unreachable(`expected a RingkvError ${code}, got ${String(err)}`)
      return
    }
    if (message !== undefined) assert.match(err.message, message)
    return
  }
  assert.unreachable(`expected a RingkvError ${code}, nothing was thrown`)
}
