// Hinted handoff with real node processes on 127.0.0.1: a replica killed with SIGKILL misses writes, the
// coordinators keep hints for it (with N=3 on three nodes there is no fallback: before the failure detector
// convicts it, its REPLICA_PUTs fail; after, no fallback is left to stand in), and once it is back the hints
// reach it without any read touching the keys.
import { test } from './readable-test.ts'
import * as assert from 'uvu/assert'
import { connect } from '../../src/client/index.ts'
import { decodeReplicaGetReply, encodeReplicaGet } from '../../src/cluster/messages.ts'
import { tcpTransport } from '../../src/net/index.ts'
import { MessageType } from '../../src/protocol/message-types.ts'
import { partitionOf } from '../../src/ring/index.ts'
import { decodeEnvelope } from '../../src/versioning/index.ts'
import { startCluster } from './harness.ts'

const KEYS = 200
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test(`a replica killed during ${KEYS} W=2 writes gets every one of them by hinted handoff after it restarts`, async () => {
  const cluster = await startCluster(3, ['--hint-interval-ms', '200'])
  const client = await connect({ seeds: cluster.seeds, timeoutMs: 3000 })
  const victim = cluster.nodes[2]!
  try {
    await victim.kill()
    const writesStarted = Date.now()
    for (let i = 0; i < KEYS; i++) await client.put(`handoff:${i}`, `v${i}`, { w: 2 })
    const writeMs = Date.now() - writesStarted
    const restarted = Date.now()
    await victim.start()
    // With N=3 on three nodes every node replicates every key: the victim must end up with all of them.
    const probe = await tcpTransport().connect(victim.address, { nodeId: 'test-probe' })
    let missing = KEYS
    try {
      for (let round = 0; round < 200 && missing > 0; round++) {
        missing = 0
        for (let i = 0; i < KEYS; i++) {
          const k = Buffer.from(`handoff:${i}`)
          const reply = await probe.request(MessageType.REPLICA_GET, encodeReplicaGet({ partition: partitionOf(k, 4096), key: k }))
          const bytes = decodeReplicaGetReply(reply)
          const value = bytes === undefined ? undefined : decodeEnvelope(bytes).siblings[0]?.value
          if (value === undefined || value === null || Buffer.from(value).toString() !== `v${i}`) missing++
        }
        if (missing > 0) await sleep(100)
      }
    } finally {
      await probe.close()
    }
    const deliveredMs = Date.now() - restarted
    assert.is(missing, 0, `${missing} of ${KEYS} writes never reached the restarted replica`)
    console.log(`hinted handoff figures: ${JSON.stringify({ keys: KEYS, writeMsWhileDown: writeMs, deliveredWithinMsOfRestart: deliveredMs })}`)
  } finally {
    await client.close()
    await cluster.close()
  }
})

test.run()
