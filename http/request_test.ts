import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkIncompleteHead,
  DEFAULT_HEAD_LIMITS,
  findHeadEnd,
  headerValue,
  headerValues,
  type HeadLimits,
  type HeadParseResult,
  isFieldValue,
  isToken,
  listTokens,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "./request.ts";

/** Encodes a string byte for byte (latin1), as a client would send it. */
function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function parse(text: string, limits?: HeadLimits): HeadParseResult {
  const buf = bytes(text);
  return parseRequestHead(buf, 0, buf.length, limits);
}

function parsedHead(text: string, limits?: HeadLimits): RequestHead {
  const result = parse(text, limits);
  if (result.kind !== "request") {
    assert.fail(
      `expected ${JSON.stringify(text)} to parse, got ${result.status} ` +
        result.reason,
    );
  }
  return result.head;
}

function assertStatus(
  text: string,
  status: number,
  message: string,
  limits?: HeadLimits,
): void {
  const result = parse(text, limits);
  assert.equal(
    result.kind === "error" ? result.status : "request",
    status,
    `${message}: ${JSON.stringify(text)}`,
  );
}

function limits(overrides: Partial<HeadLimits>): HeadLimits {
  return { ...DEFAULT_HEAD_LIMITS, ...overrides };
}

function head(
  headers: [string, string][],
  versionMinor = 1,
): RequestHead {
  return { method: "GET", target: "/", versionMajor: 1, versionMinor, headers };
}

// ---------------------------------------------------------------- findHeadEnd

Deno.test("findHeadEnd() finds the blank line that ends a CRLF head", () => {
  const text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const buf = bytes(text);
  assert.equal(findHeadEnd(buf, 0, buf.length, 0), text.length);
});

Deno.test("findHeadEnd() accepts bare LF line ends and mixed ends", () => {
  const cases: [string, string][] = [
    ["LF only", "GET / HTTP/1.1\nHost: a\n\n"],
    ["LF then CRLF blank line", "GET / HTTP/1.1\nHost: a\n\r\n"],
    ["CRLF then LF blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
    ["request line only, LF", "GET / HTTP/1.0\n\n"],
    ["request line only, CRLF", "GET / HTTP/1.0\r\n\r\n"],
  ];
  for (const [name, text] of cases) {
    const buf = bytes(text);
    assert.equal(findHeadEnd(buf, 0, buf.length, 0), text.length, name);
  }
});

Deno.test("findHeadEnd() returns -1 until the blank line is complete", () => {
  const cases: [string, string][] = [
    ["empty", ""],
    ["no line end", "GET / HTTP/1.1"],
    ["one line", "GET / HTTP/1.1\r\n"],
    ["blank line half there", "GET / HTTP/1.1\r\n\r"],
    ["field line without blank line", "GET / HTTP/1.1\r\nHost: a\r\n"],
    ["CR CR LF is not a blank line", "GET / HTTP/1.1\r\n\r\r\n"],
    ["LF CR then other byte", "GET / HTTP/1.1\n\rX"],
  ];
  for (const [name, text] of cases) {
    const buf = bytes(text);
    assert.equal(findHeadEnd(buf, 0, buf.length, 0), -1, name);
  }
});

Deno.test("findHeadEnd() stops at the first head and leaves pipelined bytes", () => {
  const first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  const buf = bytes(first + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(findHeadEnd(buf, 0, buf.length, 0), first.length);
  assert.equal(
    findHeadEnd(buf, first.length, buf.length, first.length),
    buf.length,
  );
});

Deno.test("findHeadEnd() never looks at bytes at or past end", () => {
  const text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const buf = bytes(text);
  for (let end = 0; end < text.length; end++) {
    assert.equal(findHeadEnd(buf, 0, end, 0), -1, `end ${end}`);
  }
  // Stale line ends after `end` must not complete a head.
  const stale = bytes("GET / HTTP/1.1\r\n" + "\n\n\r\n\r\n");
  assert.equal(findHeadEnd(stale, 0, 16, 0), -1);
  assert.equal(findHeadEnd(stale, 0, 17, 0), 17, "LF LF within end");
});

Deno.test("findHeadEnd() sees terminators split across calls", () => {
  const cases: [string, string][] = [
    ["CRLF CRLF", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"],
    ["LF LF", "GET / HTTP/1.1\nHost: a\n\n"],
    ["LF CRLF", "GET / HTTP/1.1\nHost: a\n\r\n"],
  ];
  for (const [name, text] of cases) {
    const buf = bytes(text);
    // Every split inside the last four bytes: the first call sees a prefix,
    // the second resumes from where the first stopped.
    for (let cut = text.length - 4; cut < text.length; cut++) {
      assert.equal(findHeadEnd(buf, 0, cut, 0), -1, `${name} cut ${cut}`);
      assert.equal(
        findHeadEnd(buf, 0, buf.length, cut),
        text.length,
        `${name} resumed at ${cut}`,
      );
    }
  }
});

Deno.test("findHeadEnd() honours a start offset inside the buffer", () => {
  const prefix = "\n\n\r\n"; // blank lines that belong to an earlier read
  const text = prefix + "GET / HTTP/1.1\r\n\r\n";
  const buf = bytes(text);
  assert.equal(
    findHeadEnd(buf, prefix.length, buf.length, prefix.length),
    text.length,
  );
});

// ------------------------------------------------------------- skipEmptyLines

Deno.test("skipEmptyLines() skips CRLF and LF lines before a request", () => {
  const cases: [string, string, number][] = [
    ["nothing to skip", "GET", 0],
    ["one CRLF", "\r\nGET", 2],
    ["one LF", "\nGET", 1],
    ["mixed", "\r\n\n\r\n\nGET", 6],
    ["only blank lines", "\r\n\r\n", 4],
    ["lone CR at the end waits", "\r\n\r", 2],
    ["CR followed by other byte", "\rGET", 0],
    ["space is not a blank line", " \r\nGET", 0],
    ["empty", "", 0],
  ];
  for (const [name, text, expected] of cases) {
    const buf = bytes(text);
    assert.equal(skipEmptyLines(buf, 0, buf.length), expected, name);
  }
});

Deno.test("skipEmptyLines() respects start and end", () => {
  const buf = bytes("XX\r\n\r\nGET");
  assert.equal(skipEmptyLines(buf, 2, buf.length), 6);
  // The LF of the second pair is past `end`: the CR must wait.
  assert.equal(skipEmptyLines(buf, 2, 5), 4);
  assert.equal(skipEmptyLines(buf, 2, 2), 2);
});

// -------------------------------------------------------- checkIncompleteHead

Deno.test("checkIncompleteHead() answers 414 for a request line without end", () => {
  const small = limits({ maxRequestLineBytes: 10, maxHeadBytes: 100 });
  const ok = bytes("GET /12345"); // exactly 10 bytes
  assert.equal(checkIncompleteHead(ok, 0, ok.length, small), undefined);
  const long = bytes("GET /123456"); // 11 bytes
  assert.deepEqual(
    checkIncompleteHead(long, 0, long.length, small)?.status,
    414,
  );
});

Deno.test("checkIncompleteHead() answers 431 for an oversized head once the line ended", () => {
  const small = limits({ maxRequestLineBytes: 100, maxHeadBytes: 20 });
  const ok = bytes("GET / HTTP/1.1\r\nA: b"); // 20 bytes
  assert.equal(ok.length, 20);
  assert.equal(checkIncompleteHead(ok, 0, ok.length, small), undefined);
  const big = bytes("GET / HTTP/1.1\r\nA: bc"); // 21 bytes
  const error = checkIncompleteHead(big, 0, big.length, small);
  assert.equal(error?.kind, "error");
  assert.equal(error?.status, 431);
});

Deno.test("checkIncompleteHead() ignores a line end past `end` and bytes before `start`", () => {
  const small = limits({ maxRequestLineBytes: 5, maxHeadBytes: 1000 });
  const buf = bytes("GET /abc\n");
  // The LF is at index 8; with end = 8 the line has no end yet.
  assert.equal(checkIncompleteHead(buf, 0, 8, small)?.status, 414);
  const offset = bytes("GET /abcdefgh\r\nGET /");
  assert.equal(
    checkIncompleteHead(offset, 15, offset.length, small),
    undefined,
  );
});

Deno.test("checkIncompleteHead() uses the default limits", () => {
  const line = "GET /" + "a".repeat(DEFAULT_HEAD_LIMITS.maxRequestLineBytes);
  const buf = bytes(line);
  assert.equal(
    checkIncompleteHead(buf, 0, buf.length, DEFAULT_HEAD_LIMITS)?.status,
    414,
  );
  assert.equal(
    checkIncompleteHead(buf, 0, 100, DEFAULT_HEAD_LIMITS),
    undefined,
  );
});

Deno.test({
  name:
    "checkIncompleteHead() does not refuse a prefix of a head that parseRequestHead() accepts",
  fn() {
    const small = limits({ maxRequestLineBytes: 16, maxHeadBytes: 1000 });
    const fits = "GET /ab HTTP/1.1"; // 16 bytes, the limit
    assert.equal(fits.length, 16);
    const text = fits + "\r\n\r\n";
    assert.equal(parse(text, small).kind, "request");
    const buf = bytes(text);
    for (let end = 0; end <= buf.length; end++) {
      assert.equal(
        checkIncompleteHead(buf, 0, end, small),
        undefined,
        `prefix of ${end} bytes`,
      );
    }
  },
});

// ----------------------------------------------------- parseRequestHead: valid

Deno.test("parseRequestHead() parses a GET with headers", () => {
  const parsed = parseRequestHead(
    bytes(
      "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
    ),
    0,
    60,
  );
  assert.deepEqual(parsed, {
    kind: "request",
    head: {
      method: "GET",
      target: "/index.html",
      versionMajor: 1,
      versionMinor: 1,
      headers: [["Host", "example.com"], ["Accept", "*/*"]],
    },
  });
});

Deno.test("parseRequestHead() keeps method, target and version exactly", () => {
  const cases: {
    name: string;
    line: string;
    method: string;
    target: string;
    minor: number;
  }[] = [
    {
      name: "HEAD 1.0",
      line: "HEAD /a?b=c HTTP/1.0",
      method: "HEAD",
      target: "/a?b=c",
      minor: 0,
    },
    {
      name: "OPTIONS asterisk",
      line: "OPTIONS * HTTP/1.1",
      method: "OPTIONS",
      target: "*",
      minor: 1,
    },
    {
      name: "absolute-form",
      line: "GET http://Example.COM:8080/a/../b?x#y HTTP/1.1",
      method: "GET",
      target: "http://Example.COM:8080/a/../b?x#y",
      minor: 1,
    },
    {
      name: "authority-form is left to later steps",
      line: "CONNECT example.com:443 HTTP/1.1",
      method: "CONNECT",
      target: "example.com:443",
      minor: 1,
    },
    {
      name: "percent-encoding kept",
      line: "GET /%2e%2e/%00 HTTP/1.1",
      method: "GET",
      target: "/%2e%2e/%00",
      minor: 1,
    },
    {
      name: "lowercase method is a different token",
      line: "get / HTTP/1.1",
      method: "get",
      target: "/",
      minor: 1,
    },
    {
      name: "mixed-case method kept",
      line: "GeT / HTTP/1.1",
      method: "GeT",
      target: "/",
      minor: 1,
    },
    {
      name: "extension method with tchar symbols",
      line: "M-SEARCH!#$%&'*+.^_`|~9 / HTTP/1.1",
      method: "M-SEARCH!#$%&'*+.^_`|~9",
      target: "/",
      minor: 1,
    },
    {
      name: "future minor version",
      line: "GET / HTTP/1.9",
      method: "GET",
      target: "/",
      minor: 9,
    },
  ];
  for (const { name, line, method, target, minor } of cases) {
    const h = parsedHead(line + "\r\n\r\n");
    assert.equal(h.method, method, name);
    assert.equal(h.target, target, name);
    assert.equal(h.versionMajor, 1, name);
    assert.equal(h.versionMinor, minor, name);
    assert.deepEqual(h.headers, [], name);
  }
});

Deno.test("parseRequestHead() accepts a head with bare LF line ends", () => {
  const h = parsedHead("GET / HTTP/1.1\nHost: a\nX-Y: z\n\n");
  assert.deepEqual(h.headers, [["Host", "a"], ["X-Y", "z"]]);
});

Deno.test("parseRequestHead() answers 400 to a head that mixes CRLF and bare LF", () => {
  // A bare LF inside a CRLF head is where a field hides from a parser that
  // only splits on CRLF (RFC 9112 §2.2 allows LF alone, not a mixture).
  const cases: [string, string][] = [
    [
      "bare-LF field hiding a Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nDummy: x\nContent-Length: 23\r\n\r\n",
    ],
    ["LF request line, CRLF fields", "GET / HTTP/1.1\nHost: a\r\n\r\n"],
    ["CRLF request line, LF fields", "GET / HTTP/1.1\r\nHost: a\nX: y\n\n"],
    ["CRLF head, LF blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
    ["LF head, CRLF blank line", "GET / HTTP/1.1\nHost: a\n\r\n"],
    ["request line only, LF then CRLF", "GET / HTTP/1.1\n\r\n"],
    ["request line only, CRLF then LF", "GET / HTTP/1.1\r\n\n"],
    ["one LF field among CRLF", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\nC: 3\r\n\r\n"],
  ];
  for (const [name, text] of cases) assertStatus(text, 400, name);
  // Either style alone is still a request.
  parsedHead("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n");
  parsedHead("GET / HTTP/1.1\nHost: a\nX: y\n\n");
});

Deno.test("parseRequestHead() keeps header names as sent, duplicates and order", () => {
  const h = parsedHead(
    "GET / HTTP/1.1\r\nhOsT: a\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\n\r\n",
  );
  assert.deepEqual(h.headers, [
    ["hOsT", "a"],
    ["X-A", "1"],
    ["x-a", "2"],
    ["X-A", "3"],
  ]);
});

Deno.test("parseRequestHead() trims optional whitespace around values", () => {
  const cases: [string, string, string][] = [
    ["no whitespace", "X:v", "v"],
    ["one space", "X: v", "v"],
    ["tabs and spaces", "X: \t v \t ", "v"],
    ["inner whitespace kept", "X:  a \t b  ", "a \t b"],
    ["empty value", "X:", ""],
    ["only whitespace", "X: \t  ", ""],
  ];
  for (const [name, line, value] of cases) {
    const h = parsedHead(`GET / HTTP/1.1\r\n${line}\r\n\r\n`);
    assert.deepEqual(h.headers, [["X", value]], name);
  }
});

Deno.test("parseRequestHead() accepts obs-text bytes 0x80-0xff in values", () => {
  for (let b = 0x80; b <= 0xff; b++) {
    const value = "a" + String.fromCharCode(b) + "z";
    const h = parsedHead(`GET / HTTP/1.1\r\nX: ${value}\r\n\r\n`);
    assert.deepEqual(h.headers, [["X", value]], `byte 0x${b.toString(16)}`);
  }
});

Deno.test("parseRequestHead() parses only bytes between start and end", () => {
  const before = "junk\r\n\r\n";
  const text = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
  const buf = bytes(before + text + "GET /y HTTP/1.1\r\n");
  const parsed = parseRequestHead(
    buf,
    before.length,
    before.length + text.length,
  );
  assert.equal(parsed.kind, "request");
  if (parsed.kind === "request") {
    assert.equal(parsed.head.target, "/x");
    assert.deepEqual(parsed.head.headers, [["Host", "h"]]);
  }
});

// ---------------------------------------------------- parseRequestHead: errors

Deno.test("parseRequestHead() answers 400 to malformed request lines", () => {
  const cases: [string, string][] = [
    ["empty request line", ""],
    ["method only", "GET"],
    ["missing version", "GET /"],
    ["missing version after space", "GET / "],
    ["missing target", "GET  HTTP/1.1"],
    ["leading space", " GET / HTTP/1.1"],
    ["double space after method", "GET  / HTTP/1.1"],
    ["double space before version", "GET /  HTTP/1.1"],
    ["trailing space", "GET / HTTP/1.1 "],
    ["tab as separator", "GET\t/ HTTP/1.1"],
    ["tab before version", "GET /\tHTTP/1.1"],
    ["parenthesis in method", "GE(T / HTTP/1.1"],
    ["at sign in method", "G@T / HTTP/1.1"],
    ["quote in method", '"GET" / HTTP/1.1'],
    ["slash in method", "GET/ / HTTP/1.1"],
    ["colon in method", "GET: / HTTP/1.1"],
    ["obs-text in method", "G\xc9T / HTTP/1.1"],
    ["NUL in method", "GE\0T / HTTP/1.1"],
    ["NUL in target", "GET /a\0b HTTP/1.1"],
    ["DEL in target", "GET /a\x7fb HTTP/1.1"],
    ["control byte in target", "GET /a\x01b HTTP/1.1"],
    ["obs-text in target", "GET /caf\xe9 HTTP/1.1"],
    ["tab in target", "GET /a\tb HTTP/1.1"],
    ["three-digit version", "GET / HTTP/1.10"],
    ["one-digit version", "GET / HTTP/1"],
    ["two-part minor", "GET / HTTP/1.1.1"],
    ["no dot", "GET / HTTP/11"],
    ["comma", "GET / HTTP/1,1"],
    ["letter version", "GET / HTTP/a.1"],
    ["lowercase HTTP", "GET / http/1.1"],
    ["mixed-case HTTP", "GET / Http/1.1"],
    ["HTTPS name", "GET / HTTPS/1.1"],
    ["space in version", "GET / HTTP /1.1"],
    ["extra token", "GET / HTTP/1.1 extra"],
    ["version only", "HTTP/1.1"],
  ];
  for (const [name, line] of cases) {
    assertStatus(line + "\r\n\r\n", 400, name);
  }
});

Deno.test("parseRequestHead() answers 505 to other major versions", () => {
  const cases: [string, string][] = [
    ["HTTP/2.0", "HTTP/2.0"],
    ["HTTP/3.0", "HTTP/3.0"],
    ["HTTP/0.9", "HTTP/0.9"],
    ["HTTP/0.0", "HTTP/0.0"],
    ["HTTP/9.9", "HTTP/9.9"],
  ];
  for (const [name, version] of cases) {
    assertStatus(`GET / ${version}\r\nHost: a\r\n\r\n`, 505, name);
  }
});

Deno.test("parseRequestHead() answers 400 to malformed header fields", () => {
  const cases: [string, string][] = [
    ["space before colon", "Host : a"],
    ["tab before colon", "Host\t: a"],
    ["missing colon", "Host a"],
    ["empty name", ": a"],
    ["name with space", "X Y: a"],
    ["name with parenthesis", "Ho(st: a"],
    ["name with obs-text", "H\xf3st: a"],
    ["name with NUL", "Ho\0st: a"],
    ["NUL in value", "X: a\0b"],
    ["NUL at value end", "X: a\0"],
    ["DEL in value", "X: a\x7fb"],
    ["ESC in value", "X: a\x1bb"],
    ["vertical tab in value", "X: a\x0bb"],
    ["form feed in value", "X: a\x0cb"],
  ];
  for (const [name, line] of cases) {
    assertStatus(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`, 400, name);
  }
});

Deno.test("parseRequestHead() rejects every control byte in a value", () => {
  for (let b = 0; b < 0x20; b++) {
    if (b === 0x09 || b === 0x0a) continue; // HTAB is allowed; LF ends it
    const text = `GET / HTTP/1.1\r\nX: a${String.fromCharCode(b)}b\r\n\r\n`;
    assertStatus(text, 400, `byte 0x${b.toString(16)}`);
  }
  assertStatus("GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", 400, "DEL");
});

Deno.test("parseRequestHead() rejects obsolete line folding", () => {
  const cases: [string, string][] = [
    ["space fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"],
    ["tab fold", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"],
    ["LF fold", "GET / HTTP/1.1\nX: a\n b\n\n"],
    [
      "whitespace before the first field",
      "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
    ],
  ];
  for (const [name, text] of cases) assertStatus(text, 400, name);
});

Deno.test("parseRequestHead() rejects a bare CR anywhere", () => {
  const cases: [string, string][] = [
    ["in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"],
    ["at a value end", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n"],
    ["in the request line", "GET /\r HTTP/1.1\r\n\r\n"],
    ["after the request line", "GET / HTTP/1.1\r\r\n\r\n"],
    ["as a line end", "GET / HTTP/1.1\rHost: a\r\n\r\n"],
    ["last byte", "GET / HTTP/1.1\r\n\r"],
    ["in a name", "GET / HTTP/1.1\r\nX\r: a\r\n\r\n"],
  ];
  for (const [name, text] of cases) assertStatus(text, 400, name);
});

Deno.test("parseRequestHead() answers 431 to too many header fields", () => {
  const three = limits({ maxHeaderCount: 3 });
  const fields = (n: number) =>
    "GET / HTTP/1.1\r\n" + "X: y\r\n".repeat(n) + "\r\n";
  assert.equal(parse(fields(3), three).kind, "request");
  assertStatus(fields(4), 431, "four fields, limit three", three);
  const max = DEFAULT_HEAD_LIMITS.maxHeaderCount;
  assert.equal(parsedHead(fields(max)).headers.length, max);
  assertStatus(fields(max + 1), 431, "one over the default");
});

Deno.test("parseRequestHead() answers 431 to a head larger than allowed", () => {
  const text = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  assert.equal(
    parse(text, limits({ maxHeadBytes: text.length })).kind,
    "request",
  );
  assertStatus(
    text,
    431,
    "one byte over",
    limits({ maxHeadBytes: text.length - 1 }),
  );
  const big = "GET / HTTP/1.1\r\nX: " +
    "a".repeat(DEFAULT_HEAD_LIMITS.maxHeadBytes) + "\r\n\r\n";
  assertStatus(big, 431, "over the default");
});

Deno.test("parseRequestHead() answers 414 to a request line longer than allowed", () => {
  const line = "GET /abcdef HTTP/1.1";
  const at = limits({ maxRequestLineBytes: line.length });
  assert.equal(parse(line + "\r\n\r\n", at).kind, "request");
  const below = limits({ maxRequestLineBytes: line.length - 1 });
  assertStatus(line + "\r\n\r\n", 414, "one byte over", below);
  assertStatus(line + "\n\n", 414, "one byte over, LF", below);
  const max = DEFAULT_HEAD_LIMITS.maxRequestLineBytes;
  const fits = "GET /" + "a".repeat(max - 14) + " HTTP/1.1";
  assert.equal(fits.length, max);
  assert.equal(parse(fits + "\r\n\r\n").kind, "request");
  const over = "GET /" + "a".repeat(max - 13) + " HTTP/1.1";
  assertStatus(over + "\r\n\r\n", 414, "one over the default");
});

Deno.test("parseRequestHead() error results carry a reason", () => {
  const result = parse("GET / HTTP/2.0\r\n\r\n");
  assert.equal(result.kind, "error");
  if (result.kind === "error") {
    assert.equal(result.status, 505);
    assert.ok(result.reason.length > 0);
    assert.ok(isFieldValue(result.reason), "reason is safe to send");
  }
});

// --------------------------------------------- headerValue(s), listTokens etc.

Deno.test("headerValues() returns every value of a name, case-insensitively", () => {
  const h = head([["Accept", "a"], ["X", "1"], ["ACCEPT", "b"], [
    "accept",
    "",
  ]]);
  assert.deepEqual(headerValues(h, "accept"), ["a", "b", ""]);
  assert.deepEqual(headerValues(h, "x"), ["1"]);
  assert.deepEqual(headerValues(h, "missing"), []);
  assert.deepEqual(headerValues(h, "accep"), [], "no prefix match");
  assert.deepEqual(headerValues(h, "accepts"), [], "no longer match");
});

Deno.test("headerValue() joins repeated fields with a comma", () => {
  const h = head([["Accept", "a"], ["X", "1"], ["accept", "b, c"]]);
  assert.equal(headerValue(h, "accept"), "a, b, c");
  assert.equal(headerValue(h, "x"), "1");
  assert.equal(headerValue(h, "missing"), undefined);
  assert.equal(headerValue(head([["E", ""]]), "e"), "");
});

Deno.test("listTokens() splits, trims, lowercases and drops empty elements", () => {
  const cases: [string, string | undefined, string[]][] = [
    ["absent", undefined, []],
    ["empty", "", []],
    ["one", "close", ["close"]],
    ["case folded", "Keep-Alive", ["keep-alive"]],
    ["spaces and tabs", " a ,\tB\t, c", ["a", "b", "c"]],
    ["empty elements", ",, a ,, ,b,", ["a", "b"]],
    ["only commas", " , , ", []],
  ];
  for (const [name, value, expected] of cases) {
    assert.deepEqual(listTokens(value), expected, name);
  }
});

Deno.test("listTokens() trims only SP and HTAB and folds only ASCII case", () => {
  // Values are latin1-decoded bytes: 0xA0 is U+00A0, which trim() strips.
  const cases: [string, string, string[]][] = [
    ["NBSP before", "\xa0close", ["\xa0close"]],
    ["NBSP after", "close\xa0", ["close\xa0"]],
    ["NBSP around a second element", "a,\xa0keep-alive\xa0", [
      "a",
      "\xa0keep-alive\xa0",
    ]],
    ["NBSP only", "\xa0", ["\xa0"]],
    ["Latin-1 letters keep their case", "CLOSE\xc0", ["close\xc0"]],
  ];
  for (const [name, value, expected] of cases) {
    assert.deepEqual(listTokens(value), expected, name);
  }
});

Deno.test("isToken() accepts exactly the tchar set", () => {
  assert.equal(isToken(""), false);
  assert.equal(isToken("GET"), true);
  assert.equal(isToken("!#$%&'*+-.^_`|~09azAZ"), true);
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    const expected = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(ch);
    assert.equal(isToken(ch), expected, `byte 0x${c.toString(16)}`);
  }
  assert.equal(isToken("a b"), false);
  assert.equal(isToken("\u0100"), false);
  assert.equal(isToken("a\u0147"), false, "no truncation to a byte");
});

Deno.test("isFieldValue() accepts VCHAR, obs-text, SP and HTAB only", () => {
  assert.equal(isFieldValue(""), true);
  assert.equal(isFieldValue("public, max-age=60"), true);
  assert.equal(isFieldValue(" a\tb "), true);
  for (let c = 0; c < 256; c++) {
    const expected = c === 9 || (c >= 0x20 && c !== 0x7f);
    assert.equal(
      isFieldValue(String.fromCharCode(c)),
      expected,
      `byte 0x${c.toString(16)}`,
    );
  }
  assert.equal(isFieldValue("\u20ac"), false, "not a single byte");
  assert.equal(isFieldValue("a\u010a"), false, "no truncation to LF");
});

// ----------------------------------------------------------- property tests

const FRAGMENTS = [
  "GET ",
  "HEAD ",
  "/",
  "/a",
  " ",
  "\t",
  " HTTP/1.1\r\n",
  " HTTP/1.0\n",
  "HTTP/2.0",
  "Host: a\r\n",
  ":",
  "\r",
  "\n",
  "\r\n",
  "\0",
  "\x7f",
  "\xff",
];

const fragmentBytes = fc.array(
  fc.oneof(
    fc.constantFrom(...FRAGMENTS).map(bytes),
    fc.uint8Array({ maxLength: 8 }),
  ),
  { maxLength: 30 },
).map((parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
});

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), fragmentBytes);

const anyLimits = fc.record({
  maxRequestLineBytes: fc.integer({ min: 0, max: 64 }),
  maxHeadBytes: fc.integer({ min: 0, max: 128 }),
  maxHeaderCount: fc.integer({ min: 0, max: 5 }),
});

/** A buffer with `start` and `end` somewhere inside it. */
const bufferWithRange = anyBytes.chain((buf) =>
  fc.tuple(
    fc.constant(buf),
    fc.integer({ min: 0, max: buf.length }),
    fc.integer({ min: 0, max: buf.length }),
  ).map(([b, x, y]) => ({ buf: b, start: Math.min(x, y), end: Math.max(x, y) }))
);

Deno.test("findHeadEnd(), checkIncompleteHead() and parseRequestHead() never throw on arbitrary bytes", () => {
  fc.assert(
    fc.property(
      bufferWithRange,
      fc.option(anyLimits, { nil: undefined }),
      ({ buf, start, end }, lim) => {
        const headEnd = findHeadEnd(buf, start, end, start);
        assert.ok(headEnd === -1 || (headEnd > start && headEnd <= end));
        if (headEnd >= 0) {
          // What it found really is a blank line.
          assert.equal(buf[headEnd - 1], 10);
          assert.ok(
            buf[headEnd - 2] === 10 ||
              (buf[headEnd - 2] === 13 && buf[headEnd - 3] === 10),
          );
        }
        const incomplete = checkIncompleteHead(
          buf,
          start,
          end,
          lim ?? DEFAULT_HEAD_LIMITS,
        );
        assert.ok(
          incomplete === undefined || incomplete.status === 414 ||
            incomplete.status === 431,
        );
        const result = parseRequestHead(buf, start, end, lim);
        if (result.kind === "error") {
          assert.ok([400, 414, 431, 505].includes(result.status));
          assert.ok(result.reason.length > 0);
        } else {
          // Whatever is accepted is well-formed.
          const h = result.head;
          assert.ok(isToken(h.method));
          assert.ok(h.target.length > 0);
          assert.equal(h.versionMajor, 1);
          assert.ok(h.versionMinor >= 0 && h.versionMinor <= 9);
          for (const [name, value] of h.headers) {
            assert.ok(isToken(name), JSON.stringify(name));
            assert.ok(isFieldValue(value), JSON.stringify(value));
            assert.doesNotMatch(value, /^[ \t]|[ \t]$/);
          }
        }
      },
    ),
    { numRuns: 2000 },
  );
});

const TCHARS = "!#$%&'*+-.^_`|~0123456789" +
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const tokenArb = fc.string({
  unit: fc.constantFrom(...TCHARS),
  minLength: 1,
  maxLength: 12,
});

const visibleAscii = fc.integer({ min: 0x21, max: 0x7e }).map((c) =>
  String.fromCharCode(c)
);

const fieldVchar = fc.oneof(
  visibleAscii,
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
);

const fieldValueArb = fc.string({
  unit: fc.oneof(fieldVchar, fc.constantFrom(" ", "\t")),
  maxLength: 30,
}).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ""));

const owsArb = fc.constantFrom("", " ", "\t", "  ", " \t ");
const eolArb = fc.constantFrom("\r\n", "\n");

interface ValidRequest {
  method: string;
  target: string;
  minor: number;
  headers: [string, string][];
  text: string;
  /** True when every line ends the same way (all CRLF or all LF). */
  uniformEol: boolean;
}

const validRequest: fc.Arbitrary<ValidRequest> = fc.record({
  method: tokenArb,
  target: fc.string({ unit: visibleAscii, maxLength: 40 }).map((s) => "/" + s),
  minor: fc.constantFrom(0, 1),
  requestEol: eolArb,
  fields: fc.array(
    fc.record({
      name: tokenArb,
      value: fieldValueArb,
      before: owsArb,
      after: owsArb,
      eol: eolArb,
    }),
    { maxLength: 12 },
  ),
  finalEol: eolArb,
}).map(({ method, target, minor, requestEol, fields, finalEol }) => {
  let text = `${method} ${target} HTTP/1.${minor}${requestEol}`;
  for (const f of fields) {
    text += `${f.name}:${f.before}${f.value}${f.after}${f.eol}`;
  }
  text += finalEol;
  const eols = [requestEol, ...fields.map((f) => f.eol), finalEol];
  return {
    method,
    target,
    minor,
    headers: fields.map((f): [string, string] => [f.name, f.value]),
    text,
    uniformEol: eols.every((e) => e === requestEol),
  };
});

Deno.test("parseRequestHead() returns exactly what a valid request serialized, and refuses mixed line ends", () => {
  fc.assert(
    fc.property(
      validRequest,
      fc.uint8Array({ maxLength: 10 }),
      fc.uint8Array({ maxLength: 10 }),
      (req, before, after) => {
        const head = bytes(req.text);
        const buf = new Uint8Array(before.length + head.length + after.length);
        buf.set(before);
        buf.set(head, before.length);
        buf.set(after, before.length + head.length);
        const start = before.length;
        const headEnd = findHeadEnd(buf, start, buf.length, start);
        assert.equal(headEnd, start + head.length);
        assert.equal(
          checkIncompleteHead(buf, start, headEnd, DEFAULT_HEAD_LIMITS),
          undefined,
        );
        const result = parseRequestHead(buf, start, headEnd);
        if (!req.uniformEol) {
          // Mixed CRLF and bare LF is refused, whatever the fields say.
          assert.equal(result.kind === "error" && result.status, 400);
          return;
        }
        assert.deepEqual(result, {
          kind: "request",
          head: {
            method: req.method,
            target: req.target,
            versionMajor: 1,
            versionMinor: req.minor,
            headers: req.headers,
          },
        });
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("findHeadEnd() called on growing prefixes finds the same end as one call", () => {
  fc.assert(
    fc.property(
      validRequest,
      fc.uint8Array({ maxLength: 12 }),
      fc.constantFrom(10, 13, 0),
      (req, trailing, staleByte) => {
        const text = bytes(req.text);
        const whole = new Uint8Array(text.length + trailing.length);
        whole.set(text);
        whole.set(trailing, text.length);
        const expected = findHeadEnd(whole, 0, whole.length, 0);
        assert.equal(expected, text.length);
        // One split at every point; the bytes past `end` are stale garbage
        // made of line ends, as in a reused read buffer.
        for (let cut = 0; cut <= whole.length; cut++) {
          const buf = new Uint8Array(whole.length).fill(staleByte);
          buf.set(whole.subarray(0, cut));
          const first = findHeadEnd(buf, 0, cut, 0);
          if (first >= 0) {
            assert.equal(first, expected, `found early at cut ${cut}`);
            continue;
          }
          assert.ok(cut < expected, `missed the end at cut ${cut}`);
          buf.set(whole);
          assert.equal(
            findHeadEnd(buf, 0, whole.length, cut),
            expected,
            `resumed at ${cut}`,
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("findHeadEnd() over many reads of random sizes finds the same end", () => {
  fc.assert(
    fc.property(
      validRequest,
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }),
      (req, sizes) => {
        const whole = bytes(req.text + "GET /next HTTP/1.1\r\n\r\n");
        const expected = req.text.length;
        const buf = new Uint8Array(whole.length);
        let end = 0;
        let scanned = 0;
        let found = -1;
        for (let k = 0; found < 0 && end < whole.length; k++) {
          const n = Math.min(sizes[k % sizes.length], whole.length - end);
          buf.set(whole.subarray(end, end + n), end);
          end += n;
          found = findHeadEnd(buf, 0, end, scanned);
          scanned = end;
        }
        assert.equal(found, expected);
      },
    ),
    { numRuns: 500 },
  );
});
