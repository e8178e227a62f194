import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ErrorCode,
  Flag,
  type Frame,
  FrameType as T,
  SettingId as S,
} from "./frame.ts";
import { FrameWriter, writeDataFrameHeader } from "./frame_writer.ts";
import {
  rawFrame,
  readEvents,
  settingEntry,
  u32,
} from "./frame_test_helpers.ts";

const encoder = new TextEncoder();
const EIGHT = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

/** What the reader makes of the writer's bytes (no preface expected). */
function readBack(bytes: Uint8Array, maxFrameSize = 16_384): Frame[] {
  return readEvents([bytes], { expectPreface: false, maxFrameSize }).map(
    (event) => {
      if (event.kind === "error") {
        throw new Error(`reader refused: ${event.error.reason}`);
      }
      return event.frame;
    },
  );
}

function written(build: (w: FrameWriter) => void): Uint8Array {
  const writer = new FrameWriter();
  build(writer);
  return writer.take();
}

Deno.test("control frames serialize to the RFC's exact bytes", () => {
  const cases: [string, (w: FrameWriter) => void, Uint8Array][] = [
    ["SETTINGS ACK", (w) => w.settingsAck(), rawFrame(T.SETTINGS, Flag.ACK, 0)],
    [
      "SETTINGS",
      (w) =>
        w.settings([
          { id: S.MAX_CONCURRENT_STREAMS, value: 100 },
          { id: S.INITIAL_WINDOW_SIZE, value: 0x7fff_ffff },
        ]),
      rawFrame(T.SETTINGS, 0, 0, [
        ...settingEntry(S.MAX_CONCURRENT_STREAMS, 100),
        ...settingEntry(S.INITIAL_WINDOW_SIZE, 0x7fff_ffff),
      ]),
    ],
    [
      "PING ACK",
      (w) => w.ping(EIGHT, true),
      rawFrame(T.PING, Flag.ACK, 0, EIGHT),
    ],
    [
      "GOAWAY with debug data",
      (w) =>
        w.goaway(
          0x7fff_ffff,
          ErrorCode.ENHANCE_YOUR_CALM,
          encoder.encode("hi"),
        ),
      rawFrame(T.GOAWAY, 0, 0, [...u32(0x7fff_ffff), ...u32(0xb), 0x68, 0x69]),
    ],
    [
      "GOAWAY without debug data",
      (w) => w.goaway(0, ErrorCode.PROTOCOL_ERROR),
      rawFrame(T.GOAWAY, 0, 0, [...u32(0), ...u32(1)]),
    ],
    [
      "RST_STREAM",
      (w) => w.rstStream(0x7fff_ffff, 0xffff_ffff),
      rawFrame(T.RST_STREAM, 0, 0x7fff_ffff, u32(0xffff_ffff)),
    ],
    [
      "WINDOW_UPDATE",
      (w) => w.windowUpdate(0, 0x7fff_ffff),
      rawFrame(T.WINDOW_UPDATE, 0, 0, u32(0x7fff_ffff)),
    ],
    [
      "DATA with END_STREAM",
      (w) => w.data(3, encoder.encode("ok"), { endStream: true }),
      rawFrame(T.DATA, Flag.END_STREAM, 3, [0x6f, 0x6b]),
    ],
    [
      "padded DATA",
      (w) => w.data(3, encoder.encode("ok"), { padLength: 2 }),
      rawFrame(T.DATA, Flag.PADDED, 3, [2, 0x6f, 0x6b, 0, 0]),
    ],
    [
      "HEADERS with END_STREAM",
      (w) =>
        w.headers(1, new Uint8Array([0x88]), {
          maxFrameSize: 16_384,
          endStream: true,
        }),
      rawFrame(T.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 1, [0x88]),
    ],
    [
      "PRIORITY_UPDATE",
      (w) => w.priorityUpdate(1, "u=0"),
      rawFrame(T.PRIORITY_UPDATE, 0, 0, [...u32(1), 0x75, 0x3d, 0x30]),
    ],
  ];
  for (const [name, build, expected] of cases) {
    assert.deepEqual(written(build), expected, name);
  }
});

Deno.test("a header block over maxFrameSize goes on in CONTINUATION frames", () => {
  const block = new Uint8Array(40_000).map((_, i) => i % 251);
  const bytes = written((w) =>
    w.headers(5, block, { maxFrameSize: 16_384, endStream: true })
  );
  assert.equal(bytes.length, 40_000 + 3 * 9);
  const frames = readBack(bytes);
  assert.deepEqual(
    frames.map((
      frame,
    ) => [frame.type, "fragment" in frame && frame.fragment.length]),
    [[T.HEADERS, 16_384], [T.CONTINUATION, 16_384], [T.CONTINUATION, 7232]],
  );
  // Flags straight from the bytes: END_STREAM only on HEADERS, END_HEADERS
  // only on the last frame.
  assert.deepEqual([
    bytes[4],
    bytes[9 + 16_384 + 4],
    bytes[2 * (9 + 16_384) + 4],
  ], [
    Flag.END_STREAM,
    0,
    Flag.END_HEADERS,
  ]);
  const joined = frames.flatMap((frame) =>
    "fragment" in frame ? [...frame.fragment] : []
  );
  assert.deepEqual(new Uint8Array(joined), block);
  // Exactly maxFrameSize fits in one frame; an empty block is one frame too.
  assert.equal(
    readBack(
      written((w) =>
        w.headers(1, block.subarray(0, 16_384), { maxFrameSize: 16_384 })
      ),
    ).length,
    1,
  );
  assert.deepEqual(
    written((w) => w.headers(1, new Uint8Array(0), { maxFrameSize: 16_384 })),
    rawFrame(T.HEADERS, Flag.END_HEADERS, 1),
  );
});

Deno.test("field block cuts: every frame within maxFrameSize, bytes intact (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 7, max: 64 }),
      fc.option(fc.integer({ min: 0, max: 1 }), { nil: undefined }),
      fc.boolean(),
      (block, maxFrameSize, padLength, withPriority) => {
        const priority = withPriority
          ? { exclusive: false, dependency: 0, weight: 16 }
          : undefined;
        const bytes = written((w) =>
          w.headers(9, block, { maxFrameSize, padLength, priority })
        );
        const frames = readBack(bytes);
        let offset = 0;
        let joined: number[] = [];
        frames.forEach((frame, i) => {
          const length = (bytes[offset] << 16) | (bytes[offset + 1] << 8) |
            bytes[offset + 2];
          assert.ok(length <= maxFrameSize);
          offset += 9 + length;
          assert.equal(frame.type, i === 0 ? T.HEADERS : T.CONTINUATION);
          if (frame.type !== T.HEADERS && frame.type !== T.CONTINUATION) return;
          assert.equal(frame.endHeaders, i === frames.length - 1);
          joined = joined.concat([...frame.fragment]);
        });
        assert.deepEqual(new Uint8Array(joined), block);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("every frame type round-trips through the reader", () => {
  const block = encoder.encode("x".repeat(50));
  const priority = { exclusive: true, dependency: 7, weight: 256 };
  const cases: [string, (w: FrameWriter) => void, Frame[]][] = [
    ["DATA", (w) => w.data(1, block, { endStream: true }), [
      { type: T.DATA, streamId: 1, endStream: true, data: block, length: 50 },
    ]],
    ["padded DATA", (w) => w.data(1, block, { padLength: 255 }), [
      { type: T.DATA, streamId: 1, endStream: false, data: block, length: 306 },
    ]],
    [
      "HEADERS with priority and padding",
      (w) =>
        w.headers(3, block, { maxFrameSize: 16_384, priority, padLength: 10 }),
      [{
        type: T.HEADERS,
        streamId: 3,
        endStream: false,
        endHeaders: true,
        priority,
        fragment: block,
      }],
    ],
    [
      "HEADERS and CONTINUATION",
      (w) => w.headers(3, block, { maxFrameSize: 30, endStream: true }),
      [
        {
          type: T.HEADERS,
          streamId: 3,
          endStream: true,
          endHeaders: false,
          priority: null,
          fragment: block.subarray(0, 30),
        },
        {
          type: T.CONTINUATION,
          streamId: 3,
          endHeaders: true,
          fragment: block.subarray(30),
        },
      ],
    ],
    [
      "CONTINUATION by hand",
      (w) => w.frame(T.HEADERS, 0, 3, block).continuation(3, block, true),
      [{
        type: T.HEADERS,
        streamId: 3,
        endStream: false,
        endHeaders: false,
        priority: null,
        fragment: block,
      }, {
        type: T.CONTINUATION,
        streamId: 3,
        endHeaders: true,
        fragment: block,
      }],
    ],
    [
      "PRIORITY",
      (w) => w.priority(5, { exclusive: false, dependency: 3, weight: 1 }),
      [
        {
          type: T.PRIORITY,
          streamId: 5,
          priority: { exclusive: false, dependency: 3, weight: 1 },
        },
      ],
    ],
    ["RST_STREAM", (w) => w.rstStream(5, ErrorCode.REFUSED_STREAM), [
      { type: T.RST_STREAM, streamId: 5, errorCode: ErrorCode.REFUSED_STREAM },
    ]],
    [
      "SETTINGS",
      (w) =>
        w.settings([{ id: S.MAX_FRAME_SIZE, value: 16_777_215 }, {
          id: S.ENABLE_PUSH,
          value: 0,
        }]),
      [
        {
          type: T.SETTINGS,
          streamId: 0,
          ack: false,
          settings: [{ id: S.MAX_FRAME_SIZE, value: 16_777_215 }, {
            id: S.ENABLE_PUSH,
            value: 0,
          }],
        },
      ],
    ],
    ["SETTINGS ACK", (w) => w.settingsAck(), [{
      type: T.SETTINGS,
      streamId: 0,
      ack: true,
      settings: [],
    }]],
    [
      "PUSH_PROMISE",
      (w) => w.pushPromise(1, 2, block, { maxFrameSize: 16_384, padLength: 4 }),
      [
        {
          type: T.PUSH_PROMISE,
          streamId: 1,
          endHeaders: true,
          promisedStreamId: 2,
          fragment: block,
        },
      ],
    ],
    [
      "PUSH_PROMISE and CONTINUATION",
      (w) => w.pushPromise(1, 4, block, { maxFrameSize: 20 }),
      [
        {
          type: T.PUSH_PROMISE,
          streamId: 1,
          endHeaders: false,
          promisedStreamId: 4,
          fragment: block.subarray(0, 16),
        },
        {
          type: T.CONTINUATION,
          streamId: 1,
          endHeaders: false,
          fragment: block.subarray(16, 36),
        },
        {
          type: T.CONTINUATION,
          streamId: 1,
          endHeaders: true,
          fragment: block.subarray(36),
        },
      ],
    ],
    ["PING", (w) => w.ping(EIGHT), [{
      type: T.PING,
      streamId: 0,
      ack: false,
      data: EIGHT,
    }]],
    ["PING ACK", (w) => w.ping(EIGHT, true), [{
      type: T.PING,
      streamId: 0,
      ack: true,
      data: EIGHT,
    }]],
    ["GOAWAY", (w) => w.goaway(9, 0xffff_ffff, block), [
      {
        type: T.GOAWAY,
        streamId: 0,
        lastStreamId: 9,
        errorCode: 0xffff_ffff,
        debugData: block,
      },
    ]],
    [
      "WINDOW_UPDATE",
      (w) => w.windowUpdate(0, 1).windowUpdate(11, 0x7fff_ffff),
      [
        { type: T.WINDOW_UPDATE, streamId: 0, increment: 1 },
        { type: T.WINDOW_UPDATE, streamId: 11, increment: 0x7fff_ffff },
      ],
    ],
    ["PRIORITY_UPDATE", (w) => w.priorityUpdate(0x7fff_ffff, "u=7, i"), [
      {
        type: T.PRIORITY_UPDATE,
        streamId: 0,
        prioritizedStreamId: 0x7fff_ffff,
        fieldValue: "u=7, i",
      },
    ]],
  ];
  for (const [name, build, expected] of cases) {
    const frames = readBack(written(build));
    assert.deepEqual(frames, expected, name);
  }
});

Deno.test("take() hands the batch over and later frames do not touch it", () => {
  const writer = new FrameWriter(16);
  for (let i = 1; i <= 1000; i++) writer.windowUpdate(i, i);
  assert.equal(writer.length, 13_000);
  const batch = writer.take();
  assert.equal(batch.length, 13_000);
  // One buffer, grown by doubling: no allocation per frame or per byte.
  assert.ok(batch.buffer.byteLength < 2 * 13_000);
  const copy = batch.slice();
  writer.settingsAck().windowUpdate(1, 5);
  assert.deepEqual(batch, copy);
  assert.equal(writer.take().length, 22);
  assert.equal(writer.take().length, 0);
  const frames = readBack(batch);
  assert.deepEqual(frames[999], {
    type: T.WINDOW_UPDATE,
    streamId: 1000,
    increment: 1000,
  });
});

Deno.test("writeDataFrameHeader frames a payload already in place", () => {
  const buffer = new Uint8Array(9 + 16_384);
  const payload = buffer.subarray(9);
  payload.fill(0x5a);
  assert.equal(writeDataFrameHeader(buffer, 0, 7, payload.length, true), 9);
  assert.deepEqual(readBack(buffer), [{
    type: T.DATA,
    streamId: 7,
    endStream: true,
    data: new Uint8Array(16_384).fill(0x5a),
    length: 16_384,
  }]);
  assert.throws(() => writeDataFrameHeader(buffer, 0, 0, 1, false), RangeError);
  assert.throws(
    () => writeDataFrameHeader(buffer, 0, 1, 2 ** 24, false),
    RangeError,
  );
});

Deno.test("the writer refuses what no valid frame could carry", () => {
  const w = new FrameWriter();
  const refusals: [string, () => unknown][] = [
    ["PING of 7 bytes", () => w.ping(new Uint8Array(7))],
    ["WINDOW_UPDATE of 0", () => w.windowUpdate(1, 0)],
    ["WINDOW_UPDATE of 2^31", () => w.windowUpdate(0, 2 ** 31)],
    ["RST_STREAM on stream 0", () => w.rstStream(0, 0)],
    ["DATA on stream 0", () => w.data(0, EIGHT)],
    [
      "HEADERS on stream 2^31",
      () => w.headers(2 ** 31, EIGHT, { maxFrameSize: 16_384 }),
    ],
    [
      "HEADERS with maxFrameSize 0",
      () => w.headers(1, EIGHT, { maxFrameSize: 0 }),
    ],
    ["pad length 256", () => w.data(1, EIGHT, { padLength: 256 })],
    [
      "weight 0",
      () => w.priority(1, { exclusive: false, dependency: 0, weight: 0 }),
    ],
    ["non-ASCII priority", () => w.priorityUpdate(1, "u=é")],
    ["setting value 2^32", () => w.settings([{ id: 1, value: 2 ** 32 }])],
    ["DATA over 2^24-1", () => w.data(1, new Uint8Array(2 ** 24))],
  ];
  for (const [name, refuse] of refusals) {
    assert.throws(refuse, RangeError, name);
  }
  // A refused frame leaves nothing half-written behind.
  assert.equal(w.length, 0);
});
