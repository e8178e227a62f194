/**
 * Attack class: one representation answered for another. A precompressed
 * sidecar (`app.js.gz`) is both the gzip representation of `app.js` and a
 * file of its own; the ready responses pws keeps must never let one stand
 * for the other, or a shared cache in front stores the wrong bytes for
 * everyone. Every order of requests within one second must give each URL
 * its own answer.
 */

import assert from "node:assert/strict";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  makeSettledDir,
  parseResponses,
  rawExchange,
  withServer,
} from "../helpers.ts";

const SCRIPT = "console.log('the identity script');\n".repeat(64);

type Expect = {
  type: string;
  encoding: string | undefined;
  body: string | Uint8Array;
};

const asFile = (gz: Uint8Array): Expect => ({
  type: "application/gzip",
  encoding: undefined,
  body: gz,
});
const identity: Expect = {
  type: "text/javascript; charset=utf-8",
  encoding: undefined,
  body: SCRIPT,
};
const gzipped: Expect = {
  type: "text/javascript; charset=utf-8",
  encoding: "gzip",
  body: SCRIPT,
};

Deno.test("representations: a sidecar's own URL and the file it compresses never share an answer", async () => {
  const gz = new Uint8Array(gzipSync(SCRIPT));
  const root = await makeSettledDir("pws-representation-", {
    "app.js": SCRIPT,
    "app.js.gz": gz,
  });
  try {
    await withServer(async (server) => {
      const requests: [string, string[], Expect][] = [
        ["/app.js", ["Accept-Encoding: gzip"], gzipped],
        ["/app.js.gz", [], asFile(gz)],
        ["/app.js", [], identity],
        ["/app.js.gz", ["Accept-Encoding: gzip"], asFile(gz)],
        ["/app.js", ["Accept-Encoding: gzip"], gzipped],
        ["/app.js", [], identity],
      ];
      // Every order, twice, on keep-alive and closing connections, with
      // GET and HEAD: the ready responses are made and reused in between.
      for (let round = 0; round < 2; round++) {
        for (const method of ["GET", "HEAD"]) {
          for (const close of [false, true]) {
            for (let shift = 0; shift < requests.length; shift++) {
              const order = [
                ...requests.slice(shift),
                ...requests.slice(0, shift),
              ];
              const heads = order.map(([path, extra], i) =>
                [
                  `${method} ${path} HTTP/1.1`,
                  "Host: t",
                  ...extra,
                  ...(close && i === order.length - 1
                    ? ["Connection: close"]
                    : []),
                  "",
                  "",
                ].join("\r\n")
              );
              const { bytes } = await rawExchange(server.port, heads);
              const responses = parseResponses(bytes, {
                methods: order.map(() => method),
              });
              assert.equal(responses.length, order.length);
              responses.forEach((response, i) => {
                const [path, extra, expected] = order[i];
                const what = `${method} ${path} ${extra.join(" ")}`;
                assert.equal(response.status, 200, what);
                assert.equal(
                  response.header("content-type"),
                  expected.type,
                  what,
                );
                assert.equal(
                  response.header("content-encoding"),
                  expected.encoding,
                  what,
                );
                if (method === "HEAD") return;
                const body = expected.encoding === "gzip"
                  ? new TextDecoder().decode(gunzipSync(response.body))
                  : typeof expected.body === "string"
                  ? response.text
                  : response.body;
                assert.deepEqual(body, expected.body, what);
              });
            }
          }
        }
      }
    }, { root });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
