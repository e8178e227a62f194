/** The names a local-CA leaf covers. */

import assert from "node:assert/strict";
import { isDnsName, isLinkLocalIpv6, leafNames } from "./leaf.ts";

Deno.test("leaf names: loopback first, LAN after, link-local skipped", () => {
  const names = leafNames("DevBox", [
    { address: "127.0.0.1" },
    { address: "::1" },
    { address: "192.168.1.20" },
    { address: "fe80::1%eth0" },
    { address: "FEBF::2" },
    { address: "fec0::3" },
    { address: "2001:db8::1%2" },
    { address: "192.168.1.20" },
  ]);
  assert.deepEqual(names.dns, ["localhost", "devbox", "devbox.local"]);
  assert.deepEqual(names.ip, [
    "127.0.0.1",
    "::1",
    "192.168.1.20",
    "fec0::3",
    "2001:db8::1",
  ]);
});

Deno.test("leaf names: a dotted hostname has no .local form", () => {
  assert.deepEqual(leafNames("box.example.org", []).dns, [
    "localhost",
    "box.example.org",
  ]);
  assert.deepEqual(leafNames("localhost", []).dns, [
    "localhost",
    "localhost.local",
  ]);
});

Deno.test("leaf names: a hostname that is no DNS name is left out", () => {
  for (const bad of ["", "my_box", "-box", "box-", "a..b", "b\u00f6x", "a b"]) {
    assert.equal(isDnsName(bad), false, bad);
    assert.deepEqual(leafNames(bad, []).dns, ["localhost"], bad);
  }
  assert.equal(isDnsName("x".repeat(64)), false);
  assert.equal(isDnsName("x".repeat(63)), true);
  assert.equal(isDnsName("a-1.b2"), true);
});

Deno.test("leaf names: fe80::/10 is link-local, its neighbours are not", () => {
  assert.equal(isLinkLocalIpv6("fe80::1"), true);
  assert.equal(isLinkLocalIpv6("fe9a::1"), true);
  assert.equal(isLinkLocalIpv6("febf::1"), true);
  assert.equal(isLinkLocalIpv6("fec0::1"), false);
  assert.equal(isLinkLocalIpv6("fe7f::1"), false);
  assert.equal(isLinkLocalIpv6("fe8::1"), false);
  assert.equal(isLinkLocalIpv6("192.168.0.1"), false);
});
