// `ringkv repair`: asks one node (--node host:port) to run an anti-entropy round now over the partitions it
// replicates (or those named with --partition) and prints the round's report. Exits 3 when the round could not
// reach every replica (a peer down or an exchange failed): what those replicas missed is not repaired yet.
import { MessageType } from '../protocol/message-types.ts'
import { encodeRepairRequest, type RepairReport } from '../node/anti-entropy/index.ts'
import { adminRequest, parseJsonReply } from './admin-commands.ts'
import { parse, UsageError } from './args.ts'
import { intArg } from './start.ts'

/** A full round over 4096 partitions at the default pace takes a minute or two; the default leaves room. */
const DEFAULT_TIMEOUT_MS = 30 * 60_000

function partitionsArg(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined
  return v.split(',').map((s) => {
    const n = Number(s)
    if (s === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--partition takes partition numbers (0-65535) separated by commas, got ${v}`)
    return n
  })
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export function formatRepair(r: RepairReport): string {
  const moved = r.bytesSent + r.bytesReceived
  const share = r.dataBytes === 0 ? '' : `: ${((100 * moved) / r.dataBytes).toFixed(2)}% of the ${size(r.dataBytes)} of data compared`
  const lines = [
    `repair on ${r.node}: ${r.partitions} partitions (${r.partitionsComplete} reached every replica), ${r.exchanges} exchanges, ` +
      `${r.exchangesFailed} failed, ${r.peersDown} skipped (replica down)`,
    `  compared ${r.keysCompared} keys in ${r.leavesDiffering} differing leaves; repaired ${r.keysRepaired} copies ` +
      `(${r.keysRepairedHere} here, ${r.keysRepairedOnPeers} on peers)${r.corruptRepaired > 0 ? `, ${r.corruptRepaired} damaged values replaced` : ''}`,
    `  collected ${r.tombstonesCollected} tombstones and expired values`,
    `  moved ${size(moved)} (${size(r.bytesSent)} sent, ${size(r.bytesReceived)} received)${share}, in ${r.durationMs} ms`,
  ]
  for (const e of r.errors) lines.push(`  error: ${e}`)
  return lines.join('\n')
}

export async function repairCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { node: { type: 'string' }, partition: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } })
  const node = values.node ?? '127.0.0.1:7001'
  const timeoutMs = intArg('timeout', values.timeout) ?? DEFAULT_TIMEOUT_MS
  const payload = encodeRepairRequest(partitionsArg(values.partition))
  const report = parseJsonReply<RepairReport>(await adminRequest(node, MessageType.ADMIN_REPAIR, payload, timeoutMs), 'repair')
  console.log(values.json ? JSON.stringify(report) : formatRepair(report))
  return report.exchangesFailed > 0 || report.peersDown > 0 ? 3 : 0
}
