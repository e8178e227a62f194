/**
 * The `_headers` file: blocks of a path pattern on a line of its own
 * (starting with `/`) followed by indented `Name: value` lines, `#`
 * comments. Pure: text in, blocks and messages out (`_headers:4: …`).
 *
 * @module
 */

import { isToken } from "../http/request.ts";
import { asciiLower, isOws, trimOws } from "../http/scan.ts";
import { parsePathPattern, type PathPattern } from "./pattern.ts";
import { hasControl, type ParsedFile, splitLines } from "./redirects.ts";
import { isAbsoluteUrl } from "./template.ts";

import { HEADERS_FILE } from "./names.ts";

export { HEADERS_FILE };

/** One block: a pattern and the fields it adds. */
export interface HeaderBlock {
  /** Line number of its pattern (from 1). */
  line: number;
  pattern: PathPattern;
  /** Fields in the order written. */
  fields: [string, string][];
}

/**
 * Parses the text of a `_headers` file. `refused` maps the lowercase names
 * of fields pws manages itself to the reason; such lines are left out
 * with a warning.
 */
export function parseHeaders(
  text: string,
  refused: ReadonlyMap<string, string>,
): ParsedFile<HeaderBlock> {
  const out: ParsedFile<HeaderBlock> = { items: [], errors: [], warnings: [] };
  // The block header lines belong to; undefined after a pattern that was
  // refused or skipped, whose lines are dropped without more messages.
  let block: HeaderBlock | undefined;
  let inBlock = false;
  const finish = () => {
    if (block !== undefined && block.fields.length === 0) {
      out.warnings.push(
        `${HEADERS_FILE}:${block.line}: no header lines under ` +
          `"${block.pattern.source}"`,
      );
    }
    if (block !== undefined && block.fields.length > 0) out.items.push(block);
    block = undefined;
  };
  const lines = splitLines(text);
  for (let n = 0; n < lines.length; n++) {
    const at = `${HEADERS_FILE}:${n + 1}: `;
    const raw = lines[n];
    if (hasControl(raw)) {
      out.errors.push(at + "control character in the line");
      continue;
    }
    const line = trimOws(raw);
    if (line === "" || line.charCodeAt(0) === 0x23 /* # */) continue;
    if (!isOws(raw.charCodeAt(0))) {
      finish();
      inBlock = true;
      if (isAbsoluteUrl(line)) {
        out.warnings.push(
          at + `"${line}": blocks for other hosts are not supported ` +
            `(pws matches paths only); block ignored`,
        );
        continue;
      }
      if (line.charCodeAt(0) !== 0x2f /* / */) {
        out.errors.push(
          at + `expected a path starting with "/" or an indented ` +
            `"Name: value" line, got "${line}"`,
        );
        continue;
      }
      if (hasOws(line)) {
        out.errors.push(
          at + `"${line}": a path pattern has no spaces (write %20)`,
        );
        continue;
      }
      const pattern = parsePathPattern(line);
      if (typeof pattern === "string") {
        out.errors.push(at + pattern);
        continue;
      }
      block = { line: n + 1, pattern, fields: [] };
      continue;
    }
    if (!inBlock) {
      out.errors.push(at + "a header line before any path pattern");
      continue;
    }
    const field = parseFieldLine(line, refused);
    if ("error" in field) out.errors.push(at + field.error);
    else if ("skip" in field) out.warnings.push(at + field.skip);
    else block?.fields.push(field.field);
  }
  finish();
  return out;
}

function hasOws(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (isOws(text.charCodeAt(i))) return true;
  }
  return false;
}

/** One indented line: `Name: value`. */
function parseFieldLine(
  line: string,
  refused: ReadonlyMap<string, string>,
): { field: [string, string] } | { error: string } | { skip: string } {
  if (line.charCodeAt(0) === 0x21 /* ! */) {
    return {
      skip: `"${line}": removing a field ("! Name", Cloudflare's) is not ` +
        `supported; line ignored`,
    };
  }
  const colon = line.indexOf(":");
  if (colon < 0) return { error: `expected "Name: value", got "${line}"` };
  const name = line.slice(0, colon);
  const value = trimOws(line.slice(colon + 1));
  if (!isToken(name)) {
    return {
      error: `bad field name "${name}" (letters, digits and - only, ` +
        `no space before the colon)`,
    };
  }
  if (value === "") return { error: `no value for ${name}` };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7e) {
      return { error: `the value of ${name} must be ASCII` };
    }
  }
  const reason = refused.get(asciiLower(name));
  if (reason !== undefined) {
    return { skip: `${name} cannot be set here: ${reason}; line ignored` };
  }
  return { field: [name, value] };
}
