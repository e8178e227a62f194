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

/** The outcome of {@linkcode lookupFile}. */
export type LookupResult =
  | { kind: "file"; path: string; info: Deno.FileInfo }
  | { kind: "redirect"; location: string }
  | { kind: "error"; status: 403 | 404 | 500; cause?: unknown };

/** Name of the file served for a directory. */
export const INDEX_FILE = "index.html";

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

/**
 * Looks up the regular file for `target` under `rootReal` (the root's real
 * path). Directories redirect to their slash form, then serve
 * `index.html`. Dotfiles, non-regular files and anything whose real path
 * leaves the root are not found.
 */
export function lookupFile(
  rootReal: string,
  target: ResolvedTarget,
): LookupResult {
  if (hasDotSegment(target.segments)) return { kind: "error", status: 404 };
  let path = target.segments.length === 0
    ? rootReal
    : join(rootReal, ...target.segments);
  try {
    let info = Deno.statSync(path);
    if (info.isDirectory) {
      if (!target.trailingSlash) {
        const query = target.query === "" ? "" : "?" + target.query;
        return {
          kind: "redirect",
          location: buildPath(target.segments, true) + query,
        };
      }
      path = join(path, INDEX_FILE);
      info = Deno.statSync(path);
    } else if (target.trailingSlash) {
      // "/file.txt/" names a directory that does not exist.
      return { kind: "error", status: 404 };
    }
    if (!info.isFile) return { kind: "error", status: 404 };
    if (!isContained(rootReal, path)) return { kind: "error", status: 404 };
    return { kind: "file", path, info };
  } catch (err) {
    return { kind: "error", status: statusForFsError(err), cause: err };
  }
}

/**
 * Checks that the real path of `path` stays under the root and runs through
 * no dot-directory once symlinks are resolved.
 */
function isContained(rootReal: string, path: string): boolean {
  const real = Deno.realPathSync(path);
  if (!isInsideRoot(rootReal, real)) return false;
  const relative = real.slice(rootReal.length);
  return !relative.split(sep).some((s) => s.charCodeAt(0) === 46);
}
