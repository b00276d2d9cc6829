// The client's options: defaults, and validation whose errors name the option (ERR_INVALID_ARGUMENT with
// details.option), checked once in `connect` before any connection is made.
//
// Why these defaults:
// - timeoutMs 5000: per attempt, the coordinator's budget for reaching its quorum. The node's own timeout
//   answer (an ERR_QUORUM with details) beats the client's, see `replyWaitMs`.
// - retries 2: with N = 3 that is every primary of a key once, then the call fails with the last error.
// - backoffMs 10: retries go to another node, so they need no long wait; the backoff only keeps a burst of
//   failures from turning into a burst of retries (doubling per attempt, jittered, at most 16x).
// - ringRefreshMs 5000: a ring changes when members join or leave; a stale ring costs a hop, never
//   correctness, because any node coordinates any key.
// - markDownMs 1000: after a failed connect a node is tried last for a second, so a dead node costs one
//   refused connection per second instead of one per request.
import { RingkvError, refuseUnknownOptions } from '../errors.ts'
import { parseTcpAddress } from '../net/tcp.ts'
import type { Transport } from '../net/transport.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/logger.ts'
import type { Random } from '../runtime/random.ts'

export interface ClientOptions {
  /** Nodes to learn the ring from: 'host:port' of their binary protocol (names, for a custom transport). */
  seeds: readonly string[]
  /**
   * Per attempt, in ms: the coordinator's budget for the request (default 5000). A call that retries takes at
   * most (retries + 1) attempts plus short backoffs. Each call may override it.
   */
  timeoutMs?: number
  /** Further attempts, each on another coordinator, after a connection-level failure. Default 2. */
  retries?: number
  /**
   * Retry writes that may have reached a node (timeouts, connections closed after sending). Default false:
   * a write that landed and is sent again without the newer context becomes a second, duplicate sibling.
   * Writes that provably never left the client (connect failures) are always retried.
   */
  retryWrites?: boolean
  /** Base of the backoff between attempts, ms; doubles per attempt, jittered, capped at 16x. Default 10. */
  backoffMs?: number
  /** Send each key to a primary replica of it (true, the default) or pick coordinators round-robin (false). */
  tokenAware?: boolean
  /** How often the ring map is fetched again, ms; 0 = only when a node says ours is stale. Default 5000. */
  ringRefreshMs?: number
  /** Time allowed to connect to a node and complete HELLO, ms. Default 5000. */
  connectTimeoutMs?: number
  /** How long a node that refused a connection is tried last, ms. Default 1000. */
  markDownMs?: number
  /** Sent in HELLO; shows in the nodes' logs. Default 'client-' and 8 random hex digits. */
  clientId?: string
  clock?: Clock
  random?: Random
  logger?: Logger
  /** How to reach nodes. Default: TCP (tcpTransport on the client's clock and logger). */
  transport?: Transport
}

export interface ResolvedClientOptions {
  seeds: readonly string[]
  timeoutMs: number
  retries: number
  retryWrites: boolean
  backoffMs: number
  tokenAware: boolean
  ringRefreshMs: number
  connectTimeoutMs: number
  markDownMs: number
  clientId: string | undefined
  clock: Clock | undefined
  random: Random | undefined
  logger: Logger | undefined
  transport: Transport | undefined
}

export const clientDefaults = Object.freeze({
  timeoutMs: 5000,
  retries: 2,
  retryWrites: false,
  backoffMs: 10,
  tokenAware: true,
  ringRefreshMs: 5000,
  connectTimeoutMs: 5000,
  markDownMs: 1000,
})

/** The longest timer Node supports, and so the longest timeout. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1
export const MAX_RETRIES = 10

const KNOWN = new Set<string>([
  'seeds',
  'timeoutMs',
  'retries',
  'retryWrites',
  'backoffMs',
  'tokenAware',
  'ringRefreshMs',
  'connectTimeoutMs',
  'markDownMs',
  'clientId',
  'clock',
  'random',
  'logger',
  'transport',
])

export function invalidArgument(name: string, message: string, details: Record<string, unknown> = {}): RingkvError {
  return new RingkvError('ERR_INVALID_ARGUMENT', `${name} ${message}`, { details: { argument: name, ...details } })
}

/** How the argument looks in a message: its value for primitives, its kind otherwise. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'object' || typeof value === 'function') return `a ${typeof value}`
  return String(value)
}

export function integerIn(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(name, `must be an integer between ${min} and ${max}, got ${describe(value)}`)
  }
  return value
}

function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArgument(name, `must be true or false, got ${describe(value)}`)
  return value
}

function hasMethods(name: string, value: unknown, methods: readonly string[]): void {
  if (typeof value !== 'object' || value === null) throw invalidArgument(name, `must be an object, got ${describe(value)}`)
  for (const m of methods) {
    if (typeof (value as Record<string, unknown>)[m] !== 'function') throw invalidArgument(name, `must have a ${m}() method`)
  }
}

/** Fill in defaults and validate everything; throws ERR_INVALID_ARGUMENT naming the first bad option. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('options', `must be an object with at least seeds, got ${describe(options)}`)
  }
  refuseUnknownOptions(options, KNOWN, 'options.')
  const d = clientDefaults
  const seeds = options.seeds
  if (!Array.isArray(seeds) || seeds.length === 0) {
    throw invalidArgument('seeds', `must be a non-empty array of 'host:port' addresses, got ${describe(seeds)}`)
  }
  seeds.forEach((seed: unknown, i) => {
    if (typeof seed !== 'string' || seed === '') throw invalidArgument(`seeds[${i}]`, `must be a non-empty string, got ${describe(seed)}`)
    // A custom transport has its own address syntax (the memory network's names); TCP needs host:port.
    if (options.transport === undefined) {
      let port = 0
      try {
        port = parseTcpAddress(seed).port
      } catch {
        // reported below
      }
      if (port === 0) throw invalidArgument(`seeds[${i}]`, `must be 'host:port' with a port between 1 and 65535, got ${describe(seed)}`)
    }
  })
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId === '')) {
    throw invalidArgument('clientId', `must be a non-empty string, got ${describe(options.clientId)}`)
  }
  if (options.clock !== undefined) hasMethods('clock', options.clock, ['now', 'monotonic', 'setTimeout', 'clearTimeout', 'setImmediate'])
  if (options.random !== undefined) hasMethods('random', options.random, ['next', 'int', 'nextUint32'])
  if (options.logger !== undefined) hasMethods('logger', options.logger, ['debug', 'info', 'warn', 'error', 'child'])
  if (options.transport !== undefined) hasMethods('transport', options.transport, ['connect'])
  return {
    seeds: [...new Set(seeds)],
    timeoutMs: integerIn('timeoutMs', options.timeoutMs ?? d.timeoutMs, 1, MAX_TIMEOUT_MS - maxReplyMarginMs),
    retries: integerIn('retries', options.retries ?? d.retries, 0, MAX_RETRIES),
    retryWrites: booleanOption('retryWrites', options.retryWrites ?? d.retryWrites),
    backoffMs: integerIn('backoffMs', options.backoffMs ?? d.backoffMs, 0, 60_000),
    tokenAware: booleanOption('tokenAware', options.tokenAware ?? d.tokenAware),
    ringRefreshMs: integerIn('ringRefreshMs', options.ringRefreshMs ?? d.ringRefreshMs, 0, MAX_TIMEOUT_MS),
    connectTimeoutMs: integerIn('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs, 1, MAX_TIMEOUT_MS),
    markDownMs: integerIn('markDownMs', options.markDownMs ?? d.markDownMs, 0, MAX_TIMEOUT_MS),
    clientId: options.clientId,
    clock: options.clock,
    random: options.random,
    logger: options.logger,
    transport: options.transport,
  }
}

const maxReplyMarginMs = 1000

/**
 * How long the client waits for an answer to a request whose coordinator was given `timeoutMs`: 10% longer,
 * at least 25 ms and at most 1 s more, so that the coordinator's own timeout answer -- an error with
 * details such as a quorum's `required` and `received` -- arrives before the client gives up on it.
 */
export function replyWaitMs(timeoutMs: number): number {
  return timeoutMs + Math.min(maxReplyMarginMs, Math.max(25, Math.ceil(timeoutMs / 10)))
}
