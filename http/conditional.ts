/**
 * Conditional requests (RFC 9110 §13): entity-tag comparison and the
 * evaluation of If-Match, If-None-Match, If-Modified-Since,
 * If-Unmodified-Since and If-Range, as pure functions of their inputs.
 *
 * @module
 */

import { parseHttpDate } from "./date.ts";
import { skipOws, trimOws } from "./scan.ts";

/** The validators of the current representation of a resource. */
export interface Validators {
  /** Current entity tag, including quotes and any `W/` prefix. */
  etag?: string;
  /** Last modification time (file mtime), milliseconds since the epoch. */
  lastModifiedMs?: number;
}

/**
 * Raw values of the precondition header fields of a request. When a field
 * appears several times the caller joins the values with `", "`.
 */
export interface ConditionalHeaders {
  /** If-Match field value. */
  ifMatch?: string;
  /** If-None-Match field value. */
  ifNoneMatch?: string;
  /** If-Modified-Since field value. */
  ifModifiedSince?: string;
  /** If-Unmodified-Since field value. */
  ifUnmodifiedSince?: string;
}

/**
 * What a request's preconditions say the server should do: serve the request
 * normally, answer 304 Not Modified, or answer 412 Precondition Failed.
 */
export type PreconditionOutcome =
  | "proceed"
  | "not-modified"
  | "precondition-failed";

function isEtagc(code: number): boolean {
  // etagc = %x21 / %x23-7E / obs-text
  return code === 0x21 || (code >= 0x23 && code <= 0x7e) || code >= 0x80;
}

/**
 * Reads one entity-tag starting at `i`; returns the index just past it, or
 * -1 when there is no well-formed entity-tag there.
 */
function scanETag(text: string, i: number): number {
  if (text.startsWith("W/", i)) i += 2;
  if (text[i] !== '"') return -1;
  i++;
  while (i < text.length && isEtagc(text.charCodeAt(i))) i++;
  if (text[i] !== '"') return -1;
  return i + 1;
}

/**
 * Parses an `If-Match` / `If-None-Match` field value: either `*` alone, or a
 * comma-separated list of entity-tags such as `"a", W/"b"` (optional
 * whitespace around commas and empty list elements are tolerated, RFC 9110
 * §5.6.1). Tags are returned verbatim, with quotes and any `W/` prefix.
 *
 * A malformed value yields an empty list, which matches nothing: the value is
 * never trusted partially, and this function never throws.
 */
export function parseETagList(value: string): string[] | "*" {
  if (trimOws(value) === "*") return "*";
  const tags: string[] = [];
  let i = skipOws(value, 0);
  while (i < value.length) {
    if (value[i] === ",") {
      i = skipOws(value, i + 1);
      continue;
    }
    const end = scanETag(value, i);
    if (end < 0) return [];
    tags.push(value.slice(i, end));
    i = skipOws(value, end);
    if (i < value.length && value[i] !== ",") return [];
  }
  return tags;
}

function isWeak(tag: string): boolean {
  return tag.startsWith("W/");
}

function opaqueTag(tag: string): string {
  return isWeak(tag) ? tag.slice(2) : tag;
}

/**
 * Strong comparison (RFC 9110 §8.8.3.2): true when neither entity-tag is weak
 * and both are identical, e.g. `"a"` matches `"a"` but not `W/"a"`.
 */
export function strongMatch(a: string, b: string): boolean {
  return !isWeak(a) && !isWeak(b) && a === b;
}

/**
 * Weak comparison (RFC 9110 §8.8.3.2): true when the opaque tags are
 * identical, whether or not either is marked weak, e.g. `W/"a"` matches `"a"`.
 */
export function weakMatch(a: string, b: string): boolean {
  return opaqueTag(a) === opaqueTag(b);
}

/** Whether a raw header value was sent and carries anything at all. */
function present(value: string | undefined): value is string {
  return value !== undefined && trimOws(value) !== "";
}

/** Drops the sub-second part, since HTTP dates carry whole seconds only. */
function wholeSeconds(epochMs: number): number {
  return Math.floor(epochMs / 1000) * 1000;
}

function listMatches(
  value: string,
  etag: string | undefined,
  compare: (a: string, b: string) => boolean,
): boolean {
  const list = parseETagList(value);
  // A representation always exists when preconditions are evaluated.
  if (list === "*") return true;
  if (etag === undefined) return false;
  return list.some((tag) => compare(tag, etag));
}

/** True when an HTTP-date header says the resource changed after it. */
function modifiedSince(value: string, lastModifiedMs: number): boolean {
  const date = parseHttpDate(value);
  return date !== undefined && wholeSeconds(lastModifiedMs) > date;
}

/** True when an HTTP-date header is valid and the resource is not newer. */
function unmodifiedSince(value: string, lastModifiedMs: number): boolean {
  const date = parseHttpDate(value);
  return date !== undefined && wholeSeconds(lastModifiedMs) <= date;
}

/**
 * Evaluates the preconditions of a request for an existing representation,
 * in the order RFC 9110 §13.2.2 prescribes:
 *
 * 1. If-Match (strong comparison, `*` matches): no match → 412.
 * 2. Otherwise If-Unmodified-Since with a valid date: modified after it → 412.
 * 3. If-None-Match (weak comparison, `*` matches): a match → 304 for GET and
 *    HEAD, 412 for any other method.
 * 4. Otherwise, for GET and HEAD only, If-Modified-Since with a valid date:
 *    not modified after it → 304.
 *
 * Dates compare at one-second resolution (the mtime is floored to whole
 * seconds, as in the Last-Modified field). Invalid dates are ignored; a
 * malformed entity-tag list matches nothing. A header that is present but
 * empty or blank is treated as absent, as it carries no validator. Method
 * names are case-sensitive. Never throws.
 */
export function evaluatePreconditions(
  method: string,
  headers: ConditionalHeaders,
  validators: Validators,
): PreconditionOutcome {
  const { etag, lastModifiedMs } = validators;
  if (present(headers.ifMatch)) {
    if (!listMatches(headers.ifMatch, etag, strongMatch)) {
      return "precondition-failed";
    }
  } else if (
    present(headers.ifUnmodifiedSince) && lastModifiedMs !== undefined &&
    modifiedSince(headers.ifUnmodifiedSince, lastModifiedMs)
  ) {
    return "precondition-failed";
  }
  const safe = method === "GET" || method === "HEAD";
  if (present(headers.ifNoneMatch)) {
    if (listMatches(headers.ifNoneMatch, etag, weakMatch)) {
      return safe ? "not-modified" : "precondition-failed";
    }
  } else if (
    safe && present(headers.ifModifiedSince) && lastModifiedMs !== undefined &&
    unmodifiedSince(headers.ifModifiedSince, lastModifiedMs)
  ) {
    return "not-modified";
  }
  return "proceed";
}

/**
 * Decides whether a Range request may be honoured given its If-Range field
 * (RFC 9110 §13.1.5). An entity-tag allows the range only on a STRONG match
 * with a strong current entity tag (a weak tag never matches); an HTTP-date
 * allows it only when it is valid and exactly equals Last-Modified at
 * one-second resolution. Anything else, including a malformed value, is
 * false, which means: ignore Range and send the whole representation.
 */
export function ifRangeAllowsRange(
  ifRange: string,
  validators: Validators,
): boolean {
  const value = trimOws(ifRange);
  // §13.1.5: a DQUOTE in the first three characters marks an entity-tag.
  if (value.slice(0, 3).includes('"')) {
    const { etag } = validators;
    return scanETag(value, 0) === value.length && etag !== undefined &&
      strongMatch(value, etag);
  }
  const date = parseHttpDate(value);
  const { lastModifiedMs } = validators;
  return date !== undefined && lastModifiedMs !== undefined &&
    wholeSeconds(lastModifiedMs) === date;
}
