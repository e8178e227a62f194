/**
 * The hot-file cache: small files held in memory with their validators,
 * so a repeated request costs one `stat` instead of open, read and close.
 * An entry is used only while the file's inode, size, mtime and ctime are
 * exactly those it was read with, so a changed file is never served stale.
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
 * Most paths remembered as verified (or with their sidecars) before the
 * memory starts over.
 */
const MAX_VERIFIED = 4096;

/** Sidecar codings found beside a file, and when they were looked for. */
export interface SidecarsSeen {
  codings: string[];
  checkedAt: number;
}

/** A cached file: its stamp, its bytes and facts derived from them once. */
export interface CachedFile {
  stamp: FileStamp;
  body: Uint8Array;
  /** Facts derived from the path and stamp, owned by the responder. */
  facts?: unknown;
  /**
   * Complete responses made this second, by kind of request (the responder
   * decides the index); reused until the Date header changes.
   */
  ready?: { second: number; bytes: Uint8Array }[];
}

/**
 * A byte-bounded map from file path to contents, least recently used out
 * first. Only files up to `maxFileBytes` are kept.
 */
export class FileCache {
  #entries = new Map<string, CachedFile>();
  #verified = new Map<string, { stamp: FileStamp; facts?: unknown }>();
  #sidecars = new Map<string, SidecarsSeen>();
  #bytes = 0;

  constructor(readonly maxBytes: number, readonly maxFileBytes: number) {}

  /** Total bytes of file contents held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Returns the entry for `path` if it still matches `stamp`; drops a
   * stale one. Recency is not refreshed on every hit (a Map delete and
   * insert per request costs more than the eviction order gains).
   */
  get(path: string, stamp: FileStamp): CachedFile | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    if (sameStamp(entry.stamp, stamp)) return entry;
    this.#delete(path, entry);
    return undefined;
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

  /** True when a file of this size is worth caching. */
  accepts(size: number): boolean {
    return size <= this.maxFileBytes && size <= this.maxBytes;
  }

  /** Stores contents read with `stamp`, evicting old entries to fit. */
  set(path: string, stamp: FileStamp, body: Uint8Array): CachedFile {
    const entry: CachedFile = { stamp, body };
    if (!this.accepts(body.length) || !isSettled(stamp)) return entry;
    const old = this.#entries.get(path);
    if (old !== undefined) this.#delete(path, old);
    this.#entries.set(path, entry);
    this.#bytes += body.length;
    for (const [key, value] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#delete(key, value);
    }
    return entry;
  }

  /**
   * Remembers that `path` with this stamp passed the containment checks,
   * for files too large to cache, so a repeated request skips realpath.
   */
  markVerified(path: string, stamp: FileStamp): void {
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(path, { stamp });
  }

  /** True when `path` is cached or was verified with exactly this stamp. */
  isVerified(path: string, stamp: FileStamp): boolean {
    const known = this.#verified.get(path);
    return known !== undefined && sameStamp(known.stamp, stamp);
  }

  /**
   * Facts the responder derived for a verified file that is not cached
   * (the counterpart of {@linkcode CachedFile.facts}), while the stamp
   * still matches.
   */
  factsOf(path: string, stamp: FileStamp): unknown {
    const known = this.#verified.get(path);
    return known !== undefined && sameStamp(known.stamp, stamp)
      ? known.facts
      : undefined;
  }

  /** Keeps facts for a verified, uncached file with this stamp. */
  rememberFacts(path: string, stamp: FileStamp, facts: unknown): void {
    const known = this.#verified.get(path);
    if (known !== undefined && sameStamp(known.stamp, stamp)) {
      known.facts = facts;
    }
  }

  /**
   * What was found beside `path` when last looked for (for any file,
   * cached or not: looking costs a failed stat per coding).
   */
  sidecarsSeen(path: string): SidecarsSeen | undefined {
    return this.#sidecars.get(path);
  }

  /** Remembers the sidecars found beside `path`. */
  rememberSidecars(path: string, seen: SidecarsSeen): void {
    if (this.#sidecars.size >= MAX_VERIFIED) this.#sidecars.clear();
    this.#sidecars.set(path, seen);
  }

  #delete(path: string, entry: CachedFile): void {
    this.#entries.delete(path);
    this.#bytes -= entry.body.length;
  }
}
