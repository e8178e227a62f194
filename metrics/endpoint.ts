/**
 * The `--metrics` listener: its own small HTTP/1.1 service, apart from the
 * site's port, answering `GET /metrics` (the Prometheus text format) and
 * `GET /health` (200 `ok` while serving, 503 `draining` during a graceful
 * shutdown); everything else is a 404. It never serves files.
 *
 * It faces the same clients as the site, so everything is bounded: a few
 * connections at once (more are closed at once), one request each, a head
 * of at most 4 KiB parsed by pws's own parser, and five seconds for the
 * whole exchange, after which the connection is closed whatever it is
 * doing.
 *
 * @module
 */

import {
  checkIncompleteHead,
  findHeadEnd,
  type HeadLimits,
  type HeadParseResult,
  parseRequestHead,
  skipEmptyLines,
} from "../http/request.ts";
import { serializeResponseHead } from "../http/response.ts";
import { SERVER_NAME } from "../server/config.ts";
import { openListener, StartupError } from "../server/listeners.ts";
import { formatUrl } from "../server/server.ts";
import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";

/** Connections served at once; more are closed without an answer. */
export const MAX_METRICS_CONNECTIONS = 8;

/** Time for one whole exchange (head in, answer out), then the close. */
export const METRICS_EXCHANGE_TIMEOUT_MS = 5000;

/** Limits of a request head: scrapers send a few short lines. */
export const METRICS_HEAD_LIMITS: HeadLimits = {
  maxRequestLineBytes: 1024,
  maxHeadBytes: 4096,
  maxHeaderCount: 32,
};

/** An answer of the metrics listener. */
export interface MetricsAnswer {
  status: number;
  contentType: string;
  body: string;
  /** Send the head only (a HEAD request). */
  headOnly: boolean;
  /** The `Allow` field of a 405. */
  allow?: string;
}

const TEXT = "text/plain; charset=utf-8";

/**
 * What to answer to a parsed head (pure): `/metrics` and `/health` for GET
 * and HEAD, 405 for other methods there, 404 elsewhere, the parser's
 * status for a malformed head. A query string is ignored.
 */
export function metricsAnswer(
  parsed: HeadParseResult,
  draining: boolean,
  page: () => string,
): MetricsAnswer {
  if (parsed.kind === "error") {
    return {
      status: parsed.status,
      contentType: TEXT,
      body: `${parsed.reason}\n`,
      headOnly: false,
    };
  }
  const { method, target } = parsed.head;
  const query = target.indexOf("?");
  const path = query < 0 ? target : target.slice(0, query);
  if (path !== "/metrics" && path !== "/health") {
    return {
      status: 404,
      contentType: TEXT,
      body: "Not found: try /metrics or /health\n",
      headOnly: false,
    };
  }
  if (method !== "GET" && method !== "HEAD") {
    return {
      status: 405,
      contentType: TEXT,
      body: "Method not allowed\n",
      headOnly: false,
      allow: "GET, HEAD",
    };
  }
  const headOnly = method === "HEAD";
  if (path === "/health") {
    return draining
      ? { status: 503, contentType: TEXT, body: "draining\n", headOnly }
      : { status: 200, contentType: TEXT, body: "ok\n", headOnly };
  }
  return {
    status: 200,
    contentType: EXPOSITION_CONTENT_TYPE,
    body: page(),
    headOnly,
  };
}

/** The bytes of an answer: head, and the body unless `headOnly`. */
export function encodeAnswer(answer: MetricsAnswer): Uint8Array {
  const body = new TextEncoder().encode(answer.body);
  const fields: [string, string][] = [
    ["Server", SERVER_NAME],
    ["Content-Type", answer.contentType],
    ["Content-Length", String(body.length)],
    ["Cache-Control", "no-store"],
    ["Connection", "close"],
  ];
  if (answer.allow !== undefined) fields.push(["Allow", answer.allow]);
  const head = new TextEncoder().encode(
    serializeResponseHead(answer.status, fields),
  );
  if (answer.headOnly) return head;
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

/** What {@linkcode startMetricsEndpoint} needs. */
export interface MetricsEndpointOptions {
  hostname: string;
  port: number;
  /** Makes the `/metrics` page, at each scrape. */
  page: () => string;
  /** Time for one exchange (default {@linkcode METRICS_EXCHANGE_TIMEOUT_MS}). */
  exchangeTimeoutMs?: number;
}

/** A running metrics listener. */
export interface MetricsEndpoint {
  /** The address and port bound. */
  hostname: string;
  port: number;
  /** `http://host:port/metrics`. */
  url: string;
  /** From now on `/health` answers 503 (a graceful shutdown began). */
  setDraining(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Reads one request head within the limits; returns the parse result, or
 * undefined when the peer went away before sending a whole one.
 */
async function readHead(
  conn: Deno.Conn,
): Promise<HeadParseResult | undefined> {
  const limits = METRICS_HEAD_LIMITS;
  // One byte more than a head may hold, so that a full buffer is too much.
  const buf = new Uint8Array(limits.maxHeadBytes + 1);
  let end = 0;
  let scanned = 0;
  while (true) {
    const n = await conn.read(buf.subarray(end));
    if (n === null) return undefined;
    end += n;
    const start = skipEmptyLines(buf, 0, end);
    const headEnd = findHeadEnd(buf, start, end, Math.max(start, scanned));
    if (headEnd >= 0) return parseRequestHead(buf, start, headEnd, limits);
    scanned = end;
    const tooBig = start < end
      ? checkIncompleteHead(buf, start, end, limits)
      : undefined;
    if (tooBig !== undefined) return tooBig;
    if (end === buf.length) {
      return { kind: "error", status: 431, reason: "Header section too large" };
    }
  }
}

/** Answers one connection's request and closes it, within the timeout. */
async function serveConnection(
  conn: Deno.Conn,
  draining: () => boolean,
  page: () => string,
  timeoutMs: number,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    const parsed = await readHead(conn);
    if (parsed === undefined) return;
    const bytes = encodeAnswer(metricsAnswer(parsed, draining(), page));
    let offset = 0;
    while (offset < bytes.length) {
      offset += await conn.write(bytes.subarray(offset));
    }
  } catch {
    // the peer went away, or the timeout closed the connection
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/**
 * Listens on `hostname:port` for scrapes and health checks. Throws a
 * StartupError (from `server/listeners.ts`) when the port cannot be bound.
 */
export function startMetricsEndpoint(
  options: MetricsEndpointOptions,
): MetricsEndpoint {
  let listener: Deno.Listener;
  try {
    listener = openListener({
      hostname: options.hostname,
      port: options.port,
      reusePort: false,
    });
  } catch (err) {
    // Say which listener: the site's own port is already bound.
    if (err instanceof StartupError) {
      throw new StartupError(`--metrics: ${err.message}`);
    }
    throw err;
  }
  const addr = listener.addr as Deno.NetAddr;
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let draining = false;
  const isDraining = () => draining;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        if (open.size >= MAX_METRICS_CONNECTIONS) {
          closeQuietly(conn);
          continue;
        }
        open.add(conn);
        const task = serveConnection(
          conn,
          isDraining,
          options.page,
          options.exchangeTimeoutMs ?? METRICS_EXCHANGE_TIMEOUT_MS,
        ).finally(
          () => {
            open.delete(conn);
            tasks.delete(task);
          },
        );
        tasks.add(task);
      }
    } catch {
      // the listener was closed
    }
  })();
  const url = formatUrl(addr.hostname, addr.port) + "metrics";
  return {
    hostname: addr.hostname,
    port: addr.port,
    url,
    setDraining() {
      draining = true;
    },
    async close() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await loop;
      for (const conn of open) closeQuietly(conn);
      await Promise.allSettled([...tasks]);
    },
  };
}
