/**
 * Randomness — the one seam through which ringkv draws random numbers (gossip peer choice, jitter, test data).
 *
 * `SeededRandom` is xoshiro128** (Blackman & Vigna), seeded through splitmix32: fast in 32-bit JavaScript
 * arithmetic, good statistical quality, and the same seed gives the same sequence on every platform and
 * Node version — so a simulation that printed `SEED=n` replays exactly. `systemRandom` draws from the
 * operating system's CSPRNG for production. Nothing outside `src/runtime/` calls `Math.random`.
 */
import { getRandomValues } from 'node:crypto'

export interface Random {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number
  /** A uniformly distributed float in [0, 1) with 53 random bits. */
  next(): number
  /** A uniformly distributed integer in [0, bound); bound is an integer in [1, 2^32]. Unbiased. */
  int(bound: number): number
  /** Fill `bytes` with random bytes and return it. */
  fill<T extends Uint8Array>(bytes: T): T
}

const TWO_POW_32 = 0x1_0000_0000

abstract class RandomBase implements Random {
  abstract nextUint32(): number

  next(): number {
    const high = this.nextUint32() >>> 5 // 27 bits
    const low = this.nextUint32() >>> 6 // 26 bits
    return (high * 67_108_864 + low) / 9_007_199_254_740_992
  }

  int(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > TWO_POW_32) {
      throw new RangeError(`bound must be an integer between 1 and 2^32, got ${bound}`)
    }
    // Rejection sampling: draws landing in the final partial copy of [0, bound) would bias low values.
    const limit = TWO_POW_32 - (TWO_POW_32 % bound)
    for (;;) {
      const x = this.nextUint32()
      if (x < limit) return x % bound
    }
  }

  fill<T extends Uint8Array>(bytes: T): T {
    let i = 0
    for (; i + 4 <= bytes.length; i += 4) {
      const x = this.nextUint32()
      bytes[i] = x & 0xff
      bytes[i + 1] = (x >>> 8) & 0xff
      bytes[i + 2] = (x >>> 16) & 0xff
      bytes[i + 3] = x >>> 24
    }
    if (i < bytes.length) {
      let x = this.nextUint32()
      for (; i < bytes.length; i++, x >>>= 8) bytes[i] = x & 0xff
    }
    return bytes
  }
}

/** Deterministic xoshiro128** generator. */
export class SeededRandom extends RandomBase {
  readonly seed: number
  #a: number
  #b: number
  #c: number
  #d: number

  /** `seed` is any safe integer (negative and > 2^32 seeds are distinct streams). */
  constructor(seed: number) {
    super()
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
    this.seed = seed
    // splitmix32 spreads any seed (0 included) over the 128-bit state; the high half is mixed first so
    // seeds that differ only above bit 32 (or in sign) start from unrelated points.
    let s = (seed >>> 0) ^ fmix32((Math.floor(seed / TWO_POW_32) | 0) ^ 0x5bd1e995)
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0
      return fmix32(s)
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#d = 1 // the all-zero state is a fixed point
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0
    const t = this.#b << 9
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotl(this.#d, 11)
    return result
  }

  /** An independent generator derived from this one (e.g. one per simulated node); advances this one. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32() * 0x20_0000 + (this.nextUint32() >>> 11))
  }
}

/** MurmurHash3's finaliser: a bijection on 32-bit integers with full avalanche. */
function fmix32(x: number): number {
  let z = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}

/** Operating-system randomness, drawn in blocks of 256 words to amortise the call. */
class SystemRandom extends RandomBase {
  readonly #pool = new Uint32Array(256)
  #index = this.#pool.length

  nextUint32(): number {
    if (this.#index === this.#pool.length) {
      getRandomValues(this.#pool)
      this.#index = 0
    }
    return this.#pool[this.#index++] as number
  }

  override fill<T extends Uint8Array>(bytes: T): T {
    // getRandomValues accepts at most 65536 bytes per call.
    for (let i = 0; i < bytes.length; i += 65_536) getRandomValues(bytes.subarray(i, i + 65_536))
    return bytes
  }
}

export const systemRandom: Random = new SystemRandom()
