/**
 * Path patterns of `_redirects` and `_headers` (`/blog/:year/*`): parsed
 * once into segments, matched against a request's decoded segments
 * segment by segment. Pure, and linear in the segments: no regular
 * expression ever sees request data.
 *
 * A pattern is a list of segments, each a literal (compared exactly, so
 * case-sensitively) or a `:name` placeholder (any one segment), optionally
 * ended by `*`, the splat, which matches the rest of the path: nothing,
 * one segment or many. Trailing slashes do not count, on either side:
 * `/about` and `/about/` are the same path to a rule, as on Netlify.
 *
 * @module
 */

import { percentDecode } from "../files/target.ts";

/** One segment of a pattern. */
export type PatternSegment =
  | { kind: "literal"; text: string }
  | { kind: "param"; name: string };

/** A parsed path pattern. */
export interface PathPattern {
  /** The segments before the splat, if any. */
  segments: PatternSegment[];
  /** True when the pattern ends in `*`. */
  splat: boolean;
  /** True when every segment is a literal and there is no splat. */
  exact: boolean;
  /** The pattern as written, for messages. */
  source: string;
}

/** What a match captured: placeholders by name, and the splat's segments. */
export interface Captures {
  params: Map<string, string>;
  /** The segments the splat matched (empty when it matched nothing). */
  splat: string[] | undefined;
}

/** The name `*` is substituted as in a target. */
export const SPLAT_NAME = "splat";

/**
 * True for a character that may start a placeholder name: an ASCII letter
 * or `_`.
 */
export function isNameStart(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) ||
    code === 0x5f;
}

/** True for a character that may continue a placeholder name. */
export function isNameChar(code: number): boolean {
  return isNameStart(code) || (code >= 0x30 && code <= 0x39);
}

/** Index just past the placeholder name that starts at `i`. */
export function nameEnd(text: string, i: number): number {
  while (i < text.length && isNameChar(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Parses a pattern that starts with `/`. Returns it, or a message saying
 * what is wrong with it.
 */
export function parsePathPattern(source: string): PathPattern | string {
  if (source.charCodeAt(0) !== 0x2f /* / */) {
    return `expected a path starting with "/", got "${source}"`;
  }
  if (source.includes("?") || source.includes("#")) {
    return `"${source}": a path pattern has no "?" or "#" (write query ` +
      `conditions as key=:value after it)`;
  }
  const segments: PatternSegment[] = [];
  const names = new Set<string>();
  let splat = false;
  let start = 1;
  for (let i = 1; i <= source.length; i++) {
    if (i < source.length && source.charCodeAt(i) !== 0x2f) continue;
    const raw = source.slice(start, i);
    start = i + 1;
    if (raw === "") continue;
    if (splat) return `"${source}": "*" may only end a pattern`;
    if (raw === "*") {
      splat = true;
      continue;
    }
    if (raw.includes("*")) {
      return `"${source}": "*" must be a whole segment at the end ` +
        `(like /assets/*)`;
    }
    if (raw.charCodeAt(0) === 0x3a /* : */) {
      const name = raw.slice(1);
      if (
        name === "" || !isNameStart(name.charCodeAt(0)) ||
        nameEnd(name, 0) !== name.length
      ) {
        return `"${source}": bad placeholder "${raw}" (use letters, digits ` +
          `and _, starting with a letter)`;
      }
      if (name === SPLAT_NAME) {
        return `"${source}": ":${SPLAT_NAME}" names what "*" matches; ` +
          `choose another placeholder name`;
      }
      if (names.has(name)) {
        return `"${source}": placeholder ":${name}" appears twice`;
      }
      names.add(name);
      segments.push({ kind: "param", name });
      continue;
    }
    const text = percentDecode(raw);
    if (text === undefined) {
      return `"${source}": malformed percent-encoding in "${raw}"`;
    }
    if (text === "." || text === ".." || text.includes("/")) {
      // Requests are normalised before matching: such a segment could
      // never match anything.
      return `"${source}": segment "${raw}" can never match a request path`;
    }
    segments.push({ kind: "literal", text });
  }
  return {
    segments,
    splat,
    exact: !splat && segments.every((s) => s.kind === "literal"),
    source,
  };
}

/**
 * Matches a request's decoded segments (no empty ones, no dot segments)
 * against a pattern: the captures, or undefined when it does not match.
 */
export function matchPattern(
  pattern: PathPattern,
  segments: readonly string[],
): Captures | undefined {
  const fixed = pattern.segments;
  if (
    segments.length < fixed.length ||
    (!pattern.splat && segments.length !== fixed.length)
  ) {
    return undefined;
  }
  const params = new Map<string, string>();
  for (let i = 0; i < fixed.length; i++) {
    const s = fixed[i];
    if (s.kind === "param") params.set(s.name, segments[i]);
    else if (s.text !== segments[i]) return undefined;
  }
  return {
    params,
    splat: pattern.splat ? segments.slice(fixed.length) : undefined,
  };
}

/**
 * True when every path `b` matches is also matched by `a`: then a rule on
 * `a` placed before one on `b` leaves `b` nothing to match.
 */
export function covers(a: PathPattern, b: PathPattern): boolean {
  const n = a.segments.length;
  if (n > b.segments.length) return false;
  if (!a.splat && (b.splat || n !== b.segments.length)) return false;
  for (let i = 0; i < n; i++) {
    const sa = a.segments[i];
    const sb = b.segments[i];
    if (sa.kind === "literal") {
      if (sb.kind !== "literal" || sb.text !== sa.text) return false;
    }
  }
  return true;
}

/** The names a pattern captures (`splat` included when it ends in `*`). */
export function capturedNames(pattern: PathPattern): Set<string> {
  const names = new Set<string>();
  for (const s of pattern.segments) if (s.kind === "param") names.add(s.name);
  if (pattern.splat) names.add(SPLAT_NAME);
  return names;
}
