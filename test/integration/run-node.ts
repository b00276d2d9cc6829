// Runs the ringkv CLI from source (for tests: no build step), e.g. `node --import tsx run-node.ts start ...`.
import { main } from '../../src/cli/main.ts'

process.exitCode = await main(process.argv.slice(2))
