/**
 * HTTP/2 flow control under load and attack: a 1 GiB download through a
 * 64 KiB window keeps memory flat; SETTINGS_INITIAL_WINDOW_SIZE changes
 * apply to open streams (down to negative windows, RFC 9113 §6.9.2);
 * parallel downloads share the connection; and a client that opens no
 * window at all (slow reader) loses its streams, then its connection, at
 * the write timeout, without holding memory or descriptors meanwhile.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorCode, FrameType, FrameWriter, H2Client } from "../h2_raw.ts";
import {
  assertOthersServed,
  fdsOpenOn,
  makeSite,
  RssSampler,
  sleep,
  spawnH2Server,
  underAttack,
  watchLatency,
  withSpawned,
} from "../h2_attack.ts";

const INITIAL_WINDOW_SIZE = 0x4;
/** Responders one connection runs at once (http2/turn_budget.ts). */
const MAX_OPEN_FILE_RESPONSES = 16;

Deno.test("h2 flow: 1 GiB through a 64 KiB window, memory flat", async () => {
  const root = makeSite({ "huge.bin": 1 << 30 });
  const server = await spawnH2Server(root);
  const c = await H2Client.open(server.port);
  const rss = new RssSampler(server.pid, 100);
  const startedAt = performance.now();
  try {
    // The RFC's default windows (65,535), given back as the client reads.
    const id = await c.request("/huge.bin");
    await c.waitFor(() => c.view(id).ended, 30_000, "1 GiB");
    assert.equal(c.view(id).status, 200);
    assert.equal(c.view(id).dataBytes, 1 << 30);
  } finally {
    const growthMiB = rss.stop();
    console.log(
      `1 GiB in ${(performance.now() - startedAt).toFixed(0)} ms, ` +
        `RSS +${growthMiB.toFixed(1)} MiB (${rss.samples} samples)`,
    );
    await c.close();
    await server.stop();
    Deno.removeSync(root, { recursive: true });
    assert.ok(rss.samples >= 5, `${rss.samples} RSS samples`);
    assert.ok(growthMiB < 24, `RSS +${growthMiB.toFixed(1)} MiB`);
  }
});

Deno.test("h2 flow: SETTINGS_INITIAL_WINDOW_SIZE applies to open streams", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: 256 * 1024 }],
      connectionWindowIncrement: 1 << 30,
      autoWindow: false,
    });
    try {
      const id = await c.request("/big.bin");
      const view = c.view(id);
      const settled = async (bytes: number, what: string) => {
        await c.waitFor(() => view.dataBytes >= bytes, 3000, what);
        await sleep(300);
        assert.equal(view.dataBytes, bytes, `${what}: ${c.summary()}`);
      };
      await settled(256 * 1024, "the first window");
      // Lowered to 0: the window is now -256 KiB, and an update of
      // 256 KiB only brings it back to 0: nothing more may come.
      const acks = c.count(FrameType.SETTINGS);
      await c.send(
        new FrameWriter()
          .settings([{ id: INITIAL_WINDOW_SIZE, value: 0 }])
          .windowUpdate(id, 256 * 1024),
      );
      await c.waitFor(() => c.count(FrameType.SETTINGS) > acks, 2000, "ACK");
      await settled(256 * 1024, "a window lowered to 0");
      // Raised to 64 KiB: exactly 64 KiB more.
      await c.send(
        new FrameWriter().settings([
          { id: INITIAL_WINDOW_SIZE, value: 64 * 1024 },
        ]),
      );
      await settled(320 * 1024, "a window raised to 64 KiB");
      assert.equal(c.goaway, undefined);
    } finally {
      await c.close();
    }
  });
});

Deno.test("h2 flow: parallel downloads share the connection", async () => {
  const root = makeSite({ "a.bin": 64 << 20, "b.bin": 64 << 20 });
  const server = await spawnH2Server(root);
  // Windows wide open: only the server's scheduler decides the order.
  const c = await H2Client.open(server.port, {
    settings: [{ id: INITIAL_WINDOW_SIZE, value: 0x7fff_ffff }],
    connectionWindowIncrement: 0x7fff_0000,
  });
  try {
    const a = c.view(await c.request("/a.bin"));
    const b = c.view(await c.request("/b.bin"));
    let atFirstEnd = -1;
    await c.waitFor(
      () => {
        if (atFirstEnd < 0 && (a.ended || b.ended)) {
          atFirstEnd = Math.min(a.dataBytes, b.dataBytes);
        }
        return a.ended && b.ended;
      },
      20_000,
      "both downloads",
    );
    assert.equal(a.dataBytes, 64 << 20);
    assert.equal(b.dataBytes, 64 << 20);
    console.log(`the other had ${atFirstEnd} bytes when the first ended`);
    assert.ok(
      atFirstEnd >= 0.4 * (64 << 20),
      `the other had ${atFirstEnd} bytes when the first ended`,
    );
  } finally {
    await c.close();
    await server.stop();
    Deno.removeSync(root, { recursive: true });
  }
});

/**
 * Opens `count` downloads with `window`-byte windows that use them and
 * stop there, as a paused video does; then one more with an 8 MiB window
 * must get its first MiB at once.
 */
async function stalledThenOpen(count: number, window: number): Promise<void> {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: window }],
      connectionWindowIncrement: 1 << 30,
      autoWindow: false,
    });
    try {
      const stalled: number[] = [];
      for (let i = 0; i < count; i++) stalled.push(await c.request("/big.bin"));
      await c.waitFor(
        () => stalled.every((id) => c.view(id).dataBytes === window),
        3000,
        "the stalled streams' windows",
      );
      const id = await c.request("/big.bin");
      await c.send(new FrameWriter().windowUpdate(id, 8 << 20));
      await c.waitFor(
        () => c.view(id).dataBytes >= 1 << 20,
        2000,
        "1 MiB on a stream with an open window",
      );
    } finally {
      await c.close();
    }
  });
}

// A stream whose window ran out in the middle of a read-ahead chunk kept
// the chunk (128 KiB borrowed from the connection's 512 KiB budget) while
// it waited: four such streams took the whole budget, and a fifth with an
// 8 MiB window got 0 bytes until the write timeout reset the others. Now
// a read-ahead reads no more than the window allows (and a stream that
// stalls anyway, its window lowered, gives its unsent chunk back).
Deno.test("h2 flow: streams stalled on their windows do not starve the others", async () => {
  await stalledThenOpen(4, 64 * 1024);
});

Deno.test("h2 flow: streams left at a zero window are reset at the write timeout", async () => {
  // Two slots' worth of streams per connection: the first sixteen stall,
  // are reset at the write timeout, then the next sixteen.
  const streams = 2 * MAX_OPEN_FILE_RESPONSES;
  await withSpawned(async (server) => {
    const outcome = await underAttack(server, async () => {
      // Four connections that never open a window.
      const clients = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const c = await H2Client.open(server.port, {
            settings: [{ id: INITIAL_WINDOW_SIZE, value: 0 }],
          });
          for (let i = 0; i < streams; i++) await c.request("/big.bin");
          return c;
        }),
      );
      try {
        const startedAt = performance.now();
        const heads: number[] = [];
        for (const c of clients) {
          // A response without content waits for a slot, then comes.
          const head = c.nextStreamId;
          c.nextStreamId += 2;
          heads.push(head);
          await c.send(
            new FrameWriter().headers(
              head,
              c.requestBlock("/health.txt", [], "HEAD"),
              { maxFrameSize: 16_384, endStream: true },
            ),
          );
        }
        await sleep(500);
        for (const c of clients) {
          // Only as many responses as slots began before the timeout.
          const began = [...c.streams.values()].filter((v) =>
            v.status !== undefined
          ).length;
          assert.equal(began, MAX_OPEN_FILE_RESPONSES, c.summary());
        }
        for (const [i, c] of clients.entries()) {
          await c.waitFor(
            () => (c.resets.get(ErrorCode.CANCEL) ?? 0) === streams,
            5000,
            `${streams} streams reset with CANCEL`,
          );
          await c.waitFor(() => c.view(heads[i]).ended, 2000, "HEAD");
          assert.equal(c.view(heads[i]).status, 200);
          let data = 0;
          for (const view of c.streams.values()) data += view.dataBytes;
          assert.equal(data, 0);
          assert.equal(c.goaway, undefined, "the connection stays");
        }
        const tookMs = performance.now() - startedAt;
        assert.ok(tookMs > 1700, `reset after ${tookMs} ms`);
      } finally {
        for (const c of clients) await c.close();
      }
    });
    assertOthersServed(outcome);
  }, ["--write-timeout", "1"]);
});

Deno.test("h2 flow: a connection window left at zero ends the connection", async () => {
  await withSpawned(async (server) => {
    // Stream windows open, the connection's never given back.
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: 1 << 20 }],
      autoWindow: false,
    });
    try {
      const id = await c.request("/big.bin");
      await c.waitFor(() => c.view(id).dataBytes === 65_535, 2000, "64 KiB");
      const blockedAt = performance.now();
      await c.waitGoaway(3000);
      const tookMs = c.goawayAt! - blockedAt;
      assert.equal(c.goaway!.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.ok(tookMs > 700 && tookMs < 2500, `GOAWAY after ${tookMs} ms`);
      await c.waitClosed(2000);
    } finally {
      await c.close();
    }
  }, ["--write-timeout", "1"]);
});

// Every stream of a large file holds its own open descriptor while it
// waits for a window (files changed in the last two seconds are never
// pooled; nor are more than 64 distinct files). With every stream's
// responder running at once, ten connections of 128 zero-window streams
// took all 1024 descriptors: pws logged "accept failed: Too many open
// files" and answered no other client for 2 s. Now a connection runs at
// most 16 responders at once.
Deno.test("h2 flow: zero-window streams cannot take every descriptor", async () => {
  await withSpawned(async (server, root) => {
    const limit = await new Deno.Command("prlimit", {
      args: ["--pid", String(server.pid), "--nofile=1024:1024"],
    }).output();
    assert.ok(limit.success, "prlimit");
    const clients: H2Client[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const c = await H2Client.open(server.port, {
          settings: [{ id: INITIAL_WINDOW_SIZE, value: 0 }],
        });
        clients.push(c);
        for (let s = 0; s < 128; s++) await c.request("/big.bin");
      }
      await sleep(300);
      const open = fdsOpenOn(server.pid, `${root}/big.bin`);
      console.log(`${open} descriptors open on big.bin`);
      const latency = await watchLatency(
        server.port,
        "/health.txt",
        sleep(2000),
      );
      assert.equal(latency.failures, 0, "health checks refused");
      assert.ok(
        open <= 10 * MAX_OPEN_FILE_RESPONSES,
        `${open} descriptors open on big.bin`,
      );
      assert.ok(
        latency.samples.length >= 10,
        `${latency.samples.length} checks`,
      );
    } finally {
      for (const c of clients) await c.close();
    }
  });
});
