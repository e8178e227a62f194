/**
 * Media types by file extension, from the mime-db data (the source of
 * Deno std's media types), with `charset=utf-8` for text.
 *
 * @module
 */

import db from "mime-db";

interface MimeEntry {
  source?: string;
  extensions?: string[];
  charset?: string;
  compressible?: boolean;
}

/** Where a type's record comes from; IANA wins over Apache over nginx. */
const SOURCE_RANK: Record<string, number> = { nginx: 1, apache: 2, iana: 4 };
const UNKNOWN_SOURCE_RANK = 3;

/** The media type of content whose type is not known. */
export const DEFAULT_MEDIA_TYPE = "application/octet-stream";

function buildTables(): {
  byExtension: Map<string, string>;
  compressible: Set<string>;
} {
  const byExtension = new Map<string, string>();
  const rankOf = new Map<string, number>();
  const compressible = new Set<string>();
  const entries = db as Record<string, MimeEntry>;
  for (const type of Object.keys(entries)) {
    const entry = entries[type];
    if (entry.compressible) compressible.add(type);
    const rank = entry.source
      ? SOURCE_RANK[entry.source] ?? UNKNOWN_SOURCE_RANK
      : UNKNOWN_SOURCE_RANK;
    for (const ext of entry.extensions ?? []) {
      const previous = rankOf.get(ext);
      // On a tie a specific top-level type (video/mp4) beats the generic
      // application one (application/mp4) that claims the same extension.
      if (
        previous === undefined || rank > previous ||
        (rank === previous && !type.startsWith("application/") &&
          byExtension.get(ext)!.startsWith("application/"))
      ) {
        byExtension.set(ext, type);
        rankOf.set(ext, rank);
      }
    }
  }
  return { byExtension, compressible };
}

const { byExtension, compressible } = buildTables();

/** True when text content needs a charset parameter. */
function needsCharset(type: string): boolean {
  if (type.startsWith("text/")) return true;
  const entry = (db as Record<string, MimeEntry>)[type];
  return entry?.charset !== undefined;
}

/**
 * Returns the Content-Type for a file name, e.g. `text/html; charset=utf-8`
 * for `index.html`, or `application/octet-stream` when unknown.
 */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  if (dot < 0) return DEFAULT_MEDIA_TYPE;
  const type = byExtension.get(fileName.slice(dot + 1).toLowerCase());
  if (type === undefined) return DEFAULT_MEDIA_TYPE;
  return needsCharset(type) ? type + "; charset=utf-8" : type;
}

/** True when mime-db marks the media type as worth compressing. */
export function isCompressible(contentType: string): boolean {
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi))
    .toLowerCase();
  // Unknown content is usually binary: compressing it wastes CPU.
  if (type === DEFAULT_MEDIA_TYPE) return false;
  return compressible.has(type) || type.startsWith("text/");
}
