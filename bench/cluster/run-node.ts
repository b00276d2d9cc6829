// Runs `ringkv` from the sources (no build step needed): `node --import tsx bench/cluster/run-node.ts start ...`.
import { main } from '../../src/cli/main.ts'

process.exitCode = await main(process.argv.slice(2))
