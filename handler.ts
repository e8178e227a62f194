/**
 * One client connection: read request heads, decide, write responses,
 * until the connection ends. The request path reads as one list in
 * {@linkcode respond}: password (`--auth`) → method → target → OPTIONS/CORS
 * → lookup (dotfiles, clean URLs) → the site's `_redirects` → SPA fallback
 * → redirect, listing, error or file (with the site's `_headers`). Decisions are delegated to the pure modules under `http/`,
 * `files/` and `auth/`.
 *
 * @module
 */

import { sendFound } from "./response/found.ts";
import {
  Connection,
  ConnectionClosed,
  type Exchange,
  type ServerContext,
} from "./http1/connection.ts";
import type { RequestHead } from "./http/request.ts";
import { bodyFraming, ChunkedDecoder } from "./http/body.ts";
import {
  checkIncompleteHead,
  findHeadEnd,
  headerValue,
  headerValues,
  parseRequestHead,
  skipEmptyLines,
} from "./http/request.ts";
import {
  ALLOW_HEADER_VALUE,
  checkHost,
  classifyMethod,
  corsPreflightHeaders,
  isCorsPreflight,
  isExpectContinue,
  isSpaNavigation,
  wantsKeepAlive,
} from "./http/semantics.ts";
import { lookupFile } from "./files/lookup.ts";
import { resolveTarget } from "./files/target.ts";
import {
  emptyReply,
  errorReply,
  httpsRedirectReply,
  redirectReply,
} from "./response/respond.ts";
import type { ReplySink } from "./response/reply.ts";
import { Http1Sink, writeReady } from "./http1/writer.ts";
import type { ReadyResponse } from "./files/cache.ts";
import type { ReplayEntry } from "./http1/replay.ts";
import { currentHttpSecond } from "./http/response.ts";
import { authenticatorFor, refusalReply } from "./auth/authenticator.ts";
import { serveHttp2 } from "./http2/session.ts";
import { answerRule, fileExists, isRulesFile } from "./rules/route.ts";
import { RuleFieldsSink } from "./rules/sink.ts";
import { isForeignRequestLine, matchPreface } from "./http2/preface.ts";
import { isLivePath, liveReply } from "./live/routes.ts";
import { HTTP10, HTTP11 } from "./metrics/counters.ts";
import { isTrustedPeer, requestAddress } from "./http/forwarded.ts";

/** Who sent the current request: the address, and the user once known. */
interface RequestClient {
  /** The peer's address, as the kernel reports it. */
  readonly remote: string;
  /** The peer is a trusted proxy (`--trust-proxy`). */
  readonly peerTrusted: boolean;
  /** The user its credentials passed as (`--auth`), for the log. */
  user: string | undefined;
}

/**
 * Serves one accepted connection until it closes. Never throws: every
 * failure ends in a response, a closed connection, or both.
 */
export async function handleConnection(
  conn: Deno.Conn,
  ctx: ServerContext,
  secure = false,
): Promise<void> {
  const c = new Connection(conn, ctx, secure);
  const registry = ctx.registry;
  registry.connections.add(c);
  // A Unix-socket peer has no address: "unix:", as nginx logs it.
  const remote = conn.remoteAddr.transport === "unix"
    ? "unix:"
    : (conn.remoteAddr as Deno.NetAddr).hostname ?? "-";
  const client: RequestClient = {
    remote,
    peerTrusted: isTrustedPeer(remote, ctx.config.trustProxy),
    user: undefined,
  };
  let ex: Exchange | undefined;
  try {
    // The handshake counts against the header timeout, like the head.
    let alpn: string | null = null;
    if (secure) {
      const chosen = await c.handshake(client.remote);
      if (chosen === undefined) return;
      alpn = chosen;
    }
    // HTTP/2 when ALPN chose it, or when a connection that negotiated
    // nothing opens with its preface (prior knowledge, RFC 9113 §3.3).
    if (
      c.config.http2 &&
      (alpn === "h2" || (alpn === null && await opensWithPreface(c)))
    ) {
      return await serveHttp2(
        c,
        client.remote,
        (head, sink, streamClient) => respond(c.ctx, head, sink, streamClient),
      );
    }
    while (true) {
      ex = undefined;
      c.status = 0;
      c.bytesSent = 0;
      c.headBytes = 0;
      client.user = undefined;
      const more = await serveOneRequest(c, client, (e) => ex = e);
      logRequest(c, ex, client);
      if (!more) break;
      c.requestsServed++;
      if (registry.draining) break;
    }
  } catch (err) {
    if (!(err instanceof ConnectionClosed) && !c.closed) {
      console.error("pws: connection error:", err);
      // Nothing sent yet: the client still deserves an answer.
      if (c.status === 0) {
        await sendErrorAndClose(c, 500).catch(() => {});
      }
    }
    logRequest(c, ex, client);
  } finally {
    registry.connections.delete(c);
    c.closeGracefully();
    // Every read and write has settled: the buffers can serve others.
    c.releaseBuffers();
  }
}

/**
 * Reads until the buffered bytes either differ from the HTTP/2 client
 * preface or hold all of it. HTTP/1.1 requests differ by the second byte
 * at the latest (`PUT`, `POST`) and stay buffered for the HTTP/1.1 loop.
 */
async function opensWithPreface(c: Connection): Promise<boolean> {
  while (true) {
    const match = matchPreface(c.buffer, c.start, c.end);
    if (match !== "maybe") return match === "yes";
    if (!await c.fill()) return false;
  }
}

/** Records a finished request in the access log and metrics, if kept. */
function logRequest(
  c: Connection,
  ex: Exchange | undefined,
  client: RequestClient,
): void {
  // A head that could not be read is counted as HTTP/1.1, method OTHER.
  c.ctx.metrics?.requestDone(
    ex?.head.method ?? "-",
    ex?.head.versionMinor === 0 ? HTTP10 : HTTP11,
    c.status,
    c.bytesSent,
    Date.now() - c.requestStartedAt,
  );
  const log = c.ctx.accessLog;
  if (log === undefined || (c.status === 0 && ex === undefined)) {
    c.status = 0;
    return;
  }
  log.record({
    time: c.requestStartedAt,
    remote: requestAddress(
      ex?.head,
      c.config.trustProxy,
      client.remote,
      client.peerTrusted,
    ),
    user: client.user,
    method: ex?.head.method ?? "-",
    target: ex?.head.target ?? "-",
    protocol: ex === undefined ? "-" : `HTTP/1.${ex.head.versionMinor}`,
    status: c.status,
    bytes: c.bytesSent,
    bodyBytes: Math.max(0, c.bytesSent - c.headBytes),
    referer: ex === undefined ? undefined : headerValue(ex.head, "referer"),
    userAgent: ex === undefined
      ? undefined
      : headerValue(ex.head, "user-agent"),
    durationMs: Date.now() - c.requestStartedAt,
  });
  c.status = 0;
}

/** Reads, answers and finishes one request. Returns true to continue. */
async function serveOneRequest(
  c: Connection,
  client: RequestClient,
  onExchange: (ex: Exchange) => void,
): Promise<boolean> {
  const limits = c.config.headLimits;
  c.requestStartedAt = Date.now();
  c.awaitingRequest = c.end === c.start;
  // Read until a whole head is buffered. `scanned` counts bytes after
  // `start` already searched: fill() may move the bytes, never reorder them.
  let scanned = 0;
  let headEnd = -1;
  while (true) {
    const before = c.start;
    c.start = skipEmptyLines(c.buffer, c.start, c.end);
    scanned = Math.max(0, scanned - (c.start - before));
    headEnd = findHeadEnd(c.buffer, c.start, c.end, c.start + scanned);
    if (headEnd >= 0) break;
    scanned = c.end - c.start;
    const tooBig = c.end > c.start
      ? checkIncompleteHead(c.buffer, c.start, c.end, limits)
      : undefined;
    if (tooBig) {
      await sendErrorAndClose(c, tooBig.status);
      return false;
    }
    if (!await c.fill()) {
      // A partial head cut off by the peer gets a 400; nothing at all is
      // simply the end of a keep-alive connection.
      if (c.end > c.start) await sendErrorAndClose(c, 400);
      return false;
    }
  }
  const headStart = c.start;
  const replay = c.ctx.replay.find(c.buffer, headStart, headEnd);
  if (replay !== undefined) {
    const keepAlive = replay.askedKeepAlive && canKeepAlive(c);
    const ready = keepAlive === replay.keepAlive
      ? replayReady(c, replay)
      : undefined;
    if (ready !== undefined) {
      c.start = headEnd;
      // The head is byte for byte one that authenticated (credentials
      // included), so it authenticates again.
      client.user = replay.user;
      onExchange({
        head: replay.head,
        keepAlive,
        headOnly: replay.head.method === "HEAD",
      });
      c.ctx.replay.hits++;
      await writeReady(c, ready);
      c.releaseStreamBuffer();
      return keepAlive;
    }
  }
  const parsed = parseRequestHead(c.buffer, headStart, headEnd, limits);
  c.start = headEnd;
  if (parsed.kind === "error") {
    if (
      c.requestsServed === 0 && c.config.http2 &&
      isForeignRequestLine(c.buffer, headStart, headEnd)
    ) {
      // Not HTTP/1 at all where an HTTP/2 preface was due: neither
      // protocol's answer would be understood, so the connection just ends.
      return false;
    }
    await sendErrorAndClose(c, parsed.status);
    return false;
  }
  const head = parsed.head;
  const askedKeepAlive = wantsKeepAlive(head);
  const ex: Exchange = {
    head,
    keepAlive: askedKeepAlive && canKeepAlive(c),
    headOnly: head.method === "HEAD",
  };
  onExchange(ex);
  // Errors in framing end the connection: after them, where the next
  // request starts is unknowable.
  const refuse = async (status: number): Promise<boolean> => {
    ex.keepAlive = false;
    await new Http1Sink(c, ex).send(errorReply(c.ctx, status));
    return false;
  };
  if (checkHost(head) !== undefined) return refuse(400);
  const framing = bodyFraming(head);
  if (framing.kind === "error") return refuse(framing.status);
  const expect = headerValue(head, "expect");
  if (expect !== undefined) {
    if (!isExpectContinue(expect)) return refuse(417);
    // The client waits for permission to send its body: answer without
    // it, and close rather than guess whether it will follow.
    if (framing.kind !== "none") ex.keepAlive = false;
  } else if (framing.kind === "length") {
    if (framing.length > c.config.maxBodyBytes) return refuse(413);
    if (!await discardBody(c, framing.length)) return false;
  } else if (framing.kind === "chunked") {
    const status = await discardChunkedBody(c);
    if (status > 0) return refuse(status);
    if (status < 0) return false;
  }
  await respond(c.ctx, head, new Http1Sink(c, ex), client);
  c.releaseStreamBuffer();
  if (ex.ready !== undefined && framing.kind === "none") {
    // No body was read, so the head's bytes are still where they were.
    c.ctx.replay.add(c.buffer, headStart, headEnd, {
      head,
      askedKeepAlive,
      keepAlive: ex.keepAlive,
      path: ex.ready.path,
      readyIndex: ex.ready.index,
      status: c.status,
      user: client.user,
    });
  }
  return ex.keepAlive;
}

/** Answers a request that could not be parsed with an error, and closes. */
function sendErrorAndClose(c: Connection, status: number): Promise<void> {
  return new Http1Sink(c, undefined).send(errorReply(c.ctx, status));
}

/** True when the connection may stay open after the current response. */
function canKeepAlive(c: Connection): boolean {
  return !c.ctx.registry.draining &&
    c.requestsServed + 1 < c.config.maxRequestsPerConnection;
}

/**
 * The ready response that answered `entry`'s head before, if it still
 * holds: the file unchanged since (one stat) and the same second (Date).
 */
function replayReady(
  c: Connection,
  entry: ReplayEntry,
): ReadyResponse | undefined {
  let info: Deno.FileInfo;
  try {
    info = c.ctx.stats.stat(entry.path);
  } catch {
    return undefined; // the normal path will say why
  }
  const ready = c.ctx.fileCache.getIfUnchanged(entry.path, info)
    ?.ready?.[entry.readyIndex];
  return ready !== undefined && ready.second === currentHttpSecond()
    ? ready
    : undefined;
}

/** Consumes and drops `length` body bytes; false if the peer went away. */
async function discardBody(c: Connection, length: number): Promise<boolean> {
  let remaining = length;
  while (true) {
    const take = Math.min(remaining, c.end - c.start);
    c.start += take;
    remaining -= take;
    if (remaining === 0) return true;
    if (!await c.fill()) return false;
  }
}

/**
 * Consumes and drops a chunked body. Returns 0 when done, a status to
 * answer (400 malformed, 413 too large: every byte read counts, framing
 * included), or -1 when the peer went away.
 */
async function discardChunkedBody(c: Connection): Promise<number> {
  const decoder = new ChunkedDecoder();
  while (true) {
    const progress = decoder.feed(c.buffer, c.start, c.end);
    c.start += progress.consumed;
    if (progress.error !== undefined) return 400;
    if (decoder.bytesRead > c.config.maxBodyBytes) return 413;
    if (progress.done) return 0;
    if (!await c.fill()) return -1;
  }
}

/**
 * Chooses and sends the reply to one well-formed request, whatever the
 * protocol (`sink` writes it). The steps, in order: credentials (with
 * `--auth`: before anything that depends on the method, the path or the
 * files, so that a client without them learns nothing; CORS preflights
 * excepted), method, target, OPTIONS (with CORS preflight), file lookup,
 * the site's `_redirects` (which see whether a file exists), the SPA
 * fallback, then redirect, listing, error or file. The site's `_headers`
 * fields for the requested path go on whatever is answered.
 */
async function respond(
  ctx: ServerContext,
  head: RequestHead,
  sink: ReplySink,
  client: RequestClient,
): Promise<void> {
  const config = ctx.config;
  if (config.redirectToHttpsPort !== undefined) {
    return sink.send(httpsRedirectReply(ctx, head, config.redirectToHttpsPort));
  }
  if (
    config.auth !== undefined && !(config.cors && isCorsPreflight(head))
  ) {
    const checked = authenticatorFor(config.auth).check(
      headerValues(head, "authorization"),
      // Behind a trusted proxy, each client has its own limit.
      requestAddress(
        head,
        config.trustProxy,
        client.remote,
        client.peerTrusted,
      ),
    );
    const verdict = checked instanceof Promise ? await checked : checked;
    if (verdict.kind !== "ok") return sink.send(refusalReply(ctx, verdict));
    client.user = verdict.user;
  }
  const method = classifyMethod(head.method);
  if (method === "not-implemented") return sink.send(errorReply(ctx, 501));
  if (method === "not-allowed") return sink.send(errorReply(ctx, 405));
  const target = resolveTarget(head.target);
  if (target.kind === "error") return sink.send(errorReply(ctx, 400));
  if (head.method === "OPTIONS") {
    const preflight = config.cors ? corsPreflightHeaders(head) : undefined;
    if (preflight !== undefined) {
      return sink.send(emptyReply(ctx, 204, preflight));
    }
    return sink.send(emptyReply(ctx, 200, [["Allow", ALLOW_HEADER_VALUE]]));
  }
  if (target.kind === "asterisk") return sink.send(errorReply(ctx, 400));
  if (ctx.live !== undefined && isLivePath(target.segments)) {
    const path = "/" + target.segments.join("/");
    return sink.send(liveReply(ctx, ctx.live, head, path, sink.canStream));
  }
  // The rules files are not files of the site, with rules or without.
  if (isRulesFile(target.segments)) return sink.send(errorReply(ctx, 404));

  const cache = ctx.fileCache;
  let found = lookupFile(
    config.rootReal,
    target,
    config.lookup,
    cache,
    ctx.stats,
  );
  const rules = ctx.siteRules?.current;
  if (rules !== undefined) {
    const fields = rules.fieldsFor(target);
    if (fields !== undefined) sink = new RuleFieldsSink(sink, fields);
    const decision = rules.redirectFor(
      target,
      () => fileExists(ctx, target, found),
    );
    if (decision !== undefined) {
      return answerRule(ctx, head, sink, decision);
    }
  }
  let fallback = false;
  if (
    found.kind === "error" && found.status === 404 && config.spa &&
    isSpaNavigation(target.segments, headerValue(head, "accept"))
  ) {
    fallback = true;
    found = lookupFile(
      config.rootReal,
      { kind: "path", segments: [], trailingSlash: true, query: "" },
      config.lookup,
      cache,
      ctx.stats,
    );
  }
  return sendFound(ctx, head, sink, found, target.segments, {
    // A fallback's answer also rests on another file being absent.
    replayable: found.kind === "file" && found.direct && !fallback,
    redirect: (location) => redirectReply(ctx, location),
  });
}
