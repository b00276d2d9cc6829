// The load generator's client for the bare path: one connection per node, requests round-robin over them,
// pipelined, written once per event-loop turn.
import net from 'node:net'
import { BareType, CoalescingWriter, encodeFrame, readFrames } from './protocol.ts'

interface Link {
  writer: CoalescingWriter
  socket: net.Socket
}

export class BareClient {
  readonly #links: Link[]
  readonly #pending = new Map<number, (payload: Buffer) => void>()
  #nextId = 0
  #turn = 0

  private constructor(links: Link[]) {
    this.#links = links
  }

  static async connect(addresses: readonly string[]): Promise<BareClient> {
    const sockets = await Promise.all(
      addresses.map(
        (address) =>
          new Promise<net.Socket>((resolve, reject) => {
            const colon = address.lastIndexOf(':')
            const s = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), noDelay: true })
            s.once('connect', () => resolve(s))
            s.once('error', reject)
          }),
      ),
    )
    const client = new BareClient(sockets.map((socket) => ({ socket, writer: new CoalescingWriter(socket) })))
    for (const socket of sockets) {
      readFrames(socket, (_type, id, payload) => {
        const resolve = client.#pending.get(id)
        if (resolve === undefined) return
        client.#pending.delete(id)
        resolve(payload)
      })
    }
    return client
  }

  get(key: Uint8Array): Promise<Buffer> {
    return this.#request(BareType.GET, key, undefined)
  }

  put(key: Uint8Array, value: Uint8Array): Promise<Buffer> {
    return this.#request(BareType.PUT, key, value)
  }

  #request(type: number, key: Uint8Array, value: Uint8Array | undefined): Promise<Buffer> {
    const id = (this.#nextId = (this.#nextId + 1) >>> 0)
    const link = this.#links[this.#turn++ % this.#links.length]!
    return new Promise<Buffer>((resolve) => {
      this.#pending.set(id, resolve)
      link.writer.write(encodeFrame(type, id, key, value))
    })
  }

  close(): void {
    for (const { socket } of this.#links) socket.destroy()
  }
}
