/**
 * A tiny HTTP/2 server for the interop tests, built only on FrameReader
 * and FrameWriter over a real loopback socket, plus hand-made HPACK bits
 * (indexed `:status 200`, literals without Huffman): HPACK is not the
 * frame layer's business.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Frame, FrameType as T, type ReadEvent } from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";

/** Shared UTF-8 encoder. */
export const encoder: TextEncoder = new TextEncoder();
/** Shared UTF-8 decoder. */
export const decoder: TextDecoder = new TextDecoder();

/** HPACK: static index 8, `:status: 200`. */
export const STATUS_200 = 0x88;
/** HPACK: dynamic table size update to 0. */
export const TABLE_SIZE_0 = 0x20;

/** HPACK literal field without indexing, new name, no Huffman (short strings). */
export function literalField(name: string, value: string): number[] {
  const n = encoder.encode(name);
  const v = encoder.encode(value);
  assert.ok(n.length < 127 && v.length < 127);
  return [0x00, n.length, ...n, v.length, ...v];
}

/** Reacts to each event, appending replies to the writer. */
export type EventHandler = (
  e: ReadEvent,
  w: FrameWriter,
  reader: FrameReader,
) => void;

/** One accepted connection driven by the frame layer. */
export class FrameServerConnection {
  readonly reader = new FrameReader();
  readonly events: ReadEvent[] = [];
  #waiters: {
    test: (e: ReadEvent) => boolean;
    resolve: (e: ReadEvent) => void;
  }[] = [];
  #ended: Promise<void>;

  constructor(readonly conn: Deno.Conn, onEvent: EventHandler) {
    this.#ended = this.#readLoop(onEvent);
  }

  async #readLoop(onEvent: EventHandler): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    const writer = new FrameWriter();
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) return;
        // A fresh copy per read: views handed out must outlive the buffer.
        this.reader.push(buffer.slice(0, n));
        for (let e = this.reader.next(); e; e = this.reader.next()) {
          this.events.push(e);
          onEvent(e, writer, this.reader);
          this.#waiters = this.#waiters.filter((waiter) => {
            if (!waiter.test(e)) return true;
            waiter.resolve(e);
            return false;
          });
          if (e.kind === "error" && e.error.scope === "connection") return;
        }
        if (writer.length > 0) await this.send(writer.take());
      }
    } catch (error) {
      // The peer may reset the connection as it leaves.
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
  }

  /** The first event (already seen or to come) that passes `test`. */
  waitFor(test: (frame: Frame) => boolean): Promise<Frame> {
    const match = (e: ReadEvent) => e.kind === "frame" && test(e.frame);
    const seen = this.events.find(match);
    const found = seen
      ? Promise.resolve(seen)
      : new Promise<ReadEvent>((resolve) =>
        this.#waiters.push({ test: match, resolve })
      );
    return found.then((e) => (e as { frame: Frame }).frame);
  }

  async send(bytes: Uint8Array): Promise<void> {
    for (let sent = 0; sent < bytes.length;) {
      sent += await this.conn.write(bytes.subarray(sent));
    }
  }

  /** Resolves when the peer has closed (or the reader failed). */
  ended(): Promise<void> {
    return this.#ended;
  }
}

/** Listens on 127.0.0.1:0 and wraps the first connection. */
export function listenOnce(onEvent: EventHandler) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((conn) => {
    listener.close();
    return new FrameServerConnection(conn, onEvent);
  });
  return { port: (listener.addr as Deno.NetAddr).port, accepted };
}

/** Acknowledges SETTINGS and PINGs, as every HTTP/2 endpoint must. */
export function answerControl(raisedMaxFrameSize: number): EventHandler {
  return (e, w, reader) => {
    if (e.kind !== "frame") return;
    const frame = e.frame;
    if (frame.type === T.SETTINGS && !frame.ack) w.settingsAck();
    // The client has applied our SETTINGS: larger frames may come now.
    if (frame.type === T.SETTINGS && frame.ack) {
      reader.maxFrameSize = raisedMaxFrameSize;
    }
    if (frame.type === T.PING && !frame.ack) w.ping(frame.data, true);
  };
}

export function withDeadline<V>(
  promise: Promise<V>,
  what: string,
  ms = 10_000,
): Promise<V> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function once<V extends unknown[]>(
  emitter: { once(event: string, listener: (...args: V) => void): unknown },
  event: string,
): Promise<V> {
  return new Promise((resolve) =>
    emitter.once(event, (...args: V) => resolve(args))
  );
}
