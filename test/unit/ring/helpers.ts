// Shared fixtures for the ring tests.
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import type { Member, RingMap } from '../../../src/ring/index.ts'

/** Members n0..n{k-1}; ids sort in creation order only below 10, which the tests do not rely on. */
export function members(k: number, extra: (i: number) => Partial<Member> = () => ({})): Member[] {
  return Array.from({ length: k }, (_, i) => ({ id: `n${i}`, ...extra(i) }))
}

export function ownedCounts(ring: RingMap): Map<string, number> {
  const counts = new Map<string, number>(ring.members.map((m) => [m.id, 0]))
  for (const o of ring.owners) counts.set(o, (counts.get(o) ?? 0) + 1)
  return counts
}

export function spread(ring: RingMap): number {
  const values = [...ownedCounts(ring).values()]
  return Math.max(...values) - Math.min(...values)
}

/** Asserts that fn throws a RingkvError with the code, and a message matching `message` when given. */
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
  assert.unreachable(`expected ${code}`)
}
