import assert from "node:assert/strict";
import { SCENARIOS } from "./scenarios.ts";

Deno.test("the HTTPS scenarios: nginx, pws and the TLS prototype, CPU per request", () => {
  const tls = SCENARIOS.filter((s) => s.tls && s.client !== "h2load");
  assert.deepEqual(tls.map((s) => s.id), ["1k-tls", "tls-handshake", "1m-tls"]);
  for (const s of tls) {
    assert.deepEqual(s.servers, ["nginx-a", "pws", "prototype-tls"]);
    assert.equal(s.cpuPerRequest, true);
    assert.equal(s.unit, "req/s");
  }
  const byId = new Map(tls.map((s) => [s.id, s]));
  // A handshake per request, as 1k-close does for TCP.
  assert.deepEqual(byId.get("tls-handshake")?.headers, ["Connection: close"]);
  assert.deepEqual(byId.get("1k-tls")?.headers, []);
  assert.equal(byId.get("1m-tls")?.expect.bytes, 1024 * 1024);
});

Deno.test("the TLS prototype runs only the HTTPS/1.1 scenarios", () => {
  for (const s of SCENARIOS) {
    assert.equal(
      s.servers.includes("prototype-tls"),
      s.tls === true && s.client !== "h2load",
      s.id,
    );
  }
});

Deno.test("the HTTP/2 scenarios: h2load over TLS against nginx and pws", () => {
  const h2 = SCENARIOS.filter((s) => s.client === "h2load");
  assert.deepEqual(h2.map((s) => s.id), ["h2-1k", "h2-64k", "h2-1m"]);
  for (const s of h2) {
    assert.equal(s.tls, true);
    assert.deepEqual(s.servers, ["nginx-a", "pws"]);
    assert.equal(s.cpuPerRequest, true);
    assert.ok((s.streams ?? 0) > 1, s.id);
  }
});

Deno.test("the ceiling runs the fast paths only, and pws-base wherever pws does over TCP", () => {
  const withCeiling = SCENARIOS.filter((s) => s.servers.includes("ceiling"))
    .map((s) => s.id);
  assert.deepEqual(withCeiling, ["1k", "1k-close", "304", "range"]);
  for (const s of SCENARIOS.filter((s) => !s.tls && s.id !== "1g-x50")) {
    assert.ok(s.servers.includes("pws-base"), s.id);
  }
});
