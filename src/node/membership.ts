// Static membership (gossip and failure detection come later, DESIGN section 5): a node introduces
// itself to its seeds and to every member it has learned of, and learns their members in return
// (MEMBERS). The set only grows, and it is kept in the data directory, so a restarted node knows the
// whole cluster even when some members are down.
//
// Every node computes the ring the same way from the same set: a fresh claim over the members
// sorted by id. That is deterministic across nodes, which is what static membership needs; moving
// only ~1/(S+1) of the partitions when a node joins (claim from the previous ring) comes with the
// versioned, gossiped ring map of the join/leave work.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RingkvError } from '../errors.ts'
import type { MemberInfo } from '../cluster/api.ts'
import { decodeMembers, encodeMembers } from '../cluster/messages.ts'
import { MessageType } from '../protocol/message-types.ts'
import { claim, type RingMap } from '../ring/index.ts'
import type { Clock, Logger, TimerHandle } from '../runtime/index.ts'
import type { ConnectionPool } from '../net/index.ts'

const FILE = 'members.json'

export interface MembershipOptions {
  self: MemberInfo
  seeds: readonly string[]
  partitions: number
  n: number
  dataDir: string | undefined
  pool: ConnectionPool
  clock: Clock
  logger: Logger
  intervalMs: number
  requestTimeoutMs: number
}

export class StaticMembership {
  readonly #o: MembershipOptions
  readonly #members = new Map<string, MemberInfo>()
  #ring: RingMap
  #timer: TimerHandle | undefined
  #listeners: Array<(ring: RingMap) => void> = []
  #exchanging = false

  constructor(options: MembershipOptions) {
    this.#o = options
    for (const m of this.#load()) this.#members.set(m.id, m)
    this.#members.set(options.self.id, options.self)
    this.#ring = this.#claim()
  }

  get ring(): RingMap {
    return this.#ring
  }

  members(): MemberInfo[] {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  member(id: string): MemberInfo | undefined {
    return this.#members.get(id)
  }

  onRingChange(listener: (ring: RingMap) => void): void {
    this.#listeners.push(listener)
  }

  /** Learns members a peer told us about; returns whether the set grew. */
  learn(members: readonly MemberInfo[]): boolean {
    let grew = false
    let changed = false
    for (const m of members) {
      const known = this.#members.get(m.id)
      if (m.id === this.#o.self.id) continue
      if (known === undefined || known.address !== m.address || known.http !== m.http) {
        if (known !== undefined && known.address !== m.address) {
          this.#o.logger.warn('member address changed', { member: m.id, from: known.address, to: m.address })
        }
        this.#members.set(m.id, m)
        grew = grew || known === undefined
        changed = true
      }
    }
    if (changed) {
      this.#save()
      if (grew) {
        this.#ring = this.#claim()
        this.#o.logger.info('membership changed', { members: this.members().map((m) => m.id) })
        for (const l of this.#listeners) l(this.#ring)
      }
    }
    return grew
  }

  /** The MEMBERS handler: learn the caller's view, answer with ours. */
  handleMembers(payload: Buffer): Uint8Array {
    this.learn(decodeMembers(payload))
    return encodeMembers(this.members())
  }

  /** One round of introductions to every seed and member; resolves when all have answered or failed. */
  async exchange(): Promise<number> {
    if (this.#exchanging) return 0
    this.#exchanging = true
    try {
      const targets = new Set<string>(this.#o.seeds)
      for (const m of this.#members.values()) targets.add(m.address)
      targets.delete(this.#o.self.address)
      const payload = encodeMembers(this.members())
      let answered = 0
      await Promise.all(
        [...targets].map(async (address) => {
          try {
            const reply = await this.#o.pool.request(address, MessageType.MEMBERS, payload, {
              timeoutMs: this.#o.requestTimeoutMs,
            })
            this.learn(decodeMembers(reply, 'ERR_BAD_REPLY'))
            answered++
          } catch (e) {
            this.#o.logger.debug('membership exchange failed', { address, code: (e as RingkvError).code })
          }
        }),
      )
      return answered
    } finally {
      this.#exchanging = false
    }
  }

  start(): void {
    this.#timer = this.#o.clock.setInterval(() => {
      void this.exchange()
    }, this.#o.intervalMs)
  }

  stop(): void {
    this.#o.clock.clearInterval(this.#timer)
    this.#timer = undefined
  }

  #claim(): RingMap {
    const members = this.members().map((m) => ({ id: m.id }))
    const n = Math.min(this.#o.n, members.length)
    return claim(undefined, members, { q: this.#o.partitions, n: Math.max(1, n) }).ring
  }

  #load(): MemberInfo[] {
    if (this.#o.dataDir === undefined) return []
    let text: string
    try {
      text = readFileSync(join(this.#o.dataDir, FILE), 'utf8')
    } catch {
      return []
    }
    try {
      const parsed = JSON.parse(text) as { members?: MemberInfo[] }
      if (!Array.isArray(parsed.members)) throw new Error('no members array')
      return parsed.members.filter((m) => typeof m?.id === 'string' && typeof m?.address === 'string')
    } catch (e) {
      throw new RingkvError('ERR_CORRUPTION', `${join(this.#o.dataDir, FILE)} is not valid: ${(e as Error).message}`)
    }
  }

  #save(): void {
    if (this.#o.dataDir === undefined) return
    mkdirSync(this.#o.dataDir, { recursive: true })
    const path = join(this.#o.dataDir, FILE)
    writeFileSync(`${path}.tmp`, JSON.stringify({ members: this.members() }, null, 2))
    renameSync(`${path}.tmp`, path)
  }
}
