/**
 * Attack class: a `--workers` thread whose event loop stalls (a busy loop
 * that some request might trigger). The kernel keeps handing new
 * connections to every listener on the port, so a stalled thread must be
 * found and replaced, and must never keep the process from shutting down.
 *
 * The stall is made with the test hooks of `server/workers.ts`
 * (environment variables only a process started with `--allow-env` for them
 * can read).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type SpawnedServer, spawnServer } from "../helpers.ts";

const STALL_ENV = "PWS_TEST_STALL_WORKER";
const LIVENESS_ENV = "PWS_TEST_WORKER_LIVENESS_MS";

/** `--allow-env` for the two hooks only, besides what pws always needs. */
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  `--allow-env=${STALL_ENV},${LIVENESS_ENV}`,
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `pws --workers 2` on loopback with the given hooks. */
function spawnWorkers(
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<SpawnedServer> {
  return spawnServer(
    ["--host", "127.0.0.1", "--quiet", "--workers", "2", ...args, "0"],
    { permissions: PERMISSIONS, env },
  );
}

/**
 * One `GET path` on a new connection with `Connection: close`; resolves to
 * the status and body length, or to "hung" when no complete answer came
 * within `timeoutMs` (the socket is then closed, so the test ends).
 */
async function getOnNewConnection(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; bodyBytes: number } | "hung"> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, timeoutMs);
  try {
    await conn.write(
      encoder.encode(
        `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      ),
    );
    // Count bytes rather than keep them: some responses are large.
    const buf = new Uint8Array(256 * 1024);
    let head = "";
    let total = 0;
    let headEnd = -1;
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (headEnd < 0) {
        head += decoder.decode(buf.subarray(0, n));
        const at = head.indexOf("\r\n\r\n");
        if (at >= 0) headEnd = at + 4;
      }
      total += n;
    }
    const status = Number(head.slice(9, 12));
    return headEnd < 0 ? "hung" : { status, bodyBytes: total - headEnd };
  } catch (err) {
    if (timedOut) return "hung";
    throw err;
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Sockets listening on `port` in this network namespace (IPv4). */
function listeningSockets(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  // Columns: sl local_address rem_address st …; st 0A is LISTEN.
  return Deno.readTextFileSync("/proc/net/tcp").split("\n").filter((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1]?.endsWith(`:${hex}`) && cols[3] === "0A";
  }).length;
}

Deno.test("a stalled worker is replaced: 40 new connections after the liveness limit all get answers", async () => {
  const server = await spawnWorkers({
    [STALL_ENV]: "1",
    [LIVENESS_ENV]: "1000",
  });
  let stderr = "";
  try {
    // The limit (1 s), a check period, and a fresh worker's start-up.
    await delay(2500);
    const results = await Promise.all(
      Array.from(
        { length: 40 },
        () => getOnNewConnection(server.port, "/", 3000),
      ),
    );
    const hung = results.filter((r) => r === "hung").length;
    assert.equal(hung, 0, `${hung} of 40 requests hung`);
    for (const r of results) assert.equal(r !== "hung" && r.status, 200);
    // Terminating the stalled thread really released its socket: the
    // main thread's listener and the replacement's, nothing else.
    assert.equal(listeningSockets(server.port), 2);
  } finally {
    stderr = (await server.stop()).stderr;
  }
  const replaced = stderr.split("\n").filter((l) => /did not answer/.test(l));
  assert.equal(replaced.length, 1, stderr);
  assert.match(replaced[0], /^pws: worker 1 did not answer/);
});

Deno.test("SIGTERM with a stalled worker: exits within --shutdown-timeout 3 plus a second", async () => {
  // A liveness limit longer than the test: the stalled worker is still
  // there when the signal comes.
  const server = await spawnWorkers(
    { [STALL_ENV]: "1", [LIVENESS_ENV]: "60000" },
    ["--shutdown-timeout", "3"],
  );
  try {
    await delay(300);
    const sentAt = performance.now();
    server.process.kill("SIGTERM");
    const exited = await Promise.race([
      server.process.status.then((status) => ({
        status,
        ms: performance.now() - sentAt,
      })),
      delay(4000).then(() => undefined),
    ]);
    assert.ok(exited, "still running 4 s after SIGTERM");
    console.log(
      `stalled worker: exited ${Math.round(exited.ms)} ms after SIGTERM`,
    );
    assert.equal(exited.status.code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("a healthy --workers 2 server is not restarted while busy (large downloads and a burst)", async () => {
  const root = await Deno.makeTempDir({ prefix: "pws_workers_busy_" });
  const SIZE = 48 * 1024 * 1024;
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(SIZE));
  await Deno.writeTextFile(`${root}/index.html`, "<p>hello</p>\n");
  // A short limit, so a check that mistook "busy" for "stalled" would fire
  // several times during the load.
  const server = await spawnWorkers({ [LIVENESS_ENV]: "1000" }, [
    "--root",
    root,
  ]);
  let stderr = "";
  let downloads = 0;
  let small = 0;
  try {
    const until = performance.now() + 3500;
    const downloader = async () => {
      while (performance.now() < until) {
        const r = await getOnNewConnection(server.port, "/big.bin", 10_000);
        assert.ok(r !== "hung" && r.status === 200 && r.bodyBytes === SIZE);
        downloads++;
      }
    };
    const burst = async () => {
      while (performance.now() < until) {
        const r = await getOnNewConnection(server.port, "/", 3000);
        assert.ok(r !== "hung" && r.status === 200);
        small++;
      }
    };
    await Promise.all([
      ...Array.from({ length: 3 }, downloader),
      ...Array.from({ length: 20 }, burst),
    ]);
  } finally {
    stderr = (await server.stop()).stderr;
    await Deno.remove(root, { recursive: true });
  }
  console.log(`busy workers: ${downloads} downloads of 48 MiB, ${small} small`);
  assert.ok(downloads >= 3 && small >= 100, `${downloads} / ${small}`);
  assert.doesNotMatch(stderr, /pws: worker/);
});
