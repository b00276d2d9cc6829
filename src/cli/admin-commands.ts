// Admin subcommands: they talk to one node (--node host:port, default 127.0.0.1:7001) over the binary
// protocol and print what it reports.
import { RingkvError } from '../errors.ts'
import { ConnectionPool, tcpTransport } from '../net/index.ts'
import { MessageType } from '../protocol/message-types.ts'
import { systemClock, silentLogger } from '../runtime/index.ts'
import type { ClusterStatus } from '../node/gossip-membership.ts'
import type { AbortReport, TransferReport } from '../node/ownership.ts'
import { parse } from './args.ts'
import { intArg } from './start.ts'

export const ADMIN_COMMANDS = new Set(['status', 'join', 'decommission', 'abort'])

/** One request to one node; the reply's bytes. */
export async function adminRequest(node: string, type: number, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
  const pool = new ConnectionPool(tcpTransport({ clock: systemClock, logger: silentLogger }), { nodeId: 'ringkv-cli', requestTimeoutMs: timeoutMs })
  try {
    return await pool.request(node, type, payload, { timeoutMs })
  } finally {
    await pool.close()
  }
}

export function parseJsonReply<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T
  } catch (e) {
    throw new RingkvError('ERR_BAD_REPLY', `the node's ${what} reply is not JSON: ${(e as Error).message}`)
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

export function formatStatus(s: ClusterStatus): string {
  const lines: string[] = []
  lines.push(
    s.ring === undefined
      ? `node ${s.node}: no ring yet (the cluster is forming)`
      : `node ${s.node}: ring v${s.ring.version} (q ${s.ring.q}, n ${s.ring.n}), members ${s.ring.members.join(', ')}`,
  )
  if (s.pending !== undefined) lines.push(`pending ring v${s.pending.version}: members ${s.pending.members.join(', ')} (partitions are moving)`)
  lines.push('')
  lines.push(
    table([
      ['ID', 'ADDRESS', 'STATUS', 'UP', 'PHI', 'OWNED', 'REPLICATED', 'RING'],
      ...s.members.map((m) => [m.id, m.address, m.status, m.up ? 'up' : 'DOWN', m.phi.toFixed(2), String(m.owned), String(m.replicated), `v${m.ringVersion}`]),
    ]),
  )
  lines.push('')
  lines.push(`failure detector: down above phi ${s.phiThreshold}`)
  lines.push(s.divergent.length === 0 ? 'gossip: every live member holds the same ring' : `gossip divergence: ${s.divergent.join(', ')} hold another ring state`)
  return lines.join('\n')
}

export async function adminCommand(command: string, argv: string[]): Promise<number> {
  const { values } = parse(argv, { node: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' }, force: { type: 'boolean' } })
  const node = values.node ?? '127.0.0.1:7001'
  switch (command) {
    case 'join':
    case 'decommission': {
      // Moving partitions takes as long as the data takes to stream: no default deadline worth having.
      const timeoutMs = intArg('timeout', values.timeout) ?? 24 * 3600_000
      const type = command === 'join' ? MessageType.ADMIN_JOIN : MessageType.ADMIN_DECOMMISSION
      const report = parseJsonReply<TransferReport>(await adminRequest(node, type, new Uint8Array(0), timeoutMs), command)
      if (values.json) console.log(JSON.stringify(report))
      else {
        console.log(`${report.operation} of ${report.node}: ring v${report.ringBefore} -> v${report.ringAfter} in ${(report.durationMs / 1000).toFixed(1)} s`)
        console.log(`  partition replicas moved: ${report.partitionReplicasMoved} (${(report.movedFraction * 100).toFixed(2)}% of all)`)
        console.log(`  keys streamed: ${report.keysStreamed}, bytes streamed: ${report.bytesStreamed}`)
        if (report.operation === 'decommission') console.log(`  ${report.node} owns nothing now and can be stopped`)
      }
      return 0
    }
    case 'abort': {
      const timeoutMs = intArg('timeout', values.timeout) ?? 10_000
      const payload = Uint8Array.of(values.force === true ? 1 : 0)
      const report = parseJsonReply<AbortReport>(await adminRequest(node, MessageType.ADMIN_ABORT, payload, timeoutMs), 'abort')
      if (values.json) console.log(JSON.stringify(report))
      else {
        console.log(`aborted the change to ring v${report.aborted}${report.driver === undefined ? '' : ` (the ${report.driver} join or decommission)`}; ring v${report.ring} stays in force`)
      }
      return 0
    }
    case 'status': {
      const timeoutMs = intArg('timeout', values.timeout) ?? 10_000
      const status = parseJsonReply<ClusterStatus>(await adminRequest(node, MessageType.ADMIN_STATUS, new Uint8Array(0), timeoutMs), 'status')
      console.log(values.json ? JSON.stringify(status) : formatStatus(status))
      return status.members.every((m) => m.up) ? 0 : 3
    }
  }
  return 2
}
