/**
 * Message type ids — APPEND-ONLY.
 *
 * An id, once released, is never reused and never renumbered, not even after its message is retired: nodes of
 * different releases talk to each other during a rolling upgrade, and a reused id would make an old node
 * misread a new message. To retire a message, keep its line and mark it retired. New messages take the next
 * free id at the end of their range.
 *
 *   0        invalid (a frame with type 0 is malformed)
 *   1..15    the connection layer (src/net/rpc.ts); handled inside the connection, never in a handler table
 *   16..     application messages, one handler each, registered in one table by the node's composition root
 */
export const MessageType = Object.freeze({
  /** Liveness and round-trip probe: the response echoes the request payload. Any side may send it. */
  PING: 1,
  /** One-way, connection level: "your bytes were malformed" (an error payload); the sender then closes. */
  ERROR: 2,
  /** Version negotiation, the first request of every connection (payloads in hello.ts). Frozen forever. */
  HELLO: 3,

  // Client operations (payloads in src/cluster/messages.ts). Any node coordinates.
  CLIENT_GET: 16,
  CLIENT_PUT: 17,
  CLIENT_DELETE: 18,
  CLIENT_SCAN: 19,
  /** The ring map and member addresses, for token-aware clients. */
  CLIENT_RING: 20,

  // Between nodes (payloads in src/cluster/messages.ts).
  REPLICA_GET: 32,
  /** Merge an envelope into the replica's copy (replication, read repair, hints). */
  REPLICA_PUT: 33,
  REPLICA_SCAN: 34,
  /** Retired (static membership, replaced by gossip): never reuse. */
  MEMBERS: 35,

  // Gossip and the ring (payloads in src/membership/codec.ts and src/node/ring-state.ts).
  /** Gossip SYN; the response is the ACK (push-pull, gossip-state.ts). */
  GOSSIP_SYN: 36,
  /** Gossip ACK2: the states the ACK asked for; empty response. */
  GOSSIP_ACK2: 37,
  /** The sender's ring state (current ring map, pending ring map if a join or leave is under way). */
  RING_GET: 38,
  /** This node's view of the cluster for `ringkv status`: members, status, phi, ownership. */
  ADMIN_STATUS: 39,

  // Anti-entropy (payloads in src/node/anti-entropy codecs).
  /** A partition's Merkle leaves on the receiver. */
  AE_TREE: 40,
  /** Keys and entry hashes in some leaves of a partition. */
  AE_ENTRIES: 41,
  /** A batch of envelopes to merge, answered with the receiver's merged envelopes for keys it asked for. */
  AE_SYNC: 42,
  /** `ringkv repair`: run an anti-entropy round now and report what it compared and repaired. */
  ADMIN_REPAIR: 43,

  // Hinted handoff.
  /** A write for a replica that is down, stored by a fallback as a hint for that replica. */
  HINTED_PUT: 44,

  // Join and decommission (ownership transfer).
  /** Pull a partition's data from one source, a page at a time (resumable by last key). */
  STREAM_PAGE: 48,
  /** Ask a node to fetch the partitions it gains under the pending ring. */
  STREAM_PULL: 49,
  /** `ringkv join`: the receiving node joins the cluster's ring. */
  ADMIN_JOIN: 50,
  /** `ringkv decommission`: the receiving node hands its partitions over and leaves the ring. */
  ADMIN_DECOMMISSION: 51,
  /** `ringkv abort`: discard a pending ring change whose driving node is gone; the current ring stays. */
  ADMIN_ABORT: 52,

  // Reads.
  /**
   * A digest read: "send me your copy unless its digest is this one". Answered with 'same' (nothing sent) or the
   * replica's stored bytes, so replicas that agree exchange 16 bytes instead of the value.
   */
  REPLICA_GET_UNLESS: 53,
  /**
   * Many digest reads to one replica in one request: a coordinator's digest reads of one event-loop turn to that
   * replica, answered entry by entry (src/node/digest-reads.ts). Saves the per-frame work of one request each.
   */
  REPLICA_DIGESTS: 54,
} as const)
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

/** The first id available to application messages. */
export const FIRST_APPLICATION_MESSAGE_TYPE = 16
export const MAX_MESSAGE_TYPE = 0xffff

const NAMES = new Map<number, string>(Object.entries(MessageType).map(([name, id]) => [id, name]))

/** 'PING', or 'type 42' for ids this table does not name (application tables name their own). */
export function messageTypeName(type: number): string {
  return NAMES.get(type) ?? `type ${type}`
}
