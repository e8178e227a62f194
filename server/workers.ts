/**
 * The `--workers` group: extra listener threads (`server/worker.ts`) that
 * serve the same port as the main thread, a liveness check that replaces a
 * thread whose event loop stopped answering, and a shutdown that never
 * outlives the grace period by more than {@linkcode SHUTDOWN_MARGIN_MS}.
 *
 * Why the check: the kernel hands each new connection to one of the
 * listeners on the port (SO_REUSEPORT) whether or not its thread runs, so
 * one stalled thread of N leaves about 1/N of new connections hanging.
 * Connections already queued on the stalled listener when it is closed are
 * reset by the kernel: they are lost.
 *
 * Test hooks, read once at start-up and only when the process may read
 * them (`--allow-env` for them, which pws never needs; no client can set
 * them):
 * - `PWS_TEST_STALL_WORKER=1`: the first worker busy-loops on its event
 *   loop as soon as it listens (its replacement does not).
 * - `PWS_TEST_WORKER_LIVENESS_MS=N`: the liveness limit, in ms.
 *
 * Metrics (`--metrics`): each liveness pong carries the worker's snapshot,
 * so the main thread's totals are at most one check period (1 s) old. A
 * replaced worker's counts stay in the totals.
 *
 * @module
 */

import { Worker } from "node:worker_threads";
import { isDigits } from "../http/scan.ts";
import { type StartOptions, StartupError, type TlsPair } from "./server.ts";
import type { FromWorker, ToWorker } from "./worker.ts";
import {
  addSnapshot,
  emptySnapshot,
  type MetricsSnapshot,
} from "../metrics/counters.ts";

/** Test hook: `1` makes the first worker stall (see the module comment). */
export const STALL_WORKER_ENV = "PWS_TEST_STALL_WORKER";

/** Test hook: the liveness limit in ms (see the module comment). */
export const LIVENESS_LIMIT_ENV = "PWS_TEST_WORKER_LIVENESS_MS";

/**
 * How long a worker may leave a liveness ping unanswered before it is
 * replaced. Long enough that no healthy event loop comes near it (a turn
 * takes milliseconds), short enough to bound the damage of a stall.
 */
export const DEFAULT_LIVENESS_LIMIT_MS = 5000;

/**
 * How long after the grace period a draining worker is still waited for
 * (to close its last connections and flush its log) before it is
 * terminated.
 */
export const SHUTDOWN_MARGIN_MS = 250;

/** How long a starting worker may take to listen. */
const START_TIMEOUT_MS = 10_000;

const WORKER_URL = new URL("./worker.ts", import.meta.url);

/** Options of {@linkcode startWorkerGroup}; defaults are for production. */
export interface WorkerGroupOptions {
  /** Liveness limit in ms (default {@linkcode DEFAULT_LIVENESS_LIMIT_MS}). */
  livenessLimitMs?: number;
  /** Test hook: the first worker stalls once it listens. */
  stallFirst?: boolean;
  /** Where the one-line notices go (default stderr). */
  log?: (line: string) => void;
  /** Ask workers for their metrics with each liveness ping. */
  metrics?: boolean;
}

/** A running group of worker threads. */
export interface WorkerGroup {
  /** How many workers were replaced so far. */
  restarts(): number;
  /**
   * The workers' metrics summed: the last snapshot each sent (at most one
   * check period old), plus the counts of workers since replaced.
   */
  metricsSnapshot(): MetricsSnapshot;
  /**
   * Asks every worker to drain within `graceMs`; terminates any that has
   * not finished `graceMs + SHUTDOWN_MARGIN_MS` later. Resolves when all
   * are stopped or terminated.
   */
  shutdown(graceMs: number): Promise<void>;
  /**
   * Hands a renewed certificate to every worker (and to those that will
   * replace them): their new connections use it.
   */
  reloadTls(pair: TlsPair): void;
  /**
   * Asks every worker to reopen the `--log-file`; resolves with the
   * errors they report once all answered (or after a second: a stalled
   * worker is the liveness check's business).
   */
  reopenLog(): Promise<string[]>;
}

/** What the periodic liveness check does with one worker. */
export type LivenessAction = "ping" | "wait" | "replace";

/**
 * The liveness decision for one worker at time `now`. `waitingSince` is
 * when its unanswered ping was sent, undefined when it answered them all.
 */
export function livenessAction(
  waitingSince: number | undefined,
  now: number,
  limitMs: number,
): LivenessAction {
  if (waitingSince === undefined) return "ping";
  return now - waitingSince >= limitMs ? "replace" : "wait";
}

/** How often the check runs: a quarter of the limit, 20 ms to 1 s. */
export function checkPeriodMs(limitMs: number): number {
  return Math.max(20, Math.min(1000, Math.floor(limitMs / 4)));
}

/**
 * Parses a liveness limit in ms: digits only, 50 ms to a day; anything
 * else is undefined (the default applies).
 */
export function parseLivenessLimit(
  text: string | undefined,
): number | undefined {
  if (text === undefined || !isDigits(text) || text.length > 8) {
    return undefined;
  }
  const ms = Number(text);
  return ms >= 50 && ms <= 86_400_000 ? ms : undefined;
}

/** Reads an environment variable only when already permitted: never prompts. */
function permittedEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** The test hooks from the environment (see the module comment). */
export function testHooksFromEnv(): WorkerGroupOptions {
  return {
    stallFirst: permittedEnv(STALL_WORKER_ENV) === "1",
    livenessLimitMs: parseLivenessLimit(permittedEnv(LIVENESS_LIMIT_ENV)),
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function post(worker: Worker, message: ToWorker): void {
  worker.postMessage(message);
}

/** Terminates a worker; a stalled one too (see `server/worker.ts`). */
function terminate(worker: Worker): void {
  worker.terminate().catch(() => {});
}

/** Starts one worker thread; resolves once it listens. */
function launch(options: StartOptions, stall: boolean): Promise<Worker> {
  const worker = new Worker(WORKER_URL);
  // An 'error' event without a listener would throw in this thread; the
  // 'exit' that follows it is what the group acts on.
  worker.on("error", () => {});
  return new Promise((resolve, reject) => {
    const settle = (why?: string) => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      if (why === undefined) return resolve(worker);
      terminate(worker);
      reject(new Error(why));
    };
    const onMessage = (message: FromWorker) => {
      if (message.kind === "ready") settle();
      if (message.kind === "error") settle(message.message);
    };
    const onError = (err: unknown) => settle(describe(err));
    const onExit = (code: number) => settle(`exited with code ${code}`);
    const timer = setTimeout(
      () => settle(`not listening after ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    post(worker, { kind: "start", options, stall });
  });
}

/** One place in the group, and the thread that fills it now. */
interface Slot {
  /** 1-based, as notices name it. */
  number: number;
  /** The serving thread; undefined while a replacement starts or failed. */
  worker: Worker | undefined;
  /** Number of the last ping sent. */
  seq: number;
  /** When the unanswered ping was sent; undefined when all are answered. */
  waitingSince: number | undefined;
  /** A replacement is starting. */
  starting: boolean;
  /** After a failed start: when to try again. */
  retryAt: number;
  /** During shutdown: called when the worker has drained or exited. */
  stopped?: () => void;
  /** The serving thread's last metrics snapshot. */
  metrics?: MetricsSnapshot;
  /** Called when the worker answers `reopen-log`. */
  logReopened?: (error: string | undefined) => void;
}

/**
 * Starts `count` worker threads listening on `options.port`, then watches
 * them. Rejects with a StartupError when one cannot start.
 */
export async function startWorkerGroup(
  count: number,
  initialOptions: StartOptions,
  hooks: WorkerGroupOptions = testHooksFromEnv(),
): Promise<WorkerGroup> {
  const limitMs = hooks.livenessLimitMs ?? DEFAULT_LIVENESS_LIMIT_MS;
  // Replaced by a renewed certificate (see reloadTls): workers started later get it.
  let options = initialOptions;
  const log = hooks.log ?? ((line: string) => console.error(line));
  const slots: Slot[] = [];
  let stopping = false;
  let restarts = 0;
  // Counts of threads that were replaced, so that totals never go back.
  const retired = emptySnapshot();

  /** Routes a serving worker's messages and exit to its slot. */
  const watch = (slot: Slot, worker: Worker) => {
    slot.worker = worker;
    slot.waitingSince = undefined;
    let lastError = "";
    worker.on("error", (err: unknown) => {
      lastError = `: ${describe(err)}`;
    });
    worker.on("message", (message: FromWorker) => {
      if (slot.worker !== worker) return;
      if (message.kind === "pong" && message.seq === slot.seq) {
        slot.waitingSince = undefined;
        if (message.metrics !== undefined) slot.metrics = message.metrics;
      }
      if (message.kind === "done") slot.stopped?.();
      if (message.kind === "log-reopened") slot.logReopened?.(message.error);
    });
    worker.on("exit", (code: number) => {
      if (slot.worker !== worker) return;
      if (stopping) return slot.stopped?.();
      void replace(
        slot,
        `worker ${slot.number} exited (code ${code}${lastError})`,
      );
    });
  };

  /** Terminates the slot's thread (if any) and starts a fresh one. */
  const replace = async (slot: Slot, why?: string) => {
    const old = slot.worker;
    slot.worker = undefined;
    if (old) terminate(old);
    if (slot.metrics !== undefined) {
      addSnapshot(retired, slot.metrics, true);
      slot.metrics = undefined;
    }
    if (why !== undefined) {
      log(`pws: ${why}; replacing it (connections queued on it are lost)`);
    }
    slot.starting = true;
    try {
      const worker = await launch(options, false);
      if (stopping) return terminate(worker);
      watch(slot, worker);
      restarts++;
    } catch (err) {
      slot.retryAt = performance.now() + limitMs;
      log(`pws: worker ${slot.number} could not restart: ${describe(err)}`);
    } finally {
      slot.starting = false;
    }
  };

  for (let i = 0; i < count; i++) {
    let worker: Worker;
    try {
      worker = await launch(options, hooks.stallFirst === true && i === 0);
    } catch (err) {
      for (const slot of slots) terminate(slot.worker!);
      throw new StartupError(`worker ${i + 1} failed: ${describe(err)}`);
    }
    const slot: Slot = {
      number: i + 1,
      worker: undefined,
      seq: 0,
      waitingSince: undefined,
      starting: false,
      retryAt: 0,
    };
    slots.push(slot);
    watch(slot, worker);
  }

  const periodMs = checkPeriodMs(limitMs);
  let lastCheck = performance.now();
  const check = () => {
    const now = performance.now();
    // Time this thread itself could not run (a long GC, a loaded machine)
    // is not held against any worker.
    const late = Math.max(0, now - lastCheck - periodMs);
    lastCheck = now;
    for (const slot of slots) {
      const worker = slot.worker;
      if (worker === undefined) {
        if (!slot.starting && now >= slot.retryAt) void replace(slot);
        continue;
      }
      if (slot.waitingSince !== undefined) slot.waitingSince += late;
      switch (livenessAction(slot.waitingSince, now, limitMs)) {
        case "ping":
          slot.seq++;
          slot.waitingSince = now;
          post(worker, {
            kind: "ping",
            seq: slot.seq,
            metrics: hooks.metrics,
          });
          break;
        case "replace":
          void replace(
            slot,
            `worker ${slot.number} did not answer for ${limitMs / 1000} s`,
          );
          break;
      }
    }
  };
  const timer = setInterval(check, periodMs);

  /** Asks one worker to drain; terminates it at the deadline. */
  const drain = (slot: Slot, graceMs: number) =>
    new Promise<void>((resolve) => {
      const worker = slot.worker;
      if (worker === undefined) return resolve();
      const finish = (inTime: boolean) => {
        clearTimeout(deadline);
        slot.stopped = undefined;
        if (!inTime) {
          log(
            `pws: worker ${slot.number} did not stop within the grace ` +
              `period; terminating it`,
          );
        }
        terminate(worker);
        resolve();
      };
      const deadline = setTimeout(
        () => finish(false),
        graceMs + SHUTDOWN_MARGIN_MS,
      );
      slot.stopped = () => finish(true);
      post(worker, { kind: "shutdown", graceMs });
    });

  return {
    restarts: () => restarts,
    metricsSnapshot() {
      const sum = emptySnapshot();
      addSnapshot(sum, retired);
      for (const slot of slots) {
        if (slot.metrics !== undefined) addSnapshot(sum, slot.metrics);
      }
      return sum;
    },
    reloadTls(pair: TlsPair) {
      options = { ...options, tls: pair };
      for (const slot of slots) {
        if (slot.worker !== undefined) {
          post(slot.worker, { kind: "reload-tls", pair });
        }
      }
    },
    async reopenLog() {
      const errors: string[] = [];
      await Promise.all(slots.map((slot) =>
        new Promise<void>((resolve) => {
          const worker = slot.worker;
          if (worker === undefined) return resolve();
          const timer = setTimeout(done, 1000);
          function done(error?: string) {
            clearTimeout(timer);
            slot.logReopened = undefined;
            if (error !== undefined) {
              errors.push(`worker ${slot.number}: ${error}`);
            }
            resolve();
          }
          slot.logReopened = done;
          post(worker, { kind: "reopen-log" });
        })
      ));
      return errors;
    },
    async shutdown(graceMs: number) {
      stopping = true;
      clearInterval(timer);
      await Promise.all(slots.map((slot) => drain(slot, graceMs)));
    },
  };
}
