/**
 * The hot-file cache: what pws remembers about files it opened and
 * verified (see open.ts), so that a repeated request costs one `stat`
 * instead of open, read and close. An entry is used only while the path's
 * `stat` shows exactly the inode, size, mtime and ctime it was read with,
 * so a changed or replaced file is never served stale, and a hit never
 * vouches for a file the cache did not open itself.
 *
 * One byte budget (`--cache-size`) bounds everything an entry holds: the
 * file's bytes, its compressed variants, the complete responses made from
 * it, and an estimate of the entry's own overhead. The number of entries
 * is bounded too. The oldest entries go first.
 *
 * @module
 */

/** The identity of a file's contents as far as `stat` can tell. */
export interface FileStamp {
  ino: number | null;
  dev: number;
  size: number;
  mtimeMs: number | null;
  ctimeMs: number | null;
}

/** Reads the stamp of a Deno.FileInfo. */
export function stampOf(info: Deno.FileInfo): FileStamp {
  return {
    ino: info.ino,
    dev: info.dev,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? null,
    ctimeMs: info.ctime?.getTime() ?? null,
  };
}

/** True when `info` (a fresh stat) still describes the stamped contents. */
export function stampMatches(stamp: FileStamp, info: Deno.FileInfo): boolean {
  return stamp.ino === info.ino && stamp.dev === info.dev &&
    stamp.size === info.size &&
    stamp.mtimeMs === (info.mtime?.getTime() ?? null) &&
    stamp.ctimeMs === (info.ctime?.getTime() ?? null);
}

/** True when two stamps describe the same contents. */
export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size &&
    a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * True when `stat` can tell any later change of the file from its current
 * state. Deno reports ctime in whole seconds, so two writes within the
 * same second can leave identical stamps (same size, mtime put back); a
 * file whose ctime is this second or the last is not settled yet. pws does
 * not cache such a file nor give it validators.
 */
export function isSettled(
  stamp: FileStamp,
  nowMs: number = Date.now(),
): boolean {
  const changed = stamp.ctimeMs ?? stamp.mtimeMs;
  if (changed === null) return false;
  return Math.floor(nowMs / 1000) > Math.floor(changed / 1000) + 1;
}

/**
 * A complete response kept for reuse within one second: its serialized
 * head (with a small body appended), and, when the body is larger, the
 * body to send after it (the entry's own contents, not a copy).
 */
export interface ReadyResponse {
  /** The second of its Date header. */
  second: number;
  /** Its status (for the access log). */
  status: number;
  /** The head, followed by the body when that is small. */
  bytes: Uint8Array;
  /** Bytes of the head, at the start of `bytes` (for the log's `%b`). */
  headBytes: number;
  /** The body, when it is not in `bytes` (shared, not counted twice). */
  body?: Uint8Array;
}

/** What the cache remembers of one verified file. */
export interface CachedFile {
  /** The path it was looked up by (the key). */
  readonly path: string;
  /** The opened file's stamp. */
  readonly stamp: FileStamp;
  /** The contents, when small enough to keep. */
  readonly body: Uint8Array | undefined;
  /** Facts derived from the path and stamp, owned by the responder. */
  facts?: unknown;
  /** Compressed variants of `body`, by content coding. */
  variants?: Map<string, Uint8Array>;
  /**
   * Complete responses made this second, by slot (the writer decides the
   * slots); reused until the Date header changes.
   */
  ready?: (ReadyResponse | undefined)[];
  /** Bytes counted against the budget for this entry. */
  cost: number;
  /** The second it was last moved to the young end of the order. */
  touched: number;
}

/**
 * What an entry costs besides the byte arrays it holds, in resident
 * memory: its objects (the entry, stamp, facts, kept replies, map slots:
 * about 2 KiB live) and the room the JS heap keeps beside live objects
 * (V8 sizes its heap at two to three times the live data under load).
 * Measured by the RSS test of tests/adversarial/memory_test.ts: 20,000
 * tiny cached files cost about 5 KiB each.
 */
export const ENTRY_OVERHEAD_BYTES = 4096;
const ARRAY_OVERHEAD_BYTES = 256;

/** Most paths whose sidecar files are remembered (a few hundred KiB). */
const MAX_SIDECAR_MEMOS = 4096;

/** Default bound on the number of entries. */
export const DEFAULT_MAX_ENTRIES = 65_536;

/** Sidecar codings found beside a file, and when they were looked for. */
export interface SidecarsSeen {
  codings: string[];
  checkedAt: number;
}

/**
 * A byte-bounded, entry-bounded map from path to what pws knows of the
 * file there. Files up to `maxFileBytes` keep their contents; larger ones
 * only their facts.
 */
export class FileCache {
  #entries = new Map<string, CachedFile>();
  #sidecars = new Map<string, SidecarsSeen>();
  #bytes = 0;
  #variantBytes = 0;
  /** File responses whose bytes came from here (counted by serveFile). */
  hits = 0;
  /** File responses whose bytes were read from disk (counted by serveFile). */
  misses = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxFileBytes: number,
    readonly maxEntries: number = DEFAULT_MAX_ENTRIES,
  ) {}

  /** Bytes counted for all entries (contents, responses, overhead). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of compressed variants held (part of {@linkcode bytes}). */
  get variantBytes(): number {
    return this.#variantBytes;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns the entry for `path` if it still matches `stamp`; drops a
   * stale one. An entry used is moved to the young end at most once a
   * second (a Map delete and insert per request would cost more than the
   * eviction order gains).
   */
  get(path: string, stamp: FileStamp): CachedFile | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    if (!sameStamp(entry.stamp, stamp)) {
      this.#delete(entry);
      return undefined;
    }
    this.#touch(entry);
    return entry;
  }

  /**
   * Returns the entry for `path` if a fresh stat `info` still matches it,
   * without building a stamp (the replay path's check).
   */
  getIfUnchanged(path: string, info: Deno.FileInfo): CachedFile | undefined {
    const entry = this.#entries.get(path);
    return entry !== undefined && stampMatches(entry.stamp, info)
      ? entry
      : undefined;
  }

  /** True when a file of this size may keep its contents here. */
  accepts(size: number): boolean {
    return size <= this.maxFileBytes && size <= this.maxBytes;
  }

  /**
   * Remembers a verified file: its contents when given (and accepted), or
   * only its stamp (for facts). Unsettled files are not remembered; the
   * returned entry then stands alone. Evicts old entries to fit.
   */
  set(
    path: string,
    stamp: FileStamp,
    body: Uint8Array | undefined,
  ): CachedFile {
    const kept = body !== undefined && this.accepts(body.length)
      ? body
      : undefined;
    const entry: CachedFile = {
      path,
      stamp,
      body: kept,
      cost: ENTRY_OVERHEAD_BYTES + 2 * path.length + arrayCost(kept),
      touched: currentSecond(),
    };
    if (!isSettled(stamp) || entry.cost > this.maxBytes) return entry;
    const old = this.#entries.get(path);
    if (old !== undefined) this.#delete(old);
    this.#entries.set(path, entry);
    this.#bytes += entry.cost;
    this.#evict();
    return entry;
  }

  /**
   * Keeps a complete response on an entry, counted against the budget.
   * Ignored for an entry no longer held (replaced or evicted).
   */
  setReady(entry: CachedFile, slot: number, ready: ReadyResponse): void {
    if (this.#entries.get(entry.path) !== entry) return;
    entry.ready ??= [];
    const old = entry.ready[slot];
    entry.ready[slot] = ready;
    // A body kept by reference is the entry's own, already counted.
    this.#grow(entry, arrayCost(ready.bytes) - arrayCost(old?.bytes));
  }

  /** Keeps a compressed variant of an entry's contents. */
  setVariant(entry: CachedFile, coding: string, bytes: Uint8Array): void {
    if (this.#entries.get(entry.path) !== entry) return;
    entry.variants ??= new Map();
    const old = entry.variants.get(coding);
    entry.variants.set(coding, bytes);
    this.#variantBytes += bytes.length - (old?.length ?? 0);
    this.#grow(entry, arrayCost(bytes) - arrayCost(old));
  }

  /**
   * What was found beside `path` when last looked for (for any file,
   * cached or not: looking costs a failed stat per coding).
   */
  sidecarsSeen(path: string): SidecarsSeen | undefined {
    return this.#sidecars.get(path);
  }

  /** Remembers the sidecars found beside `path` (a bounded memo). */
  rememberSidecars(path: string, seen: SidecarsSeen): void {
    if (this.#sidecars.size >= MAX_SIDECAR_MEMOS) this.#sidecars.clear();
    this.#sidecars.set(path, seen);
  }

  #grow(entry: CachedFile, delta: number): void {
    entry.cost += delta;
    this.#bytes += delta;
    this.#evict();
  }

  #touch(entry: CachedFile): void {
    const second = currentSecond();
    if (entry.touched === second) return;
    entry.touched = second;
    this.#entries.delete(entry.path);
    this.#entries.set(entry.path, entry);
  }

  #evict(): void {
    for (const entry of this.#entries.values()) {
      if (
        this.#bytes <= this.maxBytes && this.#entries.size <= this.maxEntries
      ) {
        break;
      }
      this.#delete(entry);
    }
  }

  #delete(entry: CachedFile): void {
    this.#entries.delete(entry.path);
    this.#bytes -= entry.cost;
    for (const variant of entry.variants?.values() ?? []) {
      this.#variantBytes -= variant.length;
    }
  }
}

/** What holding a byte array costs (nothing for none). */
function arrayCost(bytes: Uint8Array | undefined): number {
  return bytes === undefined ? 0 : ARRAY_OVERHEAD_BYTES + bytes.length;
}

function currentSecond(): number {
  return Math.floor(Date.now() / 1000);
}
