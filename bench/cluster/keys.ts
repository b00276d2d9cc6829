// Which key an operation touches: uniform over the loaded keys, or zipfian (a few keys hot, a long cold
// tail), as YCSB draws them, so results compare with what the literature reports.
//
// Zipfian is YCSB's ScrambledZipfianGenerator: ranks drawn from a Zipf distribution (theta 0.99, Gray et
// al.'s "Quickly generating billion-record synthetic databases" method), then scrambled by an FNV-1a hash so
// the hot ranks land on keys spread over the ring rather than on neighbours of key 0. The constants cost
// O(keys) once per generator.
import { SeededRandom } from '../../src/runtime/random.ts'

export type KeyDistribution = 'uniform' | 'zipfian'
export const KEY_DISTRIBUTIONS: readonly KeyDistribution[] = ['uniform', 'zipfian']

/** YCSB's default skew: about 10% of requests go to the hottest 0.1% of 100k keys. */
export const ZIPFIAN_THETA = 0.99

export interface KeyChooser {
  /** The index (0 .. keys-1) of the next key. */
  next(): number
}

export function keyChooser(distribution: KeyDistribution, keys: number, random: SeededRandom): KeyChooser {
  if (!Number.isInteger(keys) || keys < 1) throw new RangeError(`keys must be a positive integer, got ${keys}`)
  if (distribution === 'uniform') return { next: () => random.int(keys) }
  if (distribution === 'zipfian') return new ScrambledZipfian(keys, ZIPFIAN_THETA, random)
  throw new RangeError(`key distribution must be one of ${KEY_DISTRIBUTIONS.join(', ')}, got ${String(distribution)}`)
}

class ScrambledZipfian implements KeyChooser {
  readonly #keys: number
  readonly #theta: number
  readonly #alpha: number
  readonly #zetan: number
  readonly #eta: number
  readonly #half: number
  readonly #random: SeededRandom

  constructor(keys: number, theta: number, random: SeededRandom) {
    this.#keys = keys
    this.#theta = theta
    this.#random = random
    this.#alpha = 1 / (1 - theta)
    this.#zetan = zeta(keys, theta)
    const zeta2 = zeta(2, theta)
    this.#eta = (1 - Math.pow(2 / keys, 1 - theta)) / (1 - zeta2 / this.#zetan)
    this.#half = 1 + Math.pow(0.5, theta)
  }

  next(): number {
    const u = this.#random.next()
    const uz = u * this.#zetan
    let rank: number
    if (uz < 1) rank = 0
    else if (uz < this.#half) rank = 1
    else rank = Math.floor(this.#keys * Math.pow(this.#eta * u - this.#eta + 1, this.#alpha))
    if (rank >= this.#keys) rank = this.#keys - 1
    return fnv1a32(rank) % this.#keys
  }
}

function zeta(n: number, theta: number): number {
  let sum = 0
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta)
  return sum
}

/** FNV-1a over the 4 little-endian bytes of `x`: a cheap scramble of ranks. */
export function fnv1a32(x: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < 4; i++) {
    h ^= (x >>> (8 * i)) & 0xff
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The key of index i: fixed width, so every key has the same size on the wire and on disk. */
export function keyName(i: number): string {
  return `key:${String(i).padStart(10, '0')}`
}
