/**
 * Request body framing (RFC 9112 §6): deciding how long a body is, and
 * decoding chunked bodies incrementally so they can be discarded without
 * losing the start of the next pipelined request.
 *
 * @module
 */

import {
  headerValues,
  hexDigitValue,
  isTchar,
  type RequestHead,
} from "./request.ts";
import { asciiLower, isDigits, splitList, trimOws } from "./scan.ts";

/** How the body of a request is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "error"; status: 400 | 501; reason: string };

/** Longest Content-Length accepted: keeps lengths exact as numbers. */
const MAX_LENGTH_DIGITS = 15;

/**
 * Decides the framing of a request body from its head. Any ambiguity that
 * could let two parsers disagree about where the body ends (both
 * Transfer-Encoding and Content-Length, differing lengths, a non-final
 * chunked coding, a value that is only valid after stripping more than SP
 * and HTAB) is an error: the caller answers it and closes, which makes
 * request smuggling impossible.
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
    // Empty list elements do not count (RFC 9110 §5.6.1): ",chunked" is
    // chunked. Only SP and HTAB are trimmed: "\xa0chunked" is no coding.
    const codings = splitList(transferEncodings.join(",")).map(asciiLower);
    if (codings.length === 0) {
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
    // A list of identical values is tolerated (RFC 9110 §8.6); unlike other
    // lists, an empty element here is an error.
    for (const part of field.split(",")) {
      const text = trimOws(part);
      if (!isDigits(text) || text.length > MAX_LENGTH_DIGITS) {
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
  /** BWS after the size or an extension: only more BWS or ";" may follow. */
  ExtSemicolon,
  /** After ";": BWS, then an extension name. */
  ExtNameStart,
  ExtName,
  /** BWS after a name: "=", ";" may follow. */
  ExtAfterName,
  /** After "=": BWS, then a token or a quoted string. */
  ExtValueStart,
  ExtToken,
  ExtQuoted,
  /** After a backslash inside a quoted string. */
  ExtQuotedPair,
  ExtAfterQuoted,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  FinalLf,
}

const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

const MAX_SIZE_DIGITS = 15; // keeps sizes exact as JavaScript numbers
const MAX_EXTENSION_BYTES = 4096;
const MAX_TRAILER_BYTES = 8192;

/**
 * An incremental decoder for `Transfer-Encoding: chunked` (RFC 9112 §7.1)
 * that only finds where the body ends and how many bytes it holds; the
 * data itself is discarded. Line ends must be CRLF and chunk extensions
 * must follow the grammar exactly: chunked framing is where smuggling
 * hides, so nothing lenient is accepted here.
 */
export class ChunkedDecoder {
  #state = State.Size;
  #sizeDigits = 0;
  #remaining = 0;
  #extensionBytes = 0;
  #trailerBytes = 0;
  /** Data bytes seen so far (the body's content, without its framing). */
  dataBytes = 0;
  /**
   * Every byte consumed so far: data, sizes, extensions, CRLFs and
   * trailers. The body size limit applies to this, so a body cannot be
   * made of framing alone without bound.
   */
  bytesRead = 0;

  /** Consumes bytes `buf[start..end]`; see {@linkcode ChunkedProgress}. */
  feed(buf: Uint8Array, start: number, end: number): ChunkedProgress {
    const progress = this.#decode(buf, start, end);
    this.bytesRead += progress.consumed;
    return progress;
  }

  #decode(buf: Uint8Array, start: number, end: number): ChunkedProgress {
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
            break;
          }
          if (this.#sizeDigits === 0) {
            return this.#fail(i - start, "Missing chunk size");
          }
          this.#extensionBytes = 0;
          if (c === CR) this.#state = State.SizeLf;
          else if (c === SEMICOLON) this.#state = State.ExtNameStart;
          else if (isBws(c)) this.#state = State.ExtSemicolon;
          else return this.#fail(i - start, "Malformed chunk size");
          i++;
          break;
        }
        case State.SizeLf:
          if (c !== LF) return this.#fail(i - start, "Expected CRLF");
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
          if (c !== CR) return this.#fail(i - start, "Expected CRLF");
          this.#state = State.DataLf;
          i++;
          break;
        case State.DataLf:
          if (c !== LF) return this.#fail(i - start, "Expected CRLF");
          this.#state = State.Size;
          i++;
          break;
        case State.TrailerStart:
          if (c === CR) {
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
          if (c === CR) this.#state = State.TrailerLf;
          else if (!isTrailerByte(c)) {
            return this.#fail(i - start, "Malformed trailer");
          }
          i++;
          break;
        case State.TrailerLf:
          if (c !== LF) return this.#fail(i - start, "Expected CRLF");
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) {
            return this.#fail(i - start, "Trailer section too large");
          }
          this.#state = State.TrailerStart;
          i++;
          break;
        case State.FinalLf:
          if (c !== LF) return this.#fail(i - start, "Expected CRLF");
          return { consumed: i + 1 - start, done: true };
        default: {
          // Extensions are ignored, but must parse and stay bounded.
          const next = ++this.#extensionBytes > MAX_EXTENSION_BYTES
            ? undefined
            : extensionStep(this.#state, c);
          if (next === undefined) {
            return this.#fail(i - start, "Malformed chunk extension");
          }
          this.#state = next;
          i++;
        }
      }
    }
    return { consumed: i - start, done: false };
  }

  #fail(consumed: number, error: string): ChunkedProgress {
    return { consumed, done: false, error };
  }
}

/** BWS is OWS: SP and HTAB only (RFC 9110 §5.6.3). */
function isBws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * One byte of a chunk line after the size, by RFC 9112 §7.1.1:
 *
 *     chunk-ext     = *( BWS ";" BWS chunk-ext-name
 *                        [ BWS "=" BWS chunk-ext-val ] )
 *     chunk-ext-val = token / quoted-string
 *
 * Returns the state after byte `c` in `state`, or undefined when the line
 * is malformed. CR ends the line where an extension may end.
 */
function extensionStep(state: State, c: number): State | undefined {
  switch (state) {
    case State.ExtSemicolon:
      if (isBws(c)) return state;
      return c === SEMICOLON ? State.ExtNameStart : undefined;
    case State.ExtNameStart:
      if (isBws(c)) return state;
      return isTchar(c) ? State.ExtName : undefined;
    case State.ExtName:
      if (isTchar(c)) return state;
      if (c === EQUALS) return State.ExtValueStart;
      if (isBws(c)) return State.ExtAfterName;
      return afterElement(c);
    case State.ExtAfterName:
      if (isBws(c)) return state;
      if (c === EQUALS) return State.ExtValueStart;
      return c === SEMICOLON ? State.ExtNameStart : undefined;
    case State.ExtValueStart:
      if (isBws(c)) return state;
      if (c === DQUOTE) return State.ExtQuoted;
      return isTchar(c) ? State.ExtToken : undefined;
    case State.ExtToken:
      if (isTchar(c)) return state;
      return isBws(c) ? State.ExtSemicolon : afterElement(c);
    case State.ExtQuoted:
      if (c === DQUOTE) return State.ExtAfterQuoted;
      if (c === BACKSLASH) return State.ExtQuotedPair;
      return isQdtext(c) ? state : undefined;
    case State.ExtQuotedPair:
      // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
      return c === 0x09 || (c >= 0x20 && c !== 0x7f)
        ? State.ExtQuoted
        : undefined;
    case State.ExtAfterQuoted:
      return isBws(c) ? State.ExtSemicolon : afterElement(c);
    default:
      return undefined;
  }
}

/** After a complete name or value: another extension, or the line end. */
function afterElement(c: number): State | undefined {
  if (c === SEMICOLON) return State.ExtNameStart;
  return c === CR ? State.SizeLf : undefined;
}

/** qdtext: HTAB, SP, visible ASCII but `"` and `\`, obs-text. */
function isQdtext(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== DQUOTE && c !== BACKSLASH &&
    c !== 0x7f);
}

/** Bytes allowed in a trailer line: visible ASCII, obs-text, SP, HTAB. */
function isTrailerByte(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f);
}
