import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FrameType as T,
  type ReadEvent,
} from "./frame.ts";
import { FrameReader } from "./frame_reader.ts";
import { FrameWriter } from "./frame_writer.ts";
import {
  CLIENT_START,
  concat,
  rawFrame as f,
  readEvents,
  splitAt,
} from "./frame_test_helpers.ts";

const encoder = new TextEncoder();
const EIGHT = [1, 2, 3, 4, 5, 6, 7, 8];

/** Bytes of one of every frame type a client may send, and then some. */
function sampleConversation(): Uint8Array {
  const w = new FrameWriter();
  w.settings([{ id: 4, value: 1_000_000 }, { id: 2, value: 0 }])
    .settingsAck()
    .windowUpdate(0, 983_041)
    .headers(1, encoder.encode("a field block long enough to split"), {
      maxFrameSize: 7,
      priority: { exclusive: true, dependency: 0, weight: 42 },
    })
    .data(1, encoder.encode("body"), { padLength: 9 })
    .data(1, new Uint8Array(0), { endStream: true })
    .priority(3, { exclusive: false, dependency: 1, weight: 16 })
    .headers(3, encoder.encode("block"), { maxFrameSize: 16_384, padLength: 3 })
    .rstStream(3, ErrorCode.CANCEL)
    .ping(new Uint8Array(EIGHT))
    .priorityUpdate(5, "u=2, i")
    .frame(0xee, 0xff, 9, new Uint8Array(20))
    .goaway(5, ErrorCode.NO_ERROR, encoder.encode("bye"));
  return concat(CLIENT_START, w.take());
}

function serverReader(): FrameReader {
  return new FrameReader();
}

Deno.test("the client preface and SETTINGS are accepted, then frames flow", () => {
  const events = readEvents(
    [concat(CLIENT_START, f(T.PING, 0, 0, EIGHT))],
    {},
  );
  assert.deepEqual(events.map((e) => e.kind === "frame" && e.frame.type), [
    T.SETTINGS,
    T.PING,
  ]);
});

Deno.test("a wrong preface is refused at its first wrong byte", () => {
  const cases: [string, Uint8Array][] = [
    ["an HTTP/1.1 request", encoder.encode("GET / HTTP/1.1\r\n\r\n")],
    ["HTTP/2.1 in the preface", encoder.encode("PRI * HTTP/2.1\r\n")],
    ["the preface without its last LF", CLIENT_PREFACE.slice(0, 23)],
    ["a TLS ClientHello", new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00])],
  ];
  cases[2][1] = concat(cases[2][1], new Uint8Array([0x0d]));
  for (const [name, bytes] of cases) {
    const reader = serverReader();
    const events = readEvents([bytes], {}, reader);
    assert.equal(events.length, 1, name);
    assert.deepEqual(
      events[0].kind === "error" &&
        [events[0].error.scope, events[0].error.code],
      ["connection", ErrorCode.PROTOCOL_ERROR],
      name,
    );
    // The error sticks and further input is ignored.
    reader.push(CLIENT_START);
    assert.deepEqual(reader.next(), events[0], name);
    assert.equal(reader.bufferedBytes, 0, name);
  }
  // A prefix of the preface is just incomplete.
  const reader = serverReader();
  reader.push(CLIENT_PREFACE.slice(0, 23));
  assert.equal(reader.next(), null);
  reader.push(CLIENT_PREFACE.slice(23));
  assert.equal(reader.next(), null);
  assert.equal(reader.failure, null);
});

Deno.test("the preface must be followed by a SETTINGS frame, not an ACK", () => {
  for (
    const [name, first] of [
      ["PING", f(T.PING, 0, 0, EIGHT)],
      ["SETTINGS ACK", f(T.SETTINGS, Flag.ACK, 0)],
      ["HEADERS", f(T.HEADERS, Flag.END_HEADERS, 1, [0x82])],
      ["unknown type", f(0xfa, 0, 0)],
    ] as const
  ) {
    const events = readEvents([concat(CLIENT_PREFACE, first)], {});
    assert.deepEqual(
      events.map((e) => e.kind === "error" && e.error.code),
      [ErrorCode.PROTOCOL_ERROR],
      name,
    );
  }
});

Deno.test("an oversized frame is refused from its header, before its payload", () => {
  const reader = serverReader();
  reader.push(CLIENT_START);
  assert.equal(reader.next()?.kind, "frame");
  // Only the 9 header bytes of a 16 MiB DATA frame have arrived.
  reader.push(f(T.DATA, 0, 1, [], 16_777_215));
  const event = reader.next();
  assert.deepEqual(
    event?.kind === "error" && [event.error.scope, event.error.code],
    ["connection", ErrorCode.FRAME_SIZE_ERROR],
  );
  reader.push(new Uint8Array(100_000));
  assert.deepEqual(reader.next(), event);
  assert.equal(reader.bufferedBytes, 0);
});

Deno.test("a raised maxFrameSize admits larger frames; bounds are enforced", () => {
  const big = f(T.DATA, Flag.END_STREAM, 1, new Uint8Array(20_000).fill(7));
  const refused = readEvents([big]);
  assert.equal(
    refused[0].kind === "error" && refused[0].error.code,
    ErrorCode.FRAME_SIZE_ERROR,
  );
  const reader = new FrameReader({ expectPreface: false });
  reader.maxFrameSize = 20_000;
  const [event] = readEvents([big.slice(0, 5000), big.slice(5000)], {}, reader);
  assert.equal(
    event.kind === "frame" && event.frame.type === T.DATA &&
      event.frame.data.length,
    20_000,
  );
  for (const bad of [16_383, 16_777_216, 20_000.5, NaN]) {
    assert.throws(() => reader.maxFrameSize = bad, RangeError, `${bad}`);
    assert.throws(() => new FrameReader({ maxFrameSize: bad }), RangeError);
  }
  assert.equal(reader.maxFrameSize, 20_000);
});

Deno.test("a partial frame is held only as far as its bytes have arrived", () => {
  // A header claiming a megabyte must not make the reader hold one.
  const reader = new FrameReader({
    expectPreface: false,
    maxFrameSize: 1_000_000,
  });
  const frame = f(T.DATA, 0, 1, new Uint8Array(1_000_000).fill(1));
  reader.push(frame.subarray(0, 4));
  assert.equal(reader.next(), null);
  assert.equal(reader.bufferedBytes, 4);
  reader.push(frame.subarray(4, 109));
  assert.equal(reader.next(), null);
  assert.ok(reader.bufferedBytes <= 4096, `${reader.bufferedBytes}`);
  reader.push(frame.subarray(109, 9 + 10_000));
  assert.equal(reader.next(), null);
  const held = reader.bufferedBytes;
  assert.ok(held >= 10_000 && held <= 20_000, `${held}`);
  reader.push(frame.subarray(9 + 10_000));
  const event = reader.next();
  assert.equal(event?.kind === "frame" && event.frame.type, T.DATA);
  assert.deepEqual(
    event?.kind === "frame" && event.frame.type === T.DATA &&
      event.frame.data,
    frame.subarray(9),
  );
  assert.equal(reader.bufferedBytes, 0);
  // Unknown types and frames reset by a stream error are skipped unbuffered.
  for (
    const skipped of [
      f(0xfa, 0, 1, new Uint8Array(16_384)),
      f(T.PRIORITY, 0, 1, new Uint8Array(16_000)),
    ]
  ) {
    reader.push(skipped.subarray(0, 9));
    const first = reader.next();
    for (let at = 9; at < skipped.length; at += 1000) {
      reader.push(skipped.subarray(at, at + 1000));
      assert.equal(reader.next(), null);
      assert.equal(reader.bufferedBytes, 0);
    }
    assert.equal(first === null || first.kind === "error", true);
  }
  reader.push(f(T.PING, 0, 0, EIGHT));
  assert.equal(reader.next()?.kind, "frame");
});

Deno.test("payload views stay valid while later frames are read", () => {
  const first = f(T.DATA, 0, 1, new Uint8Array(50).fill(0xaa));
  const second = f(T.DATA, 0, 1, new Uint8Array(50).fill(0xbb));
  const bytes = concat(first, second);
  const reader = new FrameReader({ expectPreface: false });
  // Both frames straddle a push boundary, so both use the partial buffer.
  const events = readEvents(
    [bytes.slice(0, 30), bytes.slice(30, 80), bytes.slice(80)],
    {},
    reader,
  );
  assert.equal(events.length, 2);
  for (const [event, fill] of [[events[0], 0xaa], [events[1], 0xbb]] as const) {
    assert.equal(event.kind === "frame" && event.frame.type === T.DATA, true);
    if (event.kind === "frame" && event.frame.type === T.DATA) {
      assert.deepEqual(event.frame.data, new Uint8Array(50).fill(fill));
    }
  }
});

Deno.test("push() before next() has drained the input is a caller bug", () => {
  const reader = new FrameReader({ expectPreface: false });
  reader.push(concat(f(T.PING, 0, 0, EIGHT), f(T.PING, 0, 0, EIGHT)));
  assert.equal(reader.next()?.kind, "frame");
  assert.throws(() => reader.push(new Uint8Array(1)), Error);
});

Deno.test("one byte at a time gives the same events as one chunk", () => {
  const bytes = sampleConversation();
  const whole = readEvents([bytes], {});
  assert.equal(whole.length, 18);
  assert.equal(whole.every((e) => e.kind === "frame"), true);
  const bytewise = readEvents(splitAt(bytes, [...bytes.keys()]), {});
  assert.deepEqual(bytewise, whole);
});

Deno.test("random splits give the same events (fast-check)", () => {
  const bytes = sampleConversation();
  const whole = readEvents([bytes], {});
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), {
        maxLength: 40,
      }),
      (cuts) => {
        assert.deepEqual(readEvents(splitAt(bytes, cuts), {}), whole);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("random byte soup reads the same in any split (fast-check)", () => {
  // Errors included: where and how the reader stops must not depend on
  // how the bytes arrived.
  const frameArb = fc.record({
    type: fc.oneof(
      fc.integer({ min: 0, max: 10 }),
      fc.constant(0x10),
      fc.integer({ min: 0, max: 255 }),
    ),
    flags: fc.integer({ min: 0, max: 255 }),
    streamId: fc.oneof(
      fc.constantFrom(0, 1, 3, 0x8000_0001),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    ),
    payload: fc.uint8Array({ maxLength: 40 }),
  });
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, rawCuts) => {
        const bytes = concat(
          CLIENT_START,
          ...frames.map(({ type, flags, streamId, payload }) =>
            f(type, flags, streamId, payload)
          ),
        );
        const cuts = rawCuts.map((cut) => cut % bytes.length);
        const whole: ReadEvent[] = readEvents([bytes], {});
        assert.deepEqual(readEvents(splitAt(bytes, cuts), {}), whole);
      },
    ),
    { numRuns: 400 },
  );
});
