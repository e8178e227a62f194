/**
 * Attack class: bytes from outside the root. Someone who can write inside
 * the served folder swaps symlinks (a file, a directory on the way, a
 * precompressed sidecar) between an inside target and an outside one while
 * requests run, or points NotFound.html or a sidecar at a file pws must
 * never send. Every race runs at least 20,000 requests against a pws
 * process while a separate process flips the link; not one response may
 * carry the outside marker.
 */

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { spawnServer } from "../helpers.ts";
import {
  containsAscii,
  getHead,
  hammer,
  type HammerResult,
  startFlipper,
} from "./race_helpers.ts";

const MARKER = "OUTSIDE-SECRET-7f3a9c";
const DOT_MARKER = "DOTFILE-SECRET-41be07";
const NOT_FOUND_MARKER = "OUTSIDE-NOT-FOUND-PAGE-d2c4";
const REQUESTS = 20_000;
const FLIP_SECONDS = 60; // an upper bound: the flipper is stopped earlier

/** A root and an outside folder with the files the races need. */
async function makeSite(): Promise<{ base: string; root: string }> {
  const base = await Deno.makeTempDir({ prefix: "pws-containment-" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  for (const dir of [root, outside, `${root}/realdir`, `${outside}/dir`]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  const secret = `${MARKER}\n`.repeat(4);
  await Deno.writeTextFile(`${outside}/secret.txt`, secret);
  await Deno.writeTextFile(`${outside}/dir/page.txt`, secret);
  // Large enough for the open-handle path rather than the memory cache.
  const bigOutside = new TextEncoder().encode(MARKER.repeat(100_000));
  await Deno.writeFile(`${outside}/big.bin`, bigOutside);
  await Deno.writeFile(
    `${root}/big-inside.bin`,
    new Uint8Array(bigOutside.length).fill(0x41),
  );
  await Deno.writeTextFile(`${root}/inside.txt`, "inside ok\n");
  await Deno.writeTextFile(`${root}/realdir/page.txt`, "inside page\n");
  await Deno.writeTextFile(`${root}/health.txt`, "healthy\n");
  const script = "console.log('inside script');\n".repeat(64);
  await Deno.writeTextFile(`${root}/app.js`, script);
  await Deno.writeFile(`${root}/app.js.gz.inside`, gzipSync(script));
  await Deno.writeTextFile(`${root}/.env`, `${DOT_MARKER}\n`);
  await Deno.writeTextFile(`${root}/style.css`, "body{color:red}\n".repeat(80));
  await Deno.symlink(`${root}/.env`, `${root}/style.css.gz`);
  await Deno.writeTextFile(`${outside}/page.html`, NOT_FOUND_MARKER);
  await Deno.symlink(`${outside}/page.html`, `${root}/NotFound.html`);
  await Deno.symlink(`${root}/inside.txt`, `${root}/link.txt`);
  await Deno.symlink(`${root}/realdir`, `${root}/dir`);
  await Deno.symlink(`${root}/big-inside.bin`, `${root}/big.bin`);
  await Deno.symlink(`${root}/app.js.gz.inside`, `${root}/app.js.gz`);
  // Let the files settle so that the caches take them (see files/cache.ts).
  await new Promise((r) => setTimeout(r, 2100));
  return { base, root };
}

/**
 * Runs `requests` against a fresh pws while the flipper swaps `link`
 * between `inside` and `outside`; fails on any outside byte.
 */
async function race(
  root: string,
  serverArgs: string[],
  link: string,
  inside: string,
  outside: string,
  requests: string[],
  marker = MARKER,
  mode: "symlink" | "dirswap" = "symlink",
): Promise<HammerResult> {
  const server = await spawnServer([
    "--root",
    root,
    "--quiet",
    ...serverArgs,
    "0",
  ]);
  const flipper = startFlipper(
    mode === "symlink"
      ? ["symlink", link, inside, outside, String(FLIP_SECONDS)]
      : ["dirswap", link, outside, String(FLIP_SECONDS)],
  );
  let leaked = 0;
  let firstLeak = "";
  try {
    const result = await hammer(server.port, {
      requests,
      total: REQUESTS,
      connections: 4,
      batch: 16,
      check(response, request) {
        if (containsAscii(response.body, marker)) {
          leaked++;
          firstLeak ||= `${request.split("\r\n")[0]} → ${response.status}`;
        }
      },
    });
    flipper.stop();
    const flips = await flipper.flips;
    console.log(
      `${link.slice(root.length)}: ${result.responses} responses ` +
        `(${[...result.statuses].map(([s, n]) => `${s}×${n}`).join(", ")}), ` +
        `${flips} flips, ${leaked} with outside bytes`,
    );
    assert.equal(
      leaked,
      0,
      `${leaked} of ${result.responses} responses carried outside bytes ` +
        `(first: ${firstLeak}); ${flips} flips`,
    );
    assert.equal(result.responses, REQUESTS);
    assert.equal(result.timeouts, 0);
    assert.ok(flips > 100, `the flipper swapped only ${flips} times`);
    const served = (result.statuses.get(200) ?? 0) +
      (result.statuses.get(206) ?? 0);
    assert.ok(
      served > 0,
      `no request saw the inside file: ${[...result.statuses]}`,
    );
    return result;
  } finally {
    flipper.stop();
    await server.stop();
  }
}

Deno.test({
  name: "containment: a symlink flipped between inside and outside never " +
    "serves outside bytes (file, directory, large file, sidecar)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const { base, root } = await makeSite();
    const outside = `${base}/outside`;
    try {
      await t.step("a file link, with the hot-file cache", async () => {
        await race(
          root,
          [],
          `${root}/link.txt`,
          `${root}/inside.txt`,
          `${outside}/secret.txt`,
          [getHead("/link.txt"), getHead("/inside.txt")],
        );
      });
      await t.step("a file link, with --cache-size 0", async () => {
        await race(
          root,
          ["--cache-size", "0"],
          `${root}/link.txt`,
          `${root}/inside.txt`,
          `${outside}/secret.txt`,
          [getHead("/link.txt")],
        );
      });
      await t.step("a directory on the way", async () => {
        await race(
          root,
          [],
          `${root}/dir`,
          `${root}/realdir`,
          `${outside}/dir`,
          [
            getHead("/dir/page.txt"),
            getHead("/dir/page.txt", ["Range: bytes=0-5"]),
          ],
        );
      });
      await t.step("a real directory swapped with a link out", async () => {
        await race(
          root,
          [],
          `${root}/realdir`,
          "",
          `${outside}/dir`,
          [getHead("/realdir/page.txt")],
          MARKER,
          "dirswap",
        );
      });
      await t.step("a large file served from open handles", async () => {
        await race(
          root,
          [],
          `${root}/big.bin`,
          `${root}/big-inside.bin`,
          `${outside}/big.bin`,
          [
            getHead("/big.bin", ["Range: bytes=0-99"]),
            getHead("/big.bin", ["Range: bytes=500000-500099"]),
          ],
        );
      });
      await t.step("a precompressed sidecar", async () => {
        await race(
          root,
          [],
          `${root}/app.js.gz`,
          `${root}/app.js.gz.inside`,
          `${outside}/secret.txt`,
          [
            getHead("/app.js", ["Accept-Encoding: gzip"]),
            getHead("/app.js.gz"),
          ],
        );
      });
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test({
  name: "containment: NotFound.html and sidecars that link outside or to a " +
    "dotfile are never sent",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, root } = await makeSite();
    const server = await spawnServer(["--root", root, "--quiet", "0"]);
    try {
      const result = await hammer(server.port, {
        requests: [
          getHead("/missing.txt"),
          getHead("/style.css", ["Accept-Encoding: gzip"]),
          getHead("/style.css.gz"),
        ],
        total: 30,
        connections: 1,
        batch: 3,
        check(response, request) {
          const line = request.split("\r\n")[0];
          assert.ok(
            !containsAscii(response.body, NOT_FOUND_MARKER),
            `${line} carried the outside file`,
          );
          assert.ok(
            !containsAscii(response.body, DOT_MARKER),
            `${line} carried the dotfile`,
          );
          if (line.startsWith("GET /style.css ")) {
            assert.equal(response.status, 200);
            assert.equal(response.header("content-encoding"), undefined);
          } else {
            assert.equal(response.status, 404, line);
          }
        },
      });
      assert.equal(result.responses, 30);
    } finally {
      await server.stop();
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test({
  name: "containment: without /proc/self/fd (--allow-read only) pws says " +
    "so at start and still refuses links that leave the root",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { base, root } = await makeSite();
    const server = await spawnServer(["--root", root, "--quiet", "0"], {
      permissions: ["--allow-net", "--allow-read"],
    });
    try {
      const result = await hammer(server.port, {
        requests: [
          getHead("/link.txt"),
          getHead("/inside.txt"),
          getHead("/dir/page.txt"),
          getHead("/big.bin", ["Range: bytes=0-9"]),
        ],
        total: 8,
        connections: 1,
        batch: 4,
        check(response, request) {
          const path = request.split(" ")[1];
          assert.ok(!containsAscii(response.body, MARKER), path);
          assert.equal(response.status, path === "/big.bin" ? 206 : 200);
        },
      });
      assert.equal(result.responses, 8);
      // Now point the links outside: refused (404), never served.
      await Deno.remove(`${root}/link.txt`);
      await Deno.symlink(`${base}/outside/secret.txt`, `${root}/link.txt`);
      await Deno.remove(`${root}/dir`);
      await Deno.symlink(`${base}/outside/dir`, `${root}/dir`);
      await hammer(server.port, {
        requests: [getHead("/link.txt"), getHead("/dir/page.txt")],
        total: 4,
        connections: 1,
        batch: 2,
        check(response) {
          assert.ok(!containsAscii(response.body, MARKER));
          assert.equal(response.status, 404);
        },
      });
    } finally {
      const { stderr } = await server.stop();
      await Deno.remove(base, { recursive: true });
      assert.match(stderr, /without --allow-all, Deno hides \/proc\/self\/fd/);
    }
  },
});
