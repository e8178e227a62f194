/**
 * The access log as log tools read it, end to end: pws in its own process
 * writes `--log-format combined` to a `--log-file`, and GoAccess (Debian's
 * `goaccess`, its stock COMBINED format) counts what the test sent, hostile
 * user agents included; SIGHUP reopens the file for logrotate with no line
 * lost, split or written twice (also with `--workers`); `--trust-proxy`
 * takes the client address from the proxies' fields, for the log and for
 * `--auth`'s limiter.
 *
 * Run: `deno test --allow-all tests/access_log_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import {
  h2Request,
  parseResponses,
  type SpawnedServer,
  spawnServer,
  withServer,
} from "./helpers.ts";
import { parseCidr } from "../http/ip.ts";
import { loadAuthUsers } from "../auth/load.ts";
import type { AuthUser } from "../auth/htpasswd.ts";

const FILE_BYTES = 1000;

/** A root with one file of FILE_BYTES bytes. */
async function makeRoot(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "pws-log-" });
  await Deno.writeTextFile(`${root}/a.txt`, "x".repeat(FILE_BYTES));
  return root;
}

/** Bytes of a Latin-1 string: each unit one byte, as a client may send. */
function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/**
 * Sends `heads` pipelined on one cleartext connection (the last closes
 * it) and returns the parsed responses.
 */
async function pipeline(
  port: number,
  heads: string[],
): Promise<ReturnType<typeof parseResponses>> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const text = heads.map((h, i) =>
    h + (i === heads.length - 1 ? "Connection: close\r\n" : "") + "\r\n"
  ).join("");
  await conn.write(latin1(text));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  return parseResponses(Buffer.concat(chunks), {
    methods: heads.map((h) => h.slice(0, h.indexOf(" "))),
  });
}

function get(path: string, ...fields: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: t\r\n` +
    fields.map((f) => f + "\r\n").join("");
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

async function readLines(path: string): Promise<string[]> {
  try {
    return lines(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const goaccess = await new Deno.Command("goaccess", { args: ["--version"] })
  .output().then((out) => out.success, () => false);

Deno.test({
  name:
    "GoAccess reads pws's combined log: its totals (requests, 404s, bytes) are what the test sent",
  ignore: !goaccess,
  async fn() {
    const root = await makeRoot();
    const logPath = `${root}.access.log`;
    const server = await spawnServer([
      "--root",
      root,
      "--host",
      "127.0.0.1",
      "--log-format",
      "combined",
      "--log-file",
      logPath,
      "0",
    ], { cleartext: true });
    let bodyBytes = 0;
    let sent = 0;
    try {
      const first = await pipeline(server.port, [get("/a.txt")]);
      const etag = first[0].header("etag")!;
      bodyBytes += first[0].body.length;
      sent++;
      // Hostile user agents: quotes that would end the field, a forged
      // rest of a line, backslashes, bytes that are not UTF-8 (HTTP/1.1
      // refuses control bytes in fields: 400, not logged as a 200).
      const agents = [
        'evil" 500 0 "-" "forged',
        "back\\slash\\",
        "\xff\xfe\x80 not utf-8",
        "tab\tin",
        '"',
        "-",
      ];
      const heads: string[] = [];
      for (let i = 0; i < 35; i++) {
        heads.push(
          get(
            "/a.txt",
            `User-Agent: ${agents[i % agents.length]}`,
            `Referer: http://ref.example/"${i}`,
          ),
        );
      }
      for (let i = 0; i < 5; i++) heads.push(get(`/missing-${i}`));
      heads.push(get("/a.txt", `If-None-Match: ${etag}`));
      heads.push("HEAD /a.txt HTTP/1.1\r\nHost: t\r\n");
      const responses = await pipeline(server.port, heads);
      assert.deepEqual(
        responses.map((r) => r.status),
        [
          ...new Array(35).fill(200),
          ...new Array(5).fill(404),
          304,
          200,
        ],
      );
      for (const r of responses) bodyBytes += r.body.length;
      sent += responses.length;
      // One over HTTP/2 (prior knowledge), with a hostile user agent too.
      const h2 = await h2Request(server.port, {
        method: "GET",
        path: "/a.txt",
        fields: [["user-agent", 'h2 "agent" \\ x']],
      }, { tls: false });
      assert.equal(h2.status, 200);
      bodyBytes += h2.body.length;
      sent++;
    } finally {
      await server.stop();
    }
    const logged = await readLines(logPath);
    assert.equal(logged.length, sent);
    assert.ok(logged.some((l) => l.includes('"GET /a.txt HTTP/2.0" 200 1000')));
    assert.ok(
      logged.some((l) =>
        l.endsWith('"evil\\x22 500 0 \\x22-\\x22 \\x22forged"')
      ),
    );
    const report = `${root}.report.json`;
    const out = await new Deno.Command("goaccess", {
      args: [
        logPath,
        "--log-format=COMBINED",
        "--no-global-config",
        "-o",
        report,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const json = JSON.parse(await Deno.readTextFile(report));
    assert.equal(json.general.total_requests, sent); // 37 + 5 + 1 + 1
    assert.equal(sent, 44);
    assert.equal(json.general.valid_requests, sent);
    assert.equal(json.general.failed_requests, 0);
    assert.equal(json.general.bandwidth, bodyBytes);
    const codes = new Map<string, number>();
    for (const group of json.status_codes.data) {
      for (const item of group.items) {
        codes.set(item.data.slice(0, 3), item.hits.count);
      }
    }
    assert.equal(codes.get("404"), 5);
    assert.equal(codes.get("304"), 1);
    assert.equal(codes.get("200"), 38); // 37 GETs and the HEAD
    await Deno.remove(root, { recursive: true });
    await Deno.remove(logPath);
    await Deno.remove(report);
  },
});

/**
 * Requests `/a.txt?id=N` one after another on keep-alive connections
 * until `stop()` resolves; returns the ids answered.
 */
function requestLoop(
  port: number,
  prefix: string,
): { stop(): Promise<string[]> } {
  let running = true;
  const answered: string[] = [];
  const done = (async () => {
    let n = 0;
    while (running) {
      const batch: string[] = [];
      for (let i = 0; i < 10; i++) batch.push(`${prefix}-${n++}`);
      const responses = await pipeline(
        port,
        batch.map((id) => get(`/a.txt?id=${id}`)),
      );
      assert.equal(responses.length, batch.length);
      answered.push(...batch);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return answered;
    },
  };
}

/** Ids (`?id=...`) in log lines; asserts every line is whole. */
function idsIn(logLines: string[]): string[] {
  return logLines.map((line) => {
    assert.match(
      line,
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/a\.txt\?id=[a-z]+-\d+ HTTP\/1\.1" 200 1000$/,
    );
    return line.slice(line.indexOf("?id=") + 4, line.indexOf(" HTTP/1.1"));
  });
}

for (const workers of [1, 2]) {
  Deno.test(`--log-file: SIGHUP after a move reopens the file; no line lost, split or doubled (--workers ${workers})`, async () => {
    const root = await makeRoot();
    const logPath = `${root}.access.log`;
    const server: SpawnedServer = await spawnServer([
      "--root",
      root,
      "--host",
      "127.0.0.1",
      "--log-format",
      "common",
      "--log-file",
      logPath,
      "--workers",
      String(workers),
      "0",
    ], { cleartext: true });
    let before: string[] = [];
    let during: string[] = [];
    let after: string[] = [];
    try {
      // Lines written before the move stay in the moved file.
      before = await requestLoop(server.port, "before").stop();
      await until(
        "the first lines",
        async () => (await readLines(logPath)).length === before.length,
      );
      const info = await Deno.stat(logPath);
      assert.equal(info.mode! & 0o777 & ~0o022, 0o644);
      // Requests keep coming while the file is moved and pws signalled.
      const loop = requestLoop(server.port, "during");
      await new Promise((r) => setTimeout(r, 100));
      await Deno.rename(logPath, `${logPath}.1`);
      await new Promise((r) => setTimeout(r, 50));
      server.process.kill("SIGHUP");
      await until(
        "the reopen notice",
        () => server.stderrSoFar().includes("reopened the log file"),
      );
      during = await loop.stop();
      // After the notice, every line goes to the new file.
      after = await requestLoop(server.port, "after").stop();
    } finally {
      const stopped = await server.stop();
      assert.equal(stopped.status.code, 0, stopped.stderr);
      assert.ok(!stopped.stderr.includes("dropped"), stopped.stderr);
    }
    const rotated = idsIn(await readLines(`${logPath}.1`));
    const fresh = idsIn(await readLines(logPath));
    const all = [...rotated, ...fresh];
    assert.equal(new Set(all).size, all.length, "a line written twice");
    assert.deepEqual(
      [...all].sort(),
      [...before, ...during, ...after].sort(),
      "every request logged once",
    );
    for (const id of before) assert.ok(rotated.includes(id), id);
    for (const id of after) assert.ok(fresh.includes(id), id);
    assert.ok(during.length > 0 && before.length > 0 && after.length > 0);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(logPath);
    await Deno.remove(`${logPath}.1`);
  });
}

Deno.test("--log-file that cannot be opened stops start-up with one line and exit 1", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../main.ts", import.meta.url).pathname,
      "--log-file",
      "/nonexistent-dir/access.log",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.match(
    stderr,
    /^pws: cannot open log file "\/nonexistent-dir\/access\.log": /,
  );
  assert.equal(lines(stderr).length, 1);
});

/** One request from another loopback address, through node:net. */
function askFrom(
  localAddress: string,
  port: number,
  request: string,
): Promise<ReturnType<typeof parseResponses>[number]> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const socket = net.connect(
      { host: "127.0.0.1", port, localAddress },
      () => socket.end(latin1(request + "Connection: close\r\n\r\n")),
    );
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      try {
        resolve(parseResponses(Buffer.concat(chunks))[0]);
      } catch (err) {
        reject(err);
      }
    });
  });
}

Deno.test("--trust-proxy: the forwarded client is logged only for a trusted peer, over HTTP/1.1 and HTTP/2", async () => {
  const root = await makeRoot();
  const logPath = `${root}.access.log`;
  await withServer(async (server) => {
    const xff = "X-Forwarded-For: 6.6.6.6, 203.0.113.9";
    const fwd = 'Forwarded: for="[2001:db8::7]:4711";proto=https';
    // 127.0.0.1 is trusted, 127.0.0.2 is not.
    assert.equal(
      (await askFrom("127.0.0.1", server.port, get("/a.txt?1", xff))).status,
      200,
    );
    assert.equal(
      (await askFrom("127.0.0.2", server.port, get("/a.txt?2", xff))).status,
      200,
    );
    assert.equal(
      (await askFrom("127.0.0.1", server.port, get("/a.txt?3", fwd, xff)))
        .status,
      200,
    );
    assert.equal(
      (await askFrom(
        "127.0.0.1",
        server.port,
        get("/a.txt?4", 'X-Forwarded-For: "><script>'),
      )).status,
      200,
    );
    // Replayed heads (the same bytes again) are logged the same way.
    assert.equal(
      (await askFrom("127.0.0.1", server.port, get("/a.txt?1", xff))).status,
      200,
    );
    const h2 = await h2Request(server.port, {
      method: "GET",
      path: "/a.txt?5",
      fields: [["x-forwarded-for", "198.51.100.3"]],
    }, { tls: false });
    assert.equal(h2.status, 200);
  }, {
    root,
    tls: false,
    config: {
      logFormat: "json",
      logFile: logPath,
      trustProxy: [parseCidr("127.0.0.1")!],
    },
  });
  const logged = (await readLines(logPath)).map((l) => JSON.parse(l));
  assert.deepEqual(
    logged.map((r) => [r.target, r.remote]),
    [
      ["/a.txt?1", "203.0.113.9"],
      ["/a.txt?2", "127.0.0.2"],
      ["/a.txt?3", "2001:db8::7"],
      ["/a.txt?4", "127.0.0.1"],
      ["/a.txt?1", "203.0.113.9"],
      ["/a.txt?5", "198.51.100.3"],
    ],
  );
  // Without --trust-proxy the fields are ignored.
  await Deno.remove(logPath);
  await withServer(async (server) => {
    await askFrom(
      "127.0.0.1",
      server.port,
      get("/a.txt", "X-Forwarded-For: 203.0.113.9"),
    );
  }, { root, tls: false, config: { logFormat: "json", logFile: logPath } });
  assert.equal(JSON.parse((await readLines(logPath))[0]).remote, "127.0.0.1");
  await Deno.remove(root, { recursive: true });
  await Deno.remove(logPath);
});

function basic(user: string, password: string): string {
  return "Authorization: Basic " +
    Buffer.from(`${user}:${password}`).toString("base64");
}

Deno.test("--trust-proxy: --auth's failure limiter counts each forwarded client apart", async () => {
  const loaded = loadAuthUsers({
    pairs: [{ user: "alice", password: "right-one" }],
    files: [],
  });
  const auth = {
    users: (loaded as { users: AuthUser[] }).users,
    failureBurst: 3,
    failureRefillMs: 60_000,
  };
  await withServer(async (server) => {
    const from = (client: string, password: string) =>
      askFrom(
        "127.0.0.1",
        server.port,
        get("/", `X-Forwarded-For: ${client}`, basic("alice", password)),
      ).then((r) => r.status);
    for (let i = 0; i < 3; i++) {
      assert.equal(await from("203.0.113.1", `bad${i}`), 401);
    }
    assert.equal(await from("203.0.113.1", "bad"), 429);
    // Another client behind the same proxy is not limited by the first.
    assert.equal(await from("203.0.113.2", "bad"), 401);
    assert.equal(await from("203.0.113.2", "right-one"), 200);
  }, {
    tls: false,
    config: { auth, trustProxy: [parseCidr("127.0.0.0/8")!] },
  });
});
