import assert from "node:assert/strict";
import {
  formatCount,
  formatLatency,
  formatMiB,
  formatNumber,
  formatRatio,
  markdownTable,
  median,
  parseChildTimes,
  parseCpuTotals,
  parseCurlOutput,
  parseH2load,
  parseListenPort,
  parseProcStat,
  parseSClientSession,
  parseStatusField,
  parseStraceSummary,
  parseWrk,
  parseWrkSize,
  parseWrkTime,
  ratio,
  spread,
  withRatio,
} from "./stats.ts";

const WRK_KEEPALIVE = `Running 2s test @ http://127.0.0.1:18124/1k.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.41ms   11.37ms  97.45ms   94.36%
    Req/Sec    90.96k    42.95k  140.34k    55.00%
  Latency Distribution
     50%  496.00us
     75%  846.00us
     90%    4.49ms
     99%   72.39ms
  180978 requests in 2.03s, 218.16MB read
Requests/sec:  89326.81
Transfer/sec:    107.68MB
`;

const WRK_ERRORS = `Running 10s test @ http://127.0.0.1:9/100m.bin
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52s   200.00ms   1.90s    70.00%
    Req/Sec     0.50      0.70     2.00     80.00%
  Latency Distribution
     50%    1.50s
     75%    1.60s
     90%    1.70s
     99%    1.00m
  27 requests in 10.01s, 2.64GB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:      2.70
Transfer/sec:    270.10MB
`;

function assertNear(actual: number, expected: number, tolerance: number) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${actual} is not within ${tolerance} of ${expected}`,
  );
}

Deno.test("parseWrkTime converts every unit to microseconds", () => {
  assert.deepEqual(parseWrkTime("496.00us"), 496);
  assert.deepEqual(parseWrkTime("4.49ms"), 4490);
  assert.deepEqual(parseWrkTime("1.50s"), 1_500_000);
  assert.deepEqual(parseWrkTime("1.00m"), 60_000_000);
  assert.throws(() => parseWrkTime("12 parsecs"));
});

Deno.test("parseWrkSize uses binary units", () => {
  assert.deepEqual(parseWrkSize("512.00B"), 512);
  assert.deepEqual(parseWrkSize("2.00KB"), 2048);
  assert.deepEqual(parseWrkSize("1.50MB"), 1.5 * 1024 * 1024);
  assert.deepEqual(parseWrkSize("2.00GB"), 2 * 1024 ** 3);
  assert.throws(() => parseWrkSize("3 bushels"));
});

Deno.test("parseWrk reads a clean keep-alive run", () => {
  const r = parseWrk(WRK_KEEPALIVE);
  assert.deepEqual(r.requests, 180978);
  assertNear(r.durationS, 2.03, 1e-9);
  assertNear(r.bytesRead, 218.16 * 1024 ** 2, 1);
  assert.deepEqual(r.requestsPerSec, 89326.81);
  assertNear(r.bytesPerSec, 107.68 * 1024 ** 2, 1);
  assert.deepEqual(r.latencyUs, { p50: 496, p75: 846, p90: 4490, p99: 72390 });
  assert.deepEqual(r.socketErrors, 0);
  assert.deepEqual(r.timeouts, 0);
  assert.deepEqual(r.badStatus, 0);
});

Deno.test("parseWrk reads socket errors and bad statuses", () => {
  const r = parseWrk(WRK_ERRORS);
  assert.deepEqual(r.requests, 27);
  assert.deepEqual(r.socketErrors, 10);
  assert.deepEqual(r.timeouts, 4);
  assert.deepEqual(r.badStatus, 5);
  assert.deepEqual(r.latencyUs.p99, 60_000_000);
  assertNear(r.bytesRead, 2.64 * 1024 ** 3, 1);
});

Deno.test("parseWrk rejects output without a summary", () => {
  assert.throws(() =>
    parseWrk("unable to connect to 127.0.0.1:1 Connection refused")
  );
});

Deno.test("median handles odd, even, empty and non-finite input", () => {
  assert.deepEqual(median([3, 1, 2]), 2);
  assert.deepEqual(median([4, 1, 3, 2]), 2.5);
  assert.deepEqual(median([5]), 5);
  assert.deepEqual(median([]), NaN);
  assert.deepEqual(median([NaN, 7, Infinity]), 7);
});

Deno.test("median does not reorder its input", () => {
  const values = [3, 1, 2];
  median(values);
  assert.deepEqual(values, [3, 1, 2]);
});

Deno.test("spread is (max - min) / median", () => {
  assert.deepEqual(spread([90, 100, 110]), 0.2);
  assert.deepEqual(spread([100]), NaN);
  assert.deepEqual(spread([0, 0]), NaN);
});

Deno.test("ratio guards against missing values and zero", () => {
  assert.deepEqual(ratio(50, 100), 0.5);
  assert.deepEqual(ratio(50, 0), NaN);
  assert.deepEqual(ratio(NaN, 1), NaN);
});

Deno.test("parseProcStat copes with spaces and parentheses in comm", () => {
  const text =
    "4242 (tokio (rt) 1) S 4200 4242 4242 0 -1 4194560 1 0 0 0 1234 567 0 0 20 0 9 0 100 0 0\n";
  const s = parseProcStat(text);
  assert.deepEqual(s.pid, 4242);
  assert.deepEqual(s.comm, "tokio (rt) 1");
  assert.deepEqual(s.state, "S");
  assert.deepEqual(s.ppid, 4200);
  assert.deepEqual(s.utime, 1234);
  assert.deepEqual(s.stime, 567);
  assert.throws(() => parseProcStat("garbage"));
});

Deno.test("parseStatusField returns bytes", () => {
  const text = "Name:\tnginx\nVmHWM:\t    8488 kB\nVmRSS:\t    8000 kB\n";
  assert.deepEqual(parseStatusField(text, "VmRSS"), 8000 * 1024);
  assert.deepEqual(parseStatusField(text, "VmHWM"), 8488 * 1024);
  assert.deepEqual(parseStatusField(text, "VmSwap"), NaN);
});

Deno.test("parseListenPort finds the port of the first URL", () => {
  assert.deepEqual(
    parseListenPort("Listening on http://127.0.0.1:41234/"),
    41234,
  );
  assert.deepEqual(
    parseListenPort("pws serving /tmp at http://localhost:8/ (x)"),
    8,
  );
  assert.deepEqual(
    parseListenPort("pws 0.1.0 serving /tmp/r on https://127.0.0.1:18444/"),
    18444,
  );
  assert.deepEqual(parseListenPort("starting"), undefined);
  assert.deepEqual(parseListenPort("http://127.0.0.1/"), undefined);
});

Deno.test("parseStraceSummary reads rows with and without errors", () => {
  const text = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 41.10    0.000060           2        23           close
 12.33    0.000018           9         2         2 ioctl
  0.00    0.000000           0        34        13 openat
------ ----------- ----------- --------- --------- ----------------
100.00    0.000146           1        59        15 total
`;
  assert.deepEqual(parseStraceSummary(text), [
    { name: "close", calls: 23, errors: 0 },
    { name: "ioctl", calls: 2, errors: 2 },
    { name: "openat", calls: 34, errors: 13 },
  ]);
  assert.deepEqual(parseStraceSummary("strace: Process 1 attached\n"), []);
});

Deno.test("number formatting", () => {
  assert.deepEqual(formatCount(89326.81), "89,327");
  assert.deepEqual(formatCount(NaN), "–");
  assert.deepEqual(formatNumber(1234.5), "1,235");
  assert.deepEqual(formatNumber(12.345), "12.3");
  assert.deepEqual(formatNumber(0.01234), "0.0123");
  assert.deepEqual(formatNumber(0), "0");
  assert.deepEqual(formatLatency(496), "496 µs");
  assert.deepEqual(formatLatency(4490), "4.49 ms");
  assert.deepEqual(formatLatency(1_500_000), "1.50 s");
  assert.deepEqual(formatMiB(8488 * 1024), "8.29 MiB");
  assert.deepEqual(formatRatio(0.8512), "×0.85");
  assert.deepEqual(formatRatio(12.34), "×12.3");
  assert.deepEqual(formatRatio(NaN), "–");
  assert.deepEqual(withRatio("5", 0.5), "5 (×0.50)");
  assert.deepEqual(withRatio("5", NaN), "5");
});

Deno.test("markdownTable aligns columns and escapes pipes", () => {
  assert.deepEqual(
    markdownTable(["server", "req/s"], [["a|b", "1"], ["c", "2"]]),
    [
      "| server | req/s |",
      "| --- | ---: |",
      "| a\\|b | 1 |",
      "| c | 2 |",
    ].join("\n"),
  );
  assert.deepEqual(
    markdownTable(["x"], [], ["r"]),
    "| x |\n| ---: |",
  );
});

Deno.test("parseCurlOutput splits transfers and keeps the first headers", () => {
  const text = [
    "HTTP/1.1 200 OK",
    'ETag: "abc"',
    "Content-Length: 1024",
    "",
    "",
    "@@200 1024 1",
    "HTTP/1.1 304 Not Modified",
    'ETag: "other"',
    "",
    "",
    "@@304 0 0",
    "",
  ].join("\r\n");
  assert.deepEqual(parseCurlOutput(text), {
    transfers: [
      { status: 200, bodyBytes: 1024, connects: 1 },
      { status: 304, bodyBytes: 0, connects: 0 },
    ],
    headers: { etag: '"abc"', "content-length": "1024" },
  });
  assert.deepEqual(parseCurlOutput("\n@@000 0 0\n").transfers, [
    { status: 0, bodyBytes: 0, connects: 0 },
  ]);
});

/** The parts of `openssl s_client` output around its session summary. */
const SCLIENT_FULL = `CONNECTED(00000003)
---
Certificate chain
 0 s:CN = localhost
   i:CN = pws test CA
---
No client certificate CA names sent
Peer signing digest: SHA256
Peer signature type: ECDSA
Server Temp Key: X25519, 253 bits
---
SSL handshake has read 1148 bytes and written 305 bytes
Verification: OK
---
New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384
Server public key is 256 bit
Secure Renegotiation IS NOT supported
Compression: NONE
No ALPN negotiated
Early data was not sent
Verify return code: 0 (ok)
---
HTTP/1.1 200 OK
Connection: close

---
Post-Handshake New Session Ticket arrived:
SSL-Session:
    Protocol  : TLSv1.3
    Cipher    : TLS_AES_256_GCM_SHA384
`;

Deno.test("parseSClientSession reads a full handshake", () => {
  assert.deepEqual(parseSClientSession(SCLIENT_FULL), {
    resumed: false,
    protocol: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    group: "X25519",
    verified: true,
  });
});

Deno.test("parseSClientSession reads a resumed TLS 1.2 session", () => {
  // A resumed TLS 1.2 handshake exchanges no new key: no Server Temp Key.
  const text = [
    "CONNECTED(00000003)",
    "---",
    "Reused, TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384",
    "Secure Renegotiation IS supported",
    "    Protocol  : TLSv1.2",
    "    Verify return code: 0 (ok)",
    "---",
    "",
  ].join("\n");
  assert.deepEqual(parseSClientSession(text), {
    resumed: true,
    protocol: "TLSv1.2",
    cipher: "ECDHE-ECDSA-AES256-GCM-SHA384",
    group: undefined,
    verified: true,
  });
});

Deno.test("parseSClientSession: no agreement, or a chain that did not verify", () => {
  assert.deepEqual(
    parseSClientSession(
      "CONNECTED(00000003)\n---\nNew, (NONE), Cipher is (NONE)\n",
    ),
    undefined,
  );
  assert.deepEqual(parseSClientSession(""), undefined);
  const unverified = SCLIENT_FULL.replace(
    "Verify return code: 0 (ok)",
    "Verify return code: 21 (unable to verify the first certificate)",
  );
  assert.deepEqual(parseSClientSession(unverified)?.verified, false);
});

Deno.test("parseChildTimes reads the children's line of `times`", () => {
  // dash prints microseconds, bash milliseconds; wrk may have printed before.
  const dash =
    "unable to connect\n0m0.004000s 0m0.008000s\n0m1.060000s 0m0.500000s\n";
  const got = parseChildTimes(dash);
  assert.ok(got);
  assert.ok(Math.abs(got.cpuS - 1.56) < 1e-9);
  assert.deepEqual(dash.slice(0, got.index), "unable to connect\n");
  const bash = "0m0.001s 0m0.002s\n1m2.500s 0m0.250s";
  assert.deepEqual(parseChildTimes(bash), { cpuS: 62.75, index: 0 });
  assert.deepEqual(parseChildTimes("wrk: invalid URL\n"), undefined);
  assert.deepEqual(parseChildTimes("0m1.000000s 0m0.000000s\n"), undefined);
});

Deno.test("parseCpuTotals adds user, nice and system, and reads steal", () => {
  const text = "cpu  630408 44463 383978 682815 1662 0 40164 512 0 0\n" +
    "cpu0 315204 22231 191989 341407 831 0 20082 256 0 0\nintr 1 2 3\n";
  assert.deepEqual(parseCpuTotals(text), {
    busy: 630408 + 44463 + 383978,
    steal: 512,
  });
  assert.ok(Number.isNaN(parseCpuTotals("intr 1\n").busy));
});

const H2LOAD = `starting benchmark...
spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 2.68s, 4759.50 req/s, 4.79MB/s
requests: 9519 total, 9527 started, 9519 done, 9519 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 9519 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 9.59MB (10052832) total, 130.75KB (133890) headers (space savings 93.96%), 9.30MB (9747456) data
                     min         max         mean         sd        +/- sd
time for request:      126us    208.48ms      1.61ms      6.44ms    98.62%
`;

Deno.test("parseH2load reads req/s, responses, bytes and errors", () => {
  const r = parseH2load(H2LOAD);
  assert.equal(r.requestsPerSec, 4759.5);
  assert.equal(r.requests, 9519);
  assert.equal(r.durationS, 2); // 9519 / 4759.5: the main duration
  assert.equal(r.bytesRead, 10052832);
  assert.equal(r.bytesPerSec, 10052832 / 2);
  assert.equal(r.socketErrors, 0);
  assert.equal(r.badStatus, 0);
  assert.ok(Number.isNaN(r.latencyUs.p50));
});

Deno.test("parseH2load counts failures and 4xx/5xx, and rejects other output", () => {
  const r = parseH2load(
    H2LOAD.replace(
      "0 failed, 0 errored, 0 timeout",
      "3 failed, 2 errored, 1 timeout",
    )
      .replace(
        "9519 2xx, 0 3xx, 0 4xx, 0 5xx",
        "9000 2xx, 19 3xx, 400 4xx, 100 5xx",
      ),
  );
  assert.equal(r.requests, 9019);
  assert.equal(r.socketErrors, 6);
  assert.equal(r.timeouts, 1);
  assert.equal(r.badStatus, 500);
  assert.throws(() => parseH2load("connect error\n"), /unrecognised h2load/);
});
