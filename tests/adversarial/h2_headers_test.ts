/**
 * HTTP/2 field blocks as weapons: CONTINUATION floods (the CVE-2024-27316
 * family: a HEADERS frame without END_HEADERS, then CONTINUATIONs that
 * never end it), blocks that end too slowly, requests whose body never
 * comes, and the HPACK bomb (a small block that references one large
 * dynamic-table entry thousands of times and would decode to hundreds
 * of megabytes). Each must end in GOAWAY (or a 431/408 on the stream)
 * within a bound, with memory bounded and other clients served.
 *
 * @module
 */

import assert from "node:assert/strict";
import { writeInteger } from "../../http2/hpack/integer.ts";
import { ErrorCode, FrameType, FrameWriter, H2Client } from "../h2_raw.ts";
import {
  assertOthersServed,
  floodConnections,
  sleep,
  underAttack,
  withSpawned,
} from "../h2_attack.ts";

/** A HEADERS frame opening `id`'s request block, without END_HEADERS. */
function openBlock(c: H2Client, id: number): FrameWriter {
  return new FrameWriter().frame(
    FrameType.HEADERS,
    0x1, // END_STREAM
    id,
    c.requestBlock("/health.txt"),
  );
}

Deno.test("h2 CONTINUATION flood: empty frames end in GOAWAY", async () => {
  await withSpawned(async (server) => {
    // 100,000 empty CONTINUATIONs: free to send, never ending the block.
    const continuations = new Uint8Array(9 * 100_000);
    for (let at = 0; at < continuations.length; at += 9) {
      continuations[at + 3] = FrameType.CONTINUATION;
      continuations[at + 8] = 1; // stream 1
    }
    const outcome = await underAttack(
      server,
      () =>
        floodConnections(server.port, {
          code: ErrorCode.ENHANCE_YOUR_CALM,
          flood: async (c) => {
            await c.send(openBlock(c, 1));
            await c.send(continuations);
          },
        }),
    );
    assertOthersServed(outcome);
  });
});

Deno.test("h2 CONTINUATION flood: a block past 64 KiB ends in GOAWAY", async () => {
  await withSpawned(async (server) => {
    const piece = new Uint8Array(16_384).fill(0x82);
    const outcome = await underAttack(
      server,
      () =>
        floodConnections(server.port, {
          code: ErrorCode.ENHANCE_YOUR_CALM,
          flood: async (c) => {
            const w = openBlock(c, 1);
            for (let i = 0; i < 16; i++) w.continuation(1, piece, false);
            await c.send(w);
          },
        }),
    );
    assertOthersServed(outcome);
  });
});

Deno.test("h2 CONTINUATION: a long but bounded block is served", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port);
    try {
      // A request block cut into a HEADERS and 60 CONTINUATIONs.
      const block = c.requestBlock("/health.txt", [["x-pad", "p".repeat(600)]]);
      const size = Math.ceil(block.length / 61);
      const w = new FrameWriter().frame(
        FrameType.HEADERS,
        0x1,
        1,
        block.subarray(0, size),
      );
      for (let at = size; at < block.length; at += size) {
        const end = Math.min(block.length, at + size);
        w.continuation(1, block.subarray(at, end), end === block.length);
      }
      await c.send(w);
      await c.waitFor(() => c.view(1).ended, 3000, "the response");
      assert.equal(c.view(1).status, 200);
    } finally {
      await c.close();
    }
  });
});

Deno.test("h2 headers that never end are cut at the header timeout", async () => {
  await withSpawned(async (server) => {
    const outcome = await underAttack(server, async () => {
      // 40 connections at once, slowloris style: half send one empty
      // CONTINUATION every 200 ms (never 64), half nothing at all.
      await Promise.all(Array.from({ length: 40 }, async (_, i) => {
        const c = await H2Client.open(server.port);
        try {
          // A request first: the connection is in use, not new.
          const first = await c.request("/health.txt");
          await c.waitFor(() => c.view(first).ended, 2000, "a response");
          const startedAt = performance.now();
          await c.send(openBlock(c, 3));
          while (i % 2 === 0 && c.goaway === undefined && !c.closed) {
            await sleep(200);
            await c.send(
              new FrameWriter().continuation(3, new Uint8Array(0), false),
            );
          }
          await c.waitGoaway(3000);
          const tookMs = c.goawayAt! - startedAt;
          assert.equal(c.goaway!.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
          assert.ok(
            tookMs >= 900 && tookMs < 2500,
            `GOAWAY after ${tookMs} ms`,
          );
          await c.waitClosed(2000);
        } finally {
          await c.close();
        }
      }));
    });
    assertOthersServed(outcome);
  }, ["--header-timeout", "1"]);
});

Deno.test("h2 a request whose body never comes gets 408, the connection goes on", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port);
    try {
      const startedAt = performance.now();
      const id = await c.request("/health.txt", { endStream: false });
      await c.waitFor(() => c.view(id).status !== undefined, 3000, "a 408");
      const tookMs = performance.now() - startedAt;
      assert.equal(c.view(id).status, 408);
      assert.ok(tookMs >= 900 && tookMs < 2500, `408 after ${tookMs} ms`);
      const next = await c.request("/health.txt");
      await c.waitFor(() => c.view(next).ended, 3000, "the next response");
      assert.equal(c.view(next).status, 200);
      assert.equal(c.goaway, undefined);
    } finally {
      await c.close();
    }
  }, ["--header-timeout", "1"]);
});

/**
 * An HPACK bomb for stream `id`: a request whose block adds one entry of
 * 4,000 bytes to the dynamic table and then names it by index in every
 * remaining byte, about 60,000 times: 64 KiB that decode to 240 MB.
 */
function hpackBomb(id: number): FrameWriter {
  const block = new Uint8Array(65_000);
  let at = 0;
  // A table size update to 4096, then :method GET, :scheme http, :path /.
  at = writeInteger(block, at, 4096, 5, 0x20);
  block.set([0x82, 0x86, 0x84], at);
  at += 3;
  // :authority t (literal without indexing, static name 1).
  block.set([0x01, 1, 0x74], at);
  at += 3;
  // x-b: 4000 × "a", with incremental indexing: dynamic index 62.
  block.set([0x40, 3, 0x78, 0x2d, 0x62], at);
  at = writeInteger(block, at + 5, 4000, 7, 0);
  block.fill(0x61, at, at + 4000);
  at += 4000;
  block.fill(0xbe, at);
  return new FrameWriter().headers(id, block, {
    maxFrameSize: 16_384,
    endStream: true,
  });
}

Deno.test("h2 HPACK bomb: answered 431 at once, memory bounded", async () => {
  await withSpawned(async (server) => {
    let bombs = 0;
    const outcome = await underAttack(server, async () => {
      const until = performance.now() + 2000;
      await Promise.all([0, 1].map(async () => {
        while (performance.now() < until) {
          const c = await H2Client.open(server.port);
          try {
            // Ten bombs on one connection, then an ordinary request.
            for (let i = 0; i < 10; i++) {
              const id = c.nextStreamId;
              c.nextStreamId += 2;
              const sentAt = performance.now();
              await c.send(hpackBomb(id));
              await c.waitFor(() => c.view(id).ended, 2000, "a 431");
              assert.equal(c.view(id).status, 431);
              const tookMs = performance.now() - sentAt;
              assert.ok(tookMs < 500, `431 after ${tookMs} ms`);
              bombs++;
            }
            const id = await c.request("/health.txt");
            await c.waitFor(() => c.view(id).ended, 2000, "the response");
            assert.equal(c.view(id).status, 200);
          } finally {
            await c.close();
          }
        }
      }));
    });
    assert.ok(bombs >= 20, `${bombs} bombs`);
    assertOthersServed(outcome);
  });
});
