import assert from "node:assert/strict";
import {
  MAX_METRICS_CONNECTIONS,
  type MetricsEndpoint,
  startMetricsEndpoint,
} from "./endpoint.ts";
import { parseResponses, rawExchange } from "../tests/helpers.ts";
import { StartupError } from "../server/listeners.ts";

/** Runs `body` with an endpoint on a free loopback port, then closes it. */
async function withEndpoint(
  body: (endpoint: MetricsEndpoint) => Promise<void>,
  exchangeTimeoutMs?: number,
): Promise<void> {
  const endpoint = startMetricsEndpoint({
    hostname: "127.0.0.1",
    port: 0,
    page: () => "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n",
    exchangeTimeoutMs,
  });
  try {
    await body(endpoint);
  } finally {
    await endpoint.close();
  }
}

async function ask(port: number, request: string) {
  const result = await rawExchange(port, request, { tls: false });
  const responses = parseResponses(result.bytes, {
    methods: [request.slice(0, request.indexOf(" "))],
  });
  assert.equal(responses.length, 1, "one answer per connection");
  return { response: responses[0], closed: result.closedByServer };
}

Deno.test("metrics endpoint: /metrics, /health, HEAD, 404, 405, then close", async () => {
  await withEndpoint(async ({ port }) => {
    const page = await ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(page.response.status, 200);
    assert.equal(
      page.response.headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    assert.equal(
      page.response.text,
      "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n",
    );
    assert.equal(page.response.headers.get("connection"), "close");
    assert.ok(page.closed);
    const withQuery = await ask(
      port,
      "GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.equal(withQuery.response.status, 200);
    const health = await ask(port, "GET /health HTTP/1.0\r\n\r\n");
    assert.equal(health.response.status, 200);
    assert.equal(health.response.text, "ok\n");
    const head = await ask(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(head.response.status, 200);
    for (
      const path of ["/", "/index.html", "/metrics/", "/../etc/passwd", "*"]
    ) {
      const other = await ask(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(other.response.status, 404, path);
    }
    const post = await ask(
      port,
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(post.response.status, 405);
    assert.equal(post.response.headers.get("allow"), "GET, HEAD");
    const garbage = await ask(port, "GET /metrics HTTP/9.9\r\n\r\n");
    assert.equal(garbage.response.status, 505);
  });
});

Deno.test("metrics endpoint: /health says 503 once draining", async () => {
  await withEndpoint(async (endpoint) => {
    endpoint.setDraining();
    const health = await ask(
      endpoint.port,
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.equal(health.response.status, 503);
    assert.equal(health.response.text, "draining\n");
  });
});

Deno.test("metrics endpoint: heads over 4 KiB get 431, long request lines 414", async () => {
  await withEndpoint(async ({ port }) => {
    const big = await ask(
      port,
      "GET /metrics HTTP/1.1\r\n" + `X: ${"a".repeat(5000)}\r\n\r\n`,
    );
    assert.equal(big.response.status, 431);
    const endless = await ask(port, "GET /" + "a".repeat(5000));
    assert.equal(endless.response.status, 414);
  });
});

Deno.test("metrics endpoint: silent clients are cut at the timeout, and the excess at once", async () => {
  await withEndpoint(async ({ port }) => {
    // Fill every slot with clients that send nothing.
    const silent = await Promise.all(
      Array.from(
        { length: MAX_METRICS_CONNECTIONS },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const excess = await rawExchange(port, "GET /health HTTP/1.1\r\n\r\n", {
      tls: false,
      timeoutMs: 2000,
    });
    assert.ok(excess.closedByServer && !excess.timedOut);
    assert.equal(excess.bytes.length, 0, "over the limit: closed unanswered");
    assert.ok(performance.now() - started < 1000);
    // The timeout (300 ms) frees the slots: silent clients see the end.
    const buf = new Uint8Array(16);
    for (const conn of silent) {
      const read = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"late">((r) => setTimeout(() => r("late"), 3000)),
      ]);
      assert.equal(read, null, "closed by the server");
      conn.close();
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `cut after ${elapsed} ms`);
    const after = await ask(port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(after.response.status, 200);
  }, 300);
});

Deno.test("metrics endpoint: a port in use is a startup error naming --metrics", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(
      () =>
        startMetricsEndpoint({
          hostname: "127.0.0.1",
          port: (taken.addr as Deno.NetAddr).port,
          page: () => "",
        }),
      (err: Error) =>
        err instanceof StartupError &&
        err.message.startsWith("--metrics: port ") &&
        err.message.includes("already in use"),
    );
  } finally {
    taken.close();
  }
});
