import assert from "node:assert/strict";
import fc from "fast-check";
import {
  makeBoundary,
  type MultipartPlan,
  planMultipartByteranges,
} from "./multipart.ts";
import type { ByteRange } from "./range.ts";

const encoder = new TextEncoder();

/** Assembles the body a sender would write for `plan` over `file`. */
function assemble(plan: MultipartPlan, file: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const { head, range } of plan.parts) {
    chunks.push(head, file.subarray(range.start, range.end + 1));
  }
  chunks.push(plan.tail);
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** One byte per char, so offsets in the text are offsets in the bytes. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

interface ParsedPart {
  headers: Map<string, string>;
  data: Uint8Array;
}

/**
 * A deliberately small, strict multipart parser: every delimiter must be
 * `CRLF--boundary` (the first one without its CRLF), followed by CRLF and
 * header lines, or by `--CRLF` and the end of the body.
 */
function parseMultipart(body: Uint8Array, boundary: string): ParsedPart[] {
  // Prefixing CRLF makes the first delimiter look like all the others.
  const text = "\r\n" + latin1(body);
  const delimiter = `\r\n--${boundary}`;
  const parts: ParsedPart[] = [];
  let pos = 0;
  for (;;) {
    assert.ok(text.startsWith(delimiter, pos), `delimiter at ${pos}`);
    pos += delimiter.length;
    if (text.startsWith("--\r\n", pos)) {
      assert.equal(pos + 4, text.length, "nothing after the close delimiter");
      return parts;
    }
    assert.ok(text.startsWith("\r\n", pos), "CRLF after delimiter");
    const headerEnd = text.indexOf("\r\n\r\n", pos + 2);
    assert.ok(headerEnd >= 0, "end of part headers");
    const headers = new Map<string, string>();
    for (const line of text.slice(pos + 2, headerEnd).split("\r\n")) {
      const colon = line.indexOf(":");
      assert.ok(colon > 0, `header line ${JSON.stringify(line)}`);
      headers.set(
        line.slice(0, colon).toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
    const dataStart = headerEnd + 4;
    const next = text.indexOf(delimiter, dataStart);
    assert.ok(next >= 0, "next delimiter");
    // Undo the two prefixed bytes to index the real body.
    parts.push({ headers, data: body.slice(dataStart - 2, next - 2) });
    pos = next;
  }
}

const FILE = encoder.encode("0123456789abcdefghij");
const BOUNDARY = "BOUNDARY";

Deno.test("planMultipartByteranges() lays out parts and close delimiter", () => {
  const plan = planMultipartByteranges(
    [{ start: 0, end: 2 }, { start: 10, end: 11 }],
    FILE.length,
    "text/plain",
    BOUNDARY,
  );
  const expected = "--BOUNDARY\r\n" +
    "Content-Type: text/plain\r\n" +
    "Content-Range: bytes 0-2/20\r\n" +
    "\r\n" +
    "012" +
    "\r\n--BOUNDARY\r\n" +
    "Content-Type: text/plain\r\n" +
    "Content-Range: bytes 10-11/20\r\n" +
    "\r\n" +
    "ab" +
    "\r\n--BOUNDARY--\r\n";
  const body = assemble(plan, FILE);
  assert.equal(new TextDecoder().decode(body), expected);
  assert.equal(plan.contentLength, body.byteLength);
  assert.equal(plan.contentType, "multipart/byteranges; boundary=BOUNDARY");
});

Deno.test("planMultipartByteranges() handles edge cases of its inputs", () => {
  const cases: {
    name: string;
    ranges: ByteRange[];
    type: string;
    expected: string;
  }[] = [
    {
      name: "no part type omits the Content-Type line",
      ranges: [{ start: 19, end: 19 }],
      type: "",
      expected: "--BOUNDARY\r\nContent-Range: bytes 19-19/20\r\n\r\nj" +
        "\r\n--BOUNDARY--\r\n",
    },
    {
      name: "ranges kept in the given order",
      ranges: [{ start: 5, end: 5 }, { start: 1, end: 1 }],
      type: "",
      expected: "--BOUNDARY\r\nContent-Range: bytes 5-5/20\r\n\r\n5" +
        "\r\n--BOUNDARY\r\nContent-Range: bytes 1-1/20\r\n\r\n1" +
        "\r\n--BOUNDARY--\r\n",
    },
    {
      name: "no ranges leaves only the close delimiter",
      ranges: [],
      type: "text/plain",
      expected: "--BOUNDARY--\r\n",
    },
  ];
  for (const { name, ranges, type, expected } of cases) {
    const plan = planMultipartByteranges(ranges, FILE.length, type, BOUNDARY);
    const body = assemble(plan, FILE);
    assert.equal(new TextDecoder().decode(body), expected, name);
    assert.equal(plan.contentLength, body.byteLength, name);
  }
});

Deno.test("planMultipartByteranges() counts UTF-8 bytes of the part type", () => {
  const plan = planMultipartByteranges(
    [{ start: 0, end: 0 }],
    1,
    "text/plain; title=é",
    BOUNDARY,
  );
  assert.equal(
    plan.contentLength,
    assemble(plan, new Uint8Array(1)).byteLength,
  );
});

Deno.test("planMultipartByteranges() rejects invalid boundaries and part types", () => {
  const cases: { name: string; boundary: string; type?: string }[] = [
    { name: "empty boundary", boundary: "" },
    { name: "71-character boundary", boundary: "a".repeat(71) },
    { name: "space in boundary", boundary: "a b" },
    { name: "quote in boundary", boundary: 'a"b' },
    { name: "slash in boundary", boundary: "a/b" },
    { name: "CRLF in boundary", boundary: "a\r\nb" },
    { name: "colon in boundary", boundary: "a:b" },
    { name: "non-ASCII in boundary", boundary: "a\xe9b" },
    { name: "U+0130 in boundary", boundary: "a\u0130" },
    { name: "CR in part type", boundary: "ok", type: "text/plain\rX: y" },
    { name: "LF in part type", boundary: "ok", type: "text/plain\nX: y" },
  ];
  for (const { name, boundary, type } of cases) {
    assert.throws(
      () =>
        planMultipartByteranges(
          [{ start: 0, end: 0 }],
          1,
          type ?? "text/plain",
          boundary,
        ),
      TypeError,
      name,
    );
  }
  assert.doesNotThrow(() => planMultipartByteranges([], 1, "", "a".repeat(70)));
  assert.doesNotThrow(() => planMultipartByteranges([], 1, "", "09AZaz'+_-."));
});

Deno.test("planMultipartByteranges() rejects ranges outside the file", () => {
  const cases: { name: string; range: ByteRange }[] = [
    { name: "end at size", range: { start: 0, end: 20 } },
    { name: "start after end", range: { start: 5, end: 4 } },
    { name: "negative start", range: { start: -1, end: 4 } },
    { name: "fractional", range: { start: 0.5, end: 4 } },
    { name: "NaN", range: { start: NaN, end: 4 } },
  ];
  for (const { name, range } of cases) {
    assert.throws(
      () => planMultipartByteranges([range], 20, "text/plain", BOUNDARY),
      RangeError,
      name,
    );
  }
});

Deno.test("makeBoundary() returns distinct 32-digit hex boundaries", () => {
  const a = makeBoundary();
  const b = makeBoundary();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, b);
  assert.doesNotThrow(() => planMultipartByteranges([], 0, "", a));
});

Deno.test("planMultipartByteranges() bodies parse back to the requested slices", () => {
  const boundary = fc.string({
    unit: fc.constantFrom(..."0123456789abcXYZ'+_-."),
    minLength: 20,
    maxLength: 70,
  });
  const input = fc.uint8Array({ minLength: 1, maxLength: 2000 }).chain((file) =>
    fc.record({
      file: fc.constant(file),
      ranges: fc.array(
        fc.tuple(
          fc.nat({ max: file.length - 1 }),
          fc.nat({ max: file.length - 1 }),
        ).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
        { maxLength: 10 },
      ),
      type: fc.constantFrom(
        "",
        "application/octet-stream",
        "text/html; charset=utf-8",
      ),
      boundary,
    })
  );
  fc.assert(
    fc.property(input, ({ file, ranges, type, boundary }) => {
      const plan = planMultipartByteranges(ranges, file.length, type, boundary);
      const body = assemble(plan, file);
      assert.equal(plan.contentLength, body.byteLength);
      assert.equal(
        plan.contentType,
        `multipart/byteranges; boundary=${boundary}`,
      );
      const parts = parseMultipart(body, boundary);
      assert.equal(parts.length, ranges.length);
      parts.forEach((part, i) => {
        const { start, end } = ranges[i];
        assert.deepEqual(part.data, file.slice(start, end + 1));
        assert.equal(
          part.headers.get("content-range"),
          `bytes ${start}-${end}/${file.length}`,
        );
        assert.equal(part.headers.get("content-type"), type || undefined);
      });
    }),
  );
});
