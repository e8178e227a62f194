/**
 * Opening files to serve, and deciding on what was opened. Every file pws
 * reads (served files, indexes, sidecars, NotFound.html, listing entries)
 * goes through {@linkcode openVerified}:
 *
 * 1. open without blocking: `O_NONBLOCK` makes opening a FIFO return at
 *    once (a blocking open would wait for a writer and freeze the event
 *    loop), and `O_NOCTTY` keeps a terminal device from becoming ours;
 * 2. `stat` the handle, and require a regular file;
 * 3. ask the kernel where the opened file is (`/proc/self/fd/N`), and
 *    require that real path to lie under the root's real path and not to
 *    be hidden by the dotfile policy.
 *
 * What was checked is what is read: no path is looked up twice, so no swap
 * of a symlink or a directory between a check and an open can slip an
 * outside file in.
 *
 * Deno lets a program read `/proc/self/fd` only with `--allow-all` (as
 * `deno task start` and the compiled `pws` run). Without it (or on another
 * OS), step 3 falls back to the real path of the name plus device-and-inode
 * comparisons with the handle, before and after a second lookup: a
 * directory on the way swapped for a link at exactly the wrong
 * microseconds could still slip through, so the server says so at start.
 *
 * Handles are plain descriptors read with `pread` (`fs.readSync` with a
 * position), so one open file can serve concurrent ranges.
 *
 * @module
 */

import fs from "node:fs";
import { sep } from "node:path";
import { type FileStamp, stampOf } from "./cache.ts";

/** What to do with dotfiles and dot-directories. */
export type DotfilesPolicy = "allow" | "deny" | "ignore";

/** Where files may come from: the root's real path and the dot policy. */
export interface ServePolicy {
  /** The root's real path (no trailing separator unless it is `/`). */
  rootReal: string;
  /** allow: serve; deny: 403; ignore: 404 as if absent. */
  dotfiles: DotfilesPolicy;
}

/** A regular file opened for reading and verified to be servable. */
export interface OpenFile {
  /** The descriptor; read with {@linkcode readAt}, close once. */
  fd: number;
  /** What `stat` said of the opened file. */
  stamp: FileStamp;
  /** Where the kernel says the opened file is. */
  realPath: string;
}

/** A directory opened and verified to be servable. */
export interface OpenDirectory {
  fd: number;
  realPath: string;
  /** A path that names exactly this open directory, for reading it. */
  handlePath: string;
}

/** The status to refuse a path with: 403 (denied) or 404 (not there). */
export type RefusalStatus = 403 | 404 | 500;

const { O_RDONLY, O_NONBLOCK, O_NOCTTY, O_DIRECTORY } = fs.constants;
const FILE_FLAGS = O_RDONLY | O_NONBLOCK | O_NOCTTY;
const DIRECTORY_FLAGS = FILE_FLAGS | O_DIRECTORY;

/**
 * Maps a file-system error to the status a client sees: missing, "not a
 * directory" (a path through a file), too long or a symlink loop → 404;
 * permission → 403; anything else → 500. The status text is fixed, so
 * nothing about the file system leaks.
 */
export function statusForFsError(err: unknown): RefusalStatus {
  if (
    err instanceof Deno.errors.NotFound ||
    err instanceof Deno.errors.NotADirectory ||
    err instanceof Deno.errors.FilesystemLoop ||
    err instanceof Deno.errors.InvalidData ||
    // Deno's own permissions refuse a path outside what pws may read.
    err instanceof Deno.errors.NotCapable
  ) {
    return 404;
  }
  if (err instanceof Deno.errors.PermissionDenied) return 403;
  const code = (err as { code?: string })?.code;
  if (
    code === "ENOENT" || code === "ENAMETOOLONG" || code === "ENOTDIR" ||
    code === "ELOOP" || code === "ENXIO" || code === "ENODEV"
  ) {
    return 404;
  }
  if (code === "EACCES" || code === "EPERM") return 403;
  return 500;
}

/** True when `realPath` is the root itself or inside it. */
export function isInsideRoot(rootReal: string, realPath: string): boolean {
  return realPath === rootReal || rootReal === sep ||
    (realPath.startsWith(rootReal) &&
      realPath.charCodeAt(rootReal.length) === sep.charCodeAt(0));
}

/** True when the policy hides a real path that runs through a dot name. */
export function isHiddenBelow(policy: ServePolicy, realPath: string): boolean {
  if (policy.dotfiles === "allow") return false;
  const rest = realPath.slice(policy.rootReal.length);
  for (let i = 0; i < rest.length; i++) {
    if (rest.charCodeAt(i) === 46 /* . */ && (i === 0 || rest[i - 1] === sep)) {
      return true;
    }
  }
  return false;
}

/**
 * The status to refuse a real path with, or undefined when it may be
 * served: outside the root → 404; hidden by the dotfile policy → 403 or
 * 404 as the policy says.
 */
export function refusalFor(
  policy: ServePolicy,
  realPath: string,
): 403 | 404 | undefined {
  if (!isInsideRoot(policy.rootReal, realPath)) return 404;
  if (isHiddenBelow(policy, realPath)) {
    return policy.dotfiles === "deny" ? 403 : 404;
  }
  return undefined;
}

/** The kernel's name for an open descriptor (Linux `/proc`). */
function handlePath(fd: number): string {
  return "/proc/self/fd/" + fd;
}

let kernelPaths: boolean | undefined;

/**
 * True when the kernel can tell where an open file is (`/proc/self/fd` is
 * readable). Decided once, on first use, by opening `probeDir`.
 */
export function kernelPathsAvailable(probeDir = "."): boolean {
  if (kernelPaths === undefined) {
    let fd = -1;
    try {
      fd = fs.openSync(probeDir, DIRECTORY_FLAGS);
      kernelPaths = Deno.readLinkSync(handlePath(fd)) ===
        Deno.realPathSync(probeDir);
    } catch {
      kernelPaths = false;
    } finally {
      if (fd >= 0) closeQuietly(fd);
    }
  }
  return kernelPaths;
}

/** What the opened descriptor is, and where: undefined when unknown. */
function describeHandle(
  fd: number,
  openedAs: string,
): { info: Deno.FileInfo; realPath: string } | undefined {
  if (kernelPathsAvailable()) {
    const path = handlePath(fd);
    const info = Deno.statSync(path);
    const realPath = Deno.readLinkSync(path);
    // A file unlinked since it was opened has no place in the root (the
    // kernel then appends " (deleted)" to its old name).
    if (info.nlink === 0 || realPath.charCodeAt(0) !== 47 /* / */) {
      return undefined;
    }
    return { info, realPath };
  }
  return describeByName(fd, openedAs);
}

/**
 * Without kernel paths: the name's real path must lead to the very inode
 * that was opened, and still do so after a second look. Between an open
 * and a real-path lookup a directory on the way can be swapped for a link
 * and back; to slip an outside file through, it would have to be swapped
 * at each of these calls in turn, within microseconds.
 */
function describeByName(
  fd: number,
  openedAs: string,
): { info: Deno.FileInfo; realPath: string } | undefined {
  const handle = fs.fstatSync(fd);
  const realPath = Deno.realPathSync(openedAs);
  const named = Deno.lstatSync(realPath);
  if (named.dev !== handle.dev || named.ino !== handle.ino) return undefined;
  if (Deno.realPathSync(openedAs) !== realPath) return undefined;
  const again = Deno.lstatSync(realPath);
  if (again.dev !== handle.dev || again.ino !== handle.ino) return undefined;
  return { info: again, realPath };
}

/**
 * Opens `path` for reading without ever blocking, and accepts it only if
 * what was opened is a regular file whose real location the policy allows.
 * Returns the open file, or the status to answer instead.
 */
export function openVerified(
  path: string,
  policy: ServePolicy,
): OpenFile | RefusalStatus {
  let fd: number;
  try {
    fd = fs.openSync(path, FILE_FLAGS);
  } catch (err) {
    return statusForFsError(err);
  }
  try {
    const described = describeHandle(fd, path);
    if (described === undefined || !described.info.isFile) {
      closeQuietly(fd);
      return 404;
    }
    const refusal = refusalFor(policy, described.realPath);
    if (refusal !== undefined) {
      closeQuietly(fd);
      return refusal;
    }
    return { fd, stamp: stampOf(described.info), realPath: described.realPath };
  } catch (err) {
    closeQuietly(fd);
    return statusForFsError(err);
  }
}

/**
 * Opens a directory the same way (never blocking, verified where it really
 * is). Its {@linkcode OpenDirectory.handlePath} reads this very directory
 * even if its name is swapped meanwhile (with kernel paths available).
 */
export function openVerifiedDirectory(
  path: string,
  policy: ServePolicy,
): OpenDirectory | RefusalStatus {
  let fd: number;
  try {
    fd = fs.openSync(path, DIRECTORY_FLAGS);
  } catch (err) {
    return statusForFsError(err);
  }
  try {
    const described = describeHandle(fd, path);
    if (described === undefined || !described.info.isDirectory) {
      closeQuietly(fd);
      return 404;
    }
    const refusal = refusalFor(policy, described.realPath);
    if (refusal !== undefined) {
      closeQuietly(fd);
      return refusal;
    }
    return {
      fd,
      realPath: described.realPath,
      handlePath: kernelPathsAvailable() ? handlePath(fd) : described.realPath,
    };
  } catch (err) {
    closeQuietly(fd);
    return statusForFsError(err);
  }
}

/** Closes a descriptor, ignoring one already closed. */
export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * Reads into `target` from `position` until it is full or the file ends
 * (positional reads: the descriptor has no position to move). Returns the
 * bytes read.
 */
export function readFullyAt(
  fd: number,
  target: Uint8Array,
  position: number,
): number {
  let filled = 0;
  while (filled < target.length) {
    const n = fs.readSync(
      fd,
      target,
      filled,
      target.length - filled,
      position + filled,
    );
    if (n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * Reads up to `target.length` bytes from `position` off the event loop
 * (in the runtime's thread pool); resolves with the bytes read, 0 at the
 * end of the file.
 */
export function readAt(
  fd: number,
  target: Uint8Array,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, target, 0, target.length, position, (err, n) => {
      if (err) reject(err);
      else resolve(n);
    });
  });
}
