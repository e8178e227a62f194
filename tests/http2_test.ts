/**
 * HTTP/2 with the clients people use: curl (`--http2-prior-knowledge` in
 * cleartext, `--http2` over TLS), nghttp loading the demo site with its
 * assets, h2load, Node's `http2` client, and `openssl s_client` for ALPN.
 * Also what must stay HTTP/1.1: `--no-http2`, and `Upgrade: h2c`, which
 * RFC 9113 deprecates and pws ignores. Each client-based test skips with
 * the reason when the client is not installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import http2 from "node:http2";
import {
  commandAvailable,
  runCommand,
  spawnServer,
  startTestServer,
  STATIC_DIR,
} from "./helpers.ts";
import { makeTestTls } from "./tls_fixture.ts";
import type { RunningServer } from "../server/server.ts";
import type { ConfigOverrides } from "../server/config.ts";

const HAS_CURL = await commandAvailable("curl");
const HAS_NGHTTP = await commandAvailable("nghttp");
const HAS_H2LOAD = await commandAvailable("h2load");
const HAS_OPENSSL = await commandAvailable("openssl");
const TLS = await makeTestTls();
const INDEX = Deno.readFileSync(`${STATIC_DIR}/index.html`);
const STYLE = Deno.readFileSync(`${STATIC_DIR}/style.css`);

let caFile: string | undefined;
function caPath(): string {
  caFile ??= Deno.makeTempFileSync({ prefix: "pws-h2-ca-", suffix: ".pem" });
  Deno.writeTextFileSync(caFile, TLS.ca);
  return caFile;
}

/** Runs `fn` with a cleartext (or `tls`) in-process server of the demo site. */
async function withDemo(
  fn: (server: RunningServer) => Promise<void>,
  options: { tls?: boolean; config?: ConfigOverrides } = {},
): Promise<void> {
  const server = startTestServer({
    root: STATIC_DIR,
    tls: options.tls ? TLS : false,
    config: options.config,
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

function skipped(has: boolean, tool: string): string {
  return has ? "" : ` (skipped: ${tool} is not installed)`;
}

Deno.test({
  name:
    "h2: curl --http2-prior-knowledge gets files, ranges and HEAD over cleartext HTTP/2" +
    skipped(HAS_CURL, "curl"),
  ignore: !HAS_CURL,
  async fn() {
    await withDemo(async (server) => {
      const base = `http://127.0.0.1:${server.port}`;
      const out = Deno.makeTempFileSync();
      try {
        const get = await runCommand("curl", [
          "-sS",
          "--http2-prior-knowledge",
          "-o",
          out,
          "-w",
          "%{http_version} %{http_code} %{size_download}",
          `${base}/`,
        ]);
        assert.equal(get.stdout, `2 200 ${INDEX.length}`, get.stderr);
        assert.deepEqual(Deno.readFileSync(out), INDEX);
        const range = await runCommand("curl", [
          "-sS",
          "--http2-prior-knowledge",
          "-r",
          "0-99",
          "-D",
          "-",
          "-o",
          out,
          `${base}/style.css`,
        ]);
        assert.match(range.stdout, /^HTTP\/2 206/);
        assert.match(range.stdout, /content-range: bytes 0-99\//);
        assert.deepEqual(Deno.readFileSync(out), STYLE.subarray(0, 100));
        const head = await runCommand("curl", [
          "-sS",
          "--http2-prior-knowledge",
          "-I",
          `${base}/style.css`,
        ]);
        assert.match(head.stdout, /^HTTP\/2 200/);
        assert.match(
          head.stdout,
          new RegExp(`content-length: ${STYLE.length}`),
        );
        // Field names are lowercase, and nothing connection-specific.
        assert.doesNotMatch(head.stdout, /^[A-Z][a-z]+-?[A-Za-z]*:/m);
        assert.doesNotMatch(head.stdout, /^(connection|keep-alive):/im);
      } finally {
        Deno.removeSync(out);
      }
    });
  },
});

Deno.test({
  name: "h2: curl over TLS negotiates h2 by ALPN, and HTTP/1.1 when asked" +
    skipped(HAS_CURL, "curl"),
  ignore: !HAS_CURL,
  async fn() {
    await withDemo(async (server) => {
      const url = `https://localhost:${server.port}/`;
      for (
        const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]
      ) {
        const result = await runCommand("curl", [
          "-sS",
          flag,
          "--cacert",
          caPath(),
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          url,
        ]);
        assert.equal(result.stdout, `${version} 200`, result.stderr);
      }
    }, { tls: true });
  },
});

Deno.test({
  name:
    "h2: openssl s_client sees h2 chosen by ALPN, and only http/1.1 with --no-http2" +
    skipped(HAS_OPENSSL, "openssl"),
  ignore: !HAS_OPENSSL,
  async fn() {
    for (const http2 of [true, false]) {
      await withDemo(async (server) => {
        const result = await runCommand(
          "openssl",
          [
            "s_client",
            "-connect",
            `127.0.0.1:${server.port}`,
            "-alpn",
            "h2,http/1.1",
            "-CAfile",
            caPath(),
          ],
          "",
        );
        assert.match(
          result.stdout,
          new RegExp(`ALPN protocol: ${http2 ? "h2" : "http/1.1"}`),
        );
      }, { tls: true, config: { http2 } });
    }
  },
});

Deno.test({
  name: "h2: nghttp loads the demo page and its assets on one connection" +
    skipped(HAS_NGHTTP, "nghttp"),
  ignore: !HAS_NGHTTP,
  async fn() {
    await withDemo(async (server) => {
      const result = await runCommand("nghttp", [
        "-ans",
        `http://127.0.0.1:${server.port}/`,
      ]);
      assert.equal(result.code, 0, result.stderr);
      // The statistics table: one row per stream, with its status and path.
      const rows = result.stdout.split("\n").filter((l) =>
        /^\s*\d+\s+\+/.test(l)
      );
      const paths = rows.map((r) => r.trim().split(/\s+/).at(-1));
      const codes = rows.map((r) => r.trim().split(/\s+/)[4]);
      assert.ok(paths.includes("/"), result.stdout);
      assert.ok(paths.includes("/style.css"), result.stdout);
      assert.ok(paths.length >= 4, result.stdout);
      assert.deepEqual([...new Set(codes)], ["200"], result.stdout);
    });
  },
});

Deno.test({
  name:
    "h2: h2load's 2,000 requests on 4 connections × 10 streams all succeed" +
    skipped(HAS_H2LOAD, "h2load"),
  ignore: !HAS_H2LOAD,
  async fn() {
    await withDemo(async (server) => {
      const result = await runCommand(
        "h2load",
        [
          "-n",
          "2000",
          "-c",
          "4",
          "-m",
          "10",
          `http://127.0.0.1:${server.port}/style.css`,
        ],
        undefined,
        30_000,
      );
      assert.match(
        result.stdout,
        /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout/,
        result.stdout,
      );
      assert.match(result.stdout, /status codes: 2000 2xx/);
    });
  },
});

/** GETs `paths` concurrently on one node:http2 session. */
async function nodeGets(
  authority: string,
  paths: string[],
  options: http2.SecureClientSessionOptions = {},
): Promise<{ status: number; body: Uint8Array; protocol: string }[]> {
  const session = http2.connect(authority, options);
  try {
    return await Promise.all(
      paths.map((path) =>
        new Promise<{ status: number; body: Uint8Array; protocol: string }>(
          (resolve, reject) => {
            const request = session.request({ ":path": path });
            const chunks: Uint8Array[] = [];
            let status = 0;
            request.on("response", (headers) => {
              status = Number(headers[":status"]);
            });
            request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
            request.on("end", () => {
              const body = new Uint8Array(
                chunks.reduce((n, c) => n + c.length, 0),
              );
              let at = 0;
              for (const chunk of chunks) {
                body.set(chunk, at);
                at += chunk.length;
              }
              resolve({
                status,
                body,
                protocol: String(session.alpnProtocol ?? "h2c"),
              });
            });
            request.on("error", reject);
            request.end();
          },
        )
      ),
    );
  } finally {
    session.close();
  }
}

Deno.test("h2: Node's http2 client runs concurrent streams in cleartext and over TLS", async () => {
  for (const tls of [false, true]) {
    await withDemo(async (server) => {
      const authority = tls
        ? `https://localhost:${server.port}`
        : `http://127.0.0.1:${server.port}`;
      const results = await nodeGets(
        authority,
        ["/", "/style.css", "/missing", "/style.css", "/"],
        tls ? { ca: TLS.ca } : {},
      );
      assert.deepEqual(results.map((r) => r.status), [200, 200, 404, 200, 200]);
      assert.deepEqual(results[0].body, INDEX);
      assert.deepEqual(results[1].body, STYLE);
      assert.deepEqual(results[3].body, STYLE);
      if (tls) assert.equal(results[0].protocol, "h2");
    }, { tls });
  }
});

Deno.test({
  name:
    "h2: --no-http2 keeps cleartext HTTP/1.1: prior knowledge fails, Upgrade: h2c is ignored" +
    skipped(HAS_CURL, "curl"),
  ignore: !HAS_CURL,
  async fn() {
    await withDemo(async (server) => {
      const url = `http://127.0.0.1:${server.port}/`;
      const prior = await runCommand("curl", [
        "-sS",
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        url,
      ]);
      assert.notEqual(prior.code, 0, "no HTTP/2 without --http2");
    }, { config: { http2: false } });
    // With HTTP/2 on, the deprecated upgrade is not taken: HTTP/1.1 answers.
    await withDemo(async (server) => {
      const upgrade = await runCommand("curl", [
        "-sS",
        "--http2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        `http://127.0.0.1:${server.port}/`,
      ]);
      assert.equal(upgrade.stdout, "1.1 200", upgrade.stderr);
    });
  },
});

Deno.test({
  name: "h2: the access log names the protocol of each request" +
    skipped(HAS_CURL, "curl"),
  ignore: !HAS_CURL,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await spawnServer(
      ["--root", STATIC_DIR, "--host", "127.0.0.1", "0"],
      { cleartext: true },
    );
    try {
      const url = `http://127.0.0.1:${server.port}/style.css`;
      await runCommand("curl", [
        "-sS",
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        url,
      ]);
      await runCommand("curl", ["-sS", "--http1.1", "-o", "/dev/null", url]);
    } finally {
      const { stdout } = await server.stop();
      const lines = stdout.split("\n").filter((l) => l.includes("/style.css"));
      assert.equal(lines.length, 2, stdout);
      assert.match(lines[0], / GET \/style\.css HTTP\/2 200 \d+ /);
      assert.match(lines[1], / GET \/style\.css HTTP\/1\.1 200 \d+ /);
    }
  },
});

Deno.test({
  name: "h2: over TLS the first response is not held back by Nagle's " +
    "algorithm (curl, which sets TCP_NODELAY as browsers do)" +
    skipped(HAS_CURL, "curl"),
  ignore: !HAS_CURL,
  async fn() {
    await withDemo(async (server) => {
      const waits: number[] = [];
      for (let i = 0; i < 7; i++) {
        const result = await runCommand("curl", [
          ...["-s", "-o", "/dev/null", "--http2", "--cacert", caPath()],
          ...["-w", "%{http_version} %{time_appconnect} %{time_starttransfer}"],
          `https://localhost:${server.port}/`,
        ]);
        const [version, handshakeDone, firstByte] = result.stdout.split(" ");
        assert.equal(version, "2");
        waits.push((Number(firstByte) - Number(handshakeDone)) * 1000);
      }
      // A write held for the peer's delayed ACK costs 40 ms: the fastest of
      // seven fresh connections shows it whatever else runs.
      const fastest = Math.min(...waits);
      assert.ok(
        fastest < 30,
        `request → first byte: ${waits.map((w) => w.toFixed(1))}`,
      );
    }, { tls: true });
  },
});
