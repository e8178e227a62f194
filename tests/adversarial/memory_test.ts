/**
 * Attack class: memory that grows past its bounds. Idle keep-alive
 * connections (HTTP/1.1 and HTTP/2) must give their stream buffers back
 * after each response,
 * and the caches must count everything they hold (bodies, ready
 * responses, compressed variants, entry overhead) against `--cache-size`.
 * Each test measures the RSS of a pws process from outside.
 */

import assert from "node:assert/strict";
import { readRssBytes, spawnServer } from "../helpers.ts";
import { getHead, hammer } from "./race_helpers.ts";
import { CLIENT_PREFACE, FrameType, SettingId } from "../../http2/frame.ts";
import { FrameReader } from "../../http2/frame_reader.ts";
import { FrameWriter } from "../../http2/frame_writer.ts";
import { HeaderBlockEncoder } from "../../http2/hpack/encoder.ts";

const MIB = 1024 * 1024;
const encoder = new TextEncoder();

/** RSS of `pid` in MiB, after the server has had a moment to settle. */
async function settledRssMiB(pid: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 300));
  return (readRssBytes(pid) ?? NaN) / MIB;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** Reads one response of `bodyBytes` body bytes (head included) or fails. */
async function readResponse(conn: Deno.Conn, bodyBytes: number) {
  const buf = new Uint8Array(128 * 1024);
  let total = 0;
  let headEnd = -1;
  let text = "";
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed early");
    if (headEnd < 0) {
      text += new TextDecoder("latin1").decode(buf.subarray(0, n));
      headEnd = text.indexOf("\r\n\r\n");
      if (headEnd >= 0) total = text.length - headEnd - 4;
    } else {
      total += n;
    }
    if (headEnd >= 0 && total >= bodyBytes) return;
  }
}

Deno.test({
  name: "memory: an idle keep-alive connection holds at most 48 KiB after " +
    "a large response",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pws-idle-" });
    await Deno.writeFile(
      `${root}/big.bin`,
      new Uint8Array(4 * MIB).fill(0x61),
    );
    const server = await spawnServer([
      "--root",
      root,
      "--quiet",
      "--idle-timeout",
      "120",
      "0",
    ]);
    const conns: Deno.TcpConn[] = [];
    const count = 2000;
    try {
      // Warm up the runtime with the same requests on a few connections.
      await hammer(server.port, {
        requests: [getHead("/big.bin", ["Range: bytes=0-65535"])],
        total: 200,
        check() {},
      });
      const before = await settledRssMiB(server.pid);
      const request = encoder.encode(
        getHead("/big.bin", ["Range: bytes=1000000-1065535"]),
      );
      for (let i = 0; i < count; i++) {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        });
        conns.push(conn);
        await writeAll(conn, request);
        await readResponse(conn, 65536);
      }
      const after = await settledRssMiB(server.pid);
      const perConnKiB = (after - before) * 1024 / count;
      console.log(
        `idle connections: RSS ${before.toFixed(1)} → ${after.toFixed(1)} ` +
          `MiB for ${count}: ${perConnKiB.toFixed(1)} KiB each`,
      );
      assert.ok(
        perConnKiB <= 48,
        `${perConnKiB.toFixed(1)} KiB per idle connection`,
      );
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

/** Text that compresses to about half its size, never the same twice. */
function noisyText(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 0x61 + ((x >>> 16) % 16);
  }
  return out;
}

/**
 * The allowance for everything besides the cache (README: "Memory"): a
 * compression thread, buffer pools, and the JS heap's own spare room,
 * which V8 sizes in proportion to the live heap. Measured on this load:
 * at most 65 MiB beyond a 32 MiB cache (see the test's output).
 */
const CACHE_SLACK_MIB = 96;

/** Growth allowed between the last two passes: the plateau. */
const PLATEAU_MIB = 12;

/**
 * Runs `requests` against a fresh pws with `--cache-size cacheMiB` three
 * times over, and checks that RSS grows by at most the cache size plus
 * {@linkcode CACHE_SLACK_MIB}, and levels off.
 */
async function cacheFillingLoad(
  root: string,
  label: string,
  requests: string[],
  cacheMiB: number,
): Promise<void> {
  const server = await spawnServer([
    "--root",
    root,
    "--quiet",
    "--cache-size",
    String(cacheMiB),
    "0",
  ]);
  try {
    const before = await settledRssMiB(server.pid);
    const growth: number[] = [];
    for (let pass = 0; pass < 3; pass++) {
      await hammer(server.port, {
        requests,
        total: requests.length,
        connections: 2,
        batch: 8,
        check(response) {
          assert.equal(response.status, 200);
        },
      });
      growth.push(await settledRssMiB(server.pid) - before);
    }
    console.log(
      `${label}, --cache-size ${cacheMiB}: RSS ${before.toFixed(1)} MiB, ` +
        `growth after each pass ${growth.map((g) => g.toFixed(1)).join(", ")}`,
    );
    const worst = Math.max(...growth);
    assert.ok(
      worst <= cacheMiB + CACHE_SLACK_MIB,
      `RSS grew by ${worst.toFixed(1)} MiB`,
    );
    // The last pass may not climb past the earlier peak (one pass's GC
    // timing moves a reading by several MiB either way).
    assert.ok(
      growth[2] - Math.max(growth[0], growth[1]) <= PLATEAU_MIB,
      `RSS still growing: ${growth.map((g) => g.toFixed(1))}`,
    );
  } finally {
    await server.stop();
  }
}

Deno.test({
  name: "memory: --cache-size bounds the caches, ready responses, " +
    "compressed variants and entries included",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "pws-cachebound-" });
    await Deno.mkdir(`${root}/big`);
    await Deno.mkdir(`${root}/empty`);
    for (let i = 0; i < 400; i++) {
      await Deno.writeFile(`${root}/big/f${i}.txt`, noisyText(64 * 1024, i));
    }
    for (let i = 0; i < 20_000; i++) {
      await Deno.writeFile(`${root}/empty/e${i}.txt`, new Uint8Array(0));
    }
    // Files must be settled (ctime over a second old) to be cached.
    await new Promise((r) => setTimeout(r, 2100));
    try {
      await t.step("400 files of 64 KiB, every kind of request", async () => {
        const requests = [];
        for (let i = 0; i < 400; i++) {
          const path = `/big/f${i}.txt`;
          requests.push(
            getHead(path),
            getHead(path, ["Accept-Encoding: gzip"]),
            getHead(path, ["Accept-Encoding: br"]),
            getHead(path, ["Connection: close"]),
            `HEAD ${path} HTTP/1.1\r\nHost: t\r\n\r\n`,
            `GET ${path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`,
          );
        }
        await cacheFillingLoad(root, "400 × 64 KiB", requests, 32);
      });
      await t.step("20,000 empty files", async () => {
        const requests = [];
        for (let i = 0; i < 20_000; i++) {
          requests.push(getHead(`/empty/e${i}.txt`));
        }
        await cacheFillingLoad(root, "20,000 empty files", requests, 32);
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

/**
 * Opens an HTTP/2 connection with prior knowledge, GETs `path` with
 * `fields`, reads until the response's last DATA frame, and leaves the
 * connection open.
 */
async function h2GetAndKeep(
  port: number,
  path: string,
  fields: [string, string][],
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const block = new HeaderBlockEncoder().encode([
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "localhost"],
    [":path", path],
    ...fields,
  ]);
  // Windows wide enough for the whole response, as browsers open them.
  const out = new FrameWriter()
    .settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: MIB }])
    .windowUpdate(0, MIB)
    .headers(1, block, { maxFrameSize: 16384, endStream: true })
    .take();
  await writeAll(conn, CLIENT_PREFACE);
  await writeAll(conn, out);
  const reader = new FrameReader({ expectPreface: false });
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("closed early");
    reader.push(buf.subarray(0, n));
    for (let e = reader.next(); e; e = reader.next()) {
      if (e.kind === "error") throw new Error(e.error.reason);
      const frame = e.frame;
      if (frame.type === FrameType.SETTINGS && !frame.ack) {
        await writeAll(conn, new FrameWriter().settingsAck().take());
      }
      if (frame.type === FrameType.DATA && frame.endStream) return conn;
      if (frame.type === FrameType.RST_STREAM) throw new Error("reset");
    }
  }
}

Deno.test({
  name: "memory: an idle HTTP/2 connection holds at most 64 KiB after " +
    "a large response",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pws-idle-h2-" });
    await Deno.writeFile(
      `${root}/big.bin`,
      new Uint8Array(4 * MIB).fill(0x61),
    );
    const server = await spawnServer([
      "--root",
      root,
      "--quiet",
      "--idle-timeout",
      "120",
      "0",
    ], { cleartext: true });
    const conns: Deno.TcpConn[] = [];
    const count = 1000;
    const range: [string, string][] = [["range", "bytes=1000000-1065535"]];
    try {
      // Warm up the runtime with the same exchange.
      for (let i = 0; i < 50; i++) {
        (await h2GetAndKeep(server.port, "/big.bin", range)).close();
      }
      const before = await settledRssMiB(server.pid);
      for (let i = 0; i < count; i++) {
        conns.push(await h2GetAndKeep(server.port, "/big.bin", range));
      }
      const after = await settledRssMiB(server.pid);
      const perConnKiB = (after - before) * 1024 / count;
      console.log(
        `idle HTTP/2 connections: RSS ${before.toFixed(1)} → ` +
          `${after.toFixed(1)} MiB for ${count}: ${
            perConnKiB.toFixed(1)
          } KiB each`,
      );
      assert.ok(
        perConnKiB <= 64,
        `${perConnKiB.toFixed(1)} KiB per idle HTTP/2 connection`,
      );
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
