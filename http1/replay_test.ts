/**
 * Tests of replaying ready responses: the cache itself (bounds, exact byte
 * match even when hashes collide), and, over real sockets, that a replayed
 * answer is exactly what the normal path would say — never a stale file,
 * never a wrong keep-alive decision, never a fallback that no longer holds.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { hashBytes, ReplayCache, type ReplayEntry } from "./replay.ts";
import type { RunningServer } from "../server/server.ts";
import {
  afterWatcher,
  makeSettledDir,
  type ParsedResponse,
  parseResponses,
  rawExchange,
  spawnServer,
  withServer,
} from "../tests/helpers.ts";

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function answer(path: string): Omit<ReplayEntry, "request"> {
  return {
    head: {
      method: "GET",
      target: path,
      versionMajor: 1,
      versionMinor: 1,
      headers: [],
    },
    askedKeepAlive: true,
    keepAlive: true,
    path,
    readyIndex: 2,
    status: 200,
  };
}

Deno.test("hashBytes hashes exactly the given span", () => {
  const whole = bytes("xxGET / HTTP/1.1\r\n\r\nyy");
  const span = bytes("GET / HTTP/1.1\r\n\r\n");
  assert.equal(hashBytes(whole, 2, whole.length - 2), hashBytes(span, 0, 18));
  assert.notEqual(hashBytes(whole, 0, whole.length), hashBytes(span, 0, 18));
  // FNV-1a's published value for the empty input.
  assert.equal(hashBytes(span, 0, 0), 0x811c9dc5);
});

Deno.test("ReplayCache finds only byte-identical heads", () => {
  const cache = new ReplayCache();
  const head = bytes("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const buf = new Uint8Array(64);
  buf.set(head, 10);
  cache.add(buf, 10, 10 + head.length, answer("/root/a"));
  assert.equal(cache.find(head, 0, head.length)?.path, "/root/a");
  // The stored head is a copy: reusing the read buffer changes nothing.
  buf.fill(0);
  assert.equal(cache.find(head, 0, head.length)?.path, "/root/a");
  const other = bytes("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(cache.find(other, 0, other.length), undefined);
  const longer = bytes("GET /a HTTP/1.1\r\nHost: xy\r\n\r\n");
  assert.equal(cache.find(longer, 0, longer.length), undefined);
});

Deno.test("ReplayCache never confuses two heads whose hashes collide", () => {
  // Found by search: two heads of equal length with one FNV-1a hash.
  const a = bytes("GET /13pwu HTTP/1.1\r\n\r\n");
  const b = bytes("GET /1a5fa HTTP/1.1\r\n\r\n");
  assert.equal(hashBytes(a, 0, a.length), hashBytes(b, 0, b.length));
  const cache = new ReplayCache();
  cache.add(a, 0, a.length, answer("/root/13pwu"));
  assert.equal(cache.find(b, 0, b.length), undefined);
  assert.equal(cache.find(a, 0, a.length)?.path, "/root/13pwu");
  // The later head takes the slot; the earlier is then a normal request.
  cache.add(b, 0, b.length, answer("/root/1a5fa"));
  assert.equal(cache.find(a, 0, a.length), undefined);
  assert.equal(cache.find(b, 0, b.length)?.path, "/root/1a5fa");
  assert.equal(cache.size, 1);
});

Deno.test("ReplayCache is bounded in entries and head size", () => {
  const cache = new ReplayCache(2, 64);
  for (const name of ["a", "b", "c"]) {
    const head = bytes(`GET /${name} HTTP/1.1\r\n\r\n`);
    cache.add(head, 0, head.length, answer(`/root/${name}`));
  }
  assert.equal(cache.size, 2);
  const first = bytes("GET /a HTTP/1.1\r\n\r\n");
  const last = bytes("GET /c HTTP/1.1\r\n\r\n");
  assert.equal(cache.find(first, 0, first.length), undefined, "oldest out");
  assert.equal(cache.find(last, 0, last.length)?.path, "/root/c");
  const big = bytes(`GET /${"x".repeat(64)} HTTP/1.1\r\n\r\n`);
  cache.add(big, 0, big.length, answer("/root/big"));
  assert.equal(cache.find(big, 0, big.length), undefined);
  assert.equal(cache.size, 2);
  const off = new ReplayCache(0);
  off.add(first, 0, first.length, answer("/root/a"));
  assert.equal(off.size, 0);
});

// ---------------------------------------------------------------------------
// Over sockets, on files old enough to be cached

/** Files of the settled site; each step uses its own so steps stay apart. */
const SITE_FILES: Record<string, string> = {
  "index.html": "<!doctype html><title>app</title>",
  "page.html": "page as html",
  "inplace.txt": "version one",
  "renamed.txt": "version one",
  "deleted.txt": "short-lived",
  "validated.txt": "validated body",
  "dated.txt": "dated body",
  "limited.txt": "limited body",
  "closing.txt": "closing body",
  "headed.txt": "headed body",
  "logged.txt": "logged body",
  "chmod.txt": "chmod body",
};

function head(target: string, fields: Record<string, string> = {}): string {
  let out = `GET ${target} HTTP/1.1\r\nHost: test\r\n`;
  for (const [name, value] of Object.entries(fields)) {
    out += `${name}: ${value}\r\n`;
  }
  return out + "\r\n";
}

/** Sends `heads` on one connection and parses every response. */
async function exchange(
  server: RunningServer,
  heads: string[],
  methods?: string[],
): Promise<{ responses: ParsedResponse[]; closedByServer: boolean }> {
  const result = await rawExchange(server.port, heads.join(""), {
    timeoutMs: 3000,
  });
  return {
    responses: parseResponses(result.bytes, { methods }),
    closedByServer: result.closedByServer,
  };
}

async function fetchOne(
  server: RunningServer,
  target: string,
  fields: Record<string, string> = {},
): Promise<ParsedResponse> {
  const { responses } = await exchange(server, [head(target, fields)]);
  assert.equal(responses.length, 1);
  return responses[0];
}

/** The header list without Date, which may change between responses. */
function withoutDate(response: ParsedResponse): [string, string][] {
  return response.headerList.filter(([name]) => name !== "Date");
}

Deno.test("replay answers repeated heads exactly as the normal path does, and never stale", async (t) => {
  const root = await makeSettledDir("pws_replay_", SITE_FILES);
  try {
    await withServer(async (server) => {
      await t.step("identical heads get identical answers", async () => {
        const before = server.replayCount();
        const get = head("/inplace.txt");
        const { responses } = await exchange(server, [get, get, get]);
        assert.equal(responses.length, 3);
        for (const response of responses) {
          assert.equal(response.status, 200);
          assert.equal(response.text, "version one");
          assert.deepEqual(withoutDate(response), withoutDate(responses[0]));
        }
        assert.equal(server.replayCount() - before, 2, "2nd and 3rd replayed");
      });

      await t.step("a file rewritten in place is served fresh", async () => {
        await fetchOne(server, "/inplace.txt");
        const before = server.replayCount();
        // Same length, so only the stamp's times tell the versions apart.
        await Deno.writeTextFile(`${root}/inplace.txt`, "version two");
        await afterWatcher();
        const response = await fetchOne(server, "/inplace.txt");
        assert.equal(response.text, "version two");
        assert.equal(server.replayCount(), before, "not replayed");
      });

      await t.step("a file replaced by rename is served fresh", async () => {
        await fetchOne(server, "/renamed.txt");
        await fetchOne(server, "/renamed.txt");
        await Deno.writeTextFile(`${root}/renamed.tmp`, "version two");
        await Deno.rename(`${root}/renamed.tmp`, `${root}/renamed.txt`);
        await afterWatcher();
        const response = await fetchOne(server, "/renamed.txt");
        assert.equal(response.text, "version two");
      });

      await t.step("a deleted file is 404 at once", async () => {
        assert.equal((await fetchOne(server, "/deleted.txt")).status, 200);
        assert.equal((await fetchOne(server, "/deleted.txt")).status, 200);
        await Deno.remove(`${root}/deleted.txt`);
        await afterWatcher();
        assert.equal((await fetchOne(server, "/deleted.txt")).status, 404);
      });

      await t.step("a file made unreadable is 403 at once", async () => {
        assert.equal((await fetchOne(server, "/chmod.txt")).status, 200);
        assert.equal((await fetchOne(server, "/chmod.txt")).status, 200);
        // chmod changes the ctime, so the stamp no longer matches; root
        // can still open the file, so only the status for others is 403.
        await Deno.chmod(`${root}/chmod.txt`, 0o000);
        await afterWatcher();
        const response = await fetchOne(server, "/chmod.txt");
        const isRoot = Deno.uid() === 0;
        assert.equal(response.status, isRoot ? 200 : 403);
        await Deno.chmod(`${root}/chmod.txt`, 0o644);
      });

      await t.step("304s are replayed until the file changes", async () => {
        const etag = (await fetchOne(server, "/validated.txt")).header("etag");
        assert.ok(etag !== undefined);
        const before = server.replayCount();
        const conditional = head("/validated.txt", { "If-None-Match": etag });
        const { responses } = await exchange(server, [
          conditional,
          conditional,
          conditional,
        ]);
        assert.deepEqual(responses.map((r) => r.status), [304, 304, 304]);
        assert.ok(server.replayCount() - before >= 2);
        await Deno.writeTextFile(`${root}/validated.txt`, "validated, again");
        await afterWatcher();
        const changed = await fetchOne(server, "/validated.txt", {
          "If-None-Match": etag,
        });
        assert.equal(changed.status, 200);
        assert.equal(changed.text, "validated, again");
        assert.notEqual(changed.header("etag"), etag);
      });

      await t.step("the Date header follows the clock", async () => {
        const first = await fetchOne(server, "/dated.txt");
        await fetchOne(server, "/dated.txt");
        // Wait into the next second: the ready response must be rebuilt.
        await new Promise((resolve) =>
          setTimeout(resolve, 1000 - (Date.now() % 1000) + 50)
        );
        const later = await fetchOne(server, "/dated.txt");
        assert.notEqual(later.header("date"), first.header("date"));
        assert.equal(
          Date.parse(later.header("date")!) / 1000,
          Math.floor(Date.now() / 1000),
        );
        assert.equal(later.text, "dated body");
      });

      await t.step("Connection: close is replayed as close", async () => {
        const close = head("/closing.txt", { Connection: "close" });
        for (let i = 0; i < 3; i++) {
          const { responses, closedByServer } = await exchange(server, [
            close,
            head("/closing.txt"),
          ]);
          assert.equal(responses.length, 1, "nothing after the close");
          assert.equal(responses[0].header("connection"), "close");
          assert.equal(closedByServer, true);
        }
      });

      await t.step("HEAD is replayed without a body", async () => {
        const headRequest = head("/headed.txt").replace("GET", "HEAD");
        const { responses } = await exchange(
          server,
          [headRequest, headRequest, head("/headed.txt")],
          ["HEAD", "HEAD", "GET"],
        );
        assert.deepEqual(responses.map((r) => r.body.length), [0, 0, 11]);
        for (const response of responses) {
          assert.equal(response.header("content-length"), "11");
        }
      });
    }, { root });

    await t.step("the per-connection request limit still holds", async () => {
      await withServer(async (server) => {
        const get = head("/limited.txt");
        await fetchOne(server, "/limited.txt"); // remember the head
        const { responses, closedByServer } = await exchange(server, [
          get,
          get,
          get,
          get,
          get,
        ]);
        assert.equal(responses.length, 3);
        assert.deepEqual(
          responses.map((r) => r.header("connection")),
          [undefined, undefined, "close"],
        );
        assert.equal(closedByServer, true);
      }, { root, config: { maxRequestsPerConnection: 3 } });
    });

    await t.step("a clean-URL fallback is not replayed", async () => {
      await withServer(async (server) => {
        assert.equal((await fetchOne(server, "/page")).text, "page as html");
        assert.equal((await fetchOne(server, "/page")).text, "page as html");
        // Now /page names a file of its own, which wins over page.html.
        await Deno.writeTextFile(`${root}/page`, "page itself");
        await afterWatcher();
        assert.equal((await fetchOne(server, "/page")).text, "page itself");
        await Deno.remove(`${root}/page`);
      }, { root, config: { lookup: { ...defaultLookup(), cleanUrls: true } } });
    });

    await t.step("an SPA fallback is not replayed", async () => {
      await withServer(async (server) => {
        const accept = { Accept: "text/html" };
        for (let i = 0; i < 2; i++) {
          const response = await fetchOne(server, "/route", accept);
          assert.equal(response.text, SITE_FILES["index.html"]);
        }
        await Deno.writeTextFile(`${root}/route`, "a real route");
        await afterWatcher();
        assert.equal(
          (await fetchOne(server, "/route", accept)).text,
          "a real route",
        );
        await Deno.remove(`${root}/route`);
      }, { root, config: { spa: true } });
    });

    await t.step("replayed requests are logged like the others", async () => {
      const server = await spawnServer([
        "--root",
        root,
        "--host",
        "127.0.0.1",
        "0",
      ]);
      let stdout = "";
      try {
        const get = head("/logged.txt");
        const result = await rawExchange(server.port, get + get + get, {
          timeoutMs: 3000,
        });
        assert.equal(parseResponses(result.bytes).length, 3);
      } finally {
        stdout = (await server.stop()).stdout;
      }
      const lines = stdout.split("\n").filter((l) =>
        l.includes("GET /logged.txt")
      );
      assert.equal(lines.length, 3, stdout);
      // Status and bytes sent (head and body) are the same each time.
      const counts = lines.map((line) => / 200 (\d+) /.exec(line)?.[1]);
      assert.ok(Number(counts[0]) > 11, lines[0]);
      assert.deepEqual(counts, [counts[0], counts[0], counts[0]]);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function defaultLookup() {
  return { dotfiles: "ignore" as const, cleanUrls: false, dirListing: false };
}

// ---------------------------------------------------------------------------
// Property: a replayed answer is the normal path's answer

/** Files of the property test: compressible, binary, and an index. */
const PROPERTY_FILES: Record<string, string> = {
  "index.html": "<!doctype html><title>index</title>" + "<p>x</p>".repeat(40),
  "style.css": "body { color: #333 }\n".repeat(30),
  "data.bin": "\u0001\u0002binary".repeat(20),
};

/** A random, valid request head for one of the property files. */
const requestHead = fc.record({
  method: fc.constantFrom("GET", "HEAD"),
  target: fc.constantFrom(
    "/",
    "/index.html",
    "/style.css",
    "/data.bin",
    "/style.css?v=2",
  ),
  minor: fc.constantFrom(0, 1),
  connection: fc.constantFrom(undefined, "close", "keep-alive"),
  acceptEncoding: fc.constantFrom(
    undefined,
    "gzip",
    "br, gzip",
    "identity",
    "zstd;q=0",
  ),
  validator: fc.constantFrom(undefined, "match", "other", "*", "since"),
  range: fc.constantFrom(
    undefined,
    "bytes=0-9",
    "bytes=5-",
    "bytes=-3",
    "bytes=9-2",
  ),
  origin: fc.constantFrom(undefined, "https://example.com"),
}).map((r) => {
  const fields: string[] = ["Host: test"];
  if (r.connection) fields.push(`Connection: ${r.connection}`);
  if (r.acceptEncoding) fields.push(`Accept-Encoding: ${r.acceptEncoding}`);
  if (r.range) fields.push(`Range: ${r.range}`);
  if (r.origin) fields.push(`Origin: ${r.origin}`);
  return { ...r, fields };
});

Deno.test("property: every replayed answer equals the answer without replay", async () => {
  const root = await makeSettledDir("pws_replay_prop_", PROPERTY_FILES);
  try {
    const config = { cors: true };
    await withServer(async (plain) => {
      await withServer(async (replaying) => {
        // The validators each file really has, to send matching ones.
        const etags = new Map<string, string>();
        const dates = new Map<string, string>();
        for (const target of ["/", "/index.html", "/style.css", "/data.bin"]) {
          const r = await fetchOne(plain, target);
          etags.set(target, r.header("etag")!);
          dates.set(target, r.header("last-modified")!);
        }
        const before = replaying.replayCount();
        await fc.assert(
          fc.asyncProperty(requestHead, async (r) => {
            const path = r.target.replace(/\?.*/, "");
            const fields = [...r.fields];
            if (r.validator === "match") {
              fields.push(`If-None-Match: ${etags.get(path)}`);
            } else if (r.validator === "other") {
              fields.push(`If-None-Match: "nope"`);
            } else if (r.validator === "*") fields.push("If-None-Match: *");
            else if (r.validator === "since") {
              fields.push(`If-Modified-Since: ${dates.get(path)}`);
            }
            const text = `${r.method} ${r.target} HTTP/1.${r.minor}\r\n` +
              fields.map((f) => f + "\r\n").join("") + "\r\n";
            const once = async (server: RunningServer) => {
              const result = await rawExchange(server.port, text, {
                timeoutMs: 3000,
              });
              return parseResponses(result.bytes, { methods: [r.method] })[0];
            };
            const expected = await once(plain);
            await once(replaying); // the first answer is remembered
            const replayed = await once(replaying);
            assert.equal(replayed.status, expected.status, text);
            assert.deepEqual(
              withoutDate(replayed),
              withoutDate(expected),
              text,
            );
            assert.deepEqual(replayed.body, expected.body, text);
          }),
          { numRuns: 150 },
        );
        // Not vacuous: many of those answers were replays.
        assert.ok(replaying.replayCount() - before > 30);
        assert.equal(plain.replayCount(), 0, "replayEntries: 0 turns it off");
      }, { root, config });
    }, { root, config: { ...config, replayEntries: 0 } });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
