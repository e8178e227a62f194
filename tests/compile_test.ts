/**
 * Tests of the compiled binary (`deno task compile` → `./pws`). `deno
 * compile` needs its runtime, `denort`, which it downloads unless
 * `DENORT_BIN` points at one; where neither works these tests are skipped
 * and say why, and nothing else depends on them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { VERSION } from "../server/config.ts";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const workDir = await Deno.makeTempDir({ prefix: "pws-compile-" });
const binary = `${workDir}/pws`;

/** Runs the same command as `deno task compile`, into a temp dir. */
async function compile(): Promise<{ ok: boolean; why: string }> {
  const task = JSON.parse(await Deno.readTextFile(`${repo}/deno.json`))
    .tasks.compile as string;
  const args = task.split(" ").slice(1).map((arg) =>
    arg === "pws" ? binary : arg
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const why = /error sending request|dns error|Download/i.test(stderr)
    ? "deno compile could not download its runtime (denort) and DENORT_BIN " +
      "is not set"
    : stderr.split("\n").find((line) => line.includes("error")) ?? stderr;
  return { ok: out.success, why };
}

/** A compressible text file, large enough to be compressed. */
const PAGE_TEXT = "compressed by a pool thread\n".repeat(200);

/**
 * Sends a GET with `Connection: close` and one extra header line over raw
 * TCP (fetch would decompress), and splits the answer into head and body.
 */
async function getRaw(
  url: string,
  path: string,
  header: string,
): Promise<{ head: string; body: Uint8Array }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${header}\r\n\r\n`,
  ));
  const bytes = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  let end = 0;
  while (
    end + 3 < bytes.length &&
    !(bytes[end] === 13 && bytes[end + 1] === 10 && bytes[end + 2] === 13 &&
      bytes[end + 3] === 10)
  ) {
    end++;
  }
  return {
    head: new TextDecoder().decode(bytes.subarray(0, end + 4)),
    body: bytes.subarray(end + 4),
  };
}

const built = await compile();
if (!built.ok) {
  console.log(`compile_test.ts: skipped: ${built.why}`);
  await Deno.remove(workDir, { recursive: true });
}

Deno.test({
  name: built.ok
    ? "the compiled ./pws prints its version and serves a file"
    : `the compiled ./pws (skipped: ${built.why})`,
  ignore: !built.ok,
  async fn() {
    try {
      const version = await new Deno.Command(binary, {
        args: ["--version"],
        stdout: "piped",
      }).output();
      assert.equal(
        new TextDecoder().decode(version.stdout).trim(),
        `pws ${VERSION}`,
      );
      const usage = await new Deno.Command(binary, {
        args: ["not-a-port"],
        stderr: "piped",
      }).output();
      assert.equal(usage.code, 2);

      await Deno.writeTextFile(`${workDir}/hello.txt`, "hello from pws\n");
      await Deno.writeTextFile(`${workDir}/page.txt`, PAGE_TEXT);
      const server = new Deno.Command(binary, {
        args: ["--root", workDir, "--host", "127.0.0.1", "--quiet", "0"],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      try {
        const reader = server.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        let text = "";
        while (!/http:\/\/127\.0\.0\.1:\d+\//.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(text)![0];
        const res = await fetch(url + "hello.txt");
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "hello from pws\n");
        // Compression runs on a worker thread: its module must be inside.
        const gzipped = await getRaw(url, "/page.txt", "Accept-Encoding: gzip");
        assert.match(gzipped.head, /^HTTP\/1\.1 200 /);
        assert.match(gzipped.head, /\r\nContent-Encoding: gzip\r\n/i);
        assert.equal(
          new TextDecoder().decode(gunzipSync(gzipped.body)),
          PAGE_TEXT,
        );
        reader.releaseLock();
      } finally {
        server.kill("SIGTERM");
        await server.status;
        await server.stdout.cancel().catch(() => {});
      }
    } finally {
      await Deno.remove(workDir, { recursive: true });
    }
  },
});
