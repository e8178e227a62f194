import assert from "node:assert/strict";
import { TlsFailureLog } from "./tls_failures.ts";

Deno.test("TlsFailureLog reports the first failure at once and the rest at most once a second", async () => {
  const lines: string[] = [];
  const log = new TlsFailureLog((line) => lines.push(line));
  const t0 = Date.now();
  log.record("127.0.0.1", "received corrupt message", t0);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^pws: 1 TLS handshake failed \(1 in all; last: 127\.0\.0\.1: received corrupt message\)$/,
  );
  for (let i = 0; i < 50; i++) log.record("10.0.0.2", "timed out", t0 + 10);
  assert.equal(lines.length, 1, "no second line within the second");
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(lines.length, 2);
  assert.match(
    lines[1],
    /^pws: 50 TLS handshakes failed \(51 in all; last: 10\.0\.0\.2: timed out\)$/,
  );
  assert.equal(log.total, 51);
  log.close();
});

Deno.test("TlsFailureLog.close() cancels a pending report", async () => {
  const lines: string[] = [];
  const log = new TlsFailureLog((line) => lines.push(line));
  log.record("a", "x");
  log.record("b", "y");
  log.close();
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(lines.length, 1);
});
