// uvu's `test`, except that a failure whose error carries an object `details` (every RingkvError with
// details) is rethrown as a plain Error showing code, message and details: uvu 0.5 cannot format such an
// error, and would drop the failure and the rest of the file (scripts/uvu.mjs then fails the run without
// saying why). Integration tests hit real clusters, where the details are what tells a flake from a bug.
import { test as uvuTest } from 'uvu'

type Handler = Parameters<typeof uvuTest>[1]

export function readableError(e: unknown): unknown {
  if (!(e instanceof Error)) return e
  const { details, code } = e as Error & { details?: unknown; code?: unknown }
  if (details === undefined || typeof details === 'string') return e
  const plain = new Error(`${typeof code === 'string' ? `${code}: ` : ''}${e.message} ${JSON.stringify(details)}`, { cause: e })
  plain.stack = `${plain.message}\n${(e.stack ?? '').split('\n').slice(1).join('\n')}`
  return plain
}

function wrap(fn: Handler): Handler {
  return async (context) => {
    try {
      await fn(context)
    } catch (e) {
      throw readableError(e)
    }
  }
}

export const test = Object.assign((name: string, fn: Handler) => uvuTest(name, wrap(fn)), {
  before: uvuTest.before,
  after: uvuTest.after,
  run: uvuTest.run,
})
