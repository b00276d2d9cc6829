// Versioning (DESIGN section 3): version vectors with per-incarnation actors, the stored envelope of siblings
// under a dotted causal context, and their encodings.
//   version-vector.ts  actors, VersionVector and its order
//   envelope.ts        update (the coordinator's write), merge (sync, repair), reads, lww, expiry
//   codec.ts           the binary envelope the engine stores; the base64url context clients carry

export {
  actorId,
  MAX_ACTOR_BYTES,
  parseActor,
  vv,
  vvCompare,
  vvDescends,
  vvEntries,
  vvEquals,
  vvGet,
  vvIncrement,
  vvMerge,
  type Ordering,
  type VersionVector,
} from './version-vector.ts'
export {
  compareDots,
  contextOf,
  covers,
  createEnvelope,
  dropExpired,
  envelopesEqual,
  isObsolete,
  lastModified,
  liveSiblings,
  mergeEnvelopes,
  resolveLww,
  siblingCount,
  updateEnvelope,
  type Dot,
  type Envelope,
  type Sibling,
  type Write,
} from './envelope.ts'
export {
  contextBytes,
  decodeContext,
  decodeContextBytes,
  decodeEnvelope,
  encodeContext,
  encodeEnvelope,
  MAX_CONTEXT_CHARS,
  contextOfBytes,
  readAnswer,
  type AnswerValue,
  type DecodeOptions,
} from './codec.ts'
