/**
 * Parsing of an HTTP/1.1 request head (RFC 9112 §2–§5) from raw bytes.
 *
 * Two pure steps: {@linkcode findHeadEnd} locates the blank line that ends
 * the head, scanning only bytes it has not seen before (so a client that
 * trickles bytes costs linear time), and {@linkcode parseRequestHead}
 * validates and splits a complete head.
 *
 * @module
 */

import { asciiLower, splitList } from "./scan.ts";

/** A parsed request line and header section. Strings keep the exact bytes. */
export interface RequestHead {
  /** The method token, case-sensitive (`GET`, not `get`). */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** HTTP major version: 1 for a head this parser read, 2 over HTTP/2. */
  versionMajor: number;
  /** HTTP minor version (0 or 1, or higher for a future 1.x; 0 for 2). */
  versionMinor: number;
  /** Header fields in order of arrival, names as sent, values trimmed. */
  headers: [name: string, value: string][];
}

/** Size limits applied while reading a head. */
export interface HeadLimits {
  /** Longest request line, in bytes, before 414. */
  maxRequestLineBytes: number;
  /** Longest whole head (request line and fields), in bytes, before 431. */
  maxHeadBytes: number;
  /** Most header field lines before 431. */
  maxHeaderCount: number;
}

/** Defaults close to nginx's (8 KiB line buffers) and Node's (100 fields). */
export const DEFAULT_HEAD_LIMITS: HeadLimits = {
  maxRequestLineBytes: 8192,
  maxHeadBytes: 32768,
  maxHeaderCount: 100,
};

/** Why a head was refused, as the status to answer with. */
export interface HeadError {
  kind: "error";
  status: 400 | 414 | 431 | 505;
  /** A short human-readable reason, safe to show the client. */
  reason: string;
}

/** The outcome of {@linkcode parseRequestHead}. */
export type HeadParseResult =
  | { kind: "request"; head: RequestHead }
  | HeadError;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

/** tchar (RFC 9110 §5.6.2): the bytes allowed in tokens. */
const TOKEN_CHARS = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN_CHARS[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN_CHARS[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN_CHARS[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN_CHARS[c] = 1;

/** Bytes allowed inside a field value (VCHAR, obs-text, SP, HTAB). */
const FIELD_VALUE_CHARS = new Uint8Array(256);
FIELD_VALUE_CHARS[SP] = 1;
FIELD_VALUE_CHARS[HTAB] = 1;
for (let c = 0x21; c <= 0x7e; c++) FIELD_VALUE_CHARS[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE_CHARS[c] = 1;

/** The value of an ASCII hex digit, or -1 for any other character code. */
export function hexDigitValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Returns true when byte `c` may appear in a token (RFC 9110 §5.6.2). */
export function isTchar(c: number): boolean {
  return TOKEN_CHARS[c] === 1;
}

/** Returns true when `name` is a valid token (RFC 9110 §5.6.2). */
export function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || TOKEN_CHARS[c] === 0) return false;
  }
  return true;
}

/** Returns true when `value` may be sent as a field value. */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 255 || FIELD_VALUE_CHARS[c] === 0) return false;
  }
  return true;
}

/** Bytes searched with a plain loop before handing over to indexOf. */
const SHORT_SCAN_BYTES = 256;

/**
 * Finds `byte` in `buf[from..to)`, or returns -1. Typed arrays' own
 * indexOf has no end bound and would scan the stale rest of a reused read
 * buffer; it needs a subarray, an allocation per call, so short spans (a
 * header line) are searched with a loop first.
 */
function indexOfByte(
  buf: Uint8Array,
  byte: number,
  from: number,
  to: number,
): number {
  const loopEnd = Math.min(to, from + SHORT_SCAN_BYTES);
  for (let i = from; i < loopEnd; i++) {
    if (buf[i] === byte) return i;
  }
  if (loopEnd >= to) return -1;
  const i = buf.subarray(loopEnd, to).indexOf(byte);
  return i < 0 ? -1 : loopEnd + i;
}

/** Decodes bytes one-to-one into a string (latin1), so no byte is lost. */
function latin1(buf: Uint8Array, start: number, end: number): string {
  // fromCharCode over small slices is faster than a TextDecoder call.
  if (end - start < 4096) {
    return String.fromCharCode.apply(
      null,
      buf.subarray(start, end) as unknown as number[],
    );
  }
  let out = "";
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return out;
}

/**
 * Skips the empty lines a client may send before a request line
 * (RFC 9112 §2.2). Returns the index of the first other byte; a lone CR at
 * the end is left for the next read to complete.
 */
export function skipEmptyLines(
  buf: Uint8Array,
  start: number,
  end: number,
): number {
  let i = start;
  while (i < end) {
    if (buf[i] === LF) i++;
    else if (buf[i] === CR && i + 1 < end && buf[i + 1] === LF) i += 2;
    else break;
  }
  return i;
}

/**
 * Finds the end of a request head that starts at `start` in `buf[..end]`.
 * `scanFrom` is where the previous call stopped (pass `start` the first
 * time). Returns the index just past the blank line, or -1 when the head is
 * not complete yet. Lines may end in CRLF or a bare LF (RFC 9112 §2.2).
 */
export function findHeadEnd(
  buf: Uint8Array,
  start: number,
  end: number,
  scanFrom: number,
): number {
  // Back up two bytes so a terminator split across reads is still seen.
  let i = Math.max(start, scanFrom - 2);
  while (true) {
    const lf = indexOfByte(buf, LF, i, end);
    if (lf < 0) return -1;
    // The blank line is LF LF or LF CR LF.
    if (lf + 1 < end && buf[lf + 1] === LF) return lf + 2;
    if (lf + 2 < end && buf[lf + 1] === CR && buf[lf + 2] === LF) {
      return lf + 3;
    }
    i = lf + 1;
  }
}

/**
 * Decides, for a head that is not complete yet, whether it has already
 * broken a limit: a request line with no end in sight (414) or a head
 * larger than allowed (431). Returns undefined when reading may go on.
 */
export function checkIncompleteHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): HeadError | undefined {
  const lineEnd = indexOfByte(buf, LF, start, end);
  if (lineEnd < 0) {
    // A CR waiting for its LF is not part of the line.
    const length = end - start - (buf[end - 1] === CR ? 1 : 0);
    if (length > limits.maxRequestLineBytes) {
      return { kind: "error", status: 414, reason: "Request line too long" };
    }
    return undefined;
  }
  if (end - start > limits.maxHeadBytes) {
    return { kind: "error", status: 431, reason: "Header section too large" };
  }
  return undefined;
}

function fail(status: HeadError["status"], reason: string): HeadError {
  return { kind: "error", status, reason };
}

/** Returns the end of the line starting at `i` (the index of CR or LF). */
function lineEndAt(buf: Uint8Array, i: number, end: number): number {
  const lf = indexOfByte(buf, LF, i, end);
  if (lf < 0) return end;
  return lf > i && buf[lf - 1] === CR ? lf - 1 : lf;
}

/** Index just past the line terminator at `lineEnd` (CRLF or LF). */
function nextLineStart(buf: Uint8Array, lineEnd: number): number {
  return buf[lineEnd] === CR ? lineEnd + 2 : lineEnd + 1;
}

/**
 * Parses a complete request head `buf[start..end]` as found by
 * {@linkcode findHeadEnd} (it includes the final blank line). Pure: it
 * never throws, and answers every malformed input with the status that
 * RFC 9112 prescribes.
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): HeadParseResult {
  if (end - start > limits.maxHeadBytes) {
    return fail(431, "Header section too large");
  }
  // A bare CR (one not ending a line) is a framing hazard; it needs no scan
  // of its own: no byte class below admits CR, so it fails as malformed.

  // Request line: method SP request-target SP HTTP-version.
  const lineEnd = lineEndAt(buf, start, end);
  if (lineEnd - start > limits.maxRequestLineBytes) {
    return fail(414, "Request line too long");
  }
  let i = start;
  while (i < lineEnd && TOKEN_CHARS[buf[i]] === 1) i++;
  if (i === start || i >= lineEnd || buf[i] !== SP) {
    return fail(400, "Malformed request line");
  }
  // One decode for the whole head; fields are slices of it.
  const text = latin1(buf, start, end);
  const method = text.slice(0, i - start);
  const targetStart = ++i;
  // request-target bytes are visible ASCII only (RFC 3986 characters).
  while (i < lineEnd && buf[i] > 0x20 && buf[i] < 0x7f) i++;
  if (i === targetStart || i >= lineEnd || buf[i] !== SP) {
    return fail(400, "Malformed request line");
  }
  const target = text.slice(targetStart - start, i - start);
  i++;
  if (
    lineEnd - i !== 8 || buf[i] !== 72 || buf[i + 1] !== 84 ||
    buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 ||
    buf[i + 6] !== 46 || !isDigit(buf[i + 5]) || !isDigit(buf[i + 7])
  ) {
    return fail(400, "Malformed HTTP version");
  }
  // One line-end style per head: RFC 9112 §2.2 lets a server accept a bare
  // LF, but a mixture is how a field hides from a parser that splits on
  // CRLF only (`Dummy: x\nContent-Length: 23\r\n`).
  const crlf = buf[lineEnd] === CR;
  const versionMajor = buf[i + 5] - 48;
  const versionMinor = buf[i + 7] - 48;
  if (versionMajor !== 1) {
    return fail(505, "HTTP version not supported");
  }

  // Header fields: field-name ":" OWS field-value OWS.
  const headers: [string, string][] = [];
  let lineStart = nextLineStart(buf, lineEnd);
  while (lineStart < end) {
    const fieldEnd = lineEndAt(buf, lineStart, end);
    if ((buf[fieldEnd] === CR) !== crlf) {
      return fail(400, "Mixed CRLF and bare LF line ends");
    }
    if (fieldEnd === lineStart) break; // the blank line
    if (buf[lineStart] === SP || buf[lineStart] === HTAB) {
      return fail(400, "Obsolete line folding is not accepted");
    }
    if (headers.length >= limits.maxHeaderCount) {
      return fail(431, "Too many header fields");
    }
    let j = lineStart;
    while (j < fieldEnd && TOKEN_CHARS[buf[j]] === 1) j++;
    if (j === lineStart || j >= fieldEnd || buf[j] !== COLON) {
      return fail(400, "Malformed header field");
    }
    const name = text.slice(lineStart - start, j - start);
    j++;
    while (j < fieldEnd && (buf[j] === SP || buf[j] === HTAB)) j++;
    let valueEnd = fieldEnd;
    while (
      valueEnd > j && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)
    ) {
      valueEnd--;
    }
    for (let k = j; k < valueEnd; k++) {
      if (FIELD_VALUE_CHARS[buf[k]] === 0) {
        return fail(400, "Invalid character in header field value");
      }
    }
    headers.push([name, text.slice(j - start, valueEnd - start)]);
    lineStart = nextLineStart(buf, fieldEnd);
  }
  return {
    kind: "request",
    head: { method, target, versionMajor, versionMinor, headers },
  };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Returns every value of the header `lowerName` (a lowercase name), in
 * order. Header names compare case-insensitively.
 */
export function headerValues(head: RequestHead, lowerName: string): string[] {
  const out: string[] = [];
  for (const [name, value] of head.headers) {
    if (isNamed(name, lowerName)) out.push(value);
  }
  return out;
}

/**
 * Compares a header name with a lowercase name, ignoring ASCII case,
 * without allocating (this runs several times per header per request).
 */
function isNamed(name: string, lowerName: string): boolean {
  if (name.length !== lowerName.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const lower = c >= 65 && c <= 90 ? c + 32 : c;
    if (lower !== lowerName.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Returns the header `lowerName` combined into one value (field lines
 * joined with ", ", RFC 9110 §5.3), or undefined when it is absent.
 */
export function headerValue(
  head: RequestHead,
  lowerName: string,
): string | undefined {
  let out: string | undefined;
  for (const [name, value] of head.headers) {
    if (isNamed(name, lowerName)) {
      out = out === undefined ? value : out + ", " + value;
    }
  }
  return out;
}

/**
 * Splits a comma-separated list header into elements trimmed of SP and HTAB
 * and ASCII-lowercased, dropping empty ones (RFC 9110 §5.6.1).
 */
export function listTokens(value: string | undefined): string[] {
  if (value === undefined) return [];
  return splitList(value).map(asciiLower);
}
