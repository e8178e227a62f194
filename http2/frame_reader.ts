/**
 * The incremental HTTP/2 frame reader: fed bytes as they arrive, in any
 * split, it yields whole frames and errors. No I/O; the connection pushes
 * what the socket gave and pulls events until there are none.
 *
 * ```ts
 * reader.push(chunk);
 * for (let event = reader.next(); event; event = reader.next()) { … }
 * ```
 *
 * Memory: besides the chunk being read, the reader holds at most one
 * partial frame, never more than 9 + the local SETTINGS_MAX_FRAME_SIZE
 * bytes. Its buffer grows with the bytes that actually arrive (4 KiB at
 * first, then at most twice what arrived) rather than being sized by the
 * length a header claims. A frame longer than the limit is refused from
 * its header, before any of its payload is kept; unknown frame types and
 * frames reset by a stream error are skipped without being buffered.
 *
 * Besides the per-frame rules of `frame_rules.ts` and `frame_payload.ts`,
 * the reader enforces the rules that need a little state: the 24-byte
 * client preface and the SETTINGS frame that must follow it (RFC 9113
 * §3.4), and the field block sequence (§4.3, §6.10: after HEADERS or
 * PUSH_PROMISE without END_HEADERS, only CONTINUATION frames on that
 * stream until one carries END_HEADERS).
 *
 * Payload views (DATA data, field block fragments) share memory with the
 * chunk given to {@linkcode FrameReader.push} or with a buffer the reader
 * allocated for that one frame and never reuses: they stay valid as long
 * as the caller does not overwrite its own chunk.
 *
 * @module
 */

import {
  CLIENT_PREFACE,
  connectionError,
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  type FrameError,
  type FrameHeader,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MIN_MAX_FRAME_SIZE,
  type ReadEvent,
  readFrameHeader,
} from "./frame.ts";
import { parseFramePayload } from "./frame_payload.ts";
import { checkFrameHeader } from "./frame_rules.ts";

export type { ReadEvent } from "./frame.ts";

/** How a {@linkcode FrameReader} starts. */
export interface FrameReaderOptions {
  /**
   * Expect the client connection preface and then a SETTINGS frame before
   * anything else, as a server does (default true).
   */
  expectPreface?: boolean;
  /** The local SETTINGS_MAX_FRAME_SIZE (default 16,384). */
  maxFrameSize?: number;
}

/** Smallest buffer allocated for a partial payload, to avoid tiny regrowths. */
const MIN_PARTIAL_CAPACITY = 4096;

/** Incremental parser of a peer's HTTP/2 byte stream into frames. */
export class FrameReader {
  #maxFrameSize: number;
  /** Bytes of the preface still to match; 0 once matched (or not expected). */
  #prefaceLeft: number;
  /** True until the first frame after the preface, which must be SETTINGS. */
  #awaitingSettings: boolean;
  /** Stream of the field block still open, 0 when none. */
  #openBlockStream = 0;
  /** The connection error that ended this reader, repeated forever. */
  #failure: FrameError | null = null;

  #input: Uint8Array = new Uint8Array(0);
  #inputOffset = 0;

  /** A header split across chunks collects here. */
  #headerBytes = new Uint8Array(FRAME_HEADER_SIZE);
  #headerFilled = 0;
  /** The header whose payload is being read, null between frames. */
  #header: FrameHeader | null = null;
  /** A payload split across chunks collects here, allocated per frame. */
  #partial: Uint8Array | null = null;
  #partialFilled = 0;
  /** Payload bytes still to drop (unknown type, or a reset frame). */
  #skipLeft = 0;

  /** A reader with `options`; by default a server's, expecting a preface. */
  constructor(options: FrameReaderOptions = {}) {
    this.#maxFrameSize = checkedMaxFrameSize(
      options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    );
    const expectPreface = options.expectPreface ?? true;
    this.#prefaceLeft = expectPreface ? CLIENT_PREFACE.length : 0;
    this.#awaitingSettings = expectPreface;
  }

  /**
   * The local SETTINGS_MAX_FRAME_SIZE frames are checked against. Raise it
   * once the peer has acknowledged the SETTINGS that announced it; it
   * applies from the next frame header read. Throws a RangeError outside
   * 2^14..2^24−1.
   */
  get maxFrameSize(): number {
    return this.#maxFrameSize;
  }

  set maxFrameSize(value: number) {
    this.#maxFrameSize = checkedMaxFrameSize(value);
  }

  /** The connection error that stopped this reader, or null. */
  get failure(): FrameError | null {
    return this.#failure;
  }

  /**
   * Memory the reader holds for a partial frame: the bytes of a split
   * header plus the capacity of the payload buffer (0 between frames).
   */
  get bufferedBytes(): number {
    return this.#headerFilled + (this.#partial?.length ?? 0);
  }

  /**
   * Hands the reader the next bytes from the peer. Call {@linkcode next}
   * until it returns null before pushing again: the reader keeps a
   * reference to `chunk` and reads it in place. Ignored after a
   * connection error.
   */
  push(chunk: Uint8Array): void {
    if (this.#failure) return;
    if (this.#inputOffset < this.#input.length) {
      throw new Error("FrameReader.push() before next() returned null");
    }
    this.#input = chunk;
    this.#inputOffset = 0;
  }

  /**
   * The next whole frame or error, or null when more bytes are needed.
   * Unknown frame types are skipped silently. After a connection error
   * every call returns that error.
   */
  next(): ReadEvent | null {
    while (this.#failure === null) {
      if (this.#prefaceLeft > 0 && !this.#matchPreface()) break;
      if (this.#skipLeft > 0 && !this.#skip()) return null;
      if (this.#header === null) {
        const header = this.#takeHeader();
        if (!header) return null;
        const problem = this.#checkHeader(header);
        if (problem?.scope === "stream") {
          this.#skipLeft = header.length;
          return { kind: "error", error: problem };
        }
        if (problem) return this.#fail(problem);
        if (!isKnownType(header.type)) {
          this.#skipLeft = header.length;
          continue;
        }
        this.#header = header;
      }
      const payload = this.#takePayload(this.#header.length);
      if (!payload) return null;
      const header = this.#header;
      this.#header = null;
      const event = parseFramePayload(header, payload);
      if (!event) continue;
      if (event.kind === "error") {
        if (event.error.scope === "connection") return this.#fail(event.error);
        return event;
      }
      this.#trackFieldBlock(header);
      return event;
    }
    return this.#failure ? { kind: "error", error: this.#failure } : null;
  }

  /** The rules judged from a header, before its payload is read. */
  #checkHeader(header: FrameHeader): FrameError | null {
    if (this.#awaitingSettings) {
      this.#awaitingSettings = false;
      if (header.type !== FrameType.SETTINGS || (header.flags & Flag.ACK)) {
        return connectionError(
          ErrorCode.PROTOCOL_ERROR,
          header.streamId,
          "the client preface must be followed by a SETTINGS frame",
        );
      }
    }
    return checkFrameHeader(header, this.#maxFrameSize, this.#openBlockStream);
  }

  #trackFieldBlock(header: FrameHeader): void {
    const opensOrContinues = header.type === FrameType.HEADERS ||
      header.type === FrameType.PUSH_PROMISE ||
      header.type === FrameType.CONTINUATION;
    if (!opensOrContinues) return;
    this.#openBlockStream = (header.flags & Flag.END_HEADERS)
      ? 0
      : header.streamId;
  }

  #fail(problem: FrameError): ReadEvent {
    this.#failure = problem;
    // Nothing more will be read: drop every buffer.
    this.#input = new Uint8Array(0);
    this.#inputOffset = 0;
    this.#partial = null;
    this.#partialFilled = 0;
    this.#headerFilled = 0;
    this.#header = null;
    return { kind: "error", error: problem };
  }

  /**
   * Compares arriving bytes with the preface as they come, so that a
   * client speaking something else is refused at its first wrong byte.
   * False when more bytes are needed or the preface was wrong.
   */
  #matchPreface(): boolean {
    const input = this.#input;
    while (this.#prefaceLeft > 0 && this.#inputOffset < input.length) {
      const expected =
        CLIENT_PREFACE[CLIENT_PREFACE.length - this.#prefaceLeft];
      if (input[this.#inputOffset] !== expected) {
        this.#fail(connectionError(
          ErrorCode.PROTOCOL_ERROR,
          0,
          "invalid HTTP/2 client connection preface",
        ));
        return false;
      }
      this.#inputOffset++;
      this.#prefaceLeft--;
    }
    return this.#prefaceLeft === 0;
  }

  /** Drops payload bytes to skip; true once all are gone. */
  #skip(): boolean {
    const available = this.#input.length - this.#inputOffset;
    const dropped = Math.min(available, this.#skipLeft);
    this.#inputOffset += dropped;
    this.#skipLeft -= dropped;
    return this.#skipLeft === 0;
  }

  #takeHeader(): FrameHeader | null {
    const input = this.#input;
    const available = input.length - this.#inputOffset;
    if (this.#headerFilled === 0 && available >= FRAME_HEADER_SIZE) {
      const header = readFrameHeader(input, this.#inputOffset);
      this.#inputOffset += FRAME_HEADER_SIZE;
      return header;
    }
    const count = Math.min(available, FRAME_HEADER_SIZE - this.#headerFilled);
    this.#headerBytes.set(
      input.subarray(this.#inputOffset, this.#inputOffset + count),
      this.#headerFilled,
    );
    this.#inputOffset += count;
    this.#headerFilled += count;
    if (this.#headerFilled < FRAME_HEADER_SIZE) return null;
    this.#headerFilled = 0;
    return readFrameHeader(this.#headerBytes, 0);
  }

  /**
   * The `length`-byte payload: a view of the input when it is all there,
   * else collected in a per-frame buffer that grows with what arrives.
   */
  #takePayload(length: number): Uint8Array | null {
    const input = this.#input;
    const start = this.#inputOffset;
    const available = input.length - start;
    if (this.#partialFilled === 0 && available >= length) {
      this.#inputOffset += length;
      return input.subarray(start, start + length);
    }
    const count = Math.min(available, length - this.#partialFilled);
    const needed = this.#partialFilled + count;
    if (!this.#partial || this.#partial.length < needed) {
      const capacity = Math.min(
        length,
        Math.max(
          needed,
          MIN_PARTIAL_CAPACITY,
          (this.#partial?.length ?? 0) * 2,
        ),
      );
      const grown = new Uint8Array(capacity);
      if (this.#partial) {
        grown.set(this.#partial.subarray(0, this.#partialFilled));
      }
      this.#partial = grown;
    }
    this.#partial.set(
      input.subarray(start, start + count),
      this.#partialFilled,
    );
    this.#inputOffset += count;
    this.#partialFilled = needed;
    if (needed < length) return null;
    const payload = this.#partial.subarray(0, length);
    // Never reused: views handed out stay valid.
    this.#partial = null;
    this.#partialFilled = 0;
    return payload;
  }
}

/** Whether `type` is one the reader parses (others are skipped). */
function isKnownType(type: number): boolean {
  return type <= FrameType.CONTINUATION || type === FrameType.PRIORITY_UPDATE;
}

function checkedMaxFrameSize(value: number): number {
  if (
    !Number.isInteger(value) || value < MIN_MAX_FRAME_SIZE ||
    value > MAX_MAX_FRAME_SIZE
  ) {
    throw new RangeError(`maxFrameSize ${value} outside 2^14..2^24-1`);
  }
  return value;
}
