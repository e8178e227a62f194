/**
 * Unit tests of the client address behind trusted proxies: RFC 7239
 * `Forwarded` and `X-Forwarded-For`, walked from the right, with hostile
 * values.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  forwardedClient,
  forwardedHops,
  MAX_HOPS,
  parseNode,
  xForwardedForHops,
} from "./forwarded.ts";
import { parseCidr } from "./ip.ts";
import type { RequestHead } from "./request.ts";

const TRUSTED = [parseCidr("10.0.0.0/8")!, parseCidr("::1")!];

function head(...headers: [string, string][]): RequestHead {
  return {
    method: "GET",
    target: "/",
    versionMajor: 1,
    versionMinor: 1,
    headers,
  };
}

function texts(hops: ReturnType<typeof forwardedHops>): (string | undefined)[] {
  return hops.map((h) => h?.text);
}

Deno.test("parseNode: the node forms of RFC 7239 §6 and X-Forwarded-For", () => {
  assert.equal(parseNode("192.0.2.43")?.text, "192.0.2.43");
  assert.equal(parseNode("192.0.2.43:47011")?.text, "192.0.2.43");
  assert.equal(parseNode("[2001:db8:cafe::17]")?.text, "2001:db8:cafe::17");
  assert.equal(
    parseNode("[2001:db8:cafe::17]:4711")?.text,
    "2001:db8:cafe::17",
  );
  assert.equal(parseNode("2001:db8::1")?.text, "2001:db8::1");
  for (
    const bad of [
      "unknown",
      "_hidden",
      "[::1",
      "[::1]x",
      "[::1]:",
      "[::1]:123456",
      "1.2.3.4:",
      "1.2.3.4:x",
      "[1.2.3.4]",
      "fe80::1%eth0",
      "",
      "1.2.3.4 5",
    ]
  ) assert.equal(parseNode(bad), undefined, bad);
});

Deno.test("forwardedHops: elements, pairs, quoting and case", () => {
  assert.deepEqual(
    texts(
      forwardedHops(
        'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711", for=unknown',
      ),
    ),
    ["192.0.2.60", "2001:db8:cafe::17", undefined],
  );
  // Commas and semicolons inside quotes do not split.
  assert.deepEqual(
    texts(forwardedHops('by="a,b;c";for=198.51.100.17, for="10.1.2.3"')),
    ["198.51.100.17", "10.1.2.3"],
  );
  // An element without for= is a hop we know nothing of.
  assert.deepEqual(texts(forwardedHops("proto=https, for=10.0.0.1")), [
    undefined,
    "10.0.0.1",
  ]);
  // Malformed elements are unknown hops, and the next comma is found.
  assert.deepEqual(
    texts(forwardedHops('for=1.2.3.4 junk, for="unterminated, for=5.6.7.8')),
    [undefined, undefined],
  );
  assert.deepEqual(texts(forwardedHops("for=1.2.3.4;x, for=5.6.7.8")), [
    undefined,
    "5.6.7.8",
  ]);
  assert.deepEqual(texts(forwardedHops('for="\\1.2.3.4"')), ["1.2.3.4"]);
  assert.deepEqual(texts(forwardedHops("")), []);
  assert.deepEqual(texts(forwardedHops(" , ,")), []);
});

Deno.test("xForwardedForHops: a list of nodes, garbage as unknown hops", () => {
  assert.deepEqual(
    texts(xForwardedForHops("203.0.113.1, 10.0.0.2,, [::1]:80, bogus")),
    ["203.0.113.1", "10.0.0.2", "::1", undefined],
  );
});

Deno.test("hops: only the last MAX_HOPS are kept, in linear time", () => {
  const many = Array.from(
    { length: 5000 },
    (_, i) => `10.0.${i >> 8}.${i & 255}`,
  ).join(", ");
  const hops = xForwardedForHops(many);
  assert.equal(hops.length, MAX_HOPS);
  assert.equal(hops[MAX_HOPS - 1]?.text, "10.0.19.135");
  const fwd = forwardedHops(many.split(", ").map((a) => `for=${a}`).join(","));
  assert.equal(fwd.length, MAX_HOPS);
  // A 32 KiB quoted value, or 32 KiB of quotes, is one quick pass.
  const started = performance.now();
  forwardedHops('for="' + "a".repeat(32768) + '"');
  forwardedHops('"'.repeat(32768));
  forwardedHops(";".repeat(32768));
  forwardedHops("for=".repeat(8192));
  xForwardedForHops(",".repeat(32768));
  assert.ok(performance.now() - started < 200);
});

Deno.test("forwardedClient: the rightmost untrusted hop, walking from the right", () => {
  const peer = "10.0.0.1";
  assert.equal(
    forwardedClient(head(["X-Forwarded-For", "203.0.113.9"]), TRUSTED, peer),
    "203.0.113.9",
  );
  // A client forging hops on the left cannot choose its address.
  assert.equal(
    forwardedClient(
      head(["X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.7"]),
      TRUSTED,
      peer,
    ),
    "203.0.113.9",
  );
  // Several field lines form one list, in order.
  assert.equal(
    forwardedClient(
      head(["x-forwarded-for", "1.1.1.1"], [
        "X-Forwarded-For",
        "198.51.100.2, 10.9.9.9",
      ]),
      TRUSTED,
      peer,
    ),
    "198.51.100.2",
  );
  // Forwarded wins over X-Forwarded-For.
  assert.equal(
    forwardedClient(
      head(["X-Forwarded-For", "1.1.1.1"], [
        "Forwarded",
        'for="[2001:db8::5]:1234"',
      ]),
      TRUSTED,
      peer,
    ),
    "2001:db8::5",
  );
  // Every hop trusted: the leftmost.
  assert.equal(
    forwardedClient(head(["X-Forwarded-For", "10.1.1.1, ::1"]), TRUSTED, peer),
    "10.1.1.1",
  );
  // An unreadable hop stops the walk at the last trusted one.
  assert.equal(
    forwardedClient(
      head(["Forwarded", "for=203.0.113.1, for=unknown, for=10.2.2.2"]),
      TRUSTED,
      peer,
    ),
    "10.2.2.2",
  );
  assert.equal(
    forwardedClient(
      head(["X-Forwarded-For", '203.0.113.1, "1.2.3.4"']),
      TRUSTED,
      peer,
    ),
    peer,
  );
  // Hostile values: never an address that is not one.
  for (
    const value of [
      '1.2.3.4"\r\nforged',
      "<script>",
      "1.2.3.4 - - [x]",
      "\x00",
      "999.1.1.1",
      "::ffff:1.2.3.4.5",
    ]
  ) {
    assert.equal(
      forwardedClient(head(["X-Forwarded-For", value]), TRUSTED, peer),
      peer,
    );
    assert.equal(
      forwardedClient(head(["Forwarded", "for=" + value]), TRUSTED, peer),
      peer,
    );
  }
  assert.equal(forwardedClient(head(), TRUSTED, peer), peer);
});
