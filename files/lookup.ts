/**
 * Finding what serves a resolved request path: the one place that asks the
 * file system what a path is (a file, a directory, nothing). It decides
 * nothing about safety on its own: files are verified when they are
 * opened (open.ts), on what was opened; a directory is opened and verified
 * before a redirect confirms that it exists.
 *
 * Calls are synchronous on purpose: a stat on a local disk takes
 * microseconds, while every async file call is a round trip through Deno's
 * thread pool that costs more than the call itself.
 *
 * @module
 */

import { join, sep } from "node:path";
import { buildPath, hasDotSegment, type ResolvedTarget } from "./target.ts";
import { type CachedFile, type FileCache, stampOf } from "./cache.ts";
import type { StatCache } from "./stat_cache.ts";
import {
  closeQuietly,
  type DotfilesPolicy,
  openVerified,
  openVerifiedDirectory,
  type ServePolicy,
  statusForFsError,
} from "./open.ts";

export type { DotfilesPolicy } from "./open.ts";

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

function dotfileStatus(policy: DotfilesPolicy): 403 | 404 {
  return policy === "deny" ? 403 : 404;
}

function withQuery(path: string, query: string): string {
  return query === "" ? path : path + "?" + query;
}

/** True when `path` opens as a file the policy lets pws serve. */
function isServableFile(path: string, policy: ServePolicy): boolean {
  const opened = openVerified(path, policy);
  if (typeof opened === "number") return false;
  closeQuietly(opened.fd);
  return true;
}

/**
 * Looks up what serves `target` under `rootReal` (the root's real path).
 * Directories redirect to their slash form, then serve `index.html` (or a
 * listing when enabled). Dot segments in the request follow the dotfile
 * policy here; whether a file found may really be served is decided when
 * it is opened (open.ts), and a cache hit stands for a file the cache
 * opened and verified itself.
 */
export function lookupFile(
  rootReal: string,
  target: ResolvedTarget,
  options: LookupOptions = DEFAULT_LOOKUP_OPTIONS,
  cache?: FileCache,
  stats?: StatCache,
): LookupResult {
  const stat = stats === undefined
    ? Deno.statSync
    : (path: string) => stats.stat(path);
  const policy: ServePolicy = { rootReal, dotfiles: options.dotfiles };
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
    isServableFile(path, policy)
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
      info = stat(path);
    } catch (err) {
      if (
        !options.cleanUrls || target.trailingSlash || last === "" ||
        !(err instanceof Deno.errors.NotFound)
      ) {
        throw err;
      }
      path += ".html";
      direct = false;
      info = stat(path);
    }
    if (info.isDirectory) {
      if (!target.trailingSlash) {
        // A directory reached through a link that leaves the root must not
        // even be confirmed by a redirect: open it and check where it is.
        const opened = openVerifiedDirectory(path, policy);
        if (typeof opened === "number") {
          return { kind: "error", status: opened };
        }
        closeQuietly(opened.fd);
        return {
          kind: "redirect",
          location: withQuery(buildPath(segments, true), target.query),
        };
      }
      const dir = path;
      path = join(dir, INDEX_FILE);
      try {
        info = stat(path);
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
    // A cached file was opened and verified when it was cached, and `stat`
    // (which follows links) still finds exactly that inode, unchanged.
    const entry = cache?.get(path, stampOf(info));
    return { kind: "file", path, info, entry, direct };
  } catch (err) {
    return { kind: "error", status: statusForFsError(err), cause: err };
  }
}
