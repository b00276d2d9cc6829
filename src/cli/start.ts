import { startNode } from '../node/index.ts'
import type { Consistency } from '../cluster/api.ts'
import type { Durability } from '../engine/index.ts'
import { parse, UsageError } from './args.ts'
import { heapPresized, SERVER_NODE_FLAGS } from './server-flags.ts'

export function consistencyArg(name: string, v: string | undefined): Consistency | undefined {
  if (v === undefined) return undefined
  if (v === 'one' || v === 'quorum' || v === 'all') return v
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer or one|quorum|all, got ${v}`)
  return n
}

export function intArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${v}`)
  return n
}

export function onOffArg(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined
  if (v === 'on') return true
  if (v === 'off') return false
  throw new UsageError(`--${name} must be on or off, got ${v}`)
}

export async function startCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    id: { type: 'string' },
    listen: { type: 'string' },
    http: { type: 'string' },
    seeds: { type: 'string' },
    data: { type: 'string' },
    durability: { type: 'string' },
    'row-cache-bytes': { type: 'string' },
    'huge-pages': { type: 'string' },
    partitions: { type: 'string' },
    n: { type: 'string' },
    r: { type: 'string' },
    w: { type: 'string' },
    lww: { type: 'boolean' },
    'bootstrap-expect': { type: 'string' },
    'hint-max-bytes': { type: 'string' },
    'hint-max-age-ms': { type: 'string' },
    'hint-rate': { type: 'string' },
    'hint-bytes-per-sec': { type: 'string' },
    'hint-interval-ms': { type: 'string' },
    'anti-entropy-interval': { type: 'string' },
    'tombstone-grace': { type: 'string' },
  })
  const hints = {
    maxBytes: intArg('hint-max-bytes', values['hint-max-bytes']),
    maxAgeMs: intArg('hint-max-age-ms', values['hint-max-age-ms']),
    deliveryRate: intArg('hint-rate', values['hint-rate']),
    deliveryBytesPerSec: intArg('hint-bytes-per-sec', values['hint-bytes-per-sec']),
    deliveryIntervalMs: intArg('hint-interval-ms', values['hint-interval-ms']),
  }
  if (values.id === undefined) throw new UsageError('start needs --id')
  if (values.listen === undefined) throw new UsageError('start needs --listen host:port')
  if (values.data === undefined) throw new UsageError('start needs --data DIR')
  const node = await startNode({
    id: values.id,
    listen: values.listen,
    http: values.http,
    seeds: values.seeds === undefined ? [] : values.seeds.split(',').filter((s) => s !== ''),
    dataDir: values.data,
    durability: values.durability as Durability | undefined,
    rowCacheBytes: intArg('row-cache-bytes', values['row-cache-bytes']),
    hugePages: onOffArg('huge-pages', values['huge-pages']),
    partitions: intArg('partitions', values.partitions),
    bootstrapExpect: intArg('bootstrap-expect', values['bootstrap-expect']),
    keyspace: {
      ...(values.n === undefined ? {} : { n: intArg('n', values.n) }),
      ...(values.r === undefined ? {} : { r: consistencyArg('r', values.r) }),
      ...(values.w === undefined ? {} : { w: consistencyArg('w', values.w) }),
      ...(values.lww ? { lww: true } : {}),
    },
    hints: Object.fromEntries(Object.entries(hints).filter(([, v]) => v !== undefined)),
    antiEntropyIntervalMs: intArg('anti-entropy-interval', values['anti-entropy-interval']),
    tombstoneGraceMs: intArg('tombstone-grace', values['tombstone-grace']),
  })
  if (!heapPresized()) {
    console.error(`ringkv: warning: node ${node.id} started without ${SERVER_NODE_FLAGS.join(' ')}; under load V8 will run full GCs several times a second (the ringkv command and \`ringkv cluster\` pass it: node ${SERVER_NODE_FLAGS.join(' ')} bin/ringkv.js start ...)`)
  }
  console.log(`ringkv node ${node.id}: binary ${node.address}${node.httpAddress ? `, http ${node.httpAddress}` : ''}, pid ${process.pid}`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await node.close()
  return 0
}
