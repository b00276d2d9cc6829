// Which failures of a replica write mean "this replica will not take this write, however often it is sent"
// rather than "the replica could not be reached now". A write refused that way gets no hint (it would be
// refused again), and a hint refused that way is dropped rather than retried forever: left at the head of
// its target's queue, it would hold back every hint behind it. Everything else -- timeouts, connections,
// overload, a node shutting down, errors we do not know -- is worth another try.
const REFUSALS: ReadonlySet<string> = new Set([
  'ERR_BAD_REQUEST',
  'ERR_BAD_ENVELOPE',
  'ERR_KEY_TOO_LARGE',
  'ERR_VALUE_TOO_LARGE',
  // The replica's stored envelope does not decode: it refuses every merge until the key is repaired.
  'ERR_CORRUPTION',
])

export function isRefusal(code: string): boolean {
  return REFUSALS.has(code)
}
