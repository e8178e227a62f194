import assert from "node:assert/strict";
import {
  ErrorCode,
  type ErrorCodeValue,
  Flag,
  type Frame,
  FrameType as T,
  type ReadEvent,
  SettingId as S,
} from "./frame.ts";
import { isSelfDependent } from "./frame_payload.ts";
import {
  concat,
  rawFrame as f,
  readEvents,
  settingEntry,
  u32,
} from "./frame_test_helpers.ts";

const {
  PROTOCOL_ERROR: PROTOCOL,
  FRAME_SIZE_ERROR: FRAME_SIZE,
  FLOW_CONTROL_ERROR: FLOW_CONTROL,
} = ErrorCode;
const { END_STREAM, END_HEADERS, PADDED, PRIORITY, ACK } = Flag;

/** 8 bytes of PING payload. */
const EIGHT = [1, 2, 3, 4, 5, 6, 7, 8];
/** A harmless frame to prove the reader went on. */
const PING = f(T.PING, 0, 0, EIGHT);

interface ErrorCase {
  name: string;
  frames: Uint8Array[];
  scope: "connection" | "stream";
  code: ErrorCodeValue;
  /** The stream a stream error names. */
  streamId?: number;
}

/** Runs the frames and checks the last event is the expected error. */
function runErrorCases(cases: ErrorCase[]): void {
  for (const { name, frames, scope, code, streamId } of cases) {
    const events = readEvents([concat(...frames)]);
    const last = events.at(-1);
    assert.equal(last?.kind, "error", `${name}: ${JSON.stringify(events)}`);
    if (last?.kind !== "error") continue;
    assert.equal(last.error.scope, scope, `${name}: scope`);
    assert.equal(last.error.code, code, `${name}: code`);
    if (streamId !== undefined) {
      assert.equal(last.error.streamId, streamId, `${name}: stream`);
    }
    assert.equal(
      events.filter((event) => event.kind === "error").length,
      1,
      `${name}: exactly one error`,
    );
  }
}

function framesOf(events: ReadEvent[]): Frame[] {
  return events.map((event) => {
    if (event.kind !== "frame") {
      throw new Error(`unexpected error ${JSON.stringify(event.error)}`);
    }
    return event.frame;
  });
}

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
