/**
 * The names of the two rules files at the root of a site, and the one
 * question every part of pws asks about them.
 *
 * @module
 */

/** The redirects and rewrites file. */
export const REDIRECTS_FILE = "_redirects";

/** The response fields file. */
export const HEADERS_FILE = "_headers";

/**
 * True for the path of `_redirects` or `_headers` at the root (as decoded
 * segments): they are not files of the site, so neither a request, nor a
 * rule, nor a listing reaches them.
 */
export function isRulesFile(segments: readonly string[]): boolean {
  return segments.length === 1 &&
    (segments[0] === REDIRECTS_FILE || segments[0] === HEADERS_FILE);
}
