/**
 * Open file handles kept between requests, for files served from disk
 * (too large for the memory cache). Opening costs an `open` (which Deno's
 * permission check makes dearer), an `fstat` and a `close` per request;
 * a range request into a large file is little more than that.
 *
 * A handle is lent to one request at a time, never shared, so concurrent
 * reads cannot move each other's file position. It is lent again only
 * while a fresh `stat` of its path still matches the stamp it was opened
 * with (same inode, size and times), and only for settled files, the rule
 * of the memory cache: a changed or replaced file is never read through an
 * old handle.
 *
 * @module
 */

import { type FileStamp, isSettled, sameStamp, stampMatches } from "./cache.ts";

/** Handles kept open (idle) at most, over all paths. */
export const DEFAULT_MAX_IDLE_HANDLES = 64;

/**
 * How long a path's handles stay open unused. An open handle keeps a
 * deleted file's disk space allocated, so it must not linger.
 */
export const IDLE_HANDLE_MS = 10_000;

interface IdleHandles {
  stamp: FileStamp;
  files: Deno.FsFile[];
  /** When a handle of this path was last given back. */
  lastGiven: number;
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // already closed
  }
}

/** A bounded pool of idle open files, by path. */
export class FileHandlePool {
  #idle = new Map<string, IdleHandles>();
  #count = 0;

  constructor(readonly maxIdle: number = DEFAULT_MAX_IDLE_HANDLES) {}

  /** Number of idle handles held. */
  get size(): number {
    return this.#count;
  }

  /**
   * Lends an idle handle of `path`, rewound to the start, if `info` (a
   * fresh stat of the path) shows the same file it was opened on. Stale
   * handles of the path are closed.
   */
  take(
    path: string,
    info: Deno.FileInfo,
  ): { file: Deno.FsFile; stamp: FileStamp } | undefined {
    const idle = this.#idle.get(path);
    if (idle === undefined) return undefined;
    if (!stampMatches(idle.stamp, info)) {
      this.#drop(path, idle);
      return undefined;
    }
    const file = idle.files.pop()!;
    this.#count--;
    if (idle.files.length === 0) this.#idle.delete(path);
    try {
      file.seekSync(0, Deno.SeekMode.Start);
    } catch {
      closeQuietly(file);
      return undefined;
    }
    return { file, stamp: idle.stamp };
  }

  /**
   * Takes a handle back once a response is done with it, or closes it
   * when the pool is full or the file not settled.
   */
  give(
    path: string,
    stamp: FileStamp,
    file: Deno.FsFile,
    now: number = Date.now(),
  ): void {
    if (this.#count >= this.maxIdle || !isSettled(stamp)) {
      closeQuietly(file);
      return;
    }
    let idle = this.#idle.get(path);
    if (idle !== undefined && !sameStamp(idle.stamp, stamp)) {
      this.#drop(path, idle);
      idle = undefined;
    }
    if (idle === undefined) {
      idle = { stamp, files: [], lastGiven: now };
      this.#idle.set(path, idle);
    }
    idle.files.push(file);
    idle.lastGiven = now;
    this.#count++;
  }

  /**
   * Closes the handles of paths not used for {@linkcode IDLE_HANDLE_MS}
   * (the server's sweeper calls this about once a second).
   */
  closeUnused(now: number = Date.now()): void {
    for (const [path, idle] of this.#idle) {
      if (now - idle.lastGiven >= IDLE_HANDLE_MS) this.#drop(path, idle);
    }
  }

  /** Closes every idle handle (at server shutdown). */
  closeAll(): void {
    for (const [path, idle] of this.#idle) this.#drop(path, idle);
  }

  #drop(path: string, idle: IdleHandles): void {
    for (const file of idle.files) closeQuietly(file);
    this.#count -= idle.files.length;
    this.#idle.delete(path);
  }
}
