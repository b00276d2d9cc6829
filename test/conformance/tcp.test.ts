import { systemClock } from '../../src/runtime/clock.ts'
import { StreamTransport } from '../../src/net/stream-transport.ts'
import { tcpStreams } from '../../src/net/tcp.ts'
import { transportContract } from './transport-contract.ts'

transportContract('tcp', {
  transport: (flush) => new StreamTransport(tcpStreams, { clock: systemClock, flush }),
  streams: tcpStreams,
  listenAddress: '127.0.0.1:0',
  clock: systemClock,
})
