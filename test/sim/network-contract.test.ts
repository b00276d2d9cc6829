// The transport contract (test/conformance) over the simulator's network: the production connection layer must
// behave the same on it as on TCP and the memory network -- with a clean network, and with jitter and loss,
// which stall a direction but never reorder or corrupt a connection's bytes.
import { VirtualClock } from '../../src/runtime/clock.ts'
import { SeededRandom } from '../../src/runtime/random.ts'
import { StreamTransport } from '../../src/net/stream-transport.ts'
import { transportContract } from '../conformance/transport-contract.ts'
import { SimNetwork } from './network.ts'

function env(name: string, link: ConstructorParameters<typeof SimNetwork>[0]['link']): void {
  const clock = new VirtualClock({ autoAdvance: true })
  const network = new SimNetwork({ clock, random: new SeededRandom(7), link })
  const host = network.host('sim')
  transportContract(name, {
    transport: (flush) => new StreamTransport(host, { clock, flush }),
    streams: host,
    listenAddress: 'sim:0',
    clock,
  })
}

env('simulated network', undefined)
env('simulated network, 2 ms jitter, 5% loss', { baseMs: 1, jitterMs: 2, lossRate: 0.05 })
