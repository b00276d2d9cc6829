// Shared fixtures for the versioning tests.
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import type { Envelope } from '../../../src/versioning/index.ts'

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
export const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b))

/** Sibling values as strings, in canonical order: the readable shape of an envelope. */
export function values(env: Envelope): Array<string | null> {
  return env.siblings.map((s) => text(s.value))
}

export function dots(env: Envelope): string[] {
  return env.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`)
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
