/**
 * Adversarial tests: HTTP/1.1 request framing (RFC 9112 §2.2, §6.3, §7.1;
 * RFC 9110 §5.6), over real sockets on 127.0.0.1.
 *
 * Each disputed framing is sent as a smuggling attempt: a request whose
 * end two parsers could place differently, then a pipelined
 * `GET /secret-marker.txt`. pws must answer 400 (or 501), close by itself,
 * and never answer the hidden request. The valid forms the same rules
 * admit are sent the same way and must get both answers: the parser found
 * the true end of the body.
 *
 * The body-limit cases send exactly limit + 1 body bytes and then wait
 * with the write side open: the server must answer from those bytes
 * alone, so it read at most that many before deciding.
 *
 * Run: `deno test --allow-all tests/adversarial/framing_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type ParsedResponse,
  parseResponses,
  rawExchange,
  withServer,
} from "../helpers.ts";

/** The body limit the server runs with (the default, named here). */
const MAX_BODY = 1024 * 1024;
const MARKER = `PWS-HIDDEN-REQUEST-${crypto.randomUUID()}`;
const HIDDEN = "GET /secret-marker.txt HTTP/1.1\r\nHost: a\r\n\r\n";
const POST = "POST / HTTP/1.1\r\nHost: a\r\n";
const CHUNKED = POST + "Transfer-Encoding: chunked\r\n\r\n";

/** One byte per character: `\xa0` is the byte 0xA0, not UTF-8's C2 A0. */
function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new Error(`U+${c.toString(16)} is not a byte`);
    out[i] = c;
  }
  return out;
}

/** A step name that shows every byte: JSON, with non-ASCII as `\xHH`. */
function shown(text: string): string {
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Runs `fn` against a server whose root holds the marker file. */
async function withFramingServer(
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pws_framing_" });
  try {
    await Deno.writeTextFile(`${root}/index.html`, "<p>index</p>\n");
    await Deno.writeTextFile(`${root}/secret-marker.txt`, `${MARKER}\n`);
    await withServer((server) => fn(server.port), {
      root,
      config: { maxBodyBytes: MAX_BODY },
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function statuses(responses: ParsedResponse[]): number[] {
  return responses.map((r) => r.status);
}

/**
 * Sends `request` with the hidden GET behind it and asserts one refusal
 * with a status from `allowed`, a close by the server, and no trace of
 * the hidden request's answer.
 */
async function assertRefused(
  port: number,
  request: string | Uint8Array,
  allowed: readonly number[] = [400],
): Promise<void> {
  const head = typeof request === "string" ? latin1(request) : request;
  // The write side stays open: the server must close by itself.
  const r = await rawExchange(port, [head, latin1(HIDDEN)], {
    closeWrite: false,
  });
  const text = new TextDecoder().decode(r.bytes);
  assert.ok(!text.includes(MARKER), "the hidden request was never answered");
  const responses = parseResponses(r.bytes);
  assert.equal(responses.length, 1, `one answer, got ${statuses(responses)}`);
  assert.ok(
    allowed.includes(responses[0].status),
    `status ${responses[0].status}, expected one of ${allowed}`,
  );
  assert.equal(responses[0].header("connection"), "close");
  assert.ok(r.closedByServer && !r.timedOut, "the server closed by itself");
}

/**
 * Sends `request` with the GET behind it and asserts both are answered:
 * `firstStatus`, then 200 with the marker.
 */
async function assertBothAnswered(
  port: number,
  request: string,
  firstStatus = 405,
): Promise<void> {
  const r = await rawExchange(port, latin1(request + HIDDEN));
  assert.ok(!r.timedOut, "the server answered within 5 s");
  const responses = parseResponses(r.bytes);
  assert.deepEqual(statuses(responses), [firstStatus, 200]);
  assert.equal(responses[1].text, `${MARKER}\n`);
}

/**
 * Sends a head, then exactly `body` and nothing more, the write side left
 * open, and asserts one answer from `allowed` and a close. Having only
 * these bytes, the server decided after reading at most `body.length`.
 */
async function assertAnsweredFrom(
  port: number,
  head: string,
  body: Uint8Array,
  allowed: readonly number[],
): Promise<void> {
  const r = await rawExchange(port, [latin1(head), body], {
    closeWrite: false,
  });
  assert.ok(
    !r.timedOut,
    `answered after reading at most ${body.length} body bytes`,
  );
  assert.ok(r.closedByServer, "the server closed the connection");
  const responses = parseResponses(r.bytes);
  assert.equal(responses.length, 1, `one answer, got ${statuses(responses)}`);
  assert.ok(
    allowed.includes(responses[0].status),
    `status ${responses[0].status}, expected one of ${allowed}`,
  );
}

/** `unit` repeated and cut to exactly `total` characters. */
function repeatTo(unit: string, total: number): string {
  return unit.repeat(Math.ceil(total / unit.length)).slice(0, total);
}

/** One-byte chunks whose extensions carry the bulk: 4007 bytes each. */
const HEAVY_CHUNK = "1;" + "e".repeat(4000) + "\r\nz\r\n";

/**
 * A complete chunked body of exactly `total` bytes, nearly all of them
 * chunk extensions (each within the per-line bound), about one data byte
 * per 4 KiB.
 */
function extensionHeavyBody(total: number): string {
  const last = "0\r\n\r\n";
  let remaining = total - last.length;
  const parts: string[] = [];
  while (remaining >= 2 * HEAVY_CHUNK.length) {
    parts.push(HEAVY_CHUNK);
    remaining -= HEAVY_CHUNK.length;
  }
  // Two chunks share the rest, so each extension is within bounds.
  const overhead = "1;\r\nz\r\n".length;
  const first = Math.floor(remaining / 2);
  for (const size of [first, remaining - first]) {
    parts.push("1;" + "e".repeat(size - overhead) + "\r\nz\r\n");
  }
  parts.push(last);
  const body = parts.join("");
  assert.equal(body.length, total);
  return body;
}

// ---------------------------------------------------------------------------
// Content-Length: digits only, OWS is SP and HTAB only

Deno.test("framing: Content-Length values other than digits are refused", async (t) => {
  await withFramingServer(async (port) => {
    const cases: [string, string][] = [
      ["NBSP byte before the digits", "\xa05"],
      ["NBSP byte after the digits", "5\xa0"],
      ["NBSP byte in a list", "5, \xa05"],
      ["a plus sign", "+5"],
      ["two values separated by a space", "5 5"],
    ];
    for (const [name, value] of cases) {
      await t.step(
        name,
        () =>
          assertRefused(port, `${POST}Content-Length: ${value}\r\n\r\nhello`),
      );
    }
    await t.step(
      "a list of identical values is one length",
      () =>
        assertBothAnswered(port, `${POST}Content-Length: 5, 5\r\n\r\nhello`),
    );
  });
});

// ---------------------------------------------------------------------------
// Transfer-Encoding: OWS is SP and HTAB only; empty list elements ignored

Deno.test("framing: Transfer-Encoding with an NBSP byte is refused", async (t) => {
  await withFramingServer(async (port) => {
    for (const value of ["\xa0chunked", "chunked\xa0"]) {
      await t.step(shown(value), () =>
        assertRefused(
          port,
          `${POST}Transfer-Encoding: ${value}\r\n\r\n0\r\n\r\n`,
          [400, 501],
        ));
    }
  });
});

Deno.test("framing: empty Transfer-Encoding list elements are ignored", async (t) => {
  await withFramingServer(async (port) => {
    for (const value of [",chunked", "chunked,", " , chunked ,"]) {
      await t.step(shown(value), () =>
        assertBothAnswered(
          port,
          `${POST}Transfer-Encoding: ${value}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
        ));
    }
  });
});

// ---------------------------------------------------------------------------
// Line ends: CRLF or bare LF, never both in one head

Deno.test("framing: a head mixing CRLF and bare LF is refused", async (t) => {
  await withFramingServer(async (port) => {
    const cases: [string, string][] = [
      [
        "a bare-LF field hiding a Content-Length",
        `${POST}Dummy: x\nContent-Length: 5\r\n\r\nhello`,
      ],
      ["a CRLF head ended by a bare LF", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
      ["an LF head ended by CRLF", "GET / HTTP/1.1\nHost: a\n\r\n"],
    ];
    for (const [name, request] of cases) {
      await t.step(name, () => assertRefused(port, request));
    }
    await t.step(
      "a head with bare LF only is still a request",
      () => assertBothAnswered(port, "GET / HTTP/1.1\nHost: a\n\n", 200),
    );
  });
});

Deno.test("framing: Connection is split on SP and HTAB only", async () => {
  await withFramingServer(async (port) => {
    // "\xa0close" is not the token close: the connection stays open.
    await assertBothAnswered(
      port,
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: \xa0close\r\n\r\n",
      200,
    );
  });
});

// ---------------------------------------------------------------------------
// Chunk lines: chunk-size [ BWS ";" chunk-ext ] CRLF, nothing else

Deno.test("framing: chunk lines with junk after the size are refused", async (t) => {
  await withFramingServer(async (port) => {
    const cases: [string, string][] = [
      ["5 5", "hello"],
      ["2 junk", "ab"],
      ["2;", "ab"],
      ["2;=x", "ab"],
      ["2 ", "ab"],
      ['2;a="x', "ab"],
      ["2;a=b c", "ab"],
    ];
    for (const [line, data] of cases) {
      await t.step(
        JSON.stringify(line),
        () => assertRefused(port, `${CHUNKED}${line}\r\n${data}\r\n0\r\n\r\n`),
      );
    }
  });
});

Deno.test("framing: chunk extensions by the RFC 9112 grammar are accepted", async (t) => {
  await withFramingServer(async (port) => {
    for (const line of ["2 ;a=b", '2;a="q\\"x"', "2\t; a = b ; c"]) {
      await t.step(
        JSON.stringify(line),
        () => assertBothAnswered(port, `${CHUNKED}${line}\r\nab\r\n0\r\n\r\n`),
      );
    }
  });
});

// ---------------------------------------------------------------------------
// The body limit counts every byte read for the body

Deno.test("framing: an endless stream of extension-laden chunks gets 413 by the limit", async () => {
  await withFramingServer(async (port) => {
    // About 260 data bytes; the rest is sizes, extensions and CRLFs.
    await assertAnsweredFrom(
      port,
      CHUNKED,
      latin1(repeatTo(HEAVY_CHUNK, MAX_BODY + 1)),
      [413],
    );
  });
});

Deno.test("framing: one endless chunk extension is refused by the limit", async () => {
  await withFramingServer(async (port) => {
    await assertAnsweredFrom(
      port,
      CHUNKED,
      latin1("1;" + "e".repeat(MAX_BODY - 1)),
      [400, 413],
    );
  });
});

Deno.test("framing: a huge trailer section is refused by the limit", async () => {
  await withFramingServer(async (port) => {
    const lines = latin1("0\r\n" + repeatTo("X-T: 12345\r\n", MAX_BODY - 2));
    await assertAnsweredFrom(port, CHUNKED, lines, [400, 413]);
    const oneLine = latin1("0\r\nX-T: " + "a".repeat(MAX_BODY - 7));
    await assertAnsweredFrom(port, CHUNKED, oneLine, [400, 413]);
  });
});

Deno.test("framing: a complete body whose extensions alone pass the limit gets 413", async () => {
  await withFramingServer(async (port) => {
    const body = extensionHeavyBody(MAX_BODY + 1);
    await assertRefused(port, CHUNKED + body, [413]);
  });
});

Deno.test("framing: a body of exactly the limit, extensions included, is accepted", async () => {
  await withFramingServer(async (port) => {
    await assertBothAnswered(port, CHUNKED + extensionHeavyBody(MAX_BODY));
  });
});
