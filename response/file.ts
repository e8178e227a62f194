/**
 * Responding with a file or a directory listing: choose the
 * representation (identity, a precompressed sidecar, or compressed on the
 * fly), evaluate preconditions against it, apply ranges, and stream the
 * bytes with bounded memory.
 *
 * @module
 */

import { ConnectionClosed, STREAM_BUFFER_BYTES } from "../http1/connection.ts";
import type { Connection, Exchange } from "../http1/connection.ts";
import {
  type ConditionalHeaders,
  evaluatePreconditions,
  ifRangeAllowsRange,
  type Validators,
} from "../http/conditional.ts";
import { formatHttpDate } from "../http/date.ts";
import { makeBoundary, planMultipartByteranges } from "../http/multipart.ts";
import {
  contentRangeValue,
  parseRange,
  type RangeDecision,
  unsatisfiedRangeValue,
} from "../http/range.ts";
import { headerValue, type RequestHead } from "../http/request.ts";
import type { ResponseHeaders } from "../http/response.ts";
import {
  chooseRepresentation,
  compressBytes,
  MAX_BUFFERED_COMPRESS_BYTES,
  type RepresentationChoice,
  SIDECAR_CODINGS,
} from "../files/compress.ts";
import { compressionPool } from "../files/compress_pool.ts";
import { contentDigest, contentETag, fileETag } from "../files/etag.ts";
import {
  type CachedFile,
  type FileStamp,
  isSettled,
  stampOf,
} from "../files/cache.ts";
import {
  type ListingEntry,
  renderListingHtml,
  renderListingJson,
  sortListing,
  wantsJson,
} from "../files/listing.ts";
import { isInsideRoot, isServable, statusForFsError } from "../files/lookup.ts";
import { contentTypeFor, isCompressible } from "../files/media_type.ts";
import { baseHeaders, HTML_TYPE, sendError, sendGenerated } from "./respond.ts";
import { currentHttpSecond } from "../http/response.ts";

/** Files up to this size are read in one go and sent with their head. */
const SMALL_FILE_BYTES = 64 * 1024;
/** Chunk size fed to a streaming compressor. */
const COMPRESS_CHUNK_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/** The conditional request header fields of a request. */
function conditionalHeaders(head: RequestHead): ConditionalHeaders {
  return {
    ifMatch: headerValue(head, "if-match"),
    ifNoneMatch: headerValue(head, "if-none-match"),
    ifModifiedSince: headerValue(head, "if-modified-since"),
    ifUnmodifiedSince: headerValue(head, "if-unmodified-since"),
  };
}

const FULL: RangeDecision = { kind: "full" };

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

/**
 * Validators of a file's contents: a strong tag and its mtime. The tag
 * comes from metadata, or from the content digest when the file was read
 * while not settled (see {@linkcode isSettled}).
 */
function validatorsOf(opened: Opened, variant?: string): Validators {
  const { stamp } = opened;
  return {
    etag: opened.digest !== undefined
      ? contentETag(opened.digest, variant)
      : fileETag({
        size: stamp.size,
        mtimeMs: stamp.mtimeMs ?? 0,
        ctimeMs: stamp.ctimeMs ?? 0,
        ino: stamp.ino,
      }, variant),
    lastModifiedMs: lastModifiedOf(stamp),
  };
}

/** The Last-Modified time: the mtime, never later than now (the Date). */
function lastModifiedOf(stamp: FileStamp): number | undefined {
  return stamp.mtimeMs === null
    ? undefined
    : Math.min(stamp.mtimeMs, Date.now());
}

/** How long a cached list of sidecar files is trusted. */
const SIDECAR_RECHECK_MS = 1000;

/** Codings of the sidecar files beside `path` that stay inside the root. */
function findSidecars(rootReal: string, path: string): string[] {
  const found: string[] = [];
  for (const { coding, suffix } of SIDECAR_CODINGS) {
    try {
      if (
        Deno.statSync(path + suffix).isFile &&
        isInsideRoot(rootReal, Deno.realPathSync(path + suffix))
      ) {
        found.push(coding);
      }
    } catch {
      // no such sidecar
    }
  }
  return found;
}

/** Sidecars of a file, remembered for a second. */
function sidecarsOf(c: Connection, path: string): string[] {
  const cache = c.ctx.fileCache;
  const seen = cache.sidecarsSeen(path);
  const now = Date.now();
  if (seen !== undefined && now - seen.checkedAt < SIDECAR_RECHECK_MS) {
    return seen.codings;
  }
  const codings = findSidecars(c.config.rootReal, path);
  cache.rememberSidecars(path, { codings, checkedAt: now });
  return codings;
}

function suffixOf(coding: string): string {
  return SIDECAR_CODINGS.find((s) => s.coding === coding)!.suffix;
}

/** Where a representation's bytes come from. */
type Body =
  | { kind: "memory"; bytes: Uint8Array }
  | { kind: "file"; file: Deno.FsFile; path: string };

/** A file ready to send: what `stat` says of it and its bytes. */
interface Opened {
  stamp: FileStamp;
  body: Body;
  /** The cache entry, when the file is held in memory. */
  entry?: CachedFile;
  /** Content digest, for a file read whole before it settled. */
  digest?: string;
}

/**
 * The cached copy of a file, while `statInfo` still matches it (`known`
 * is the entry the lookup already found, saving a second check).
 */
function openCached(
  c: Connection,
  path: string,
  statInfo: Deno.FileInfo,
  known?: CachedFile,
): Opened | undefined {
  const hit = known ?? c.ctx.fileCache.get(path, stampOf(statInfo));
  if (hit === undefined) return undefined;
  return {
    stamp: hit.stamp,
    body: { kind: "memory", bytes: hit.body },
    entry: hit,
  };
}

/**
 * Opens a file from disk, or borrows an open handle of it from the pool
 * while `statInfo` (the lookup's stat) shows the same file. Its headers
 * will describe what was opened (fstat, or the pooled handle's stamp), so
 * a file replaced after lookup is still described truthfully. Small files
 * are read whole and cached. Returns an error status when the file cannot
 * be opened.
 */
async function openFromDisk(
  c: Connection,
  path: string,
  statInfo: Deno.FileInfo,
): Promise<Opened | 403 | 404 | 500> {
  const cache = c.ctx.fileCache;
  const opened = c.ctx.handles.take(path, statInfo) ?? openAndStat(path);
  if (typeof opened === "number") return opened;
  const { file, stamp } = opened;
  if (!cache.accepts(stamp.size)) {
    return { stamp, body: { kind: "file", file, path } };
  }
  try {
    const bytes = new Uint8Array(stamp.size);
    // A file that changed size while read is served from disk instead.
    if (readFully(file, bytes) !== stamp.size) {
      await file.seek(0, Deno.SeekMode.Start);
      return { stamp, body: { kind: "file", file, path } };
    }
    file.close();
    if (!isSettled(stamp)) {
      // Metadata cannot yet tell this version from the next one: tag it
      // by content, and do not cache it.
      return {
        stamp,
        body: { kind: "memory", bytes },
        digest: await contentDigest(bytes),
      };
    }
    const entry = cache.set(path, stamp, bytes);
    return { stamp, body: { kind: "memory", bytes }, entry };
  } catch (err) {
    file.close();
    return statusForFsError(err);
  }
}

/** Opens `path` and stats what was opened; an error status on failure. */
function openAndStat(
  path: string,
): { file: Deno.FsFile; stamp: FileStamp } | 403 | 404 | 500 {
  let file: Deno.FsFile;
  try {
    // Opening is a metadata operation: synchronous is cheaper than a round
    // trip through the thread pool.
    file = Deno.openSync(path);
  } catch (err) {
    return statusForFsError(err);
  }
  let info: Deno.FileInfo;
  try {
    info = file.statSync();
  } catch (err) {
    file.close();
    return statusForFsError(err);
  }
  if (!info.isFile) {
    file.close();
    return 404;
  }
  return { file, stamp: stampOf(info) };
}

/** Opens a sidecar file, or undefined when it vanished or cannot be read. */
async function openSidecar(
  c: Connection,
  path: string,
): Promise<Opened | undefined> {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return undefined;
  }
  const opened = openCached(c, path, info) ??
    await openFromDisk(c, path, info);
  return typeof opened === "number" ? undefined : opened;
}

/** Done with a representation: its open file goes back to the pool. */
function release(c: Connection, opened: Opened): void {
  const body = opened.body;
  if (body.kind === "file") {
    c.ctx.handles.give(body.path, opened.stamp, body.file);
  }
}

/** Facts about a file that follow from its path and stamp alone. */
interface FileFacts {
  contentType: string;
  compressible: boolean;
  /** Identity validators. */
  validators: Validators;
  /** The Last-Modified value, formatted. */
  lastModified: string | undefined;
}

/**
 * Works out a file's facts, remembered on its cache entry (or, for a file
 * too large to cache, beside its verified stamp): they cannot change while
 * the stamp matches the file. (A future mtime is clamped to now, which
 * moves, so such facts are never remembered.)
 */
function factsOf(c: Connection, path: string, opened: Opened): FileFacts {
  const cache = c.ctx.fileCache;
  const memo =
    (opened.entry !== undefined
      ? opened.entry.facts
      : cache.factsOf(path, opened.stamp)) as FileFacts | undefined;
  if (memo !== undefined) return memo;
  const contentType = contentTypeFor(path);
  const validators = validatorsOf(opened);
  const lastModifiedMs = lastModifiedOf(opened.stamp);
  const facts: FileFacts = {
    contentType,
    compressible: isCompressible(contentType),
    validators,
    lastModified: lastModifiedMs === undefined
      ? undefined
      : formatHttpDate(lastModifiedMs),
  };
  if (lastModifiedMs === opened.stamp.mtimeMs) {
    if (opened.entry !== undefined) opened.entry.facts = facts;
    // A digest tag describes contents the stamp cannot vouch for.
    else if (opened.digest === undefined) {
      cache.rememberFacts(path, opened.stamp, facts);
    }
  }
  return facts;
}

/** How {@linkcode sendFile} may use and record its ready responses. */
export interface SendFileOptions {
  /** The cache entry the lookup found, saving a second check. */
  cached?: CachedFile;
  /**
   * True when the answer may be replayed for the same head (see
   * replay.ts): the path is the target's own, not a fallback.
   */
  replayable?: boolean;
}

/**
 * Sends a regular file: chooses the representation (identity, sidecar or
 * compressed on the fly), evaluates preconditions against it before
 * ranges (RFC 9110 §13.2.2), then sends all of it, one range, or several
 * as multipart/byteranges.
 */
export async function sendFile(
  c: Connection,
  ex: Exchange,
  path: string,
  statInfo: Deno.FileInfo,
  options: SendFileOptions = {},
): Promise<void> {
  const identity = openCached(c, path, statInfo, options.cached) ??
    await openFromDisk(c, path, statInfo);
  if (typeof identity === "number") return sendError(c, identity, ex);
  let rep = identity;
  try {
    const config = c.config;
    const { head } = ex;
    const { method } = head;
    const facts = factsOf(c, path, identity);
    const { contentType } = facts;

    // Choose the representation; every later decision is about it.
    let choice: RepresentationChoice = IDENTITY;
    const sidecars = config.compression ? sidecarsOf(c, path) : [];
    const varies = config.compression &&
      (facts.compressible || sidecars.length > 0);
    const acceptEncoding = varies
      ? headerValue(head, "accept-encoding")
      : undefined;
    if (
      acceptEncoding !== undefined && (method === "GET" || method === "HEAD")
    ) {
      choice = chooseRepresentation({
        acceptEncoding,
        sidecars,
        compressible: facts.compressible,
        size: identity.stamp.size,
        rangeRequested: method === "GET" &&
          headerValue(head, "range") !== undefined,
        canStream: head.versionMinor >= 1,
      });
    }
    if (choice.source === "sidecar") {
      const sidecar = await openSidecar(c, path + suffixOf(choice.coding));
      if (sidecar === undefined) choice = IDENTITY;
      else rep = sidecar;
    }
    const validators = choice.source === "identity"
      ? facts.validators
      : validatorsOf(
        rep,
        choice.source === "dynamic" ? choice.coding : undefined,
      );
    const repModifiedMs = lastModifiedOf(rep.stamp);
    const lastModified = choice.source === "identity"
      ? facts.lastModified
      : repModifiedMs === undefined
      ? undefined
      : formatHttpDate(repModifiedMs);

    const outcome = evaluatePreconditions(
      method,
      conditionalHeaders(head),
      validators,
    );
    if (outcome === "precondition-failed") return await sendError(c, 412, ex);
    // Fields every response about this representation carries (200, 206,
    // 304), made only when a response has to be formatted.
    const fileHeaders = (): ResponseHeaders => {
      const fields: ResponseHeaders = validators.etag === undefined
        ? []
        : [["ETag", validators.etag]];
      if (lastModified !== undefined) {
        fields.push(["Last-Modified", lastModified]);
      }
      fields.push(["Cache-Control", config.cacheControl]);
      if (varies) fields.push(["Vary", "Accept-Encoding"]);
      for (const header of config.extraHeaders) fields.push(header);
      return fields;
    };
    if (outcome === "not-modified") {
      // Revalidations of a cached file reuse this second's 304, as 200s do.
      const reusable = choice.source === "identity" ? rep.entry : undefined;
      const key = NOT_MODIFIED_KEY + readyKey(ex);
      const second = currentHttpSecond();
      if (reusable !== undefined && options.replayable) {
        ex.ready = { path, index: key };
      }
      const ready = reusable?.ready?.[key];
      if (ready !== undefined && ready.second === second) {
        c.status = 304;
        return await c.write(ready.bytes);
      }
      const headers = baseHeaders(c, ex);
      for (const header of fileHeaders()) headers.push(header);
      const bytes = c.encodeHead(304, headers);
      if (reusable !== undefined) remember(reusable, key, second, bytes);
      return await c.write(bytes);
    }

    const size = rep.stamp.size;
    const decision = choice.source === "identity"
      ? rangeDecision(head, size, validators)
      : FULL;
    if (decision.kind === "full" && choice.source !== "dynamic") {
      return await sendWhole(
        c,
        ex,
        rep,
        contentType,
        choice.coding,
        fileHeaders,
        options.replayable && rep === identity ? path : undefined,
      );
    }

    const headers = baseHeaders(c, ex);
    headers.push(["Content-Type", contentType]);
    if (choice.coding !== "identity") {
      headers.push(["Content-Encoding", choice.coding]);
    }
    if (choice.source === "dynamic") {
      for (const header of fileHeaders()) headers.push(header);
      return await sendCompressed(c, ex, rep, choice.coding, headers);
    }
    if (decision.kind === "unsatisfiable") {
      return await sendError(c, 416, ex, [[
        "Content-Range",
        unsatisfiedRangeValue(size),
      ]]);
    }
    headers.push(["Accept-Ranges", "bytes"]);
    if (decision.kind === "partial" && decision.ranges.length === 1) {
      const range = decision.ranges[0];
      const length = range.end - range.start + 1;
      headers.push(
        ["Content-Length", String(length)],
        ["Content-Range", contentRangeValue(range, size)],
        ...fileHeaders(),
      );
      const head = c.encodeHead(206, headers);
      return await writeRange(c, rep.body, range.start, length, head);
    }
    if (decision.kind === "partial") {
      const plan = planMultipartByteranges(
        decision.ranges,
        size,
        contentType,
        makeBoundary(),
      );
      // The multipart type replaces the file's own Content-Type.
      headers[headers.findIndex(([name]) => name === "Content-Type")] = [
        "Content-Type",
        plan.contentType,
      ];
      headers.push(
        ["Content-Length", String(plan.contentLength)],
        ...fileHeaders(),
      );
      await c.write(c.encodeHead(206, headers));
      for (const part of plan.parts) {
        const { start, end } = part.range;
        await writeRange(c, rep.body, start, end - start + 1, part.head);
      }
      return await c.write(plan.tail);
    }
  } finally {
    release(c, identity);
    if (rep !== identity) release(c, rep);
  }
}

/**
 * Sends a whole file (identity or sidecar) with status 200. A cached file's
 * complete response is kept for the current second, per connection kind,
 * and written again as it is: the one-write, zero-formatting fast path.
 */
async function sendWhole(
  c: Connection,
  ex: Exchange,
  rep: Opened,
  contentType: string,
  coding: string,
  fileHeaders: () => ResponseHeaders,
  replayPath: string | undefined,
): Promise<void> {
  const size = rep.stamp.size;
  const entry = rep.entry;
  const second = currentHttpSecond();
  const key = readyKey(ex) + (ex.headOnly ? 4 : 0);
  // A cached file keeps ready responses, except whole bodies above
  // SMALL_FILE_BYTES (sent in two writes, not copied once more).
  const keepsReady = entry !== undefined &&
    (ex.headOnly || size <= SMALL_FILE_BYTES);
  if (keepsReady && replayPath !== undefined) {
    ex.ready = { path: replayPath, index: key };
  }
  if (entry !== undefined) {
    const ready = entry.ready?.[key];
    if (ready !== undefined && ready.second === second) {
      c.status = 200;
      return c.write(ready.bytes);
    }
  }
  const headers = baseHeaders(c, ex);
  headers.push(["Content-Type", contentType]);
  if (coding !== "identity") headers.push(["Content-Encoding", coding]);
  headers.push(["Accept-Ranges", "bytes"], ["Content-Length", String(size)]);
  for (const header of fileHeaders()) headers.push(header);
  const head = c.encodeHead(200, headers);
  if (ex.headOnly || size === 0) {
    if (keepsReady) remember(entry, key, second, head);
    return c.write(head);
  }
  if (rep.body.kind === "memory") {
    if (size > SMALL_FILE_BYTES) {
      await c.write(head);
      return c.write(rep.body.bytes);
    }
    const bytes = concat(head, rep.body.bytes);
    if (keepsReady) remember(entry, key, second, bytes);
    return c.write(bytes);
  }
  if (size <= SMALL_FILE_BYTES) {
    return sendWithHead(c, head, rep.body.file, size);
  }
  await streamRange(c, rep.body.file, 0, size, head);
}

/** Index of reusable 304s among an entry's ready responses. */
const NOT_MODIFIED_KEY = 8;

/**
 * Which ready response fits a request: the head differs only in its
 * Connection field (keep-alive or close, HTTP/1.0 or 1.1).
 */
function readyKey(ex: Exchange): number {
  return (ex.keepAlive ? 2 : 0) + (ex.head.versionMinor === 0 ? 1 : 0);
}

/** Keeps a complete response on a cache entry for the current second. */
function remember(
  entry: CachedFile,
  key: number,
  second: number,
  bytes: Uint8Array,
): void {
  entry.ready ??= [];
  entry.ready[key] = { second, bytes };
}

const IDENTITY: RepresentationChoice = {
  coding: "identity",
  source: "identity",
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
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
  const filled = head.length + readFully(file, out.subarray(head.length));
  await c.write(out.subarray(0, filled));
  // A file that shrank under us cannot honour its Content-Length.
  if (filled < out.length) throw new ConnectionClosed();
}

/** Reads into `target` until full or end of file; returns bytes read. */
function readFully(file: Deno.FsFile, target: Uint8Array): number {
  let filled = 0;
  while (filled < target.length) {
    const n = file.readSync(target.subarray(filled));
    if (n === null || n === 0) break;
    filled += n;
  }
  return filled;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Writes `length` bytes of a body from `start`, after `head` (a response
 * or part head): together in one write when they fit the connection's
 * stream buffer.
 */
function writeRange(
  c: Connection,
  body: Body,
  start: number,
  length: number,
  head: Uint8Array = NO_BYTES,
): Promise<void> {
  if (body.kind === "file") {
    return streamRange(c, body.file, start, length, head);
  }
  const part = body.bytes.subarray(start, start + length);
  if (head.length === 0) return c.write(part);
  if (head.length + length > STREAM_BUFFER_BYTES) {
    return c.write(head).then(() => c.write(part));
  }
  const buf = c.streamBufferFor(head.length + length);
  buf.set(head);
  buf.set(part, head.length);
  return c.write(buf.subarray(0, head.length + length));
}

/**
 * Copies `length` bytes of `file` from `start` to the connection through
 * the connection's reused buffer, after `head`, which goes out with the
 * first chunk (one write fewer per response). If the file ends early the
 * connection is closed: sending fewer bytes than Content-Length promised
 * is the only honest signal left.
 */
async function streamRange(
  c: Connection,
  file: Deno.FsFile,
  start: number,
  length: number,
  head: Uint8Array = NO_BYTES,
): Promise<void> {
  const buf = c.streamBufferFor(head.length + length);
  // A head too large to share the first chunk goes out alone.
  let prefix = head.length <= buf.length / 4 ? head.length : 0;
  if (prefix === 0 && head.length > 0) await c.write(head);
  buf.set(head.subarray(0, prefix));
  if (prefix + length <= buf.length) {
    // One chunk (a typical range request): read it synchronously, as the
    // page cache usually answers at once; large streams stay asynchronous.
    file.seekSync(start, Deno.SeekMode.Start);
    const n = readFully(file, buf.subarray(prefix, prefix + length));
    if (n < length) {
      if (prefix + n > 0) await c.write(buf.subarray(0, prefix + n));
      throw new ConnectionClosed();
    }
    return c.write(buf.subarray(0, prefix + length));
  }
  await file.seek(start, Deno.SeekMode.Start);
  let remaining = length;
  while (remaining > 0) {
    const want = Math.min(buf.length - prefix, remaining);
    const n = await file.read(buf.subarray(prefix, prefix + want));
    if (n === null || n === 0) {
      if (prefix > 0) await c.write(buf.subarray(0, prefix));
      throw new ConnectionClosed();
    }
    await c.write(buf.subarray(0, prefix + n));
    remaining -= n;
    prefix = 0;
  }
}

/**
 * Sends a file compressed on the fly. Small files are compressed whole,
 * cached by their ETag, and sent with an exact Content-Length; larger ones
 * stream through a compressor as chunked transfer coding.
 */
async function sendCompressed(
  c: Connection,
  ex: Exchange,
  rep: Opened,
  coding: string,
  headers: ResponseHeaders,
): Promise<void> {
  const size = rep.stamp.size;
  if (size <= MAX_BUFFERED_COMPRESS_BYTES) {
    // Keyed by the variant's ETag; a file without one is not cached.
    const etag = headers.find(([name]) => name === "ETag")?.[1];
    let body = etag === undefined ? undefined : c.ctx.compressedCache.get(etag);
    if (body === undefined) {
      let identity: Uint8Array;
      if (rep.body.kind === "memory") {
        identity = rep.body.bytes;
      } else {
        identity = new Uint8Array(size);
        await rep.body.file.seek(0, Deno.SeekMode.Start);
        if (readFully(rep.body.file, identity) < size) {
          throw new ConnectionClosed();
        }
      }
      body = await compressBytes(identity, coding);
      if (etag !== undefined) c.ctx.compressedCache.set(etag, body);
    }
    headers.push(["Content-Length", String(body.length)]);
    const head = c.encodeHead(200, headers);
    return c.write(ex.headOnly ? head : concat(head, body));
  }
  headers.push(["Transfer-Encoding", "chunked"]);
  await c.write(c.encodeHead(200, headers));
  if (ex.headOnly) return;
  if (rep.body.kind === "memory") {
    // Large files are not cached, but a large cache limit may allow it.
    const bytes = await compressBytes(rep.body.bytes, coding);
    await c.write(encoder.encode(bytes.length.toString(16) + "\r\n"));
    await c.write(bytes);
    return c.write(concat(CRLF, LAST_CHUNK));
  }
  await streamCompressed(c, rep.body.file, size, coding);
}

/**
 * Sends `size` bytes of `file` compressed into chunked framing, through a
 * stream of the compression pool: one chunk read, compressed on a pool
 * thread and written at a time, so memory stays bounded and the event loop
 * never compresses.
 */
async function streamCompressed(
  c: Connection,
  file: Deno.FsFile,
  size: number,
  coding: string,
): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  const stream = await compressionPool.openStream(coding);
  try {
    let remaining = size;
    while (remaining > 0) {
      // A fresh buffer each time: push() hands it over to the thread.
      const chunk = new Uint8Array(Math.min(COMPRESS_CHUNK_BYTES, remaining));
      const n = await file.read(chunk);
      // Without the last chunk the client sees the body as incomplete.
      if (n === null || n === 0) throw new ConnectionClosed();
      remaining -= n;
      await writeChunk(c, await stream.push(chunk.subarray(0, n)));
    }
    await writeChunk(c, await stream.end());
  } finally {
    stream.abort();
  }
  await c.write(LAST_CHUNK);
}

/** Writes `bytes` as one chunk of a chunked body; nothing when empty. */
async function writeChunk(c: Connection, bytes: Uint8Array): Promise<void> {
  if (bytes.length === 0) return;
  await c.write(encoder.encode(bytes.length.toString(16) + "\r\n"));
  await c.write(bytes);
  await c.write(CRLF);
}

const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/**
 * Sends an HTML (or, when preferred, JSON) listing of a directory without
 * an index. Dot entries are hidden unless dotfiles are allowed; entries
 * that cannot be stat-ed (dangling links) are left out.
 */
export async function sendListing(
  c: Connection,
  ex: Exchange,
  dirPath: string,
  urlPath: string,
): Promise<void> {
  const entries: ListingEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dirPath)) {
      if (
        c.config.lookup.dotfiles !== "allow" && entry.name.startsWith(".")
      ) {
        continue;
      }
      try {
        const entryPath = dirPath + "/" + entry.name;
        // A link is listed only if following it would be served.
        if (
          entry.isSymlink &&
          !isServable(
            c.config.rootReal,
            Deno.realPathSync(entryPath),
            c.config.lookup.dotfiles,
          )
        ) {
          continue;
        }
        const info = Deno.statSync(entryPath);
        if (!info.isFile && !info.isDirectory) continue;
        entries.push({
          name: entry.name,
          isDirectory: info.isDirectory,
          size: info.size,
          mtimeMs: info.mtime?.getTime() ?? null,
        });
      } catch {
        // vanished or dangling: leave it out
      }
    }
  } catch (err) {
    return sendError(c, statusForFsError(err), ex);
  }
  const sorted = sortListing(entries);
  const json = wantsJson(headerValue(ex.head, "accept"));
  const body = encoder.encode(
    json
      ? renderListingJson(urlPath, sorted)
      : renderListingHtml(urlPath, sorted),
  );
  await sendGenerated(
    c,
    ex,
    json ? "application/json; charset=utf-8" : HTML_TYPE,
    body,
    [["Cache-Control", "no-cache"]],
  );
}
