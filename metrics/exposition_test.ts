import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabelValue,
  ExpositionWriter,
  formatMetrics,
  formatValue,
} from "./exposition.ts";
import {
  addSnapshot,
  emptySnapshot,
  HTTP11,
  HTTP2,
  LATENCY_BOUNDS_SECONDS,
  latencyBucket,
  methodIndex,
  REQUEST_CELLS,
  requestCell,
  requestCellLabels,
  RequestMetrics,
} from "./counters.ts";

Deno.test("label values escape backslash, double quote and line feed only", () => {
  assert.equal(escapeLabelValue("plain"), "plain");
  assert.equal(escapeLabelValue('a"b'), 'a\\"b');
  assert.equal(escapeLabelValue("a\\b"), "a\\\\b");
  assert.equal(escapeLabelValue("a\nb"), "a\\nb");
  assert.equal(escapeLabelValue('\\"\n'), '\\\\\\"\\n');
  // Tabs, carriage returns and non-ASCII pass through as they are.
  assert.equal(escapeLabelValue("t\tr\ré"), "t\tr\ré");
});

Deno.test("help text escapes backslash and line feed, not quotes", () => {
  assert.equal(escapeHelp('say "hi"'), 'say "hi"');
  assert.equal(escapeHelp("a\\b\nc"), "a\\\\b\\nc");
});

Deno.test("values: decimals, NaN and the infinities as the format spells them", () => {
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(42), "42");
  assert.equal(formatValue(0.0025), "0.0025");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
});

Deno.test('a sample with labels is written name{a="x",b="y"} value', () => {
  const out = new ExpositionWriter();
  out.family("x_total", "counter", "Things.\nCounted.");
  out.sample("x_total", 3, [["a", 'q"'], ["b", "y"]]);
  assert.equal(
    out.text(),
    '# HELP x_total Things.\\nCounted.\n# TYPE x_total counter\nx_total{a="q\\"",b="y"} 3\n',
  );
});

Deno.test("histogram buckets are cumulative, end with +Inf, then _sum and _count", () => {
  const out = new ExpositionWriter();
  // 2 at or under 0.1, 3 under 1, 1 above every bound.
  out.histogram("h_seconds", "H.", [0.1, 1], [2, 3, 1], 7.5);
  assert.equal(
    out.text(),
    [
      "# HELP h_seconds H.",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{le="0.1"} 2',
      'h_seconds_bucket{le="1"} 5',
      'h_seconds_bucket{le="+Inf"} 6',
      "h_seconds_sum 7.5",
      "h_seconds_count 6",
      "",
    ].join("\n"),
  );
});

Deno.test("latency buckets: a bound holds durations up to and including it", () => {
  assert.equal(latencyBucket(0), 0);
  assert.equal(latencyBucket(0.001), 0);
  assert.equal(latencyBucket(0.002), 1);
  assert.equal(latencyBucket(10), LATENCY_BOUNDS_SECONDS.length - 1);
  assert.equal(latencyBucket(10.001), LATENCY_BOUNDS_SECONDS.length);
});

Deno.test("request cells map label indexes both ways, all distinct", () => {
  const seen = new Set<number>();
  for (let s = 0; s < 5; s++) {
    for (let m = 0; m < 10; m++) {
      for (let p = 0; p < 3; p++) {
        const cell = requestCell(s, m, p);
        assert.ok(cell >= 0 && cell < REQUEST_CELLS);
        assert.deepEqual(requestCellLabels(cell), [s, m, p]);
        seen.add(cell);
      }
    }
  }
  assert.equal(seen.size, REQUEST_CELLS);
  assert.equal(methodIndex("GET"), 0);
  assert.equal(methodIndex("PATCH"), 8);
  assert.equal(methodIndex("get"), 9, "methods are case-sensitive");
  assert.equal(methodIndex("BREW"), 9);
});

Deno.test("requestDone counts status class, method, protocol, bytes and latency", () => {
  const m = new RequestMetrics();
  m.requestDone("GET", HTTP11, 200, 100, 0);
  m.requestDone("GET", HTTP11, 204, 50, 3);
  m.requestDone("BREW", HTTP2, 501, 10, 20_000);
  m.requestDone("GET", HTTP11, 0, 10, 1); // no status: not counted
  m.requestDone("GET", HTTP11, 600, 10, 1); // no such class: not counted
  const snap = emptySnapshot();
  m.copyInto(snap);
  assert.equal(snap.requests[requestCell(1, 0, HTTP11)], 2);
  assert.equal(snap.requests[requestCell(4, 9, HTTP2)], 1);
  assert.equal(snap.requests.reduce((a, b) => a + b, 0), 3);
  assert.equal(snap.responseBytes[HTTP11], 150);
  assert.equal(snap.responseBytes[HTTP2], 10);
  assert.equal(snap.latencyBuckets[0], 1); // 0 ms
  assert.equal(snap.latencyBuckets[latencyBucket(0.003)], 1);
  assert.equal(snap.latencyBuckets[LATENCY_BOUNDS_SECONDS.length], 1);
  assert.equal(snap.latencySumSeconds, 20.003);
});

Deno.test("addSnapshot sums every field; countersOnly leaves gauges out", () => {
  const a = emptySnapshot();
  const b = emptySnapshot();
  b.requests[5] = 2;
  b.replayHits = 7;
  b.fileCacheBytes = 1000;
  b.openConnections[HTTP2] = 3;
  addSnapshot(a, b);
  addSnapshot(a, b, true);
  assert.equal(a.requests[5], 4);
  assert.equal(a.replayHits, 14);
  assert.equal(a.fileCacheBytes, 1000);
  assert.equal(a.openConnections[HTTP2], 3);
});

Deno.test("the page names every series once with HELP and TYPE", () => {
  const snap = emptySnapshot();
  snap.requests[requestCell(1, 0, HTTP11)] = 4;
  snap.latencyBuckets[0] = 4;
  const page = formatMetrics(snap, {
    version: "1.2.3",
    startTimeSeconds: 1700000000.5,
    residentBytes: 123,
    workers: 2,
    workerRestarts: 0,
    tls: false,
  });
  assert.ok(page.endsWith("\n"));
  assert.match(
    page,
    /^pws_requests_total\{status_class="2xx",method="GET",protocol="HTTP\/1\.1"\} 4$/m,
  );
  assert.doesNotMatch(page, /status_class="5xx"/, "unseen cells are left out");
  assert.match(page, /^pws_request_duration_seconds_bucket\{le="\+Inf"\} 4$/m);
  assert.match(page, /^pws_request_duration_seconds_count 4$/m);
  assert.match(page, /^pws_info\{version="1\.2\.3"\} 1$/m);
  assert.match(page, /^pws_process_start_time_seconds 1700000000\.5$/m);
  assert.doesNotMatch(page, /tls_handshake/, "no TLS series without TLS");
  snap.tlsHandshakeFailures = 3;
  const tlsPage = formatMetrics(snap, {
    version: "1.2.3",
    startTimeSeconds: 0,
    workers: 1,
    workerRestarts: 0,
    tls: true,
  });
  assert.match(tlsPage, /^pws_tls_handshake_failures_total 3$/m);
  assert.doesNotMatch(tlsPage, /resident_memory/, "left out when unknown");
  const types = [...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  assert.equal(new Set(types).size, types.length, "each family once");
  const helps = [...page.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(helps, types);
  for (const line of page.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = line.split(/[{ ]/)[0];
    assert.ok(
      types.some((t) => name === t || name.startsWith(`${t}_`)),
      `sample ${name} belongs to a family`,
    );
  }
});
