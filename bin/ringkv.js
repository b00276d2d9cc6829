#!/usr/bin/env node
// The ringkv command; the code is compiled from src/cli (npm install builds it).
import { main } from '../dist/cli/main.js'

process.exitCode = await main(process.argv.slice(2))
