// The simulated cluster's process model: a crash stops a node at once (timers, sockets, disk access) without a
// graceful close; a restart keeps the disk and the actor id; a wipe gives a new actor; tampering with a disk is
// seen by the node that owns it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isRingkvError } from '../../src/errors.ts'
import { partitionOf } from '../../src/ring/index.ts'
import { VirtualClock } from '../../src/runtime/clock.ts'
import { SimCluster } from './cluster.ts'
import { ProcessClock } from './node-clock.ts'

test('a process clock: its timers run on the shared clock, all cancelled by halt, none after it', async () => {
  const base = new VirtualClock({ startMs: 1000 })
  const p = new ProcessClock(base, -250)
  const ran: string[] = []
  p.setTimeout(() => ran.push('timeout'), 10)
  p.setInterval(() => ran.push('tick'), 4)
  const cancelled = p.setTimeout(() => ran.push('cancelled'), 5)
  p.clearTimeout(cancelled)
  assert.is(p.now(), 750, 'the skew shifts wall-clock time')
  await base.advance(10)
  assert.equal(ran, ['tick', 'tick', 'timeout'])
  p.halt()
  p.setTimeout(() => ran.push('after halt'), 1)
  await base.advance(20)
  assert.equal(ran, ['tick', 'tick', 'timeout'])
  assert.is(p.pendingTimers, 0)
  assert.is(base.pendingTimers, 0, 'nothing of the process is left on the shared clock')
})

test('crash: no close, timers gone, the store fenced, calls in flight fail; the disk survives', async () => {
  const c = new SimCluster({ seed: 1 })
  try {
    await c.drive(c.start())
    const n1 = c.node('n1')
    const service = c.service('n1')
    await c.drive(service.put(Buffer.from('k'), Buffer.from('v1'), { w: 3 }))
    const oldProcess = n1.process!
    // A read whose replicas cannot answer in time: it is in flight when the node dies.
    c.net.isolate('n1')
    const inFlight = service.get(Buffer.from('k'), { r: 3 }).then(
      () => 'answered',
      (e: unknown) => (isRingkvError(e) ? e.code : String(e)),
    )
    await c.run(5)
    c.crash('n1')
    assert.is(await c.drive(inFlight), 'ERR_CRASHED')
    assert.ok(oldProcess.clock.halted)
    assert.is(oldProcess.clock.pendingTimers, 0)
    assert.throws(() => oldProcess.store.get(0, Buffer.from('k')), /closed/, 'the dead process cannot reach the disk')
    assert.ok(isRingkvError(await service.get(Buffer.from('k')).catch((e: unknown) => e), 'ERR_UNAVAILABLE'))
    c.net.heal()
    await c.drive(c.restart('n1'))
    assert.is((await c.drive(service.get(Buffer.from('k'), { r: 1 }))).value?.toString(), 'v1', 'the data survived on its disk')
  } finally {
    await c.close()
  }
})

test('actors: a clean stop keeps the actor; a crash changes it (it may have lost unsynced writes) unless writes are fsynced; a wipe always does', async () => {
  for (const durability of ['interval', 'sync'] as const) {
    const c = new SimCluster({ seed: 3, durability })
    try {
      await c.drive(c.start())
      const n1 = c.node('n1')
      await c.drive(c.stop('n1'))
      await c.drive(c.restart('n1'))
      c.crash('n1', 'machine')
      await c.drive(c.restart('n1'))
      c.crash('n1')
      c.wipe('n1')
      await c.drive(c.restart('n1'))
      const [first, afterStop, afterCrash, afterWipe] = n1.actors
      assert.is(afterStop, first, `${durability}: a clean stop keeps the actor`)
      if (durability === 'interval') assert.is.not(afterCrash, afterStop, 'interval: a crash may have lost writes')
      else assert.is(afterCrash, afterStop, 'sync: nothing acknowledged was lost')
      assert.ok(![first, afterCrash].includes(afterWipe), `${durability}: a wiped disk gets a new actor`)
    } finally {
      await c.close()
    }
  }
})

test('a power cut right after a write loses it on that node; kill -9 loses nothing', async () => {
  const c = new SimCluster({ seed: 4, durability: 'interval' })
  try {
    await c.drive(c.start())
    const n1 = c.node('n1')
    const before = n1.disk.size
    // The coordinator applies the write to its store at once; the power goes before the next fsync.
    const write = c.service('n1').put(Buffer.from('fresh'), Buffer.from('x'), { w: 3 }).catch((e: unknown) => e)
    assert.ok(n1.disk.size > before, 'applied at once (with the key epoch record when it starts a lease)')
    c.crash('n1', 'machine')
    assert.ok(isRingkvError(await c.drive(write), 'ERR_CRASHED'))
    assert.ok(n1.lostWrites >= 1)
    assert.is(n1.disk.size, before, 'the unsynced write is gone from its disk')
    const n2 = c.node('n2')
    const n2Before = n2.disk.size
    const kept = c.service('n2').put(Buffer.from('kept'), Buffer.from('y'), { w: 3 }).catch((e: unknown) => e)
    c.crash('n2', 'process')
    await c.drive(kept)
    assert.is(n2.lostWrites, 0, 'kill -9 leaves the data with the OS')
    assert.ok(n2.disk.size > n2Before, 'the write is still on its disk')
  } finally {
    await c.close()
  }
})

test('tamper: a corrupted key is an ERR_CORRUPTION on its node; a deleted one is gone there only', async () => {
  const c = new SimCluster({ seed: 2 })
  try {
    await c.drive(c.start())
    const client = await c.drive(c.client('c1'))
    await c.drive(client.put('a', '1', { w: 3 }))
    await c.drive(client.put('b', '2', { w: 3 }))
    assert.ok(c.tamper('n2', 'a', 'corrupt'))
    assert.ok(c.tamper('n3', 'b', 'delete'))
    assert.not.ok(c.tamper('n3', 'never-written', 'delete'))
    const store = c.node('n2').process!.store
    assert.throws(() => store.get(partitionOf(Buffer.from('a'), c.options.partitions), Buffer.from('a')), (e: unknown) => isRingkvError(e, 'ERR_CORRUPTION'))
    // A read still answers from the replicas whose copy is sound.
    assert.is((await c.drive(client.get('a', { r: 2 }))).value?.toString(), '1')
    assert.is((await c.drive(c.service('n3').get(Buffer.from('b'), { r: 1 }))).found, false)
    assert.is((await c.drive(c.service('n1').get(Buffer.from('b'), { r: 1 }))).value?.toString(), '2')
  } finally {
    await c.close()
  }
})

test.run()
