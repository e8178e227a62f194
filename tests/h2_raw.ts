/**
 * A raw HTTP/2 client built on pws's own frame layer
 * (`http2/frame_writer.ts`, `http2/frame_reader.ts`, HPACK): it can send
 * any frame in any order, reads the server's frames in the background and
 * keeps counts and small facts about them — not the DATA bytes unless
 * asked (`keepData`), so that an attack test may download gigabytes or
 * provoke floods without itself growing. The attack tests drive it
 * directly; `h2_frame_client.ts` sends whole requests with it.
 *
 * @module
 */

import {
  CLIENT_PREFACE,
  ErrorCode,
  type Frame,
  FrameType,
  type GoawayFrame,
  type Setting,
} from "../http2/frame.ts";
import { FrameReader } from "../http2/frame_reader.ts";
import { FrameWriter } from "../http2/frame_writer.ts";
import { HeaderBlockEncoder } from "../http2/hpack/encoder.ts";
import {
  HeaderBlockDecoder,
  type HeaderField,
} from "../http2/hpack/decoder.ts";

export { ErrorCode, FrameType, FrameWriter };

/** What the client saw of one stream's response. */
export interface StreamView {
  /** Response fields of the first field block, once decoded. */
  fields?: HeaderField[];
  /** The `:status`, once the response HEADERS arrived. */
  status?: number;
  /** DATA payload bytes received (padding excluded). */
  dataBytes: number;
  /** The DATA payloads themselves, with {@linkcode H2ClientOptions.keepData}. */
  chunks?: Uint8Array[];
  /** DATA frames received. */
  dataFrames: number;
  /** When the first and the latest DATA frame arrived (performance.now). */
  firstDataAt?: number;
  lastDataAt?: number;
  /** The server ended the stream (END_STREAM). */
  ended: boolean;
  /** The error code of a RST_STREAM from the server. */
  resetCode?: number;
}

/** Options of {@linkcode H2Client.open}. */
export interface H2ClientOptions {
  /** Address to connect to (default 127.0.0.1). */
  hostname?: string;
  /** Speak TLS (ALPN `h2`) trusting this CA; cleartext when absent. */
  ca?: string;
  /** Keep every stream's DATA payloads (`StreamView.chunks`). */
  keepData?: boolean;
  /** The client's SETTINGS (default: none, the RFC defaults). */
  settings?: Setting[];
  /** Added to the connection window at the start (WINDOW_UPDATE on 0). */
  connectionWindowIncrement?: number;
  /**
   * Give back every DATA byte read with WINDOW_UPDATEs on the stream and
   * the connection, as a client that keeps up does (default true).
   */
  autoWindow?: boolean;
}

type Waiter = {
  check: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
};

const READ_BUFFER_BYTES = 256 * 1024;

/** One raw HTTP/2 connection to a test server (prior knowledge, or TLS). */
export class H2Client {
  readonly reader = new FrameReader({ expectPreface: false });
  /**
   * Encodes requests without the dynamic table, so that blocks may be
   * sent again, and hand-made blocks sent between them, in any order.
   */
  readonly encoder = new HeaderBlockEncoder({ maxTableSize: 0 });
  readonly decoder = new HeaderBlockDecoder({ maxHeaderListSize: 1 << 20 });
  readonly streams = new Map<number, StreamView>();
  /** Frames received, by type. */
  readonly received = new Map<number, number>();
  /** Every RST_STREAM error code received, with its count. */
  readonly resets = new Map<number, number>();
  /** The server's GOAWAY, once received. */
  goaway: GoawayFrame | undefined;
  /** When the GOAWAY arrived (performance.now). */
  goawayAt: number | undefined;
  /** The server's SETTINGS (the first, non-ACK frame). */
  serverSettings: Setting[] | undefined;
  /** Set once the socket ended (EOF, reset, or closed by us). */
  closed = false;
  /** When the socket ended (performance.now). */
  closedAt: number | undefined;
  /** Connection errors the frame reader found in the server's frames. */
  readerErrors: string[] = [];
  /** Total bytes read from the socket. */
  bytesRead = 0;
  /** See {@linkcode H2ClientOptions.autoWindow}; may change at any time. */
  autoWindow: boolean;
  /** The id {@linkcode request} uses next (odd, rising). */
  nextStreamId = 1;
  /** See {@linkcode H2ClientOptions.keepData}. */
  readonly keepData: boolean;

  #waiters: Waiter[] = [];
  #paused: Promise<void> | undefined;
  #resume: (() => void) | undefined;
  #block: { id: number; pieces: Uint8Array[]; endStream: boolean } | undefined;
  #loop: Promise<void>;
  /** Writes go one after the other, never interleaved. */
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(readonly conn: Deno.Conn, options: H2ClientOptions) {
    this.autoWindow = options.autoWindow ?? true;
    this.keepData = options.keepData ?? false;
    this.#loop = this.#readLoop();
  }

  /** Connects, sends the preface and the client's SETTINGS. */
  static async open(
    port: number,
    options: H2ClientOptions = {},
  ): Promise<H2Client> {
    const { hostname = "127.0.0.1", ca } = options;
    const conn = ca === undefined
      ? await Deno.connect({ hostname, port })
      : await Deno.connectTls({
        hostname,
        port,
        caCerts: [ca],
        alpnProtocols: ["h2"],
      });
    const client = new H2Client(conn, options);
    const w = new FrameWriter().settings(options.settings ?? []);
    if (options.connectionWindowIncrement) {
      w.windowUpdate(0, options.connectionWindowIncrement);
    }
    const frames = w.take();
    const start = new Uint8Array(CLIENT_PREFACE.length + frames.length);
    start.set(CLIENT_PREFACE);
    start.set(frames, CLIENT_PREFACE.length);
    await client.send(start);
    return client;
  }

  /**
   * Writes bytes (or a writer's frames) after those sent before; false
   * once the socket failed.
   */
  send(bytes: Uint8Array | FrameWriter): Promise<boolean> {
    const data = bytes instanceof FrameWriter ? bytes.take() : bytes;
    const sent = this.#writes.then(async () => {
      try {
        let offset = 0;
        while (offset < data.length) {
          offset += await this.conn.write(data.subarray(offset));
        }
        return true;
      } catch {
        return false;
      }
    });
    this.#writes = sent;
    return sent;
  }

  /** The HPACK block of a GET-like request for `path`. */
  requestBlock(
    path: string,
    extra: [string, string][] = [],
    method = "GET",
  ): Uint8Array {
    return this.encoder.encode([
      [":method", method],
      [":scheme", "http"],
      [":authority", "t"],
      [":path", path],
      ...extra,
    ]);
  }

  /** Sends a request on the next stream id and returns that id. */
  async request(
    path: string,
    options: { extra?: [string, string][]; endStream?: boolean } = {},
  ): Promise<number> {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    this.view(id);
    await this.send(
      new FrameWriter().headers(id, this.requestBlock(path, options.extra), {
        maxFrameSize: 16_384,
        endStream: options.endStream ?? true,
      }),
    );
    return id;
  }

  /** The view of stream `id` (created empty if new). */
  view(id: number): StreamView {
    let view = this.streams.get(id);
    if (view === undefined) {
      view = { dataBytes: 0, dataFrames: 0, ended: false };
      this.streams.set(id, view);
    }
    return view;
  }

  /** Frames of `type` received so far. */
  count(type: number): number {
    return this.received.get(type) ?? 0;
  }

  /** Stops reading the socket (the server's writes back up). */
  pauseReading(): void {
    this.#paused ??= new Promise((resolve) => this.#resume = resolve);
  }

  /** Reads the socket again. */
  resumeReading(): void {
    const resume = this.#resume;
    this.#paused = this.#resume = undefined;
    resume?.();
  }

  /**
   * Resolves once `check()` holds (checked after every read). Rejects
   * after `timeoutMs`, or once the connection closed without it holding,
   * with `what` and a summary of the connection in the message.
   */
  waitFor(check: () => boolean, timeoutMs: number, what: string) {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`${why} waiting for ${what}: ${this.summary()}`));
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        fail(`timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      if (this.closed) {
        clearTimeout(timer);
        return fail("connection closed");
      }
      this.#waiters.push(waiter);
    });
  }

  /** Waits for the server's GOAWAY. */
  waitGoaway(timeoutMs: number): Promise<void> {
    return this.waitFor(() => this.goaway !== undefined, timeoutMs, "GOAWAY");
  }

  /** Resolves once the socket ended; rejects after `timeoutMs`. */
  waitClosed(timeoutMs: number): Promise<void> {
    return this.waitFor(() => this.closed, timeoutMs, "the connection's end");
  }

  /** What the client saw, for failure messages. */
  summary(): string {
    const types = [...this.received].map(([t, n]) => `type${t}×${n}`);
    const streams = [...this.streams].slice(-4).map(([id, s]) =>
      `#${id}:${s.status ?? "-"}/${s.dataBytes}B${s.ended ? "/end" : ""}${
        s.resetCode === undefined ? "" : `/rst${s.resetCode}`
      }`
    );
    const goaway = this.goaway === undefined
      ? "none"
      : `last ${this.goaway.lastStreamId} code ${this.goaway.errorCode} "${
        new TextDecoder().decode(this.goaway.debugData)
      }"`;
    return `frames [${
      types.join(" ")
    }], goaway ${goaway}, closed ${this.closed}, ` +
      `read ${this.bytesRead} B, streams ${streams.join(" ")}` +
      (this.readerErrors.length ? `, errors ${this.readerErrors}` : "");
  }

  /** Closes the socket and waits for the read loop to end. */
  async close(): Promise<void> {
    this.resumeReading();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#loop;
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (true) {
        if (this.#paused) await this.#paused;
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.bytesRead += n;
        this.#ingest(buffer.subarray(0, n));
      }
    } catch {
      // reset, or closed by us
    }
    this.closed = true;
    this.closedAt = performance.now();
    this.#settleWaiters();
  }

  #ingest(bytes: Uint8Array): void {
    const reply = new FrameWriter();
    const windows = new Map<number, number>();
    this.reader.push(bytes);
    for (let e = this.reader.next(); e; e = this.reader.next()) {
      if (e.kind === "error") {
        this.readerErrors.push(e.error.reason);
        if (e.error.scope === "connection") break;
        continue;
      }
      this.#frame(e.frame, reply, windows);
    }
    if (this.autoWindow) {
      for (const [id, n] of windows) if (n > 0) reply.windowUpdate(id, n);
    }
    if (reply.length > 0) this.send(reply);
    this.#settleWaiters();
  }

  #frame(
    frame: Frame,
    reply: FrameWriter,
    windows: Map<number, number>,
  ): void {
    this.received.set(frame.type, this.count(frame.type) + 1);
    switch (frame.type) {
      case FrameType.SETTINGS:
        if (!frame.ack) {
          this.serverSettings ??= frame.settings;
          reply.settingsAck();
        }
        return;
      case FrameType.PING:
        if (!frame.ack) reply.ping(frame.data, true);
        return;
      case FrameType.HEADERS:
        this.#block = {
          id: frame.streamId,
          pieces: [frame.fragment.slice()],
          endStream: frame.endStream,
        };
        if (frame.endHeaders) this.#blockEnded();
        return;
      case FrameType.CONTINUATION:
        this.#block?.pieces.push(frame.fragment.slice());
        if (frame.endHeaders) this.#blockEnded();
        return;
      case FrameType.DATA: {
        const view = this.view(frame.streamId);
        const now = performance.now();
        view.dataBytes += frame.data.length;
        view.dataFrames++;
        if (this.keepData) (view.chunks ??= []).push(frame.data.slice());
        view.firstDataAt ??= now;
        view.lastDataAt = now;
        if (frame.endStream) view.ended = true;
        if (frame.length > 0) {
          windows.set(0, (windows.get(0) ?? 0) + frame.length);
          if (!frame.endStream) {
            windows.set(
              frame.streamId,
              (windows.get(frame.streamId) ?? 0) + frame.length,
            );
          }
        }
        return;
      }
      case FrameType.RST_STREAM:
        this.view(frame.streamId).resetCode = frame.errorCode;
        this.resets.set(
          frame.errorCode,
          (this.resets.get(frame.errorCode) ?? 0) + 1,
        );
        return;
      case FrameType.GOAWAY:
        this.goaway ??= frame;
        this.goawayAt ??= performance.now();
        return;
    }
  }

  #blockEnded(): void {
    const block = this.#block!;
    this.#block = undefined;
    let length = 0;
    for (const piece of block.pieces) length += piece.length;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const piece of block.pieces) {
      bytes.set(piece, offset);
      offset += piece.length;
    }
    const decoded = this.decoder.decode(bytes);
    const view = this.view(block.id);
    if (decoded.kind !== "fields") {
      this.readerErrors.push(`response block: ${decoded.reason}`);
      return;
    }
    // The first final response's fields; an interim (1xx) one is replaced,
    // trailers are not kept.
    if (view.fields === undefined || (view.status ?? 0) < 200) {
      view.fields = decoded.fields;
      const status = decoded.fields.find(([name]) => name === ":status");
      view.status = status === undefined ? undefined : Number(status[1]);
    }
    if (block.endStream) view.ended = true;
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.check()) waiter.resolve();
      else if (this.closed) {
        waiter.reject(
          new Error(`connection closed while waiting: ${this.summary()}`),
        );
      } else this.#waiters.push(waiter);
    }
  }
}

/** `count` copies of the frames `w` holds, as one buffer. */
export function repeated(w: FrameWriter, count: number): Uint8Array {
  const one = w.take();
  const all = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) all.set(one, i * one.length);
  return all;
}
