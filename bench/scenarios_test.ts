import assert from "node:assert/strict";
import { SCENARIOS } from "./scenarios.ts";

Deno.test("the HTTPS scenarios: nginx, pws and the TLS prototype, CPU per request", () => {
  const tls = SCENARIOS.filter((s) => s.tls);
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

Deno.test("the TLS prototype runs only the HTTPS scenarios", () => {
  for (const s of SCENARIOS) {
    assert.equal(s.servers.includes("prototype-tls"), s.tls === true, s.id);
  }
});
