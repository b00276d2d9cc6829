import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A fresh directory under the OS temp dir, and its removal. */
export function tempDir(prefix = 'ringkv-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export async function rejectsWithCode(p: Promise<unknown> | (() => unknown), code: string): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    const err = e as Error & { code?: string }
    if (err.code !== code) throw new Error(`expected code ${code}, got ${String(err.code)}: ${err.message}`)
    return err
  }
  throw new Error(`expected an error with code ${code}, but it succeeded`)
}
