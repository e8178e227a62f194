/**
 * Tests of the pool of open files: lending rules (fresh stat must match,
 * settled files only, one borrower at a time), bounds, and over sockets
 * that ranges of a large file stay exact while the file changes under a
 * pooled handle.
 */

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { FileHandlePool, IDLE_HANDLE_MS } from "./handles.ts";
import { stampOf } from "./cache.ts";
import {
  makeSettledDir,
  parseResponses,
  rawExchange,
  withServer,
} from "../tests/helpers.ts";

function isClosed(file: Deno.FsFile): boolean {
  try {
    file.statSync();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.BadResource;
  }
}

function openWithStamp(path: string) {
  const file = Deno.openSync(path);
  return { file, stamp: stampOf(file.statSync()) };
}

const encoder = new TextEncoder();

Deno.test("FileHandlePool lends handles only while the file is unchanged", async (t) => {
  const dir = await makeSettledDir("pws_handles_", {
    "a.txt": encoder.encode("0123456789"),
    "b.txt": encoder.encode("bbbb"),
    "c.txt": encoder.encode("cccc"),
  });
  const a = `${dir}/a.txt`;
  try {
    await t.step("a handle given back is lent again, rewound", () => {
      const pool = new FileHandlePool();
      const { file, stamp } = openWithStamp(a);
      file.readSync(new Uint8Array(4)); // move the position
      pool.give(a, stamp, file);
      assert.equal(pool.size, 1);
      const lent = pool.take(a, Deno.statSync(a));
      assert.ok(lent !== undefined);
      assert.equal(lent.file, file);
      assert.equal(pool.size, 0, "lent out, not shared");
      assert.equal(pool.take(a, Deno.statSync(a)), undefined);
      const first = new Uint8Array(2);
      lent.file.readSync(first);
      assert.deepEqual([...first], [48, 49]); // "01": back at the start
      lent.file.close();
    });

    await t.step("a changed file's handles are closed, not lent", async () => {
      const pool = new FileHandlePool();
      const { file, stamp } = openWithStamp(a);
      pool.give(a, stamp, file);
      await Deno.writeFile(a, encoder.encode("9876543210"));
      assert.equal(pool.take(a, Deno.statSync(a)), undefined);
      assert.equal(pool.size, 0);
      assert.ok(isClosed(file));
    });

    await t.step("unsettled files are not kept", () => {
      const pool = new FileHandlePool();
      // a.txt was just rewritten: its ctime is this second.
      const { file, stamp } = openWithStamp(a);
      pool.give(a, stamp, file);
      assert.equal(pool.size, 0);
      assert.ok(isClosed(file));
    });

    await t.step("bounded: handles beyond the limit are closed", () => {
      const pool = new FileHandlePool(2);
      const opened = [
        openWithStamp(`${dir}/b.txt`),
        openWithStamp(`${dir}/b.txt`),
        openWithStamp(`${dir}/c.txt`),
      ];
      pool.give(`${dir}/b.txt`, opened[0].stamp, opened[0].file);
      pool.give(`${dir}/b.txt`, opened[1].stamp, opened[1].file);
      pool.give(`${dir}/c.txt`, opened[2].stamp, opened[2].file);
      assert.equal(pool.size, 2);
      assert.ok(isClosed(opened[2].file));
      assert.ok(!isClosed(opened[0].file));
      pool.closeAll();
      assert.equal(pool.size, 0);
      assert.ok(isClosed(opened[0].file) && isClosed(opened[1].file));
    });

    await t.step("handles unused for a while are closed", () => {
      const pool = new FileHandlePool();
      const b = openWithStamp(`${dir}/b.txt`);
      const c = openWithStamp(`${dir}/c.txt`);
      const t0 = Date.now();
      pool.give(`${dir}/b.txt`, b.stamp, b.file, t0);
      pool.give(`${dir}/c.txt`, c.stamp, c.file, t0 + 5000);
      pool.closeUnused(t0 + IDLE_HANDLE_MS - 1);
      assert.equal(pool.size, 2);
      pool.closeUnused(t0 + IDLE_HANDLE_MS);
      assert.equal(pool.size, 1);
      assert.ok(isClosed(b.file) && !isClosed(c.file));
      pool.closeUnused(t0 + 5000 + IDLE_HANDLE_MS);
      assert.equal(pool.size, 0);
      assert.ok(isClosed(c.file));
    });

    await t.step("a handle of another version replaces the old ones", () => {
      const pool = new FileHandlePool();
      const old = openWithStamp(`${dir}/b.txt`);
      pool.give(`${dir}/b.txt`, old.stamp, old.file);
      const other = openWithStamp(`${dir}/b.txt`);
      const newer = {
        ...other.stamp,
        mtimeMs: (other.stamp.mtimeMs ?? 0) - 5000,
      };
      pool.give(`${dir}/b.txt`, newer, other.file);
      assert.equal(pool.size, 1);
      assert.ok(isClosed(old.file));
      pool.closeAll();
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
        const response = await getRange(server.port, 1000, 1999);
        assert.deepEqual(response.body, changed.subarray(1000, 2000));
      });

      await t.step("replaced by rename: the new file's bytes", async () => {
        const replaced = pattern(LARGE_BYTES, 3);
        await Deno.writeFile(`${dir}/next.bin`, replaced);
        await Deno.rename(`${dir}/next.bin`, path);
        const response = await getRange(server.port, 5000, 5999);
        assert.deepEqual(response.body, replaced.subarray(5000, 6000));
      });

      await t.step(
        "truncated: the range beyond the end is refused",
        async () => {
          await Deno.truncate(path, 1000);
          const response = await getRange(server.port, 5000, 5999);
          assert.equal(response.status, 416);
        },
      );

      await t.step("deleted: 404", async () => {
        await Deno.remove(path);
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
