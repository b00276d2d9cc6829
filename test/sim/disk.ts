// A simulated node's disk: the bytes its store keeps (a MemoryBacking, which survives the process) with the
// durability of the engine's modes. In 'interval' mode -- the default -- a write is in the OS once applied (it
// survives kill -9) but only on disk once the log is fsynced, every `syncIntervalMs` (5 ms, the engine's default)
// or when the store is asked to sync (a DW write): a power cut loses what came after the last fsync. In 'sync'
// mode every write is fsynced before it is acknowledged, so nothing is lost.
//
// Writes are journalled with their time and the value they replaced, and the journal is trimmed as fsyncs pass,
// so it stays a few milliseconds long; a power cut rolls the unsynced tail back, newest first.
import { MemoryBacking } from '../../src/storage/memory-store.ts'

export type DiskDurability = 'interval' | 'sync'

interface JournalEntry {
  readonly at: number
  readonly key: Uint8Array
  readonly previous: Uint8Array | undefined
}

export class SimDisk extends MemoryBacking {
  readonly #now: () => number
  readonly durability: DiskDurability
  readonly syncIntervalMs: number
  /** Periodic fsyncs happen at phase + k * syncIntervalMs. */
  readonly #phase: number
  #syncedAt = -Infinity
  #journal: JournalEntry[] = []
  /** Writes lost to power cuts, over the disk's life. */
  lostWrites = 0

  constructor(options: { now: () => number; durability: DiskDurability; syncIntervalMs?: number; phase?: number }) {
    super()
    this.#now = options.now
    this.durability = options.durability
    this.syncIntervalMs = options.syncIntervalMs ?? 5
    if (!(this.syncIntervalMs > 0)) throw new RangeError(`syncIntervalMs must be positive, got ${this.syncIntervalMs}`)
    this.#phase = options.phase ?? 0
  }

  override put(key: Uint8Array, value: Uint8Array): void {
    this.#record(key)
    super.put(key, value)
  }

  override delete(key: Uint8Array): void {
    this.#record(key)
    super.delete(key)
  }

  /** An explicit fsync (the store's `sync`, what a DW write waits for): everything so far is on disk. */
  sync(): void {
    this.#syncedAt = this.#now()
    this.#journal = []
  }

  /** The power went: writes after the last fsync are undone, newest first. Returns how many were lost. */
  powerCut(): number {
    const durableUpTo = this.#durableUpTo()
    let lost = 0
    for (let i = this.#journal.length - 1; i >= 0; i--) {
      const e = this.#journal[i]!
      if (e.at <= durableUpTo) break
      if (e.previous === undefined) super.delete(e.key)
      else super.put(e.key, e.previous)
      lost++
    }
    this.#journal = []
    this.lostWrites += lost
    return lost
  }

  /** Writes up to this time are on disk. */
  #durableUpTo(): number {
    const now = this.#now()
    const tick = this.#phase + Math.floor((now - this.#phase) / this.syncIntervalMs) * this.syncIntervalMs
    return Math.max(this.#syncedAt, tick)
  }

  #record(key: Uint8Array): void {
    if (this.durability === 'sync') return
    const durableUpTo = this.#durableUpTo()
    let keep = 0
    while (keep < this.#journal.length && this.#journal[keep]!.at <= durableUpTo) keep++
    if (keep > 0) this.#journal = this.#journal.slice(keep)
    // The backing never mutates what it stores (it keeps copies), so the old value can be kept as is.
    this.#journal.push({ at: this.#now(), key: Uint8Array.from(key), previous: this.get(key) })
  }
}
