import assert from "node:assert/strict";
import { spawnServer } from "./test_helpers.ts";

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

Deno.test("--workers rejects a count that is not a number or auto", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "main.ts", "--workers", "x"],
    cwd: import.meta.dirname!,
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /--workers/);
});
