/**
 * Idle memory per HTTP/2 connection, pws beside nginx, measured the way
 * tests/adversarial/memory_test.ts measures pws alone: each server serves
 * a 4 MiB file over cleartext HTTP/2 (prior knowledge), 50 connections
 * warm it up, then `--connections` (default 1,000) connections each fetch
 * a 64 KiB range and stay open; the server's RSS growth over their count
 * is the idle cost of one connection after a response. Prints a Markdown
 * table. Each server is pinned to CPU 0, every process is killed by pid
 * and the temp dir removed at the end.
 *
 *     deno run --allow-all bench/h2_idle.ts [--connections N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CLIENT_PREFACE, FrameType, SettingId } from "../http2/frame.ts";
import { FrameReader } from "../http2/frame_reader.ts";
import { FrameWriter } from "../http2/frame_writer.ts";
import { HeaderBlockEncoder } from "../http2/hpack/encoder.ts";
import { nginxConfig } from "./nginx.ts";
import {
  freePort,
  killAll,
  killTree,
  rssBytes,
  sleep,
  startLogged,
  waitForPort,
} from "./procs.ts";
import { SERVER_CPU } from "./servers.ts";
import { formatNumber, markdownTable, parseListenPort } from "./stats.ts";

const MIB = 1024 * 1024;
const RANGE: [string, string][] = [["range", "bytes=1000000-1065535"]];

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(bytes.subarray(off));
  }
}

/**
 * Opens a cleartext HTTP/2 connection, GETs `/big.bin` with a 64 KiB
 * range, reads until its last DATA frame and leaves the connection open.
 */
async function getAndKeep(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const block = new HeaderBlockEncoder().encode([
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "localhost"],
    [":path", "/big.bin"],
    ...RANGE,
  ]);
  const out = new FrameWriter()
    .settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: MIB }])
    .windowUpdate(0, MIB)
    .headers(1, block, { maxFrameSize: 16384, endStream: true })
    .take();
  await writeAll(conn, CLIENT_PREFACE);
  await writeAll(conn, out);
  const reader = new FrameReader({ expectPreface: false });
  const buf = new Uint8Array(64 * 1024);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    reader.push(buf.subarray(0, n));
    for (let e = reader.next(); e; e = reader.next()) {
      if (e.kind === "error") throw new Error(e.error.reason);
      const frame = e.frame;
      if (frame.type === FrameType.SETTINGS && !frame.ack) {
        await writeAll(conn, new FrameWriter().settingsAck().take());
      }
      if (frame.type === FrameType.DATA && frame.endStream) return conn;
      if (frame.type === FrameType.RST_STREAM) throw new Error("reset");
      if (frame.type === FrameType.GOAWAY) throw new Error("GOAWAY");
    }
  }
  conn.close();
  throw new Error("no complete response");
}

/** RSS after a short pause, so that freed memory has settled. */
async function settledRss(pid: number): Promise<number> {
  await sleep(500);
  return rssBytes(pid);
}

/** One server's figures. */
interface IdleCost {
  label: string;
  beforeBytes: number;
  afterBytes: number;
  count: number;
}

/** Measures one started server (pid listening on port). */
async function measure(
  label: string,
  pid: number,
  port: number,
  count: number,
): Promise<IdleCost> {
  for (let i = 0; i < 50; i++) (await getAndKeep(port)).close();
  const beforeBytes = await settledRss(pid);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < count; i++) conns.push(await getAndKeep(port));
    const afterBytes = await settledRss(pid);
    return { label, beforeBytes, afterBytes, count };
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: { connections: { type: "string", default: "1000" } },
  });
  const count = Number(values.connections);
  if (!Number.isInteger(count) || count < 1 || count > 5000) {
    console.error(`bad --connections: ${values.connections}`);
    return 2;
  }
  const tmp = await Deno.makeTempDir({ prefix: "pws-h2idle-" });
  await Deno.chmod(tmp, 0o755);
  const root = `${tmp}/root`;
  await Deno.mkdir(root);
  await Deno.chmod(root, 0o755);
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(4 * MIB).fill(0x61), {
    mode: 0o644,
  });
  const repo = new URL("..", import.meta.url).pathname;
  const pin = ["-c", String(SERVER_CPU)];
  const results: IdleCost[] = [];
  try {
    // nginx: one process, h2c on the listener.
    const port = freePort();
    await Deno.writeTextFile(
      `${tmp}/nginx.conf`,
      nginxConfig({ tmpDir: tmp, root, port, openFileCache: false, h2c: true }),
    );
    const nginx = startLogged("taskset", [
      ...pin,
      "nginx",
      "-p",
      tmp,
      "-e",
      `${tmp}/error.log`,
      "-c",
      `${tmp}/nginx.conf`,
    ], `${tmp}/nginx.log`);
    try {
      await waitForPort(port, 10_000, nginx.exited);
      results.push(await measure("nginx 1.22 (h2c)", nginx.pid, port, count));
    } finally {
      await killTree(nginx.pid, 3000);
    }
    // pws, as the memory test starts it.
    const log = `${tmp}/pws.log`;
    const pws = startLogged("taskset", [
      ...pin,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--v8-flags=--max-semi-space-size=1",
      `${repo}main.ts`,
      "--quiet",
      "--idle-timeout",
      "120",
      "--root",
      root,
      "--host",
      "127.0.0.1",
      "0",
    ], log);
    try {
      let pwsPort: number | undefined;
      const deadline = Date.now() + 60_000;
      while (pwsPort === undefined && Date.now() < deadline && !pws.exited()) {
        await sleep(100);
        pwsPort = Deno.readTextFileSync(log).split("\n")
          .map(parseListenPort).find((p) => p !== undefined);
      }
      if (pwsPort === undefined) throw new Error("pws did not start");
      await waitForPort(pwsPort, 10_000, pws.exited);
      results.push(await measure("pws (h2c)", pws.pid, pwsPort, count));
    } finally {
      await killTree(pws.pid, 3000);
    }
  } finally {
    await killAll();
    await Deno.remove(tmp, { recursive: true });
  }
  const mib = (b: number) => formatNumber(b / MIB);
  console.log(markdownTable(
    ["server", "RSS before", "RSS with the connections", "per connection"],
    results.map((r) => [
      r.label,
      `${mib(r.beforeBytes)} MiB`,
      `${mib(r.afterBytes)} MiB`,
      `${formatNumber((r.afterBytes - r.beforeBytes) / 1024 / r.count)} KiB`,
    ]),
  ));
  console.log(
    `\n${count} idle HTTP/2 connections, each after a 64 KiB range of a 4 MiB file.`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
