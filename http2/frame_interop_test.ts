/**
 * Cross-checks the frame layer against independent HTTP/2 implementations
 * over real loopback sockets: a tiny server built only on FrameReader and
 * FrameWriter talks to `node:http2`'s client and to `nghttp` (when
 * installed). What they send must parse as the frames they meant; what we
 * send must be understood as we meant it. Field blocks are hand-made HPACK
 * (indexed `:status 200`, literals without Huffman), since HPACK is not
 * this layer's business.
 */

import assert from "node:assert/strict";
import http2 from "node:http2";
import {
  ErrorCode,
  type Frame,
  FrameType as T,
  type ReadEvent,
  SettingId as S,
} from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter, writeDataFrameHeader } from "./frame_writer.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** HPACK: static index 8, `:status: 200`. */
const STATUS_200 = 0x88;
/** HPACK: dynamic table size update to 0. */
const TABLE_SIZE_0 = 0x20;

/** HPACK literal field without indexing, new name, no Huffman (short strings). */
function literalField(name: string, value: string): number[] {
  const n = encoder.encode(name);
  const v = encoder.encode(value);
  assert.ok(n.length < 127 && v.length < 127);
  return [0x00, n.length, ...n, v.length, ...v];
}

/** Reacts to each event, appending replies to the writer. */
type EventHandler = (e: ReadEvent, w: FrameWriter, reader: FrameReader) => void;

/** One accepted connection driven by the frame layer. */
class FrameServerConnection {
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
function listenOnce(onEvent: EventHandler) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((conn) => {
    listener.close();
    return new FrameServerConnection(conn, onEvent);
  });
  return { port: (listener.addr as Deno.NetAddr).port, accepted };
}

/** Acknowledges SETTINGS and PINGs, as every HTTP/2 endpoint must. */
function answerControl(raisedMaxFrameSize: number): EventHandler {
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

function withDeadline<V>(
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

function once<V extends unknown[]>(
  emitter: { once(event: string, listener: (...args: V) => void): unknown },
  event: string,
): Promise<V> {
  return new Promise((resolve) =>
    emitter.once(event, (...args: V) => resolve(args))
  );
}

Deno.test("node:http2 client and the frame layer understand each other", async () => {
  let server: FrameServerConnection | null = null;
  const { port, accepted } = listenOnce(answerControl(32_768));
  const client = http2.connect(`http://127.0.0.1:${port}`, {
    settings: {
      initialWindowSize: 100_000,
      maxFrameSize: 20_000,
      headerTableSize: 1000,
      enablePush: false,
    },
  });
  try {
    server = await withDeadline(accepted, "accept");
    const remoteSettings = once<[http2.Settings]>(client, "remoteSettings");
    await server.send(
      new FrameWriter()
        .settings([
          { id: S.MAX_CONCURRENT_STREAMS, value: 7 },
          { id: S.INITIAL_WINDOW_SIZE, value: 70_000 },
          { id: S.MAX_FRAME_SIZE, value: 32_768 },
        ])
        .windowUpdate(0, 1000)
        .take(),
    );

    // Their SETTINGS, parsed by our reader.
    const theirSettings = await withDeadline(
      server.waitFor((f) => f.type === T.SETTINGS && !f.ack),
      "client SETTINGS",
    );
    assert.equal(
      server.events[0].kind === "frame" && server.events[0].frame,
      theirSettings,
    );
    const announced = new Map(
      theirSettings.type === T.SETTINGS
        ? theirSettings.settings.map((s) => [s.id, s.value])
        : [],
    );
    assert.equal(announced.get(S.INITIAL_WINDOW_SIZE), 100_000);
    assert.equal(announced.get(S.MAX_FRAME_SIZE), 20_000);
    assert.equal(announced.get(S.HEADER_TABLE_SIZE), 1000);
    assert.equal(announced.get(S.ENABLE_PUSH), 0);

    // Our SETTINGS and WINDOW_UPDATE, as they understood them.
    const [settings] = await withDeadline(remoteSettings, "remoteSettings");
    assert.equal(settings.maxConcurrentStreams, 7);
    assert.equal(settings.initialWindowSize, 70_000);
    assert.equal(settings.maxFrameSize, 32_768);
    await withDeadline(
      server.waitFor((f) => f.type === T.SETTINGS && f.ack),
      "SETTINGS ACK",
    );
    assert.equal(client.state.remoteWindowSize, 65_535 + 1000);

    // A GET: their HEADERS; our HEADERS + CONTINUATIONs and DATA back.
    const get = client.request({ ":path": "/" });
    const response = once<[http2.IncomingHttpHeaders]>(get, "response");
    let body = "";
    get.setEncoding("utf8");
    get.on("data", (chunk: string) => body += chunk);
    const getEnded = once(get, "end");
    const request = await withDeadline(
      server.waitFor((f) => f.type === T.HEADERS),
      "GET HEADERS",
    );
    assert.ok(
      request.type === T.HEADERS && request.endHeaders && request.endStream,
    );
    assert.equal(request.streamId, 1);
    for (const indexed of [0x82, 0x84, 0x86]) { // GET, path /, scheme http
      assert.ok(request.fragment.includes(indexed), `HPACK index ${indexed}`);
    }
    const block = new Uint8Array([
      // The client lowered SETTINGS_HEADER_TABLE_SIZE, so the first block
      // after that must begin with a table size update (RFC 7541 §4.2).
      TABLE_SIZE_0,
      STATUS_200,
      ...literalField("x-frames", "split-across-continuations"),
      ...literalField("x-more", "y".repeat(60)),
    ]);
    const reply = new FrameWriter()
      .headers(1, block, { maxFrameSize: 16 })
      .data(1, encoder.encode("hel"), { padLength: 5 })
      .take();
    const last = new Uint8Array(9 + 2);
    last.set(encoder.encode("lo"), 9);
    writeDataFrameHeader(last, 0, 1, 2, true);
    await server.send(reply);
    await server.send(last);
    const [headers] = await withDeadline(response, "response");
    assert.equal(headers[":status"], 200);
    assert.equal(headers["x-frames"], "split-across-continuations");
    assert.equal(headers["x-more"], "y".repeat(60));
    await withDeadline(getEnded, "GET body");
    assert.equal(body, "hello");

    // Their PING; our PING ACK carries the same 8 bytes back.
    const pinged = new Promise<Uint8Array>((resolve, reject) =>
      client.ping(
        encoder.encode("pws-ping"),
        (error, _ms, payload) => error ? reject(error) : resolve(payload),
      )
    );
    assert.equal(
      decoder.decode(await withDeadline(pinged, "PING ACK")),
      "pws-ping",
    );
    const ping = await server.waitFor((f) => f.type === T.PING);
    assert.equal(ping.type === T.PING && decoder.decode(ping.data), "pws-ping");

    // A POST: their DATA frames with END_STREAM.
    const post = client.request({ ":method": "POST", ":path": "/upload" });
    post.end("request body bytes");
    const postDone = once(post, "close");
    const postHeaders = await withDeadline(
      server.waitFor((f) => f.type === T.HEADERS && f.streamId === 3),
      "POST HEADERS",
    );
    assert.ok(postHeaders.type === T.HEADERS && !postHeaders.endStream);
    await withDeadline(
      server.waitFor((f) =>
        f.type === T.DATA && f.streamId === 3 && f.endStream
      ),
      "POST body",
    );
    const uploaded = server.events.flatMap((e) =>
      e.kind === "frame" && e.frame.type === T.DATA && e.frame.streamId === 3
        ? [decoder.decode(e.frame.data)]
        : []
    ).join("");
    assert.equal(uploaded, "request body bytes");
    await server.send(
      new FrameWriter().headers(3, new Uint8Array([STATUS_200]), {
        maxFrameSize: 16_384,
        endStream: true,
      }).take(),
    );
    await withDeadline(postDone, "POST response");

    // A header block too large for one frame: their CONTINUATION, read
    // with the raised maxFrameSize; our RST_STREAM ends the stream.
    const bigValue = Array.from(
      { length: 50_000 },
      (_, i) => "0123456789abcdefghijklmnopqrstuvwxyz"[(i * 7919) % 36],
    ).join("");
    const big = client.request({ ":path": "/big", "x-big": bigValue });
    const bigClosed = once(big, "close");
    big.on("error", () => {});
    const bigEnd = await withDeadline(
      server.waitFor((f) => f.type === T.CONTINUATION && f.endHeaders),
      "CONTINUATION",
    );
    const blockFrames = server.events.flatMap((e) =>
      e.kind === "frame" && e.frame.streamId === bigEnd.streamId &&
        (e.frame.type === T.HEADERS || e.frame.type === T.CONTINUATION)
        ? [e.frame]
        : []
    );
    assert.ok(blockFrames.length >= 2);
    assert.ok(blockFrames[0].type === T.HEADERS && !blockFrames[0].endHeaders);
    const blockLength = blockFrames.reduce(
      (sum, f) => sum + ("fragment" in f ? f.fragment.length : 0),
      0,
    );
    assert.ok(blockLength > 32_768, `field block of ${blockLength} bytes`);
    await server.send(
      new FrameWriter().rstStream(bigEnd.streamId, ErrorCode.CANCEL).take(),
    );
    await withDeadline(bigClosed, "RST_STREAM");
    assert.equal(big.rstCode, ErrorCode.CANCEL);

    // Their RST_STREAM when a request is abandoned.
    const abandoned = client.request({ ":path": "/hang" });
    const abandonedHeaders = await withDeadline(
      server.waitFor((f) => f.type === T.HEADERS && f.streamId === 7),
      "abandoned HEADERS",
    );
    abandoned.close(http2.constants.NGHTTP2_CANCEL);
    const reset = await withDeadline(
      server.waitFor((f) => f.type === T.RST_STREAM),
      "client RST_STREAM",
    );
    assert.deepEqual(reset, {
      type: T.RST_STREAM,
      streamId: abandonedHeaders.streamId,
      errorCode: ErrorCode.CANCEL,
    });

    // Our GOAWAY, as they read it.
    const goaway = once<[number, number, Uint8Array]>(client, "goaway");
    await server.send(
      new FrameWriter().goaway(7, ErrorCode.NO_ERROR, encoder.encode("bye"))
        .take(),
    );
    const [code, lastStreamId, debug] = await withDeadline(goaway, "GOAWAY");
    assert.deepEqual([code, lastStreamId, decoder.decode(debug)], [
      0,
      7,
      "bye",
    ]);
    assert.equal(server.reader.failure, null);
    assert.equal(server.events.some((e) => e.kind === "error"), false);
  } finally {
    client.destroy();
    if (server) {
      await withDeadline(server.ended(), "close");
      server.conn.close();
    }
  }
});

/** One frame as `nghttp -v` printed it: its header line and detail lines. */
interface NghttpFrame {
  direction: "send" | "recv";
  name: string;
  length: number;
  flags: number;
  streamId: number;
  details: string;
}

/** Splits `nghttp -v` output into the frames it sent and received. */
function parseNghttpLog(log: string): NghttpFrame[] {
  const frames: NghttpFrame[] = [];
  const header =
    /^\[\s*[\d.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>$/;
  for (const line of log.split("\n")) {
    const match = header.exec(line);
    if (match) {
      frames.push({
        direction: match[1] as "send" | "recv",
        name: match[2],
        length: Number(match[3]),
        flags: parseInt(match[4], 16),
        streamId: Number(match[5]),
        details: "",
      });
    } else if (line.startsWith(" ") && frames.length > 0) {
      frames[frames.length - 1].details += line.trim() + "\n";
    }
  }
  return frames;
}

/** Whether an `nghttp` binary can be run. */
async function hasNghttp(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("nghttp", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const NGHTTP_PRESENT = await hasNghttp();

Deno.test({
  name:
    "nghttp's frames parse as it printed them, and it prints ours as we meant" +
    (NGHTTP_PRESENT
      ? ""
      : " (skipped: no nghttp; apt-get install nghttp2-client)"),
  ignore: !NGHTTP_PRESENT,
  async fn() {
    const body = await Deno.makeTempFile();
    await Deno.writeTextFile(body, "posted request body");
    const respond: EventHandler = (e, w) => {
      answerControl(16_384)(e, w, new FrameReader());
      if (e.kind !== "frame" || e.frame.type !== T.DATA || !e.frame.endStream) {
        return;
      }
      const id = e.frame.streamId;
      w.headers(id, new Uint8Array([STATUS_200, ...literalField("a", "bbb")]), {
        maxFrameSize: 3,
      })
        .data(id, encoder.encode("hel"), { padLength: 4 })
        .data(id, encoder.encode("lo"), { endStream: true })
        .ping(encoder.encode("AAAAAAAA"))
        .windowUpdate(0, 5000)
        .rstStream(id, ErrorCode.CANCEL)
        .goaway(id, ErrorCode.NO_ERROR, encoder.encode("bye"));
    };
    const { port, accepted } = listenOnce(respond);
    const child = new Deno.Command("nghttp", {
      // --continuation: a header block too big for one frame; --padding:
      // padded DATA; -d: a POST body. Its default stream dependencies add
      // PRIORITY frames and a HEADERS with the PRIORITY flag.
      args: [
        "-nv",
        "--continuation",
        "--padding=7",
        "-d",
        body,
        `http://127.0.0.1:${port}/`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const server = await withDeadline(accepted, "accept");
      await server.send(
        new FrameWriter().settings([
          { id: S.MAX_CONCURRENT_STREAMS, value: 7 },
          { id: S.INITIAL_WINDOW_SIZE, value: 70_000 },
        ]).take(),
      );
      await withDeadline(
        server.waitFor((f) => f.type === T.GOAWAY),
        "nghttp's GOAWAY",
      );
      await withDeadline(server.ended(), "nghttp's close");
      server.conn.close();
      const output = await withDeadline(child.output(), "nghttp exit");
      const log = parseNghttpLog(decoder.decode(output.stdout));
      const frames = server.events.map((e) => {
        if (e.kind === "error") {
          throw new Error(`reader refused: ${e.error.reason}`);
        }
        return e.frame;
      });

      // What nghttp sent, frame by frame, against what our reader parsed
      // (nghttp prints a HEADERS and its CONTINUATIONs as one frame).
      const sent = log.filter((f) => f.direction === "send");
      const ours = frames.filter((f) => f.type !== T.CONTINUATION);
      assert.deepEqual(
        sent.map((f) => [f.name, f.streamId]),
        ours.map((f) => [typeName(f.type), f.streamId]),
      );
      assert.ok(
        frames.some((f) => f.type === T.CONTINUATION),
        "nghttp sent a CONTINUATION",
      );
      for (
        const name of ["SETTINGS", "PRIORITY", "HEADERS", "DATA", "GOAWAY"]
      ) {
        assert.ok(sent.some((f) => f.name === name), `nghttp sent ${name}`);
      }
      for (const [i, theirs] of sent.entries()) {
        assert.deepEqual(
          describe(ours[i], frames),
          nghttpDescription(theirs),
          `frame ${i}: ${theirs.name}\n${theirs.details}`,
        );
      }

      // What nghttp made of our frames.
      const received = log.filter((f) => f.direction === "recv");
      const stdout = decoder.decode(output.stdout);
      const stream = ours.find((f) => f.type === T.DATA)!.streamId;
      assert.match(
        received[0].details,
        /\[SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):7\]\n\[SETTINGS_INITIAL_WINDOW_SIZE\(0x04\):70000\]/,
      );
      assert.ok(stdout.includes(`recv (stream_id=${stream}) :status: 200`));
      assert.ok(stdout.includes(`recv (stream_id=${stream}) a: bbb`));
      const byName = (name: string) => received.filter((f) => f.name === name);
      assert.deepEqual(
        byName("DATA").map((f) => [f.length, f.flags, f.streamId]),
        [[8, 0x08, stream], [2, 0x01, stream]],
      );
      assert.match(byName("DATA")[0].details, /padlen=5/);
      assert.match(byName("PING")[0].details, /opaque_data=4141414141414141/);
      assert.match(
        byName("WINDOW_UPDATE")[0].details,
        /window_size_increment=5000/,
      );
      assert.match(
        byName("RST_STREAM")[0].details,
        /error_code=CANCEL\(0x08\)/,
      );
      assert.match(
        byName("GOAWAY")[0].details,
        new RegExp(
          `last_stream_id=${stream}, error_code=NO_ERROR\\(0x00\\), opaque_data\\(3\\)=\\[bye\\]`,
        ),
      );
    } finally {
      try {
        child.kill();
      } catch { /* already exited */ }
      await child.status;
      await Deno.remove(body);
    }
  },
});

const TYPE_NAMES = [
  "DATA",
  "HEADERS",
  "PRIORITY",
  "RST_STREAM",
  "SETTINGS",
  "PUSH_PROMISE",
  "PING",
  "GOAWAY",
  "WINDOW_UPDATE",
  "CONTINUATION",
];

function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** The fields nghttp prints for a frame, from our parse of it. */
function describe(frame: Frame, all: Frame[]): Record<string, number | string> {
  switch (frame.type) {
    case T.SETTINGS:
      return {
        ack: frame.ack ? 1 : 0,
        settings: frame.settings.map((s) => `${s.id}:${s.value}`).join(","),
      };
    case T.PRIORITY:
      return {
        dep: frame.priority.dependency,
        weight: frame.priority.weight,
        exclusive: frame.priority.exclusive ? 1 : 0,
      };
    case T.HEADERS: {
      // The fragments of this block: this frame and the CONTINUATIONs after it.
      const start = all.indexOf(frame);
      let blockLength = frame.fragment.length;
      for (
        let i = start + 1;
        i < all.length && all[i].type === T.CONTINUATION;
        i++
      ) {
        blockLength += (all[i] as { fragment: Uint8Array }).fragment.length;
      }
      const p = frame.priority;
      return {
        endStream: frame.endStream ? 1 : 0,
        block: blockLength,
        dep: p?.dependency ?? 0,
        weight: p?.weight ?? 16,
        exclusive: p?.exclusive ? 1 : 0,
      };
    }
    case T.DATA:
      return {
        endStream: frame.endStream ? 1 : 0,
        length: frame.length,
        padlen: frame.length - frame.data.length,
      };
    case T.GOAWAY:
      return { last: frame.lastStreamId, code: frame.errorCode };
    default:
      return { type: frame.type };
  }
}

/** The same fields, read from nghttp's own description. */
function nghttpDescription(f: NghttpFrame): Record<string, number | string> {
  const field = (name: string) =>
    Number(new RegExp(`${name}=(\\d+)`).exec(f.details)?.[1] ?? NaN);
  switch (f.name) {
    case "SETTINGS":
      return {
        ack: f.flags & 0x1,
        settings: [
          ...f.details.matchAll(/\[SETTINGS_\w+\(0x([0-9a-f]+)\):(\d+)\]/g),
        ].map((m) => `${parseInt(m[1], 16)}:${m[2]}`).join(","),
      };
    case "PRIORITY":
      return {
        dep: field("dep_stream_id"),
        weight: field("weight"),
        exclusive: field("exclusive"),
      };
    case "HEADERS": {
      const hasPriority = (f.flags & 0x20) !== 0;
      const padlen = field("padlen");
      return {
        endStream: f.flags & 0x1,
        block: f.length - (hasPriority ? 5 : 0) - padlen,
        dep: hasPriority ? field("dep_stream_id") : 0,
        weight: hasPriority ? field("weight") : 16,
        exclusive: hasPriority ? field("exclusive") : 0,
      };
    }
    case "DATA":
      return {
        endStream: f.flags & 0x1,
        length: f.length,
        padlen: (f.flags & 0x8) ? field("padlen") : 0,
      };
    case "GOAWAY":
      return {
        last: field("last_stream_id"),
        code: Number(
          /error_code=\w+\(0x([0-9a-f]+)\)/.exec(f.details)?.[1] ?? NaN,
        ),
      };
    default:
      return { type: TYPE_NAMES.indexOf(f.name) };
  }
}
