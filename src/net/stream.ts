/**
 * The byte stream under a connection: the only thing a transport implementation provides.
 *
 * TCP adapts a net.Socket (tcp.ts); the memory network provides a pipe driven by a Clock (memory.ts). The
 * connection layer (rpc.ts) does framing, HELLO, request ids, coalescing and backpressure on top, so both
 * transports behave the same by construction. Tests use raw streams to inject malformed bytes.
 *
 * Semantics follow a half-closable TCP socket:
 * - `write` takes every buffer gathered in one flush and returns false once the stream's own buffer is past its
 *   high-water mark; `drain` follows when it has room again.
 * - `end` sends end-of-stream after the bytes already written; the peer sees `end` after its last `data`.
 * - `close` fires exactly once, when both directions are done or the stream was destroyed or failed.
 * - Events are never delivered synchronously from inside `write`, `end`, `pause` or `resume`.
 */
export interface ByteStreamEvents {
  data(chunk: Buffer): void
  /** Room again after `write` returned false. */
  drain(): void
  /** The peer will send nothing more. */
  end(): void
  /** Fully closed; `error` when it failed (reset, refused...). */
  close(error: Error | undefined): void
}

export interface ByteStream {
  readonly remoteAddress: string
  /** Register the event handlers and start reading. Called once. */
  attach(events: ByteStreamEvents): void
  write(chunks: readonly Buffer[]): boolean
  /**
   * Whether every byte written so far has left the buffers `write` was given (copied into the kernel), so
   * that the writer may reuse that memory. Streams that keep references to the buffers (the memory network
   * delivers them as they are) omit it: the writer then never reuses.
   */
  released?(): boolean
  end(): void
  destroy(): void
  pause(): void
  resume(): void
}

/** A source of accepted streams, as returned by a transport's low-level listen. */
export interface StreamListener {
  readonly address: string
  /** Stop accepting; streams already accepted are unaffected. */
  close(): Promise<void>
}

/** How a transport implementation opens and accepts byte streams. */
export interface StreamFactory {
  /** Open a stream to `address`; rejects with a RingkvError ERR_CONNECT_FAILED. */
  dial(address: string): Promise<ByteStream>
  listen(address: string, onStream: (stream: ByteStream) => void): Promise<StreamListener>
}
