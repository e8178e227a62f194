/**
 * A `--workers` listener: one more event loop, on its own thread, serving
 * the same port as the main thread (SO_REUSEPORT lets the kernel spread
 * connections across them). Started and watched by `server/workers.ts`.
 *
 * Protocol (all {@linkcode ToWorker} / {@linkcode FromWorker} messages):
 * `start` → `ready` or `error`; `ping` → `pong` with the same number,
 * answered from this thread's event loop (the liveness check), carrying
 * this thread's metrics snapshot when the ping asks for it; `shutdown`
 * → graceful stop, then `done`; `reload-tls` → new connections get the
 * renewed certificate; `reopen-log` → the `--log-file` is reopened, then
 * `log-reopened` (with a message if it could not be).
 *
 * Why a `node:worker_threads` Worker holding a Web Lock: in Deno 2.9,
 * `terminate()` on a Web Worker or a Node worker only wakes its event loop;
 * a thread stuck in synchronous JavaScript keeps running and keeps its
 * listening socket open (measured: the socket stayed in LISTEN for as long
 * as we watched). Deno does interrupt the JavaScript (V8
 * `TerminateExecution`) when it terminates a Node worker that holds a Web
 * Lock, so that the lock cannot change hands while the worker still runs.
 * Each worker therefore holds a lock of its own for life, and a stalled
 * one can be stopped: its thread ends and the kernel closes its socket.
 *
 * @module
 */

import { parentPort, threadId } from "node:worker_threads";
import {
  type RunningServer,
  type StartOptions,
  startServer,
  type TlsPair,
} from "./server.ts";
import type { MetricsSnapshot } from "../metrics/counters.ts";

/** Messages from the main thread to a worker. */
export type ToWorker =
  | {
    kind: "start";
    options: StartOptions;
    /** Test hook: busy-loop once listening (see `server/workers.ts`). */
    stall?: boolean;
  }
  /** The liveness check; `metrics` asks for a snapshot in the pong. */
  | { kind: "ping"; seq: number; metrics?: boolean }
  | { kind: "shutdown"; graceMs: number }
  /** A renewed certificate for new connections (already checked). */
  | { kind: "reload-tls"; pair: TlsPair }
  /** SIGHUP: reopen the `--log-file` (logrotate moved it). */
  | { kind: "reopen-log" };

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { kind: "ready" }
  | { kind: "error"; message: string }
  | { kind: "pong"; seq: number; metrics?: MetricsSnapshot }
  | { kind: "done" }
  /** The log file was reopened; `error` says why not, if it was not. */
  | { kind: "log-reopened"; error?: string };

/** The part of the Web Locks API used here (Deno's types lack it). */
interface LockManager {
  request(name: string, callback: () => Promise<never>): Promise<unknown>;
}

/**
 * Resolves once this thread holds a Web Lock that it never releases (see
 * the module comment: it is what lets `terminate()` interrupt a stall).
 */
function holdLockForLife(): Promise<void> {
  const locks = (navigator as unknown as { locks: LockManager }).locks;
  return new Promise((granted) => {
    locks.request(`pws-worker-${threadId}`, () => {
      granted();
      return new Promise<never>(() => {});
    });
  });
}

if (parentPort) {
  const port = parentPort;
  const send = (message: FromWorker) => port.postMessage(message);
  let server: RunningServer | undefined;

  // A bug in one connection must never take the thread down.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    console.error("pws: unhandled rejection:", event.reason);
  });

  port.on("message", async (message: ToWorker) => {
    switch (message.kind) {
      case "ping":
        send({
          kind: "pong",
          seq: message.seq,
          metrics: message.metrics ? server?.metricsSnapshot() : undefined,
        });
        return;
      case "shutdown":
        await server?.shutdown(message.graceMs);
        send({ kind: "done" });
        return;
      case "reload-tls":
        try {
          server?.reloadTls(message.pair);
        } catch (err) {
          console.error(
            `pws: worker ${threadId} kept its certificate: ${
              err instanceof Error ? err.message : String(err)
            }`,
          );
        }
        return;
      case "reopen-log":
        try {
          server?.reopenLog();
          send({ kind: "log-reopened" });
        } catch (err) {
          send({
            kind: "log-reopened",
            error: err instanceof Error ? err.message : String(err),
          });
        }
        return;
      case "start":
        try {
          await holdLockForLife();
          server = startServer({
            ...message.options,
            reusePort: true,
            // The main thread reports rules reloads, once for all.
            config: { ...message.options.config, reportRules: false },
          });
          send({ kind: "ready" });
        } catch (err) {
          send({
            kind: "error",
            message: err instanceof Error ? err.message : String(err),
          });
          return;
        }
        // Stalls at once, so no message after `ready` is ever handled.
        while (message.stall) {
          // stalled on purpose: only the test hook gets here
        }
    }
  });
}
