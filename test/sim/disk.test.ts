// The simulated disk's durability: in 'interval' mode a power cut undoes the writes made since the last periodic
// fsync (every syncIntervalMs) or explicit sync, newest first; in 'sync' mode it undoes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SimDisk } from './disk.ts'

const k = (s: string) => Buffer.from(s)

test('interval: a power cut undoes the writes after the last fsync, restoring what they replaced', () => {
  let now = 100
  const disk = new SimDisk({ now: () => now, durability: 'interval', syncIntervalMs: 5, phase: 0 })
  disk.put(k('a'), k('1'))
  now = 101
  disk.put(k('b'), k('1'))
  now = 106 // the fsync at 105 covered both
  disk.put(k('a'), k('2'))
  now = 107
  disk.delete(k('b'))
  disk.put(k('c'), k('1'))
  assert.is(disk.powerCut(), 3)
  assert.is(Buffer.from(disk.get(k('a'))!).toString(), '1')
  assert.is(Buffer.from(disk.get(k('b'))!).toString(), '1')
  assert.is(disk.get(k('c')), undefined)
  assert.is(disk.lostWrites, 3)
  assert.is(disk.powerCut(), 0, 'nothing left to lose')
})

test('interval: an explicit sync (a DW write) makes everything so far durable', () => {
  let now = 1
  const disk = new SimDisk({ now: () => now, durability: 'interval', syncIntervalMs: 5, phase: 0 })
  disk.put(k('a'), k('1'))
  now = 2
  disk.sync()
  now = 3
  disk.put(k('b'), k('1'))
  assert.is(disk.powerCut(), 1)
  assert.ok(disk.get(k('a')) !== undefined)
  assert.is(disk.get(k('b')), undefined)
})

test('sync: a power cut loses nothing', () => {
  const disk = new SimDisk({ now: () => 7, durability: 'sync' })
  disk.put(k('a'), k('1'))
  assert.is(disk.powerCut(), 0)
  assert.ok(disk.get(k('a')) !== undefined)
})

test.run()
