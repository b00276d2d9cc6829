import { VirtualClock } from '../../src/runtime/clock.ts'
import { MemoryNetwork } from '../../src/net/memory.ts'
import { transportContract } from './transport-contract.ts'

// Virtual time that jumps to the next timer: the same contract, deterministic, and no real waiting.
const network = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }) })
transportContract('memory', {
  transport: (flush) => network.transport({ flush }),
  streams: network,
  listenAddress: 'mem:0',
  clock: network.clock,
})

// With a latency, frames cross the network in a later turn of virtual time.
const slow = new MemoryNetwork({ clock: new VirtualClock({ autoAdvance: true }), latencyMs: 3 })
transportContract('memory, 3 ms latency', {
  transport: (flush) => slow.transport({ flush }),
  streams: slow,
  listenAddress: 'mem:0',
  clock: slow.clock,
})
