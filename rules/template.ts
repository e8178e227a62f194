/**
 * The target of a `_redirects` rule (`/blog/:year/:splat`,
 * `https://example.com/x?id=:id`): parsed once into literal text and
 * placeholders, expanded per request with the captured values encoded for
 * where they land (a path segment or a query), so that no captured value
 * can add a segment, a query, a fragment or another host.
 *
 * @module
 */

import { encodeSegment } from "../files/target.ts";
import { asciiLower } from "../http/scan.ts";
import { type Captures, isNameStart, nameEnd, SPLAT_NAME } from "./pattern.ts";

/** Literal text as written, or a placeholder to substitute. */
export type TemplatePart = string | { name: string };

/** A parsed rule target. */
export interface TargetTemplate {
  /** `https://host` of an absolute URL; "" for a path on this site. */
  origin: string;
  /** The path (for a URL: after its authority; may be empty). */
  path: TemplatePart[];
  /** The query after `?`; undefined when the target has none. */
  query: TemplatePart[] | undefined;
  /** `#…` as written, or "". */
  fragment: string;
  /** The target as written. */
  source: string;
}

/** The outcome of {@linkcode parseTarget}. */
export type ParsedTarget =
  | { template: TargetTemplate; unknownNames: string[] }
  | { error: string };

/** True when `text` starts with `http://` or `https://`, in any case. */
export function isAbsoluteUrl(text: string): boolean {
  const head = asciiLower(text.slice(0, 8));
  return head.startsWith("http://") || head.startsWith("https://");
}

/**
 * Parses a target: a path on this site (`/x`, never `//x`, which browsers
 * read as another host) or an absolute `http(s)://` URL without
 * placeholders in its host. `known` holds the names the rule captures;
 * other `:name`s stay literal text (and are reported).
 */
export function parseTarget(
  source: string,
  known: ReadonlySet<string>,
): ParsedTarget {
  let origin = "";
  let rest = source;
  if (isAbsoluteUrl(source)) {
    for (let i = 0; i < source.length; i++) {
      const c = source.charCodeAt(i);
      if (c <= 0x20 || c >= 0x7f) {
        return {
          error: `"${source}": a URL must be ASCII (percent-encode the rest)`,
        };
      }
    }
    const authorityStart = source.indexOf("//") + 2;
    let end = authorityStart;
    while (end < source.length) {
      const c = source.charCodeAt(end);
      if (c === 0x2f || c === 0x3f || c === 0x23) break;
      end++;
    }
    const authority = source.slice(authorityStart, end);
    if (authority === "") return { error: `"${source}": the URL has no host` };
    for (let i = 0; i < authority.length - 1; i++) {
      if (
        authority.charCodeAt(i) === 0x3a &&
        isNameStart(authority.charCodeAt(i + 1))
      ) {
        return {
          error: `"${source}": a placeholder in the host would let requests ` +
            `choose where to redirect`,
        };
      }
    }
    origin = source.slice(0, end);
    rest = source.slice(end);
  } else if (source.charCodeAt(0) !== 0x2f /* / */) {
    return { error: `expected a target path or URL, got "${source}"` };
  } else if (source.charCodeAt(1) === 0x2f || source.charCodeAt(1) === 0x5c) {
    return {
      error: `"${source}": browsers read a target starting with "//" as ` +
        `another host; write the full https:// URL`,
    };
  }
  const hash = rest.indexOf("#");
  const fragment = hash < 0 ? "" : rest.slice(hash);
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const q = beforeHash.indexOf("?");
  const unknownNames: string[] = [];
  const path = parseParts(q < 0 ? beforeHash : beforeHash.slice(0, q), known);
  const query = q < 0 ? undefined : parseParts(beforeHash.slice(q + 1), known);
  for (const parts of [path.unknown, query?.unknown ?? []]) {
    unknownNames.push(...parts);
  }
  return {
    template: {
      origin,
      path: path.parts,
      query: query?.parts,
      fragment,
      source,
    },
    unknownNames,
  };
}

/** Splits text into literals and the `:name`s of `known`. */
function parseParts(
  text: string,
  known: ReadonlySet<string>,
): { parts: TemplatePart[]; unknown: string[] } {
  const parts: TemplatePart[] = [];
  const unknown: string[] = [];
  let literal = "";
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x3a /* : */ && isNameStart(text.charCodeAt(i + 1))) {
      const end = nameEnd(text, i + 1);
      const name = text.slice(i + 1, end);
      if (known.has(name)) {
        if (literal !== "") parts.push(literal);
        literal = "";
        parts.push({ name });
      } else {
        unknown.push(name);
        literal += text.slice(i, end);
      }
      i = end;
      continue;
    }
    literal += text[i];
    i++;
  }
  if (literal !== "") parts.push(literal);
  return { parts, unknown };
}

/** Where a substituted value lands, which decides how it is encoded. */
type Context = "path" | "query";

/**
 * Expands parts with captured values: in a path each value is encoded as
 * path segments (the splat's segments joined by `/`), in a query as one
 * query component.
 */
export function expandParts(
  parts: readonly TemplatePart[],
  captures: Captures,
  queryValues: ReadonlyMap<string, string>,
  context: Context,
): string {
  let out = "";
  for (const part of parts) {
    if (typeof part === "string") {
      out += part;
      continue;
    }
    if (part.name === SPLAT_NAME && captures.splat !== undefined) {
      out += context === "path"
        ? captures.splat.map(encodeSegment).join("/")
        : encodeURIComponent(captures.splat.join("/"));
      continue;
    }
    const value = captures.params.get(part.name) ??
      queryValues.get(part.name) ?? "";
    out += context === "path"
      ? encodeSegment(value)
      : encodeURIComponent(value);
  }
  return out;
}
