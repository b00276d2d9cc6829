// Sloppy quorum (DESIGN section 4; Riak's apl with fallbacks): which nodes one write goes to.
//
// Each primary of the key's partition that is believed up takes the write itself. Each primary believed down
// is replaced by the next fallback of the preference list, in ring order, that is believed up and stands in
// for no other primary yet; that fallback keeps the write as a hint for the primary and its ack counts toward
// W (not PW: the write is not on a primary yet). A down primary for which no live fallback is left is
// `unplaced`: the coordinator keeps the hint itself, so the write still reaches it later, but nothing counts
// toward W for it.
//
// Pure: the liveness view comes in as a function, so the choice is unit-tested without a network.
import type { Replica } from './quorum.ts'

export interface WriteTarget extends Replica {
  /** For a fallback (`primary: false`): the down primary it keeps the write for. */
  readonly hintFor?: string
}

export interface SloppyWritePlan {
  /** Where the write goes, in preference-list order: live primaries and the fallbacks standing in. */
  readonly targets: readonly WriteTarget[]
  /** Down primaries no live fallback could stand in for. */
  readonly unplaced: readonly string[]
}

export function planSloppyWrite(
  primaries: readonly string[],
  fallbacks: readonly string[],
  isAlive: (node: string) => boolean,
): SloppyWritePlan {
  const targets: WriteTarget[] = []
  const unplaced: string[] = []
  let next = 0
  for (const node of primaries) {
    if (isAlive(node)) {
      targets.push({ node, primary: true })
      continue
    }
    while (next < fallbacks.length && !isAlive(fallbacks[next]!)) next++
    const fallback = fallbacks[next]
    if (fallback === undefined) {
      unplaced.push(node)
      continue
    }
    next++
    targets.push({ node: fallback, primary: false, hintFor: node })
  }
  return { targets, unplaced }
}
