/**
 * Tests of the pool of open files: sharing rules (a fresh stat must match,
 * settled files only, shared by concurrent readers, closed by the last
 * one once stale), bounds, and over sockets that ranges of a large file
 * stay exact while the file changes under a pooled descriptor.
 */

import assert from "node:assert/strict";
import fs from "node:fs";
import { gunzipSync } from "node:zlib";
import { FileHandlePool, IDLE_HANDLE_MS } from "./handles.ts";
import { type OpenFile, openVerified, readFullyAt } from "./open.ts";
import {
  afterWatcher,
  makeSettledDir,
  parseResponses,
  rawExchange,
  withServer,
} from "../tests/helpers.ts";

function isClosed(file: OpenFile): boolean {
  try {
    fs.fstatSync(file.fd);
    return false;
  } catch {
    return true;
  }
}

function open(dir: string, name: string): OpenFile {
  const opened = openVerified(`${dir}/${name}`, {
    rootReal: Deno.realPathSync(dir),
    dotfiles: "ignore",
  });
  if (typeof opened === "number") throw new Error(`cannot open ${name}`);
  return opened;
}

const encoder = new TextEncoder();

Deno.test("FileHandlePool shares descriptors only while the file is unchanged", async (t) => {
  const dir = await makeSettledDir("pws_handles_", {
    "a.txt": encoder.encode("0123456789"),
    "b.txt": encoder.encode("bbbb"),
    "c.txt": encoder.encode("cccc"),
  });
  const a = `${dir}/a.txt`;
  try {
    await t.step(
      "a file given back is handed out again, to several readers",
      () => {
        const pool = new FileHandlePool();
        const file = open(dir, "a.txt");
        pool.give(a, file);
        assert.equal(pool.size, 1);
        const first = pool.take(a, Deno.statSync(a));
        const second = pool.take(a, Deno.statSync(a));
        assert.equal(first, file);
        assert.equal(second, file, "shared: positional reads need no lock");
        const bytes = new Uint8Array(2);
        readFullyAt(file.fd, bytes, 3);
        assert.deepEqual([...bytes], [51, 52]); // "34"
        pool.give(a, file);
        pool.give(a, file);
        assert.equal(pool.size, 1);
        pool.closeAll();
        assert.ok(isClosed(file));
      },
    );

    await t.step(
      "a changed file is not handed out; its last reader closes it",
      async () => {
        const pool = new FileHandlePool();
        const file = open(dir, "a.txt");
        pool.give(a, file);
        const reader = pool.take(a, Deno.statSync(a));
        assert.equal(reader, file);
        await Deno.writeFile(a, encoder.encode("9876543210"));
        assert.equal(pool.take(a, Deno.statSync(a)), undefined);
        assert.ok(!isClosed(file), "still being read");
        pool.give(a, file);
        assert.equal(pool.size, 0);
        assert.ok(isClosed(file));
      },
    );

    await t.step("unsettled files are not kept", () => {
      const pool = new FileHandlePool();
      // a.txt was just rewritten: its ctime is this second.
      const file = open(dir, "a.txt");
      pool.give(a, file);
      assert.equal(pool.size, 0);
      assert.ok(isClosed(file));
    });

    await t.step("bounded: files beyond the limit are closed", () => {
      const pool = new FileHandlePool(2);
      const files = [
        open(dir, "b.txt"),
        open(dir, "c.txt"),
        open(dir, "b.txt"),
      ];
      pool.give(`${dir}/b.txt`, files[0]);
      pool.give(`${dir}/c.txt`, files[1]);
      pool.give(`${dir}/b.txt`, files[2]);
      assert.equal(pool.size, 2);
      assert.ok(isClosed(files[2]));
      pool.closeAll();
      assert.equal(pool.size, 0);
      assert.ok(isClosed(files[0]) && isClosed(files[1]));
    });

    await t.step(
      "files unused for a while are closed, never while read",
      () => {
        const pool = new FileHandlePool();
        const b = open(dir, "b.txt");
        const c = open(dir, "c.txt");
        const t0 = Date.now();
        pool.give(`${dir}/b.txt`, b, t0);
        pool.give(`${dir}/c.txt`, c, t0 + 5000);
        pool.closeUnused(t0 + IDLE_HANDLE_MS - 1);
        assert.equal(pool.size, 2);
        pool.closeUnused(t0 + IDLE_HANDLE_MS);
        assert.equal(pool.size, 1);
        assert.ok(isClosed(b) && !isClosed(c));
        pool.take(`${dir}/c.txt`, Deno.statSync(`${dir}/c.txt`));
        pool.closeUnused(t0 + 5000 + 10 * IDLE_HANDLE_MS);
        assert.ok(!isClosed(c), "in use");
        pool.give(`${dir}/c.txt`, c, t0 + 5000);
        pool.closeUnused(t0 + 5000 + 10 * IDLE_HANDLE_MS);
        assert.equal(pool.size, 0);
        assert.ok(isClosed(c));
      },
    );

    await t.step("a newer open file of a path replaces the pooled one", () => {
      const pool = new FileHandlePool();
      const old = open(dir, "b.txt");
      pool.give(`${dir}/b.txt`, old);
      const other = open(dir, "b.txt");
      pool.give(`${dir}/b.txt`, other);
      assert.equal(pool.size, 1);
      assert.ok(isClosed(old));
      pool.closeAll();
      assert.ok(isClosed(other));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Over sockets: a file too large for the memory cache

/** 1.5 MiB, above the memory cache's 1 MiB per-file limit. */
const LARGE_BYTES = 1536 * 1024;

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** How many of this process's descriptors are open on `path` (Linux). */
function descriptorsOn(path: string): number {
  let count = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${entry.name}`) === path) count++;
    } catch {
      // closed while listing
    }
  }
  return count;
}

async function getRange(port: number, first: number, last: number) {
  const result = await rawExchange(
    port,
    `GET /large.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=${first}-${last}\r\nConnection: close\r\n\r\n`,
    { timeoutMs: 5000 },
  );
  return parseResponses(result.bytes)[0];
}

Deno.test("ranges of a large file stay exact while the file changes under pooled handles", async (t) => {
  const original = pattern(LARGE_BYTES, 1);
  const dir = await makeSettledDir("pws_handles_", { "large.bin": original });
  const path = `${dir}/large.bin`;
  try {
    await withServer(async (server) => {
      await t.step(
        "repeated and concurrent ranges get their own bytes",
        async () => {
          const spans = Array.from({ length: 24 }, (_, i) => {
            const first = i * 60_001;
            return [first, first + 40_000 + i] as const;
          });
          for (let round = 0; round < 2; round++) {
            const responses = await Promise.all(
              spans.map(([first, last]) => getRange(server.port, first, last)),
            );
            responses.forEach((response, i) => {
              const [first, last] = spans[i];
              assert.equal(response.status, 206);
              assert.deepEqual(
                response.body,
                original.subarray(first, last + 1),
              );
            });
          }
          // Handles are kept between requests, and bounded.
          const kept = descriptorsOn(path);
          assert.ok(kept >= 1 && kept <= 64, `${kept} descriptors kept`);
        },
      );

      await t.step("rewritten in place: the new bytes", async () => {
        const changed = pattern(LARGE_BYTES, 2);
        // Keep the same inode: write through the existing file.
        const file = await Deno.open(path, { write: true });
        await file.write(changed);
        file.close();
        await afterWatcher();
        const response = await getRange(server.port, 1000, 1999);
        assert.deepEqual(response.body, changed.subarray(1000, 2000));
      });

      await t.step("replaced by rename: the new file's bytes", async () => {
        const replaced = pattern(LARGE_BYTES, 3);
        await Deno.writeFile(`${dir}/next.bin`, replaced);
        await Deno.rename(`${dir}/next.bin`, path);
        await afterWatcher();
        const response = await getRange(server.port, 5000, 5999);
        assert.deepEqual(response.body, replaced.subarray(5000, 6000));
      });

      await t.step(
        "truncated: the range beyond the end is refused",
        async () => {
          await Deno.truncate(path, 1000);
          await afterWatcher();
          const response = await getRange(server.port, 5000, 5999);
          assert.equal(response.status, 416);
        },
      );

      await t.step("deleted: 404", async () => {
        await Deno.remove(path);
        await afterWatcher();
        const response = await getRange(server.port, 0, 9);
        assert.equal(response.status, 404);
      });
    }, { root: dir });
    // Closing the server closed every pooled handle (the test's resource
    // sanitizer checks the same).
    assert.equal(descriptorsOn(path), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a pooled handle serves compressed streams, ranges and whole files alike", async () => {
  // Text above the memory cache's limit: compressed on the fly, streamed.
  const line = "pws pools open files; every response reads from the start.\n";
  const text = line.repeat(Math.ceil(LARGE_BYTES / line.length));
  const dir = await makeSettledDir("pws_handles_gz_", { "large.txt": text });
  try {
    await withServer(async (server) => {
      const get = async (fields: string) => {
        const result = await rawExchange(
          server.port,
          `GET /large.txt HTTP/1.1\r\nHost: t\r\n${fields}Connection: close\r\n\r\n`,
          { timeoutMs: 5000 },
        );
        return parseResponses(result.bytes)[0];
      };
      for (let round = 0; round < 2; round++) {
        const gzipped = await get("Accept-Encoding: gzip\r\n");
        assert.equal(gzipped.header("content-encoding"), "gzip");
        const unzipped = new TextDecoder().decode(gunzipSync(gzipped.body));
        assert.equal(unzipped, text, `round ${round}: gzip`);
        const range = await get("Range: bytes=100-199\r\n");
        assert.equal(range.status, 206);
        assert.equal(range.text, text.slice(100, 200), `round ${round}: range`);
        const whole = await get("");
        assert.equal(whole.text, text, `round ${round}: whole`);
      }
      assert.ok(descriptorsOn(`${dir}/large.txt`) >= 1, "a handle was pooled");
    }, { root: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
