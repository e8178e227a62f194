/**
 * Planning of `multipart/byteranges` response bodies (RFC 9110 §14.6): the
 * framing bytes and exact length are computed up front, so the sender only
 * has to interleave them with slices of the file.
 *
 * @module
 */

import { type ByteRange, contentRangeValue } from "./range.ts";
import { asciiSet } from "./scan.ts";

/** One part of a multipart body: its framing, then the bytes of `range`. */
export interface MultipartPart {
  /** Delimiter and part header fields, sent just before the range's bytes. */
  head: Uint8Array;
  /** The bytes of the file to send after `head`. */
  range: ByteRange;
}

/** The complete layout of a `multipart/byteranges` body. */
export interface MultipartPlan {
  /** Content-Type of the response: `multipart/byteranges; boundary=…`. */
  contentType: string;
  /** The parts, in order. */
  parts: MultipartPart[];
  /** Close delimiter, sent after the last part. */
  tail: Uint8Array;
  /** Exact body length: all heads, all range lengths and the tail. */
  contentLength: number;
}

// Characters that are both RFC 2046 bchars and RFC 9110 token characters,
// so the boundary parameter never needs quoting; RFC 2046 caps it at 70.
const BOUNDARY_CHARS = asciiSet("'+_-.", true);

function isBoundary(boundary: string): boolean {
  if (boundary.length < 1 || boundary.length > 70) return false;
  for (let i = 0; i < boundary.length; i++) {
    if (BOUNDARY_CHARS[boundary.charCodeAt(i)] !== 1) return false;
  }
  return true;
}
const encoder = new TextEncoder();

function assertValid(
  ranges: ByteRange[],
  size: number,
  partContentType: string,
  boundary: string,
): void {
  if (!isBoundary(boundary)) {
    throw new TypeError(`Invalid multipart boundary: ${boundary}`);
  }
  if (partContentType.includes("\r") || partContentType.includes("\n")) {
    throw new TypeError("Part content type must not contain CR or LF");
  }
  for (const { start, end } of ranges) {
    const ok = Number.isSafeInteger(start) && Number.isSafeInteger(end) &&
      start >= 0 && start <= end && end < size;
    if (!ok) {
      throw new RangeError(`Invalid range ${start}-${end} for size ${size}`);
    }
  }
}

/** Header block of one part; the first part needs no CRLF before it. */
function partHead(
  first: boolean,
  boundary: string,
  partContentType: string,
  contentRange: string,
): string {
  const type = partContentType === ""
    ? ""
    : `Content-Type: ${partContentType}\r\n`;
  return `${first ? "" : "\r\n"}--${boundary}\r\n${type}` +
    `Content-Range: ${contentRange}\r\n\r\n`;
}

/**
 * Plans a `multipart/byteranges` body for the given ranges of a
 * representation of `size` bytes. The body is laid out as
 *
 * ```text
 * --BOUNDARY\r\n
 * Content-Type: <partContentType>\r\n
 * Content-Range: bytes a-b/size\r\n
 * \r\n
 * <bytes a..b>\r\n
 * --BOUNDARY\r\n
 * …
 * <bytes of the last part>\r\n
 * --BOUNDARY--\r\n
 * ```
 *
 * There is no CRLF before the first delimiter (it would only be an empty
 * preamble); every later delimiter is preceded by CRLF, which belongs to the
 * delimiter, not to the previous part's bytes. The Content-Type line is left
 * out of each part when `partContentType` is empty. Ranges are used as given,
 * in order (they are normally the output of `parseRange`).
 *
 * @throws {TypeError} If `boundary` is not 1–70 characters from
 *   `0-9A-Za-z'+_-.`, or `partContentType` contains CR or LF.
 * @throws {RangeError} If a range is not within `[0, size - 1]` with
 *   `start <= end`.
 */
export function planMultipartByteranges(
  ranges: ByteRange[],
  size: number,
  partContentType: string,
  boundary: string,
): MultipartPlan {
  assertValid(ranges, size, partContentType, boundary);
  const parts = ranges.map((range, i): MultipartPart => ({
    head: encoder.encode(
      partHead(
        i === 0,
        boundary,
        partContentType,
        contentRangeValue(range, size),
      ),
    ),
    range: { start: range.start, end: range.end },
  }));
  const tail = encoder.encode(
    `${parts.length === 0 ? "" : "\r\n"}--${boundary}--\r\n`,
  );
  let contentLength = tail.byteLength;
  for (const { head, range } of parts) {
    contentLength += head.byteLength + range.end - range.start + 1;
  }
  return {
    contentType: `multipart/byteranges; boundary=${boundary}`,
    parts,
    tail,
    contentLength,
  };
}

/**
 * Returns a fresh random boundary: 32 lowercase hex digits (128 bits from
 * `crypto.getRandomValues`), so it is vanishingly unlikely to occur inside
 * the file and needs no quoting in the Content-Type parameter.
 */
export function makeBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
