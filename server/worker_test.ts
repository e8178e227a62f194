import assert from "node:assert/strict";
import { REPO_DIR, spawnServer } from "../tests/helpers.ts";

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
