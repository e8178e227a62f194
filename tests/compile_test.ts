/**
 * Tests of the compiled binary (`deno task compile` → `./pws`). `deno
 * compile` needs its runtime, `denort`, which it downloads unless
 * `DENORT_BIN` points at one; where neither works these tests are skipped
 * and say why, and nothing else depends on them.
 *
 * @module
 */

import assert from "node:assert/strict";
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
