/**
 * The socket side of one connection: buffered reads, writes with
 * backpressure, and deadlines enforced by one sweeper per server. Also the
 * per-server context every connection shares.
 *
 * @module
 */

import { SERVER_NAME, type ServerConfig } from "../server/config.ts";
import type { RequestHead } from "../http/request.ts";
import {
  currentHttpDate,
  type ResponseHeaders,
  serializeResponseHead,
} from "../http/response.ts";
import { builtInErrorPage } from "../files/error_page.ts";
import type { ResponderContext } from "../response/reply.ts";
import type { AccessLog } from "../server/log.ts";
import type { ReplayCache } from "./replay.ts";
import type { TlsFailureLog } from "../server/tls_failures.ts";
import type { RequestMetrics } from "../metrics/counters.ts";

const encoder = new TextEncoder();

/** Initial size of a connection's read buffer. */
const READ_BUFFER_BYTES = 16 * 1024;
/**
 * Sizes of the buffers connections copy file bytes through. A response
 * that fits the small one whole (a typical range request: 64 KiB and its
 * head) takes it; streams take the large one while few others hold one
 * (with 4 downloads, 1 MiB chunks move about 25 % more MiB/s than 256 KiB
 * ones; with 50 they gain nothing, the copies then competing for the CPU
 * cache), else the medium one, so memory stays bounded however many
 * clients download.
 */
export const SMALL_STREAM_BUFFER_BYTES = 96 * 1024;
/** The medium size (see {@linkcode SMALL_STREAM_BUFFER_BYTES}). */
export const STREAM_BUFFER_BYTES = 256 * 1024;
/** The large size (see {@linkcode SMALL_STREAM_BUFFER_BYTES}). */
export const LARGE_STREAM_BUFFER_BYTES = 1024 * 1024;
/** Large buffers in use at once, over all connections of this thread. */
export const MAX_LARGE_STREAM_BUFFERS = 4;

/**
 * Released buffers of one size, kept for the next connection: a fresh
 * zeroed buffer per connection is a measurable cost when connections are
 * short-lived.
 */
class BufferPool {
  #free: Uint8Array[] = [];

  constructor(readonly size: number, readonly maxFree: number) {}

  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  give(buffer: Uint8Array): void {
    if (buffer.length === this.size && this.#free.length < this.maxFree) {
      this.#free.push(buffer);
    }
  }
}

// At most 4 MiB kept in each pool but the small one (3 MiB).
const readBuffers = new BufferPool(READ_BUFFER_BYTES, 256);
const smallStreamBuffers = new BufferPool(SMALL_STREAM_BUFFER_BYTES, 64);
const streamBuffers = new BufferPool(STREAM_BUFFER_BYTES, 16);
const largeStreamBuffers = new BufferPool(LARGE_STREAM_BUFFER_BYTES, 4);
let largeStreamBuffersInUse = 0;

/** Returns a stream buffer to the pool of its size. */
function giveStreamBuffer(buffer: Uint8Array): void {
  if (buffer.length === LARGE_STREAM_BUFFER_BYTES) {
    largeStreamBuffersInUse--;
    largeStreamBuffers.give(buffer);
  } else if (buffer.length === STREAM_BUFFER_BYTES) {
    streamBuffers.give(buffer);
  } else {
    smallStreamBuffers.give(buffer);
  }
}
const NO_BUFFER = new Uint8Array(0);

/** Thrown to end a connection quietly (the peer went away, or must). */
export class ConnectionClosed extends Error {}

/**
 * A protocol that keeps its own deadlines and shutdown (HTTP/2, whose
 * reads and writes overlap): the sweeper and a graceful shutdown call it
 * instead of the HTTP/1.1 behaviour.
 */
export interface ProtocolHooks {
  /** The connection's deadline passed. */
  expire(): void;
  /** The server is shutting down gracefully. */
  drain(): void;
}

/** What a connection is waiting for, which decides its timeout. */
export type Phase = "idle" | "head" | "write";

/** Everything the connections of one server share. */
export interface ServerContext extends ResponderContext {
  registry: ConnectionRegistry;
  /** Failed TLS handshakes, counted and reported (TLS listeners only). */
  tlsFailures?: TlsFailureLog;
  /** The access log, when enabled. */
  accessLog?: AccessLog;
  /** Heads answered from ready responses, to answer again. */
  replay: ReplayCache;
  /** Request counters for `--metrics`; undefined when nobody reads them. */
  metrics?: RequestMetrics;
}

/** A request as seen by the responders. */
export interface Exchange {
  head: RequestHead;
  /** True when the connection stays open after the response. */
  keepAlive: boolean;
  /** True for HEAD: send the head only. */
  headOnly: boolean;
  /**
   * Set by the responder when the answer was a ready response of the
   * hot-file cache that depended only on the request head and the file at
   * `path` (so the same head may be answered again by replay).
   */
  ready?: { path: string; index: number };
}

/**
 * The shared state of all connections of one server: the set the timeout
 * sweeper walks, and the draining flag set by a graceful shutdown.
 */
export class ConnectionRegistry {
  readonly connections = new Set<Connection>();
  /** True once shutdown began: finish the current response, then close. */
  draining = false;

  /** Expires connections whose deadline has passed. */
  sweep(now: number = Date.now()): void {
    for (const c of this.connections) {
      if (now >= c.deadline) c.expire();
    }
  }

  /**
   * Starts draining: connections waiting for a request (idle, or accepted
   * but silent) close now, busy ones after their response.
   */
  drain(): void {
    this.draining = true;
    for (const c of this.connections) {
      if (c.protocol !== undefined) c.protocol.drain();
      else if (c.awaitingRequest && c.phase !== "write") c.closeGracefully();
    }
  }

  /** Closes every connection at once. */
  closeAll(): void {
    for (const c of this.connections) c.close();
  }
}

/**
 * The state of one connection: its socket, the bytes read but not yet
 * consumed (`buffer[start..end]`), the deadline of what it waits for, and
 * what the current response has sent (for the access log).
 */
export class Connection {
  buffer: Uint8Array = readBuffers.take();
  start = 0;
  end = 0;
  /** Set once the peer has closed its side. */
  eof = false;
  closed = false;
  #streamBuffer: Uint8Array | undefined;
  phase: Phase = "head";
  /** When the current wait times out (ms since the epoch). */
  deadline = Infinity;
  requestsServed = 0;
  /** When the bytes of the current request began to arrive. */
  requestStartedAt = Date.now();
  /** True until the first byte of the next request arrives. */
  awaitingRequest = true;
  /** Status of the current response (0 before its head is written). */
  status = 0;
  /** Bytes written for the current response. */
  bytesSent = 0;
  /** Bytes of the current response's head (body = bytesSent − this). */
  headBytes = 0;
  /** Set when a TLS write made no progress within the write timeout. */
  stalled = false;
  /** Set when HTTP/2 runs the connection. */
  protocol: ProtocolHooks | undefined;

  constructor(
    readonly conn: Deno.Conn,
    readonly ctx: ServerContext,
    /** True on a TLS connection (HSTS goes only there). */
    readonly secure = false,
  ) {}

  /**
   * Completes the TLS handshake within the header timeout (the sweeper
   * closes a connection that takes longer). Returns the ALPN protocol
   * chosen (null when none), or undefined when the handshake failed, which
   * is counted and reported at most once a second.
   */
  async handshake(remote: string): Promise<string | null | undefined> {
    this.phase = "head";
    this.deadline = this.requestStartedAt + this.config.headerTimeoutMs;
    try {
      const info = await (this.conn as Deno.TlsConn).handshake();
      return info.alpnProtocol;
    } catch (err) {
      if (!this.ctx.registry.draining) {
        this.ctx.tlsFailures?.record(
          remote,
          this.closed
            ? "no handshake within the header timeout"
            : describe(err),
        );
      }
      return undefined;
    } finally {
      this.deadline = Infinity;
    }
  }

  /** The server's configuration. */
  get config(): ServerConfig {
    return this.ctx.config;
  }

  /**
   * The connection's reused buffer for `bytes` of file data: the small
   * size when they fit it, else the large one if available, else the
   * medium one. A buffer held already is kept when it is big enough.
   */
  streamBufferFor(bytes: number): Uint8Array {
    const held = this.#streamBuffer;
    const wanted = bytes <= SMALL_STREAM_BUFFER_BYTES
      ? SMALL_STREAM_BUFFER_BYTES
      : bytes <= STREAM_BUFFER_BYTES ||
          largeStreamBuffersInUse >= MAX_LARGE_STREAM_BUFFERS
      ? STREAM_BUFFER_BYTES
      : LARGE_STREAM_BUFFER_BYTES;
    if (held !== undefined && held.length >= wanted) return held;
    if (held !== undefined) giveStreamBuffer(held);
    if (wanted === LARGE_STREAM_BUFFER_BYTES) {
      largeStreamBuffersInUse++;
      return this.#streamBuffer = largeStreamBuffers.take();
    }
    return this.#streamBuffer = wanted === STREAM_BUFFER_BYTES
      ? streamBuffers.take()
      : smallStreamBuffers.take();
  }

  /**
   * Called after each response: the stream buffer goes back to its pool at
   * once, so that an idle keep-alive connection holds only its read
   * buffer (and the few large buffers serve whoever streams next).
   */
  releaseStreamBuffer(): void {
    if (this.#streamBuffer !== undefined) {
      giveStreamBuffer(this.#streamBuffer);
      this.#streamBuffer = undefined;
    }
  }

  /** Large stream buffers in use now (for tests). */
  static get largeStreamBuffersInUse(): number {
    return largeStreamBuffersInUse;
  }

  /**
   * Hands the buffers back for other connections. Only once the
   * connection is finished: no read or write of them may be pending.
   */
  releaseBuffers(): void {
    readBuffers.give(this.buffer);
    this.buffer = NO_BUFFER;
    this.start = this.end = 0;
    if (this.#streamBuffer !== undefined) {
      giveStreamBuffer(this.#streamBuffer);
      this.#streamBuffer = undefined;
    }
  }

  /** Reads more bytes into the buffer; returns false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.eof || this.closed) return false;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    if (this.end === this.buffer.length) {
      if (this.start > 0) {
        this.buffer.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.buffer.length * 2);
        bigger.set(this.buffer.subarray(0, this.end));
        this.buffer = bigger;
      }
    }
    // Between requests the idle timeout applies; once any byte of a request
    // has arrived (or for the first one) the header timeout, counted from
    // that byte and never re-armed: slowloris defence, bodies included.
    if (this.awaitingRequest && this.requestsServed > 0) {
      this.phase = "idle";
      this.deadline = Date.now() + this.config.idleTimeoutMs;
    } else {
      this.phase = "head";
      this.deadline = this.requestStartedAt + this.config.headerTimeoutMs;
    }
    let n: number | null;
    try {
      // A subarray is an allocation: skip it when reading from the start.
      n = await this.conn.read(
        this.end === 0 ? this.buffer : this.buffer.subarray(this.end),
      );
    } catch {
      n = null;
    }
    this.deadline = Infinity;
    if (n === null) {
      this.eof = true;
      return false;
    }
    if (this.awaitingRequest) {
      this.awaitingRequest = false;
      if (this.requestsServed > 0) this.requestStartedAt = Date.now();
    }
    this.end += n;
    return true;
  }

  /**
   * Writes all of `bytes`, waiting for the socket (backpressure). Each
   * write must make progress within the write timeout.
   */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    this.phase = "write";
    try {
      while (offset < bytes.length) {
        this.deadline = Date.now() + this.config.writeTimeoutMs;
        const n = await this.conn.write(
          offset === 0 ? bytes : bytes.subarray(offset),
        );
        offset += n;
        this.bytesSent += n;
      }
    } catch {
      throw new ConnectionClosed();
    } finally {
      this.deadline = Infinity;
    }
  }

  /** Serializes a response head and records its status for the log. */
  encodeHead(status: number, headers: ResponseHeaders): Uint8Array {
    this.status = status;
    const head = encoder.encode(serializeResponseHead(status, headers));
    this.headBytes = head.length;
    return head;
  }

  /**
   * Called by the sweeper when the deadline passed: a client that began a
   * request but did not finish its head in time gets 408; an idle one, or
   * one that stopped reading, is just closed.
   */
  expire(): void {
    if (this.closed) return;
    if (this.protocol !== undefined) return this.protocol.expire();
    if (this.phase === "head" && this.end > this.start) {
      this.phase = "write";
      this.deadline = Infinity;
      // The handler is blocked in read, so writing here is safe; a client
      // that does not take even these few bytes is closed anyway.
      this.conn.write(requestTimeoutResponse()).catch(() => {}).finally(() =>
        this.close()
      );
      setTimeout(() => this.close(), 1000);
      return;
    }
    if (this.phase === "write" && this.secure) {
      // Deno cannot cut a TLS connection whose peer stopped reading: close()
      // hands the socket to a task that waits, uncounted and for ever, to
      // deliver close_notify. So the connection stays ours instead, counted
      // against --max-connections, until the peer reads or goes away (its
      // pending write then settles and the handler ends).
      this.deadline = Infinity;
      this.stalled = true;
      return;
    }
    this.close();
  }

  /** Closes the socket once; pending reads and writes then fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline = Infinity;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /**
   * Closes at the end of an exchange or on a graceful shutdown: over TLS,
   * a close_notify alert first (RFC 8446 §6.1), so that the client can
   * tell a complete close from a cut connection; a peer that does not
   * take it within a second is cut anyway.
   */
  closeGracefully(): void {
    if (this.closed || !this.secure) return this.close();
    this.closed = true;
    this.deadline = Infinity;
    const conn = this.conn;
    const cut = () => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    };
    const timer = setTimeout(cut, 1000);
    conn.closeWrite().catch(() => {}).finally(() => {
      clearTimeout(timer);
      cut();
    });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/** The complete 408 response sent to a client too slow with its head. */
function requestTimeoutResponse(): Uint8Array {
  const body = builtInErrorPage(408);
  const head = encoder.encode(serializeResponseHead(408, [
    ["Date", currentHttpDate()],
    ["Server", SERVER_NAME],
    ["Connection", "close"],
    ["Content-Type", "text/html; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]));
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
