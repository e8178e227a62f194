/**
 * One HTTP/2 connection (RFC 9113): reads frames, keeps the streams'
 * states, runs one responder task per request (the same `respond` as
 * HTTP/1.1, writing to an {@linkcode Http2Sink}) and leaves framing,
 * interleaving and flow control of the responses to the output scheduler
 * (`output.ts`). Frame-level rules live in `frame_reader.ts`, request
 * rules in `request.ts`; this module holds what needs the connection's
 * state: stream states (§5.1), concurrency, windows, settings, the
 * lifecycle (GOAWAY, timeouts, graceful shutdown), and the budgets that
 * end floods.
 *
 * @module
 */

import {
  DEFAULT_INITIAL_WINDOW_SIZE,
  ErrorCode,
  type Frame,
  type FrameError,
  FrameType,
  MAX_WINDOW_SIZE,
  SettingId,
} from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";
import { HeaderBlockDecoder } from "./hpack/decoder.ts";
import { Http2Output, type OutputHost } from "./output.ts";
import { ReadAheadBudget } from "./body.ts";
import { TokenBucket } from "./budget.ts";
import { Http2Stream } from "./stream.ts";
import {
  MAX_CONCURRENT_STREAMS,
  type Responder,
  StreamRequests,
} from "./requests.ts";
import type { Connection } from "../http1/connection.ts";
/** Read-ahead bytes one connection may hold for its responses. */
export const READ_AHEAD_BUDGET_BYTES = 512 * 1024;
/** Received DATA bytes acknowledged with one WINDOW_UPDATE. */
const WINDOW_UPDATE_THRESHOLD = 32 * 1024;

/**
 * Serves an HTTP/2 connection whose preface may already be in
 * `c.buffer[c.start..c.end]` (prior knowledge) until it ends.
 */
export async function serveHttp2(
  c: Connection,
  remote: string,
  respond: Responder,
): Promise<void> {
  const session = new Http2Session(c, remote, respond);
  await session.run();
}

/** The state of one HTTP/2 connection. */
export class Http2Session implements OutputHost {
  readonly reader = new FrameReader();
  readonly decoder: HeaderBlockDecoder;
  readonly output: Http2Output;
  readonly requests: StreamRequests;
  /** Open streams, and closed ones whose responder still runs. */
  readonly streams = new Map<number, Http2Stream>();
  /** Bounds read-ahead memory of this connection's responses. */
  readonly readAhead = new ReadAheadBudget(READ_AHEAD_BUDGET_BYTES);
  /** The highest stream id the client opened: all below are not idle. */
  lastPeerStreamId = 0;
  /** The client's SETTINGS_INITIAL_WINDOW_SIZE. */
  peerInitialWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Set once GOAWAY was sent: streams above `goawayLastId` are ignored. */
  goawaySent = false;
  goawayLastId = 0;
  /** Set once the connection must end: reading stops. */
  ending = false;
  /** PING, SETTINGS, PRIORITY, empty DATA, refused streams… */
  readonly cheapFrames = new TokenBucket(1000, 500);
  /** Streams the client reset before their response was complete. */
  readonly earlyResets = new TokenBucket(200, 100);
  /** When the connection last had nothing to do (ms). */
  idleSince: number;
  readonly startedAt = Date.now();
  #receivedUnacknowledged = 0;
  #tasks = new Set<Promise<void>>();

  constructor(
    readonly c: Connection,
    readonly remote: string,
    respond: Responder,
  ) {
    this.decoder = new HeaderBlockDecoder({
      maxHeaderListSize: c.config.headLimits.maxHeadBytes,
    });
    this.output = new Http2Output(c.conn, this);
    this.requests = new StreamRequests(this, respond);
    this.idleSince = this.startedAt;
  }

  /** Reads and dispatches frames until the connection ends. */
  async run(): Promise<void> {
    const c = this.c;
    c.protocol = {
      expire: () => this.#expire(Date.now()),
      drain: () => this.goAway(ErrorCode.NO_ERROR, "server shutting down"),
    };
    c.awaitingRequest = false;
    this.output.queueControl(
      new FrameWriter().settings([
        { id: SettingId.MAX_CONCURRENT_STREAMS, value: MAX_CONCURRENT_STREAMS },
        {
          id: SettingId.MAX_HEADER_LIST_SIZE,
          value: c.config.headLimits.maxHeadBytes,
        },
        { id: SettingId.NO_RFC7540_PRIORITIES, value: 1 },
      ]),
    );
    if (c.end > c.start) this.#ingest(c.buffer.subarray(c.start, c.end));
    c.start = c.end = 0;
    while (!this.ending) {
      this.deadlineChanged();
      let n: number | null;
      try {
        n = await c.conn.read(c.buffer);
      } catch {
        n = null;
      }
      if (n === null) break;
      this.#ingest(c.buffer.subarray(0, n));
    }
    await this.#end();
  }

  /** Feeds bytes to the frame reader and handles every event. */
  #ingest(bytes: Uint8Array): void {
    this.reader.push(bytes);
    for (let event = this.reader.next(); event; event = this.reader.next()) {
      if (this.ending) return;
      if (event.kind === "error") this.frameError(event.error);
      else this.#frame(event.frame);
    }
  }

  /** A violation: the stream is reset, or the connection ends. */
  frameError(error: FrameError): void {
    if (error.scope === "stream") {
      this.requests.resetStream(error.streamId, error.code);
    } else this.fail(error.code, error.reason);
  }

  #frame(frame: Frame): void {
    const now = Date.now();
    switch (frame.type) {
      case FrameType.HEADERS:
        return this.requests.headers(frame, now);
      case FrameType.CONTINUATION:
        return this.requests.continuation(frame);
      case FrameType.DATA:
        this.#received(frame.length);
        return this.requests.data(frame, now);
      case FrameType.SETTINGS:
        if (frame.ack) return;
        if (!this.spendCheap(now)) return;
        for (const { id, value } of frame.settings) this.#setting(id, value);
        if (!this.ending) this.control(new FrameWriter().settingsAck());
        return;
      case FrameType.PING:
        if (!this.spendCheap(now) || frame.ack) return;
        this.control(new FrameWriter().ping(frame.data, true));
        return;
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(frame.streamId, frame.increment);
      case FrameType.RST_STREAM:
        return this.requests.peerReset(frame.streamId, now);
      case FrameType.PRIORITY:
        this.spendCheap(now);
        return;
      case FrameType.PRIORITY_UPDATE:
        if (!this.spendCheap(now)) return;
        return this.requests.priorityUpdate(
          frame.prioritizedStreamId,
          frame.fieldValue,
        );
      case FrameType.GOAWAY:
        // The client opens nothing more; what is open finishes.
        this.goAway(ErrorCode.NO_ERROR, "");
        return;
      case FrameType.PUSH_PROMISE:
        return this.fail(
          ErrorCode.PROTOCOL_ERROR,
          "a client cannot push (RFC 9113 §8.4)",
        );
    }
  }

  #setting(id: number, value: number): void {
    switch (id) {
      case SettingId.HEADER_TABLE_SIZE:
        this.output.encoder.setPeerMaxTableSize(value);
        return;
      case SettingId.INITIAL_WINDOW_SIZE: {
        // Applies to every open stream, possibly making windows negative
        // (RFC 9113 §6.9.2).
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW_SIZE) {
            return this.fail(
              ErrorCode.FLOW_CONTROL_ERROR,
              "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window",
            );
          }
          if (delta > 0 && stream.sendWindow > 0) this.output.resume(stream);
        }
        return;
      }
      case SettingId.MAX_FRAME_SIZE:
        this.output.peerMaxFrameSize = value;
        return;
    }
  }

  #windowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      this.output.connectionWindow += increment;
      if (this.output.connectionWindow > MAX_WINDOW_SIZE) {
        return this.fail(
          ErrorCode.FLOW_CONTROL_ERROR,
          "WINDOW_UPDATE overflows the connection window",
        );
      }
      this.output.windowOpened();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastPeerStreamId) {
        this.fail(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
      }
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW_SIZE) {
      return this.requests.resetStream(
        streamId,
        ErrorCode.FLOW_CONTROL_ERROR,
      );
    }
    if (stream.sendWindow > 0) this.output.resume(stream);
  }

  /** Counts received DATA against the connection window, reopening it. */
  #received(length: number): void {
    this.#receivedUnacknowledged += length;
    if (this.#receivedUnacknowledged >= WINDOW_UPDATE_THRESHOLD) {
      this.control(
        new FrameWriter().windowUpdate(0, this.#receivedUnacknowledged),
      );
      this.#receivedUnacknowledged = 0;
    }
  }

  /** Spends one cheap-frame token; on a flood, ends the connection. */
  spendCheap(now: number): boolean {
    if (this.cheapFrames.spend(now)) return true;
    this.fail(ErrorCode.ENHANCE_YOUR_CALM, "too many control frames");
    return false;
  }

  /** Queues control frames; a peer that does not read them is cut. */
  control(frames: FrameWriter): void {
    if (this.ending) return;
    if (!this.output.queueControl(frames)) {
      this.fail(ErrorCode.ENHANCE_YOUR_CALM, "control frames not read");
    }
  }

  /**
   * Sends GOAWAY naming the last stream that will be answered; streams
   * above it are ignored and the connection ends once the others are
   * done (graceful shutdown, --max-requests, or the client's own GOAWAY).
   */
  goAway(code: number, reason: string): void {
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.goawayLastId = this.lastPeerStreamId;
      if (reason !== "") {
        this.output.queueControl(
          new FrameWriter().goaway(
            this.goawayLastId,
            code,
            new TextEncoder().encode(reason),
          ),
        );
      }
    }
    this.closeIfDone();
  }

  /** A connection error: GOAWAY with `code`, then the connection ends. */
  fail(code: number, reason: string): void {
    if (this.ending) return;
    this.goawaySent = true;
    this.goawayLastId = this.lastPeerStreamId;
    // Past the control bound if need be: it is the last frame.
    this.output.queueControl(
      new FrameWriter().goaway(
        this.lastPeerStreamId,
        code,
        new TextEncoder().encode(reason),
      ).take(),
    ) || this.output.forceControl(
      new FrameWriter().goaway(this.lastPeerStreamId, code).take(),
    );
    this.#stop();
  }

  /** Ends the connection once no stream is left (after a GOAWAY). */
  closeIfDone(): void {
    if (this.goawaySent && this.streams.size === 0 && !this.ending) {
      this.#stop();
    }
  }

  /**
   * Stops reading and answering: every stream's output stops (its file is
   * released); what is queued is written, then the socket closes — unless
   * `close` is false (a write that is stuck: see the write timeout).
   */
  #stop(close = true): void {
    if (this.ending) return;
    this.ending = true;
    for (const stream of this.streams.values()) {
      this.output.withdraw(stream);
      stream.abandon();
    }
    if (!close) {
      this.output.closed = true;
      return;
    }
    const closeSocket = () => this.c.closeGracefully();
    const timer = setTimeout(closeSocket, 1000);
    this.output.drained().then(() => {
      clearTimeout(timer);
      this.output.closed = true;
      closeSocket();
    });
  }

  /** After the last read: waits for the responders, frees everything. */
  async #end(): Promise<void> {
    this.#stop();
    await Promise.allSettled([...this.#tasks]);
    await this.output.drained();
  }

  /** Tracks a responder task, so that the end waits for it. */
  track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  // OutputHost

  writeFailed(): void {
    this.output.closed = true;
    this.#stop();
    this.c.close();
  }

  responseSent(stream: Http2Stream): void {
    this.requests.responseSent(stream);
  }

  bodyFailed(stream: Http2Stream, error: unknown): void {
    this.requests.bodyFailed(stream, error);
  }

  /** Sets the connection's deadline: the earliest of what it waits for. */
  deadlineChanged(): void {
    const c = this.c;
    const config = c.config;
    let deadline = Infinity;
    const output = this.output;
    if (output.writing) {
      deadline = output.writeProgressAt + config.writeTimeoutMs;
    }
    if (output.connectionBlockedSince > 0) {
      deadline = Math.min(
        deadline,
        output.connectionBlockedSince + config.writeTimeoutMs,
      );
    }
    const block = this.requests.pendingBlock;
    if (block !== undefined) {
      deadline = Math.min(deadline, block.since + config.headerTimeoutMs);
    }
    if (this.streams.size === 0) {
      if (!output.writing && this.requests.opened === 0) {
        deadline = Math.min(deadline, this.startedAt + config.headerTimeoutMs);
      } else if (!output.writing) {
        deadline = Math.min(deadline, this.idleSince + config.idleTimeoutMs);
      }
    } else {
      for (const stream of this.streams.values()) {
        if (stream.blockedSince > 0) {
          deadline = Math.min(
            deadline,
            stream.blockedSince + config.writeTimeoutMs,
          );
        }
        if (!stream.remoteClosed && !stream.busy && !stream.reset) {
          deadline = Math.min(
            deadline,
            stream.openedAt + config.headerTimeoutMs,
          );
        }
      }
    }
    c.deadline = deadline;
  }

  /** Called by the server's sweeper when the deadline has passed. */
  #expire(now: number): void {
    const c = this.c;
    const config = c.config;
    const output = this.output;
    if (
      output.writing && now >= output.writeProgressAt + config.writeTimeoutMs
    ) {
      // The client stopped reading. Over TLS Deno cannot cut the socket
      // (see Connection.expire): it stays counted until the peer goes.
      if (c.secure) {
        c.stalled = true;
        c.deadline = Infinity;
        this.#stop(false);
      } else {
        this.#stop(false);
        c.close();
      }
      return;
    }
    if (
      output.connectionBlockedSince > 0 &&
      now >= output.connectionBlockedSince + config.writeTimeoutMs
    ) {
      return this.fail(
        ErrorCode.ENHANCE_YOUR_CALM,
        "connection flow-control window stayed empty",
      );
    }
    const block = this.requests.pendingBlock;
    if (block !== undefined && now >= block.since + config.headerTimeoutMs) {
      return this.fail(ErrorCode.ENHANCE_YOUR_CALM, "field block too slow");
    }
    if (this.streams.size === 0) {
      if (!output.writing) this.fail(ErrorCode.NO_ERROR, "idle");
      return;
    }
    for (const stream of [...this.streams.values()]) {
      if (
        stream.blockedSince > 0 &&
        now >= stream.blockedSince + config.writeTimeoutMs
      ) {
        // A window left empty: the stream goes, the connection stays.
        this.requests.resetStream(stream.id, ErrorCode.CANCEL);
      } else if (
        !stream.remoteClosed && !stream.busy && !stream.reset &&
        now >= stream.openedAt + config.headerTimeoutMs
      ) {
        this.requests.timedOut(stream);
      }
    }
    this.deadlineChanged();
  }
}
