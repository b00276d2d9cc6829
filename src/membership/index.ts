// Membership (DESIGN section 5): gossip state, its wire codec and the phi-accrual failure detector, as pure
// modules -- the node wires them to the transport and the clock.
export { DEFAULT_PHI_THRESHOLD, PhiAccrualDetector, type PhiOptions, type PhiSettings, phiOf, phiSettings } from './phi.ts'
export {
  type ChangeKind,
  compareVersions,
  type Delta,
  type Digest,
  type DigestEntry,
  GossipState,
  type GossipStateOptions,
  type GossipTarget,
  MEMBER_STATUSES,
  type MemberState,
  type MemberStatus,
  type MembershipChange,
  type RingDivergence,
} from './gossip-state.ts'
export { decodeDelta, decodeDigest, encodeDelta, encodeDigest, GOSSIP_FORMAT, MAX_GOSSIP_ENTRIES } from './codec.ts'
