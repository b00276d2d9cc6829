// The pure comparison core of anti-entropy: what differs between two replicas' trees and entry lists, and so
// which keys go which way. No I/O; the driver (anti-entropy.ts) feeds it what the store and the peer said.

import { RingkvError } from '../../errors.ts'
import type { EntryHash } from '../../storage/index.ts'

/** Indexes whose hashes differ between two equally long lists (one tree level, or part of one). */
export function differingIndexes(mine: readonly Buffer[], theirs: readonly Buffer[]): number[] {
  if (mine.length !== theirs.length) {
    throw new RingkvError('ERR_BAD_REPLY', `the peer sent ${theirs.length} hashes where ${mine.length} were expected`)
  }
  const out: number[] = []
  for (let i = 0; i < mine.length; i++) if (!mine[i]!.equals(theirs[i]!)) out.push(i)
  return out
}

export interface EntryDiff {
  /** Distinct keys listed by either side. */
  readonly compared: number
  /** Keys only this replica holds: to push. */
  readonly onlyMine: Buffer[]
  /** Keys only the peer holds: to pull. */
  readonly onlyTheirs: Buffer[]
  /** Keys both hold with different content: to push, and to pull back what the peer's merge made of them. */
  readonly differing: Buffer[]
}

function sorted(entries: readonly EntryHash[]): readonly EntryHash[] {
  for (let i = 1; i < entries.length; i++) {
    if (Buffer.compare(entries[i - 1]!.key, entries[i]!.key) >= 0) return [...entries].sort((a, b) => Buffer.compare(a.key, b.key))
  }
  return entries
}

/** Compares the entries of the same leaves on two replicas, by key. */
export function diffEntries(mine: readonly EntryHash[], theirs: readonly EntryHash[]): EntryDiff {
  const a = sorted(mine)
  const b = sorted(theirs)
  const onlyMine: Buffer[] = []
  const onlyTheirs: Buffer[] = []
  const differing: Buffer[] = []
  let compared = 0
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const order = i === a.length ? 1 : j === b.length ? -1 : Buffer.compare(a[i]!.key, b[j]!.key)
    compared++
    if (order < 0) onlyMine.push(a[i++]!.key)
    else if (order > 0) onlyTheirs.push(b[j++]!.key)
    else {
      if (!a[i]!.hash.equals(b[j]!.hash)) differing.push(a[i]!.key)
      i++
      j++
    }
  }
  return { compared, onlyMine, onlyTheirs, differing }
}
