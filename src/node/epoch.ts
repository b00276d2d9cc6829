// The epoch of a node's data, which makes its actor id "<node>#<epoch>" (DESIGN section 3). A replica issues
// dots (actor, counter) with the counter taken from its stored envelope of the key, so an actor must never
// issue a counter twice -- a replica that already holds a dot takes any write carrying it for that one, and
// drops one of them. Two things make a node forget counters it issued:
//  - its data was wiped: node.json goes with the data directory, so the epoch is new;
//  - a crash lost the last writes it had applied but not fsynced ('interval' and 'none' durability: a power cut
//    loses up to the engine's syncIntervalMs of them). Restarting with the same actor would issue their dots
//    again for other writes, and acknowledged writes would be lost where the two meet (found by the simulator:
//    test/sim, scenario power-loss).
// So node.json records that the node is running, and a clean close records that it stopped after its store was
// closed (or synced). A start that finds the node still "running" -- its last run did not end cleanly -- takes a
// new epoch, unless its writes were fsynced before they were acknowledged ('sync' durability). The price is one
// more actor in the version vectors of keys written after each crash.
//
// node.json is replaced atomically and fsynced (file, then directory) before the node serves anything: a power
// cut must not lose the "running" mark.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { RingkvError } from '../errors.ts'
import type { Durability } from '../engine/index.ts'
import type { Clock, Logger } from '../runtime/index.ts'

export const NODE_FILE = 'node.json'

export interface DataEpoch {
  readonly epoch: number
  /** Records a clean stop: call once the store is closed or synced. */
  markClosed(): void
}

interface NodeFile {
  epoch: number
  /** True from start until a clean close; absent in files written before this was recorded (taken as true). */
  running?: boolean
}

/** Reads or creates the epoch in `dataDir` and marks the node running; without a data directory, a new one. */
export function openDataEpoch(dataDir: string | undefined, clock: Clock, durability: Durability, logger: Logger): DataEpoch {
  if (dataDir === undefined) return { epoch: clock.now(), markClosed: () => {} }
  const path = join(dataDir, NODE_FILE)
  const found = readNodeFile(path)
  let epoch: number
  if (found === undefined) {
    epoch = clock.now()
  } else if (found.running !== false && durability !== 'sync') {
    epoch = Math.max(clock.now(), found.epoch + 1)
    logger.info('new data epoch: the last run did not stop cleanly and may have lost unsynced writes', { previous: found.epoch, epoch })
  } else {
    epoch = found.epoch
  }
  mkdirSync(dataDir, { recursive: true })
  writeDurably(path, JSON.stringify({ epoch, running: true } satisfies NodeFile))
  return {
    epoch,
    markClosed: () => writeDurably(path, JSON.stringify({ epoch, running: false } satisfies NodeFile)),
  }
}

function readNodeFile(path: string): NodeFile | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new RingkvError('ERR_CORRUPTION', `${path} cannot be read: ${(e as Error).message}`)
  }
  let parsed: Partial<NodeFile>
  try {
    parsed = JSON.parse(text) as Partial<NodeFile>
  } catch (e) {
    throw new RingkvError('ERR_CORRUPTION', `${path} is not valid JSON: ${(e as Error).message}`)
  }
  const { epoch, running } = parsed
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch <= 0) throw new RingkvError('ERR_CORRUPTION', `${path} has no valid epoch`)
  if (running !== undefined && typeof running !== 'boolean') throw new RingkvError('ERR_CORRUPTION', `${path} has a running flag that is not a boolean`)
  return { epoch, running }
}

/** Replace `path` atomically and durably: write a temporary file, fsync it, rename it over, fsync the directory. */
function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}
