/**
 * Live reload's event streams over raw sockets: they outlive the idle
 * timeout, end at graceful shutdown, cost little memory each, and are
 * bounded in number.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_LIVE_STREAMS } from "../live/hub.ts";
import {
  connect,
  rawExchange,
  readRssBytes,
  spawnServer,
  withServer,
} from "./helpers.ts";

const EVENTS_REQUEST = new TextEncoder().encode(
  "GET /__pws/events HTTP/1.1\r\nHost: t\r\n\r\n",
);

/** Opens an event stream; `read` returns what arrives, as text. */
async function openStream(port: number) {
  const conn = await connect(port);
  await conn.write(EVENTS_REQUEST);
  let text = "";
  const buffer = new Uint8Array(4096);
  return {
    conn,
    /** Reads until `needle` arrived or the stream ended; false if ended. */
    async readUntil(needle: string, timeoutMs = 5000): Promise<boolean> {
      const timer = setTimeout(() => conn.close(), timeoutMs);
      try {
        while (!text.includes(needle)) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) return false;
          text += new TextDecoder().decode(buffer.subarray(0, n));
        }
        return true;
      } finally {
        clearTimeout(timer);
      }
    },
    get text() {
      return text;
    },
  };
}

Deno.test("live streams: an event stream outlives the idle timeout", async () => {
  const root = await Deno.makeTempDir({ prefix: "pws-live-idle-" });
  await Deno.writeTextFile(`${root}/index.html`, "<p>one</p>");
  try {
    await withServer(async (server) => {
      const stream = await openStream(server.port);
      try {
        assert.ok(await stream.readUntil("event: hello"));
        assert.match(stream.text, /^HTTP\/1\.1 200 /);
        assert.match(stream.text, /content-type: text\/event-stream/i);
        // Three idle timeouts pass without a byte.
        await new Promise((r) => setTimeout(r, 900));
        await Deno.writeTextFile(`${root}/index.html`, "<p>two</p>");
        assert.ok(await stream.readUntil("event: reload"), stream.text);
      } finally {
        stream.conn.close();
      }
    }, { root, config: { live: true, idleTimeoutMs: 300 } });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("live streams: graceful shutdown ends every stream at once", async () => {
  const root = await Deno.makeTempDir({ prefix: "pws-live-stop-" });
  try {
    const { startTestServer } = await import("./helpers.ts");
    const server = startTestServer({ root, config: { live: true } });
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => openStream(server.port)),
    );
    for (const stream of streams) {
      assert.ok(await stream.readUntil("event: hello"));
    }
    const started = performance.now();
    await server.shutdown(10_000);
    const took = performance.now() - started;
    for (const stream of streams) {
      // The last chunk: the stream ended as a complete response.
      assert.ok(!await stream.readUntil("never"), "the stream ended");
      assert.ok(stream.text.endsWith("0\r\n\r\n"), stream.text.slice(-40));
      stream.conn.close();
    }
    assert.ok(took < 2000, `shutdown took ${took.toFixed(0)} ms`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("live streams: an HTTP/1.0 client gets 505, not an endless body", async () => {
  const root = await Deno.makeTempDir({ prefix: "pws-live-10-" });
  try {
    await withServer(async (server) => {
      const { bytes } = await rawExchange(
        server.port,
        "GET /__pws/events HTTP/1.0\r\n\r\n",
      );
      assert.match(new TextDecoder().decode(bytes), /^HTTP\/1\.1 505 /);
    }, { root, config: { live: true } });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: `live streams: ${MAX_LIVE_STREAMS} idle streams cost little memory ` +
    `each; one more gets 503`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "pws-live-many-" });
    const server = await spawnServer([
      "--root",
      root,
      "--quiet",
      "--live",
      "--max-connections",
      String(MAX_LIVE_STREAMS + 64),
      "0",
    ]);
    const streams: Awaited<ReturnType<typeof openStream>>[] = [];
    try {
      const settle = () => new Promise((r) => setTimeout(r, 500));
      await settle();
      const before = readRssBytes(server.pid)!;
      for (let i = 0; i < MAX_LIVE_STREAMS; i++) {
        const stream = await openStream(server.port);
        streams.push(stream);
        assert.ok(await stream.readUntil("event: hello"), `stream ${i}`);
      }
      await settle();
      const after = readRssBytes(server.pid)!;
      const perStream = (after - before) / MAX_LIVE_STREAMS / 1024;
      console.log(
        `${MAX_LIVE_STREAMS} event streams: ${perStream.toFixed(1)} KiB of ` +
          `RSS each`,
      );
      assert.ok(perStream < 48, `${perStream.toFixed(1)} KiB per stream`);
      const { bytes } = await rawExchange(
        server.port,
        "GET /__pws/events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
      );
      assert.match(new TextDecoder().decode(bytes), /^HTTP\/1\.1 503 /);
      // Every stream still hears a change.
      await Deno.writeTextFile(`${root}/a.html`, "<p>x</p>");
      for (const stream of streams) {
        assert.ok(await stream.readUntil("event: reload"));
      }
    } finally {
      for (const stream of streams) stream.conn.close();
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
