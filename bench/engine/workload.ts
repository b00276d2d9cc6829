// The engine benchmark's data: every key, value and random choice comes from one seed, so each engine in a
// run (and each run with the same seed) sees exactly the same operations in the same order.
//
// - Keys are 16 random bytes. The keys that get loaded have an even last byte and the "missing" keys an odd
//   one, so a missing-key read can never hit, while both sets stay uniformly spread over the key space.
//   Key i is loaded i-th: index order is already random key order.
// - Values are 1 KiB of AES-128-CTR keystream (incompressible, and cheap: ~1 GB/s with AES-NI), produced in
//   chunks just before the operations that use them, outside the timed sections.
// - Random picks (which present key to read) come from sfc32, a small fast 32-bit PRNG.
// - The loaded set is the first n keys, n = keyCount unless a time cap stopped the load early.
import { createCipheriv, createHash } from 'node:crypto'

export const KEY_BYTES = 16
export const VALUE_BYTES = 1024

/** A named, seeded stream of pseudo-random bytes (AES-128-CTR over zeros). */
export class ByteStream {
  readonly #cipher

  constructor(seed: number, label: string) {
    const digest = createHash('sha256').update(`ringkv-bench:${seed}:${label}`).digest()
    this.#cipher = createCipheriv('aes-128-ctr', digest.subarray(0, 16), digest.subarray(16, 32))
  }

  /** The next `n` bytes of the stream, in a fresh buffer. */
  next(n: number): Buffer {
    return this.#cipher.update(Buffer.alloc(n))
  }
}

/** sfc32: a seeded 32-bit PRNG (Chris Doty-Humphrey's small fast counting generator). */
export class Prng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number, label: string) {
    const d = createHash('sha256').update(`ringkv-bench-prng:${seed}:${label}`).digest()
    this.#a = d.readUInt32LE(0)
    this.#b = d.readUInt32LE(4)
    this.#c = d.readUInt32LE(8)
    this.#d = d.readUInt32LE(12)
    for (let i = 0; i < 16; i++) this.nextUint32()
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }
}

export class Workload {
  readonly seed: number
  readonly keyCount: number
  /** All keys to load, KEY_BYTES each, back to back. */
  readonly #keys: Buffer

  constructor(seed: number, keyCount: number) {
    this.seed = seed
    this.keyCount = keyCount
    this.#keys = new ByteStream(seed, 'keys').next(keyCount * KEY_BYTES)
    for (let i = KEY_BYTES - 1; i < this.#keys.length; i += KEY_BYTES) this.#keys[i] = this.#keys[i]! & 0xfe
  }

  /** The i-th loaded key (a view, not a copy). */
  key(i: number): Buffer {
    return this.#keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES)
  }


  /** A stream of 1 KiB values; `chunk(n)` hands out the next n, each a view of one fresh buffer. */
  values(label: string): ValueSource {
    return new ValueSource(new ByteStream(this.seed, `values:${label}`))
  }

  /**
   * `count` uniform 32-bit picks. They become key indices only once it is known how many keys were loaded
   * (a load stopped by its time cap loads fewer): index = floor(pick / 2^32 * loaded).
   */
  picks(label: string, count: number): Uint32Array {
    const prng = new Prng(this.seed, `picks:${label}`)
    const out = new Uint32Array(count)
    for (let i = 0; i < count; i++) out[i] = prng.nextUint32()
    return out
  }

  /** `count` keys that were never loaded (odd last byte). */
  missingKeys(label: string, count: number): Buffer[] {
    return splitKeys(new ByteStream(this.seed, `missing:${label}`).next(count * KEY_BYTES), (last) => last | 1)
  }

  /** `count` fresh keys for writes that are not part of the loaded set (even last byte, own stream). */
  freshKeys(label: string, count: number): Buffer[] {
    return splitKeys(new ByteStream(this.seed, `fresh:${label}`).next(count * KEY_BYTES), (last) => last & 0xfe)
  }

  /** `count` random start keys for scans, anywhere in the key space. */
  scanStarts(label: string, count: number): Buffer[] {
    return splitKeys(new ByteStream(this.seed, `scan:${label}`).next(count * KEY_BYTES), (last) => last)
  }
}

export class ValueSource {
  readonly #stream: ByteStream

  constructor(stream: ByteStream) {
    this.#stream = stream
  }

  chunk(n: number): Buffer[] {
    const bytes = this.#stream.next(n * VALUE_BYTES)
    const out: Buffer[] = new Array(n)
    for (let i = 0; i < n; i++) out[i] = bytes.subarray(i * VALUE_BYTES, (i + 1) * VALUE_BYTES)
    return out
  }
}

function splitKeys(bytes: Buffer, lastByte: (b: number) => number): Buffer[] {
  const n = bytes.length / KEY_BYTES
  const out: Buffer[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const key = bytes.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES)
    key[KEY_BYTES - 1] = lastByte(key[KEY_BYTES - 1]!)
    out[i] = key
  }
  return out
}
