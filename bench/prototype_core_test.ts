import assert from "node:assert/strict";
import {
  hasClose,
  hasField,
  headEnd,
  pathOf,
  readyResponses,
} from "./prototype_core.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("headEnd finds the blank line within the range only", () => {
  const two = bytes(
    "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const first = headEnd(two, 0, two.length);
  assert.equal(first, 19);
  assert.equal(headEnd(two, first, two.length), two.length);
  assert.equal(headEnd(two, 0, 18), -1); // the CRLF CRLF is cut off
});

Deno.test("pathOf takes the target without its query", () => {
  const b = bytes("GET /1k.bin?x=1 HTTP/1.1\r\n\r\n");
  assert.equal(pathOf(b, 0, b.length), "/1k.bin");
  const c = bytes("GET /1m.bin HTTP/1.1\r\n\r\n");
  assert.equal(pathOf(c, 0, c.length), "/1m.bin");
});

Deno.test("hasClose sees wrk's Connection: close in any case", () => {
  for (
    const [head, close] of [
      ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true],
      ["GET / HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", true],
      ["GET / HTTP/1.1\r\nHost: x\r\n\r\n", false],
    ] as const
  ) {
    const b = bytes(head);
    assert.equal(hasClose(b, 0, b.length), close, head);
  }
});

Deno.test("readyResponses: the body behind a head, with and without close", () => {
  const [keep, close] = readyResponses(bytes("hello"));
  assert.equal(
    text(keep),
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nhello",
  );
  assert.equal(
    text(close),
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
  );
});

Deno.test("hasField finds a field name at the start of a line, in any case", () => {
  const b = bytes(
    'GET / HTTP/1.1\r\nHost: x\r\nif-NONE-match: "a"\r\nX-Range: no\r\n\r\n',
  );
  assert.ok(hasField(b, 0, b.length, "if-none-match"));
  assert.ok(!hasField(b, 0, b.length, "range")); // only inside X-Range
  assert.ok(!hasField(b, 0, b.length, "host:")); // the colon is not the name
  const r = bytes("GET / HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n");
  assert.ok(hasField(r, 0, r.length, "range"));
  assert.ok(!hasField(r, 0, 20, "range")); // cut off before the colon
});
