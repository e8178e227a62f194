/**
 * The output side of one HTTP/2 connection: everything pws sends goes
 * through one scheduler, which builds batches of frames in a pooled
 * buffer and writes one batch at a time (backpressure: nothing more is
 * built while the socket is busy). Each batch takes, in order:
 *
 * 1. control frames (SETTINGS ACK, PING ACK, WINDOW_UPDATE, RST_STREAM,
 *    GOAWAY), which never wait for flow control;
 * 2. response HEADERS, HPACK-encoded here and only here, so that the
 *    encoder's table follows the order blocks reach the wire;
 * 3. DATA, one frame at a time from the stream the RFC 9218 priority
 *    queue names, within the stream's and the connection's windows.
 *    Incremental streams rotate after each frame, so parallel downloads
 *    interleave; non-incremental ones of the same urgency go in order.
 *
 * A stream whose window is empty leaves the queue until a WINDOW_UPDATE
 * or a larger SETTINGS_INITIAL_WINDOW_SIZE reopens it; one whose body
 * is fetching (a read-ahead, a compressed chunk) leaves it until the bytes
 * arrive. Neither holds a batch or blocks the others.
 *
 * @module
 */

import {
  DEFAULT_INITIAL_WINDOW_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  writeDataFrameHeader,
  writeFrameHeader,
} from "./frame.ts";
import { FrameWriter } from "./frame_writer.ts";
import { HeaderBlockEncoder } from "./hpack/encoder.ts";
import { WAIT } from "./body.ts";
import { PriorityQueue } from "./priority.ts";
import type { Http2Stream } from "./stream.ts";

/** Size of the buffer a batch of frames is built in. */
export const BATCH_BYTES = 256 * 1024;
/**
 * Most control-frame bytes waiting to be written: a peer that makes pws
 * answer (PING, SETTINGS) faster than it reads the answers is flooding.
 */
export const MAX_QUEUED_CONTROL_BYTES = 64 * 1024;

/** First size of the control queue's buffer (it doubles as needed). */
const CONTROL_INITIAL_BYTES = 256;

const freeBatches: Uint8Array[] = [];
const MAX_FREE_BATCHES = 16;

/** What the scheduler tells its connection. */
export interface OutputHost {
  /** The socket failed or closed: the connection is over. */
  writeFailed(): void;
  /** The last frame of `stream`'s response is in the output. */
  responseSent(stream: Http2Stream): void;
  /** `stream`'s content could not be produced (a truncated file). */
  bodyFailed(stream: Http2Stream, error: unknown): void;
  /** Something changed that moves the connection's deadline. */
  deadlineChanged(): void;
}

/** The frame scheduler and writer of one connection. */
export class Http2Output {
  /** The connection-level send window (RFC 9113 §6.9.1). */
  connectionWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  /** Encodes response field blocks; its table follows the wire order. */
  readonly encoder = new HeaderBlockEncoder();
  /** Streams with DATA to send, in priority order. */
  readonly data = new PriorityQueue<Http2Stream>();
  /** Set while a batch is being written. */
  writing = false;
  /** When the current write last made progress (ms). */
  writeProgressAt = 0;
  /** Since when data waited for the connection window (0: it does not). */
  connectionBlockedSince = 0;
  /** Set once the socket is finished with. */
  closed = false;

  /** Control frames not yet in a batch. */
  #control = new FrameWriter(CONTROL_INITIAL_BYTES);
  #headers: Http2Stream[] = [];
  #running = false;
  #idle: (() => void)[] = [];

  constructor(readonly conn: Deno.Conn, readonly host: OutputHost) {}

  /** Bytes of control frames waiting to be written. */
  get queuedControlBytes(): number {
    return this.#control.length;
  }

  /** True when nothing is queued or being written. */
  get idle(): boolean {
    return !this.#running;
  }

  /**
   * Appends the control frames `write` writes to the queue. Returns
   * false, queuing nothing, when they would pass the bound (the peer does
   * not read what it asks for) — unless `force`: a last GOAWAY goes past.
   *
   * The frames are written straight into one buffer per connection, not
   * one small buffer each: the bound then counts what memory holds.
   */
  queueControl(write: (w: FrameWriter) => unknown, force = false): boolean {
    const queue = this.#control;
    const before = queue.length;
    write(queue);
    if (!force && queue.length > MAX_QUEUED_CONTROL_BYTES) {
      queue.truncate(before);
      return false;
    }
    this.#kick();
    return true;
  }

  /** Queues `stream`'s response HEADERS (its `pendingFields`). */
  queueResponse(stream: Http2Stream): void {
    this.#headers.push(stream);
    this.#kick();
  }

  /** Puts `stream` (back) in the data queue: bytes or window are there. */
  resume(stream: Http2Stream): void {
    if (stream.localClosed || !stream.headersSent || stream.queued) return;
    if (stream.fetching) return;
    stream.blockedSince = 0;
    stream.body?.flowing();
    stream.queued = true;
    this.data.add(stream);
    this.#kick();
  }

  /** Takes `stream` out of the data queue (reset, or finished). */
  withdraw(stream: Http2Stream): void {
    if (stream.queued) {
      stream.queued = false;
      this.data.remove(stream);
    }
  }

  /** Wakes the scheduler after the connection window grew. */
  windowOpened(): void {
    this.connectionBlockedSince = 0;
    this.#kick();
  }

  /** Resolves once everything queued so far is written (or failed). */
  drained(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #kick(): void {
    if (this.#running || this.closed) return;
    this.#running = true;
    this.#run().catch(() => this.host.writeFailed());
  }

  async #run(): Promise<void> {
    let batch: Uint8Array | undefined;
    try {
      while (!this.closed) {
        batch ??= freeBatches.pop() ?? new Uint8Array(BATCH_BYTES);
        let length = this.#putControl(batch, 0);
        const oversized: Uint8Array[] = [];
        length = this.#putHeaders(batch, length, oversized);
        length = this.#putData(batch, length);
        if (length === 0 && oversized.length === 0) break;
        if (length > 0) await this.#write(batch.subarray(0, length));
        for (const bytes of oversized) await this.#write(bytes);
      }
    } finally {
      if (batch !== undefined && freeBatches.length < MAX_FREE_BATCHES) {
        freeBatches.push(batch);
      }
      // Synchronously, so that whatever is queued next starts a new run.
      this.#running = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.writing = true;
    this.writeProgressAt = Date.now();
    this.host.deadlineChanged();
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.conn.write(
          offset === 0 ? bytes : bytes.subarray(offset),
        );
        this.writeProgressAt = Date.now();
      }
    } finally {
      this.writing = false;
      this.host.deadlineChanged();
    }
  }

  /**
   * Control frames first, all of them: at most the bound (plus a last
   * GOAWAY) wait, which fits an empty batch. The queue's buffer goes with
   * them, so an idle connection holds none.
   */
  #putControl(batch: Uint8Array, length: number): number {
    if (this.#control.length === 0) return length;
    const bytes = this.#control.take();
    batch.set(bytes, length);
    return length + bytes.length;
  }

  /** Response HEADERS, in the order responses were queued. */
  #putHeaders(
    batch: Uint8Array,
    length: number,
    oversized: Uint8Array[],
  ): number {
    let taken = 0;
    for (const stream of this.#headers) {
      const fields = stream.pendingFields;
      if (fields === undefined || stream.localClosed) {
        taken++;
        continue;
      }
      // HPACK output never exceeds the strings plus a few bytes each.
      let bound = 16;
      for (const [name, value] of fields) {
        bound += name.length + value.length + 8;
      }
      bound += FRAME_HEADER_SIZE * Math.ceil(bound / this.peerMaxFrameSize);
      if (length + bound > batch.length && length > 0) break;
      taken++;
      stream.pendingFields = undefined;
      const block = this.encoder.encode(fields);
      const endStream = stream.body === undefined;
      if (
        block.length <= this.peerMaxFrameSize &&
        length + FRAME_HEADER_SIZE + block.length <= batch.length
      ) {
        writeFrameHeader(
          batch,
          length,
          block.length,
          FrameType.HEADERS,
          Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0),
          stream.id,
        );
        batch.set(block, length + FRAME_HEADER_SIZE);
        length += FRAME_HEADER_SIZE + block.length;
        stream.bytesSent += FRAME_HEADER_SIZE + block.length;
      } else {
        const bytes = new FrameWriter(block.length + 64).headers(
          stream.id,
          block,
          { maxFrameSize: this.peerMaxFrameSize, endStream },
        ).take();
        oversized.push(bytes);
        stream.bytesSent += bytes.length;
      }
      stream.headersSent = true;
      if (endStream) {
        stream.localClosed = true;
        this.host.responseSent(stream);
      } else this.resume(stream);
    }
    if (taken > 0) this.#headers.splice(0, taken);
    return length;
  }

  /** DATA frames from the queue's streams until the batch is full. */
  #putData(batch: Uint8Array, length: number): number {
    const now = Date.now();
    while (batch.length - length > FRAME_HEADER_SIZE) {
      const stream = this.data.next();
      if (stream === undefined) break;
      const body = stream.body;
      if (body === undefined) {
        this.withdraw(stream);
        continue;
      }
      const room = Math.min(
        stream.sendWindow,
        this.connectionWindow,
        this.peerMaxFrameSize,
        batch.length - length - FRAME_HEADER_SIZE,
      );
      const payloadAt = length + FRAME_HEADER_SIZE;
      const n = body.fill(
        batch.subarray(payloadAt, payloadAt + Math.max(0, room)),
      );
      if (n === WAIT) {
        this.withdraw(stream);
        stream.fetching = true;
        continue;
      }
      if (body.failure !== undefined) {
        this.withdraw(stream);
        this.host.bodyFailed(stream, body.failure);
        continue;
      }
      if (n === 0 && !body.done) {
        // An empty window: the stream's own, or the connection's.
        if (this.connectionWindow <= 0) {
          if (this.connectionBlockedSince === 0) {
            this.connectionBlockedSince = now;
            this.host.deadlineChanged();
          }
          break;
        }
        this.withdraw(stream);
        stream.blockedSince = now;
        body.stalled();
        this.host.deadlineChanged();
        continue;
      }
      writeDataFrameHeader(batch, length, stream.id, n, body.done);
      length = payloadAt + n;
      stream.sendWindow -= n;
      this.connectionWindow -= n;
      stream.bytesSent += FRAME_HEADER_SIZE + n;
      stream.bodyBytesSent += n;
      if (body.done) {
        this.withdraw(stream);
        stream.localClosed = true;
        this.host.responseSent(stream);
      } else this.data.sent(stream);
    }
    return length;
  }
}
