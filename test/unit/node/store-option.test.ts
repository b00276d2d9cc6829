// startNode's `store` option: the node uses the given store and never closes it (its owner does), so the same
// store -- a simulated disk -- serves the next node started on it; a store that is not one is refused by name.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryNetwork } from '../../../src/net/memory.ts'
import { startNode } from '../../../src/node/node.ts'
import { VirtualClock } from '../../../src/runtime/clock.ts'
import { silentLogger } from '../../../src/runtime/logger.ts'
import { MemoryStore } from '../../../src/storage/memory-store.ts'

test('a given store outlives the node; a data directory keeps the actor across nodes on it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-store-option-'))
  const clock = new VirtualClock({ startMs: 1_000_000, autoAdvance: true })
  const network = new MemoryNetwork({ clock })
  const store = new MemoryStore()
  try {
    const options = { id: 'solo', listen: 'solo:1', dataDir: dir, store, clock, logger: silentLogger, transport: network.transport(), keyspace: { n: 1 } }
    const first = await startNode(options)
    await first.service.put(Buffer.from('k'), Buffer.from('v'))
    await first.close()
    assert.not.ok(store.closed, 'the node did not close a store it was given')
    const second = await startNode(options)
    assert.is(second.actor, first.actor, 'same data directory, same epoch')
    assert.is((await second.service.get(Buffer.from('k'))).value?.toString(), 'v')
    await second.close()
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a store without the ReplicaStore methods is refused, naming the option', async () => {
  for (const store of [{}, null, { get() {} }]) {
    try {
      await startNode({ id: 'a', listen: '127.0.0.1:1', store: store as never, logger: silentLogger })
      assert.unreachable('accepted')
    } catch (e) {
      const err = e as { code?: string; message: string }
      assert.is(err.code, 'ERR_INVALID_ARGUMENT', err.message)
      assert.match(err.message, 'store')
    }
  }
})

test.run()
