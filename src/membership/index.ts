// Membership (DESIGN section 5): gossip state and the phi-accrual failure detector, as pure modules.
export { DEFAULT_PHI_THRESHOLD, PhiAccrualDetector, type PhiOptions, type PhiSettings, phiOf, phiSettings } from './phi.ts'
