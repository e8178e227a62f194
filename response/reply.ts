/**
 * The response core's vocabulary: what to answer (a {@linkcode Reply}:
 * status, fields and a content source), decided once and free of any
 * protocol, and where it goes (a {@linkcode ReplySink}: HTTP/1.1 bytes on
 * a connection today). The responders in this folder build replies; the
 * protocol writers (`http1/writer.ts`) put them on the wire, adding the
 * fields that belong to the wire (Date, Server, Connection, framing).
 *
 * @module
 */

import type { ServerConfig } from "../server/config.ts";
import type { CachedFile, FileCache } from "../files/cache.ts";
import type { FileHandlePool } from "../files/handles.ts";
import type { StatCache } from "../files/stat_cache.ts";
import type { LiveHub } from "../live/hub.ts";
import type { ResponseHeaders } from "../http/response.ts";
import { asciiLower, splitList } from "../http/scan.ts";

/** What the responders need of the server. */
export interface ResponderContext {
  config: ServerConfig;
  /** What pws knows of the files it opened (bounded by --cache-size). */
  fileCache: FileCache;
  /** Open files of large files, shared between requests. */
  handles: FileHandlePool;
  /** `stat` of paths under the root, kept while the watcher vouches. */
  stats: StatCache;
  /** Live reload's event streams (`--live` only). */
  live?: LiveHub;
}

/** One part of a multipart/byteranges body. */
export interface ContentPart {
  /** The part's delimiter and header fields. */
  head: Uint8Array;
  start: number;
  length: number;
}

/**
 * Where a response's content comes from. `none` has no content at all
 * (204, 304); everything else has a length except `stream`, whose length
 * is known only at its end (on-the-fly compression).
 */
export type Content =
  | { kind: "none" }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "file"; fd: number; start: number; length: number }
  | {
    kind: "parts";
    /** The bytes, in memory or an open file's descriptor. */
    source: Uint8Array | number;
    parts: ContentPart[];
    /** The closing delimiter. */
    tail: Uint8Array;
    /** Total bytes: every part head, range and the tail. */
    length: number;
  }
  | {
    kind: "stream";
    /** Starts producing the content; only called when it is sent. */
    open(): AsyncIterable<Uint8Array>;
  };

/** A response, decided and ready to be written by any protocol. */
export interface Reply {
  status: number;
  /** Fields of the representation and the resource; no framing fields. */
  fields: ResponseHeaders;
  content: Content;
}

/**
 * A reply the writer may keep serialized for the rest of the second and
 * send again as it is: it depends only on `entry` (a cached file, which
 * the writer's reuse is keyed on) and the `slot` (which representation
 * and status of it).
 */
export interface Reusable {
  entry: CachedFile;
  /** 0 identity 200, 1 identity 304, 2 a sidecar's 200. */
  slot: number;
  /**
   * Set when the same request head may be answered by replay (the path
   * is the target's own, not a fallback, and the representation its
   * identity).
   */
  replayPath?: string;
}

/** Where replies go: HTTP/1.1 on a connection (or, later, HTTP/2). */
export interface ReplySink {
  /** True when content of unknown length can be sent (HTTP/1.1 chunked). */
  readonly canStream: boolean;
  /** Writes a reply; rejects when the peer went away. */
  send(reply: Reply): Promise<void>;
  /**
   * Writes the reply `build` makes, or the serialized copy the sink kept
   * of it for `reusable` this second (the fast path of repeated requests).
   */
  sendReusable(reusable: Reusable, build: () => Reply): Promise<void>;
}

/** The identity representation's 200, see {@linkcode Reusable.slot}. */
export const SLOT_IDENTITY = 0;
/** The identity representation's 304. */
export const SLOT_NOT_MODIFIED = 1;
/** A precompressed sidecar's 200 as the representation of another file. */
export const SLOT_SIDECAR = 2;
/** Number of slots. */
export const REUSE_SLOTS = 3;

/** Response fields that let scripts on other origins read ranges and tags. */
const CORS_EXPOSED = "ETag, Content-Range, Accept-Ranges, Content-Encoding";

/** The fields every reply starts with: CORS when enabled. */
export function baseFields(config: ServerConfig): ResponseHeaders {
  return config.cors
    ? [
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Expose-Headers", CORS_EXPOSED],
    ]
    : [];
}

/**
 * Adds the fields of `--header` to a reply's fields. A name pws also sets
 * replaces pws's value (one field, never two that contradict), except
 * `Vary`, whose tokens are merged so that negotiation stays declared.
 */
export function addExtraFields(
  fields: ResponseHeaders,
  extra: readonly [string, string][],
): void {
  for (const [name, value] of extra) {
    const lower = name.toLowerCase();
    const at = fields.findIndex(([n]) => n.toLowerCase() === lower);
    if (at < 0) fields.push([name, value]);
    else if (lower === "vary") {
      fields[at] = [fields[at][0], mergeTokens(fields[at][1], value)];
    } else fields[at] = [name, value];
  }
}

/** Joins two comma lists, leaving out tokens already present. */
function mergeTokens(a: string, b: string): string {
  const seen = new Set(splitList(a).map(asciiLower));
  let out = a;
  for (const token of splitList(b)) {
    if (!seen.has(asciiLower(token))) {
      seen.add(asciiLower(token));
      out += ", " + token;
    }
  }
  return out;
}

/** The number of content bytes a reply announces (undefined: unknown). */
export function contentLength(content: Content): number | undefined {
  switch (content.kind) {
    case "none":
      return undefined;
    case "bytes":
      return content.bytes.length;
    case "file":
    case "parts":
      return content.length;
    case "stream":
      return undefined;
  }
}

export type { ResponseHeaders };
