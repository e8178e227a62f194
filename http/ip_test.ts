/**
 * Unit tests of IP address and CIDR parsing: strict forms only, both
 * families in one 16-byte space.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { inAnyRange, inRange, parseCidr, parseIpAddress } from "./ip.ts";

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined
    ? undefined
    : [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("parseIpAddress: IPv4 as IPv4-mapped bytes, strictly", () => {
  assert.equal(
    hex(parseIpAddress("192.0.2.1")),
    "00000000000000000000ffffc0000201",
  );
  for (
    const bad of [
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.256",
      "1..2.3",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.-4",
      "",
      "a.b.c.d",
      "1.2.3.4/8",
    ]
  ) assert.equal(parseIpAddress(bad), undefined, bad);
});

Deno.test("parseIpAddress: IPv6 forms of RFC 4291, zones ignored", () => {
  assert.equal(hex(parseIpAddress("::1")), "00000000000000000000000000000001");
  assert.equal(hex(parseIpAddress("::")), "00000000000000000000000000000000");
  assert.equal(
    hex(parseIpAddress("2001:db8::")),
    "20010db8000000000000000000000000",
  );
  assert.equal(
    hex(parseIpAddress("2001:DB8:0:0:1:0:0:1")),
    "20010db8000000000001000000000001",
  );
  assert.equal(
    hex(parseIpAddress("::ffff:192.0.2.1")),
    hex(parseIpAddress("192.0.2.1")),
  );
  assert.equal(
    hex(parseIpAddress("fe80::1%eth0")),
    "fe800000000000000000000000000001",
  );
  assert.equal(
    hex(parseIpAddress("1:2:3:4:5:6:7::")),
    "00010002000300040005000600070000",
  );
  for (
    const bad of [
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      ":1",
      "1:",
      "g::",
      "::1.2.3",
      "::1.2.3.4.5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "fe80::1%",
      "[::1]",
    ]
  ) assert.equal(parseIpAddress(bad), undefined, bad);
});

Deno.test("parseIpAddress: agrees with the URL parser on random IPv6 groups (fast-check)", () => {
  fc.assert(
    fc.property(fc.ipV6(), (text) => {
      const mine = parseIpAddress(text);
      assert.ok(mine !== undefined, text);
      const canonical = new URL(`http://[${text}]/`).hostname;
      assert.equal(hex(parseIpAddress(canonical.slice(1, -1))), hex(mine));
    }),
    { numRuns: 500 },
  );
});

Deno.test("parseCidr: ranges, bare addresses and bad input", () => {
  const r = parseCidr("10.0.0.0/8")!;
  assert.equal(r.prefix, 104);
  assert.ok(inRange(parseIpAddress("10.255.1.2")!, r));
  assert.ok(!inRange(parseIpAddress("11.0.0.1")!, r));
  assert.ok(inRange(parseIpAddress("::ffff:10.0.0.1")!, r));
  const host = parseCidr("192.0.2.7")!;
  assert.equal(host.prefix, 128);
  assert.ok(inRange(parseIpAddress("192.0.2.7")!, host));
  assert.ok(!inRange(parseIpAddress("192.0.2.6")!, host));
  const v6 = parseCidr("2001:db8::/33")!;
  assert.ok(inRange(parseIpAddress("2001:db8:7fff::1")!, v6));
  assert.ok(!inRange(parseIpAddress("2001:db8:8000::1")!, v6));
  assert.equal(parseCidr("::1")!.prefix, 128);
  assert.ok(inRange(parseIpAddress("203.0.113.9")!, parseCidr("0.0.0.0/0")!));
  assert.ok(!inRange(parseIpAddress("::1")!, parseCidr("0.0.0.0/0")!));
  assert.ok(inAnyRange(parseIpAddress("::1")!, [r, parseCidr("::/0")!]));
  for (
    const bad of [
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/",
      "10.0.0.0/08",
      "10/8",
      "x",
      "::1%lo",
      "1.2.3.4/-1",
      "1.2.3.4/8/8",
    ]
  ) assert.equal(parseCidr(bad), undefined, bad);
});
