/**
 * The compression thread with two test hooks, for `compress_pool_test.ts`:
 * a `compress` job with coding `crash` kills the thread (an uncaught
 * error), and one with coding `count` answers with the number of streams
 * holding state on the thread, as one byte.
 *
 * @module
 */

import { onPoolMessage, openStreamCount } from "../compress_worker.js";

self.onmessage = (event) => {
  const request = event.data;
  if (request.kind === "compress" && request.coding === "crash") {
    throw new Error("crash requested by the test");
  }
  if (request.kind === "compress" && request.coding === "count") {
    self.postMessage({
      id: request.id,
      bytes: Uint8Array.of(openStreamCount()),
    });
    return;
  }
  onPoolMessage(event);
};
