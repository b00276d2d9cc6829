// What a ringkv node offers its clients, whatever the way in: the binary protocol (src/client),
// the HTTP API (src/http), or a node embedded in the caller's process (startNode). One interface, so
// the three stay the same database.
//
// Keys and values are bytes. A read returns every concurrent version ("siblings") and an opaque
// causal context; a write that passes that context supersedes exactly the versions it saw, and a
// write without one becomes a new sibling next to what is there (DESIGN section 3).

export type Consistency = number | 'one' | 'quorum' | 'all'

export interface GetOptions {
  /** Replies needed, default 'quorum'. */
  r?: Consistency
  /** Of those, replies needed from primary replicas (not fallbacks), default 0. */
  pr?: Consistency
  timeoutMs?: number
}

export interface WriteOptions {
  /** Acknowledgements needed, default 'quorum'. */
  w?: Consistency
  /** Of those, from primary replicas, default 0. */
  pw?: Consistency
  /** Of those, durable (fsynced), default 0. */
  dw?: Consistency
  timeoutMs?: number
  /** The causal context of the read this write follows; without it the write becomes a sibling. */
  context?: string
}

export interface PutOptions extends WriteOptions {
  /** Time to live in milliseconds. */
  ttlMs?: number
}

export type DeleteOptions = WriteOptions

export interface SiblingValue {
  value: Buffer
  /** Milliseconds since the epoch, on the coordinator that wrote it. */
  timestamp: number
  /** 0 when the value does not expire. */
  expiresAt: number
}

export interface GetResult {
  /** False when the key was never written, was deleted, or has expired. */
  found: boolean
  /** The value when there is exactly one sibling; undefined when there are none or several. */
  value: Buffer | undefined
  /** Every live version, newest first. */
  siblings: SiblingValue[]
  /** Opaque; pass it to the write that follows this read. Present even when not found (it covers deletes). */
  context: string
}

export interface PutResult {
  /** The context of the value just written, for a following write. */
  context: string
}

export interface ScanOptions {
  /** First key, inclusive. */
  start?: Uint8Array
  /** Last key, exclusive. */
  end?: Uint8Array
  /** Only keys with this prefix (not combinable with start/end). */
  prefix?: Uint8Array
  /** Resume strictly after this key (the previous page's `next`). */
  after?: Uint8Array
  /** Entries per page, default 100, at most 10,000. */
  limit?: number
  timeoutMs?: number
}

export interface ScanEntry {
  key: Buffer
  value: Buffer | undefined
  siblings: SiblingValue[]
  context: string
}

export interface ScanPage {
  entries: ScanEntry[]
  /** Present when more entries may follow: pass it as `after` for the next page. */
  next: Buffer | undefined
}

export interface MemberInfo {
  id: string
  /** The binary protocol's address, host:port. */
  address: string
  /** The HTTP API's address, host:port, if it has one. */
  http: string | undefined
}

export interface KvService {
  get(key: Uint8Array, options?: GetOptions): Promise<GetResult>
  put(key: Uint8Array, value: Uint8Array, options?: PutOptions): Promise<PutResult>
  delete(key: Uint8Array, options?: DeleteOptions): Promise<void>
  scan(options?: ScanOptions): Promise<ScanPage>
}

export const MAX_SCAN_LIMIT = 10_000
export const DEFAULT_SCAN_LIMIT = 100
