/**
 * Attack class: a path that is a FIFO, a file and a directory by turns.
 * Opening a FIFO for reading blocks until a writer comes, so a server
 * that opens before it knows what it opened can freeze every client. A
 * separate process swaps a regular file, a FIFO and a directory at the
 * requested paths (the file itself, its precompressed sidecar, the
 * directory's index, NotFound.html) while a health request on another
 * connection must keep being answered within a second.
 */

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { afterWatcher, spawnServer } from "../helpers.ts";
import { getHead, hammer, startFlipper, watchHealth } from "./race_helpers.ts";

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(out.success, `mkfifo ${path} failed`);
}

/** Makes the three homes that take turns at `path`. */
async function makeHomes(path: string, contents: string): Promise<string[]> {
  await Deno.writeTextFile(`${path}.as-file`, contents);
  await mkfifo(`${path}.as-fifo`);
  await Deno.mkdir(`${path}.as-dir`);
  await Deno.writeTextFile(`${path}.as-dir/index.html`, contents);
  return [`${path}.as-file`, `${path}.as-fifo`, `${path}.as-dir`];
}

Deno.test({
  name: "FIFOs: swapping a file, a FIFO and a directory never stalls the " +
    "server (file, sidecar, index, NotFound.html, listing)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "pws-fifo-" });
    await Deno.writeTextFile(`${root}/health.txt`, "healthy\n");
    const script = "console.log('script body');\n".repeat(64);
    await Deno.writeTextFile(`${root}/app.js`, script);
    await Deno.mkdir(`${root}/site`);
    await Deno.mkdir(`${root}/listed`);
    await mkfifo(`${root}/listed/pipe`);
    await Deno.writeTextFile(`${root}/listed/a.txt`, "a\n");
    const cases: [string, string, string, string[]][] = [
      ["the requested file", `${root}/f`, "file body\n", [getHead("/f")]],
      ["a sidecar", `${root}/app.js.gz`, "not gzip", [
        getHead("/app.js", ["Accept-Encoding: gzip"]),
      ]],
      ["a directory's index", `${root}/site/index.html`, "<p>index</p>", [
        getHead("/site/"),
      ]],
      ["NotFound.html", `${root}/NotFound.html`, "<p>missing</p>", [
        getHead("/nothing-here"),
      ]],
    ];
    try {
      for (const [name, path, contents, requests] of cases) {
        await t.step(name, async () => {
          // A server of its own: one frozen by a case must not fail the next.
          const server = await spawnServer([
            "--root",
            root,
            "--quiet",
            "--dir-listing",
            "0",
          ]);
          try {
            const homes = await makeHomes(path, contents);
            const flipper = startFlipper(["rotate", path, "30", ...homes]);
            const load = hammer(server.port, {
              requests: [...requests, getHead("/listed/")],
              total: 6000,
              connections: 3,
              batch: 8,
              batchTimeoutMs: 2000,
              maxTimeouts: 1,
              check(response) {
                assert.ok(
                  [200, 301, 404].includes(response.status),
                  `status ${response.status}`,
                );
              },
            });
            const health = await watchHealth(server.port, "/health.txt", load);
            const result = await load;
            flipper.stop();
            const flips = await flipper.flips;
            assert.equal(
              health.failures,
              0,
              `${health.failures} of ${health.checks} health checks went ` +
                `unanswered for 1 s (${flips} swaps, ${result.responses} ` +
                `responses)`,
            );
            console.log(
              `${name}: ${flips} swaps, ${result.responses} responses, ` +
                `${health.checks} health checks, worst ${
                  health.worstMs.toFixed(1)
                } ms`,
            );
            assert.equal(result.timeouts, 0, "a batch of requests stalled");
            assert.equal(result.responses, 6000);
            assert.ok(flips > 50, `only ${flips} swaps`);
            assert.ok(health.worstMs < 1000, `worst ${health.worstMs} ms`);
          } finally {
            // A frozen server ignores SIGTERM; stop() kills it after 5 s.
            await server.stop();
          }
        });
      }
      await t.step(
        "a sidecar replaced by a FIFO just after it was seen",
        async () => {
          const server = await spawnServer(["--root", root, "--quiet", "0"]);
          try {
            const sidecar = `${root}/app.js.gz`;
            await Deno.writeTextFile(sidecar, "not really gzip");
            await afterWatcher();
            const first = await hammer(server.port, {
              requests: [getHead("/app.js", ["Accept-Encoding: gzip"])],
              total: 1,
              check(response) {
                assert.equal(response.header("content-encoding"), "gzip");
              },
            });
            assert.equal(first.responses, 1);
            await Deno.remove(sidecar);
            await mkfifo(sidecar);
            await afterWatcher();
            const load = hammer(server.port, {
              requests: [getHead("/app.js", ["Accept-Encoding: gzip"])],
              total: 50,
              batch: 5,
              batchTimeoutMs: 2000,
              maxTimeouts: 1,
              check(response) {
                assert.equal(response.status, 200);
                // Never the FIFO nor the old sidecar: the file itself, as
                // is or compressed on the fly.
                const body = response.header("content-encoding") === "gzip"
                  ? gunzipSync(response.body)
                  : response.body;
                assert.equal(new TextDecoder().decode(body), script);
              },
            });
            const health = await watchHealth(server.port, "/health.txt", load);
            const result = await load;
            assert.equal(health.failures, 0, "the server stalled");
            assert.equal(result.responses, 50);
          } finally {
            await server.stop();
            await Deno.remove(`${root}/app.js.gz`).catch(() => {});
          }
        },
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
