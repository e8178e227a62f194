/**
 * One client connection: read request heads, decide, write responses,
 * until the connection ends. All socket and file I/O of a request happens
 * here; every decision is delegated to the pure modules under `http/` and
 * `files/`.
 *
 * @module
 */

import { SERVER_NAME, type ServerConfig } from "./config.ts";
import { bodyFraming, ChunkedDecoder } from "./http/body.ts";
import {
  checkIncompleteHead,
  findHeadEnd,
  headerValue,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "./http/request.ts";
import {
  currentHttpDate,
  type ResponseHeaders,
  serializeResponseHead,
} from "./http/response.ts";
import {
  ALLOW_HEADER_VALUE,
  checkHost,
  classifyMethod,
  wantsKeepAlive,
} from "./http/semantics.ts";
import { formatHttpDate } from "./http/date.ts";
import {
  type ConditionalHeaders,
  evaluatePreconditions,
  ifRangeAllowsRange,
  type Validators,
} from "./http/conditional.ts";
import { makeBoundary, planMultipartByteranges } from "./http/multipart.ts";
import {
  contentRangeValue,
  parseRange,
  type RangeDecision,
  unsatisfiedRangeValue,
} from "./http/range.ts";
import { fileETag } from "./files/etag.ts";
import { builtInErrorPage } from "./files/error_page.ts";
import { lookupFile, statusForFsError } from "./files/lookup.ts";
import { contentTypeFor } from "./files/media_type.ts";
import { resolveTarget } from "./files/target.ts";

const encoder = new TextEncoder();
const HTML_TYPE = "text/html; charset=utf-8";
const NOT_FOUND_PAGE = "NotFound.html";
/** Files up to this size are read in one go and sent with their head. */
const SMALL_FILE_BYTES = 64 * 1024;
/** Chunk size for streaming larger files. */
const STREAM_CHUNK_BYTES = 256 * 1024;
/** Initial size of a connection's read buffer. */
const READ_BUFFER_BYTES = 16 * 1024;

/** Thrown to end a connection quietly (the peer went away, or must). */
class ConnectionClosed extends Error {}

/** What a connection is waiting for, which decides its timeout. */
type Phase = "idle" | "head" | "write";

/**
 * The shared state of all connections of one server: the set the timeout
 * sweeper walks, and the draining flag set by a graceful shutdown.
 */
export class ConnectionRegistry {
  readonly connections = new Set<Connection>();
  /** True once shutdown began: finish the current response, then close. */
  draining = false;

  /** Closes connections whose deadline has passed (see Connection). */
  sweep(now: number = Date.now()): void {
    for (const c of this.connections) {
      if (now >= c.deadline) c.expire();
    }
  }

  /** Starts draining: idle connections close now, busy ones after reply. */
  drain(): void {
    this.draining = true;
    for (const c of this.connections) {
      if (c.phase === "idle") c.close();
    }
  }

  /** Closes every connection at once. */
  closeAll(): void {
    for (const c of this.connections) c.close();
  }
}

/**
 * The state of one connection: its socket, the bytes read but not yet
 * consumed (`buffer[start..end]`), and the deadline of what it waits for.
 */
class Connection {
  buffer = new Uint8Array(READ_BUFFER_BYTES);
  start = 0;
  end = 0;
  /** Set once the peer has closed its side. */
  eof = false;
  closed = false;
  streamBuffer: Uint8Array | undefined;
  phase: Phase = "head";
  /** When the current wait times out (ms since the epoch). */
  deadline = Infinity;
  requestsServed = 0;
  /** When the bytes of the current request began to arrive. */
  requestStartedAt = Date.now();

  constructor(
    readonly conn: Deno.Conn,
    readonly config: ServerConfig,
    readonly registry: ConnectionRegistry,
  ) {}

  /** Reads more bytes into the buffer; returns false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.eof || this.closed) return false;
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    if (this.end === this.buffer.length) {
      if (this.start > 0) {
        this.buffer.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else {
        const bigger = new Uint8Array(this.buffer.length * 2);
        bigger.set(this.buffer.subarray(0, this.end));
        this.buffer = bigger;
      }
    }
    // Between requests the idle timeout applies; once a request has begun
    // (or for the first one) the header timeout: slowloris defence.
    if (this.end === this.start && this.requestsServed > 0) {
      this.phase = "idle";
      this.deadline = Date.now() + this.config.idleTimeoutMs;
    } else {
      this.phase = "head";
      this.deadline = this.requestStartedAt + this.config.headerTimeoutMs;
    }
    let n: number | null;
    try {
      n = await this.conn.read(this.buffer.subarray(this.end));
    } catch {
      n = null;
    }
    this.deadline = Infinity;
    if (n === null) {
      this.eof = true;
      return false;
    }
    if (this.phase === "idle") this.requestStartedAt = Date.now();
    this.end += n;
    return true;
  }

  /**
   * Writes all of `bytes`, waiting for the socket (backpressure). Each
   * write must make progress within the write timeout.
   */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    this.phase = "write";
    try {
      while (offset < bytes.length) {
        this.deadline = Date.now() + this.config.writeTimeoutMs;
        offset += await this.conn.write(bytes.subarray(offset));
      }
    } catch {
      throw new ConnectionClosed();
    } finally {
      this.deadline = Infinity;
    }
  }

  /**
   * Called by the sweeper when the deadline passed: a client that began a
   * request but did not finish its head in time gets 408; an idle one, or
   * one that stopped reading, is just closed.
   */
  expire(): void {
    if (this.closed) return;
    if (this.phase === "head" && this.end > this.start) {
      this.phase = "write";
      const bytes = encoder.encode(
        serializeResponseHead(408, [
          ["Date", currentHttpDate()],
          ["Server", SERVER_NAME],
          ["Connection", "close"],
          ["Content-Type", HTML_TYPE],
          ["Content-Length", String(builtInErrorPage(408).length)],
        ]),
      );
      const out = new Uint8Array(bytes.length + builtInErrorPage(408).length);
      out.set(bytes);
      out.set(builtInErrorPage(408), bytes.length);
      // Best effort: the handler is blocked in read, so writing is safe; a
      // client that does not take even this is closed anyway.
      this.deadline = Infinity;
      this.conn.write(out).catch(() => {}).finally(() => this.close());
      setTimeout(() => this.close(), 1000);
      return;
    }
    this.close();
  }

  /** Closes the socket once; pending reads and writes then fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline = Infinity;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** A request as seen by the responder. */
interface Exchange {
  head: RequestHead;
  /** True when the connection stays open after the response. */
  keepAlive: boolean;
  /** True for HEAD: send the head only. */
  headOnly: boolean;
}

/**
 * Serves one accepted connection until it closes. Never throws: every
 * failure ends in a response, a closed connection, or both.
 */
export async function handleConnection(
  conn: Deno.Conn,
  config: ServerConfig,
  registry: ConnectionRegistry,
): Promise<void> {
  const c = new Connection(conn, config, registry);
  registry.connections.add(c);
  try {
    while (await serveOneRequest(c)) {
      c.requestsServed++;
      if (registry.draining) break;
    }
  } catch (err) {
    if (!(err instanceof ConnectionClosed) && !c.closed) {
      console.error("pws: connection error:", err);
    }
  } finally {
    registry.connections.delete(c);
    c.close();
  }
}

/** Reads, answers and finishes one request. Returns true to continue. */
async function serveOneRequest(c: Connection): Promise<boolean> {
  const limits = c.config.headLimits;
  c.requestStartedAt = Date.now();
  // Read until a whole head is buffered.
  let scanned = c.start;
  let headEnd = -1;
  while (true) {
    c.start = skipEmptyLines(c.buffer, c.start, c.end);
    if (scanned < c.start) scanned = c.start;
    headEnd = findHeadEnd(c.buffer, c.start, c.end, scanned);
    if (headEnd >= 0) break;
    scanned = c.end;
    const tooBig = checkIncompleteHead(c.buffer, c.start, c.end, limits);
    if (tooBig) {
      await sendError(c, tooBig.status, undefined);
      return false;
    }
    if (!await c.fill()) {
      // A partial head cut off by the peer gets a 400; nothing at all is
      // simply the end of a keep-alive connection.
      if (c.end > c.start) await sendError(c, 400, undefined);
      return false;
    }
  }
  const parsed = parseRequestHead(c.buffer, c.start, headEnd, limits);
  c.start = headEnd;
  if (parsed.kind === "error") {
    await sendError(c, parsed.status, undefined);
    return false;
  }
  const head = parsed.head;
  const ex: Exchange = {
    head,
    keepAlive: wantsKeepAlive(head) && !c.registry.draining &&
      c.requestsServed + 1 < c.config.maxRequestsPerConnection,
    headOnly: head.method === "HEAD",
  };
  // Errors in framing end the connection: after them, where the next
  // request starts is unknowable.
  const refuse = async (status: number): Promise<boolean> => {
    ex.keepAlive = false;
    await sendError(c, status, ex);
    return false;
  };
  if (checkHost(head) !== undefined) return refuse(400);
  const framing = bodyFraming(head);
  if (framing.kind === "error") return refuse(framing.status);
  const expect = headerValue(head, "expect");
  if (expect !== undefined) {
    if (expect.toLowerCase() !== "100-continue") return refuse(417);
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
  await respond(c, ex);
  return ex.keepAlive;
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
 * answer (400 malformed, 413 too large), or -1 when the peer went away.
 */
async function discardChunkedBody(c: Connection): Promise<number> {
  const decoder = new ChunkedDecoder();
  while (true) {
    const progress = decoder.feed(c.buffer, c.start, c.end);
    c.start += progress.consumed;
    if (progress.error !== undefined) return 400;
    if (decoder.dataBytes > c.config.maxBodyBytes) return 413;
    if (progress.done) return 0;
    if (!await c.fill()) return -1;
  }
}

/** Chooses and writes the response to one well-formed request. */
async function respond(c: Connection, ex: Exchange): Promise<void> {
  const method = classifyMethod(ex.head.method);
  if (method === "not-implemented") {
    return sendError(c, 501, ex);
  }
  if (method === "not-allowed") {
    return sendError(c, 405, ex, [[
      "Allow",
      ALLOW_HEADER_VALUE,
    ]]);
  }
  const target = resolveTarget(ex.head.target);
  if (target.kind === "error") {
    return sendError(c, 400, ex);
  }
  if (ex.head.method === "OPTIONS") {
    return sendEmpty(c, ex, 200, [["Allow", ALLOW_HEADER_VALUE]]);
  }
  if (target.kind === "asterisk") {
    return sendError(c, 400, ex);
  }
  const found = lookupFile(c.config.rootReal, target);
  if (found.kind === "redirect") {
    return sendRedirect(c, ex, found.location);
  }
  if (found.kind === "error") {
    if (found.status === 500) {
      console.error("pws: lookup failed:", found.cause);
    }
    return sendError(c, found.status, ex);
  }
  await sendFile(c, ex, found.path, found.info);
}

/** The fields every response starts with. */
function baseHeaders(keepAlive: boolean, http10: boolean): ResponseHeaders {
  const headers: ResponseHeaders = [
    ["Date", currentHttpDate()],
    ["Server", SERVER_NAME],
  ];
  if (!keepAlive) headers.push(["Connection", "close"]);
  else if (http10) headers.push(["Connection", "keep-alive"]);
  return headers;
}

/** Writes a head, and a body unless the request was HEAD. */
async function sendHeadAndBody(
  c: Connection,
  status: number,
  headers: ResponseHeaders,
  body: Uint8Array,
  headOnly: boolean,
): Promise<void> {
  const head = encoder.encode(serializeResponseHead(status, headers));
  if (headOnly || body.length === 0) return c.write(head);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  await c.write(out);
}

/**
 * Sends an error status with its HTML page (the site's NotFound.html for
 * 404). Error responses never carry a file's validators.
 */
async function sendError(
  c: Connection,
  status: number,
  ex: Exchange | undefined,
  extra: ResponseHeaders = [],
): Promise<void> {
  const body = status === 404
    ? notFoundPage(c.config.rootReal)
    : builtInErrorPage(status);
  const headers = ex === undefined
    ? baseHeaders(false, false)
    : baseHeaders(ex.keepAlive, ex.head.versionMinor === 0);
  headers.push(
    ["Content-Type", HTML_TYPE],
    ["Content-Length", String(body.length)],
    ...extra,
  );
  await sendHeadAndBody(c, status, headers, body, ex?.headOnly ?? false);
}

/** The root's NotFound.html when it is a readable small file. */
function notFoundPage(rootReal: string): Uint8Array {
  try {
    const path = rootReal + "/" + NOT_FOUND_PAGE;
    const info = Deno.statSync(path);
    if (info.isFile && info.size <= 1024 * 1024) return Deno.readFileSync(path);
  } catch {
    // fall through to the built-in page
  }
  return builtInErrorPage(404);
}

async function sendEmpty(
  c: Connection,
  ex: Exchange,
  status: number,
  extra: ResponseHeaders,
): Promise<void> {
  const headers = baseHeaders(ex.keepAlive, ex.head.versionMinor === 0);
  headers.push(...extra, ["Content-Length", "0"]);
  await sendHeadAndBody(c, status, headers, new Uint8Array(0), true);
}

async function sendRedirect(
  c: Connection,
  ex: Exchange,
  location: string,
): Promise<void> {
  const body = builtInErrorPage(301);
  const headers = baseHeaders(ex.keepAlive, ex.head.versionMinor === 0);
  headers.push(
    ["Location", location],
    ["Content-Type", HTML_TYPE],
    ["Content-Length", String(body.length)],
  );
  await sendHeadAndBody(c, 301, headers, body, ex.headOnly);
}

/** The conditional request header fields of a request. */
function conditionalHeaders(head: RequestHead): ConditionalHeaders {
  return {
    ifMatch: headerValue(head, "if-match"),
    ifNoneMatch: headerValue(head, "if-none-match"),
    ifModifiedSince: headerValue(head, "if-modified-since"),
    ifUnmodifiedSince: headerValue(head, "if-unmodified-since"),
  };
}

/**
 * Decides whether a GET is answered with part of the file: only when a
 * Range header is present and an If-Range, if any, still matches
 * (RFC 9110 §14.2, §13.1.5). Other methods ignore Range.
 */
function rangeDecision(
  head: RequestHead,
  size: number,
  validators: Validators,
): RangeDecision {
  if (head.method !== "GET") return FULL;
  const range = headerValue(head, "range");
  if (range === undefined) return FULL;
  const ifRange = headerValue(head, "if-range");
  if (ifRange !== undefined && !ifRangeAllowsRange(ifRange, validators)) {
    return FULL;
  }
  return parseRange(range, size);
}

const FULL: RangeDecision = { kind: "full" };

/**
 * Sends a regular file. The file is opened first and its headers describe
 * what was opened (fstat), so a file replaced after lookup is still
 * described truthfully. Preconditions are evaluated before ranges
 * (RFC 9110 §13.2.2). Small files go out in one write with their head;
 * larger ones and ranges stream through one reused buffer.
 */
async function sendFile(
  c: Connection,
  ex: Exchange,
  path: string,
  lookedUp: Deno.FileInfo,
): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = lookedUp.size <= SMALL_FILE_BYTES
      ? Deno.openSync(path)
      : await Deno.open(path);
  } catch (err) {
    return sendError(c, statusForFsError(err), ex);
  }
  try {
    const info = file.statSync();
    if (!info.isFile) return await sendError(c, 404, ex);
    const size = info.size;
    const mtimeMs = info.mtime?.getTime();
    const lastModifiedMs = mtimeMs === undefined
      ? undefined
      : Math.min(mtimeMs, Date.now());
    const validators: Validators = {
      etag: fileETag({
        size,
        mtimeMs: mtimeMs ?? 0,
        ctimeMs: info.ctime?.getTime() ?? 0,
        ino: info.ino,
      }),
      lastModifiedMs,
    };
    const validatorHeaders: ResponseHeaders = [["ETag", validators.etag!]];
    if (lastModifiedMs !== undefined) {
      validatorHeaders.push(["Last-Modified", formatHttpDate(lastModifiedMs)]);
    }
    validatorHeaders.push(["Cache-Control", c.config.cacheControl]);

    const outcome = evaluatePreconditions(
      ex.head.method,
      conditionalHeaders(ex.head),
      validators,
    );
    if (outcome === "precondition-failed") return await sendError(c, 412, ex);
    if (outcome === "not-modified") {
      const headers = baseHeaders(ex.keepAlive, ex.head.versionMinor === 0);
      headers.push(...validatorHeaders);
      return await c.write(encoder.encode(serializeResponseHead(304, headers)));
    }

    const contentType = contentTypeFor(path);
    const decision = rangeDecision(ex.head, size, validators);
    if (decision.kind === "unsatisfiable") {
      return await sendError(c, 416, ex, [[
        "Content-Range",
        unsatisfiedRangeValue(size),
      ]]);
    }
    const headers = baseHeaders(ex.keepAlive, ex.head.versionMinor === 0);
    if (decision.kind === "partial" && decision.ranges.length === 1) {
      const range = decision.ranges[0];
      headers.push(
        ["Content-Type", contentType],
        ["Content-Length", String(range.end - range.start + 1)],
        ["Content-Range", contentRangeValue(range, size)],
        ["Accept-Ranges", "bytes"],
        ...validatorHeaders,
      );
      await c.write(encoder.encode(serializeResponseHead(206, headers)));
      return await streamRange(
        c,
        file,
        range.start,
        range.end - range.start + 1,
      );
    }
    if (decision.kind === "partial") {
      const plan = planMultipartByteranges(
        decision.ranges,
        size,
        contentType,
        makeBoundary(),
      );
      headers.push(
        ["Content-Type", plan.contentType],
        ["Content-Length", String(plan.contentLength)],
        ["Accept-Ranges", "bytes"],
        ...validatorHeaders,
      );
      await c.write(encoder.encode(serializeResponseHead(206, headers)));
      for (const part of plan.parts) {
        await c.write(part.head);
        await streamRange(
          c,
          file,
          part.range.start,
          part.range.end - part.range.start + 1,
        );
      }
      return await c.write(plan.tail);
    }

    headers.push(
      ["Content-Type", contentType],
      ["Content-Length", String(size)],
      ["Accept-Ranges", "bytes"],
      ...validatorHeaders,
    );
    const head = encoder.encode(serializeResponseHead(200, headers));
    if (ex.headOnly || size === 0) return await c.write(head);
    if (size <= SMALL_FILE_BYTES) {
      return await sendWithHead(c, head, file, size);
    }
    await c.write(head);
    await streamRange(c, file, 0, size);
  } finally {
    file.close();
  }
}

/** Sends a small file's head and whole body in a single write. */
async function sendWithHead(
  c: Connection,
  head: Uint8Array,
  file: Deno.FsFile,
  size: number,
): Promise<void> {
  const out = new Uint8Array(head.length + size);
  out.set(head);
  let filled = head.length;
  while (filled < out.length) {
    const n = file.readSync(out.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  await c.write(out.subarray(0, filled));
  // A file that shrank under us cannot honour its Content-Length.
  if (filled < out.length) throw new ConnectionClosed();
}

/**
 * Copies `length` bytes of `file` from `start` to the connection. If the
 * file ends early the connection is closed: sending fewer bytes than
 * Content-Length promised is the only honest signal left.
 */
async function streamRange(
  c: Connection,
  file: Deno.FsFile,
  start: number,
  length: number,
): Promise<void> {
  if (start > 0) await file.seek(start, Deno.SeekMode.Start);
  c.streamBuffer ??= new Uint8Array(STREAM_CHUNK_BYTES);
  const buf = c.streamBuffer;
  let remaining = length;
  while (remaining > 0) {
    const n = await file.read(buf.subarray(0, Math.min(buf.length, remaining)));
    if (n === null || n === 0) throw new ConnectionClosed();
    await c.write(buf.subarray(0, n));
    remaining -= n;
  }
}
