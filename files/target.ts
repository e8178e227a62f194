/**
 * Turning a request-target into a safe path under the served root
 * (RFC 9112 §3.2, RFC 3986 §5.2.4). Pure: no file system access.
 *
 * @module
 */

import { hexDigitValue } from "../http/request.ts";
import { asciiLower, asciiSet } from "../http/scan.ts";

/** A request-target reduced to path segments that cannot leave the root. */
export interface ResolvedTarget {
  kind: "path";
  /** Decoded segments with dot-segments removed; never "", "." or "..". */
  segments: string[];
  /** True when the target named a directory (ends in "/", "." or ".."). */
  trailingSlash: boolean;
  /** The query string without "?", exactly as sent (still encoded). */
  query: string;
}

/** The outcome of {@linkcode resolveTarget}. */
export type TargetResult =
  | ResolvedTarget
  | { kind: "asterisk" }
  | { kind: "error"; status: 400; reason: string };

const utf8Encoder = new TextEncoder();

function newUtf8Decoder(): TextDecoder {
  return new TextDecoder("utf-8", { fatal: true });
}

/** Streaming, so it is replaced after an error (see percentDecode). */
let utf8 = newUtf8Decoder();

/**
 * Decoded bytes on their way to `utf8`, reused by every call (zeroing a
 * fresh buffer per call would cost more than the decoding itself).
 */
const decodeScratch = new Uint8Array(8192);

/** Options of {@linkcode resolveTarget}. */
export interface ResolveTargetOptions {
  /**
   * Refuse a decoded backslash (400). On Windows a backslash separates path
   * components, so `..\..` could climb; on POSIX it is an ordinary byte of
   * a file name (only `/` separates), and such files are served. Defaults
   * to true on Windows only.
   */
  refuseBackslash?: boolean;
}

const ON_WINDOWS = Deno.build.os === "windows";

/**
 * Splits an absolute-form target (`http://host/path?q`, RFC 9112 §3.2.2)
 * into its path and query, which the origin-form rules then apply to.
 * Returns an error reason for anything else: another scheme, an empty
 * authority, userinfo (RFC 9110 §4.2.4: `http://user:pass@host/` must be
 * treated as an error), or a fragment.
 */
function absoluteFormPath(target: string): string | { error: string } {
  const lower = asciiLower(target.slice(0, 8));
  const schemeEnd = lower.startsWith("http://")
    ? 7
    : lower.startsWith("https://")
    ? 8
    : -1;
  if (schemeEnd < 0) return { error: "Unsupported request-target form" };
  let authorityEnd = schemeEnd;
  while (authorityEnd < target.length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) break;
    if (c === 0x40 /* @ */) return { error: "Userinfo in request-target" };
    authorityEnd++;
  }
  if (authorityEnd === schemeEnd || target.includes("#", authorityEnd)) {
    return { error: "Unsupported request-target form" };
  }
  const rest = target.slice(authorityEnd);
  return rest.charCodeAt(0) === 0x2f ? rest : "/" + rest;
}

/**
 * Resolves a request-target in origin-form (`/a/b?q`), absolute-form
 * (`http://host/a/b?q`, without userinfo) or asterisk-form (`*`). The path
 * is percent-decoded exactly once (so `%252e` stays the literal name
 * `%2e`), must be UTF-8, must not contain NUL (nor backslash on Windows),
 * and has its dot-segments removed after decoding, so `..`, `%2e%2e` and
 * friends can never climb above the root.
 */
export function resolveTarget(
  target: string,
  options: ResolveTargetOptions = {},
): TargetResult {
  const { refuseBackslash = ON_WINDOWS } = options;
  if (target === "*") return { kind: "asterisk" };
  let pathAndQuery: string;
  if (target.charCodeAt(0) === 47 /* / */) {
    pathAndQuery = target;
  } else {
    const absolute = absoluteFormPath(target);
    if (typeof absolute !== "string") return fail(absolute.error);
    pathAndQuery = absolute;
  }
  if (pathAndQuery.includes("#")) return fail("Fragment in request-target");
  const q = pathAndQuery.indexOf("?");
  const rawPath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? "" : pathAndQuery.slice(q + 1);

  const decoded = percentDecode(rawPath);
  if (decoded === undefined) return fail("Malformed percent-encoding");
  if (decoded.includes("\0")) return fail("NUL in path");
  if (refuseBackslash && decoded.includes("\\")) {
    return fail("Backslash in path");
  }

  // Walk the segments after the leading "/" (no split: a run of slashes
  // costs no empty strings).
  const segments: string[] = [];
  let trailingSlash = false;
  let start = 1;
  for (let i = 1; i <= decoded.length; i++) {
    if (i < decoded.length && decoded.charCodeAt(i) !== 47 /* / */) continue;
    const last = i === decoded.length;
    const length = i - start;
    const dots = length > 0 && length <= 2 &&
      decoded.charCodeAt(start) === 46 &&
      decoded.charCodeAt(i - 1) === 46;
    if (length === 0 || (dots && length === 1)) {
      if (last) trailingSlash = true;
    } else if (dots) {
      segments.pop();
      if (last) trailingSlash = true;
    } else {
      segments.push(decoded.slice(start, i));
    }
    start = i + 1;
  }
  return { kind: "path", segments, trailingSlash, query };
}

/**
 * Percent-decodes a path once and validates the result as UTF-8. Returns
 * undefined for a `%` not followed by two hex digits or for bytes that are
 * not UTF-8.
 */
export function percentDecode(text: string): string | undefined {
  const first = text.indexOf("%");
  if (first < 0) return text;
  try {
    const decoded = decodeInChunks(text);
    if (decoded === undefined) utf8 = newUtf8Decoder();
    return decoded;
  } catch {
    // Invalid UTF-8. A decoder that threw mid-stream keeps what it had
    // buffered: start the next call with a fresh one.
    utf8 = newUtf8Decoder();
    return undefined;
  }
}

/**
 * Decodes escapes into the reused scratch buffer, handing it to the
 * streaming UTF-8 decoder whenever it fills (so any length works without
 * allocating a buffer per call). Throws on invalid UTF-8; undefined for a
 * malformed escape.
 */
function decodeInChunks(text: string): string | undefined {
  const bytes = decodeScratch;
  let out = "";
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    // Room for the longest UTF-8 sequence of one code point.
    if (n > bytes.length - 4) {
      out += utf8.decode(bytes.subarray(0, n), { stream: true });
      n = 0;
    }
    const c = text.charCodeAt(i);
    if (c === 37) {
      const hi = hexDigitValue(text.charCodeAt(i + 1));
      const lo = hexDigitValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      bytes[n++] = hi * 16 + lo;
      i += 2;
    } else if (c < 0x80) {
      bytes[n++] = c;
    } else {
      // Non-ASCII characters, which request-targets never hold but callers
      // might pass.
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      n += utf8Encoder.encodeInto(
        String.fromCodePoint(cp),
        bytes.subarray(n),
      ).written;
    }
  }
  return out + utf8.decode(bytes.subarray(0, n));
}

/** True when any segment is a dotfile or dot-directory (`.git`, `.env`). */
export function hasDotSegment(segments: readonly string[]): boolean {
  for (const s of segments) if (s.charCodeAt(0) === 46) return true;
  return false;
}

// Characters left as they are in a path segment (RFC 3986 pchar without
// pct-encoded); everything else is encoded.
const SEGMENT_SAFE = asciiSet("-._~!$&'()*+,;=:@", true);

/** Percent-encodes one decoded path segment for use in a URL. */
export function encodeSegment(segment: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (SEGMENT_SAFE[c] === 1) continue;
    // A surrogate pair is one character: encode both halves together.
    const width = c >= 0xd800 && c <= 0xdbff &&
        isLowSurrogate(segment.charCodeAt(i + 1))
      ? 2
      : 1;
    out += segment.slice(from, i) +
      encodeURIComponent(segment.slice(i, i + width));
    i += width - 1;
    from = i + 1;
  }
  return from === 0 ? segment : out + segment.slice(from);
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Builds a path on this server from decoded segments: always one leading
 * "/", every segment encoded, so the result can never be read as
 * `//other-host` (an open redirect).
 */
export function buildPath(
  segments: readonly string[],
  trailingSlash: boolean,
): string {
  let out = "";
  for (const s of segments) if (s !== "") out += "/" + encodeSegment(s);
  return trailingSlash || out === "" ? out + "/" : out;
}

function fail(reason: string): TargetResult {
  return { kind: "error", status: 400, reason };
}

/** The decoded URL path of a directory, e.g. `/docs/my files/`. */
export function directoryUrlPath(segments: readonly string[]): string {
  return segments.length === 0 ? "/" : "/" + segments.join("/") + "/";
}
