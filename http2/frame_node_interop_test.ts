/**
 * Cross-checks the frame layer against `node:http2`'s client over a real
 * loopback socket: what it sends must parse as the frames it meant, what
 * we send must be understood as we meant it.
 */

import assert from "node:assert/strict";
import http2 from "node:http2";
import { ErrorCode, FrameType as T, SettingId as S } from "./frame.ts";
import { FrameWriter, writeDataFrameHeader } from "./frame_writer.ts";
import {
  answerControl,
  decoder,
  encoder,
  type FrameServerConnection,
  listenOnce,
  literalField,
  once,
  STATUS_200,
  TABLE_SIZE_0,
  withDeadline,
} from "./frame_test_server.ts";

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
