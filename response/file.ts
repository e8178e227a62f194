/**
 * Replying with a file: choose the representation (identity, a
 * precompressed sidecar, or compressed on the fly), evaluate preconditions
 * against it, apply ranges, and hand the reply to the protocol's sink.
 * Every file is opened through files/open.ts (verified on what was
 * opened) or found in the cache (which holds only such files).
 *
 * @module
 */

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
import {
  chooseRepresentation,
  compressBytes,
  MAX_BUFFERED_COMPRESS_BYTES,
  type RepresentationChoice,
  SIDECAR_CODINGS,
} from "../files/compress.ts";
import { compressionPool } from "../files/compress_pool.ts";
import { contentDigest, contentETag, fileETag } from "../files/etag.ts";
import { type CachedFile, type FileStamp, isSettled } from "../files/cache.ts";
import {
  closeQuietly,
  type OpenFile,
  openVerified,
  readFullyAt,
} from "../files/open.ts";
import { contentTypeFor, isCompressible } from "../files/media_type.ts";
import { errorReply } from "./respond.ts";
import { injectLiveScript } from "../live/inject.ts";
import { compressedStream } from "./stream.ts";
import {
  addExtraFields,
  baseFields,
  type Content,
  type Reply,
  type ReplySink,
  type ResponderContext,
  type ResponseHeaders,
  SLOT_IDENTITY,
  SLOT_NOT_MODIFIED,
  SLOT_SIDECAR,
} from "./reply.ts";

/** The conditional request header fields of a request. */
export function conditionalHeaders(head: RequestHead): ConditionalHeaders {
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

/** A representation's bytes: in memory, or an open file. */
interface Opened {
  stamp: FileStamp;
  /** The contents, when held in memory. */
  bytes?: Uint8Array;
  /** The open file, when served from disk (given back when done). */
  file?: OpenFile;
  /** The path it was looked up by (for the handle pool). */
  path: string;
  /** What the cache knows of it (contents, facts, ready replies). */
  entry?: CachedFile;
  /** Content digest, for a file read whole before it settled. */
  digest?: string;
  /** Tells these bytes apart from the file's own in the ETag ("live"). */
  variant?: string;
}

/**
 * Validators of a file's contents: a strong tag and its mtime. The tag
 * comes from metadata, or from the content digest when the file was read
 * while not settled (see {@linkcode isSettled}).
 */
function validatorsOf(opened: Opened, coding?: string): Validators {
  const { stamp } = opened;
  const variant = opened.variant === undefined
    ? coding
    : coding === undefined
    ? opened.variant
    : `${opened.variant}-${coding}`;
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

/**
 * Codings of the sidecar files that seem to exist beside `path`: a hint
 * only, as each is verified when it is opened.
 */
function findSidecars(ctx: ResponderContext, path: string): string[] {
  const found: string[] = [];
  for (const { coding, suffix } of SIDECAR_CODINGS) {
    try {
      if (ctx.stats.stat(path + suffix).isFile) found.push(coding);
    } catch {
      // no such sidecar
    }
  }
  return found;
}

/** Sidecars of a file, remembered for a second. */
function sidecarsOf(ctx: ResponderContext, path: string): string[] {
  // While the watcher vouches, looking costs no file-system call at all.
  if (ctx.stats.vouched) return findSidecars(ctx, path);
  const cache = ctx.fileCache;
  const seen = cache.sidecarsSeen(path);
  const now = Date.now();
  if (seen !== undefined && now - seen.checkedAt < SIDECAR_RECHECK_MS) {
    return seen.codings;
  }
  const codings = findSidecars(ctx, path);
  cache.rememberSidecars(path, { codings, checkedAt: now });
  return codings;
}

function suffixOf(coding: string): string {
  return SIDECAR_CODINGS.find((s) => s.coding === coding)!.suffix;
}

/** A cached file's representation, when the entry holds its contents. */
function fromCache(path: string, entry: CachedFile | undefined) {
  return entry?.body === undefined
    ? undefined
    : { stamp: entry.stamp, bytes: entry.body, path, entry };
}

/**
 * Opens a file from disk (verified, see files/open.ts), or takes the
 * pooled open file of it while `statInfo` (the lookup's stat) shows the
 * same file. Its fields will describe what was opened, so a file replaced
 * after lookup is still described truthfully. Small files are read whole
 * and cached. Returns an error status when the file cannot be served.
 */
async function openFromDisk(
  ctx: ResponderContext,
  path: string,
  statInfo: Deno.FileInfo,
  known: CachedFile | undefined,
): Promise<Opened | 403 | 404 | 500> {
  const cache = ctx.fileCache;
  const pooled = ctx.handles.take(path, statInfo);
  const file = pooled ??
    openVerified(path, {
      rootReal: ctx.config.rootReal,
      dotfiles: ctx.config.lookup.dotfiles,
    });
  if (typeof file === "number") return file;
  const { stamp } = file;
  if (pooled !== undefined || !cache.accepts(stamp.size)) {
    // Served from disk; the cache keeps only what it knows of the file.
    const entry = known ?? cache.get(path, stamp) ??
      cache.set(path, stamp, undefined);
    return { stamp, file, path, entry };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(stamp.size);
    // A file that changed size while read is served from disk instead.
    if (readFullyAt(file.fd, bytes, 0) !== stamp.size) {
      return { stamp, file, path };
    }
  } catch (err) {
    closeQuietly(file.fd);
    throw err;
  }
  closeQuietly(file.fd);
  if (!isSettled(stamp)) {
    // Metadata cannot yet tell this version from the next one: tag it by
    // content, and do not cache it.
    return { stamp, bytes, path, digest: await contentDigest(bytes) };
  }
  return { stamp, bytes, path, entry: cache.set(path, stamp, bytes) };
}

/** Opens a sidecar file, or undefined when it cannot be served. */
async function openSidecar(
  ctx: ResponderContext,
  path: string,
): Promise<Opened | undefined> {
  let info: Deno.FileInfo;
  try {
    info = ctx.stats.stat(path);
  } catch {
    return undefined;
  }
  const known = ctx.fileCache.getIfUnchanged(path, info);
  const opened = fromCache(path, known) ??
    await openFromDisk(ctx, path, info, known);
  return typeof opened === "number" ? undefined : opened;
}

/** Done with a representation: its open file goes back to the pool. */
function release(ctx: ResponderContext, opened: Opened): void {
  if (opened.file !== undefined) ctx.handles.give(opened.path, opened.file);
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
 * Works out a file's facts, remembered on its cache entry: they cannot
 * change while the stamp matches the file. (A future mtime is clamped to
 * now, which moves, so such facts are never remembered.)
 */
function factsOf(path: string, opened: Opened): FileFacts {
  const memo = opened.entry?.facts as FileFacts | undefined;
  if (memo !== undefined) return memo;
  const contentType = contentTypeFor(path);
  const lastModifiedMs = lastModifiedOf(opened.stamp);
  const facts: FileFacts = {
    contentType,
    compressible: isCompressible(contentType),
    validators: validatorsOf(opened),
    lastModified: lastModifiedMs === undefined
      ? undefined
      : formatHttpDate(lastModifiedMs),
  };
  if (lastModifiedMs === opened.stamp.mtimeMs && opened.entry !== undefined) {
    opened.entry.facts = facts;
  }
  return facts;
}

/** How {@linkcode serveFile} may reuse and record its replies. */
export interface ServeFileOptions {
  /** The cache entry the lookup found, saving a second check. */
  cached?: CachedFile;
  /**
   * True when the answer may be replayed for the same head (see
   * http1/replay.ts): the path is the target's own, not a fallback.
   */
  replayable?: boolean;
}

/**
 * Answers with a regular file: chooses the representation (identity,
 * sidecar or compressed on the fly), evaluates preconditions against it
 * before ranges (RFC 9110 §13.2.2), then sends all of it, one range, or
 * several as multipart/byteranges.
 */
export async function serveFile(
  ctx: ResponderContext,
  head: RequestHead,
  sink: ReplySink,
  path: string,
  statInfo: Deno.FileInfo,
  options: ServeFileOptions = {},
): Promise<void> {
  const opened = fromCache(path, options.cached) ??
    await openFromDisk(ctx, path, statInfo, options.cached);
  if (typeof opened === "number") {
    return sink.send(errorReply(ctx, opened));
  }
  const identity = ctx.live !== undefined &&
      contentTypeFor(path).startsWith("text/html") &&
      withLiveScript(opened) || opened;
  let rep: Opened = identity;
  try {
    const config = ctx.config;
    const { method } = head;
    const facts = factsOf(path, identity);
    const { contentType } = facts;

    // Choose the representation; every later decision is about it.
    let choice: RepresentationChoice = IDENTITY;
    // A sidecar holds the page without live reload's script.
    const sidecars = config.compression && identity === opened
      ? sidecarsOf(ctx, path)
      : [];
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
        canStream: sink.canStream,
      });
    }
    if (
      choice.source === "dynamic" &&
      identity.stamp.size > MAX_BUFFERED_COMPRESS_BYTES &&
      !compressionPool.hasFreeStream
    ) {
      // Every compression stream is taken (slow clients hold them): send
      // identity now rather than make this client wait for a slot.
      choice = IDENTITY;
    }
    if (choice.source === "sidecar") {
      const sidecar = await openSidecar(ctx, path + suffixOf(choice.coding));
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
    if (outcome === "precondition-failed") {
      return await sink.send(errorReply(ctx, 412));
    }
    // Fields every reply about this representation carries (200, 206,
    // 304), made only when a reply has to be built.
    const fileFields = (fields: ResponseHeaders): ResponseHeaders => {
      if (validators.etag !== undefined) fields.push(["ETag", validators.etag]);
      if (lastModified !== undefined) {
        fields.push(["Last-Modified", lastModified]);
      }
      fields.push(["Cache-Control", config.cacheControl]);
      if (varies) fields.push(["Vary", "Accept-Encoding"]);
      addExtraFields(fields, config.extraHeaders);
      return fields;
    };
    const replayPath = options.replayable && rep === identity
      ? path
      : undefined;
    if (outcome === "not-modified") {
      const build = (): Reply => ({
        status: 304,
        fields: fileFields(baseFields(config)),
        content: { kind: "none" },
      });
      // Revalidations of a cached file reuse this second's 304, as 200s do.
      return choice.source === "identity" && rep.entry !== undefined
        ? await sink.sendReusable(
          { entry: rep.entry, slot: SLOT_NOT_MODIFIED, replayPath },
          build,
        )
        : await sink.send(build());
    }

    const size = rep.stamp.size;
    const decision = choice.source === "identity"
      ? rangeDecision(head, size, validators)
      : FULL;
    const representationFields = (): ResponseHeaders => {
      const fields = baseFields(config);
      fields.push(["Content-Type", contentType]);
      if (choice.coding !== "identity") {
        fields.push(["Content-Encoding", choice.coding]);
      }
      return fields;
    };

    if (choice.source === "dynamic") {
      return await sendCompressed(
        ctx,
        sink,
        rep,
        choice.coding,
        fileFields(representationFields()),
      );
    }
    if (decision.kind === "unsatisfiable") {
      return await sink.send(
        errorReply(ctx, 416, [["Content-Range", unsatisfiedRangeValue(size)]]),
      );
    }
    if (decision.kind === "full") {
      const build = (): Reply => {
        const fields = representationFields();
        fields.push(["Accept-Ranges", "bytes"]);
        return {
          status: 200,
          fields: fileFields(fields),
          content: wholeContent(rep),
        };
      };
      return rep.entry !== undefined
        ? await sink.sendReusable({
          entry: rep.entry,
          slot: rep === identity ? SLOT_IDENTITY : SLOT_SIDECAR,
          replayPath,
        }, build)
        : await sink.send(build());
    }
    const fields = representationFields();
    fields.push(["Accept-Ranges", "bytes"]);
    if (decision.ranges.length === 1) {
      const range = decision.ranges[0];
      fields.push(["Content-Range", contentRangeValue(range, size)]);
      return await sink.send({
        status: 206,
        fields: fileFields(fields),
        content: slice(rep, range.start, range.end - range.start + 1),
      });
    }
    const plan = planMultipartByteranges(
      decision.ranges,
      size,
      contentType,
      makeBoundary(),
    );
    // The multipart type replaces the file's own Content-Type.
    fields[fields.findIndex(([name]) => name === "Content-Type")] = [
      "Content-Type",
      plan.contentType,
    ];
    return await sink.send({
      status: 206,
      fields: fileFields(fields),
      content: {
        kind: "parts",
        source: rep.bytes ?? rep.file!.fd,
        parts: plan.parts.map((part) => ({
          head: part.head,
          start: part.range.start,
          length: part.range.end - part.range.start + 1,
        })),
        tail: plan.tail,
        length: plan.contentLength,
      },
    });
  } finally {
    release(ctx, opened);
    if (rep !== opened) release(ctx, rep);
  }
}

/** Largest page live reload adds its script to; larger ones go as they are. */
const MAX_LIVE_HTML_BYTES = 8 * 1024 * 1024;

/**
 * The page with live reload's script: a representation of its own (its
 * ETag has the variant "live", its length is its own), held in memory and
 * never cached, as it exists only under --live. Undefined when too large.
 */
function withLiveScript(opened: Opened): Opened | undefined {
  const size = opened.stamp.size;
  if (size > MAX_LIVE_HTML_BYTES) return undefined;
  let page = opened.bytes;
  if (page === undefined) {
    page = new Uint8Array(size);
    if (readFullyAt(opened.file!.fd, page, 0) !== size) return undefined;
  }
  const bytes = injectLiveScript(page);
  return {
    stamp: { ...opened.stamp, size: bytes.length },
    bytes,
    path: opened.path,
    digest: opened.digest,
    variant: "live",
  };
}

const IDENTITY: RepresentationChoice = {
  coding: "identity",
  source: "identity",
};

/** All of a representation's bytes as content. */
function wholeContent(rep: Opened): Content {
  return rep.bytes !== undefined
    ? { kind: "bytes", bytes: rep.bytes }
    : { kind: "file", fd: rep.file!.fd, start: 0, length: rep.stamp.size };
}

/** `length` bytes of a representation from `start`, as content. */
function slice(rep: Opened, start: number, length: number): Content {
  return rep.bytes !== undefined
    ? { kind: "bytes", bytes: rep.bytes.subarray(start, start + length) }
    : { kind: "file", fd: rep.file!.fd, start, length };
}

/**
 * Sends a file compressed on the fly. Small files are compressed whole
 * (off the event loop), kept beside their cache entry, and sent with an
 * exact Content-Length; larger ones stream through a compressor as
 * content of unknown length (chunked in HTTP/1.1).
 */
async function sendCompressed(
  ctx: ResponderContext,
  sink: ReplySink,
  rep: Opened,
  coding: string,
  fields: ResponseHeaders,
): Promise<void> {
  const size = rep.stamp.size;
  if (size <= MAX_BUFFERED_COMPRESS_BYTES) {
    let body = rep.entry?.variants?.get(coding);
    if (body === undefined) {
      let identity = rep.bytes;
      if (identity === undefined) {
        identity = new Uint8Array(size);
        if (readFullyAt(rep.file!.fd, identity, 0) < size) {
          return sink.send(errorReply(ctx, 500));
        }
      }
      body = await compressBytes(identity, coding);
      if (rep.entry !== undefined) {
        ctx.fileCache.setVariant(rep.entry, coding, body);
      }
    }
    return sink.send({
      status: 200,
      fields,
      content: { kind: "bytes", bytes: body },
    });
  }
  // The writer opens the stream only when it sends content (not for HEAD).
  const source = rep.bytes ?? rep.file!.fd;
  return sink.send({
    status: 200,
    fields,
    content: {
      kind: "stream",
      open: () => compressedStream(source, size, coding),
    },
  });
}
