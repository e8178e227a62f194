/**
 * Which changed paths live reload ignores (pure): dotfiles and
 * `node_modules` always, and `--live-ignore` globs. A glob without `/`
 * names any one segment (`*.log`, `build`); a glob with `/` is a path from
 * the root (`dist/**`, `/drafts/*.md`). `*` is any run of characters in a
 * segment, `?` one character, `**` any number of segments; a directory
 * that matches ignores everything below it. Matching is linear in the
 * glob times the path, with no regular expression.
 *
 * @module
 */

/** A compiled set of globs: true for a root-relative path to ignore. */
export type IgnoreMatcher = (relativePath: string) => boolean;

/** Segments always ignored: hidden files and installed packages. */
function ignoredByDefault(segment: string): boolean {
  return segment.startsWith(".") || segment === "node_modules";
}

/**
 * Matches one segment against a glob segment of `*` and `?`: the greedy
 * scan that returns to the last `*` only (no nested backtracking).
 */
export function matchSegment(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (n < name.length) {
    if (g < glob.length && (glob[g] === "?" || glob[g] === name[n])) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === "*") {
      starAt = g++;
      resumeAt = n;
    } else if (starAt >= 0) {
      g = starAt + 1;
      n = ++resumeAt;
    } else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/**
 * True when `segments` start with a match of `glob` (so a matched
 * directory covers what is below it). A table over (glob, path) positions.
 */
function matchPathPrefix(glob: string[], segments: string[]): boolean {
  // reach[j]: glob[0..i) can match segments[0..j).
  let reach = new Array<boolean>(segments.length + 1).fill(false);
  reach[0] = true;
  for (const part of glob) {
    const next = new Array<boolean>(segments.length + 1).fill(false);
    let carried = false;
    for (let j = 0; j <= segments.length; j++) {
      if (part === "**") {
        carried ||= reach[j];
        next[j] = carried;
      } else if (j > 0 && reach[j - 1] && matchSegment(part, segments[j - 1])) {
        next[j] = true;
      }
    }
    reach = next;
  }
  return reach.some((reached) => reached);
}

/** Compiles `--live-ignore` globs (plus the defaults) into a matcher. */
export function compileIgnore(globs: readonly string[]): IgnoreMatcher {
  const anySegment: string[] = [];
  const fromRoot: string[][] = [];
  for (const glob of globs) {
    const parts = glob.split("/").filter((part) => part !== "");
    // "tmp/" and "/tmp" name one segment too, but only "/tmp" is rooted.
    if (parts.length === 1 && !glob.startsWith("/")) anySegment.push(parts[0]);
    else if (parts.length > 0) fromRoot.push(parts);
  }
  return (relativePath) => {
    const segments = relativePath.split("/").filter((part) => part !== "");
    for (const segment of segments) {
      if (ignoredByDefault(segment)) return true;
      for (const glob of anySegment) {
        if (matchSegment(glob, segment)) return true;
      }
    }
    return fromRoot.some((glob) => matchPathPrefix(glob, segments));
  };
}
