// The data epoch (src/node/epoch.ts): kept across clean stops; renewed after a start that did not end cleanly
// (unless writes are fsynced before they are acknowledged), with a wiped directory, and without one; a damaged
// node.json is an ERR_CORRUPTION naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../../src/errors.ts'
import { NODE_FILE, openDataEpoch } from '../../../src/node/epoch.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { silentLogger } from '../../../src/runtime/logger.ts'

function withDir(body: (dir: string, clock: VirtualClock) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-epoch-'))
  try {
    body(join(dir, 'node'), new VirtualClock({ startMs: 5000 }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('a clean stop keeps the epoch; an unclean one renews it in interval and none modes, not in sync mode', async () => {
  withDir((dir, clock) => {
    const first = openDataEpoch(dir, clock, 'interval', silentLogger)
    assert.is(first.epoch, 5000)
    assert.equal(JSON.parse(readFileSync(join(dir, NODE_FILE), 'utf8')), { epoch: 5000, running: true })
    first.markClosed()
    assert.is(openDataEpoch(dir, clock, 'interval', silentLogger).epoch, 5000, 'clean: same epoch')
    // That run never closed: the next start may follow a crash that lost unsynced writes.
    assert.is(openDataEpoch(dir, clock, 'interval', silentLogger).epoch, 5001, 'newer than the old one even if the clock is not')
    assert.is(openDataEpoch(dir, clock, 'sync', silentLogger).epoch, 5001, 'sync: nothing acknowledged can be lost')
    assert.is(openDataEpoch(dir, new VirtualClock({ startMs: 6000 }), 'none', silentLogger).epoch, 6000, 'the clock when it is newer')
  })
})

test('a node.json without the running mark (older) counts as unclean; no data directory means a new epoch each time', async () => {
  withDir((dir, clock) => {
    openDataEpoch(dir, clock, 'interval', silentLogger).markClosed()
    writeFileSync(join(dir, NODE_FILE), JSON.stringify({ epoch: 4000 }))
    assert.is(openDataEpoch(dir, clock, 'interval', silentLogger).epoch, 5000)
    assert.is(openDataEpoch(undefined, clock, 'sync', silentLogger).epoch, 5000)
  })
})

test('a damaged node.json is ERR_CORRUPTION naming the file', async () => {
  withDir((dir, clock) => {
    openDataEpoch(dir, clock, 'interval', silentLogger)
    for (const text of ['{', '{"epoch": -1}', '{"epoch": 3, "running": "yes"}', '[]']) {
      writeFileSync(join(dir, NODE_FILE), text)
      assert.throws(
        () => openDataEpoch(dir, clock, 'interval', silentLogger),
        (e: unknown) => isRingkvError(e, 'ERR_CORRUPTION') && (e as Error).message.includes(NODE_FILE),
        text,
      )
    }
  })
})

test.run()
