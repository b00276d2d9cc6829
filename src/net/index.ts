// Transports: the contract, the shared connection layer, TCP and the in-memory network.
export type {
  ConnectOptions,
  Connection,
  ConnectionOptions,
  ConnectionStats,
  Handler,
  HandlerContext,
  HandlerTable,
  ListenOptions,
  RequestOptions,
  Server,
  Transport,
} from './transport.ts'
export type { ByteStream, ByteStreamEvents, StreamFactory, StreamListener } from './stream.ts'
export { type FlushMode, handlerTable, resolveConnectionOptions, rpcDefaults } from './rpc.ts'
export { StreamTransport, type TransportOptions } from './stream-transport.ts'
export { formatTcpAddress, parseTcpAddress, tcpStreams, tcpTransport } from './tcp.ts'
export { MemoryNetwork, type MemoryNetworkOptions } from './memory.ts'
export { ConnectionPool } from './pool.ts'
