/**
 * The simulator's network: byte streams between hosts that fail the way TCP fails, on virtual time, every
 * delay and loss drawn from one seeded Random -- so a run replays exactly from its seed.
 *
 * It is a StreamFactory like the TCP and memory transports (each host gets its own, `host(name)`), so nodes
 * and clients run the production connection layer (src/net/rpc.ts) on top of it, unchanged; the transport
 * contract suite runs against it too (network.test.ts).
 *
 * What it models, and why these choices:
 * - Delay: each segment (one `write`, one FIN...) takes `baseMs` plus an exponential jitter. A connection keeps
 *   its byte order (a segment never overtakes an earlier one of the same direction), so messages reorder only
 *   across connections -- exactly what TCP allows.
 * - Loss: a byte stream cannot drop bytes without breaking framing, and TCP does not: a lost segment is sent
 *   again after a retransmission timeout (200 ms, doubling), so loss shows up as a stall of the whole direction.
 * - Partitions (`block`, `partition`, `isolate`), one-way or both ways: segments that reach a blocked link are
 *   held, as if retransmitted into the void. When the link heals they are delivered at the sender's next
 *   retransmission (TCP backs off exponentially, so a long partition is followed by a longer wait); a sender
 *   whose data stays unacknowledged for `abortAfterMs` gives up -- its end closes with ETIMEDOUT and its peer
 *   learns of it (a reset) once the link lets the RST through. Data delivered while the reverse direction is
 *   blocked is unacknowledged too (the ACKs are lost). A 'reject' rule answers at once instead (ICMP
 *   unreachable: the sender's end fails with EHOSTUNREACH, a dial with ECONNREFUSED).
 * - Dials: a SYN that cannot get through is retried at 1, 3, 7, 15 s... and the dial fails with ETIMEDOUT after
 *   `connectTimeoutMs`; the transport's own HELLO deadline normally fires first. Nothing listening: ECONNREFUSED.
 * - Crashes: `crashProcess` is kill -9 -- the kernel closes the dead process's sockets, so peers get FIN (or RST
 *   when it had unread data) and dials are refused; `crashMachine` is a power cut -- nothing is sent, segments
 *   to the host are lost and dials hang until `restartMachine`; then segments of connections from before the
 *   crash are answered with RST. Either way the dead process hears nothing more: no event reaches its streams.
 * - Resets (`reset`): a middlebox or a peer kernel tearing a connection down; both ends see ECONNRESET.
 * - Backpressure: bytes written and not yet read count against `highWaterMarkBytes`, held ones included, so a
 *   partitioned or paused reader stalls its writer as a full TCP window does.
 *
 * Every delivery and fault goes to `onTrace`, which the simulator hashes: two runs of one seed must agree.
 */
import { RingkvError } from '../../src/errors.ts'
import { ErrorCode } from '../../src/protocol/error-codes.ts'
import type { Clock, TimerHandle } from '../../src/runtime/clock.ts'
import type { Random } from '../../src/runtime/random.ts'
import type { ByteStream, ByteStreamEvents, StreamFactory, StreamListener } from '../../src/net/stream.ts'

export interface LinkProfile {
  /** Least one-way delay of a segment, ms. */
  baseMs: number
  /** Mean of the exponential delay added to each segment, ms. */
  jitterMs: number
  /** Probability that a segment is lost (and sent again after `retransmitMs`, doubling while lost again). */
  lossRate: number
  /** TCP's retransmission timeout after a loss (Linux's minimum is 200 ms). */
  retransmitMs: number
}

export const defaultLink: Readonly<LinkProfile> = Object.freeze({ baseMs: 0.2, jitterMs: 0.3, lossRate: 0, retransmitMs: 200 })

export interface SimNetworkOptions {
  clock: Clock
  random: Random
  link?: Partial<LinkProfile>
  /** Unread bytes per direction before `write` returns false (the TCP window plus buffers). Default 1 MiB. */
  highWaterMarkBytes?: number
  /** Unacknowledged data this old aborts the connection (ETIMEDOUT). Linux's default is ~15 min. Default 30 s. */
  abortAfterMs?: number
  /** A dial whose SYN never gets through fails after this (ETIMEDOUT). Linux's default is ~127 s. Default 20 s. */
  connectTimeoutMs?: number
  /** Longest wait between two retransmissions (Linux's TCP_RTO_MAX). Default 120 s. */
  maxRetransmitMs?: number
  onTrace?: (event: string, bytes?: Buffer) => void
}

export type BlockMode = 'drop' | 'reject'

type SegmentKind = 'syn' | 'data' | 'fin' | 'rst'

interface Segment {
  readonly kind: SegmentKind
  readonly bytes: Buffer | undefined
  readonly sentAt: number
  /** When it reaches the receiving host if the link lets it (FIFO within its direction). */
  arrival: number
}

class Host {
  up = true
  /** Bumped by every crash: streams of an older process are dead. */
  process = 0
  readonly listeners = new Map<string, (stream: ByteStream) => void>()
  constructor(readonly name: string) {}
}

export interface NetworkStats {
  connections: number
  segments: number
  bytes: number
  /** Segments that found their link blocked. */
  held: number
  /** Connections aborted after `abortAfterMs` of unacknowledged data. */
  aborts: number
  resets: number
  refused: number
  dialTimeouts: number
}

export class SimNetwork {
  readonly clock: Clock
  readonly random: Random
  readonly highWaterMarkBytes: number
  readonly abortAfterMs: number
  readonly connectTimeoutMs: number
  readonly maxRetransmitMs: number
  readonly stats: NetworkStats = { connections: 0, segments: 0, bytes: 0, held: 0, aborts: 0, resets: 0, refused: 0, dialTimeouts: 0 }
  #link: LinkProfile
  readonly #links = new Map<string, LinkProfile>()
  readonly #hosts = new Map<string, Host>()
  /** Listening address -> its host. */
  readonly #addresses = new Map<string, Host>()
  /** from -> to -> how the link is blocked. */
  readonly #blocked = new Map<string, Map<string, BlockMode>>()
  /** Open connections in creation order (iteration order is part of determinism). */
  readonly #connections = new Set<SimConnection>()
  readonly #trace: ((event: string, bytes?: Buffer) => void) | undefined
  #nextConnection = 1
  #nextPort = 1

  constructor(options: SimNetworkOptions) {
    this.clock = options.clock
    this.random = options.random
    this.#link = checkLink({ ...defaultLink, ...(options.link ?? {}) })
    this.highWaterMarkBytes = options.highWaterMarkBytes ?? 1024 * 1024
    this.abortAfterMs = options.abortAfterMs ?? 30_000
    this.connectTimeoutMs = options.connectTimeoutMs ?? 20_000
    this.maxRetransmitMs = options.maxRetransmitMs ?? 120_000
    for (const [name, v] of [['highWaterMarkBytes', this.highWaterMarkBytes], ['abortAfterMs', this.abortAfterMs], ['connectTimeoutMs', this.connectTimeoutMs], ['maxRetransmitMs', this.maxRetransmitMs]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`)
    }
    this.#trace = options.onTrace
  }

  /** The StreamFactory of one host: what it dials from and listens on. */
  host(name: string): StreamFactory {
    if (name === '' || name.includes(':')) throw new RangeError(`a host name is non-empty and has no ':', got ${JSON.stringify(name)}`)
    const host = this.#host(name)
    return {
      dial: (address) => this.#dial(host, address),
      listen: (address, onStream) => this.#listen(host, address, onStream),
    }
  }

  // ---- faults ----

  /** Segments from `from` to `to` are lost ('drop') or refused at once ('reject') until `unblock` or `heal`. */
  block(from: string, to: string, mode: BlockMode = 'drop'): void {
    if (from === to) return
    let m = this.#blocked.get(from)
    if (m === undefined) this.#blocked.set(from, (m = new Map()))
    m.set(to, mode)
    this.#event(`block ${from}->${to} ${mode}`)
    this.#relink()
  }

  unblock(from: string, to: string): void {
    if (this.#blocked.get(from)?.delete(to) === true) {
      this.#event(`unblock ${from}->${to}`)
      this.#relink()
    }
  }

  /** Every host of `a` loses contact with every host of `b`; one way (a to b only) when `oneWay`. */
  partition(a: readonly string[], b: readonly string[], options: { oneWay?: boolean; mode?: BlockMode } = {}): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y, options.mode)
        if (options.oneWay !== true) this.block(y, x, options.mode)
      }
    }
  }

  /** Cuts `name` off from every other host (both ways). */
  isolate(name: string, mode: BlockMode = 'drop'): void {
    const others = [...this.#hosts.keys()].filter((h) => h !== name)
    this.partition([name], others, { mode })
  }

  /** Removes every block. */
  heal(): void {
    if (this.#blocked.size === 0) return
    this.#blocked.clear()
    this.#event('heal')
    this.#relink()
  }

  /** The network's default link profile, or one link's (one direction) when from and to are given. */
  setLink(profile: Partial<LinkProfile>, from?: string, to?: string): void {
    if (from === undefined || to === undefined) {
      this.#link = checkLink({ ...this.#link, ...profile })
      this.#event(`link * ${JSON.stringify(this.#link)}`)
    } else {
      const key = `${from}>${to}`
      this.#links.set(key, checkLink({ ...(this.#links.get(key) ?? this.#link), ...profile }))
      this.#event(`link ${key} ${JSON.stringify(this.#links.get(key))}`)
    }
  }

  /** Back to the default profile on one link (one direction). */
  clearLink(from: string, to: string): void {
    if (this.#links.delete(`${from}>${to}`)) this.#event(`link ${from}>${to} default`)
  }

  /** Back to the default profile on every link. */
  resetLinks(): void {
    this.#links.clear()
  }

  /** kill -9: the kernel closes the process's sockets (FIN, or RST with unread data); its listeners are gone. */
  crashProcess(name: string): void {
    const host = this.#host(name)
    this.#event(`crash-process ${name}`)
    this.#killProcess(host, true)
  }

  /** A power cut: nothing more leaves or reaches the host until `restartMachine`; no FIN, no RST. */
  crashMachine(name: string): void {
    const host = this.#host(name)
    this.#event(`crash-machine ${name}`)
    this.#killProcess(host, false)
    host.up = false
  }

  /** Power back on: segments of connections from before the crash are now answered with RST. */
  restartMachine(name: string): void {
    const host = this.#host(name)
    if (host.up) return
    host.up = true
    this.#event(`restart-machine ${name}`)
    this.#relink()
  }

  /**
   * Resets connections as a middlebox would: both ends see ECONNRESET. `count` random ones among those matching
   * `filter` (default every open connection); returns how many.
   */
  reset(count = 1, filter: (hosts: [string, string]) => boolean = () => true): number {
    const candidates = [...this.#connections].filter((c) => c.isOpen && filter([c.client.host.name, c.server.host.name]))
    let done = 0
    while (done < count && candidates.length > 0) {
      const [c] = candidates.splice(this.random.int(candidates.length), 1)
      this.#event(`reset #${c!.id}`)
      this.stats.resets++
      c!.client.fail(resetError('connection reset by peer'), this.delay(c!.server.host, c!.client.host))
      c!.server.fail(resetError('connection reset by peer'), this.delay(c!.client.host, c!.server.host))
      done++
    }
    return done
  }

  /** When the oldest segment still travelling (in flight or held) was sent; Infinity when none is. */
  oldestInFlight(): number {
    let oldest = Infinity
    for (const c of this.#connections) oldest = Math.min(oldest, c.client.oldestSentAt, c.server.oldestSentAt)
    return oldest
  }

  // ---- internals used by connections ----

  /** How `from` -> `to` behaves right now. */
  linkState(from: Host, to: Host): 'open' | BlockMode {
    if (!from.up || !to.up) return 'drop'
    return this.#blocked.get(from.name)?.get(to.name) ?? 'open'
  }

  /** One segment's one-way delay on from -> to, ms: base + exponential jitter + retransmissions of losses. */
  delay(from: Host, to: Host): number {
    const p = this.#links.get(`${from.name}>${to.name}`) ?? this.#link
    let d = p.baseMs + (p.jitterMs > 0 ? -Math.log(1 - this.random.next()) * p.jitterMs : 0)
    let rto = p.retransmitMs
    while (p.lossRate > 0 && this.random.next() < p.lossRate) {
      d += rto
      rto = Math.min(rto * 2, this.maxRetransmitMs)
    }
    return d
  }

  /** Run `callback` at an absolute time (at once, in a later turn, when it is not in the future). */
  at(time: number, callback: () => void): TimerHandle {
    const delay = time - this.clock.now()
    return delay > 0 ? this.clock.setTimeout(callback, delay) : this.clock.setImmediate(callback)
  }

  cancel(handle: TimerHandle | undefined): void {
    this.clock.clearTimeout(handle)
  }

  trace(event: string, bytes?: Buffer): void {
    this.#trace?.(`${this.clock.now()} ${event}`, bytes)
  }

  forget(connection: SimConnection): void {
    this.#connections.delete(connection)
  }

  accept(host: Host, address: string): ((stream: ByteStream) => void) | undefined {
    return host.up ? host.listeners.get(address) : undefined
  }

  #event(event: string): void {
    this.trace(`net ${event}`)
  }

  #host(name: string): Host {
    let host = this.#hosts.get(name)
    if (host === undefined) this.#hosts.set(name, (host = new Host(name)))
    return host
  }

  /** Links changed: every connection re-checks what it holds and what is unacknowledged. */
  #relink(): void {
    for (const c of [...this.#connections]) c.relink()
  }

  #killProcess(host: Host, kernelCloses: boolean): void {
    host.process++
    for (const address of host.listeners.keys()) this.#addresses.delete(address)
    host.listeners.clear()
    for (const c of [...this.#connections]) {
      if (c.client.host === host) c.client.die(kernelCloses)
      if (c.server.host === host) c.server.die(kernelCloses)
    }
  }

  #listen(host: Host, address: string, onStream: (stream: ByteStream) => void): Promise<StreamListener> {
    return new Promise((resolve, reject) => {
      let bound = address
      if (address.endsWith(':0')) {
        const prefix = address.slice(0, -2)
        do bound = `${prefix}:${this.#nextPort++}`
        while (this.#addresses.has(bound))
      }
      if (!host.up || bound === '' || this.#addresses.has(bound)) {
        reject(new RingkvError(ErrorCode.LISTEN_FAILED, `cannot listen on '${bound}': ${host.up ? 'address in use or empty' : 'the host is down'}`, {
          details: { address: bound },
        }))
        return
      }
      this.#addresses.set(bound, host)
      host.listeners.set(bound, onStream)
      const process = host.process
      resolve({
        address: bound,
        close: async () => {
          if (host.process === process && host.listeners.get(bound) === onStream) {
            host.listeners.delete(bound)
            this.#addresses.delete(bound)
          }
        },
      })
    })
  }

  /**
   * A dial: SYN, then SYN-ACK, each a segment subject to the links; the server accepts when the client's ACK (the
   * first segment of the client's direction) arrives. SYNs that get no answer are sent again with backoff.
   */
  #dial(from: Host, address: string): Promise<ByteStream> {
    return new Promise((resolve, reject) => {
      const started = this.clock.now()
      const process = from.process
      let attempt = 0
      const fail = (reason: string, message: string): void => {
        // Only a process that is still alive is waiting for the answer.
        if (from.process !== process) return
        reject(new RingkvError(ErrorCode.CONNECT_FAILED, `cannot connect to ${address}: ${message}`, { details: { address, reason } }))
      }
      // SYN retransmissions 1, 2, 4, 8... s apart, as Linux does, until connectTimeoutMs.
      const retry = (): void => {
        attempt++
        const next = started + 1000 * (2 ** attempt - 1)
        if (next - started >= this.connectTimeoutMs) {
          this.stats.dialTimeouts++
          this.at(started + this.connectTimeoutMs, () => fail('ETIMEDOUT', `no answer within ${this.connectTimeoutMs} ms`))
          return
        }
        this.at(next, send)
      }
      const send = (): void => {
        if (from.process !== process) return
        const to = this.#addresses.get(address) ?? this.#hosts.get(address.slice(0, address.lastIndexOf(':')))
        if (to === undefined) {
          this.at(this.clock.now(), () => fail('ENOTFOUND', 'no such host'))
          return
        }
        if (this.linkState(from, to) === 'reject' || this.linkState(to, from) === 'reject') {
          this.stats.refused++
          this.trace(`dial ${from.name}->${address} unreachable`)
          this.at(this.clock.now() + this.delay(from, to), () => fail('EHOSTUNREACH', 'host unreachable'))
          return
        }
        // SYN; then SYN-ACK back, or RST when nothing listens.
        this.at(this.clock.now() + this.delay(from, to), () => {
          if (this.linkState(from, to) !== 'open') return retry()
          const accept = this.accept(to, address)
          const back = this.clock.now() + this.delay(to, from)
          if (accept === undefined) {
            this.stats.refused++
            this.trace(`dial ${from.name}->${address} refused`)
            if (this.linkState(to, from) !== 'open') return retry()
            this.at(back, () => fail('ECONNREFUSED', 'nothing listens there'))
            return
          }
          this.at(back, () => {
            if (from.process !== process) return
            if (this.linkState(to, from) !== 'open') return retry()
            const connection = new SimConnection(this, this.#nextConnection++, from, to, address, accept)
            this.#connections.add(connection)
            this.stats.connections++
            this.trace(`connect #${connection.id} ${from.name}->${address}`)
            resolve(connection.client)
          })
        })
      }
      send()
    })
  }
}

function checkLink(p: LinkProfile): LinkProfile {
  for (const key of ['baseMs', 'jitterMs', 'retransmitMs'] as const) {
    if (!(p[key] >= 0) || !Number.isFinite(p[key])) throw new RangeError(`${key} must be a finite number >= 0, got ${p[key]}`)
  }
  if (!(p.lossRate >= 0 && p.lossRate < 1)) throw new RangeError(`lossRate must be in [0, 1), got ${p.lossRate}`)
  if (p.lossRate > 0 && p.retransmitMs === 0) throw new RangeError('retransmitMs must be positive when lossRate is')
  return Object.freeze({ ...p })
}

function resetError(message: string, code = 'ECONNRESET'): Error {
  return Object.assign(new Error(message), { code })
}

/** A TCP connection: two ends, each with the direction of segments travelling to it. */
class SimConnection {
  readonly client: SimEnd
  readonly server: SimEnd

  constructor(
    readonly net: SimNetwork,
    readonly id: number,
    clientHost: Host,
    serverHost: Host,
    serverAddress: string,
    accept: (stream: ByteStream) => void,
  ) {
    this.client = new SimEnd(this, clientHost, serverAddress, 'c')
    this.server = new SimEnd(this, serverHost, `${clientHost.name}:conn${id}`, 's')
    this.client.peer = this.server
    this.server.peer = this.client
    // The handshake's last ACK: the server's process hears of the connection when it arrives.
    this.server.enqueue('syn', undefined, accept)
  }

  /** Either end is still used by its process. */
  get isOpen(): boolean {
    return !this.client.gone || !this.server.gone
  }

  relink(): void {
    this.client.relink()
    this.server.relink()
  }

  /** Forgotten once neither process uses it and nothing is in flight (in-flight segments still draw RSTs). */
  maybeForget(): void {
    if (this.client.gone && this.server.gone && this.client.idle && this.server.idle) this.net.forget(this)
  }
}

/**
 * One end of a connection: the socket its process reads and writes, and the direction of segments travelling
 * to it (its inbox). The network keeps handling the inbox after the process stopped using the end (`gone`):
 * segments still meet blocked links, time out, or arrive at a freed socket and draw an RST.
 */
class SimEnd implements ByteStream {
  peer!: SimEnd
  readonly #net: SimNetwork
  /** The incarnation of the host's process that owns this end. */
  readonly #process: number
  #events: ByteStreamEvents | undefined
  #accept: ((stream: ByteStream) => void) | undefined

  readonly #inbox: Segment[] = []
  #lastArrival = 0
  /** Bytes of data segments in the inbox: they count against the peer's window. */
  inboxBytes = 0
  #timer: TimerHandle | undefined
  /** The head segment met a blocked link and waits for a retransmission that gets through. */
  #heldSince: number | undefined
  /** Data delivered while the link back to the sender was blocked: its ACKs are lost. */
  #unackedSince: number | undefined
  #abortTimer: TimerHandle | undefined

  #paused = false
  writeEnded = false
  readEnded = false
  /** The process no longer uses this end: it destroyed it, it closed, it was reset, or the process died. */
  gone = false
  #closeEmitted = false
  #destroyedHere = false
  wantDrain = false

  constructor(
    readonly connection: SimConnection,
    readonly host: Host,
    readonly remoteAddress: string,
    readonly side: 'c' | 's',
  ) {
    this.#net = connection.net
    this.#process = host.process
  }

  get idle(): boolean {
    return this.#inbox.length === 0
  }

  /** When the oldest segment in the inbox was sent (they are in order); Infinity when empty. */
  get oldestSentAt(): number {
    return this.#inbox[0]?.sentAt ?? Infinity
  }

  get #tag(): string {
    return `#${this.connection.id}${this.side === 'c' ? '>c' : '>s'}`
  }

  // ---- ByteStream: what this end's process does ----

  attach(events: ByteStreamEvents): void {
    this.#events = events
    this.#arm()
  }

  write(chunks: readonly Buffer[]): boolean {
    if (this.gone || this.writeEnded) return true
    let total = 0
    for (const c of chunks) total += c.length
    if (total === 0) return true
    // One write is one segment: what one send(2) of the gathered frames puts on the wire. Copied, because the
    // connection layer reuses its buffers once a write returns.
    this.peer.enqueue('data', chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks as Buffer[], total))
    if (this.peer.inboxBytes < this.#net.highWaterMarkBytes) return true
    this.wantDrain = true
    return false
  }

  end(): void {
    if (this.gone || this.writeEnded) return
    this.writeEnded = true
    this.peer.enqueue('fin', undefined)
  }

  destroy(): void {
    if (this.gone) return
    this.#net.trace(`destroy ${this.#tag}`)
    this.#destroyedHere = true
    this.#leave()
    // Our unsent data goes with the socket; the RST follows what is already on the wire.
    this.peer.dropUnsent()
    this.peer.enqueue('rst', undefined)
    this.#net.at(this.#net.clock.now(), () => this.#emitClose(undefined))
  }

  pause(): void {
    this.#paused = true
  }

  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#arm()
  }

  // ---- the network's side ----

  /** A segment from the peer, travelling to this end. */
  enqueue(kind: SegmentKind, bytes: Buffer | undefined, accept?: (stream: ByteStream) => void): void {
    const now = this.#net.clock.now()
    const arrival = Math.max(this.#lastArrival, now + this.#net.delay(this.peer.host, this.host))
    this.#lastArrival = arrival
    if (accept !== undefined) this.#accept = accept
    this.#inbox.push({ kind, bytes, arrival, sentAt: now })
    if (bytes !== undefined) this.inboxBytes += bytes.length
    this.#net.stats.segments++
    this.#arm()
  }

  /** Data segments of the peer not yet on the wire (held, or not yet arrived) are discarded. */
  dropUnsent(): void {
    const now = this.#net.clock.now()
    for (let i = this.#inbox.length - 1; i >= 0; i--) {
      const s = this.#inbox[i]!
      if (s.kind !== 'data' || (s.arrival <= now && this.#heldSince === undefined)) continue
      this.#inbox.splice(i, 1)
      this.inboxBytes -= s.bytes!.length
    }
  }

  /**
   * The process died and hears nothing more. With a live kernel (kill -9) the socket is closed for it: FIN after
   * the data already sent, or RST when data it never read was waiting. After a power cut nothing is sent.
   */
  die(kernelCloses: boolean): void {
    if (this.gone) return
    const unread = this.inboxBytes > 0
    this.#leave()
    this.#closeEmitted = true
    if (kernelCloses) {
      if (unread) this.peer.dropUnsent()
      this.peer.enqueue(unread ? 'rst' : 'fin', undefined)
    }
    this.#arm()
  }

  /** Reset (by a middlebox, an abort, an ICMP error): close with `error` after `afterMs`, hearing nothing more. */
  fail(error: Error, afterMs: number): void {
    if (this.gone) return
    this.#leave()
    this.#net.at(this.#net.clock.now() + afterMs, () => this.#emitClose(error))
  }

  /** The links changed: a held head may get through at the sender's next retransmission; ACKs may get back. */
  relink(): void {
    if (this.#heldSince !== undefined && this.#net.linkState(this.peer.host, this.host) !== 'drop') {
      const heldSince = this.#heldSince
      const heldFor = this.#net.clock.now() - heldSince
      let interval = 200
      let t = 0
      while (t + interval <= heldFor) {
        t += interval
        interval = Math.min(interval * 2, this.#net.maxRetransmitMs)
      }
      // A sender that is gone retransmits nothing: what it left (an RST) stands for the reset its peer meets at
      // its next send, which we take to be now.
      const resend = this.peer.gone ? this.#net.clock.now() : heldSince + t + interval
      // A sender that would give up first does: the abort timer stays armed.
      if (this.peer.gone || resend < heldSince + this.#net.abortAfterMs) {
        this.#heldSince = undefined
        let last = resend + this.#net.delay(this.peer.host, this.host)
        for (const s of this.#inbox) {
          if (s.arrival < last) s.arrival = last
          last = s.arrival
        }
        this.#lastArrival = Math.max(this.#lastArrival, last)
        this.#cancelTimer()
      }
    }
    if (this.#unackedSince !== undefined && this.#net.linkState(this.host, this.peer.host) === 'open') this.#unackedSince = undefined
    this.#checkAbort()
    this.#arm()
  }

  /** This end's process stops using it. */
  #leave(): void {
    this.gone = true
    this.#paused = false
    // Data we received but could not acknowledge stays unacknowledged: a freed socket acknowledges nothing.
    this.#checkAbort()
    this.connection.maybeForget()
  }

  #cancelTimer(): void {
    this.#net.cancel(this.#timer)
    this.#timer = undefined
  }

  #clearInbox(): void {
    this.#inbox.length = 0
    this.inboxBytes = 0
    this.#heldSince = undefined
    this.#unackedSince = undefined
    this.#cancelTimer()
    this.#checkAbort()
    this.connection.maybeForget()
  }

  /** Whether the head may be handed to the process now: data and FIN wait for an attached reader that is not paused. */
  #waitsForReader(head: Segment): boolean {
    return !this.gone && (head.kind === 'data' || head.kind === 'fin') && (this.#events === undefined || this.#paused)
  }

  /** Arm delivery of the head segment at its arrival time. */
  #arm(): void {
    if (this.#timer !== undefined || this.#heldSince !== undefined) return
    const head = this.#inbox[0]
    if (head === undefined || this.#waitsForReader(head)) return
    this.#timer = this.#net.at(head.arrival, this.#deliver)
  }

  readonly #deliver = (): void => {
    this.#timer = undefined
    const now = this.#net.clock.now()
    while (this.#inbox.length > 0) {
      const head = this.#inbox[0]!
      if (head.arrival > now || this.#waitsForReader(head)) break
      const state = this.#net.linkState(this.peer.host, this.host)
      if (state === 'drop') {
        this.#heldSince = now
        this.#net.stats.held++
        this.#net.trace(`held ${this.#tag}`)
        this.#checkAbort()
        return
      }
      if (state === 'reject') {
        // ICMP unreachable back to the sender: its end fails at once; we hear of it by an RST once links heal.
        this.#net.trace(`unreachable ${this.#tag}`)
        this.#net.stats.aborts++
        this.#clearInbox()
        if (!this.peer.gone) {
          this.peer.fail(resetError('host unreachable', 'EHOSTUNREACH'), 0)
          this.enqueue('rst', undefined)
        }
        return
      }
      this.#inbox.shift()
      if (head.bytes !== undefined) this.inboxBytes -= head.bytes.length
      if (this.gone || this.host.process !== this.#process) {
        // No process owns the socket any more: the kernel answers anything but an RST with one.
        this.#net.trace(`stale ${head.kind} ${this.#tag}`)
        if (head.kind !== 'rst') {
          this.#clearInbox()
          this.peer.enqueue('rst', undefined)
          return
        }
        continue
      }
      this.#receive(head)
    }
    this.connection.maybeForget()
    this.#arm()
  }

  #receive(segment: Segment): void {
    const events = this.#events
    switch (segment.kind) {
      case 'syn': {
        const accept = this.#accept
        this.#accept = undefined
        if (accept === undefined || this.#net.accept(this.host, this.peer.remoteAddress) !== accept) {
          // The listener closed after the handshake: the connection is reset.
          this.#net.trace(`unaccepted ${this.#tag}`)
          this.#leave()
          this.#closeEmitted = true
          this.#clearInbox()
          this.peer.enqueue('rst', undefined)
          return
        }
        this.#net.trace(`accept ${this.#tag}`)
        accept(this)
        return
      }
      case 'data': {
        const bytes = segment.bytes!
        this.#net.stats.bytes += bytes.length
        this.#net.trace(`data ${this.#tag} ${bytes.length}`, bytes)
        if (this.#unackedSince === undefined && this.#net.linkState(this.host, this.peer.host) !== 'open') {
          this.#unackedSince = this.#net.clock.now()
          this.#checkAbort()
        }
        events!.data(bytes)
        const writer = this.peer
        if (writer.wantDrain && this.inboxBytes < this.#net.highWaterMarkBytes) {
          writer.wantDrain = false
          writer.drainEvent()
        }
        return
      }
      case 'fin': {
        this.#net.trace(`fin ${this.#tag}`)
        this.readEnded = true
        events!.end()
        this.#maybeClose()
        return
      }
      case 'rst': {
        this.#net.trace(`rst ${this.#tag}`)
        this.#leave()
        this.#clearInbox()
        this.#emitClose(resetError('connection reset by peer'))
        return
      }
    }
  }

  drainEvent(): void {
    if (!this.gone) this.#events?.drain()
  }

  /**
   * A sender (our peer) whose data stays unacknowledged for abortAfterMs gives up: its end fails with ETIMEDOUT
   * and its RST travels to us, delivered once the link lets it through. A sender that is gone retransmits nothing.
   */
  #checkAbort(): void {
    const since = Math.min(this.#heldSince ?? Infinity, this.#unackedSince ?? Infinity)
    if (since === Infinity || this.peer.gone) {
      this.#net.cancel(this.#abortTimer)
      this.#abortTimer = undefined
      return
    }
    if (this.#abortTimer !== undefined) return
    this.#abortTimer = this.#net.at(since + this.#net.abortAfterMs, () => {
      this.#abortTimer = undefined
      const still = Math.min(this.#heldSince ?? Infinity, this.#unackedSince ?? Infinity)
      if (still === Infinity || this.peer.gone) return
      if (still + this.#net.abortAfterMs > this.#net.clock.now()) return this.#checkAbort()
      this.#net.trace(`abort ${this.#tag}`)
      this.#net.stats.aborts++
      this.peer.fail(resetError('connection timed out', 'ETIMEDOUT'), 0)
      // What the sender had not got acknowledged dies with it; its RST waits for the link like any segment.
      this.#clearInbox()
      this.enqueue('rst', undefined)
    })
  }

  /** Both directions finished: close both ends (next turn). */
  #maybeClose(): void {
    const peer = this.peer
    if (this.writeEnded && this.readEnded && peer.writeEnded && peer.readEnded) {
      this.#net.at(this.#net.clock.now(), () => {
        this.closeClean()
        peer.closeClean()
      })
    }
  }

  closeClean(): void {
    if (this.gone && this.#closeEmitted) return
    this.#leave()
    this.#emitClose(undefined)
  }

  #emitClose(error: Error | undefined): void {
    if (this.#closeEmitted) return
    this.#closeEmitted = true
    this.connection.maybeForget()
    // A process that died hears nothing; a stream its own process destroyed closes without an error.
    if (this.host.process !== this.#process) return
    const reported = this.#destroyedHere ? undefined : error
    this.#net.trace(`close ${this.#tag} ${(reported as { code?: string } | undefined)?.code ?? 'clean'}`)
    this.#events?.close(reported)
  }
}
