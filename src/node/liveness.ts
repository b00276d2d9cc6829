// Which members this node believes are up, as its failure detector says (DESIGN section 5). The coordinator
// uses it to replace a down replica by a fallback (sloppy quorum), hinted handoff to know when to deliver,
// anti-entropy and streaming to choose whom to talk to. The gossip membership implements it.
export interface Liveness {
  /** Whether this node considers the member up. This node itself is always up; unknown members are not. */
  isAlive(node: string): boolean
  /** Called when a member this node considered down is up again; returns an unsubscribe function. */
  onAlive(listener: (node: string) => void): () => void
}

/** Every member is up: for a node whose membership has no failure detector. */
export const everyoneAlive: Liveness = Object.freeze({
  isAlive: () => true,
  onAlive: () => () => {},
})
