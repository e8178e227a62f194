/**
 * Media types by file extension, from the mime-db data (the source of
 * Deno std's media types), with `charset=utf-8` for text. The tables are
 * generated from mime-db ahead of time (files/media_db.ts explains why).
 *
 * @module
 */

import { COMPRESSIBLE_TYPES, CONTENT_TYPES } from "./media_types_data.ts";

/** The media type of content whose type is not known. */
export const DEFAULT_MEDIA_TYPE = "application/octet-stream";

const byExtension = new Map(Object.entries(CONTENT_TYPES));
const compressible = new Set(COMPRESSIBLE_TYPES);

/**
 * Returns the Content-Type for a file name, e.g. `text/html; charset=utf-8`
 * for `index.html`, or `application/octet-stream` when unknown.
 */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  if (dot < 0) return DEFAULT_MEDIA_TYPE;
  return byExtension.get(fileName.slice(dot + 1).toLowerCase()) ??
    DEFAULT_MEDIA_TYPE;
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
