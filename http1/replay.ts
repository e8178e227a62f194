/**
 * Replaying ready responses to repeated requests. Browsers and load tools
 * send byte-identical heads when they fetch the same resource again. When
 * such a head was last answered with one of the hot-file cache's ready
 * responses, every decision made from it (parsing, target, lookup,
 * representation, preconditions, ranges, CORS) would come out the same
 * again: only the file, the clock and the connection can differ. The
 * handler checks those (the file's stamp by `stat`, the Date by second,
 * keep-alive by the connection's state) and writes the ready bytes,
 * skipping everything else.
 *
 * @module
 */

import type { RequestHead } from "../http/request.ts";

/** What one earlier request was answered with. */
export interface ReplayEntry {
  /** The request head exactly as received, blank line included. */
  request: Uint8Array;
  /** That head parsed: never mutated, shared by every replay (for logs). */
  head: RequestHead;
  /** Whether the head asked to keep the connection open. */
  askedKeepAlive: boolean;
  /** Whether the response kept it open (the ready bytes say so). */
  keepAlive: boolean;
  /** The file the response came from, as looked up. */
  path: string;
  /** Index of the ready response among the cache entry's. */
  readyIndex: number;
  /** The response's status. */
  status: number;
  /** The user the head authenticated as (`--auth`), for the log. */
  user?: string;
}

/** Entries kept before the oldest is dropped (config.ts sets the same). */
const DEFAULT_MAX_ENTRIES = 512;
/** Longer heads are not remembered (bounds memory at ~2 MiB). */
const DEFAULT_MAX_HEAD_BYTES = 4096;

/**
 * 32-bit FNV-1a hash of `buf[start..end)`: cheap, and good enough to tell
 * requests apart (a collision only costs a normal request).
 */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ buf[i], 0x01000193);
  }
  return h >>> 0;
}

function sameBytes(
  known: Uint8Array,
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  if (known.length !== end - start) return false;
  for (let i = 0; i < known.length; i++) {
    if (known[i] !== buf[start + i]) return false;
  }
  return true;
}

/**
 * Request heads answered from ready responses, by their bytes. Bounded in
 * entries and in head size; the oldest entry goes first.
 */
export class ReplayCache {
  #entries = new Map<number, ReplayEntry>();
  /** Requests answered by replay so far (counted by the handler). */
  hits = 0;

  constructor(
    readonly maxEntries: number = DEFAULT_MAX_ENTRIES,
    readonly maxHeadBytes: number = DEFAULT_MAX_HEAD_BYTES,
  ) {}

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Forgets every entry: their answers rested on rules (a site's
   * `_redirects` and `_headers`) that just changed.
   */
  clear(): void {
    this.#entries.clear();
  }

  /** The entry for the head `buf[start..end)`, if it was seen before. */
  find(buf: Uint8Array, start: number, end: number): ReplayEntry | undefined {
    if (end - start > this.maxHeadBytes || this.#entries.size === 0) {
      return undefined;
    }
    const entry = this.#entries.get(hashBytes(buf, start, end));
    return entry !== undefined && sameBytes(entry.request, buf, start, end)
      ? entry
      : undefined;
  }

  /**
   * Remembers how the head `buf[start..end)` was answered. The caller
   * vouches that the answer depended only on those bytes, the file at
   * `path` and the clock.
   */
  add(
    buf: Uint8Array,
    start: number,
    end: number,
    answer: Omit<ReplayEntry, "request">,
  ): void {
    if (end - start > this.maxHeadBytes || this.maxEntries <= 0) return;
    const hash = hashBytes(buf, start, end);
    const entries = this.#entries;
    if (!entries.has(hash) && entries.size >= this.maxEntries) {
      entries.delete(entries.keys().next().value!);
    }
    entries.set(hash, { request: buf.slice(start, end), ...answer });
  }
}
