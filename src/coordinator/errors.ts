// The coordinator's quorum failure (STYLE practice 8): a RingkvError with code ERR_QUORUM whose details say
// what was required, what was received, which replica failed how, and whether the caller may retry.
//
// `retryable` answers "could the same request succeed if sent again, elsewhere or a little later?". It is
// true when every replica error was one of unavailability -- a timeout, a closed or refused connection, an
// overloaded peer -- and when the request failed without any error at all (too few replicas, or too few
// primaries, were reachable to ask). One refusal (a write over the sibling limit, a bad request, an internal
// error) makes it false: the replica would refuse again.

import { RingkvError } from '../errors.ts'

/** Replica error codes that mean "unavailable right now", not "refused". */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['ERR_TIMEOUT', 'ERR_CONNECTION_CLOSED', 'ERR_CONNECT_FAILED', 'ERR_OVERLOADED'])

export function isRetryableCode(code: string): boolean {
  return RETRYABLE_CODES.has(code)
}

export type QuorumErrorDetails = {
  readonly op: 'read' | 'write'
  /** r or w. */
  readonly required: number
  /** Replies (reads: found or not found) or acks (writes) counted. */
  readonly received: number
  /** pr or pw, present when the request set one (> 0). */
  readonly primaryRequired?: number
  readonly primaryReceived?: number
  /** dw, present when a write set it (> 0). */
  readonly durableRequired?: number
  readonly durableReceived?: number
  /** Node id -> error code, for every replica that failed. */
  readonly errors: Readonly<Record<string, string>>
  readonly retryable: boolean
}

/** Input of QuorumError: the details without `retryable`, which follows from the errors. */
export type QuorumCounts = Omit<QuorumErrorDetails, 'errors' | 'retryable'> & {
  /** [node, code] in the order the replicas were listed. */
  readonly errors: ReadonlyArray<readonly [string, string]>
  /** How many replicas were asked and how many of them are primaries: the message's explanation when no replica failed. */
  readonly asked: number
  readonly primariesAsked: number
}

export class QuorumError extends RingkvError {
  declare readonly details: QuorumErrorDetails

  constructor(counts: QuorumCounts) {
    const { asked, primariesAsked, errors, ...rest } = counts
    const details: QuorumErrorDetails = {
      ...rest,
      errors: Object.fromEntries(errors),
      retryable: errors.every(([, code]) => isRetryableCode(code)),
    }
    super('ERR_QUORUM', message(counts), { details })
    this.name = 'QuorumError'
  }
}

function replicas(count: number): string {
  return `${count} ${count === 1 ? 'replica' : 'replicas'}`
}

function primaries(count: number): string {
  return `${count} ${count === 1 ? 'primary' : 'primaries'}`
}

function message(c: QuorumCounts): string {
  const verb = c.op === 'read' ? 'replied' : 'acknowledged'
  const unmet: string[] = []
  if (c.received < c.required) unmet.push(`${c.received} of ${replicas(c.required)} ${verb}`)
  if (c.primaryRequired !== undefined && (c.primaryReceived ?? 0) < c.primaryRequired) {
    unmet.push(`${c.primaryReceived ?? 0} of ${primaries(c.primaryRequired)} ${verb}`)
  }
  if (c.durableRequired !== undefined && (c.durableReceived ?? 0) < c.durableRequired) {
    unmet.push(`${c.durableReceived ?? 0} of ${replicas(c.durableRequired)} ${verb} durably`)
  }
  // Called only for a failed request, so one requirement is unmet; the fallback keeps the message whole anyway.
  if (unmet.length === 0) unmet.push(`${c.received} of ${replicas(c.required)} ${verb}`)
  const why =
    c.errors.length > 0
      ? c.errors.map(([node, code]) => `${node}: ${code}`).join(', ')
      : `no replica failed; ${replicas(c.asked)} asked, ${primaries(c.primariesAsked)} among them`
  return `${c.op} quorum not met: ${unmet.join(', ')} (${why})`
}
