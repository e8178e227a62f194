/**
 * Tests of the HTTP/2 side of the test helpers: the translation of
 * HTTP/1.1 request bytes into HTTP/2 requests and of the answers back,
 * and both HTTP/2 clients against a real server.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  NotTranslatable,
  parseHttp1Requests,
  serializeAsHttp1,
} from "./h2_client.ts";
import {
  FIXTURE_FILES,
  h2RawExchange,
  h2Request,
  makeFixtureTree,
  parseResponses,
  withServer,
} from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("parseHttp1Requests: pipelined requests become HTTP/2 requests", () => {
  const requests = parseHttp1Requests(encoder.encode(
    "GET /a?x=1 HTTP/1.1\r\nHost: example\r\nAccept: text/html\r\n" +
      "Connection: keep-alive\r\nKeep-Alive: 5\r\nTE: gzip\r\n\r\n" +
      "POST /form HTTP/1.1\r\nHOST: example\r\nContent-Length: 3\r\n" +
      "X-Two:  spaced\t\r\nTE: trailers\r\n\r\nabc" +
      "GET http://other:8080/b HTTP/1.1\r\nHost: example\r\n\r\n" +
      "OPTIONS * HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n",
  ));
  assert.deepEqual(requests, [
    {
      method: "GET",
      path: "/a?x=1",
      authority: "example",
      fields: [["accept", "text/html"]],
    },
    {
      method: "POST",
      path: "/form",
      authority: "example",
      fields: [["content-length", "3"], ["x-two", "spaced"], [
        "te",
        "trailers",
      ]],
      body: encoder.encode("abc"),
    },
    {
      method: "GET",
      path: "/b",
      authority: "other:8080",
      scheme: "http",
      fields: [],
    },
    { method: "OPTIONS", path: "*", authority: "example", fields: [] },
  ]);
});

Deno.test("parseHttp1Requests: what only HTTP/1.1 can say is NotTranslatable", () => {
  const host = "Host: t\r\n";
  const cases: [name: string, bytes: string][] = [
    ["HTTP/1.0", `GET / HTTP/1.0\r\n\r\n`],
    ["another major version", `GET / HTTP/2.0\r\n${host}\r\n`],
    ["no Host", "GET / HTTP/1.1\r\n\r\n"],
    ["two Host fields", `GET / HTTP/1.1\r\n${host}${host}\r\n`],
    ["chunked", `POST / HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n`],
    [
      "a list of lengths",
      `POST / HTTP/1.1\r\n${host}Content-Length: 1, 1\r\n\r\nx`,
    ],
    [
      "a body cut short",
      `POST / HTTP/1.1\r\n${host}Content-Length: 5\r\n\r\nab`,
    ],
    ["Expect", `GET / HTTP/1.1\r\n${host}Expect: 100-continue\r\n\r\n`],
    ["obs-fold", `GET / HTTP/1.1\r\n${host}X: a\r\n b\r\n\r\n`],
    ["space before the colon", `GET / HTTP/1.1\r\nHost : t\r\n\r\n`],
    ["bare LF", `GET / HTTP/1.1\n${host}\r\n\r\n`],
    ["NUL in a value", `GET / HTTP/1.1\r\n${host}X: a\0b\r\n\r\n`],
    ["blank line first", `\r\nGET / HTTP/1.1\r\n${host}\r\n`],
    ["authority-form", `CONNECT t:443 HTTP/1.1\r\n${host}\r\n`],
    ["a head cut short", `GET / HTTP/1.1\r\n${host}`],
    [
      "a request after Connection: close",
      `GET / HTTP/1.1\r\n${host}Connection: close\r\n\r\n` +
      `GET / HTTP/1.1\r\n${host}\r\n`,
    ],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(
      () => parseHttp1Requests(encoder.encode(bytes)),
      NotTranslatable,
      name,
    );
  }
});

Deno.test("serializeAsHttp1: answers split again by parseResponses, stray content shows", () => {
  const sized = serializeAsHttp1({
    status: 200,
    fields: [["content-length", "2"], ["etag", '"x"']],
    body: encoder.encode("ok"),
  }, "GET");
  const unsized = serializeAsHttp1({
    status: 200,
    fields: [["content-encoding", "br"]],
    body: encoder.encode("streamed"),
  }, "GET");
  const head = serializeAsHttp1({
    status: 200,
    fields: [["content-encoding", "br"]],
    body: new Uint8Array(0),
  }, "HEAD");
  const notModified = serializeAsHttp1({
    status: 304,
    fields: [["etag", '"x"']],
    body: new Uint8Array(0),
  }, "GET");
  const stream = new Uint8Array([
    ...sized,
    ...unsized,
    ...head,
    ...notModified,
  ]);
  const responses = parseResponses(stream, {
    methods: ["GET", "GET", "HEAD", "GET"],
  });
  assert.deepEqual(responses.map((r) => [r.status, r.reason, r.text]), [
    [200, "OK", "ok"],
    [200, "OK", "streamed"],
    [200, "OK", ""],
    [304, "Not Modified", ""],
  ]);
  assert.equal(responses[0].header("etag"), '"x"');
  // No Content-Length: framed the HTTP/1.1 way, HEAD as GET would be.
  assert.equal(responses[1].header("transfer-encoding"), "chunked");
  assert.equal(responses[2].header("transfer-encoding"), "chunked");
  // Content on a 304 (which HTTP/2 would have carried) is not hidden.
  const stray = serializeAsHttp1({
    status: 304,
    fields: [],
    body: encoder.encode("oops"),
  }, "GET");
  assert.throws(() => parseResponses(stray), /incomplete response #2/);
  assert.match(decoder.decode(stray), /^HTTP\/1\.1 304 Not Modified\r\n\r\n/);
});

Deno.test("both HTTP/2 clients get the same answers from pws, and none from a server without HTTP/2", async () => {
  await using fx = await makeFixtureTree();
  await withServer(async (server) => {
    // node:http2, then (a repeated field name) the frame-layer client.
    const plain = await h2RawExchange(
      server.port,
      "GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n" +
        "HEAD /sub HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    const repeated = await h2RawExchange(
      server.port,
      "GET /notes.txt HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nX-A: 2\r\n\r\n" +
        "HEAD /sub HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
    );
    for (const result of [plain, repeated]) {
      assert.equal(result.h2Error, undefined);
      const [file, redirect] = parseResponses(result.bytes, {
        methods: ["GET", "HEAD"],
      });
      assert.equal(file.status, 200);
      assert.equal(file.text, FIXTURE_FILES["notes.txt"]);
      // HTTP/2 field names arrive in lowercase.
      assert.ok(file.headerList.some(([name]) => name === "content-length"));
      assert.equal(redirect.status, 301);
      assert.equal(redirect.header("location"), "/sub/");
    }
    const direct = await h2Request(server.port, {
      method: "GET",
      path: "/style.css",
      fields: [["accept", "text/css"]],
    });
    assert.equal(direct.status, 200);
    assert.equal(decoder.decode(direct.body), FIXTURE_FILES["style.css"]);
  }, { root: fx.root });
  // With HTTP/2 off the preface gets an HTTP/1.1 error, not an answer.
  await withServer(async (server) => {
    const result = await h2RawExchange(
      server.port,
      "GET /notes.txt HTTP/1.1\r\nHost: t\r\n\r\n",
      { timeoutMs: 3000 },
    );
    assert.equal(result.bytes.length, 0);
    assert.notEqual(result.h2Error, undefined);
  }, { root: fx.root, config: { http2: false } });
});
