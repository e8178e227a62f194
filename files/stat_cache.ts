/**
 * `stat` answers kept while the watcher (watch.ts) vouches for them: the
 * one place pws asks what a path is (lookups, cache checks, replay, open
 * files, sidecars, NotFound.html) goes through here, so that a repeated
 * request makes no file-system call at all. An answer is dropped as soon
 * as the watcher reports a change at its path, at a directory above it, or
 * at the real file a symlink on its way leads to. Missing paths are
 * remembered the same way (so a 404 or an absent sidecar costs nothing
 * either). Without a healthy watcher every call is a real `stat`.
 *
 * What is never kept: a file with several hard links (a write through a
 * link outside the root raises no event here), and anything under a
 * directory created less than a second ago (the kernel watch on a new
 * directory is added a moment after it appears).
 *
 * Memory: at most {@linkcode MAX_STAT_ENTRIES} answers (about 0.6 KiB
 * each); past that the cache starts over.
 *
 * @module
 */

import type { WatchSubscriber } from "./watch.ts";

/** Answers kept at most. */
export const MAX_STAT_ENTRIES = 4096;
/** Directories created recently enough that their watch may lag. */
const NEW_DIRECTORY_MS = 1000;
const MAX_NEW_DIRECTORIES = 256;
/** Paths filed under one real location at most. */
const MAX_ALIASES = 64;

/** A kept answer: the info, or the error `stat` threw. */
interface Answer {
  info?: Deno.FileInfo;
  error?: unknown;
}

/** A node of the path tree, one per path segment. */
interface Node {
  children?: Map<string, Node>;
  /** The answer for this exact path. */
  answer?: Answer;
  /** Paths kept whose real location is this one or below. */
  aliases?: string[];
}

/** The stat cache of one root. */
export class StatCache implements WatchSubscriber {
  #root: Node = {};
  #count = 0;
  #vouched: boolean;
  /** Recent `create` events, by path, with when they came. */
  #created = new Map<string, number>();
  /** Calls answered from memory and by the file system (for tests). */
  hits = 0;
  misses = 0;

  /**
   * A cache that keeps answers only while `vouched` (the watcher is
   * healthy): subscribe it to the watcher.
   */
  constructor(readonly rootReal: string, vouched = false) {
    this.#vouched = vouched;
  }

  /** True while answers are kept. */
  get vouched(): boolean {
    return this.#vouched;
  }

  /** Number of answers kept. */
  get size(): number {
    return this.#count;
  }

  /** `Deno.statSync(path)`, from memory when the watcher vouches for it. */
  stat(path: string): Deno.FileInfo {
    if (!this.#vouched) return Deno.statSync(path);
    const node = this.#find(path, false);
    const answer = node?.answer;
    if (answer !== undefined) {
      this.hits++;
      if (answer.info !== undefined) return answer.info;
      throw answer.error;
    }
    this.misses++;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) this.#keep(path, { error });
      throw error;
    }
    if (info.isDirectory || (info.isFile && info.nlink === 1)) {
      this.#keep(path, { info: slimInfo(info) });
    }
    return info;
  }

  /**
   * Keeps `answer` for `path` unless a directory on its way is too new.
   * When a symlink on the way leads elsewhere, the answer is also filed
   * under where it really is, so that changes there drop it too.
   */
  #keep(path: string, answer: Answer): void {
    if (!path.startsWith(this.rootReal) || this.#underNewDirectory(path)) {
      return;
    }
    let real: string;
    try {
      if (answer.info !== undefined) real = Deno.realPathSync(path);
      else {
        const slash = path.lastIndexOf("/");
        real = Deno.realPathSync(path.slice(0, slash) || "/") +
          path.slice(slash);
      }
    } catch {
      return;
    }
    if (this.#count >= MAX_STAT_ENTRIES) this.#clear();
    const node = this.#find(path, true)!;
    if (node.answer === undefined) this.#count++;
    node.answer = answer;
    if (real !== path) {
      const target = this.#find(real, true)!;
      const aliases = target.aliases ??= [];
      if (!aliases.includes(path)) aliases.push(path);
      // Links flipped back and forth must not grow a list without end.
      if (aliases.length > MAX_ALIASES) this.#clear();
    }
  }

  #underNewDirectory(path: string): boolean {
    if (this.#created.size === 0) return false;
    const now = Date.now();
    for (const [dir, at] of this.#created) {
      if (now - at >= NEW_DIRECTORY_MS) {
        this.#created.delete(dir);
        continue;
      }
      if (path.startsWith(dir + "/")) return true;
    }
    return false;
  }

  changed(paths: readonly string[]): void {
    for (const path of paths) {
      if (this.#created.size >= MAX_NEW_DIRECTORIES) this.#created.clear();
      // Any path may be a new directory: the event does not say.
      this.#created.set(path, Date.now());
      this.#drop(path, 0);
    }
  }

  lost(_reason: string): void {
    this.#vouched = false;
    this.#clear();
  }

  /** Drops the answers at `path`, below it, and their aliases. */
  #drop(path: string, depth: number): void {
    const node = this.#find(path, false);
    if (node === undefined) return;
    const aliases: string[] = [];
    this.#count -= countAndCollect(node, aliases);
    node.answer = undefined;
    node.children = undefined;
    node.aliases = undefined;
    // An alias may itself be an alias target: bounded, as links are.
    if (depth < 8) {
      for (const alias of aliases) {
        this.#drop(alias, depth + 1);
      }
    }
  }

  #clear(): void {
    this.#root = {};
    this.#count = 0;
  }

  /** The node of `path`, made on the way when `create`. */
  #find(path: string, create: boolean): Node | undefined {
    let node = this.#root;
    let start = 1;
    while (start <= path.length) {
      let end = path.indexOf("/", start);
      if (end < 0) end = path.length;
      if (end > start) {
        const segment = path.slice(start, end);
        let child = node.children?.get(segment);
        if (child === undefined) {
          if (!create) return undefined;
          child = {};
          (node.children ??= new Map()).set(segment, child);
        }
        node = child;
      }
      start = end + 1;
    }
    return node;
  }
}

/**
 * The fields pws reads from a kept answer (kind, size, stamp, mode), with
 * the rest null: about half the memory of the full record.
 */
function slimInfo(info: Deno.FileInfo): Deno.FileInfo {
  return {
    isFile: info.isFile,
    isDirectory: info.isDirectory,
    isSymlink: false,
    isBlockDevice: false,
    isCharDevice: false,
    isFifo: false,
    isSocket: false,
    size: info.size,
    mtime: info.mtime,
    ctime: info.ctime,
    atime: null,
    birthtime: null,
    dev: info.dev,
    ino: info.ino,
    mode: info.mode,
    nlink: info.nlink,
    uid: null,
    gid: null,
    rdev: null,
    blksize: null,
    blocks: null,
  };
}

/** Counts the answers in a subtree and gathers its aliases. */
function countAndCollect(node: Node, aliases: string[]): number {
  let count = node.answer === undefined ? 0 : 1;
  if (node.aliases !== undefined) aliases.push(...node.aliases);
  if (node.children !== undefined) {
    for (const child of node.children.values()) {
      count += countAndCollect(child, aliases);
    }
  }
  return count;
}
