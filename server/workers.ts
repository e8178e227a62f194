/**
 * The `--workers` group: extra listener threads (`server/worker.ts`) that
 * serve the same port as the main thread.
 *
 * Test hook: when the process may read the environment variable
 * `PWS_TEST_STALL_WORKER` (only with `--allow-env`, which pws never needs)
 * and it is `1`, the first worker busy-loops on its event loop once it is
 * listening. No client can reach this; it exists so tests can stall a
 * worker.
 *
 * @module
 */

import { type StartOptions, StartupError } from "./server.ts";
import type { WorkerStart } from "./worker.ts";

/** The environment variable that makes the first worker stall (tests only). */
export const STALL_WORKER_ENV = "PWS_TEST_STALL_WORKER";

/** Reads an environment variable only when already permitted: never prompts. */
function permittedEnv(name: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "env", variable: name })
    .state;
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** A running group of worker threads. */
export interface WorkerGroup {
  /** Asks every worker to shut down gracefully and waits until they have. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * Starts `count` worker threads listening on `options.port`. Rejects with a
 * StartupError when one cannot start.
 */
export async function startWorkerGroup(
  count: number,
  options: StartOptions,
  graceMs: number,
): Promise<WorkerGroup> {
  const stallFirst = permittedEnv(STALL_WORKER_ENV) === "1";
  const workers: Worker[] = [];
  for (let i = 0; i < count; i++) {
    const worker = new Worker(import.meta.resolve("./worker.ts"), {
      type: "module",
    });
    workers.push(worker);
    const start: WorkerStart = {
      options,
      graceMs,
      stall: stallFirst && i === 0,
    };
    const answer = await new Promise<{ ready?: true; error?: string }>(
      (resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => {
          event.preventDefault();
          resolve({ error: event.message });
        };
        worker.postMessage(start);
      },
    );
    if (answer.error !== undefined) {
      for (const w of workers) w.terminate();
      throw new StartupError(`worker ${i + 1} failed: ${answer.error}`);
    }
  }
  return {
    shutdown: () => Promise.all(workers.map(stopWorker)).then(() => {}),
  };
}

/** Asks a worker to shut down gracefully and waits until it has. */
function stopWorker(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    worker.onmessage = () => {
      worker.terminate();
      resolve();
    };
    worker.postMessage("shutdown");
  });
}
