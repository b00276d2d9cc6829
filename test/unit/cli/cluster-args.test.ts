// `ringkv cluster` refuses bad arguments before it starts any node: one usage error, no processes, no data directory.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../../../src/cli/args.ts'
import { clusterCommand } from '../../../src/cli/cluster.ts'

test('a bad --durability, --nodes or --huge-pages is a usage error before any node starts', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ringkv-cluster-args-'))
  try {
    const data = join(root, 'data')
    const cases: [string[], RegExp][] = [
      [['--durability', 'fast'], /--durability must be one of sync, interval, none, got fast/],
      [['--nodes', '0'], /--nodes must be between 1 and 32, got 0/],
      [['--huge-pages', 'maybe'], /--huge-pages must be on or off, got maybe/],
    ]
    for (const [args, message] of cases) {
      try {
        await clusterCommand([...args, '--data', data])
        assert.unreachable(`accepted ${args.join(' ')}`)
      } catch (e) {
        assert.instance(e, UsageError)
        assert.match((e as Error).message, message)
      }
    }
    assert.not.ok(existsSync(data), 'no data directory was made')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test.run()
