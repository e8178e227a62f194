/**
 * Tests of the compression pool: round trips for every coding (checked
 * with `node:zlib`'s sync decompressors), many concurrent streams, an
 * aborted stream, a thread that dies, laziness, idle exit, the bounded
 * queue, bcrypt jobs, and a real server that starts no thread until it compresses.
 *
 * Pools made here use `testdata/test_compress_worker.js`, the real thread
 * plus two hooks (a `crash` coding kills it, a `count` coding reports how
 * many streams hold state on it), and are closed by each test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import bcrypt from "bcryptjs";
import {
  CompressionBusyError,
  CompressionThreadError,
  CompressPool,
  type CompressPoolOptions,
  defaultThreadCount,
  WHOLE_JOBS_PER_THREAD,
} from "./compress_pool.ts";
import { makeSettledDir, spawnServer } from "../tests/helpers.ts";

const TEST_WORKER = import.meta.resolve("./testdata/test_compress_worker.js");
const encoder = new TextEncoder();

function testPool(options: CompressPoolOptions = {}): CompressPool {
  return new CompressPool({ workerUrl: TEST_WORKER, ...options });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Compressible text of `size` bytes that differs with `seed`. */
function sampleText(size: number, seed = 1): Uint8Array {
  let text = "";
  for (let i = 0; text.length < size; i++) {
    text += `${seed}:${i} the quick brown fox ${(i * 7919 + seed) % 1009}\n`;
  }
  return encoder.encode(text.slice(0, size));
}

function decompress(bytes: Uint8Array, coding: string): Uint8Array {
  switch (coding) {
    case "br":
      return zlib.brotliDecompressSync(bytes);
    case "gzip":
      return zlib.gunzipSync(bytes);
    case "zstd":
      return zlib.zstdDecompressSync(bytes);
  }
  throw new Error(`no decompressor for ${coding}`);
}

/** Asserts equal bytes without deepEqual's slow diff of large arrays. */
function assertSameBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  what = "bytes",
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(expected), `${what}: content differs`);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Streams `input` through the pool in `chunkSize` pieces. */
async function streamThrough(
  pool: CompressPool,
  input: Uint8Array,
  coding: string,
  chunkSize: number,
): Promise<Uint8Array> {
  const stream = await pool.openStream(coding);
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < input.length; offset += chunkSize) {
    // slice(): push() takes the chunk's buffer.
    parts.push(await stream.push(input.slice(offset, offset + chunkSize)));
  }
  parts.push(await stream.end());
  return concat(parts);
}

/** Asks the test thread how many streams hold state on it. */
async function streamsOnThread(pool: CompressPool): Promise<number> {
  return (await pool.compress(new Uint8Array(0), "count"))[0];
}

Deno.test("thread count leaves a core to the event loop, at most 4", () => {
  assert.equal(defaultThreadCount(1), 1);
  assert.equal(defaultThreadCount(2), 1);
  assert.equal(defaultThreadCount(3), 2);
  assert.equal(defaultThreadCount(16), 4);
});

Deno.test("whole buffers round-trip for every coding, input kept", async () => {
  const pool = testPool();
  try {
    const input = sampleText(300_000);
    for (const coding of ["br", "zstd", "gzip"]) {
      const out = await pool.compress(input, coding);
      assert.ok(out.length < input.length / 3, `${coding} compresses`);
      assertSameBytes(decompress(out, coding), input, coding);
    }
    // The input was copied, not transferred: the caller still has it.
    assert.equal(input.length, 300_000);
    // A view into a larger buffer compresses only its own bytes.
    const view = input.subarray(1000, 5000);
    assertSameBytes(decompress(await pool.compress(view, "br"), "br"), view);
    await assert.rejects(pool.compress(input, "lzma"), /unsupported coding/);
  } finally {
    pool.close();
  }
});

Deno.test("digests match node:crypto's SHA-256", async () => {
  const pool = testPool();
  try {
    const input = sampleText(1 << 20);
    const digest = await pool.digest(input);
    const expected = createHash("sha256").update(input).digest();
    assertSameBytes(digest, expected);
  } finally {
    pool.close();
  }
});

Deno.test("bcrypt jobs compute what bcryptjs computes; a bad salt is an error", async () => {
  const pool = testPool();
  try {
    // `htpasswd -nbB alice secret`.
    const hash = "$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m";
    const salt = hash.slice(0, 29);
    assert.equal(await pool.bcrypt("secret", salt), hash);
    const wrong = await pool.bcrypt("Secret", salt);
    assert.equal(wrong.length, 60);
    assert.notEqual(wrong, hash);
    assert.equal(
      await pool.bcrypt("pässwörd", salt),
      bcrypt.hashSync("pässwörd", salt),
    );
    await assert.rejects(pool.bcrypt("x", "$9$nonsense"), /salt/);
  } finally {
    pool.close();
  }
});

Deno.test("streams round-trip for every coding; chunks are transferred", async () => {
  const pool = testPool();
  try {
    const input = sampleText(2_500_000, 7);
    for (const coding of ["br", "zstd", "gzip"]) {
      const out = await streamThrough(pool, input, coding, 64 * 1024);
      assertSameBytes(decompress(out, coding), input, coding);
    }
    const stream = await pool.openStream("gzip");
    const chunk = sampleText(10_000);
    await stream.push(chunk);
    assert.equal(chunk.byteLength, 0, "the chunk's buffer moved to the thread");
    const rest = await stream.end();
    assert.ok(rest.length > 0);
    assert.equal(pool.openStreams, 0);
    assert.equal(await streamsOnThread(pool), 0);
  } finally {
    pool.close();
  }
});

Deno.test("one call at a time on a stream", async () => {
  const pool = testPool();
  try {
    const stream = await pool.openStream("br");
    const first = stream.push(sampleText(50_000));
    await assert.rejects(stream.push(sampleText(10)), /one call at a time/);
    await first;
    await stream.end();
    await assert.rejects(stream.push(sampleText(10)), /closed/);
  } finally {
    pool.close();
  }
});

Deno.test("many concurrent streams each get their own bytes", async () => {
  const pool = testPool({ maxThreads: 2, maxStreams: 8 });
  try {
    let maxOpen = 0;
    const codings = ["br", "zstd", "gzip"];
    const results = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const input = sampleText(200_000 + i * 1000, i);
        const coding = codings[i % 3];
        const out = await streamThrough(pool, input, coding, 32 * 1024);
        maxOpen = Math.max(maxOpen, pool.openStreams);
        return { input, coding, out };
      }),
    );
    for (const { input, coding, out } of results) {
      assertSameBytes(decompress(out, coding), input);
    }
    assert.ok(maxOpen <= 8, `at most 8 streams open, saw ${maxOpen}`);
    assert.ok(pool.threadCount <= 2);
    assert.equal(pool.openStreams, 0);
  } finally {
    pool.close();
  }
});

Deno.test("an aborted stream is released by its thread", async () => {
  const pool = testPool({ maxThreads: 1, maxStreams: 2 });
  try {
    const streams = [
      await pool.openStream("br"),
      await pool.openStream("zstd"),
    ];
    for (const s of streams) await s.push(sampleText(100_000));
    assert.equal(await streamsOnThread(pool), 2);
    streams[0].abort();
    streams[0].abort(); // twice is harmless
    assert.equal(pool.openStreams, 1);
    assert.equal(await streamsOnThread(pool), 1);
    // Its slot is free again: a third stream opens without waiting.
    const third = await pool.openStream("gzip");
    third.abort();
    streams[1].abort();
    assert.equal(await streamsOnThread(pool), 0);
    assert.equal(pool.openStreams, 0);
  } finally {
    pool.close();
  }
});

Deno.test("a freed stream slot goes to the stream that waited for it", async () => {
  const pool = testPool({ maxThreads: 1, maxStreams: 1 });
  try {
    const first = await pool.openStream("gzip");
    const waited = pool.openStream("gzip");
    first.abort();
    // A newcomer right after the abort must not take the freed slot too.
    const newcomer = pool.openStream("gzip");
    const second = await waited;
    await delay(20);
    assert.equal(pool.openStreams, 1, "never more streams than maxStreams");
    second.abort();
    (await newcomer).abort();
    assert.equal(pool.openStreams, 0);
  } finally {
    pool.close();
  }
});

Deno.test("a thread that dies fails its jobs and streams; the next call works", async () => {
  const pool = testPool({ maxThreads: 1 });
  try {
    const stream = await pool.openStream("br");
    await stream.push(sampleText(10_000));
    const crash = pool.compress(new Uint8Array(1), "crash");
    const queued = pool.compress(sampleText(1000), "gzip");
    await assert.rejects(crash, CompressionThreadError);
    await assert.rejects(queued, CompressionThreadError);
    await assert.rejects(stream.push(sampleText(10)), CompressionThreadError);
    stream.abort();
    assert.equal(pool.threadCount, 0);
    assert.equal(pool.openStreams, 0);

    const input = sampleText(5000);
    assertSameBytes(decompress(await pool.compress(input, "br"), "br"), input);
    assert.equal(pool.threadsStarted, 2, "a new thread replaced the dead one");
  } finally {
    pool.close();
  }
});

Deno.test("threads start at first use and exit when idle", async () => {
  const pool = testPool({ maxThreads: 2, idleMs: 150 });
  try {
    assert.equal(pool.threadCount, 0, "no thread before first use");
    await pool.compress(sampleText(2000), "gzip");
    assert.equal(pool.threadCount, 1);
    const deadline = performance.now() + 5000;
    while (pool.threadCount > 0 && performance.now() < deadline) {
      await delay(50);
    }
    assert.equal(pool.threadCount, 0, "the idle thread exited");

    // An open stream keeps its thread, however long it waits.
    const stream = await pool.openStream("br");
    await stream.push(sampleText(2000));
    await delay(400);
    assert.equal(pool.threadCount, 1);
    const out = concat([await stream.end()]);
    assert.ok(out.length > 0);
    while (pool.threadCount > 0 && performance.now() < deadline + 5000) {
      await delay(50);
    }
    assert.equal(pool.threadCount, 0);
    assert.equal(pool.threadsStarted, 2);
  } finally {
    pool.close();
  }
});

Deno.test("the queue is bounded: past it, jobs are refused at once", async () => {
  const pool = testPool({ maxThreads: 1, maxWaiting: 4 });
  try {
    const input = sampleText(200_000);
    // Two go to the thread, four wait, the seventh is refused.
    const accepted = Array.from(
      { length: WHOLE_JOBS_PER_THREAD + 4 },
      () => pool.compress(input, "br"),
    );
    await assert.rejects(pool.compress(input, "br"), CompressionBusyError);
    for (const out of await Promise.all(accepted)) {
      assertSameBytes(decompress(out, "br"), input);
    }
    // Drained: accepted again.
    await pool.compress(input, "gzip");
  } finally {
    pool.close();
  }
});

/** Threads of process `pid` that are Web Workers (named `worker-N`). */
function workerThreads(pid: number): number {
  let count = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/comm`);
      if (name.startsWith("worker-")) count++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return count;
}

Deno.test({
  name: "a server starts no thread until it compresses, then one",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // Settled: a file changed within the last second or two is tagged by a
    // digest of its content, and large digests run on the pool too.
    const dir = await makeSettledDir("pws-pool-", {
      "page.txt": sampleText(20_000),
    });
    const server = await spawnServer(["--root", dir, "--quiet", "0"]);
    const get = async (headers: string) => {
      const conn = await Deno.connect({ port: server.port });
      await conn.write(encoder.encode(
        `GET /page.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${headers}\r\n`,
      ));
      const parts: Uint8Array[] = [];
      const buf = new Uint8Array(65536);
      for (let n; (n = await conn.read(buf)) !== null;) {
        parts.push(buf.slice(0, n));
      }
      conn.close();
      return new TextDecoder().decode(concat(parts));
    };
    try {
      for (let i = 0; i < 3; i++) {
        assert.match(await get(""), /^HTTP\/1\.1 200 /);
      }
      assert.equal(workerThreads(server.pid), 0, "identity starts no thread");
      const compressed = await get("Accept-Encoding: gzip\r\n");
      assert.match(compressed, /\r\nContent-Encoding: gzip\r\n/);
      assert.equal(workerThreads(server.pid), 1);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
