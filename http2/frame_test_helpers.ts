/**
 * Helpers for the frame layer's tests: frames built byte by byte, apart
 * from `frame_writer.ts`, so that reader tests do not trust the writer,
 * and a loop that drains a reader.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  CLIENT_PREFACE,
  type ErrorCodeValue,
  type Frame,
  type ReadEvent,
} from "./frame.ts";
import { FrameReader, type FrameReaderOptions } from "./frame_reader.ts";

/** A frame assembled by hand: 9-byte header (reserved bit as given) + payload. */
export function rawFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: ArrayLike<number> = [],
  length: number = payload.length,
): Uint8Array {
  const bytes = new Uint8Array(9 + payload.length);
  bytes[0] = (length >>> 16) & 0xff;
  bytes[1] = (length >>> 8) & 0xff;
  bytes[2] = length & 0xff;
  bytes[3] = type;
  bytes[4] = flags;
  bytes[5] = (streamId >>> 24) & 0xff;
  bytes[6] = (streamId >>> 16) & 0xff;
  bytes[7] = (streamId >>> 8) & 0xff;
  bytes[8] = streamId & 0xff;
  bytes.set(payload, 9);
  return bytes;
}

/** `value` as four big-endian bytes. */
export function u32(value: number): number[] {
  return [
    value >>> 24,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  ];
}

/** A SETTINGS payload entry: 16-bit id, 32-bit value. */
export function settingEntry(id: number, value: number): number[] {
  return [id >>> 8, id & 0xff, ...u32(value)];
}

/** The byte strings joined. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** What a client sends first: the preface and an empty SETTINGS frame. */
export const CLIENT_START: Uint8Array = concat(
  CLIENT_PREFACE,
  rawFrame(0x4, 0, 0),
);

/**
 * Pushes each chunk in turn and drains the reader after each, returning
 * every event; stops at the first connection error.
 */
export function readEvents(
  chunks: Uint8Array[],
  options: FrameReaderOptions = { expectPreface: false },
  reader: FrameReader = new FrameReader(options),
): ReadEvent[] {
  const events: ReadEvent[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let event = reader.next(); event; event = reader.next()) {
      events.push(event);
      if (event.kind === "error" && event.error.scope === "connection") {
        return events;
      }
    }
  }
  return events;
}

/** Splits `bytes` at the given cut points (sorted, deduplicated here). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts)].filter((cut) =>
    cut > 0 && cut < bytes.length
  ).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  return chunks;
}

/** A frame sequence and the one error it must end in. */
export interface ErrorCase {
  name: string;
  frames: Uint8Array[];
  scope: "connection" | "stream";
  code: ErrorCodeValue;
  /** The stream a stream error names. */
  streamId?: number;
}

/**
 * Reads each case's frames (no preface) and checks that they end in
 * exactly one error, of the expected scope, code (and stream).
 */
export function runErrorCases(cases: ErrorCase[]): void {
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

/** The frames of `events`; throws on an error event. */
export function framesOf(events: ReadEvent[]): Frame[] {
  return events.map((event) => {
    if (event.kind !== "frame") {
      throw new Error(`unexpected error ${JSON.stringify(event.error)}`);
    }
    return event.frame;
  });
}
