/**
 * Serializes HTTP/2 frames (RFC 9113 §4.1, §6; RFC 9218 §7.1). No I/O:
 * frames in, bytes out.
 *
 * {@linkcode FrameWriter} appends frames to one growing buffer and hands
 * them over together ({@linkcode FrameWriter.take}), so a burst of small
 * frames (SETTINGS ACK, WINDOW_UPDATEs, a response's HEADERS) costs one
 * allocation and one socket write rather than one per frame.
 * {@linkcode writeDataFrameHeader} instead puts a DATA frame header in
 * front of a payload that already sits in the caller's buffer, so file
 * bytes read into place are never copied again.
 *
 * The writer checks what it can know — field widths, fixed lengths, a
 * header block split to `maxFrameSize` — and throws a RangeError on a
 * caller's mistake. Flow control, stream states and the peer's
 * SETTINGS_MAX_FRAME_SIZE for DATA are the caller's to respect.
 *
 * @module
 */

import {
  assertPrioritySignal,
  assertStreamId,
  assertUint,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  type PrioritySignal,
  type Setting,
  STREAM_ID_MASK,
  writeFrameHeader,
  writeUint32,
} from "./frame.ts";

export { writeDataFrameHeader } from "./frame.ts";

/** How a header block is cut into HEADERS (or PUSH_PROMISE) + CONTINUATION. */
export interface FieldBlockOptions {
  /**
   * No frame's payload exceeds this: the peer's SETTINGS_MAX_FRAME_SIZE,
   * or less.
   */
  maxFrameSize: number;
  /** Padding bytes on the first frame (0..255); none when absent. */
  padLength?: number;
}

/** Options of {@linkcode FrameWriter.headers}. */
export interface HeadersOptions extends FieldBlockOptions {
  /** Set END_STREAM: no DATA follows on this stream. */
  endStream?: boolean;
  /** A priority signal (PRIORITY flag); servers have no use for it. */
  priority?: PrioritySignal;
}

/** Options of {@linkcode FrameWriter.data}. */
export interface DataOptions {
  /** Set END_STREAM: the last frame of the stream. */
  endStream?: boolean;
  /** Padding bytes (0..255); none when absent. */
  padLength?: number;
}

/** Initial capacity of a fresh batch buffer. */
const DEFAULT_CAPACITY = 1024;

const EMPTY = new Uint8Array(0);

/** Appends frames to one buffer; {@linkcode take} hands the bytes over. */
export class FrameWriter {
  #buffer: Uint8Array | null = null;
  #length = 0;
  #initialCapacity: number;

  /** A writer whose batch buffers start at `initialCapacity` bytes. */
  constructor(initialCapacity: number = DEFAULT_CAPACITY) {
    this.#initialCapacity = Math.max(FRAME_HEADER_SIZE, initialCapacity);
  }

  /** Bytes written since the last {@linkcode take}. */
  get length(): number {
    return this.#length;
  }

  /**
   * The bytes written since the last call, as a buffer the caller now
   * owns: the writer never touches it again and starts a new one.
   */
  take(): Uint8Array {
    const bytes = this.#buffer?.subarray(0, this.#length) ?? EMPTY;
    this.#buffer = null;
    this.#length = 0;
    return bytes;
  }

  /**
   * Drops what was written after the first `length` bytes (frames that
   * would pass a caller's bound), keeping the buffer.
   */
  truncate(length: number): void {
    if (length < 0 || length > this.#length) {
      throw new RangeError(
        `cannot truncate ${this.#length} bytes to ${length}`,
      );
    }
    this.#length = length;
  }

  /** A SETTINGS frame announcing `settings`, in order. */
  settings(settings: readonly Setting[]): this {
    for (const { id, value } of settings) {
      assertUint(id, 0xffff, "setting identifier");
      assertUint(value, 0xffff_ffff, "setting value");
    }
    let offset = this.#frame(
      FrameType.SETTINGS,
      0,
      0,
      settings.length * 6,
    );
    const buffer = this.#buffer!;
    for (const { id, value } of settings) {
      buffer[offset] = id >>> 8;
      buffer[offset + 1] = id;
      offset = writeUint32(buffer, offset + 2, value);
    }
    return this;
  }

  /** The empty SETTINGS frame with ACK that acknowledges the peer's. */
  settingsAck(): this {
    this.#frame(FrameType.SETTINGS, Flag.ACK, 0, 0);
    return this;
  }

  /** A PING with its 8 opaque bytes; `ack` answers the peer's PING. */
  ping(data: Uint8Array, ack = false): this {
    if (data.length !== 8) {
      throw new RangeError(`PING data is 8 bytes, not ${data.length}`);
    }
    const offset = this.#frame(FrameType.PING, ack ? Flag.ACK : 0, 0, 8);
    this.#buffer!.set(data, offset);
    return this;
  }

  /** A GOAWAY: the last stream processed, the code, optional debug bytes. */
  goaway(lastStreamId: number, errorCode: number, debugData = EMPTY): this {
    assertUint(lastStreamId, STREAM_ID_MASK, "last stream id");
    assertUint(errorCode, 0xffff_ffff, "error code");
    let offset = this.#frame(FrameType.GOAWAY, 0, 0, 8 + debugData.length);
    const buffer = this.#buffer!;
    offset = writeUint32(buffer, offset, lastStreamId);
    offset = writeUint32(buffer, offset, errorCode);
    buffer.set(debugData, offset);
    return this;
  }

  /** A RST_STREAM ending `streamId` with `errorCode`. */
  rstStream(streamId: number, errorCode: number): this {
    assertUint(errorCode, 0xffff_ffff, "error code");
    const offset = this.#frame(
      FrameType.RST_STREAM,
      0,
      assertStreamId(streamId),
      4,
    );
    writeUint32(this.#buffer!, offset, errorCode);
    return this;
  }

  /** A WINDOW_UPDATE on `streamId` (0: the connection), 1..2^31−1. */
  windowUpdate(streamId: number, increment: number): this {
    assertUint(streamId, STREAM_ID_MASK, "stream id");
    if (!Number.isInteger(increment) || increment < 1) {
      throw new RangeError(`window increment ${increment} is not 1..2^31-1`);
    }
    assertUint(increment, MAX_WINDOW_SIZE, "window increment");
    const offset = this.#frame(FrameType.WINDOW_UPDATE, 0, streamId, 4);
    writeUint32(this.#buffer!, offset, increment);
    return this;
  }

  /**
   * A header block as one HEADERS frame, followed by as many CONTINUATION
   * frames as `options.maxFrameSize` requires; the last frame carries
   * END_HEADERS, the HEADERS frame END_STREAM when asked.
   */
  headers(streamId: number, block: Uint8Array, options: HeadersOptions): this {
    const { priority } = options;
    if (priority) assertPrioritySignal(priority);
    let flags = options.endStream ? Flag.END_STREAM : 0;
    let fixed = 0;
    if (priority) {
      flags |= Flag.PRIORITY;
      fixed = 5;
    }
    const offset = this.#fieldBlock(
      FrameType.HEADERS,
      flags,
      assertStreamId(streamId),
      fixed,
      block,
      options,
    );
    if (priority) writePriority(this.#buffer!, offset, priority);
    return this;
  }

  /** A PUSH_PROMISE and its CONTINUATIONs, cut as {@linkcode headers}. */
  pushPromise(
    streamId: number,
    promisedStreamId: number,
    block: Uint8Array,
    options: FieldBlockOptions,
  ): this {
    const offset = this.#fieldBlock(
      FrameType.PUSH_PROMISE,
      0,
      assertStreamId(streamId),
      4,
      block,
      options,
    );
    writeUint32(this.#buffer!, offset, assertStreamId(promisedStreamId));
    return this;
  }

  /** One CONTINUATION frame, for callers that cut field blocks themselves. */
  continuation(
    streamId: number,
    fragment: Uint8Array,
    endHeaders: boolean,
  ): this {
    return this.frame(
      FrameType.CONTINUATION,
      endHeaders ? Flag.END_HEADERS : 0,
      assertStreamId(streamId),
      fragment,
    );
  }

  /**
   * One DATA frame carrying `data` (copied into the batch). The caller
   * keeps it within the peer's frame size and flow-control windows.
   */
  data(streamId: number, data: Uint8Array, options: DataOptions = {}): this {
    const padLength = options.padLength;
    const padded = padLength !== undefined;
    if (padded) assertUint(padLength, 0xff, "pad length");
    const flags = (options.endStream ? Flag.END_STREAM : 0) |
      (padded ? Flag.PADDED : 0);
    const length = data.length + (padded ? 1 + padLength : 0);
    let offset = this.#frame(
      FrameType.DATA,
      flags,
      assertStreamId(streamId),
      length,
    );
    const buffer = this.#buffer!;
    if (padded) buffer[offset++] = padLength;
    buffer.set(data, offset);
    // Padding must be zeros (§6.1).
    if (padded) buffer.fill(0, offset + data.length, offset + length - 1);
    return this;
  }

  /** A PRIORITY frame (deprecated, RFC 9113 §5.3.2). */
  priority(streamId: number, priority: PrioritySignal): this {
    assertPrioritySignal(priority);
    const offset = this.#frame(
      FrameType.PRIORITY,
      0,
      assertStreamId(streamId),
      5,
    );
    writePriority(this.#buffer!, offset, priority);
    return this;
  }

  /** A PRIORITY_UPDATE (RFC 9218 §7.1); `fieldValue` must be ASCII. */
  priorityUpdate(prioritizedStreamId: number, fieldValue: string): this {
    assertStreamId(prioritizedStreamId);
    for (let i = 0; i < fieldValue.length; i++) {
      if (fieldValue.charCodeAt(i) > 0x7f) {
        throw new RangeError("Priority field value is not ASCII");
      }
    }
    let offset = this.#frame(
      FrameType.PRIORITY_UPDATE,
      0,
      0,
      4 + fieldValue.length,
    );
    const buffer = this.#buffer!;
    offset = writeUint32(buffer, offset, prioritizedStreamId);
    for (let i = 0; i < fieldValue.length; i++) {
      buffer[offset + i] = fieldValue.charCodeAt(i);
    }
    return this;
  }

  /** Any frame from its parts, payload copied: extensions and tests. */
  frame(
    type: number,
    flags: number,
    streamId: number,
    payload: Uint8Array,
  ): this {
    assertUint(type, 0xff, "frame type");
    assertUint(flags, 0xff, "flags");
    assertUint(streamId, STREAM_ID_MASK, "stream id");
    const offset = this.#frame(type, flags, streamId, payload.length);
    this.#buffer!.set(payload, offset);
    return this;
  }

  /**
   * Writes a field block: the first frame holds the pad length byte, the
   * `fixed` bytes (returned offset, for the caller to fill), as much of
   * the block as fits and the padding; CONTINUATIONs carry the rest.
   */
  #fieldBlock(
    type: number,
    flags: number,
    streamId: number,
    fixed: number,
    block: Uint8Array,
    options: FieldBlockOptions,
  ): number {
    const { maxFrameSize, padLength } = options;
    assertUint(maxFrameSize, MAX_MAX_FRAME_SIZE, "maxFrameSize");
    const padded = padLength !== undefined;
    if (padded) assertUint(padLength, 0xff, "pad length");
    const overhead = fixed + (padded ? 1 + padLength : 0);
    // Smaller frames than the peer allows are legal, so any size that
    // leaves room for the fixed fields is accepted.
    if (maxFrameSize < Math.max(1, overhead)) {
      throw new RangeError(`maxFrameSize ${maxFrameSize} too small`);
    }
    const firstFragment = Math.min(block.length, maxFrameSize - overhead);
    const rest = block.length - firstFragment;
    const continuations = Math.ceil(rest / maxFrameSize);
    this.#reserve(
      FRAME_HEADER_SIZE * (1 + continuations) + overhead + block.length,
    );
    const firstFlags = flags | (padded ? Flag.PADDED : 0) |
      (continuations === 0 ? Flag.END_HEADERS : 0);
    let offset = this.#frame(
      type,
      firstFlags,
      streamId,
      overhead + firstFragment,
    );
    const buffer = this.#buffer!;
    if (padded) buffer[offset++] = padLength;
    const fixedAt = offset;
    offset += fixed;
    buffer.set(block.subarray(0, firstFragment), offset);
    offset += firstFragment;
    if (padded) buffer.fill(0, offset, offset + padLength);
    for (let sent = firstFragment; sent < block.length;) {
      const size = Math.min(maxFrameSize, block.length - sent);
      const last = sent + size === block.length;
      offset = this.#frame(
        FrameType.CONTINUATION,
        last ? Flag.END_HEADERS : 0,
        streamId,
        size,
      );
      buffer.set(block.subarray(sent, sent + size), offset);
      sent += size;
    }
    return fixedAt;
  }

  /** Appends a frame header; returns the offset where its payload goes. */
  #frame(
    type: number,
    flags: number,
    streamId: number,
    length: number,
  ): number {
    if (length > MAX_MAX_FRAME_SIZE) {
      throw new RangeError(`frame payload of ${length} bytes exceeds 2^24-1`);
    }
    this.#reserve(FRAME_HEADER_SIZE + length);
    const start = this.#length;
    this.#length += FRAME_HEADER_SIZE + length;
    return writeFrameHeader(
      this.#buffer!,
      start,
      length,
      type,
      flags,
      streamId,
    );
  }

  /** Makes room for `size` more bytes, doubling the buffer as needed. */
  #reserve(size: number): void {
    const needed = this.#length + size;
    const current = this.#buffer;
    if (current && current.length >= needed) return;
    let capacity = current ? current.length * 2 : this.#initialCapacity;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    if (current) grown.set(current.subarray(0, this.#length));
    this.#buffer = grown;
  }
}

function writePriority(
  target: Uint8Array,
  offset: number,
  priority: PrioritySignal,
): void {
  writeUint32(
    target,
    offset,
    (priority.exclusive ? 0x8000_0000 : 0) + priority.dependency,
  );
  target[offset + 4] = priority.weight - 1;
}
