import assert from "node:assert/strict";
import { ErrorCode, Flag, FrameType as T } from "./frame.ts";
import {
  concat,
  type ErrorCase,
  framesOf,
  rawFrame as f,
  readEvents,
  runErrorCases,
  u32,
} from "./frame_test_helpers.ts";

const {
  PROTOCOL_ERROR: PROTOCOL,
  FRAME_SIZE_ERROR: FRAME_SIZE,
} = ErrorCode;
const { END_STREAM, END_HEADERS, ACK } = Flag;

/** 8 bytes of PING payload. */
const EIGHT = [1, 2, 3, 4, 5, 6, 7, 8];
/** A harmless frame to prove the reader went on. */
const PING = f(T.PING, 0, 0, EIGHT);

Deno.test("stream identifier rules per type are connection PROTOCOL_ERRORs", () => {
  runErrorCases([
    ["DATA", T.DATA, 0, []],
    ["HEADERS", T.HEADERS, END_HEADERS, [0x82]],
    ["PRIORITY", T.PRIORITY, 0, [0, 0, 0, 1, 15]],
    ["RST_STREAM", T.RST_STREAM, 0, u32(8)],
    ["PUSH_PROMISE", T.PUSH_PROMISE, END_HEADERS, u32(2)],
    ["CONTINUATION", T.CONTINUATION, END_HEADERS, []],
  ].map(([name, type, flags, payload]) => ({
    name: `${name} on stream 0`,
    frames: [f(type as number, flags as number, 0, payload as number[])],
    scope: "connection" as const,
    code: PROTOCOL,
  })));
  runErrorCases([
    ["SETTINGS", T.SETTINGS, 0, []],
    ["SETTINGS ACK", T.SETTINGS, ACK, []],
    ["PING", T.PING, 0, EIGHT],
    ["GOAWAY", T.GOAWAY, 0, [...u32(0), ...u32(0)]],
    ["PRIORITY_UPDATE", T.PRIORITY_UPDATE, 0, [...u32(1), 0x75]],
  ].map(([name, type, flags, payload]) => ({
    name: `${name} on stream 1`,
    frames: [f(type as number, flags as number, 1, payload as number[])],
    scope: "connection" as const,
    code: PROTOCOL,
  })));
});

Deno.test("fixed and minimum lengths give the RFC's error class and code", () => {
  const sized = (
    name: string,
    type: number,
    flags: number,
    streamId: number,
    length: number,
    scope: "connection" | "stream",
  ): ErrorCase => ({
    name,
    frames: [f(type, flags, streamId, new Uint8Array(length))],
    scope,
    code: FRAME_SIZE,
  });
  runErrorCases([
    sized("PRIORITY of 4 bytes", T.PRIORITY, 0, 3, 4, "stream"),
    sized("PRIORITY of 6 bytes", T.PRIORITY, 0, 3, 6, "stream"),
    sized("RST_STREAM of 3 bytes", T.RST_STREAM, 0, 1, 3, "connection"),
    sized("RST_STREAM of 5 bytes", T.RST_STREAM, 0, 1, 5, "connection"),
    sized("PING of 7 bytes", T.PING, 0, 0, 7, "connection"),
    sized("PING ACK of 9 bytes", T.PING, ACK, 0, 9, "connection"),
    sized("GOAWAY of 7 bytes", T.GOAWAY, 0, 0, 7, "connection"),
    sized("WINDOW_UPDATE of 3 bytes", T.WINDOW_UPDATE, 0, 0, 3, "connection"),
    sized(
      "WINDOW_UPDATE of 5 on a stream",
      T.WINDOW_UPDATE,
      0,
      1,
      5,
      "connection",
    ),
    sized("SETTINGS of 5 bytes", T.SETTINGS, 0, 0, 5, "connection"),
    sized("SETTINGS of 13 bytes", T.SETTINGS, 0, 0, 13, "connection"),
    sized("SETTINGS ACK with a payload", T.SETTINGS, ACK, 0, 6, "connection"),
    sized(
      "PRIORITY_UPDATE of 3 bytes",
      T.PRIORITY_UPDATE,
      0,
      0,
      3,
      "connection",
    ),
  ]);
  const [error] = readEvents([f(T.PRIORITY, 0, 5, [0, 0, 0, 1])]);
  assert.deepEqual(
    error.kind === "error" && [error.error.scope, error.error.streamId],
    ["stream", 5],
  );
});

Deno.test("a stream error skips its frame and the reader goes on", () => {
  const events = readEvents([
    concat(f(T.PRIORITY, 0, 3, new Uint8Array(300)), PING),
  ]);
  assert.equal(events.length, 2);
  assert.equal(events[0].kind === "error" && events[0].error.scope, "stream");
  assert.equal(events[1].kind === "frame" && events[1].frame.type, T.PING);
});

Deno.test("the field block sequence admits only its own CONTINUATIONs", () => {
  const open = f(T.HEADERS, 0, 1, [0x82]);
  const openPush = f(T.PUSH_PROMISE, 0, 1, [...u32(2), 0x82]);
  const cont = (streamId: number, flags = 0) =>
    f(T.CONTINUATION, flags, streamId, [0x84]);
  const violation = (name: string, ...frames: Uint8Array[]): ErrorCase => ({
    name,
    frames,
    scope: "connection",
    code: PROTOCOL,
  });
  runErrorCases([
    violation("CONTINUATION with nothing open", cont(1, END_HEADERS)),
    violation(
      "CONTINUATION after HEADERS with END_HEADERS",
      f(T.HEADERS, END_HEADERS, 1, [0x82]),
      cont(1, END_HEADERS),
    ),
    violation(
      "CONTINUATION after a CONTINUATION with END_HEADERS",
      open,
      cont(1, END_HEADERS),
      cont(1, END_HEADERS),
    ),
    violation("CONTINUATION after DATA", f(T.DATA, 0, 1, [1]), cont(1)),
    violation("DATA inside the block", open, f(T.DATA, 0, 1, [1])),
    violation(
      "PRIORITY inside the block",
      open,
      f(T.PRIORITY, 0, 1, [0, 0, 0, 0, 1]),
    ),
    violation("PING inside the block", open, cont(1), PING),
    // Its wrong length alone would only reset stream 1; inside a field
    // block, the frame's presence already ends the connection.
    violation(
      "PRIORITY of 4 bytes inside the block",
      open,
      f(T.PRIORITY, 0, 1, [0, 0, 0, 0]),
    ),
    violation("SETTINGS inside the block", open, f(T.SETTINGS, 0, 0)),
    violation(
      "HEADERS of another stream",
      open,
      f(T.HEADERS, END_HEADERS, 3, [0x82]),
    ),
    violation("CONTINUATION of another stream", open, cont(3, END_HEADERS)),
    violation("unknown type inside the block", open, f(0xfa, 0, 1, [1, 2])),
    violation(
      "DATA inside a PUSH_PROMISE block",
      openPush,
      f(T.DATA, 0, 1, [1]),
    ),
  ]);
  const frames = framesOf(readEvents([
    concat(open, cont(1), cont(1, END_HEADERS), f(T.DATA, END_STREAM, 1, [7])),
  ]));
  assert.deepEqual(frames.map((frame) => frame.type), [
    T.HEADERS,
    T.CONTINUATION,
    T.CONTINUATION,
    T.DATA,
  ]);
});

Deno.test("unknown types, unknown flags and reserved bits are ignored", () => {
  const frames = framesOf(readEvents([
    concat(
      f(0xff, 0xff, 0, new Uint8Array(100)),
      f(0x0a, 0, 9, []),
      f(T.PING, 0xfe, 0x8000_0000, EIGHT),
      f(T.RST_STREAM, 0xff, 0x8000_0003, u32(0x1234_5678)),
      f(T.GOAWAY, 0, 0, [...u32(0x8000_0007), ...u32(0xdead), 0x62]),
    ),
  ]));
  assert.deepEqual(frames, [
    {
      type: T.PING,
      streamId: 0,
      ack: false,
      data: new Uint8Array(EIGHT),
    },
    { type: T.RST_STREAM, streamId: 3, errorCode: 0x1234_5678 },
    {
      type: T.GOAWAY,
      streamId: 0,
      lastStreamId: 7,
      errorCode: 0xdead,
      debugData: new Uint8Array([0x62]),
    },
  ]);
});

Deno.test("frames over the local maximum are connection FRAME_SIZE_ERRORs", () => {
  runErrorCases(
    [T.DATA, T.HEADERS, T.CONTINUATION, T.SETTINGS, 0xfa].map((type) => ({
      name: `type ${type} of 16,385 bytes`,
      frames: [f(type, 0, type === T.SETTINGS ? 0 : 1, [], 16_385)],
      scope: "connection",
      code: FRAME_SIZE,
    })),
  );
  const [frame] = framesOf(
    readEvents([f(T.DATA, 0, 1, new Uint8Array(16_384))]),
  );
  assert.equal(frame.type === T.DATA && frame.data.length, 16_384);
});
