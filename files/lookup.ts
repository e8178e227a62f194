/**
 * Finding the file for a resolved request path: the one place that asks
 * the file system what a path is, and that enforces containment by real
 * path (so a symlink cannot lead outside the root).
 *
 * Calls are synchronous on purpose: a stat or realpath on a local disk takes
 * microseconds, while every async file call is a round trip through Deno's
 * thread pool that costs more than the call itself.
 *
 * @module
 */

import { join, sep } from "node:path";
import { buildPath, hasDotSegment, type ResolvedTarget } from "./target.ts";
import { type CachedFile, type FileCache, stampOf } from "./cache.ts";

/** The outcome of {@linkcode lookupFile}. */
export type LookupResult =
  | {
    kind: "file";
    path: string;
    info: Deno.FileInfo;
    entry?: CachedFile;
    /**
     * True when the path is the target's own (or its directory's index),
     * false when found by the clean-URL fallback: that answer also rests
     * on another file being absent.
     */
    direct: boolean;
  }
  | { kind: "directory"; path: string }
  | { kind: "redirect"; location: string }
  | { kind: "error"; status: 403 | 404 | 500; cause?: unknown };

/** What to do with dotfiles and dot-directories. */
export type DotfilesPolicy = "allow" | "deny" | "ignore";

/** How paths map to files, set by the command line. */
export interface LookupOptions {
  /** allow: serve; deny: 403; ignore: 404 as if absent (the default). */
  dotfiles: DotfilesPolicy;
  /** `/about` serves `about.html`, and `/about.html` redirects there. */
  cleanUrls: boolean;
  /** Directories without an index are listed instead of 404. */
  dirListing: boolean;
}

/** Name of the file served for a directory. */
export const INDEX_FILE = "index.html";

/** Defaults: hide dotfiles, no clean URLs, no listings. */
export const DEFAULT_LOOKUP_OPTIONS: LookupOptions = {
  dotfiles: "ignore",
  cleanUrls: false,
  dirListing: false,
};

/**
 * Maps a file-system error to the status a client sees: missing, "not a
 * directory" (a path through a file), too long or a symlink loop → 404;
 * permission → 403; anything else → 500. The status text is fixed, so
 * nothing about the file system leaks.
 */
export function statusForFsError(err: unknown): 403 | 404 | 500 {
  if (
    err instanceof Deno.errors.NotFound ||
    err instanceof Deno.errors.NotADirectory ||
    err instanceof Deno.errors.FilesystemLoop ||
    err instanceof Deno.errors.InvalidData
  ) {
    return 404;
  }
  if (err instanceof Deno.errors.PermissionDenied) return 403;
  const code = (err as { code?: string })?.code;
  if (code === "ENAMETOOLONG" || code === "ENOTDIR" || code === "ELOOP") {
    return 404;
  }
  if (code === "EACCES" || code === "EPERM") return 403;
  return 500;
}

/** True when `realPath` is the root itself or inside it. */
export function isInsideRoot(rootReal: string, realPath: string): boolean {
  return realPath === rootReal ||
    (realPath.startsWith(rootReal) &&
      realPath.charCodeAt(rootReal.length) === sep.charCodeAt(0)) ||
    rootReal === sep;
}

function dotfileStatus(policy: DotfilesPolicy): 403 | 404 {
  return policy === "deny" ? 403 : 404;
}

function withQuery(path: string, query: string): string {
  return query === "" ? path : path + "?" + query;
}

function isRegularFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Looks up what serves `target` under `rootReal` (the root's real path).
 * Directories redirect to their slash form, then serve `index.html` (or a
 * listing when enabled). Dotfiles follow the policy; non-regular files and
 * anything whose real path leaves the root are not found.
 */
export function lookupFile(
  rootReal: string,
  target: ResolvedTarget,
  options: LookupOptions = DEFAULT_LOOKUP_OPTIONS,
  cache?: FileCache,
): LookupResult {
  const { segments } = target;
  if (options.dotfiles !== "allow" && hasDotSegment(segments)) {
    return { kind: "error", status: dotfileStatus(options.dotfiles) };
  }
  // Segments are already safe (no "", "." or ".."): plain joining is exact.
  let path = segments.length === 0
    ? rootReal
    : (rootReal.endsWith(sep) ? rootReal : rootReal + sep) + segments.join(sep);
  const last = segments.length === 0 ? "" : segments[segments.length - 1];
  if (
    options.cleanUrls && !target.trailingSlash && last.endsWith(".html") &&
    isRegularFile(path)
  ) {
    // Canonical clean form: /about.html → /about, /docs/index.html → /docs/
    const clean = last === INDEX_FILE
      ? buildPath(segments.slice(0, -1), true)
      : buildPath([...segments.slice(0, -1), last.slice(0, -5)], false);
    return { kind: "redirect", location: withQuery(clean, target.query) };
  }
  let direct = true;
  try {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch (err) {
      if (
        !options.cleanUrls || target.trailingSlash || last === "" ||
        !(err instanceof Deno.errors.NotFound)
      ) {
        throw err;
      }
      path += ".html";
      direct = false;
      info = Deno.statSync(path);
    }
    if (info.isDirectory) {
      // A directory reached through a link that leaves the root must not
      // even be confirmed by a redirect.
      const dirStatus = containmentStatus(rootReal, path, options.dotfiles);
      if (dirStatus !== undefined) return { kind: "error", status: dirStatus };
      if (!target.trailingSlash) {
        return {
          kind: "redirect",
          location: withQuery(buildPath(segments, true), target.query),
        };
      }
      const dir = path;
      path = join(dir, INDEX_FILE);
      try {
        info = Deno.statSync(path);
      } catch (err) {
        if (!options.dirListing || !(err instanceof Deno.errors.NotFound)) {
          throw err;
        }
        return { kind: "directory", path: dir };
      }
    } else if (target.trailingSlash) {
      // "/file.txt/" names a directory that does not exist.
      return { kind: "error", status: 404 };
    }
    if (!info.isFile) return { kind: "error", status: 404 };
    // A cached file was checked when it was cached, and `stat` (which
    // follows links) still finds exactly those contents at this path.
    const stamp = stampOf(info);
    const entry = cache?.get(path, stamp);
    if (entry === undefined && !cache?.isVerified(path, stamp)) {
      const status = containmentStatus(rootReal, path, options.dotfiles);
      if (status !== undefined) return { kind: "error", status };
      cache?.markVerified(path, stamp);
    }
    return { kind: "file", path, info, entry, direct };
  } catch (err) {
    return { kind: "error", status: statusForFsError(err), cause: err };
  }
}

/**
 * Checks that the real path of `path` stays under the root, and applies
 * the dotfile policy to it once symlinks are resolved. Returns the status
 * to refuse with, or undefined when the path may be served.
 */
function containmentStatus(
  rootReal: string,
  path: string,
  dotfiles: DotfilesPolicy,
): 403 | 404 | undefined {
  const real = Deno.realPathSync(path);
  if (!isInsideRoot(rootReal, real)) return 404;
  return isHiddenBelow(rootReal, real, dotfiles)
    ? dotfileStatus(dotfiles)
    : undefined;
}

/** True when the policy hides a real path that runs through a dot name. */
function isHiddenBelow(
  rootReal: string,
  real: string,
  dotfiles: DotfilesPolicy,
): boolean {
  if (dotfiles === "allow") return false;
  return real.slice(rootReal.length).split(sep).some((s) =>
    s.charCodeAt(0) === 46
  );
}

/**
 * True when a real path may be served: inside the root and not hidden by
 * the dotfile policy (used to keep unservable links out of listings).
 */
export function isServable(
  rootReal: string,
  real: string,
  dotfiles: DotfilesPolicy,
): boolean {
  return isInsideRoot(rootReal, real) &&
    !isHiddenBelow(rootReal, real, dotfiles);
}
