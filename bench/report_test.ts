import assert from "node:assert/strict";
import type { TlsCheck } from "./load.ts";
import {
  type Cell,
  describeTlsCheck,
  describeTlsChecks,
  referenceCell,
  type RunMetrics,
  scenarioTable,
} from "./report.ts";
import { SCENARIOS } from "./scenarios.ts";

const full = {
  resumed: false,
  protocol: "TLSv1.3",
  cipher: "TLS_AES_256_GCM_SHA384",
  group: "X25519",
  verified: true,
};

Deno.test("describeTlsCheck says what was agreed and whether it resumed", () => {
  const check: TlsCheck = {
    version: "1.3",
    first: full,
    second: { ...full, resumed: true, group: undefined },
  };
  assert.equal(
    describeTlsCheck(check),
    "TLSv1.3 TLS_AES_256_GCM_SHA384 (X25519), resumed",
  );
  assert.equal(
    describeTlsCheck({ ...check, second: full }),
    "TLSv1.3 TLS_AES_256_GCM_SHA384 (X25519), not resumed",
  );
  assert.equal(
    describeTlsCheck({ version: "1.3", first: { ...full, verified: false } }),
    "TLSv1.3 TLS_AES_256_GCM_SHA384 (X25519), chain not verified, second connection failed",
  );
  assert.equal(
    describeTlsChecks([check, { version: "1.2" }]),
    "TLSv1.3 TLS_AES_256_GCM_SHA384 (X25519), resumed; TLS 1.2: no handshake",
  );
});

function run(value: number, cpuS: number, requests: number): RunMetrics {
  return {
    value,
    p50Us: 1000,
    p99Us: 5000,
    rssAfter: 16 * 1024 ** 2,
    rssMax: NaN,
    cpuS,
    cpuMsPerMiB: NaN,
    cpuUsPerRequest: (cpuS * 1e6) / requests,
    serverBusy: cpuS / 10,
    clientBusy: 0.95,
    othersBusy: 0.02,
    steal: 0,
    errors: 0,
    requests,
  };
}

Deno.test("HTTPS tables show CPU per request with its ratio, and both cores' load", () => {
  const scenario = SCENARIOS.find((s) => s.id === "tls-handshake")!;
  const cell = (
    server: Cell["server"],
    label: string,
    runs: RunMetrics[],
  ): Cell => ({
    server,
    label,
    scenario,
    durationS: 10,
    runs,
    check: "200, 1024 B",
    checkOk: true,
    notes: [],
  });
  const table = scenarioTable(scenario, [
    cell("nginx-a", "nginx A + ssl", [run(4000, 10, 40_000)]),
    cell("pws", "pws", [run(3000, 9, 30_000)]),
  ]).split("\n");
  assert.deepEqual(
    table[0],
    "| Server | req/s | p50 | p99 | RSS after | CPU µs/req | server busy | wrk busy | ± | errors | check |",
  );
  assert.ok(table[2].startsWith("| nginx A + ssl | 4,000 (×1.00) |"));
  // 9 s of CPU for 30,000 requests: 300 µs, 1.2 × nginx's 250 µs.
  assert.ok(table[3].includes("| 300 (×1.20) | 90 % | 95 % |"), table[3]);
});

Deno.test("ratios are taken against the fastest nginx configuration", () => {
  const scenario = SCENARIOS.find((s) => s.id === "1k")!;
  const cell = (server: Cell["server"], value: number): Cell => ({
    server,
    label: server,
    scenario,
    durationS: 10,
    runs: [run(value, 9, value * 10)],
    check: "200, 1024 B",
    checkOk: true,
    notes: [],
  });
  const cells = [
    cell("nginx-a", 100_000),
    cell("nginx-c", 160_000),
    cell("nginx-b", 150_000),
    cell("ceiling", 200_000),
    cell("pws", 120_000),
  ];
  assert.equal(referenceCell(cells)?.server, "nginx-c");
  const table = scenarioTable(scenario, cells).split("\n");
  assert.ok(table[6].startsWith("| pws | 120,000 (×0.75) |"), table[6]);
  assert.equal(referenceCell([cell("pws", 1)]), undefined);
});
