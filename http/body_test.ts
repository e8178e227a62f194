import assert from "node:assert/strict";
import fc from "fast-check";
import { bodyFraming, ChunkedDecoder, type ChunkedProgress } from "./body.ts";
import type { RequestHead } from "./request.ts";

function head(headers: [string, string][], versionMinor = 1): RequestHead {
  return { method: "GET", target: "/", versionMajor: 1, versionMinor, headers };
}

function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

// ---------------------------------------------------------------- bodyFraming

Deno.test("bodyFraming() finds no body without framing headers", () => {
  assert.deepEqual(bodyFraming(head([])), { kind: "none" });
  assert.deepEqual(bodyFraming(head([["Host", "a"]], 0)), { kind: "none" });
});

Deno.test("bodyFraming() reads a valid Content-Length", () => {
  const cases: [string, [string, string][], number | "none"][] = [
    ["plain", [["Content-Length", "10"]], 10],
    ["lowercase name", [["content-length", "7"]], 7],
    ["zero means no body", [["Content-Length", "0"]], "none"],
    ["leading zeros", [["Content-Length", "007"]], 7],
    ["many zeros", [["Content-Length", "000"]], "none"],
    ["identical lines", [["Content-Length", "5"], ["content-length", "5"]], 5],
    ["identical list", [["Content-Length", "5, 5"]], 5],
    ["identical list without space", [["Content-Length", "5,5"]], 5],
    [
      "identical lists over lines",
      [["Content-Length", "5,5"], ["Content-Length", "5"]],
      5,
    ],
    [
      "fifteen digits",
      [["Content-Length", "999999999999999"]],
      999999999999999,
    ],
    ["HTTP/1.0", [["Content-Length", "3"]], 3],
  ];
  for (const [name, headers, expected] of cases) {
    assert.deepEqual(
      bodyFraming(head(headers)),
      expected === "none"
        ? { kind: "none" }
        : { kind: "length", length: expected },
      name,
    );
  }
  assert.deepEqual(bodyFraming(head([["Content-Length", "3"]], 0)), {
    kind: "length",
    length: 3,
  });
});

Deno.test("bodyFraming() answers 400 to invalid or conflicting Content-Length", () => {
  const cases: [string, [string, string][]][] = [
    ["differing lines", [["Content-Length", "5"], ["Content-Length", "6"]]],
    ["differing list", [["Content-Length", "5, 6"]]],
    ["zero and non-zero", [["Content-Length", "0"], ["Content-Length", "1"]]],
    ["plus sign", [["Content-Length", "+5"]]],
    ["negative", [["Content-Length", "-1"]]],
    ["hex", [["Content-Length", "0x10"]]],
    ["space only", [["Content-Length", " "]]],
    ["empty", [["Content-Length", ""]]],
    ["exponent", [["Content-Length", "1e3"]]],
    ["decimal point", [["Content-Length", "1.0"]]],
    ["inner space", [["Content-Length", "1 0"]]],
    ["letters", [["Content-Length", "ten"]]],
    ["non-ASCII digit", [["Content-Length", "\u0665"]]],
    ["empty list element", [["Content-Length", "5,"]]],
    ["sixteen digits", [["Content-Length", "1234567890123456"]]],
    ["twenty digits", [["Content-Length", "99999999999999999999"]]],
    ["sixteen zeros", [["Content-Length", "0000000000000000"]]],
    // 0xA0 arrives as U+00A0 (latin1), which String.prototype.trim strips.
    ["NBSP before", [["Content-Length", "\xa05"]]],
    ["NBSP after", [["Content-Length", "5\xa0"]]],
    ["NBSP in a list", [["Content-Length", "5, \xa05"]]],
    ["NBSP only", [["Content-Length", "\xa0"]]],
    ["form feed before", [["Content-Length", "\f5"]]],
    ["vertical tab after", [["Content-Length", "5\v"]]],
    ["one space-separated pair", [["Content-Length", "5 5"]]],
  ];
  for (const [name, headers] of cases) {
    const framing = bodyFraming(head(headers));
    assert.equal(framing.kind, "error", name);
    if (framing.kind === "error") assert.equal(framing.status, 400, name);
  }
});

Deno.test("bodyFraming() accepts chunked as the only transfer coding", () => {
  const cases: [string, [string, string][]][] = [
    ["lowercase", [["Transfer-Encoding", "chunked"]]],
    ["capitalized", [["Transfer-Encoding", "Chunked"]]],
    ["uppercase", [["transfer-encoding", "CHUNKED"]]],
    ["padded", [["Transfer-Encoding", " chunked "]]],
    // RFC 9110 §5.6.1: empty list elements do not count.
    ["empty element first", [["Transfer-Encoding", ",chunked"]]],
    ["empty element last", [["Transfer-Encoding", "chunked,"]]],
    ["empty elements around", [["Transfer-Encoding", " , ,chunked , "]]],
    [
      "empty line before",
      [["Transfer-Encoding", ""], ["Transfer-Encoding", "chunked"]],
    ],
    [
      "empty line after",
      [["Transfer-Encoding", "chunked"], ["Transfer-Encoding", ""]],
    ],
  ];
  for (const [name, headers] of cases) {
    assert.deepEqual(bodyFraming(head(headers)), { kind: "chunked" }, name);
  }
  // A future HTTP/1.x knows Transfer-Encoding as well as 1.1 does.
  assert.deepEqual(
    bodyFraming(head([["Transfer-Encoding", "chunked"]], 9)),
    { kind: "chunked" },
  );
});

Deno.test("bodyFraming() refuses ambiguous Transfer-Encoding framing", () => {
  const cases: [string, [string, string][], number, number?][] = [
    [
      "with Content-Length",
      [["Transfer-Encoding", "chunked"], ["Content-Length", "5"]],
      400,
    ],
    [
      "with Content-Length first",
      [["Content-Length", "5"], ["Transfer-Encoding", "chunked"]],
      400,
    ],
    [
      "with Content-Length 0",
      [["Transfer-Encoding", "chunked"], ["Content-Length", "0"]],
      400,
    ],
    ["in HTTP/1.0", [["Transfer-Encoding", "chunked"]], 400, 0],
    [
      "in HTTP/1.0 with Content-Length",
      [["Transfer-Encoding", "chunked"], ["Content-Length", "5"]],
      400,
      0,
    ],
    ["gzip alone", [["Transfer-Encoding", "gzip"]], 400],
    ["chunked not last", [["Transfer-Encoding", "chunked, gzip"]], 400],
    ["empty value", [["Transfer-Encoding", ""]], 400],
    ["only commas", [["Transfer-Encoding", " , ,"]], 400],
    ["NBSP before chunked", [["Transfer-Encoding", "\xa0chunked"]], 400],
    ["NBSP after chunked", [["Transfer-Encoding", "chunked\xa0"]], 400],
    ["form feed before chunked", [["Transfer-Encoding", "\fchunked"]], 400],
    [
      "NBSP element after chunked",
      [["Transfer-Encoding", "chunked,\xa0"]],
      400,
    ],
    ["Kelvin sign", [["Transfer-Encoding", "chun\u212aed"]], 400],
    ["identity", [["Transfer-Encoding", "identity"]], 400],
    ["gzip then chunked", [["Transfer-Encoding", "gzip, chunked"]], 501],
    ["chunked twice", [["Transfer-Encoding", "chunked, chunked"]], 501],
    [
      "chunked twice over lines",
      [["Transfer-Encoding", "chunked"], ["Transfer-Encoding", "chunked"]],
      501,
    ],
    [
      "gzip line then chunked line",
      [["Transfer-Encoding", "gzip"], ["Transfer-Encoding", "chunked"]],
      501,
    ],
  ];
  for (const [name, headers, status, minor] of cases) {
    const framing = bodyFraming(head(headers, minor ?? 1));
    assert.equal(framing.kind, "error", name);
    if (framing.kind === "error") {
      assert.equal(framing.status, status, name);
      assert.ok(framing.reason.length > 0, name);
    }
  }
});

// ------------------------------------------------------------- ChunkedDecoder

interface Decoded {
  progress: ChunkedProgress;
  dataBytes: number;
}

function decodeAll(text: string): Decoded {
  const decoder = new ChunkedDecoder();
  const progress = decoder.feed(bytes(text), 0, text.length);
  return { progress, dataBytes: decoder.dataBytes };
}

/** Feeds `buf` in pieces ending at `cuts`; stops at done or error. */
function decodeInPieces(buf: Uint8Array, cuts: number[]): Decoded & {
  consumed: number;
} {
  const decoder = new ChunkedDecoder();
  let consumed = 0;
  let progress: ChunkedProgress = { consumed: 0, done: false };
  const ends = [...cuts.filter((c) => c > 0 && c < buf.length), buf.length]
    .sort((a, b) => a - b);
  let start = 0;
  for (const end of ends) {
    // A reader keeps unconsumed bytes, so feeding resumes where it stopped.
    progress = decoder.feed(buf, start, end);
    assert.ok(progress.consumed >= 0 && progress.consumed <= end - start);
    consumed += progress.consumed;
    start += progress.consumed;
    if (progress.done || progress.error !== undefined) break;
    assert.equal(start, end, "everything fed is consumed until done");
  }
  return { progress, dataBytes: decoder.dataBytes, consumed };
}

Deno.test("ChunkedDecoder reads well-formed bodies to their end", () => {
  const cases: [string, string, number][] = [
    ["one chunk", "5\r\nhello\r\n0\r\n\r\n", 5],
    ["empty body", "0\r\n\r\n", 0],
    ["two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5],
    ["CRLF inside data", "5\r\nde\r\nf\r\n0\r\n\r\n", 5],
    ["lowercase hex", "a\r\n0123456789\r\n0\r\n\r\n", 10],
    ["uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n", 10],
    ["two-digit hex", "1f\r\n" + "x".repeat(31) + "\r\n0\r\n\r\n", 31],
    ["leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 5],
    ["extension", "5;name=value\r\nhello\r\n0\r\n\r\n", 5],
    ["valueless extension", "5;flag\r\nhello\r\n0;last\r\n\r\n", 5],
    ["quoted extension", '5;a="b c";d=e\r\nhello\r\n0\r\n\r\n', 5],
    ["whitespace before extension", "5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n", 5],
    ["one trailer", "5\r\nhello\r\n0\r\nExpires: never\r\n\r\n", 5],
    ["two trailers", "0\r\nA: 1\r\nB: 2\r\n\r\n", 0],
    ["binary data", "3\r\n\0\xff\n\r\n0\r\n\r\n", 3],
  ];
  for (const [name, body, data] of cases) {
    const { progress, dataBytes } = decodeAll(body);
    assert.deepEqual(progress, { consumed: body.length, done: true }, name);
    assert.equal(dataBytes, data, name);
  }
});

Deno.test("ChunkedDecoder stops at the end of the body and leaves pipelined bytes", () => {
  const body = "4\r\nWiki\r\n0\r\nX: y\r\n\r\n";
  const next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  const buf = bytes(body + next);
  const decoder = new ChunkedDecoder();
  assert.deepEqual(decoder.feed(buf, 0, buf.length), {
    consumed: body.length,
    done: true,
  });
  // With the body at an offset, consumed still counts from `start`.
  const offset = bytes("XYZ" + body + next);
  assert.deepEqual(new ChunkedDecoder().feed(offset, 3, offset.length), {
    consumed: body.length,
    done: true,
  });
});

Deno.test("ChunkedDecoder gives the same result fed one byte at a time", () => {
  const body = "5;x=y\r\nhello\r\n1A\r\n" + "z".repeat(26) +
    "\r\n0\r\nT: v\r\n\r\n";
  const buf = bytes(body + "GET");
  const decoder = new ChunkedDecoder();
  let consumed = 0;
  let done = false;
  for (let i = 0; i < buf.length && !done; i++) {
    const progress = decoder.feed(buf, i, i + 1);
    assert.equal(progress.error, undefined, `byte ${i}`);
    consumed += progress.consumed;
    done = progress.done;
  }
  assert.equal(done, true);
  assert.equal(consumed, body.length);
  assert.equal(decoder.dataBytes, 31);
});

Deno.test("ChunkedDecoder counts data bytes only", () => {
  const decoder = new ChunkedDecoder();
  const part1 = bytes("8;ext=0123456789\r\nabcd");
  assert.deepEqual(decoder.feed(part1, 0, part1.length), {
    consumed: part1.length,
    done: false,
  });
  assert.equal(decoder.dataBytes, 4, "partial chunk data counted as it comes");
  const part2 = bytes("efgh\r\n0;x\r\nTrailer: 123456\r\n\r\n");
  assert.equal(decoder.feed(part2, 0, part2.length).done, true);
  assert.equal(decoder.dataBytes, 8);
});

Deno.test("ChunkedDecoder counts every byte it reads in bytesRead", () => {
  const decoder = new ChunkedDecoder();
  const part1 = bytes("8;ext=0123456789\r\nabcd");
  decoder.feed(part1, 0, part1.length);
  assert.equal(decoder.bytesRead, part1.length, "size line and partial data");
  const rest = "efgh\r\n0;x\r\nTrailer: 123456\r\n\r\n";
  const part2 = bytes(rest + "GET / HTTP/1.1\r\n\r\n");
  assert.equal(decoder.feed(part2, 0, part2.length).done, true);
  assert.equal(
    decoder.bytesRead,
    part1.length + rest.length,
    "sizes, extensions, CRLFs and trailer; not the next request",
  );
  // Extensions alone make a body big, whatever its few data bytes.
  const heavy = new ChunkedDecoder();
  const line = bytes("1;" + "e".repeat(4000) + "\r\nz\r\n");
  for (let i = 0; i < 10; i++) heavy.feed(line, 0, line.length);
  assert.equal(heavy.dataBytes, 10);
  assert.equal(heavy.bytesRead, 10 * line.length);
  // An error counts what was consumed before it.
  const bad = new ChunkedDecoder();
  const badBody = bytes("5\r\nhelloX");
  const progress = bad.feed(badBody, 0, badBody.length);
  assert.equal(bad.bytesRead, progress.consumed);
});

Deno.test("ChunkedDecoder accepts the chunk-ext grammar of RFC 9112 §7.1.1", () => {
  const cases: [string, string][] = [
    ["BWS before the semicolon", "2 ;a=b"],
    ["tabs as BWS", "2\t;\ta\t=\tb"],
    ["BWS everywhere", "2 ; a = b ; c"],
    ["valueless names", "2;a;b;c"],
    ["quoted value with an escaped quote", '2;a="q\\"x"'],
    ["empty quoted value", '2;a=""'],
    ["quoted value with SP, HTAB and separators", '2;a=" \t(),;=@"'],
    ["quoted value with obs-text", '2;a="\xff\\\xfe"'],
    ["quoted-pair of SP and HTAB", '2;a="\\ \\\t"'],
    ["quoted then token then name", '2;a="x";b=y;c'],
    ["BWS after a quoted value", '2;a="x" ;b'],
    ["every tchar", "2;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz"],
  ];
  for (const [name, sizeLine] of cases) {
    const body = sizeLine + "\r\nab\r\n0\r\n\r\n";
    const { progress, dataBytes } = decodeAll(body);
    assert.deepEqual(progress, { consumed: body.length, done: true }, name);
    assert.equal(dataBytes, 2, name);
  }
  // The last chunk carries extensions by the same grammar.
  const last = '0 ; end="yes"\r\n\r\n';
  assert.deepEqual(decodeAll(last).progress, {
    consumed: last.length,
    done: true,
  });
});

Deno.test("ChunkedDecoder answers an error to anything else after the chunk size", () => {
  const cases: [string, string][] = [
    ["second size after a space", "5 5"],
    ["junk after a space", "2 junk"],
    ["junk after a tab", "2\tjunk"],
    ["trailing space", "2 "],
    ["trailing tab", "2\t"],
    ["semicolon without a name", "2;"],
    ["semicolon and BWS only", "2 ; "],
    ["value without a name", "2;=x"],
    ["two semicolons", "2;;a"],
    ["trailing semicolon", "2;a;"],
    ["equals without a value", "2;a="],
    ["equals and BWS only", "2;a= "],
    ["space inside a name", "2;a b"],
    ["space inside a value", "2;a=b c"],
    ["trailing space after a name", "2;a "],
    ["trailing space after a value", "2;a=b "],
    ["trailing space after a quoted value", '2;a="b" '],
    ["two equals", "2;a=b=c"],
    ["comma in a value", "2;a=b,c"],
    ["separator as a value", "2;a=(b)"],
    ["unterminated quoted value", '2;a="x'],
    ["junk after a quoted value", '2;a="x"y'],
    ["control byte in a quoted value", '2;a="\x01"'],
    ["DEL in a quoted value", '2;a="\x7f"'],
    ["quoted-pair of a control byte", '2;a="\\\x01"'],
    ["backslash before the line end", '2;a="x\\'],
    ["NBSP after the size", "2\xa0;a"],
    ["NBSP in a name", "2;a\xa0"],
    ["NBSP as BWS", "2;\xa0a"],
    ["NBSP as a value", "2;a=\xa0"],
    ["quote in a name", '2;a"b"'],
    ["bare LF in a quoted value", '2;a="x\ny"'],
    ["quoted name", '2;"a"'],
  ];
  for (const [name, sizeLine] of cases) {
    // Data of the leading size, so only the line itself can be at fault.
    const data = "x".repeat(parseInt(sizeLine, 16));
    const body = sizeLine + "\r\n" + data + "\r\n0\r\n\r\n";
    const { progress } = decodeAll(body);
    assert.equal(typeof progress.error, "string", name);
    assert.equal(progress.done, false, name);
    assert.ok(progress.consumed <= sizeLine.length, name);
  }
});

Deno.test("ChunkedDecoder bounds every form of chunk extension", () => {
  const cases: [string, string][] = [
    ["long name", "2;" + "a".repeat(5000)],
    ["long token value", "2;a=" + "b".repeat(5000)],
    ["long quoted value", '2;a="' + "b".repeat(5000) + '"'],
    ["long BWS", "2" + " ".repeat(5000) + ";a"],
    ["many short extensions", "2" + ";a".repeat(2500)],
  ];
  for (const [name, sizeLine] of cases) {
    const { progress } = decodeAll(sizeLine + "\r\nab\r\n0\r\n\r\n");
    assert.equal(typeof progress.error, "string", name);
    assert.ok(progress.consumed <= 4200, `${name}: stopped early`);
  }
});

Deno.test("ChunkedDecoder waits for more input without error", () => {
  const prefixes = [
    "",
    "5",
    "5;ext",
    "5\r",
    "5\r\nhel",
    "5\r\nhello",
    "5\r\nhello\r",
    "5\r\nhello\r\n0\r\n",
    "5\r\nhello\r\n0\r\n\r",
    "0\r\nX: y",
    "0\r\nX: y\r\n",
  ];
  for (const text of prefixes) {
    assert.deepEqual(
      decodeAll(text).progress,
      { consumed: text.length, done: false },
      JSON.stringify(text),
    );
  }
});

Deno.test("ChunkedDecoder rejects malformed framing", () => {
  const cases: [string, string][] = [
    ["invalid hex digit", "g\r\n"],
    ["invalid hex after digit", "5x\r\nhello\r\n0\r\n\r\n"],
    ["missing size", "\r\nhello\r\n"],
    ["leading space", " 5\r\nhello\r\n"],
    ["sign", "+5\r\nhello\r\n"],
    ["negative", "-5\r\nhello\r\n"],
    ["0x prefix", "0x5\r\nhello\r\n"],
    ["LF-only size line", "5\nhello\r\n0\r\n\r\n"],
    ["LF-only size line with extension", "5;a\nhello\r\n0\r\n\r\n"],
    ["CR without LF after size", "5\rhello\r\n0\r\n\r\n"],
    ["LF-only after data", "5\r\nhello\n0\r\n\r\n"],
    ["missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n"],
    ["data longer than size", "3\r\nhello\r\n0\r\n\r\n"],
    ["CR without LF after data", "5\r\nhello\r0\r\n\r\n"],
    ["LF-only last chunk", "0\n\n"],
    ["LF-only trailer line end", "0\r\nX: y\n\r\n"],
    ["CR without LF after trailer", "0\r\nX: y\rZ\r\n\r\n"],
    ["NUL in trailer", "0\r\nX: \0\r\n\r\n"],
    ["CR without LF at the end", "0\r\n\r\r"],
    ["control byte in extension", "5;a\x01\r\nhello\r\n"],
    ["DEL in extension", "5;a\x7f\r\nhello\r\n"],
    ["sixteen hex digits", "1000000000000000\r\n"],
    ["sixteen zeros", "0000000000000000\r\n\r\n"],
    ["huge size", "ffffffffffffffffffff\r\n"],
    ["extension too long", "5;" + "a".repeat(5000) + "\r\nhello\r\n"],
    [
      "trailer section too large",
      "0\r\n" + "X: y\r\n".repeat(5000) + "\r\n",
    ],
  ];
  for (const [name, body] of cases) {
    const { progress } = decodeAll(body);
    assert.equal(progress.done, false, name);
    assert.equal(typeof progress.error, "string", name);
    assert.ok(progress.consumed < body.length, name);
  }
});

Deno.test("ChunkedDecoder accepts fifteen hex digits of size", () => {
  const { progress } = decodeAll("fffffffffffffff\r\nabc");
  assert.deepEqual(progress, { consumed: 20, done: false });
});

Deno.test("ChunkedDecoder reports where the error is", () => {
  const { progress } = decodeAll("5\r\nhelloX");
  assert.equal(progress.consumed, 8, "the bytes before the bad one");
  assert.equal(typeof progress.error, "string");
});

Deno.test({
  name: "ChunkedDecoder rejects a bare LF where a trailer line starts",
  fn() {
    const cases: [string, string][] = [
      ["bare LF after last chunk", "0\r\n\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"],
      ["bare LF after trailer", "0\r\nA: b\r\n\n\r\n"],
      ["NUL starting a trailer", "0\r\n\0X: y\r\n\r\n"],
    ];
    for (const [name, body] of cases) {
      const { progress } = decodeAll(body);
      assert.equal(typeof progress.error, "string", name);
      assert.equal(progress.done, false, name);
    }
  },
});

// ----------------------------------------------------------- property tests

const chunkArb = fc.record({
  data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  upper: fc.boolean(),
  zeros: fc.integer({ min: 0, max: 3 }),
  extension: fc.constantFrom("", ";a", ";a=b", ' ;q="x y"', "\t;n=1;m"),
});

const bodyArb = fc.record({
  chunks: fc.array(chunkArb, { maxLength: 6 }),
  lastExtension: fc.constantFrom("", ";end", ";a=b"),
  trailers: fc.array(
    fc.constantFrom("X: y", "Expires: 0", "A-B:", "T: a b\tc"),
    { maxLength: 3 },
  ),
}).map(({ chunks, lastExtension, trailers }) => {
  const parts: Uint8Array[] = [];
  let dataBytes = 0;
  for (const c of chunks) {
    let size = c.data.length.toString(16);
    if (c.upper) size = size.toUpperCase();
    parts.push(bytes("0".repeat(c.zeros) + size + c.extension + "\r\n"));
    parts.push(c.data);
    parts.push(bytes("\r\n"));
    dataBytes += c.data.length;
  }
  parts.push(bytes("0" + lastExtension + "\r\n"));
  for (const t of trailers) parts.push(bytes(t + "\r\n"));
  parts.push(bytes("\r\n"));
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let n = 0;
  for (const p of parts) {
    body.set(p, n);
    n += p.length;
  }
  return { body, dataBytes };
});

Deno.test("ChunkedDecoder finds the same end however the input is split", () => {
  fc.assert(
    fc.property(
      bodyArb,
      fc.uint8Array({ maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      ({ body, dataBytes }, following, rawCuts) => {
        const buf = new Uint8Array(body.length + following.length);
        buf.set(body);
        buf.set(following, body.length);
        const whole = decodeInPieces(buf, []);
        assert.deepEqual(whole.progress, { consumed: body.length, done: true });
        assert.equal(whole.dataBytes, dataBytes);
        const cuts = rawCuts.map((c) => c % (buf.length + 1));
        const pieces = decodeInPieces(buf, cuts);
        assert.equal(pieces.progress.done, true);
        assert.equal(pieces.progress.error, undefined);
        assert.equal(pieces.consumed, body.length);
        assert.equal(pieces.dataBytes, dataBytes);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("ChunkedDecoder fed byte by byte matches one feed", () => {
  fc.assert(
    fc.property(bodyArb, ({ body, dataBytes }) => {
      const everyByte = Array.from({ length: body.length }, (_, i) => i);
      const result = decodeInPieces(body, everyByte);
      assert.equal(result.progress.done, true);
      assert.equal(result.consumed, body.length);
      assert.equal(result.dataBytes, dataBytes);
    }),
    { numRuns: 200 },
  );
});

Deno.test("ChunkedDecoder never throws and never consumes more than it is given", () => {
  const fragment = fc.oneof(
    fc.constantFrom("0", "5", "f", ";", "\r", "\n", "\r\n", " ", "X: y", "\0")
      .map(bytes),
    fc.uint8Array({ maxLength: 6 }),
  );
  const input = fc.array(fragment, { maxLength: 20 }).map((parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let n = 0;
    for (const p of parts) {
      out.set(p, n);
      n += p.length;
    }
    return out;
  });
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 5 }), (buf, cuts) => {
      const result = decodeInPieces(
        buf,
        cuts.map((c) => c % (buf.length + 1)),
      );
      assert.ok(result.consumed <= buf.length);
      assert.ok(result.dataBytes <= result.consumed);
      assert.ok(!(result.progress.done && result.progress.error !== undefined));
    }),
    { numRuns: 1000 },
  );
});
