import { readFileSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { heapPresized, SERVER_HEAP_MB, SERVER_NODE_FLAGS } from '../../../src/cli/server-flags.ts'

test('the ringkv bin starts node with the server flags (its shebang cannot import them)', () => {
  const shebang = readFileSync(new URL('../../../bin/ringkv.js', import.meta.url), 'utf8').split('\n')[0]!
  assert.is(shebang, `#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`)
  assert.ok(SERVER_NODE_FLAGS.includes(`--initial-heap-size=${SERVER_HEAP_MB}`))
})

test('heapPresized looks for the flag in either spelling V8 accepts', () => {
  assert.ok(heapPresized(['--initial-heap-size=256']))
  assert.ok(heapPresized(['--inspect', '--initial_heap_size=64']))
  assert.not.ok(heapPresized([]))
  assert.not.ok(heapPresized(['--max-old-space-size=4096']))
})

test.run()
