/**
 * Byte-range requests (RFC 9110 §14): parsing the Range header field into
 * the ranges to send, and formatting Content-Range values. Pure functions.
 *
 * @module
 */

import {
  asciiLower,
  isOws,
  skipDigits,
  skipOws,
  stripLeadingZeros,
  trimOws,
} from "./scan.ts";

/** A range of bytes; both ends inclusive, as in Content-Range. */
export interface ByteRange {
  /** Offset of the first byte. */
  start: number;
  /** Offset of the last byte (inclusive). */
  end: number;
}

/**
 * What to do with a Range header: ignore it and send the whole
 * representation (200), answer 416 Range Not Satisfiable, or send the given
 * ranges (206; multipart when there are several).
 */
export type RangeDecision =
  | { kind: "full" }
  | { kind: "unsatisfiable" }
  | { kind: "partial"; ranges: ByteRange[] };

/** Options for {@linkcode parseRange}. */
export interface ParseRangeOptions {
  /**
   * Most ranges served after coalescing; a request for more is answered with
   * the whole representation. Defaults to {@linkcode DEFAULT_MAX_RANGES}.
   */
  maxRanges?: number;
}

/** Default for {@linkcode ParseRangeOptions.maxRanges}. */
export const DEFAULT_MAX_RANGES = 100;

/**
 * Ranges separated by fewer bytes than this are merged into one: the gap is
 * cheaper to send than the headers of another multipart part (RFC 9110 §14.6
 * allows coalescing).
 */
export const COALESCE_GAP = 80;

/** A syntactically valid range-spec; `Infinity` stands for a huge number. */
type RangeSpec =
  | { first: number; last: number }
  | { suffix: number };

const FULL: RangeDecision = { kind: "full" };
const UNSATISFIABLE: RangeDecision = { kind: "unsatisfiable" };

/** Exact comparison of decimal digit strings of any length. */
function compareDigits(a: string, b: string): number {
  const x = stripLeadingZeros(a);
  const y = stripLeadingZeros(b);
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Converts digits to a number; beyond the safe range, to `Infinity`. */
function toPosition(digits: string): number {
  const n = Number(stripLeadingZeros(digits));
  // Anything past 2^53 - 1 is beyond any real file, and rounding it could
  // silently turn one position into another.
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}

/** Builds a spec from its two digit strings; `undefined` when invalid. */
function makeSpec(first: string, last: string): RangeSpec | undefined {
  if (first === "") {
    return last === "" ? undefined : { suffix: toPosition(last) };
  }
  if (last === "") return { first: toPosition(first), last: Infinity };
  // RFC 9110 §14.1.1: last-pos < first-pos makes the whole header invalid.
  if (compareDigits(last, first) < 0) return undefined;
  return { first: toPosition(first), last: toPosition(last) };
}

/**
 * Parses `bytes=<range-set>` into range-specs, or `undefined` when the
 * header is malformed or uses another unit. Whitespace is allowed only
 * around commas; empty list elements are skipped. One pass over the value:
 * each range-spec is `*DIGIT "-" *DIGIT`, then OWS, then a comma or the end.
 */
function parseSpecs(header: string): RangeSpec[] | undefined {
  const value = trimOws(header);
  const eq = value.indexOf("=");
  if (eq < 0 || asciiLower(value.slice(0, eq)) !== "bytes") return undefined;
  // Whitespace right after "=" is not next to a comma, so it is an error.
  if (isOws(value.charCodeAt(eq + 1))) return undefined;
  const specs: RangeSpec[] = [];
  let i = eq + 1;
  while (i < value.length) {
    i = skipOws(value, i);
    if (i === value.length) break;
    if (value.charCodeAt(i) === 0x2c /* , */) {
      i++;
      continue;
    }
    const firstEnd = skipDigits(value, i);
    if (value.charCodeAt(firstEnd) !== 0x2d /* - */) return undefined;
    const lastEnd = skipDigits(value, firstEnd + 1);
    const spec = makeSpec(
      value.slice(i, firstEnd),
      value.slice(firstEnd + 1, lastEnd),
    );
    if (spec === undefined) return undefined;
    specs.push(spec);
    i = skipOws(value, lastEnd);
    if (i < value.length && value.charCodeAt(i) !== 0x2c) return undefined;
  }
  return specs.length > 0 ? specs : undefined;
}

/** The bytes a spec selects in a file of `size`, or `undefined` if none. */
function resolveSpec(spec: RangeSpec, size: number): ByteRange | undefined {
  if ("suffix" in spec) {
    if (spec.suffix === 0 || size === 0) return undefined;
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.first >= size) return undefined;
  return { start: spec.first, end: Math.min(spec.last, size - 1) };
}

/**
 * Sorts ranges and merges those that overlap, touch, or are separated by
 * fewer than {@linkcode COALESCE_GAP} bytes.
 */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && range.start - last.end - 1 < COALESCE_GAP) {
      last.end = Math.max(last.end, range.end);
    } else {
      merged.push({ ...range });
    }
  }
  return merged;
}

/**
 * Decides how to answer a Range header (RFC 9110 §14.2) for a
 * representation of `size` bytes.
 *
 * - `"full"` (ignore the header, send 200): the unit is not `bytes`
 *   (compared case-insensitively), or the value is malformed in any way —
 *   e.g. `bytes=`, `bytes=a-b`, `bytes=--2`, `bytes=5-2` (last-pos before
 *   first-pos), a missing `=`, or whitespace anywhere except around commas —
 *   or more than `maxRanges` ranges remain after coalescing. That limit
 *   (default {@linkcode DEFAULT_MAX_RANGES}) stops a request for thousands
 *   of tiny ranges from costing far more than the file itself.
 * - `"unsatisfiable"` (416): no range in the set selects any byte. A range
 *   is unsatisfiable when its first-pos is at or past the end, or it is the
 *   suffix `-0`. For an empty file every range is unsatisfiable, even a
 *   suffix such as `-5`: there is no byte to send, and Content-Range cannot
 *   express an empty range.
 * - `"partial"` (206): the satisfiable ranges, sorted and coalesced when
 *   they overlap, touch, or are separated by fewer than
 *   {@linkcode COALESCE_GAP} bytes (less than the overhead of one more
 *   multipart part), so a response can never be much larger than the file.
 *   A single range left means a single-part 206.
 *
 * Forms: `a-b` (b is clamped to the last byte), `a-` (to the end), `-n` (the
 * last n bytes; the whole file when n exceeds it). Digit strings beyond
 * `Number.MAX_SAFE_INTEGER` mean "to the end" as a last-pos or suffix
 * length and "past the end" as a first-pos. A `size` that is not a
 * non-negative safe integer gives `"full"`. Never throws.
 */
export function parseRange(
  header: string,
  size: number,
  options: ParseRangeOptions = {},
): RangeDecision {
  const { maxRanges = DEFAULT_MAX_RANGES } = options;
  if (!Number.isSafeInteger(size) || size < 0) return FULL;
  const specs = parseSpecs(header);
  if (specs === undefined) return FULL;
  const satisfiable: ByteRange[] = [];
  for (const spec of specs) {
    const range = resolveSpec(spec, size);
    if (range !== undefined) satisfiable.push(range);
  }
  if (satisfiable.length === 0) return UNSATISFIABLE;
  const ranges = coalesce(satisfiable);
  if (ranges.length > maxRanges) return FULL;
  return { kind: "partial", ranges };
}

/**
 * Formats a Content-Range value for a part of a representation of `size`
 * bytes, e.g. `bytes 0-9/100`.
 */
export function contentRangeValue(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/**
 * Formats the Content-Range value of a 416 response, which tells the client
 * the current size with an asterisk instead of a range: for a 100-byte file,
 * `bytes *` immediately followed by `/100`.
 */
export function unsatisfiedRangeValue(size: number): string {
  return `bytes */${size}`;
}
