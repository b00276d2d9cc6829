import { parentPort, workerData } from 'node:worker_threads'
import { Engine } from '../../src/index.ts'
import { native } from '../../src/engine/native.ts'

const { dir } = workerData as { dir: string; action: string }
const db = await Engine.open(dir)
const seen = db.get('from-main')?.toString()
await db.put('from-worker', 'w')
const handles = native.openHandles(dir)
await db.close()
parentPort?.postMessage(`saw ${seen}; handles ${handles}`)
