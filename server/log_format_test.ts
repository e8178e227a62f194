/**
 * Unit tests of the Common and Combined Log Formats: exact lines, nginx's
 * escaping, and a property: whatever bytes a client puts in the fields,
 * the line is one line that a strict parser of the format reads back to
 * the same fields.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ClfFields,
  clfTime,
  escapeLogField,
  escapeLogUser,
  formatCombinedLine,
  formatCommonLine,
} from "./log_format.ts";

const FIELDS: ClfFields = {
  remote: "203.0.113.7",
  user: undefined,
  time: Date.UTC(2000, 9, 10, 13, 55, 36, 999),
  method: "GET",
  target: "/apache_pb.gif",
  protocol: "HTTP/1.0",
  status: 200,
  bodyBytes: 2326,
  referer: "http://www.example.com/start.html",
  userAgent: "Mozilla/4.08 [en] (Win98; I ;Nav)",
};

Deno.test("formatCommonLine: the CLF example line, to the byte", () => {
  assert.equal(
    formatCommonLine({ ...FIELDS, user: "frank" }),
    '203.0.113.7 - frank [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326',
  );
});

Deno.test("formatCombinedLine: referer and user agent quoted at the end", () => {
  assert.equal(
    formatCombinedLine(FIELDS),
    '203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
  );
});

Deno.test("formatCombinedLine: absent fields are -, %b of nothing is 0, HTTP/2 is HTTP/2.0", () => {
  assert.equal(
    formatCombinedLine({
      ...FIELDS,
      protocol: "HTTP/2",
      status: 304,
      bodyBytes: 0,
      referer: undefined,
      userAgent: "",
    }),
    '203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/2.0" 304 0 "-" "-"',
  );
  assert.match(
    formatCommonLine({ ...FIELDS, method: "-", target: "-", protocol: "-" }),
    / "-" 200 2326$/,
  );
});

Deno.test("escapeLogField: quotes, backslashes, controls and bytes >= 0x7f as \\xHH", () => {
  assert.equal(escapeLogField('a"b'), "a\\x22b");
  assert.equal(escapeLogField("a\\b"), "a\\x5Cb");
  assert.equal(
    escapeLogField("x\r\nGET / HTTP/1.1"),
    "x\\x0D\\x0AGET / HTTP/1.1",
  );
  assert.equal(
    escapeLogField("\x00\x1f\x7f\x80\xff"),
    "\\x00\\x1F\\x7F\\x80\\xFF",
  );
  assert.equal(escapeLogField("tab\there"), "tab\\x09here");
  assert.equal(escapeLogField("plain text [ok] 'x'"), "plain text [ok] 'x'");
  assert.equal(escapeLogField(""), "-");
  assert.equal(escapeLogField("-"), "\\x2D");
  assert.equal(escapeLogField("--"), "--");
  // Not from the wire, but never unescaped: UTF-8 bytes.
  assert.equal(escapeLogField("é€"), "\\xE9\\xE2\\x82\\xAC");
});

Deno.test("escapeLogUser: UTF-8 bytes of the name, escaped", () => {
  assert.equal(escapeLogUser(undefined), "-");
  assert.equal(escapeLogUser("alice"), "alice");
  assert.equal(escapeLogUser("zoë"), "zo\\xC3\\xAB");
  assert.equal(escapeLogUser("a b"), "a\\x20b");
  assert.equal(escapeLogUser("-"), "\\x2D");
});

Deno.test("clfTime: UTC, zero-padded, month by name", () => {
  assert.equal(
    clfTime(Date.UTC(2026, 0, 2, 3, 4, 5)),
    "[02/Jan/2026:03:04:05 +0000]",
  );
  assert.equal(
    clfTime(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
    "[31/Dec/1999:23:59:59 +0000]",
  );
  assert.equal(
    clfTime(Date.UTC(1999, 11, 31, 23, 59, 59, 1)),
    "[31/Dec/1999:23:59:59 +0000]",
  );
});

/** What a strict reader of the Combined format gives back. */
interface ParsedLine {
  remote: string;
  user: string;
  time: string;
  request: string;
  status: string;
  bytes: string;
  referer?: string;
  userAgent?: string;
}

/**
 * A strict Combined/Common parser: fields exactly as the format lays
 * them out, quoted fields made of printable ASCII other than `"` and `\`
 * plus `\xHH` escapes, and nothing else on the line.
 */
function parseClfLine(line: string): ParsedLine | undefined {
  const quoted = String
    .raw`"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\x[0-9A-F]{2})*)"`;
  const word = String.raw`((?:[\x21\x23-\x5b\x5d-\x7e]|\\x[0-9A-F]{2})+)`;
  const pattern = new RegExp(
    String.raw`^(\S+) - ` + word +
      String.raw` (\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]) ` +
      quoted + String.raw` (\d{1,3}) (\d+)(?: ` + quoted + " " + quoted +
      ")?$",
  );
  const m = pattern.exec(line);
  if (m === null) return undefined;
  return {
    remote: m[1],
    user: m[2],
    time: m[3],
    request: m[4],
    status: m[5],
    bytes: m[6],
    referer: m[7],
    userAgent: m[8],
  };
}

/** Reverses the escaping: `-` is empty, `\xHH` is the byte. */
function unescape(field: string): string {
  if (field === "-") return "";
  return field.replace(
    /\\x([0-9A-F]{2})/g,
    (_, hex) => String.fromCharCode(parseInt(hex, 16)),
  );
}

/** Any bytes a client could send, as pws holds them (one unit per byte). */
const anyBytes = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
  .map((bytes) => String.fromCharCode(...bytes));
/** Bytes biased to the dangerous ones. */
const hostileBytes = fc.array(
  fc.constantFrom(
    "\r",
    "\n",
    '"',
    "\\",
    "\\x22",
    " ",
    "-",
    "\x00",
    "\x7f",
    "\xff",
    "a",
  ),
  { maxLength: 12 },
).map((parts) => parts.join(""));

Deno.test("formatCombinedLine: any field bytes give one line that a strict parser reads back (fast-check)", () => {
  const field = fc.oneof(anyBytes, hostileBytes);
  fc.assert(
    fc.property(
      field,
      field,
      field,
      fc.option(field, { nil: undefined }),
      fc.option(field, { nil: undefined }),
      fc.option(fc.string({ maxLength: 10, unit: "grapheme" }), {
        nil: undefined,
      }),
      (method, target, protocol, referer, userAgent, user) => {
        const fields: ClfFields = {
          ...FIELDS,
          method: method === "" ? "GET" : method,
          target,
          protocol,
          referer,
          userAgent,
          user,
        };
        for (
          const line of [formatCombinedLine(fields), formatCommonLine(fields)]
        ) {
          assert.ok(!line.includes("\n") && !line.includes("\r"), line);
          const parsed = parseClfLine(line);
          assert.ok(
            parsed !== undefined,
            `unparsable: ${JSON.stringify(line)}`,
          );
          const version = protocol === "HTTP/2" ? "HTTP/2.0" : protocol;
          assert.equal(
            unescape(parsed.request),
            fields.method === "-"
              ? ""
              : `${fields.method} ${target} ${version}`,
          );
          let userBytes = "";
          for (const b of new TextEncoder().encode(user ?? "")) {
            userBytes += String.fromCharCode(b);
          }
          assert.equal(unescape(parsed.user), userBytes);
          assert.equal(parsed.status, "200");
          assert.equal(parsed.bytes, "2326");
          if (line === formatCombinedLine(fields)) {
            assert.equal(unescape(parsed.referer!), referer ?? "");
            assert.equal(unescape(parsed.userAgent!), userAgent ?? "");
          } else assert.equal(parsed.referer, undefined);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
