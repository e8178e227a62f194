import assert from "node:assert/strict";
import { REPO_DIR, spawnServer, STATIC_DIR } from "../tests/helpers.ts";
import type { StartOptions } from "./server.ts";
import {
  checkPeriodMs,
  livenessAction,
  parseLivenessLimit,
  SHUTDOWN_MARGIN_MS,
  startWorkerGroup,
} from "./workers.ts";

Deno.test("livenessAction: ping when all answered, wait, replace at the limit", () => {
  assert.equal(livenessAction(undefined, 10_000, 5000), "ping");
  assert.equal(livenessAction(10_000, 10_000, 5000), "wait");
  assert.equal(livenessAction(10_000, 14_999, 5000), "wait");
  assert.equal(livenessAction(10_000, 15_000, 5000), "replace");
});

Deno.test("checkPeriodMs: a quarter of the limit, from 20 ms to 1 s", () => {
  assert.equal(checkPeriodMs(5000), 1000);
  assert.equal(checkPeriodMs(60_000), 1000);
  assert.equal(checkPeriodMs(1000), 250);
  assert.equal(checkPeriodMs(50), 20);
});

Deno.test("parseLivenessLimit: digits from 50 ms to a day, else the default", () => {
  assert.equal(parseLivenessLimit("1000"), 1000);
  assert.equal(parseLivenessLimit("50"), 50);
  for (
    const bad of [
      undefined,
      "",
      "49",
      "0",
      "-5",
      "1e3",
      " 100",
      "1.5",
      "999999999",
    ]
  ) {
    assert.equal(parseLivenessLimit(bad), undefined, String(bad));
  }
});

/** Threads of this process named like Deno's worker threads. */
function workerThreads(): string[] {
  const names: string[] = [];
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      const name = Deno.readTextFileSync(`/proc/self/task/${task.name}/comm`)
        .trim();
      if (name.startsWith("worker-")) names.push(name);
    } catch {
      // the thread ended while we looked
    }
  }
  return names;
}

const GROUP_OPTIONS: StartOptions = {
  root: STATIC_DIR,
  hostname: "127.0.0.1",
  port: 0,
  config: { logFormat: "off" },
};

// Node workers keep message ops pending between tests: the sanitizers would
// count them as leaks.
const inProcess = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "a stalled worker is replaced once and its thread really ends",
  ...inProcess,
  async fn() {
    const before = workerThreads().length;
    const lines: string[] = [];
    const group = await startWorkerGroup(1, GROUP_OPTIONS, {
      stallFirst: true,
      livenessLimitMs: 200,
      log: (line) => lines.push(line),
    });
    try {
      const deadline = performance.now() + 5000;
      while (group.restarts() === 0 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(group.restarts(), 1, lines.join("\n"));
      // The stalled thread is gone (it would otherwise spin for ever and
      // keep its listening socket): only the replacement is left.
      while (
        workerThreads().length > before + 1 && performance.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(workerThreads().length, before + 1);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(group.restarts(), 1, "the replacement is healthy");
      assert.deepEqual(lines, [
        "pws: worker 1 did not answer for 0.2 s; replacing it " +
        "(connections queued on it are lost)",
      ]);
    } finally {
      await group.shutdown(1000);
    }
  },
});

Deno.test({
  name: "shutdown terminates a stalled worker when the grace period ends",
  ...inProcess,
  async fn() {
    const lines: string[] = [];
    const group = await startWorkerGroup(1, GROUP_OPTIONS, {
      stallFirst: true,
      livenessLimitMs: 60_000,
      log: (line) => lines.push(line),
    });
    const graceMs = 300;
    const started = performance.now();
    await group.shutdown(graceMs);
    const ms = performance.now() - started;
    assert.ok(ms >= graceMs, `${ms} ms`);
    assert.ok(ms < graceMs + SHUTDOWN_MARGIN_MS + 500, `${ms} ms`);
    assert.deepEqual(lines, [
      "pws: worker 1 did not stop within the grace period; terminating it",
    ]);
  },
});

Deno.test({
  name: "shutdown of healthy workers returns as soon as they have drained",
  ...inProcess,
  async fn() {
    const lines: string[] = [];
    const group = await startWorkerGroup(2, GROUP_OPTIONS, {
      log: (line) => lines.push(line),
    });
    const started = performance.now();
    await group.shutdown(10_000);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `${ms} ms`);
    assert.deepEqual(lines, []);
  },
});

Deno.test("--workers 2 serves every request on one port and shuts down gracefully", async () => {
  const server = await spawnServer([
    "--host",
    "127.0.0.1",
    "--quiet",
    "--workers",
    "2",
    "0",
  ]);
  let stopped;
  try {
    // Separate connections, so the kernel spreads them over both listeners.
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const res = await fetch(server.url, {
          headers: { connection: "close" },
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  } finally {
    stopped = await server.stop();
  }
  assert.equal(stopped.status.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /shutting down/);
});

/** Voluntary context switches of the threads of `pid`, by thread name. */
function switchesByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${task.name}`;
    try {
      // The main thread is the one whose id is the process id.
      const name = task.name === String(pid)
        ? "main"
        : Deno.readTextFileSync(`${dir}/comm`).trim();
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(
        Deno.readTextFileSync(`${dir}/status`),
      );
      if (m) out.set(name, (out.get(name) ?? 0) + Number(m[1]));
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

Deno.test("--workers 2: both listener threads take connections", async () => {
  const server = await spawnServer([
    "--host",
    "127.0.0.1",
    "--quiet",
    "--workers",
    "2",
    "0",
  ]);
  try {
    const before = switchesByThread(server.pid);
    assert.ok(before.has("worker-1"), [...before.keys()].join(", "));
    // 200 connections: the kernel (SO_REUSEPORT) spreads them by address.
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(Array.from({ length: 50 }, async () => {
        const res = await fetch(server.url, {
          headers: { connection: "close" },
        });
        await res.arrayBuffer();
        assert.equal(res.status, 200);
      }));
    }
    const after = switchesByThread(server.pid);
    const woke = (name: string) => after.get(name)! - before.get(name)!;
    // Each thread's event loop woke for its connections (an idle one
    // wakes once a second for its timeout sweeper).
    console.log(
      `--workers 2: wake-ups main ${woke("main")}, worker-1 ${
        woke("worker-1")
      }`,
    );
    assert.ok(woke("main") >= 10, `main thread woke ${woke("main")} times`);
    assert.ok(
      woke("worker-1") >= 10,
      `worker thread woke ${woke("worker-1")} times`,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("--workers rejects a count that is not a number or auto", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "main.ts", "--workers", "x"],
    cwd: REPO_DIR,
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--workers/);
});
