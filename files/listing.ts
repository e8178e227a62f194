/**
 * Directory listings: ordering entries and rendering them as an HTML page or
 * as JSON, as pure functions of their inputs (no file-system access).
 *
 * @module
 */

import {
  asciiLower,
  asciiSet,
  elementValueEnd,
  equalsAsciiLower,
  forEachListElement,
  forEachParameter,
  parseQvalue,
} from "../http/scan.ts";

/** One entry of a directory, as gathered by the caller from the file system. */
export interface ListingEntry {
  /** The entry's file name (one path segment, not encoded). */
  name: string;
  /** Whether the entry is a directory (its link gets a trailing "/"). */
  isDirectory: boolean;
  /** Size in bytes; ignored for directories. */
  size: number;
  /** Last modification time in ms since the epoch, or `null` if unknown. */
  mtimeMs: number | null;
}

/** Options for {@linkcode renderListingHtml}. */
export interface ListingHtmlOptions {
  /**
   * Whether to show a "../" link to the parent directory. Defaults to `true`
   * for every directory except the root "/".
   */
  showParent?: boolean;
  /** Entries left out of a very large directory (said in a last row). */
  omitted?: number;
}

// A fixed locale keeps the order identical on every host; "base" sensitivity
// makes "a" and "A" compare equal and "numeric" puts "file2" before "file10".
const NAME_COLLATOR = new Intl.Collator("en", {
  numeric: true,
  sensitivity: "base",
});

/** Code-unit order, used only to make the collator's ties deterministic. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Returns a new array with directories first, then by name in
 * case-insensitive natural order ("file2" before "file10"). Names that the
 * collation considers equal (e.g. "A" and "a") are ordered by code unit so
 * the result does not depend on the input order.
 */
export function sortListing(entries: ListingEntry[]): ListingEntry[] {
  return [...entries].sort(compareListingEntries);
}

/** The order of {@linkcode sortListing}, as a comparison function. */
export function compareListingEntries(
  a: ListingEntry,
  b: ListingEntry,
): number {
  if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
  return NAME_COLLATOR.compare(a.name, b.name) ||
    compareCodeUnits(a.name, b.name);
}

/** The entity for each HTML-significant character, by character code. */
function htmlEscape(code: number): string | undefined {
  switch (code) {
    case 0x26:
      return "&amp;";
    case 0x3c:
      return "&lt;";
    case 0x3e:
      return "&gt;";
    case 0x22:
      return "&quot;";
    case 0x27:
      return "&#39;";
  }
  return undefined;
}

/**
 * Escapes the five HTML-significant characters so `text` is safe both as
 * element content and inside a quoted attribute value.
 */
export function escapeHtml(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const entity = htmlEscape(text.charCodeAt(i));
    if (entity === undefined) continue;
    out += text.slice(from, i) + entity;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Sub-delims that `encodeURIComponent` leaves as they are. */
const SUB_DELIMS_KEPT = asciiSet("!'()*");

/**
 * Percent-encodes one path segment. Beyond `encodeURIComponent`, it also
 * encodes `!'()*` (RFC 3986 sub-delims) so the result holds no character
 * with meaning in HTML attributes. Lone surrogates, which cannot be encoded
 * as UTF-8 and would make `encodeURIComponent` throw, become U+FFFD.
 */
export function encodePathSegment(segment: string): string {
  const encoded = encodeURIComponent(segment.toWellFormed());
  let out = "";
  let from = 0;
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (SUB_DELIMS_KEPT[c] !== 1) continue;
    out += encoded.slice(from, i) + "%" + c.toString(16).toUpperCase();
    from = i + 1;
  }
  return from === 0 ? encoded : out + encoded.slice(from);
}

/** Percent-encodes every segment of a decoded path, keeping the slashes. */
function encodePath(decodedPath: string): string {
  return decodedPath.split("/").map(encodePathSegment).join("/");
}

const SIZE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * Formats a byte count for people: "512 B", "1.2 KiB", "34 MiB". One decimal
 * below 10 units, whole numbers above, like `ls -h`. Returns "—" for values
 * that are not a valid size.
 */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  let text = value < 10 ? value.toFixed(1) : String(Math.round(value));
  // Rounding can reach the next unit (1023.6 KiB → "1024 KiB"); step up.
  if (Number(text) >= 1024 && unit < SIZE_UNITS.length - 1) {
    unit++;
    text = "1.0";
  }
  return `${text} ${SIZE_UNITS[unit]}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * Formats a modification time as UTC "YYYY-MM-DD HH:MM", e.g.
 * "2026-11-24 23:05". Returns "—" when the time is unknown or out of range.
 */
export function formatListingTime(mtimeMs: number | null): string {
  if (mtimeMs === null) return "—";
  const d = new Date(mtimeMs);
  if (Number.isNaN(d.getTime())) return "—";
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${
    pad(d.getUTCDate(), 2)
  } ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}`;
}

/** ISO 8601 form of a time, or `null` when unknown or out of range. */
function isoTime(mtimeMs: number | null): string | null {
  if (mtimeMs === null) return null;
  const d = new Date(mtimeMs);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * "." and ".." are never real directory entries, and no encoding can link to
 * them (browsers treat "%2E" as a dot segment), so they are left out.
 */
export function isListable(entry: ListingEntry): boolean {
  return entry.name !== "." && entry.name !== "..";
}

// Inline so the page needs no other request; `color-scheme` lets the browser
// switch its own colours for dark mode, the media query adjusts ours.
const STYLE = `
:root { color-scheme: light dark; --muted: #666; --rule: #ddd; --hover: #f3f3f3; }
@media (prefers-color-scheme: dark) {
  :root { --muted: #aaa; --rule: #444; --hover: #2a2a2a; }
}
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.3rem; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 0.3rem 0.6rem; text-align: left; border-bottom: 1px solid var(--rule); }
th { color: var(--muted); font-weight: 600; }
td:first-child { overflow-wrap: anywhere; }
td:nth-child(2), th:nth-child(2) { text-align: right; white-space: nowrap; }
td:nth-child(3) { white-space: nowrap; font-variant-numeric: tabular-nums; color: var(--muted); }
tbody tr:hover { background: var(--hover); }
a { text-decoration: none; }
a:hover { text-decoration: underline; }
`.trim();

/** One table row; `href` must already be percent-encoded. */
function renderRow(
  href: string,
  label: string,
  size: string,
  mtimeMs: number | null,
): string {
  const iso = isoTime(mtimeMs);
  const time = iso === null
    ? "—"
    : `<time datetime="${iso}">${formatListingTime(mtimeMs)}</time>`;
  return `<tr><td><a href="${escapeHtml(href)}">${
    escapeHtml(label)
  }</a></td><td>${escapeHtml(size)}</td><td>${time}</td></tr>`;
}

/** One entry's table row of the HTML listing. */
export function renderEntryRow(entry: ListingEntry): string {
  const suffix = entry.isDirectory ? "/" : "";
  // "./" keeps a name such as "javascript:x" or "a:b" from being read as a
  // URL scheme; the page URL ends in "/", so the link resolves inside it.
  const href = "./" + encodePathSegment(entry.name) + suffix;
  const label = entry.name.toWellFormed() + suffix;
  const size = entry.isDirectory ? "—" : formatSize(entry.size);
  return renderRow(href, label, size, entry.mtimeMs);
}

/**
 * Renders a complete HTML5 page listing `entries` in the order given (call
 * {@linkcode sortListing} first for the usual order).
 *
 * @param urlPath the decoded URL path of the directory, ending in "/" (e.g.
 *   "/docs/my files/"). Links are relative to it, so the page must be served
 *   at a URL ending in "/": redirect "/docs" to "/docs/" before listing.
 * @param entries the directory's entries; "." and ".." are skipped.
 * @param options see {@linkcode ListingHtmlOptions}.
 *
 * Every name and the path are HTML-escaped, and every link is a relative,
 * per-segment percent-encoded URL, so no file name can inject markup or be
 * taken for a URL scheme. The page loads nothing external.
 */
export function renderListingHtml(
  urlPath: string,
  entries: ListingEntry[],
  options: ListingHtmlOptions = {},
): string {
  const listable = entries.filter(isListable);
  return listingPageStart(urlPath, options) +
    listable.map(renderEntryRow).join("\n") +
    listingPageEnd(listable.length, options);
}

/**
 * The HTML listing up to its first entry row (the parent row included):
 * with {@linkcode renderEntryRow} for each entry (joined by newlines) and
 * {@linkcode listingPageEnd}, the page of {@linkcode renderListingHtml}.
 */
export function listingPageStart(
  urlPath: string,
  options: ListingHtmlOptions = {},
): string {
  const title = `Index of ${escapeHtml(urlPath.toWellFormed())}`;
  const showParent = options.showParent ?? urlPath !== "/";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title}</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>${title}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Last modified</th></tr></thead>
<tbody>
${showParent ? renderRow("../", "../", "—", null) + "\n" : ""}`;
}

/**
 * The HTML listing after its last entry row, for `listed` entries rows
 * (an empty directory says so) and `options.omitted` left out.
 */
export function listingPageEnd(
  listed: number,
  options: ListingHtmlOptions = {},
): string {
  let rows = "";
  if (listed === 0) {
    rows += '<tr><td colspan="3">This directory is empty.</td></tr>';
  }
  if (options.omitted) {
    rows += (rows === "" ? "" : "\n") +
      `<tr><td colspan="3">${options.omitted} more entries not shown.</td></tr>`;
  }
  return `${listed > 0 && rows !== "" ? "\n" : ""}${rows}
</tbody>
</table>
</body>
</html>
`;
}

/** The JSON shape of one entry in {@linkcode renderListingJson}. */
export interface ListingJsonEntry {
  /** The entry's file name, not encoded. */
  name: string;
  /** Whether the entry is a file or a directory. */
  type: "file" | "directory";
  /** Size in bytes for files; `null` for directories. */
  size: number | null;
  /** Modification time as an ISO 8601 UTC string, or `null` if unknown. */
  mtime: string | null;
  /** Percent-encoded absolute URL path; directories end in "/". */
  url: string;
}

/** One entry of the JSON listing (see {@linkcode renderListingJson}). */
export function toJsonEntry(
  urlPath: string,
  entry: ListingEntry,
): ListingJsonEntry {
  const base = encodePath(urlPath.endsWith("/") ? urlPath : urlPath + "/");
  return {
    name: entry.name,
    type: entry.isDirectory ? "directory" : "file",
    size: entry.isDirectory ? null : entry.size,
    mtime: isoTime(entry.mtimeMs),
    url: base + encodePathSegment(entry.name) +
      (entry.isDirectory ? "/" : ""),
  };
}

/**
 * Renders `entries` (in the order given) as a JSON array of
 * {@linkcode ListingJsonEntry}. `urlPath` is the decoded directory path, as
 * for {@linkcode renderListingHtml}; each `url` is that path plus the entry
 * name, percent-encoded per segment. "." and ".." are skipped.
 */
export function renderListingJson(
  urlPath: string,
  entries: ListingEntry[],
): string {
  return JSON.stringify(
    entries.filter(isListable).map((entry) => toJsonEntry(urlPath, entry)),
  );
}

/** The media ranges that can decide between JSON and HTML. */
const DECIDING_RANGES = [
  "application/json",
  "application/*",
  "text/html",
  "text/*",
  "*/*",
];
const LONGEST_DECIDING_RANGE = 16;

/**
 * Reads the weight of each media range in an `Accept` value that can
 * decide between JSON and HTML (other ranges are not even copied out).
 * Parameters other than `q` are ignored, so "application/json;
 * charset=utf-8" counts as "application/json". Malformed ranges and
 * weights are skipped; the first valid weight of a range counts.
 */
function parseAccept(accept: string): Map<string, number> {
  const ranges = new Map<string, number>();
  forEachListElement(accept, (start, end) => {
    const rangeEnd = elementValueEnd(accept, start, end);
    if (rangeEnd - start > LONGEST_DECIDING_RANGE) return;
    const range = asciiLower(accept.slice(start, rangeEnd));
    if (!DECIDING_RANGES.includes(range) || ranges.has(range)) return;
    let q: number | undefined = 1;
    forEachParameter(accept, start, end, (nameStart, nameEnd, from, to) => {
      if (!equalsAsciiLower(accept, nameStart, nameEnd, "q")) return false;
      q = from < 0 ? undefined : parseQvalue(accept.slice(from, to));
      // Parameters after q are accept-ext, not media-type parameters.
      return true;
    });
    if (q !== undefined) ranges.set(range, q);
  });
  return ranges;
}

/** The weight of `type/subtype` from its most specific matching range. */
function weightFor(ranges: ReadonlyMap<string, number>, mime: string): number {
  const type = mime.slice(0, mime.indexOf("/"));
  return ranges.get(mime) ?? ranges.get(`${type}/*`) ?? ranges.get("*/*") ??
    0;
}

/**
 * Whether a client's `Accept` header prefers `application/json` to
 * `text/html` (RFC 9110 §12.5.1): true only when JSON's weight is strictly
 * higher, so browsers, a bare wildcard and an absent header get HTML.
 */
export function wantsJson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = parseAccept(accept);
  return weightFor(ranges, "application/json") >
    weightFor(ranges, "text/html");
}
