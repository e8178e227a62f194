/**
 * The life of HTTP/2 streams and connections under attack: a reset
 * stream lets go of its file at once; a graceful shutdown names the last
 * stream it will answer, finishes it and ignores what comes after; idle
 * and write timeouts apply per connection; stream ids run out without
 * the server keeping anything per closed stream, and concurrency stays
 * at 128.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorCode, FrameType, FrameWriter, H2Client } from "../h2_raw.ts";
import {
  assertOthersServed,
  fdsOpenOn,
  RssSampler,
  sleep,
  underAttack,
  withSpawned,
} from "../h2_attack.ts";

const INITIAL_WINDOW_SIZE = 0x4;
const MAX_STREAM_ID = 0x7fff_ffff;

/** Polls `check` every 10 ms for up to `timeoutMs`; returns the time taken. */
async function within(
  timeoutMs: number,
  check: () => boolean,
): Promise<number> {
  const startedAt = performance.now();
  while (!check()) {
    if (performance.now() - startedAt > timeoutMs) return Infinity;
    await sleep(10);
  }
  return performance.now() - startedAt;
}

Deno.test("h2 lifecycle: RST_STREAM releases the file at once", async () => {
  await withSpawned(async (server, root) => {
    const path = `${root}/big.bin`;
    // Changed just now: pws opens it for each response and pools none.
    const now = new Date();
    Deno.utimeSync(path, now, now);
    // Windows of one read-ahead chunk (128 KiB), so that a stream that
    // used its window holds no chunk and the others may read theirs.
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: 128 * 1024 }],
      connectionWindowIncrement: 1 << 30,
      autoWindow: false,
    });
    try {
      // As many as run at once on a connection (http2/turn_budget.ts).
      const ids: number[] = [];
      for (let i = 0; i < 16; i++) ids.push(await c.request("/big.bin"));
      await c.waitFor(
        () => ids.every((id) => c.view(id).dataBytes > 0),
        3000,
        "DATA on every stream",
      );
      const open = fdsOpenOn(server.pid, path);
      assert.ok(open >= 16, `${open} descriptors on the file`);
      const w = new FrameWriter();
      for (const id of ids) w.rstStream(id, ErrorCode.CANCEL);
      await c.send(w);
      const tookMs = await within(
        1000,
        () => fdsOpenOn(server.pid, path) === 0,
      );
      assert.ok(tookMs < 250, `descriptors closed after ${tookMs} ms`);
    } finally {
      await c.close();
    }
  });
});

Deno.test("h2 lifecycle: graceful shutdown finishes what it named, ignores the rest", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: 1 << 20 }],
      connectionWindowIncrement: 1 << 30,
      autoWindow: false,
    });
    try {
      const id = await c.request("/big.bin");
      await c.waitFor(() => c.view(id).dataBytes === 1 << 20, 3000, "1 MiB");
      server.process.kill("SIGTERM");
      await c.waitGoaway(2000);
      assert.equal(c.goaway!.errorCode, ErrorCode.NO_ERROR);
      assert.equal(c.goaway!.lastStreamId, id);
      // A stream opened after the GOAWAY is not answered.
      const late = await c.request("/health.txt");
      // The named stream goes on to its end.
      c.autoWindow = true;
      await c.send(new FrameWriter().windowUpdate(id, 1 << 20));
      await c.waitFor(() => c.view(id).ended, 10_000, "the download");
      assert.equal(c.view(id).dataBytes, 256 << 20);
      await c.waitClosed(3000);
      const view = c.view(late);
      assert.equal(view.status, undefined, "the late stream was answered");
      assert.equal(view.resetCode, undefined, "the late stream was reset");
      const exited = await Promise.race([
        server.process.status,
        sleep(5000).then(() => undefined),
      ]);
      assert.equal(exited?.code, 0, "pws did not exit after its last stream");
    } finally {
      await c.close();
    }
  }, ["--shutdown-timeout", "20"]);
});

Deno.test("h2 lifecycle: the request limit names the last stream in GOAWAY", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port);
    try {
      const ids: number[] = [];
      for (let i = 0; i < 12; i++) ids.push(await c.request("/health.txt"));
      await c.waitClosed(3000);
      assert.equal(c.goaway?.errorCode, ErrorCode.NO_ERROR, c.summary());
      assert.equal(c.goaway!.lastStreamId, ids[9]);
      for (const id of ids.slice(0, 10)) assert.equal(c.view(id).status, 200);
      for (const id of ids.slice(10)) {
        assert.equal(c.view(id).status, undefined);
      }
    } finally {
      await c.close();
    }
  }, ["--max-requests", "10"]);
});

Deno.test("h2 lifecycle: an idle connection gets GOAWAY at the idle timeout", async () => {
  await withSpawned(async (server) => {
    // One that asked for something, and one that never did.
    const used = await H2Client.open(server.port);
    const unused = await H2Client.open(server.port);
    try {
      const id = await used.request("/health.txt");
      await used.waitFor(() => used.view(id).ended, 2000, "the response");
      const answeredAt = performance.now();
      await used.waitGoaway(3000);
      const idleMs = used.goawayAt! - answeredAt;
      assert.equal(used.goaway!.errorCode, ErrorCode.NO_ERROR);
      assert.equal(used.goaway!.lastStreamId, id);
      assert.ok(idleMs > 400 && idleMs < 1500, `GOAWAY after ${idleMs} ms`);
      await used.waitClosed(2000);
      await unused.waitGoaway(3000);
      assert.equal(unused.goaway!.errorCode, ErrorCode.NO_ERROR);
      assert.equal(unused.goaway!.lastStreamId, 0);
      await unused.waitClosed(2000);
    } finally {
      await used.close();
      await unused.close();
    }
  }, ["--idle-timeout", "0.5", "--header-timeout", "1"]);
});

Deno.test("h2 lifecycle: clients that stop reading are dropped, others served", async () => {
  await withSpawned(async (server) => {
    const outcome = await underAttack(server, async () => {
      const clients = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const c = await H2Client.open(server.port, {
            settings: [{ id: INITIAL_WINDOW_SIZE, value: 0x7fff_ffff }],
            connectionWindowIncrement: 0x7fff_0000,
            autoWindow: false,
          });
          await c.request("/big.bin");
          await c.waitFor(() => c.bytesRead > 1 << 20, 3000, "DATA");
          c.pauseReading();
          return c;
        }),
      );
      try {
        const stalledAt = performance.now();
        await sleep(2500);
        for (const c of clients) {
          c.resumeReading();
          await c.waitClosed(5000);
          assert.ok(c.bytesRead < 64 << 20, c.summary());
        }
        const tookMs = performance.now() - stalledAt;
        assert.ok(tookMs < 8000, `dropped after ${tookMs} ms`);
      } finally {
        for (const c of clients) await c.close();
      }
    });
    assertOthersServed(outcome);
  }, ["--write-timeout", "1"]);
});

Deno.test("h2 lifecycle: 128 streams at once, the next refused", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port, {
      settings: [{ id: INITIAL_WINDOW_SIZE, value: 0 }],
    });
    try {
      await c.waitFor(() => c.serverSettings !== undefined, 2000, "SETTINGS");
      const announced = c.serverSettings!.find((s) => s.id === 0x3);
      assert.equal(announced?.value, 128, "SETTINGS_MAX_CONCURRENT_STREAMS");
      const ids: number[] = [];
      for (let i = 0; i < 129; i++) ids.push(await c.request("/big.bin"));
      const refused = ids[128];
      await c.waitFor(
        () => c.view(refused).resetCode !== undefined,
        2000,
        "the 129th stream's reset",
      );
      assert.equal(c.view(refused).resetCode, ErrorCode.REFUSED_STREAM);
      for (const id of ids.slice(0, 128)) {
        assert.equal(c.view(id).resetCode, undefined);
      }
      // Once a stream is reset and its responder done, there is room; and
      // of the streams waiting for one of the 16 responder slots, the most
      // urgent (RFC 9218) goes first.
      await c.send(new FrameWriter().rstStream(ids[0], ErrorCode.CANCEL));
      await sleep(200);
      const next = await c.request("/health.txt", {
        extra: [["priority", "u=0"]],
      });
      await sleep(200);
      assert.equal(c.view(next).status, undefined, "answered without a slot");
      await c.send(new FrameWriter().rstStream(ids[1], ErrorCode.CANCEL));
      await c.waitFor(() => c.view(next).status !== undefined, 2000, "HEADERS");
      assert.equal(c.view(next).status, 200);
      assert.equal(c.view(ids[17]).status, undefined, "started before u=0");
    } finally {
      await c.close();
    }
  });
});

Deno.test("h2 lifecycle: stream ids run out without state kept per stream", async () => {
  await withSpawned(async (server) => {
    const c = await H2Client.open(server.port);
    try {
      // 13,000 streams, 100 at a time, each answered in full.
      const round = async () => {
        const ids: number[] = [];
        for (let i = 0; i < 100; i++) {
          ids.push(await c.request("/health.txt"));
        }
        await c.waitFor(
          () => ids.every((id) => c.view(id).ended),
          5000,
          "100 responses",
        );
        for (const id of ids) c.streams.delete(id);
      };
      for (let i = 0; i < 30; i++) await round();
      // What the collector has yet to take stays under ~15 MiB (48,000
      // streams level off there); a few hundred bytes kept per stream
      // would add as much again.
      const rss = new RssSampler(server.pid);
      for (let i = 0; i < 100; i++) await round();
      const growthMiB = rss.stop();
      console.log(`10,000 more streams: RSS +${growthMiB.toFixed(1)} MiB`);
      assert.ok(growthMiB < 32, `RSS +${growthMiB.toFixed(1)} MiB`);
      // The last id a client may use is served; a lower one is an error.
      c.nextStreamId = MAX_STREAM_ID;
      const last = await c.request("/health.txt");
      await c.waitFor(() => c.view(last).ended, 2000, "the last stream");
      assert.equal(c.view(last).status, 200);
      c.nextStreamId = 26_001 + 2;
      await c.request("/health.txt");
      await c.waitGoaway(2000);
      assert.equal(c.goaway!.errorCode, ErrorCode.PROTOCOL_ERROR);
      assert.equal(c.goaway!.lastStreamId, MAX_STREAM_ID);
      assert.equal(c.count(FrameType.HEADERS), 13_001);
    } finally {
      await c.close();
    }
  }, ["--max-requests", "100000"]);
});
