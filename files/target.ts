/**
 * Turning a request-target into a safe path under the served root
 * (RFC 9112 §3.2, RFC 3986 §5.2.4). Pure: no file system access.
 *
 * @module
 */

import { hexDigitValue } from "../http/request.ts";

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

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)([^#]*)$/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * Resolves a request-target in origin-form (`/a/b?q`), absolute-form
 * (`http://host/a/b?q`) or asterisk-form (`*`). The path is percent-decoded
 * exactly once (so `%252e` stays the literal name `%2e`), must be UTF-8,
 * must not contain NUL or backslash, and has its dot-segments removed after
 * decoding, so `..`, `%2e%2e` and friends can never climb above the root.
 */
export function resolveTarget(target: string): TargetResult {
  if (target === "*") return { kind: "asterisk" };
  let pathAndQuery: string;
  if (target.charCodeAt(0) === 47 /* / */) {
    pathAndQuery = target;
  } else {
    const m = ABSOLUTE_FORM.exec(target);
    if (!m || m[1] === "") return fail("Unsupported request-target form");
    pathAndQuery = m[2] === "" ? "/" : m[2];
    if (pathAndQuery.charCodeAt(0) !== 47) {
      pathAndQuery = "/" + pathAndQuery;
    }
  }
  if (pathAndQuery.includes("#")) return fail("Fragment in request-target");
  const q = pathAndQuery.indexOf("?");
  const rawPath = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? "" : pathAndQuery.slice(q + 1);

  const decoded = percentDecode(rawPath);
  if (decoded === undefined) return fail("Malformed percent-encoding");
  if (decoded.includes("\0")) return fail("NUL in path");
  if (decoded.includes("\\")) return fail("Backslash in path");

  const segments: string[] = [];
  const parts = decoded.split("/");
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    const last = i === parts.length - 1;
    if (part === "" || part === ".") {
      if (last) trailingSlash = true;
    } else if (part === "..") {
      segments.pop();
      if (last) trailingSlash = true;
    } else {
      segments.push(part);
    }
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
  // Non-ASCII characters (which request-targets never hold, but callers
  // might pass) take up to 3 UTF-8 bytes per UTF-16 unit.
  const bytes = new Uint8Array(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
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
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      n += utf8Encoder.encodeInto(
        String.fromCodePoint(cp),
        bytes.subarray(n),
      ).written;
    }
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
}

/** True when any segment is a dotfile or dot-directory (`.git`, `.env`). */
export function hasDotSegment(segments: readonly string[]): boolean {
  for (const s of segments) if (s.charCodeAt(0) === 46) return true;
  return false;
}

// Characters left as they are in a path segment (RFC 3986 pchar without
// pct-encoded); everything else is encoded.
const SEGMENT_SAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@]/gu;

/** Percent-encodes one decoded path segment for use in a URL. */
export function encodeSegment(segment: string): string {
  return segment.replace(SEGMENT_SAFE, (ch) => encodeURIComponent(ch));
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
