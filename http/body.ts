/**
 * Request body framing (RFC 9112 §6): deciding how long a body is, and
 * decoding chunked bodies incrementally so they can be discarded without
 * losing the start of the next pipelined request.
 *
 * @module
 */

import { headerValues, hexDigitValue, type RequestHead } from "./request.ts";
import { isDigits } from "./scan.ts";

/** How the body of a request is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "error"; status: 400 | 501; reason: string };

/**
 * Decides the framing of a request body from its head. Any ambiguity that
 * could let two parsers disagree about where the body ends (both
 * Transfer-Encoding and Content-Length, differing lengths, a non-final
 * chunked coding) is an error: the caller answers it and closes, which
 * makes request smuggling impossible.
 */
export function bodyFraming(head: RequestHead): BodyFraming {
  const transferEncodings = headerValues(head, "transfer-encoding");
  const contentLengths = headerValues(head, "content-length");
  if (transferEncodings.length > 0) {
    if (contentLengths.length > 0) {
      return error(400, "Both Transfer-Encoding and Content-Length");
    }
    if (head.versionMinor === 0) {
      return error(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    const codings = transferEncodings.join(",").split(",").map((c) =>
      c.trim().toLowerCase()
    );
    if (codings.some((c) => c === "")) {
      return error(400, "Malformed Transfer-Encoding");
    }
    if (codings[codings.length - 1] !== "chunked") {
      return error(400, "Transfer-Encoding does not end in chunked");
    }
    if (codings.length > 1) {
      // chunked applied twice, or a coding we cannot undo: both fail.
      return error(501, "Unsupported transfer coding");
    }
    return { kind: "chunked" };
  }
  if (contentLengths.length === 0) return { kind: "none" };
  let length: number | undefined;
  for (const field of contentLengths) {
    for (const part of field.split(",")) {
      const text = part.trim();
      if (!isDigits(text) || text.length > 15) {
        return error(400, "Invalid Content-Length");
      }
      const n = Number(text);
      if (length !== undefined && n !== length) {
        return error(400, "Conflicting Content-Length values");
      }
      length = n;
    }
  }
  return length === 0 || length === undefined
    ? { kind: "none" }
    : { kind: "length", length };
}

function error(status: 400 | 501, reason: string): BodyFraming {
  return { kind: "error", status, reason };
}

/** What one {@linkcode ChunkedDecoder.feed} call found. */
export interface ChunkedProgress {
  /** Bytes of the input that belong to the chunked body. */
  consumed: number;
  /** True once the last chunk and the trailer section have been read. */
  done: boolean;
  /** Set when the body is malformed; the connection must be closed. */
  error?: string;
}

const enum State {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
}

const MAX_SIZE_DIGITS = 15; // keeps sizes exact as JavaScript numbers
const MAX_EXTENSION_BYTES = 4096;
const MAX_TRAILER_BYTES = 8192;

/**
 * An incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1)
 * that only finds where the body ends and how many data bytes it holds;
 * the data itself is discarded. Line ends must be CRLF: chunked framing is
 * where smuggling hides, so nothing lenient is accepted here.
 */
export class ChunkedDecoder {
  #state = State.Size;
  #sizeDigits = 0;
  #remaining = 0;
  #extensionBytes = 0;
  #trailerBytes = 0;
  /** Total data bytes seen so far, to enforce a body size limit. */
  dataBytes = 0;

  /** Consumes bytes `buf[start..end]`; see {@linkcode ChunkedProgress}. */
  feed(buf: Uint8Array, start: number, end: number): ChunkedProgress {
    let i = start;
    while (i < end) {
      const c = buf[i];
      switch (this.#state) {
        case State.Size: {
          const digit = hexDigitValue(c);
          if (digit >= 0) {
            if (++this.#sizeDigits > MAX_SIZE_DIGITS) {
              return this.#fail(i - start, "Chunk size too large");
            }
            this.#remaining = this.#remaining * 16 + digit;
            i++;
          } else if (this.#sizeDigits === 0) {
            return this.#fail(i - start, "Missing chunk size");
          } else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
            this.#state = State.Extension;
            this.#extensionBytes = 0;
            i++;
          } else if (c === 0x0d) {
            this.#state = State.SizeLf;
            i++;
          } else {
            return this.#fail(i - start, "Malformed chunk size");
          }
          break;
        }
        case State.Extension:
          // Extensions are ignored, but bounded and free of control bytes.
          if (c === 0x0d) {
            this.#state = State.SizeLf;
          } else if (
            (c < 0x20 && c !== 0x09) || c === 0x7f ||
            ++this.#extensionBytes > MAX_EXTENSION_BYTES
          ) {
            return this.#fail(i - start, "Malformed chunk extension");
          }
          i++;
          break;
        case State.SizeLf:
          if (c !== 0x0a) return this.#fail(i - start, "Expected CRLF");
          i++;
          this.#sizeDigits = 0;
          if (this.#remaining === 0) {
            this.#state = State.TrailerStart;
          } else {
            this.#state = State.Data;
          }
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, end - i);
          i += take;
          this.#remaining -= take;
          this.dataBytes += take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== 0x0d) return this.#fail(i - start, "Expected CRLF");
          this.#state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (c !== 0x0a) return this.#fail(i - start, "Expected CRLF");
          this.#state = State.Size;
          i++;
          break;
        case State.TrailerStart:
          if (c === 0x0d) {
            this.#state = State.FinalLf;
            i++;
          } else if (isTrailerByte(c)) {
            this.#state = State.TrailerLine;
          } else {
            return this.#fail(i - start, "Malformed trailer");
          }
          break;
        case State.TrailerLine:
          // Every trailer byte counts towards the limit, line ends included.
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) {
            return this.#fail(i - start, "Trailer section too large");
          }
          if (c === 0x0d) this.#state = State.TrailerLf;
          else if (!isTrailerByte(c)) {
            return this.#fail(i - start, "Malformed trailer");
          }
          i++;
          break;
        case State.TrailerLf:
          if (c !== 0x0a) return this.#fail(i - start, "Expected CRLF");
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) {
            return this.#fail(i - start, "Trailer section too large");
          }
          this.#state = State.TrailerStart;
          i++;
          break;
        case State.FinalLf:
          if (c !== 0x0a) return this.#fail(i - start, "Expected CRLF");
          return { consumed: i + 1 - start, done: true };
      }
    }
    return { consumed: i - start, done: false };
  }

  #fail(consumed: number, error: string): ChunkedProgress {
    return { consumed, done: false, error };
  }
}

/** Bytes allowed in a trailer line: visible ASCII, obs-text, SP, HTAB. */
function isTrailerByte(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}
