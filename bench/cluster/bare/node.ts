// One process of the bare request path (see protocol.ts): a coordinator for clients and a replica for its
// peers, with no storage. A GET or PUT from a client goes to both peers as REPLICA_GET / REPLICA_PUT and is
// answered at the first reply (R = W = 2 counting this node, like ringkv's coordinator that is a replica);
// the second reply is dropped. A replica answers REPLICA_GET with a fixed value of the benchmark's size, so
// the bytes on the wire match ringkv's.
//
//   node bench/cluster/bare/node.ts PORT VALUE_BYTES PEER_PORT...
// Prints "bare node listening on PORT" once it serves; exits on SIGTERM.
import net from 'node:net'
import { BareType, CoalescingWriter, encodeFrame, readFrames, splitPayload } from './protocol.ts'

const [portText, valueText, ...peerTexts] = process.argv.slice(2)
const port = Number(portText)
const value = Buffer.alloc(Number(valueText ?? 1024), 0x61)
const EMPTY = Buffer.alloc(0)

interface Fanout {
  writer: CoalescingWriter
  clientId: number
  left: number
}

const fanouts = new Map<number, Fanout>()
let nextId = 0
const peers: CoalescingWriter[] = []

function serve(socket: net.Socket): void {
  const writer = new CoalescingWriter(socket)
  socket.on('error', () => socket.destroy())
  readFrames(socket, (type, id, payload) => {
    switch (type) {
      case BareType.GET:
      case BareType.PUT: {
        const fid = (nextId = (nextId + 1) >>> 0)
        fanouts.set(fid, { writer, clientId: id, left: peers.length })
        const { key, value: written } = splitPayload(payload)
        const replicaType = type === BareType.GET ? BareType.REPLICA_GET : BareType.REPLICA_PUT
        for (const peer of peers) peer.write(encodeFrame(replicaType, fid, key, type === BareType.PUT ? written : undefined))
        return
      }
      case BareType.REPLICA_GET:
        writer.write(encodeFrame(BareType.OK, id, undefined, value))
        return
      case BareType.REPLICA_PUT:
        writer.write(encodeFrame(BareType.OK, id, undefined, EMPTY))
        return
    }
  })
}

function onPeerReply(type: number, id: number, payload: Buffer): void {
  if (type !== BareType.OK) return
  const fanout = fanouts.get(id)
  if (fanout === undefined) return
  if (fanout.left === peers.length) fanout.writer.write(encodeFrame(BareType.OK, fanout.clientId, undefined, payload))
  if (--fanout.left === 0) fanouts.delete(id)
}

async function connectPeer(peerPort: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: peerPort, noDelay: true })
        s.once('connect', () => resolve(s))
        s.once('error', reject)
      })
      socket.on('error', () => socket.destroy())
      readFrames(socket, onPeerReply)
      peers.push(new CoalescingWriter(socket))
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`bare node ${port}: cannot reach peer ${peerPort}`)
}

const server = net.createServer({ noDelay: true }, serve)
server.listen(port, '127.0.0.1', () => {
  void Promise.all(peerTexts.map((p) => connectPeer(Number(p)))).then(() => {
    console.log(`bare node listening on ${port}`)
  })
})
process.on('SIGTERM', () => {
  server.close()
  process.exitCode = 0
  setImmediate(() => process.exit(0))
})
