// The systems a load-generator worker can drive, behind one interface: ringkv through its client, the bare
// request path, and a Redis server. Keys are indexes into a table of fixed-width names built once.
import { Redis } from 'ioredis'
import { connect, type Client } from '../../src/client/index.ts'
import { BareClient } from './bare/client.ts'
import { keyName } from './keys.ts'
import type { TargetSpec } from './task.ts'

export interface Target {
  get(key: number): Promise<void>
  put(key: number, value: Buffer): Promise<void>
  close(): Promise<void>
}

export async function openTarget(spec: TargetSpec, keys: number): Promise<Target> {
  const names = Array.from({ length: keys }, (_, i) => Buffer.from(keyName(i)))
  switch (spec.kind) {
    case 'ringkv':
      return new RingkvTarget(await connect({ seeds: spec.seeds, timeoutMs: spec.timeoutMs }), names)
    case 'bare':
      return bareTarget(await BareClient.connect(spec.addresses), names)
    case 'redis':
      return redisTarget(spec.address, names)
  }
}

/**
 * ringkv as an application uses it: every write passes the causal context of the latest reply the worker got
 * for that key, so a write supersedes what was read or written before instead of piling up siblings (a
 * write without a context becomes a sibling, by Dynamo's rules). Concurrent writers still make siblings,
 * which the next write with a context resolves.
 */
class RingkvTarget implements Target {
  readonly #client: Client
  readonly #names: Buffer[]
  readonly #contexts: (string | undefined)[]

  constructor(client: Client, names: Buffer[]) {
    this.#client = client
    this.#names = names
    this.#contexts = new Array<string | undefined>(names.length)
  }

  async get(key: number): Promise<void> {
    const result = await this.#client.get(this.#names[key]!)
    // Kept only when it changed: storing every reply's (equal) string would keep the collector busy.
    if (result.context !== '' && result.context !== this.#contexts[key]) this.#contexts[key] = result.context
  }

  async put(key: number, value: Buffer): Promise<void> {
    const context = this.#contexts[key]
    const result = await this.#client.put(this.#names[key]!, value, context === undefined ? undefined : { context })
    this.#contexts[key] = result.context
  }

  close(): Promise<void> {
    return this.#client.close()
  }
}

function bareTarget(client: BareClient, names: Buffer[]): Target {
  return {
    get: async (key) => {
      await client.get(names[key]!)
    },
    put: async (key, value) => {
      await client.put(names[key]!, value)
    },
    close: async () => client.close(),
  }
}

async function redisTarget(address: string, names: Buffer[]): Promise<Target> {
  const colon = address.lastIndexOf(':')
  // Auto-pipelining gathers the commands of one event-loop turn into one write, as ringkv's client does.
  const redis = new Redis({
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    enableAutoPipelining: true,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
  })
  await redis.connect()
  return {
    get: async (key) => {
      await redis.getBuffer(names[key]!)
    },
    put: async (key, value) => {
      await redis.set(names[key]!, value)
    },
    close: async () => {
      redis.disconnect()
    },
  }
}
