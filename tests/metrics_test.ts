/**
 * `--metrics` end to end: pws in its own process, a known mix of requests
 * over HTTP/1.0, HTTP/1.1 and HTTP/2 (curl), and the counts read back from
 * `/metrics`; Prometheus's own `promtool` validating the page; `/health`
 * during a graceful shutdown; `--workers 2` totals.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  commandAvailable,
  makeFixtureTree,
  makeSettledDir,
  parseResponses,
  rawExchange,
  runCommand,
  spawnServer,
  startTestServer,
} from "./helpers.ts";

/** A port that was free a moment ago (loopback; the server binds it next). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Sends one request to the metrics port and returns status and body. */
async function metricsGet(
  port: number,
  path: string,
  hostname = "127.0.0.1",
): Promise<{ status: number; text: string; contentType?: string }> {
  const result = await rawExchange(
    port,
    `GET ${path} HTTP/1.1\r\nHost: metrics\r\n\r\n`,
    { tls: false, hostname },
  );
  const [response] = parseResponses(result.bytes);
  return {
    status: response.status,
    text: response.text,
    contentType: response.header("content-type"),
  };
}

/** The samples of a page: `name{labels}` as written → value. */
function samples(page: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of page.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The sum of every sample of the family `name` (all label sets). */
function total(page: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of page) {
    if (key === name || key.startsWith(`${name}{`)) sum += value;
  }
  return sum;
}

/** Scrapes until `done` holds (or 5 s pass); returns the last page. */
async function scrapeUntil(
  port: number,
  done: (page: Map<string, number>) => boolean,
): Promise<Map<string, number>> {
  const deadline = Date.now() + 5000;
  while (true) {
    const page = samples((await metricsGet(port, "/metrics")).text);
    if (done(page) || Date.now() > deadline) return page;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const req = (
  method: string,
  path: string,
  version = "1.1",
  extra = "",
) => `${method} ${path} HTTP/${version}\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

Deno.test("metrics: a known mix of HTTP/1.0, HTTP/1.1 and HTTP/2 requests is counted exactly", async () => {
  // Settled files, so that the hot-file cache keeps them.
  const root = await makeSettledDir("pws_metrics_", {
    "index.html": "<!doctype html>\n<p>metrics</p>\n",
    "notes.txt": "plain notes\n",
    "style.css": "p { color: #123456; }\n",
  });
  const metricsPort = freePort();
  const server = await spawnServer(
    ["0", "--root", root, "-q", "--metrics", `127.0.0.1:${metricsPort}`],
    { cleartext: true },
  );
  try {
    const h1 = await rawExchange(
      server.port,
      [
        req("GET", "/"),
        req("GET", "/notes.txt"),
        req("HEAD", "/style.css"),
        req("GET", "/missing"),
        req("DELETE", "/"),
        req("BREW", "/"),
        req("GET", "/notes.txt", "1.1", "Connection: close\r\n"),
      ].join(""),
      { tls: false },
    );
    const statuses = parseResponses(h1.bytes, {
      methods: ["GET", "GET", "HEAD"],
    }).map((r) => r.status);
    assert.deepEqual(statuses, [200, 200, 200, 404, 405, 501, 200]);
    const h10 = await rawExchange(
      server.port,
      req("GET", "/notes.txt", "1.0"),
      {
        tls: false,
      },
    );
    assert.equal(parseResponses(h10.bytes)[0].status, 200);
    // A head that cannot be parsed counts as HTTP/1.1, method OTHER.
    const garbage = await rawExchange(
      server.port,
      "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
      { tls: false },
    );
    assert.equal(parseResponses(garbage.bytes)[0].status, 400);
    const base = `http://127.0.0.1:${server.port}`;
    // One curl per URL: curl 7.88 (Debian 12) fails a reused prior-knowledge
    // connection ("Error in the HTTP2 framing layer", curl/curl#10634).
    const h2: string[] = [];
    for (const path of ["/", "/notes.txt", "/missing"]) {
      const curl = await runCommand("curl", [
        "--http2-prior-knowledge",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        `${base}${path}`,
      ]);
      h2.push(curl.stdout);
    }
    assert.deepEqual(h2, ["2 200", "2 200", "2 404"]);

    const page = await scrapeUntil(
      metricsPort,
      (p) => total(p, "pws_requests_total") >= 12,
    );
    const count = (status: string, method: string, protocol: string) =>
      page.get(
        `pws_requests_total{status_class="${status}",method="${method}",protocol="${protocol}"}`,
      );
    assert.equal(count("2xx", "GET", "HTTP/1.1"), 3);
    assert.equal(count("2xx", "HEAD", "HTTP/1.1"), 1);
    assert.equal(count("4xx", "GET", "HTTP/1.1"), 1);
    assert.equal(count("4xx", "DELETE", "HTTP/1.1"), 1);
    assert.equal(count("5xx", "OTHER", "HTTP/1.1"), 1);
    assert.equal(count("4xx", "OTHER", "HTTP/1.1"), 1);
    assert.equal(count("2xx", "GET", "HTTP/1.0"), 1);
    assert.equal(count("2xx", "GET", "HTTP/2"), 2);
    assert.equal(count("4xx", "GET", "HTTP/2"), 1);
    assert.equal(total(page, "pws_requests_total"), 12);
    // Every byte the raw clients received, heads included.
    assert.equal(
      page.get('pws_response_bytes_total{protocol="HTTP/1.1"}'),
      h1.bytes.length + garbage.bytes.length,
    );
    assert.equal(
      page.get('pws_response_bytes_total{protocol="HTTP/1.0"}'),
      h10.bytes.length,
    );
    assert.ok(page.get('pws_response_bytes_total{protocol="HTTP/2"}')! > 0);
    assert.equal(page.get("pws_request_duration_seconds_count"), 12);
    assert.equal(
      page.get('pws_request_duration_seconds_bucket{le="+Inf"}'),
      12,
    );
    assert.equal(page.get("pws_connections_accepted_total"), 6);
    assert.ok(page.get("pws_file_cache_misses_total")! >= 1);
    assert.ok(
      page.get("pws_file_cache_hits_total")! +
          page.get("pws_replay_hits_total")! >= 1,
      "notes.txt again came from memory",
    );
    assert.ok(page.get("pws_file_cache_entries")! >= 1);
    assert.equal(page.get("pws_workers"), 1);
    const settled = await scrapeUntil(
      metricsPort,
      (p) => total(p, "pws_open_connections") === 0,
    );
    assert.equal(total(settled, "pws_open_connections"), 0);
    // The scrapes themselves are not site requests.
    assert.equal(total(settled, "pws_requests_total"), 12);
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});

const hasPromtool = await commandAvailable("promtool");

Deno.test({
  name: "metrics: promtool check metrics finds no problem in the page" +
    (hasPromtool
      ? ""
      : " (skipped: promtool, Debian package prometheus, is not installed)"),
  ignore: !hasPromtool,
  async fn() {
    await using tree = await makeFixtureTree();
    const metricsPort = freePort();
    // Over IPv6 loopback where there is one (the bracketed form).
    let metricsHost = "::1";
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
    } catch {
      metricsHost = "127.0.0.1";
    }
    const address = metricsHost === "::1"
      ? `[::1]:${metricsPort}`
      : `127.0.0.1:${metricsPort}`;
    const server = await spawnServer(
      ["0", "--root", tree.root, "-q", "--metrics", address],
      { cleartext: true },
    );
    try {
      await rawExchange(server.port, req("GET", "/") + req("GET", "/x"), {
        tls: false,
      });
      await runCommand("curl", [
        "--http2-prior-knowledge",
        "-s",
        "-o",
        "/dev/null",
        `http://127.0.0.1:${server.port}/notes.txt`,
      ]);
      const page = await metricsGet(metricsPort, "/metrics", metricsHost);
      assert.equal(page.status, 200);
      assert.equal(
        page.contentType,
        "text/plain; version=0.0.4; charset=utf-8",
      );
      assert.match(page.text, /^pws_requests_total\{/m);
      const checked = await runCommand(
        "promtool",
        ["check", "metrics"],
        page.text,
      );
      assert.equal(
        checked.code,
        0,
        `promtool: ${checked.stdout}${checked.stderr}`,
      );
      assert.equal((checked.stdout + checked.stderr).trim(), "");
    } finally {
      await server.stop();
    }
  },
});

Deno.test("metrics: /health is 200 while serving and 503 while a graceful shutdown drains", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws_health_" });
  try {
    // Sparse: big enough that a client that stops reading stalls the send.
    const file = await Deno.open(`${dir}/big.bin`, {
      write: true,
      create: true,
    });
    await file.truncate(64 * 1024 * 1024);
    file.close();
    const metricsPort = freePort();
    const server = await spawnServer([
      "0",
      "--root",
      dir,
      "-q",
      "--shutdown-timeout",
      "10",
      "--metrics",
      `127.0.0.1:${metricsPort}`,
    ], { cleartext: true });
    let slow: Deno.Conn | undefined;
    try {
      assert.deepEqual(await metricsGet(metricsPort, "/health"), {
        status: 200,
        text: "ok\n",
        contentType: "text/plain; charset=utf-8",
      });
      slow = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await slow.write(new TextEncoder().encode(req("GET", "/big.bin")));
      // The download has begun; then the client stops reading.
      const first = new Uint8Array(1024);
      assert.ok((await slow.read(first))! > 0);
      server.process.kill("SIGTERM");
      let health = await metricsGet(metricsPort, "/health");
      const deadline = Date.now() + 3000;
      while (health.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        health = await metricsGet(metricsPort, "/health");
      }
      assert.equal(health.status, 503);
      assert.equal(health.text, "draining\n");
      // Still draining a moment later: the download holds the shutdown.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await metricsGet(metricsPort, "/health")).status, 503);
      slow.close();
      slow = undefined;
      // The download ended, so the drain does: pws exits by itself.
      const status = await server.process.status;
      assert.equal(status.code, 0);
    } finally {
      slow?.close();
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics: with --workers 2 the totals equal the requests sent", async () => {
  await using tree = await makeFixtureTree();
  const metricsPort = freePort();
  const server = await spawnServer([
    "0",
    "--root",
    tree.root,
    "-q",
    "--workers",
    "2",
    "--metrics",
    `127.0.0.1:${metricsPort}`,
  ], { cleartext: true });
  try {
    const sent = 40;
    // One connection each, so that the kernel spreads them over both
    // threads (SO_REUSEPORT hashes each connection's addresses).
    for (let i = 0; i < sent; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          const result = await rawExchange(
            server.port,
            req("GET", "/notes.txt", "1.1", "Connection: close\r\n"),
            { tls: false },
          );
          assert.equal(parseResponses(result.bytes)[0].status, 200);
        }),
      );
    }
    const first = await scrapeUntil(
      metricsPort,
      (p) => total(p, "pws_requests_total") >= sent,
    );
    assert.equal(total(first, "pws_requests_total"), sent);
    // Past another report from the worker: nothing counted twice.
    await new Promise((r) => setTimeout(r, 1200));
    const page = samples((await metricsGet(metricsPort, "/metrics")).text);
    assert.equal(
      page.get(
        'pws_requests_total{status_class="2xx",method="GET",protocol="HTTP/1.1"}',
      ),
      sent,
    );
    assert.equal(page.get("pws_request_duration_seconds_count"), sent);
    assert.equal(page.get("pws_connections_accepted_total"), sent);
    assert.equal(page.get("pws_workers"), 2);
  } finally {
    await server.stop();
  }
});

Deno.test("metrics: connections open by protocol, accepted and refused; compressed bytes held", async () => {
  const root = await makeSettledDir("pws_metrics_conn_", {
    "text.txt": "metrics are numbers\n".repeat(400),
  });
  const server = startTestServer({
    root,
    tls: false,
    config: { metrics: true, maxConnections: 2 },
  });
  const open: Deno.Conn[] = [];
  try {
    const snap = () => server.metricsSnapshot();
    // Compressed on the fly, then kept beside the file's bytes.
    for (let i = 0; i < 2; i++) {
      const gz = await rawExchange(
        server.port,
        req("GET", "/text.txt", "1.1", "Accept-Encoding: gzip\r\n"),
        { tls: false },
      );
      assert.equal(
        parseResponses(gz.bytes)[0].header("content-encoding"),
        "gzip",
      );
    }
    const variants = snap().compressedVariantBytes;
    assert.ok(variants > 0 && variants < 8000, `${variants} bytes`);
    assert.ok(snap().fileCacheBytes > variants);

    const h1 = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    open.push(h1);
    await h1.write(new TextEncoder().encode(req("GET", "/text.txt")));
    assert.ok((await h1.read(new Uint8Array(64 * 1024)))! > 0);
    const h2 = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    open.push(h2);
    // The preface and an empty SETTINGS frame: an HTTP/2 connection.
    await h2.write(Uint8Array.from([
      ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      ...[0, 0, 0, 4, 0, 0, 0, 0, 0],
    ]));
    assert.ok((await h2.read(new Uint8Array(1024)))! > 0);
    const refused = await rawExchange(server.port, req("GET", "/text.txt"), {
      tls: false,
    });
    assert.equal(parseResponses(refused.bytes)[0].status, 503);
    const during = snap();
    assert.deepEqual([...during.openConnections], [0, 1, 1]);
    assert.equal(during.connectionsAccepted, 4);
    assert.equal(during.connectionsRefused, 1);
    for (const conn of open.splice(0)) conn.close();
    const deadline = Date.now() + 3000;
    while (
      Date.now() < deadline &&
      snap().openConnections[1] + snap().openConnections[2] > 0
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([...snap().openConnections], [0, 0, 0]);
  } finally {
    for (const conn of open) conn.close();
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});
