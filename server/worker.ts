/**
 * A `--workers` listener: one more event loop, on its own thread, serving
 * the same port as the main thread (SO_REUSEPORT lets the kernel spread
 * connections across them).
 *
 * Protocol: the main thread posts a {@linkcode WorkerStart}; the worker
 * answers `{ ready: true }` or `{ error }`. Later `"shutdown"` makes it stop
 * gracefully and answer `{ done: true }`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import {
  type RunningServer,
  type StartOptions,
  startServer,
} from "./server.ts";

/** The message that starts a worker. */
export interface WorkerStart {
  options: StartOptions;
  graceMs: number;
  /** Test hook: busy-loop once listening (see `server/workers.ts`). */
  stall?: boolean;
}

let server: RunningServer | undefined;
let graceMs = 10_000;

self.onmessage = async (event: MessageEvent<WorkerStart | "shutdown">) => {
  if (event.data === "shutdown") {
    await server?.shutdown(graceMs);
    self.postMessage({ done: true });
    self.close();
    return;
  }
  try {
    graceMs = event.data.graceMs;
    server = startServer({ ...event.data.options, reusePort: true });
    self.postMessage({ ready: true });
    if (event.data.stall) {
      setTimeout(() => {
        for (;;) { /* stalled */ }
      }, 0);
    }
  } catch (err) {
    self.postMessage({
      error: err instanceof Error ? err.message : String(err),
    });
  }
};
