/**
 * Open descriptors kept between requests, for files served from disk
 * (too large for the memory cache). Opening costs an `open`, a `stat`, a
 * kernel-path check and a `close` per request (see open.ts); a range
 * request into a large file is little more than that.
 *
 * Descriptors are read with positional reads, so one open file serves any
 * number of concurrent requests. A pooled file is handed out only while a
 * fresh `stat` of its path still matches the stamp it was opened with
 * (same inode, size and times), and only for settled files, the rule of
 * the memory cache: a changed or replaced file is never read through an
 * old descriptor. Every file in the pool was verified when it was opened.
 *
 * @module
 */

import { type FileStamp, isSettled, stampMatches } from "./cache.ts";
import { closeQuietly, type OpenFile } from "./open.ts";

/** Descriptors kept open at most, over all paths. */
export const DEFAULT_MAX_OPEN_HANDLES = 64;

/**
 * How long an unused descriptor stays open. An open file keeps a deleted
 * file's disk space allocated, so it must not linger.
 */
export const IDLE_HANDLE_MS = 10_000;

interface Pooled {
  path: string;
  file: OpenFile;
  /** Requests reading through it now. */
  users: number;
  /** When it was last given back. */
  lastUsed: number;
  /** Replaced by a newer file at its path: closed once unused. */
  stale: boolean;
}

/** A bounded pool of open files, shared by the requests that read them. */
export class FileHandlePool {
  #byPath = new Map<string, Pooled>();
  #byFd = new Map<number, Pooled>();

  constructor(readonly maxOpen: number = DEFAULT_MAX_OPEN_HANDLES) {}

  /** Number of descriptors the pool holds (in use or idle). */
  get size(): number {
    return this.#byFd.size;
  }

  /**
   * Hands out the pooled file of `path` if `info` (a fresh stat of the
   * path) shows the same file it was opened on. A stale one is retired.
   */
  take(path: string, info: Deno.FileInfo): OpenFile | undefined {
    const pooled = this.#byPath.get(path);
    if (pooled === undefined) return undefined;
    if (!stampMatches(pooled.file.stamp, info)) {
      this.#retire(pooled);
      return undefined;
    }
    pooled.users++;
    return pooled.file;
  }

  /**
   * Takes a file back once a response is done with it: a pooled one is
   * kept for the next request, a fresh one joins the pool when there is
   * room and the file is settled, else it is closed.
   */
  give(path: string, file: OpenFile, now: number = Date.now()): void {
    const pooled = this.#byFd.get(file.fd);
    if (pooled !== undefined && pooled.file === file) {
      pooled.users--;
      pooled.lastUsed = now;
      if (pooled.stale && pooled.users === 0) this.#close(pooled);
      return;
    }
    if (this.#byFd.size >= this.maxOpen || !isSettled(file.stamp)) {
      closeQuietly(file.fd);
      return;
    }
    const old = this.#byPath.get(path);
    if (old !== undefined) this.#retire(old);
    const fresh: Pooled = { path, file, users: 0, lastUsed: now, stale: false };
    this.#byPath.set(path, fresh);
    this.#byFd.set(file.fd, fresh);
  }

  /**
   * Closes the files unused for {@linkcode IDLE_HANDLE_MS} (the server's
   * sweeper calls this about once a second).
   */
  closeUnused(now: number = Date.now()): void {
    for (const pooled of this.#byFd.values()) {
      if (pooled.users === 0 && now - pooled.lastUsed >= IDLE_HANDLE_MS) {
        this.#retire(pooled);
      }
    }
  }

  /** Closes every file no request is reading (at server shutdown). */
  closeAll(): void {
    for (const pooled of this.#byFd.values()) this.#retire(pooled);
  }

  /** The stamp of the file pooled for `path`, if any (for tests). */
  stampOf(path: string): FileStamp | undefined {
    return this.#byPath.get(path)?.file.stamp;
  }

  /** No longer handed out; closed now if unused, else by its last user. */
  #retire(pooled: Pooled): void {
    if (this.#byPath.get(pooled.path) === pooled) {
      this.#byPath.delete(pooled.path);
    }
    pooled.stale = true;
    if (pooled.users === 0) this.#close(pooled);
  }

  #close(pooled: Pooled): void {
    this.#byFd.delete(pooled.file.fd);
    closeQuietly(pooled.file.fd);
  }
}
