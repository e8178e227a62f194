/**
 * Shared pieces of the adversarial race tests: the flipper process (the
 * attacker swapping paths inside the root) and a client that sends many
 * pipelined requests over a few keep-alive connections and hands every
 * response to a check.
 *
 * @module
 */

import { type ParsedResponse, parseOneResponse } from "../helpers.ts";
import { getOnce } from "../latency_watcher.ts";

const encoder = new TextEncoder();

/** A running flipper; `flips` resolves with its swap count when it ends. */
export interface Flipper {
  flips: Promise<number>;
  /** Stops it early (the count is still reported). */
  stop(): void;
}

/** Starts `flipper.ts` with `args` (see that module) in its own process. */
export function startFlipper(args: readonly string[]): Flipper {
  const stopFile = Deno.makeTempFileSync({ prefix: "pws-flipper-stop-" });
  Deno.removeSync(stopFile);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env=FLIPPER_STOP_FILE",
      new URL("./flipper.ts", import.meta.url).pathname,
      ...args,
    ],
    env: { FLIPPER_STOP_FILE: stopFile },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const flips = child.output().then((out) => {
    try {
      Deno.removeSync(stopFile);
    } catch {
      // never made
    }
    return Number(new TextDecoder().decode(out.stdout).trim()) || 0;
  });
  return {
    flips,
    stop() {
      try {
        Deno.writeTextFileSync(stopFile, "stop");
      } catch {
        // already stopped
      }
    },
  };
}

/** Options of {@linkcode hammer}. */
export interface HammerOptions {
  /** Request heads to send, taken in turn (each ends in a blank line). */
  requests: readonly string[];
  /** Requests to send in all. */
  total: number;
  /** Keep-alive connections used at once. */
  connections?: number;
  /** Requests written at once on a connection (pipelined). */
  batch?: number;
  /** Give up on a batch whose answers take longer than this. */
  batchTimeoutMs?: number;
  /** Stop sending once this many batches timed out (default: never). */
  maxTimeouts?: number;
  /** Called with every response and the request it answers. */
  check(response: ParsedResponse, request: string): void;
}

/** What {@linkcode hammer} counted. */
export interface HammerResult {
  /** Responses received and checked. */
  responses: number;
  /** Responses by status. */
  statuses: Map<number, number>;
  /** Batches whose answers did not all come in time. */
  timeouts: number;
}

/**
 * Sends `total` requests over `connections` keep-alive connections in
 * pipelined batches, parsing every response. A connection the server
 * closes is replaced. Bounded: every batch has a deadline.
 */
export async function hammer(
  port: number,
  options: HammerOptions,
): Promise<HammerResult> {
  const {
    requests,
    total,
    connections = 4,
    batch = 32,
    batchTimeoutMs = 5000,
    maxTimeouts = Infinity,
  } = options;
  const result: HammerResult = {
    responses: 0,
    statuses: new Map(),
    timeouts: 0,
  };
  let sent = 0;
  let next = 0;
  // A failed check must fail the test, not look like a lost connection.
  let checkError: unknown;
  const worker = async () => {
    let conn: Deno.TcpConn | undefined;
    let pending: Uint8Array = new Uint8Array(0);
    const buf = new Uint8Array(256 * 1024);
    while (sent < total && result.timeouts < maxTimeouts) {
      const count = Math.min(batch, total - sent);
      sent += count;
      const batchRequests: string[] = [];
      for (let i = 0; i < count; i++) {
        batchRequests.push(requests[next++ % requests.length]);
      }
      if (conn === undefined) {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
        pending = new Uint8Array(0);
      }
      const c = conn;
      const timer = setTimeout(() => {
        result.timeouts++;
        try {
          c.close();
        } catch {
          // closed
        }
      }, batchTimeoutMs);
      let answered = 0;
      try {
        await writeAll(c, encoder.encode(batchRequests.join("")));
        while (answered < count) {
          let step;
          while (
            answered < count &&
            (step = parseOneResponse(
                pending,
                0,
                batchRequests[answered].startsWith("HEAD") ? "HEAD" : "GET",
              )) !== undefined
          ) {
            try {
              options.check(step.response, batchRequests[answered]);
            } catch (err) {
              checkError ??= err;
            }
            result.responses++;
            const status = step.response.status;
            result.statuses.set(status, (result.statuses.get(status) ?? 0) + 1);
            pending = pending.slice(step.next);
            answered++;
            if (step.response.header("connection") === "close") {
              throw new ClosedByServer();
            }
          }
          if (answered === count) break;
          const n = await c.read(buf);
          if (n === null) throw new ClosedByServer();
          pending = append(pending, buf.subarray(0, n));
        }
      } catch {
        // The server closed or the batch timed out: a new connection.
        try {
          c.close();
        } catch {
          // closed
        }
        conn = undefined;
      } finally {
        clearTimeout(timer);
      }
    }
    try {
      conn?.close();
    } catch {
      // closed
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  if (checkError !== undefined) throw checkError;
  return result;
}

class ClosedByServer extends Error {}

/**
 * `pending` with `more` appended. The result is a view of a buffer that
 * doubles when full, so a response of megabytes read in small pieces costs
 * linear time, not a copy of everything so far per piece.
 */
function append(pending: Uint8Array, more: Uint8Array): Uint8Array {
  const length = pending.length + more.length;
  const capacity = pending.buffer.byteLength - pending.byteOffset;
  if (length <= capacity) {
    const grown = new Uint8Array(pending.buffer, pending.byteOffset, length);
    grown.set(more, pending.length);
    return grown;
  }
  const bigger = new Uint8Array(Math.max(length, 2 * capacity, 64 * 1024));
  bigger.set(pending);
  bigger.set(more, pending.length);
  return bigger.subarray(0, length);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** A GET head for `path` on a keep-alive connection. */
export function getHead(path: string, extra: string[] = []): string {
  return [`GET ${path} HTTP/1.1`, "Host: t", ...extra, "", ""].join("\r\n");
}

/** True when `haystack` holds the bytes of `needle` (ASCII). */
export function containsAscii(haystack: Uint8Array, needle: string): boolean {
  const first = needle.charCodeAt(0);
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle.charCodeAt(j)) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * Measures a health request every `everyMs` on fresh connections until
 * `done` settles; returns the worst latency and how many did not answer
 * within `timeoutMs`.
 */
export async function watchHealth(
  port: number,
  path: string,
  done: Promise<unknown>,
  everyMs = 25,
  timeoutMs = 1000,
): Promise<{ worstMs: number; failures: number; checks: number }> {
  let finished = false;
  done.finally(() => finished = true);
  let worstMs = 0;
  let failures = 0;
  let checks = 0;
  while (!finished) {
    const started = performance.now();
    const ok = await getOnce(port, path, timeoutMs);
    const took = performance.now() - started;
    checks++;
    if (!ok) failures++;
    worstMs = Math.max(worstMs, took);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { worstMs, failures, checks };
}
