// Shared fixtures for the coordinator tests.
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import type { Replica } from '../../../src/coordinator/index.ts'

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b))

/** Replicas from a compact spec: 'n1 n2 f3' = primaries n1, n2 and fallback f3 (a leading 'f' marks a fallback). */
export function replicas(spec: string): Replica[] {
  return spec
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .map((node) => ({ node, primary: !node.startsWith('f') }))
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
  assert.unreachable(`expected ${code}`)
}

export function throwsType(fn: () => unknown, type: typeof RangeError | typeof TypeError, message?: RegExp): void {
  try {
    fn()
  } catch (err) {
    assert.instance(err, type)
    if (message !== undefined) assert.match((err as Error).message, message)
    return
  }
  assert.unreachable(`expected a ${type.name}`)
}
