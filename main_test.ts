/**
 * Tests of the pws command line, run as a subprocess the way a person runs
 * it: exit codes, the lines printed, and memory use while streaming a
 * 1 GiB file.
 *
 * @module
 */

import assert from "node:assert/strict";
import denoJson from "./deno.json" with { type: "json" };
import {
  MAIN_MODULE,
  readRssBytes,
  REPO_DIR,
  type SpawnedServer,
  spawnServer,
} from "./tests/helpers.ts";

const VERSION: string = denoJson.version;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const HAS_IPV6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run <permissions> main.ts ...args` to completion (killed after
 * `timeoutMs`, so a command that unexpectedly starts serving cannot hang
 * the test).
 */
async function runPws(
  args: readonly string[],
  permissions: readonly string[] = ["--allow-net", "--allow-read"],
  timeoutMs = 15000,
): Promise<RunResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, MAIN_MODULE, ...args],
    cwd: REPO_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `stderr` holds no stack trace and no Deno error report. */
function assertNoStackTrace(stderr: string, label: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, `${label}: stack trace`);
  assert.doesNotMatch(stderr, /^error:/im, `${label}: Deno error report`);
  assert.doesNotMatch(stderr, /Uncaught/, `${label}: uncaught error`);
}

/** Non-empty lines of a text. */
function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Runs `fn` with a temp dir that is removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pws_main_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with a spawned server, stopping it afterwards. */
async function withSpawned(
  args: readonly string[],
  fn: (server: SpawnedServer) => Promise<void>,
): Promise<void> {
  const server = await spawnServer(args);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * Downloads `target` over a raw socket, discarding the body as it arrives.
 * Returns the status, the Content-Length and the number of body bytes.
 * The connection is closed after `timeoutMs`, failing the read.
 */
async function download(
  hostname: string,
  port: number,
  target: string,
  timeoutMs: number,
): Promise<{ status: number; contentLength: number; bodyBytes: number }> {
  const conn = await Deno.connect({ hostname, port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  try {
    const req = encoder.encode(
      `GET ${target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`,
    );
    let offset = 0;
    while (offset < req.length) {
      offset += await conn.write(req.subarray(offset));
    }
    const buf = new Uint8Array(MiB);
    let head = "";
    let status = 0;
    let contentLength = -1;
    let bodyBytes = 0;
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (timedOut) {
          throw new Error(
            `download of ${target} timed out after ${timeoutMs} ms with ` +
              `${bodyBytes} body bytes`,
          );
        }
        throw err;
      }
      if (n === null) break;
      if (status === 0) {
        // Latin-1 keeps byte offsets equal to string offsets.
        head += String.fromCharCode(...buf.subarray(0, Math.min(n, 4096)));
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) {
          if (head.length > 16384) throw new Error("response head too long");
          continue;
        }
        status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end));
        contentLength = m ? Number(m[1]) : -1;
        const headBytesInThisRead = end + 4 - (head.length - Math.min(n, 4096));
        bodyBytes += n - headBytesInThisRead;
        continue;
      }
      bodyBytes += n;
    }
    return { status, contentLength, bodyBytes };
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

// ---------------------------------------------------------------------------
// Help, version and usage errors

Deno.test("--help and -h exit 0 and print the usage", async () => {
  for (const flag of ["--help", "-h"]) {
    const out = await runPws([flag]);
    assert.equal(out.code, 0, flag);
    assert.match(out.stdout, /^Usage: pws /, flag);
    assert.match(out.stdout, /--root DIR/, flag);
    assert.equal(out.stderr, "", flag);
  }
});

Deno.test("--version and -V print pws and the version", async () => {
  for (const flag of ["--version", "-V"]) {
    const out = await runPws([flag]);
    assert.equal(out.code, 0, flag);
    assert.equal(out.stdout, `pws ${VERSION}\n`, flag);
    assert.equal(out.stderr, "", flag);
  }
});

/**
 * Command lines that are usage errors, and what the message must name (the
 * offending input, whatever its quoting).
 */
const USAGE_ERRORS: [name: string, args: string[], mention: RegExp][] = [
  ["a non-numeric port", ["abc"], /port\b.*\babc\b/],
  ["a port above 65535", ["70000"], /port\b.*\b70000\b/],
  ["a negative port", ["--", "-1"], /port\b.*-1\b/],
  ["a port with a sign", ["+80"], /port\b.*\+80\b/],
  ["two ports", ["8000", "9000"], /\bPORT\b/],
  ["an unknown flag", ["--bogus"], /unknown option\b.*--bogus\b/],
  ["a flag without its value", ["--root"], /--root\b/],
];

Deno.test("usage errors exit 2 with a pws: message and no stack trace", async () => {
  for (const [name, args, mention] of USAGE_ERRORS) {
    const out = await runPws(args);
    assert.equal(out.code, 2, name);
    assert.equal(out.stdout, "", name);
    const [first] = lines(out.stderr);
    assert.match(first ?? "", /^pws: /, `${name}: ${out.stderr}`);
    assert.match(first, mention, name);
    assertNoStackTrace(out.stderr, name);
  }
});

Deno.test({
  name: "usage errors print exactly one line on stderr",
  async fn() {
    for (const [name, args] of USAGE_ERRORS) {
      const out = await runPws(args);
      assert.equal(out.code, 2, name);
      assert.equal(lines(out.stderr).length, 1, `${name}: ${out.stderr}`);
    }
  },
});

// ---------------------------------------------------------------------------
// Startup failures

Deno.test("a missing root or a root that is a file exits 1 with one clear line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file.txt`, "not a directory\n");
    const cases: [name: string, root: string, mention: RegExp][] = [
      ["missing root", `${dir}/nope`, /does not exist/],
      ["root is a file", `${dir}/file.txt`, /is not a directory/],
    ];
    for (const [name, root, mention] of cases) {
      const out = await runPws(["--root", root, "--host", "127.0.0.1", "0"]);
      assert.equal(out.code, 1, name);
      assert.equal(out.stdout, "", name);
      const errorLines = lines(out.stderr);
      assert.equal(errorLines.length, 1, `${name}: ${out.stderr}`);
      assert.match(errorLines[0], /^pws: /, name);
      assert.match(errorLines[0], mention, name);
      assert.ok(errorLines[0].includes(root), `${name}: names the root`);
      assertNoStackTrace(out.stderr, name);
    }
  });
});

Deno.test("a port already in use exits non-zero and says so", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const out = await runPws(["--host", "127.0.0.1", String(port)]);
  assert.notEqual(out.code, 0);
  assert.equal(out.stdout, "");
  assert.match(out.stderr, /already in use/);
  assert.ok(out.stderr.includes(String(port)), "names the port");
  assert.equal(lines(out.stderr).length, 1, out.stderr);
  assertNoStackTrace(out.stderr, "port in use");
});

Deno.test("without --allow-read pws says to pass --allow-read, without a stack trace", async () => {
  const out = await runPws(["--host", "127.0.0.1", "0"], ["--allow-net"]);
  assert.notEqual(out.code, 0);
  assert.equal(out.stdout, "");
  assert.match(out.stderr, /--allow-read/);
  assert.equal(lines(out.stderr).length, 1, out.stderr);
  assertNoStackTrace(out.stderr, "no --allow-read");
});

// ---------------------------------------------------------------------------
// Serving

Deno.test("the startup line shows http://127.0.0.1:PORT/ with the real port, and it serves", async () => {
  const index = await Deno.readTextFile(`${REPO_DIR}/static/index.html`);
  await withSpawned(["--host", "127.0.0.1", "0"], async (server) => {
    assert.ok(server.port > 0 && server.port < 65536, `port ${server.port}`);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    assert.ok(
      server.startupLine.includes(`http://127.0.0.1:${server.port}/`),
      server.startupLine,
    );
    assert.match(server.startupLine, new RegExp(`^pws ${VERSION} `));
    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), index);
  });
});

Deno.test("SIGTERM stops an idle server gracefully with exit code 0", async () => {
  const server = await spawnServer(["--host", "127.0.0.1", "0"]);
  const stopped = await server.stop();
  assert.equal(stopped.status.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /shutting down/);
  assertNoStackTrace(stopped.stderr, "SIGTERM");
});

Deno.test("Ctrl-C under deno task (SIGINT to the group, then forwarded) still shuts down gracefully", async () => {
  const server = await spawnServer(["--host", "127.0.0.1", "0"]);
  // The same signal twice at once, as the terminal and `deno task` send it.
  server.process.kill("SIGINT");
  server.process.kill("SIGINT");
  const stopped = await server.stop();
  assert.equal(stopped.status.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /shutting down/);
  assert.doesNotMatch(stopped.stderr, /second signal/);
});

Deno.test({
  name: "SIGTERM right after the startup line still shuts down gracefully",
  async fn() {
    for (let i = 0; i < 10; i++) {
      const server = await spawnServer(["--host", "127.0.0.1", "0"]);
      const stopped = await server.stop();
      assert.equal(stopped.status.code, 0, `attempt ${i + 1}`);
      assert.match(stopped.stderr, /shutting down/);
    }
  },
});

Deno.test({
  name: "--host ::1 with port 0 prints http://[::1]:PORT/ and serves" +
    (HAS_IPV6 ? "" : " (skipped: IPv6 loopback is not available)"),
  ignore: !HAS_IPV6,
  async fn() {
    await withSpawned(["--host", "::1", "0"], async (server) => {
      assert.equal(server.url, `http://[::1]:${server.port}/`);
      assert.equal(server.hostname, "::1");
      const res = await fetch(`http://[::1]:${server.port}/style.css`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/css; charset=utf-8");
      await res.body?.cancel();
    });
  },
});

Deno.test("a 1 GiB sparse file streams whole while the server's memory stays flat", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(0));
    await Deno.truncate(`${dir}/big.bin`, GiB);
    await Deno.writeFile(`${dir}/warm.bin`, new Uint8Array(0));
    await Deno.truncate(`${dir}/warm.bin`, 16 * MiB);

    await withSpawned(
      ["--root", dir, "--host", "127.0.0.1", "0"],
      async (server) => {
        const { hostname, port, pid } = server;
        // Warm-up: the streaming path runs (and is compiled) before the
        // baseline is taken.
        for (let i = 0; i < 2; i++) {
          const warm = await download(hostname, port, "/warm.bin", 10000);
          assert.equal(warm.bodyBytes, 16 * MiB);
        }
        const baseline = readRssBytes(pid);
        assert.ok(baseline !== undefined, `cannot read /proc/${pid}/status`);

        let peak = baseline;
        const sample = () => {
          const rss = readRssBytes(pid);
          if (rss !== undefined && rss > peak) peak = rss;
        };
        const sampler = setInterval(sample, 25);
        const started = performance.now();
        let result;
        try {
          result = await download(hostname, port, "/big.bin", 30000);
        } finally {
          clearInterval(sampler);
        }
        const seconds = (performance.now() - started) / 1000;
        sample();
        await new Promise((resolve) => setTimeout(resolve, 200));
        const after = readRssBytes(pid) ?? peak;

        assert.equal(result.status, 200);
        assert.equal(result.contentLength, GiB);
        assert.equal(result.bodyBytes, GiB, "every byte arrived");
        const growth = peak - baseline;
        const report = `baseline ${(baseline / MiB).toFixed(1)} MiB, peak ` +
          `${(peak / MiB).toFixed(1)} MiB, after ${
            (after / MiB).toFixed(1)
          } MiB, ${seconds.toFixed(1)} s`;
        console.log(`1 GiB download: ${report}`);
        assert.ok(growth < 64 * MiB, `RSS grew too much: ${report}`);
        assert.ok(after - baseline < 64 * MiB, `RSS after: ${report}`);
      },
    );
  });
});
