// Client subcommands: get, put, delete, scan, ring, over the binary protocol.
import { connect } from '../client/index.ts'
import { parse, UsageError } from './args.ts'
import { consistencyArg, intArg } from './start.ts'

export const CLIENT_COMMANDS = new Set(['get', 'put', 'delete', 'scan', 'ring'])

const common = {
  seeds: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const

function text(b: Buffer): string {
  return b.toString('utf8')
}

export async function clientCommand(command: string, argv: string[]): Promise<number> {
  const options = {
    ...common,
    r: { type: 'string' },
    w: { type: 'string' },
    context: { type: 'string' },
    ttl: { type: 'string' },
    prefix: { type: 'string' },
    start: { type: 'string' },
    end: { type: 'string' },
    limit: { type: 'string' },
  } as const
  const { values, positionals } = parse(argv, options, 2)
  const seeds = (values.seeds ?? '127.0.0.1:7001').split(',').filter((s) => s !== '')
  const timeoutMs = intArg('timeout', values.timeout)
  const client = await connect({ seeds, ...(timeoutMs === undefined ? {} : { timeoutMs }) })
  try {
    switch (command) {
      case 'get': {
        const key = positionals[0]
        if (key === undefined) throw new UsageError('get needs a KEY')
        const r = await client.get(key, { r: consistencyArg('r', values.r) })
        if (values.json) {
          console.log(JSON.stringify({ found: r.found, siblings: r.siblings.map((s) => ({ ...s, value: text(s.value) })), context: r.context }))
        } else if (!r.found) {
          console.error(`not found (context ${r.context || '-'})`)
          return 1
        } else if (r.value !== undefined) {
          console.log(text(r.value))
          console.error(`context ${r.context}`)
        } else {
          console.log(`${r.siblings.length} siblings:`)
          for (const s of r.siblings) console.log(`  ${text(s.value)}  (written ${new Date(s.timestamp).toISOString()})`)
          console.error(`context ${r.context}`)
        }
        return 0
      }
      case 'put': {
        const [key, value] = positionals
        if (key === undefined || value === undefined) throw new UsageError('put needs KEY VALUE')
        const r = await client.put(key, value, {
          w: consistencyArg('w', values.w),
          context: values.context,
          ttlMs: intArg('ttl', values.ttl),
        })
        console.error(`ok, context ${r.context}`)
        return 0
      }
      case 'delete': {
        const key = positionals[0]
        if (key === undefined) throw new UsageError('delete needs a KEY')
        await client.delete(key, { w: consistencyArg('w', values.w), context: values.context })
        console.error('ok')
        return 0
      }
      case 'scan': {
        const limit = intArg('limit', values.limit)
        for await (const e of client.scan({
          prefix: values.prefix,
          start: values.start,
          end: values.end,
          ...(limit === undefined ? {} : { limit }),
        })) {
          if (values.json) console.log(JSON.stringify({ key: text(e.key), siblings: e.siblings.map((s) => text(s.value)), context: e.context }))
          else console.log(`${text(e.key)}\t${e.siblings.map((s) => text(s.value)).join(' | ')}`)
        }
        return 0
      }
      case 'ring': {
        const { map: ring, members } = client.ring()
        if (ring === undefined) throw new UsageError('no ring is known yet')
        const owned = new Map<string, number>()
        for (const owner of ring.owners) owned.set(owner, (owned.get(owner) ?? 0) + 1)
        if (values.json) {
          console.log(JSON.stringify({ version: ring.version, partitions: ring.q, n: ring.n, members: members.map((m) => ({ ...m, partitions: owned.get(m.id) ?? 0 })) }))
          return 0
        }
        console.log(`ring version ${ring.version}, ${ring.q} partitions, n=${ring.n}, checksum ${ring.checksum.slice(0, 16)}`)
        for (const m of members) {
          console.log(`  ${m.id.padEnd(8)} ${m.address.padEnd(21)} http ${(m.http ?? '-').padEnd(21)} ${owned.get(m.id) ?? 0} partitions`)
        }
        return 0
      }
      default:
        throw new UsageError(`unknown command: ${command}`)
    }
  } finally {
    await client.close()
  }
}
