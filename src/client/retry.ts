// When a failed request is sent again, to another coordinator -- a pure decision, so its rules are tested
// without a network.
//
// What may be retried depends on what failed and how far the request got:
//
//   delivered  'no'     it never left the client (the connection could not be made or was not open), or it
//                       was refused unprocessed: ERR_OVERLOADED, from our own send queue or from a node
//                       shedding load, ERR_SHUTTING_DOWN from a node that is closing, or ERR_NOT_READY from
//                       a node that is starting. Safe to send anywhere, reads and writes alike.
//              'maybe'  it was handed to a connection that then timed out or closed: the node may have
//                       applied it.
//              'yes'    the node answered with an error.
//
// - Connection-level failures (ERR_CONNECT_FAILED, ERR_CONNECTION_CLOSED, ERR_TIMEOUT, ERR_OVERLOADED) are
//   retried for reads; for writes only when delivered is 'no', or with `retryWrites`. The reason: a write
//   that did land and is sent again, with the same (now superseded) context, is concurrent with its first
//   copy -- the node keeps both as siblings, and every reader sees a duplicate until someone resolves it.
// - A node that says it cannot coordinate with our view of the ring (RING_STALE_CODES) refused before doing
//   anything: retried, reads and writes, and the ring is fetched again.
// - ERR_QUORUM with details.retryable (too few replicas answered in time; another coordinator may reach
//   others) is retried for reads only: a write's quorum failure may still have been applied on some replicas.
// - Every other error is the node's answer about the request itself (ERR_BAD_REQUEST, ERR_BAD_CONTEXT,
//   ERR_QUORUM without retryable, ...): sending it elsewhere would get the same answer.
import type { RingkvError } from '../errors.ts'
import { ErrorCode, TRY_ELSEWHERE_CODES } from '../protocol/error-codes.ts'
import type { Random } from '../runtime/random.ts'

export type Delivery = 'no' | 'maybe' | 'yes'
export type OperationKind = 'read' | 'write'

export const CONNECTION_ERROR_CODES: ReadonlySet<string> = TRY_ELSEWHERE_CODES

/** Refusals: the node did not process the request, however the refusal came back (transport error or error reply). */
const REFUSAL_CODES: ReadonlySet<string> = new Set([ErrorCode.OVERLOADED, ErrorCode.SHUTTING_DOWN, ErrorCode.NOT_READY])

/**
 * Codes by which a node says the client's ring is stale: it does not replicate what it was asked, or does not
 * know the ring the client routed by. Each makes the client fetch the ring again and retry elsewhere.
 */
export const RING_STALE_CODES: ReadonlySet<string> = new Set(['ERR_NOT_REPLICA', 'ERR_UNKNOWN_RING', 'ERR_RING_MISMATCH'])

/**
 * How far a request that failed with `error` got, given how far the client saw it get: 'maybe' (handed to a
 * connection that then failed) or 'yes' (the node answered with an error). A refusal means 'no' either way.
 */
export function deliveryOf(error: RingkvError, seen: Delivery = 'maybe'): Delivery {
  if (REFUSAL_CODES.has(error.code)) return 'no'
  if (seen !== 'maybe') return seen
  if (error.code === ErrorCode.TIMEOUT || error.code === ErrorCode.CONNECTION_CLOSED) return 'maybe'
  return 'yes'
}

export function shouldRetry(error: RingkvError, delivered: Delivery, kind: OperationKind, retryWrites: boolean): boolean {
  const code = error.code
  if (CONNECTION_ERROR_CODES.has(code)) return kind === 'read' || delivered === 'no' || retryWrites
  if (delivered === 'no') return false
  if (RING_STALE_CODES.has(code)) return true
  if (code === 'ERR_QUORUM') return kind === 'read' && error.details?.['retryable'] === true
  return false
}

/** Cap of the backoff, as a multiple of its base. */
const MAX_BACKOFF_FACTOR = 16

/**
 * The pause before retry number `attempt` (1 for the first retry): base x 2^(attempt-1), capped at 16x base,
 * then scaled by a random factor in [0.5, 1) so that clients that failed together do not retry together.
 */
export function backoffMs(attempt: number, baseMs: number, random: Random): number {
  if (baseMs === 0) return 0
  const ceiling = baseMs * Math.min(MAX_BACKOFF_FACTOR, 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random.next() / 2))
}
