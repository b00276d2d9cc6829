// The `ringkv` command. One function per subcommand; arguments parsed with node:util's parseArgs,
// and every bad argument is a clear message and exit code 2, never a stack trace.
import { RingkvError } from '../errors.ts'
import { startCommand } from './start.ts'
import { clusterCommand } from './cluster.ts'
import { clientCommand, CLIENT_COMMANDS } from './client-commands.ts'
import { UsageError } from './args.ts'
import { adminCommand, ADMIN_COMMANDS } from './admin-commands.ts'
import { repairCommand } from './repair.ts'

export const USAGE = `usage: ringkv <command> [options]

commands:
  start      run one node
               --id n1 --listen 127.0.0.1:7001 [--http 127.0.0.1:8001] [--seeds host:port,...]
               --data DIR [--durability sync|interval|none] [--partitions 4096] [--row-cache-bytes 0] [--huge-pages on]
               [--n 3] [--r quorum] [--w quorum] [--lww] [--bootstrap-expect N]
               [--hint-max-bytes 268435456] [--hint-max-age-ms 10800000] [--hint-rate 2000]
               [--hint-bytes-per-sec 8388608] [--hint-interval-ms 2000]
               [--anti-entropy-interval MS (600000; 0 = only on repair)] [--tombstone-grace MS (10 days)]
  cluster    run a local cluster, one process per node (Ctrl-C stops it)
               [--nodes 3] [--data ./data] [--port 7001] [--http-port 8001] [--durability interval] [--huge-pages on]
  get KEY            read a key          [--r R] [--json]
  put KEY VALUE      write a key         [--w W] [--context C] [--ttl MS]
  delete KEY         delete a key        [--w W] [--context C]
  scan               list keys in order  [--prefix P | --start S --end E] [--limit N] [--json]
  ring               members and partition ownership
  status             a node's view of the cluster: members, status, phi, ownership
                       [--node host:port] [--json]; exits 3 when a member is down
  join               the node (started with --seeds of the cluster) takes its share of the partitions
                       [--node host:port] [--json]
  decommission       the node hands its partitions to the others and leaves the ring
                       [--node host:port] [--json]
  abort              discard a pending join or decommission whose node is gone for good (refused while
                       that node is alive unless --force); the current ring stays  [--node host:port] [--json]
  repair             run an anti-entropy round on a node now and report what it compared and repaired
                       [--node host:port] [--partition P,...] [--timeout MS] [--json];
                       exits 3 when a replica could not be reached
  client commands take [--seeds host:port,...] (default 127.0.0.1:7001) and [--timeout MS]`

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      console.log(USAGE)
      return command === undefined ? 2 : 0
    }
    if (command === 'start') return await startCommand(rest)
    if (command === 'cluster') return await clusterCommand(rest)
    if (CLIENT_COMMANDS.has(command)) return await clientCommand(command, rest)
    if (ADMIN_COMMANDS.has(command)) return await adminCommand(command, rest)
    if (command === 'repair') return await repairCommand(rest)
    throw new UsageError(`unknown command: ${command}`)
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`ringkv: ${e.message}\n\n${USAGE}`)
      return 2
    }
    if (e instanceof RingkvError) {
      console.error(`ringkv: ${e.code}: ${e.message}`)
      return 1
    }
    console.error(`ringkv: ${(e as Error).stack ?? String(e)}`)
    return 1
  }
}
