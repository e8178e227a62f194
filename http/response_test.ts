import assert from "node:assert/strict";
import { parseHttpDate } from "./date.ts";
import { isFieldValue } from "./request.ts";
import {
  currentHttpDate,
  serializeResponseHead,
  STATUS_REASONS,
  statusHasNoContent,
  statusLine,
} from "./response.ts";

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

Deno.test("statusLine() writes HTTP/1.1, the code and its reason", () => {
  const cases: [number, string][] = [
    [200, "HTTP/1.1 200 OK"],
    [206, "HTTP/1.1 206 Partial Content"],
    [304, "HTTP/1.1 304 Not Modified"],
    [404, "HTTP/1.1 404 Not Found"],
    [413, "HTTP/1.1 413 Content Too Large"],
    [414, "HTTP/1.1 414 URI Too Long"],
    [431, "HTTP/1.1 431 Request Header Fields Too Large"],
    [505, "HTTP/1.1 505 HTTP Version Not Supported"],
    [299, "HTTP/1.1 299 Unknown"],
  ];
  for (const [status, expected] of cases) {
    assert.equal(statusLine(status), expected);
  }
});

Deno.test("STATUS_REASONS holds valid three-digit codes and reason phrases", () => {
  const codes = Object.keys(STATUS_REASONS).map(Number);
  for (const required of [200, 304, 400, 404, 405, 408, 413, 414, 431, 501]) {
    assert.ok(codes.includes(required), `reason for ${required}`);
  }
  for (const code of codes) {
    assert.ok(code >= 100 && code <= 599, String(code));
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) (RFC 9112 §4)
    const reason = STATUS_REASONS[code];
    assert.ok(reason.length > 0 && isFieldValue(reason), reason);
    assert.match(statusLine(code), /^HTTP\/1\.1 [1-5]\d\d [^\r\n]+$/);
  }
});

Deno.test("serializeResponseHead() writes fields in order and ends with a blank line", () => {
  assert.equal(
    serializeResponseHead(204, []),
    "HTTP/1.1 204 No Content\r\n\r\n",
  );
  assert.equal(
    serializeResponseHead(200, [
      ["Content-Type", "text/plain"],
      ["Content-Length", "5"],
      ["Set-Cookie", "a=1"],
      ["Set-Cookie", "b=2"],
    ]),
    "HTTP/1.1 200 OK\r\n" +
      "Content-Type: text/plain\r\n" +
      "Content-Length: 5\r\n" +
      "Set-Cookie: a=1\r\n" +
      "Set-Cookie: b=2\r\n" +
      "\r\n",
  );
  assert.equal(
    serializeResponseHead(404, [["X-Empty", ""]]),
    "HTTP/1.1 404 Not Found\r\nX-Empty: \r\n\r\n",
  );
});

Deno.test("currentHttpDate() formats the given time as an IMF-fixdate", () => {
  assert.equal(currentHttpDate(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
  assert.equal(currentHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
});

Deno.test("currentHttpDate() reuses the value within a second and changes with it", () => {
  const base = 1700000000000; // Tue, 14 Nov 2023 22:13:20 GMT
  const first = currentHttpDate(base);
  assert.equal(first, "Tue, 14 Nov 2023 22:13:20 GMT");
  assert.equal(currentHttpDate(base + 999), first);
  assert.equal(currentHttpDate(base + 1), first);
  assert.equal(currentHttpDate(base + 1000), "Tue, 14 Nov 2023 22:13:21 GMT");
  // The cache follows the second asked for, also going back in time.
  assert.equal(currentHttpDate(base + 500), first);
  assert.equal(currentHttpDate(base - 1), "Tue, 14 Nov 2023 22:13:19 GMT");
  assert.equal(
    currentHttpDate(base + 86_400_000),
    "Wed, 15 Nov 2023 22:13:20 GMT",
  );
});

Deno.test("currentHttpDate() without an argument is the current time", () => {
  const before = Math.floor(Date.now() / 1000) * 1000;
  const text = currentHttpDate();
  const after = Date.now();
  assert.match(text, IMF_FIXDATE);
  const parsed = parseHttpDate(text);
  assert.ok(parsed !== undefined);
  assert.ok(parsed >= before && parsed <= after, text);
});

Deno.test({
  name: "currentHttpDate() formats the second before the epoch",
  async fn() {
    // A fresh copy of the module, whose cache has never been filled.
    const fresh = await import("./response.ts?fresh-cache") as {
      currentHttpDate: (nowMs?: number) => string;
    };
    assert.equal(fresh.currentHttpDate(-500), "Wed, 31 Dec 1969 23:59:59 GMT");
  },
});

Deno.test("statusHasNoContent() is true for 1xx, 204 and 304 only", () => {
  const none = [100, 101, 103, 199, 204, 304];
  const some = [200, 201, 206, 301, 302, 400, 404, 416, 500, 505];
  for (const status of none) assert.equal(statusHasNoContent(status), true);
  for (const status of some) assert.equal(statusHasNoContent(status), false);
});
