import assert from "node:assert/strict";
import {
  ErrorCode,
  type ErrorCodeValue,
  Flag,
  FrameType as T,
  SettingId as S,
} from "./frame.ts";
import { isSelfDependent } from "./frame_payload.ts";
import {
  concat,
  type ErrorCase,
  framesOf,
  rawFrame as f,
  readEvents,
  runErrorCases,
  settingEntry,
  u32,
} from "./frame_test_helpers.ts";

const {
  PROTOCOL_ERROR: PROTOCOL,
  FRAME_SIZE_ERROR: FRAME_SIZE,
  FLOW_CONTROL_ERROR: FLOW_CONTROL,
} = ErrorCode;
const { END_STREAM, END_HEADERS, PADDED, PRIORITY } = Flag;

Deno.test("padding longer than what remains is a connection PROTOCOL_ERROR", () => {
  runErrorCases([
    {
      name: "DATA pad length equal to the payload length",
      frames: [f(T.DATA, PADDED, 1, [4, 9, 9, 9])],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "DATA pad length above the payload length",
      frames: [f(T.DATA, PADDED, 1, [200, 0])],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "DATA PADDED without a pad length byte",
      frames: [f(T.DATA, PADDED, 1, [])],
      scope: "connection",
      code: FRAME_SIZE,
    },
    {
      name: "HEADERS pad length equal to the payload length",
      frames: [f(T.HEADERS, PADDED | END_HEADERS, 1, [3, 0x82, 0])],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "HEADERS padding that eats the priority fields",
      frames: [
        f(T.HEADERS, PADDED | PRIORITY | END_HEADERS, 1, [
          2,
          0,
          0,
          0,
          0,
          15,
          0x82,
        ]),
      ],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "HEADERS with PRIORITY shorter than 5 bytes",
      frames: [f(T.HEADERS, PRIORITY | END_HEADERS, 1, [0, 0, 0, 0])],
      scope: "connection",
      code: FRAME_SIZE,
    },
    {
      name: "PUSH_PROMISE pad length past the promised stream id",
      frames: [f(T.PUSH_PROMISE, PADDED | END_HEADERS, 1, [1, ...u32(2)])],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "PUSH_PROMISE shorter than a promised stream id",
      frames: [f(T.PUSH_PROMISE, END_HEADERS, 1, [0, 0, 2])],
      scope: "connection",
      code: FRAME_SIZE,
    },
  ]);
});

Deno.test("padding that exactly fills the payload is accepted and counted", () => {
  const frames = framesOf(readEvents([
    concat(
      f(T.DATA, PADDED | END_STREAM, 1, [3, 0, 0, 0]),
      f(T.HEADERS, PADDED | PRIORITY | END_HEADERS, 3, [
        1,
        0x80,
        0,
        0,
        1,
        255,
        0,
      ]),
    ),
  ]));
  assert.deepEqual(frames, [
    {
      type: T.DATA,
      streamId: 1,
      endStream: true,
      data: new Uint8Array(0),
      length: 4,
    },
    {
      type: T.HEADERS,
      streamId: 3,
      endStream: false,
      endHeaders: true,
      priority: { exclusive: true, dependency: 1, weight: 256 },
      fragment: new Uint8Array(0),
    },
  ]);
});

Deno.test("SETTINGS values out of range are connection errors", () => {
  const bad = (
    name: string,
    id: number,
    value: number,
    code: ErrorCodeValue,
  ): ErrorCase => ({
    name,
    frames: [f(T.SETTINGS, 0, 0, settingEntry(id, value))],
    scope: "connection",
    code,
  });
  runErrorCases([
    bad("ENABLE_PUSH 2", S.ENABLE_PUSH, 2, PROTOCOL),
    bad("ENABLE_PUSH 2^32-1", S.ENABLE_PUSH, 0xffff_ffff, PROTOCOL),
    bad(
      "INITIAL_WINDOW_SIZE 2^31",
      S.INITIAL_WINDOW_SIZE,
      2 ** 31,
      FLOW_CONTROL,
    ),
    bad(
      "INITIAL_WINDOW_SIZE 2^32-1",
      S.INITIAL_WINDOW_SIZE,
      0xffff_ffff,
      FLOW_CONTROL,
    ),
    bad("MAX_FRAME_SIZE 2^14-1", S.MAX_FRAME_SIZE, 16_383, PROTOCOL),
    bad("MAX_FRAME_SIZE 0", S.MAX_FRAME_SIZE, 0, PROTOCOL),
    bad("MAX_FRAME_SIZE 2^24", S.MAX_FRAME_SIZE, 16_777_216, PROTOCOL),
    bad("ENABLE_CONNECT_PROTOCOL 2", S.ENABLE_CONNECT_PROTOCOL, 2, PROTOCOL),
    bad("NO_RFC7540_PRIORITIES 2", S.NO_RFC7540_PRIORITIES, 2, PROTOCOL),
    {
      name: "a bad value after good ones",
      frames: [
        f(T.SETTINGS, 0, 0, [
          ...settingEntry(S.HEADER_TABLE_SIZE, 0),
          ...settingEntry(S.MAX_FRAME_SIZE, 100),
        ]),
      ],
      scope: "connection",
      code: PROTOCOL,
    },
  ]);
});

Deno.test("SETTINGS at their limits are kept in order, unknown ids dropped", () => {
  const [frame] = framesOf(readEvents([
    f(T.SETTINGS, 0, 0, [
      ...settingEntry(S.ENABLE_PUSH, 0),
      ...settingEntry(0x7, 99),
      ...settingEntry(S.INITIAL_WINDOW_SIZE, 2 ** 31 - 1),
      ...settingEntry(S.MAX_FRAME_SIZE, 16_384),
      ...settingEntry(0xffff, 0xffff_ffff),
      ...settingEntry(S.MAX_FRAME_SIZE, 16_777_215),
      ...settingEntry(S.ENABLE_PUSH, 1),
      ...settingEntry(S.HEADER_TABLE_SIZE, 0xffff_ffff),
      ...settingEntry(S.NO_RFC7540_PRIORITIES, 1),
    ]),
  ]));
  assert.deepEqual(frame, {
    type: T.SETTINGS,
    streamId: 0,
    ack: false,
    settings: [
      { id: S.ENABLE_PUSH, value: 0 },
      { id: S.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 },
      { id: S.MAX_FRAME_SIZE, value: 16_384 },
      { id: S.MAX_FRAME_SIZE, value: 16_777_215 },
      { id: S.ENABLE_PUSH, value: 1 },
      { id: S.HEADER_TABLE_SIZE, value: 0xffff_ffff },
      { id: S.NO_RFC7540_PRIORITIES, value: 1 },
    ],
  });
});

Deno.test("WINDOW_UPDATE increment 0 is a stream error on a stream, else connection", () => {
  runErrorCases([
    {
      name: "increment 0 on stream 0",
      frames: [f(T.WINDOW_UPDATE, 0, 0, u32(0))],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "increment 0 with the reserved bit on stream 0",
      frames: [f(T.WINDOW_UPDATE, 0, 0, u32(0x8000_0000))],
      scope: "connection",
      code: PROTOCOL,
    },
    {
      name: "increment 0 on stream 7",
      frames: [f(T.WINDOW_UPDATE, 0, 7, u32(0))],
      scope: "stream",
      code: PROTOCOL,
      streamId: 7,
    },
  ]);
  const frames = framesOf(readEvents([
    concat(
      f(T.WINDOW_UPDATE, 0, 0, u32(0x8000_0001)),
      f(T.WINDOW_UPDATE, 0, 3, u32(0xffff_ffff)),
    ),
  ]));
  assert.deepEqual(frames, [
    { type: T.WINDOW_UPDATE, streamId: 0, increment: 1 },
    { type: T.WINDOW_UPDATE, streamId: 3, increment: 2 ** 31 - 1 },
  ]);
});

Deno.test("a PRIORITY frame depending on itself is a stream PROTOCOL_ERROR", () => {
  runErrorCases([{
    name: "PRIORITY on 3 depending on 3",
    frames: [f(T.PRIORITY, 0, 3, [...u32(3), 15])],
    scope: "stream",
    code: PROTOCOL,
    streamId: 3,
  }, {
    name: "exclusive PRIORITY on 3 depending on 3",
    frames: [f(T.PRIORITY, 0, 3, [...u32(0x8000_0003), 15])],
    scope: "stream",
    code: PROTOCOL,
    streamId: 3,
  }]);
});

Deno.test("a self-dependent HEADERS is delivered, for the connection to reset", () => {
  // Its field block must still reach HPACK, so the reader cannot drop it.
  const [frame] = framesOf(readEvents([
    f(T.HEADERS, PRIORITY | END_HEADERS, 5, [...u32(5), 0, 0x82]),
  ]));
  assert.equal(frame.type, T.HEADERS);
  if (frame.type !== T.HEADERS) return;
  assert.deepEqual(frame.priority, {
    exclusive: false,
    dependency: 5,
    weight: 1,
  });
  assert.equal(isSelfDependent(frame.streamId, frame.priority), true);
  assert.equal(
    isSelfDependent(5, { ...frame.priority!, dependency: 3 }),
    false,
  );
  assert.equal(isSelfDependent(5, null), false);
});

Deno.test("PRIORITY_UPDATE: stream 0 only, a non-zero prioritized stream", () => {
  runErrorCases([{
    name: "prioritized stream 0",
    frames: [f(T.PRIORITY_UPDATE, 0, 0, [...u32(0), 0x75, 0x3d, 0x31])],
    scope: "connection",
    code: PROTOCOL,
  }]);
  const [frame] = framesOf(readEvents([
    f(T.PRIORITY_UPDATE, 0, 0, [...u32(0x8000_0005), 0x75, 0x3d, 0x31]),
  ]));
  assert.deepEqual(frame, {
    type: T.PRIORITY_UPDATE,
    streamId: 0,
    prioritizedStreamId: 5,
    fieldValue: "u=1",
  });
});
