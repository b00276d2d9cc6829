#!/usr/bin/env -S node --initial-heap-size=256
// The flag is src/cli/server-flags.ts's SERVER_NODE_FLAGS (why it matters is explained there).
// The ringkv command; the code is compiled from src/cli (npm install builds it).
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv.slice(2))
