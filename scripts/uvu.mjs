#!/usr/bin/env node
// Runs uvu (arguments passed through) and fails unless every test it counted passed.
//
// Why: uvu 0.5 formats a failure by reading `err.details` as a string; an error whose `details` is an object
// (every RingkvError with structured details) makes that formatting throw inside uvu's runner, whose
// `finally { return ... }` then swallows the throw -- the failure is never printed, the suite's remaining
// tests never run, and the process exits 0. The summary still counts the declared tests, so "Passed" below
// "Total" is the tell.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// uvu's package exports do not include its bin; it sits next to this checkout's node_modules.
const uvu = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url))
const child = spawn(process.execPath, ['--import', 'tsx', uvu, ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] })
let tail = ''
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4096)
})
child.on('exit', (code, signal) => {
  if (signal !== null) {
    console.error(`uvu was killed by ${signal}`)
    process.exit(1)
  }
  if (code !== 0) process.exit(code ?? 1)
  // eslint-disable-next-line no-control-regex
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, '')
  const total = /Total:\s+(\d+)/.exec(plain)
  const passed = /Passed:\s+(\d+)/.exec(plain)
  if (total === null || passed === null) {
    console.error('uvu printed no summary: the run did not finish')
    process.exit(1)
  }
  if (Number(passed[1]) !== Number(total[1])) {
    console.error(
      `uvu passed ${passed[1]} of ${total[1]} tests and reported no failure: a test threw an error uvu could not format ` +
        '(an error with an object `details`, such as a RingkvError) and the rest of its suite did not run. ' +
        'Run that file alone to find it; wrap the error (new Error(`${e.code}: ${e.message}`)) to see it.',
    )
    process.exit(1)
  }
})
