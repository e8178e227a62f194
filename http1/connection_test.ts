/**
 * Unit tests of a connection's stream buffers: the size chosen for each
 * need, the bound on large buffers, and their return after a response.
 */

import assert from "node:assert/strict";
import {
  Connection,
  LARGE_STREAM_BUFFER_BYTES,
  MAX_LARGE_STREAM_BUFFERS,
  type ServerContext,
  SMALL_STREAM_BUFFER_BYTES,
  STREAM_BUFFER_BYTES,
} from "./connection.ts";

/** A connection whose socket is never touched by these tests. */
function idleConnection(): Connection {
  return new Connection({} as Deno.Conn, {} as ServerContext);
}

Deno.test("stream buffers: small for what fits, large for streams, bounded", () => {
  const base = Connection.largeStreamBuffersInUse;
  const c = idleConnection();
  assert.equal(
    c.streamBufferFor(64 * 1024 + 300).length,
    SMALL_STREAM_BUFFER_BYTES,
  );
  // A held buffer that is big enough is kept.
  const held = c.streamBufferFor(1000);
  assert.equal(c.streamBufferFor(2000), held);
  assert.equal(c.streamBufferFor(200 * 1024).length, STREAM_BUFFER_BYTES);
  assert.equal(c.streamBufferFor(64 << 20).length, LARGE_STREAM_BUFFER_BYTES);
  assert.equal(Connection.largeStreamBuffersInUse, base + 1);
  // Smaller needs keep using the large buffer until the response ends.
  assert.equal(c.streamBufferFor(10).length, LARGE_STREAM_BUFFER_BYTES);
  c.releaseStreamBuffer();
  assert.equal(Connection.largeStreamBuffersInUse, base);

  const others = Array.from(
    { length: MAX_LARGE_STREAM_BUFFERS + 3 },
    idleConnection,
  );
  const sizes = others.map((o) => o.streamBufferFor(64 << 20).length);
  assert.equal(
    sizes.filter((n) => n === LARGE_STREAM_BUFFER_BYTES).length,
    MAX_LARGE_STREAM_BUFFERS - base,
  );
  assert.ok(sizes.every((n) => n >= STREAM_BUFFER_BYTES));
  for (const o of others) o.releaseBuffers();
  c.releaseBuffers();
  assert.equal(Connection.largeStreamBuffersInUse, base);
  assert.equal(c.buffer.length, 0, "the read buffer went back too");
});
