// TCP byte streams read every socket into one reused buffer (tcp.ts, READ_BUFFER) and copy each read out; these
// check what the layers above rely on: chunks they keep stay intact after later reads, on dialed and accepted
// streams alike, and nothing a socket delivers before `attach` is lost or reordered.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ByteStream, ByteStreamEvents, StreamListener } from '../../../src/net/stream.ts'
import net from 'node:net'
import { readingSocket, tcpStreams } from '../../../src/net/tcp.ts'

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Everything a stream delivers, in order: chunks (kept as delivered) and the end and close events. */
class Recorder implements ByteStreamEvents {
  readonly chunks: Buffer[] = []
  readonly log: string[] = []
  #waiters: (() => void)[] = []

  data(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.log.push('data')
    this.#wake()
  }
  drain(): void {}
  end(): void {
    this.log.push('end')
    this.#wake()
  }
  close(error: Error | undefined): void {
    this.log.push(error === undefined ? 'close' : `close ${error.message}`)
    this.#wake()
  }

  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0)
  }

  async until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out; log so far: ${this.log.join(', ')}`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 20)
      })
    }
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

function pattern(seed: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) b[i] = (seed * 31 + i * 7) & 0xff
  return b
}

async function pair(onAccepted: (stream: ByteStream) => void): Promise<{ listener: StreamListener; dialed: ByteStream }> {
  const listener = await tcpStreams.listen('127.0.0.1:0', onAccepted)
  const dialed = await tcpStreams.dial(listener.address)
  return { listener, dialed }
}

/** Sends `writes` buffers one at a time, each after the receiver has read the previous one (so each is its own read). */
async function sendSeparately(from: ByteStream, to: Recorder, writes: Buffer[]): Promise<void> {
  let expected = 0
  for (const w of writes) {
    from.write([w])
    expected += w.length
    await to.until(() => to.bytes >= expected)
  }
}

for (const side of ['dialed', 'accepted'] as const) {
  test(`chunks ${side === 'dialed' ? 'a' : 'an'} ${side} stream delivered stay intact after later reads`, async () => {
    const received = new Recorder()
    let other: ByteStream | undefined
    const { listener, dialed } = await pair((accepted) => {
      if (side === 'accepted') accepted.attach(received)
      else {
        other = accepted
        accepted.attach(new Recorder())
      }
    })
    try {
      let sender: ByteStream
      if (side === 'dialed') {
        dialed.attach(received)
        while (other === undefined) await pause(5)
        sender = other
      } else {
        dialed.attach(new Recorder())
        sender = dialed
      }
      const writes = [pattern(1, 3000), pattern(2, 3000), pattern(3, 40_000), pattern(4, 500)]
      await sendSeparately(sender, received, writes)
      // Had a chunk been a view of the shared read buffer, the later reads would have overwritten the earlier ones.
      assert.ok(received.chunks.length >= writes.length, `${received.chunks.length} reads`)
      assert.equal(Buffer.concat(received.chunks), Buffer.concat(writes))
      const first = received.chunks[0]!
      assert.equal(first, pattern(1, 3000).subarray(0, first.length))
    } finally {
      dialed.destroy()
      other?.destroy()
      await listener.close()
    }
  })
}

test('data, end and close that arrive before attach are delivered after it, in order', async () => {
  const { listener, dialed } = await pair((accepted) => {
    accepted.attach(new Recorder())
    accepted.write([Buffer.from('hello, '), Buffer.from('early reader')])
    accepted.end()
  })
  try {
    // The dialed socket reads from the moment it connects: all of it arrives while nothing is attached.
    await pause(100)
    const received = new Recorder()
    dialed.attach(received)
    assert.equal(received.log, [], 'nothing is delivered from inside attach')
    await received.until(() => received.log.includes('end'))
    assert.is(Buffer.concat(received.chunks).toString(), 'hello, early reader')
    assert.is(received.log.indexOf('end'), received.log.length - 1, received.log.join(', '))
    dialed.end()
    await received.until(() => received.log.some((e) => e.startsWith('close')))
    assert.equal(received.log.slice(-2), ['end', 'close'])
  } finally {
    dialed.destroy()
    await listener.close()
  }
})

test('an accepted stream is ended, half-closed and closed like any socket; the listener still closes', async () => {
  const serverSide = new Recorder()
  let accepted: ByteStream | undefined
  const { listener, dialed } = await pair((stream) => {
    accepted = stream
    stream.attach(serverSide)
  })
  const clientSide = new Recorder()
  dialed.attach(clientSide)
  try {
    dialed.write([Buffer.from('request')])
    dialed.end()
    await serverSide.until(() => serverSide.log.includes('end'))
    assert.is(Buffer.concat(serverSide.chunks).toString(), 'request')
    // Half-open: the accepted side can still answer after the peer's end.
    accepted!.write([Buffer.from('reply')])
    accepted!.end()
    await clientSide.until(() => clientSide.log.includes('end'))
    assert.is(Buffer.concat(clientSide.chunks).toString(), 'reply')
    await serverSide.until(() => serverSide.log.includes('close'))
    await clientSide.until(() => clientSide.log.includes('close'))
    assert.ok(accepted!.remoteAddress.startsWith('127.0.0.1:'), accepted!.remoteAddress)
  } finally {
    dialed.destroy()
    accepted?.destroy()
  }
  await listener.close()
})

test('pause stops delivery on an accepted stream; resume brings what waited', async () => {
  const serverSide = new Recorder()
  let accepted: ByteStream | undefined
  const { listener, dialed } = await pair((stream) => {
    accepted = stream
    stream.attach(serverSide)
  })
  dialed.attach(new Recorder())
  try {
    while (accepted === undefined) await pause(5)
    dialed.write([Buffer.from('one')])
    await serverSide.until(() => serverSide.bytes === 3)
    accepted.pause()
    dialed.write([Buffer.from('two')])
    await pause(100)
    assert.is(serverSide.bytes, 3, 'nothing delivered while paused')
    accepted.resume()
    await serverSide.until(() => serverSide.bytes === 6)
    assert.is(Buffer.concat(serverSide.chunks).toString(), 'onetwo')
  } finally {
    dialed.destroy()
    accepted?.destroy()
    await listener.close()
  }
})

test('an accepted socket whose handle cannot read into a buffer of ours is read the usual way', async () => {
  const serverSide = new Recorder()
  let accepted: ByteStream | undefined
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    // What a Node.js release without the internals readingSocket relies on would hand over.
    ;(socket as unknown as { _handle: { useUserBuffer?: unknown } })._handle!.useUserBuffer = undefined
    accepted = readingSocket(socket)
    accepted.attach(serverSide)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dialed = await tcpStreams.dial(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)
  dialed.attach(new Recorder())
  try {
    const writes = [pattern(5, 2000), pattern(6, 2000)]
    await sendSeparately(dialed, serverSide, writes)
    assert.equal(Buffer.concat(serverSide.chunks), Buffer.concat(writes))
    dialed.end()
    await serverSide.until(() => serverSide.log.includes('end'))
    accepted!.end()
    await serverSide.until(() => serverSide.log.includes('close'))
  } finally {
    dialed.destroy()
    accepted?.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

test.run()
