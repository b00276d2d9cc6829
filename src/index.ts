// ringkv's public API. Each part is re-exported from the module that owns it.
export * from './engine/index.ts'
export { RingkvError, isRingkvError } from './errors.ts'
