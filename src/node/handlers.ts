// One handler per message type, registered in one table (STYLE practice 7). Client messages answer
// with their own status so errors reach clients with details; replica messages fail through the
// transport's error-response.
import { RingkvError } from '../errors.ts'
import {
  decodeGetRequest,
  decodeReplicaGet,
  decodeReplicaGetUnless,
  decodeReplicaDigests,
  ReplicaDigestsReply,
  type ReplicaGetUnless,
  decodeReplicaPut,
  decodeReplicaScan,
  decodeScanRequest,
  decodeWriteRequest,
  encodeEmptyReply,
  encodeGetReply,
  encodePutReply,
  encodeReplicaGetReply,
  encodeReplicaGetUnlessReply,
  REPLICA_SAME_REPLY,
  encodeReplicaPutReply,
  encodeReplicaScanReply,
  encodeRingReply,
  encodeScanReply,
  errorReply,
} from '../cluster/messages.ts'
import type { MemberInfo } from '../cluster/api.ts'
import { ErrorCode } from '../protocol/error-codes.ts'
import { MessageType, messageTypeName } from '../protocol/message-types.ts'
import { handlerTable, type Handler, type HandlerTable } from '../net/index.ts'
import { encodeRingMap, type RingMap } from '../ring/index.ts'
import type { ReplicaStore } from '../storage/index.ts'
import type { Logger } from '../runtime/index.ts'
import { scanLocal, type Coordinator } from './coordinator.ts'

export interface HandlerDeps {
  coordinator: Coordinator
  store: ReplicaStore
  ring: () => RingMap
  members: () => MemberInfo[]
  /** Handlers of the node's other parts (gossip, anti-entropy, hints, streaming), one per message type. */
  extra: ReadonlyArray<readonly [number, Handler]>
  logger: Logger
  /** Whether the store's write promises mean fsynced. */
  durableWrites: boolean
  /**
   * Whether this node coordinates client requests yet. A node that has just started listens before its first
   * gossip exchanges end (peers must reach it), but until they do it knows no peer as up: it would fail every
   * write for want of replicas. Until then client requests are refused unprocessed with ERR_NOT_READY, which
   * clients send elsewhere. Absent: always.
   */
  ready?: () => boolean
}

/** How many bytes of envelopes one REPLICA_DIGESTS reply carries at most (well under any frame limit). */
const DIGESTS_REPLY_BUDGET_BYTES = 1024 * 1024

/**
 * Whether this replica's copy of `q`'s key has `q.digest` (both absent counts): a digest read's question. The digest
 * is computed where the value lies; the bytes are read out only when they differ.
 */
function hasDigest(store: ReplicaStore, q: ReplicaGetUnless): boolean {
  const digest = store.getDigest(q.partition, q.key)
  return digest === undefined ? q.digest === undefined : q.digest !== undefined && Buffer.compare(digest, q.digest) === 0
}

/**
 * A REPLICA_DIGESTS reply built entry by entry with getDigest and getBytes: what a store without `answerDigests`
 * (the memory store) answers, and what the native store's answer must equal. A reply that would outgrow
 * `budgetBytes` leaves an entry's bytes out: the coordinator asks for them alone.
 */
export function answerDigestsInTypeScript(store: ReplicaStore, payload: Uint8Array, budgetBytes: number, logger: Logger): Uint8Array {
  const entries = decodeReplicaDigests(payload)
  const reply = new ReplicaDigestsReply(entries.length, 4 + 2 * entries.length)
  for (const q of entries) {
    try {
      if (hasDigest(store, q)) {
        reply.same()
        continue
      }
      const bytes = store.getBytes(q.partition, q.key)
      if (bytes !== undefined && reply.bytes + bytes.length > budgetBytes) reply.withheld()
      else reply.differs(bytes)
    } catch (e) {
      reply.failed(asRingkvError(e, logger).code)
    }
  }
  return reply.finish()
}

function asRingkvError(e: unknown, logger: Logger): RingkvError {
  if (e instanceof RingkvError) return e
  logger.error('unexpected error in a request handler', { error: e instanceof Error ? e.stack : String(e) })
  return new RingkvError('ERR_INTERNAL', 'internal error')
}

/** A client handler: its failures become error replies carrying code, message and details. */
function client(logger: Logger, body: (payload: Buffer) => Promise<Uint8Array>): Handler {
  return async (payload) => {
    try {
      return await body(payload)
    } catch (e) {
      return errorReply(asRingkvError(e, logger))
    }
  }
}

export function createHandlers(d: HandlerDeps): HandlerTable {
  const { coordinator, store, logger } = d
  const ready = d.ready ?? (() => true)
  const notReady = (type: number): Uint8Array =>
    errorReply(
      new RingkvError(
        ErrorCode.NOT_READY,
        `${messageTypeName(type)} refused unprocessed: the node is starting and does not coordinate until it has heard from its peers`,
      ),
    )
  /** A client handler that waits for the node to be ready (see HandlerDeps.ready). */
  const gated =
    (type: number, handler: Handler): Handler =>
    (payload, context) =>
      ready() ? handler(payload, context) : notReady(type)
  return handlerTable([
    [
      MessageType.CLIENT_GET,
      // The busiest handler, written without the async wrapper of client(): one promise per read, not three.
      (payload) => {
        if (!ready()) return notReady(MessageType.CLIENT_GET)
        const fail = (e: unknown): Uint8Array => errorReply(asRingkvError(e, logger))
        try {
          const q = decodeGetRequest(payload)
          return coordinator.getReply(q.key, { r: q.r, pr: q.pr, timeoutMs: q.timeoutMs || undefined }).then(undefined, fail)
        } catch (e) {
          return fail(e)
        }
      },
    ],
    [
      MessageType.CLIENT_PUT,
      // Like CLIENT_GET: one promise per write, not the three of client()'s async wrapper.
      (payload) => {
        if (!ready()) return notReady(MessageType.CLIENT_PUT)
        const fail = (e: unknown): Uint8Array => errorReply(asRingkvError(e, logger))
        try {
          const q = decodeWriteRequest(payload)
          if (q.value === undefined) throw new RingkvError('ERR_BAD_REQUEST', 'a put needs a value')
          const opts = { w: q.w, pw: q.pw, dw: q.dw, context: q.context, ttlMs: q.ttlMs, timeoutMs: q.timeoutMs || undefined }
          return coordinator.write(q.key, q.value, opts, q.hops).then((r) => encodePutReply(r.context), fail)
        } catch (e) {
          return fail(e)
        }
      },
    ],
    [
      MessageType.CLIENT_DELETE,
      gated(MessageType.CLIENT_DELETE, client(logger, async (payload) => {
        const q = decodeWriteRequest(payload)
        const opts = { w: q.w, pw: q.pw, dw: q.dw, context: q.context, timeoutMs: q.timeoutMs || undefined }
        await coordinator.write(q.key, null, opts, q.hops)
        return encodeEmptyReply()
      })),
    ],
    [
      MessageType.CLIENT_SCAN,
      gated(MessageType.CLIENT_SCAN, client(logger, async (payload) => {
        const q = decodeScanRequest(payload)
        const page = await coordinator.scan({
          start: q.start,
          end: q.end,
          prefix: q.prefix,
          after: q.after,
          limit: q.limit,
          timeoutMs: q.timeoutMs || undefined,
        })
        return encodeScanReply(page.entries, page.next)
      })),
    ],
    [MessageType.CLIENT_RING, client(logger, async () => encodeRingReply(encodeRingMap(d.ring()), d.members()))],
    [
      MessageType.REPLICA_GET,
      (payload) => {
        const q = decodeReplicaGet(payload)
        // The stored bytes as they are: the coordinator decodes them (or finds them equal to its own copy).
        return encodeReplicaGetReply(store.getBytes(q.partition, q.key))
      },
    ],
    [
      MessageType.REPLICA_GET_UNLESS,
      (payload) => {
        const q = decodeReplicaGetUnless(payload)
        if (hasDigest(store, q)) return REPLICA_SAME_REPLY
        return encodeReplicaGetUnlessReply(store.getBytes(q.partition, q.key))
      },
    ],
    [
      MessageType.REPLICA_DIGESTS,
      (payload) => store.answerDigests?.(payload, DIGESTS_REPLY_BUDGET_BYTES) ?? answerDigestsInTypeScript(store, payload, DIGESTS_REPLY_BUDGET_BYTES, logger),
    ],
    [
      MessageType.REPLICA_PUT,
      async (payload) => {
        const q = decodeReplicaPut(payload)
        // Merged as bytes: the usual replica write supersedes the stored copy and is stored as it came.
        const { durable } = store.mergeBytes(q.partition, q.key, q.envelope)
        await durable
        // Asked for a durable acknowledgement (DW) while writes are not fsynced on their own: fsync now.
        if (q.durable && !d.durableWrites) await store.sync()
        return encodeReplicaPutReply(q.durable || d.durableWrites)
      },
    ],
    [
      MessageType.REPLICA_SCAN,
      async (payload) => {
        const q = decodeReplicaScan(payload)
        const r = await scanLocal(store, q)
        return encodeReplicaScanReply(r.entries, r.more)
      },
    ],
    ...d.extra,
  ])
}
