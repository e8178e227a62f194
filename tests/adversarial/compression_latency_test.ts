/**
 * Compression must never stall the event loop: while four clients download
 * a 20 MiB text file compressed on the fly with brotli, another client's
 * small keep-alive requests keep answering within milliseconds (p99 ≤ 50
 * ms). Before the compression pool, brotli ran on the event loop and those
 * requests waited seconds.
 *
 * pws runs as a subprocess, so the clients' own work in this process
 * cannot delay the server. Bounded: the downloads must finish within
 * {@linkcode DEADLINE_MS}; every socket is closed.
 *
 * Run: `deno test --allow-all tests/adversarial/compression_latency_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import zlib from "node:zlib";
import { parseResponses, spawnServer } from "../helpers.ts";

const MiB = 1024 * 1024;
const BIG_BYTES = 20 * MiB;
const SMALL_BYTES = 1024;
const DOWNLOADS = 4;
/** The small client's pause between requests: a few requests per 10 ms. */
const SMALL_PAUSE_MS = 3;
/** The whole test gives up (and fails) after this long. */
const DEADLINE_MS = 120_000;
const P99_LIMIT_MS = 50;
/** Those of `deno task start` (setPriority lets compression threads yield). */
const SERVER_PERMISSIONS = ["--allow-all"];
const encoder = new TextEncoder();

/**
 * Text that compresses well but not trivially: lines of words drawn by a
 * fixed pseudo-random sequence, so brotli has real matching work to do.
 */
function makeText(size: number): Uint8Array {
  const words = [
    "static",
    "server",
    "request",
    "response",
    "header",
    "brotli",
    "window",
    "stream",
    "socket",
    "buffer",
    "latency",
    "client",
    "deno",
    "thread",
    "cache",
    "range",
  ];
  const out = new Uint8Array(size);
  let offset = 0;
  let seed = 12345;
  let line = 0;
  while (offset < size) {
    let text = `${line++}:`;
    for (let i = 0; i < 12; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      text += " " + words[seed >>> 28] + ((seed >>> 8) % 1000);
    }
    const bytes = encoder.encode(text + "\n");
    out.set(bytes.subarray(0, size - offset), offset);
    offset += bytes.length;
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * Downloads `/big.txt` with `Accept-Encoding: br` over its own connection,
 * reading until the server closes. Keeps the bytes only when `keep`.
 */
async function download(
  port: number,
  keep: boolean,
  signal: AbortSignal,
): Promise<{ received: number; bytes: Uint8Array | undefined }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const onAbort = () => conn.close();
  signal.addEventListener("abort", onAbort);
  try {
    await conn.write(encoder.encode(
      "GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n" +
        "Connection: close\r\n\r\n",
    ));
    const parts: Uint8Array[] = [];
    const buf = new Uint8Array(256 * 1024);
    let received = 0;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
      if (keep) parts.push(buf.slice(0, n));
    }
    if (!keep) return { received, bytes: undefined };
    const bytes = new Uint8Array(received);
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return { received, bytes };
  } finally {
    signal.removeEventListener("abort", onAbort);
    try {
      conn.close();
    } catch {
      // closed by the abort
    }
  }
}

/**
 * Requests the 1 KiB file over one keep-alive connection every few ms
 * until `done()` says stop, and returns each request's latency in ms.
 */
async function smallRequests(
  port: number,
  done: () => boolean,
): Promise<number[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = encoder.encode("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n");
  const buf = new Uint8Array(64 * 1024);
  const latencies: number[] = [];
  try {
    while (!done()) {
      const t0 = performance.now();
      await conn.write(request);
      // The head is about 300 bytes and the body 1 KiB: read until both.
      let have = 0;
      let expected = Infinity;
      while (have < expected) {
        const n = await conn.read(buf.subarray(have));
        if (n === null) throw new Error("server closed the small connection");
        have += n;
        if (expected === Infinity) {
          const text = new TextDecoder().decode(buf.subarray(0, have));
          const headEnd = text.indexOf("\r\n\r\n");
          if (headEnd >= 0) {
            assert.match(text, /^HTTP\/1\.1 200 /);
            expected = headEnd + 4 + SMALL_BYTES;
          }
        }
      }
      latencies.push(performance.now() - t0);
      await delay(SMALL_PAUSE_MS);
    }
  } finally {
    conn.close();
  }
  return latencies;
}

Deno.test("compressing downloads do not delay other clients (p99 ≤ 50 ms)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws-compress-latency-" });
  const big = makeText(BIG_BYTES);
  await Deno.writeFile(`${dir}/big.txt`, big);
  await Deno.writeFile(`${dir}/small.txt`, makeText(SMALL_BYTES));
  const server = await spawnServer([
    "--root",
    dir,
    "--host",
    "127.0.0.1",
    "--quiet",
    "0",
  ], { permissions: SERVER_PERMISSIONS });
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), DEADLINE_MS);
  try {
    // Warm the small path first so its first-request costs are not counted.
    let warmUps = 20;
    await smallRequests(server.port, () => warmUps-- <= 0);
    let downloadsDone = false;
    const started = performance.now();
    const downloads = Promise.all(
      Array.from(
        { length: DOWNLOADS },
        (_, i) => download(server.port, i === 0, deadline.signal),
      ),
    ).finally(() => downloadsDone = true);
    const latencies = await smallRequests(
      server.port,
      () => downloadsDone || deadline.signal.aborted,
    );
    const results = await downloads;
    const elapsed = performance.now() - started;
    assert.ok(
      !deadline.signal.aborted,
      `downloads took over ${DEADLINE_MS} ms`,
    );

    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 0.5);
    const p99 = percentile(sorted, 0.99);
    console.log(
      `  4 brotli downloads of 20 MiB took ${(elapsed / 1000).toFixed(1)} s; ` +
        `${sorted.length} small requests: p50 ${p50.toFixed(1)} ms, ` +
        `p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );

    // The kept download is a whole, correct brotli body of the file.
    const [response] = parseResponses(results[0].bytes!);
    assert.equal(response.status, 200);
    assert.equal(response.header("content-encoding"), "br");
    const decoded = zlib.brotliDecompressSync(response.body);
    assert.equal(decoded.length, BIG_BYTES);
    assert.ok(decoded.equals(big), "decompressed body differs from the file");
    // The others got the same response (only the Date header may differ).
    for (const { received } of results) {
      assert.ok(Math.abs(received - results[0].received) < 64, "whole body");
    }

    assert.ok(
      p99 <= P99_LIMIT_MS,
      `small-request p99 ${p99.toFixed(1)} ms > ${P99_LIMIT_MS} ms`,
    );
    assert.ok(
      sorted.length >= 100,
      `only ${sorted.length} small requests during the downloads`,
    );
  } finally {
    clearTimeout(timer);
    deadline.abort();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
