/**
 * Derives pws's media-type tables from the mime-db database (the source of
 * Deno std's media types). Pure: the generator (tools/gen_media_types.ts)
 * runs it to write files/media_types_data.ts, and a test checks that file
 * against the database, so the server itself never loads the 200 KB JSON
 * (and its npm machinery: ~11 MiB of memory).
 *
 * @module
 */

/** One record of mime-db, as far as pws reads it. */
export interface MimeEntry {
  source?: string;
  extensions?: string[];
  charset?: string;
  compressible?: boolean;
}

/** What pws needs from the database. */
export interface MediaTables {
  /** The Content-Type for each lowercase extension, charset included. */
  contentTypes: Record<string, string>;
  /** Media types marked compressible, sorted. */
  compressible: string[];
}

/** Where a type's record comes from; IANA wins over Apache over nginx. */
const SOURCE_RANK: Record<string, number> = { nginx: 1, apache: 2, iana: 4 };
const UNKNOWN_SOURCE_RANK = 3;

/** True when text content needs a charset parameter. */
function needsCharset(type: string, entry: MimeEntry | undefined): boolean {
  return type.startsWith("text/") || entry?.charset !== undefined;
}

/** Builds the tables from a mime-db database object. */
export function buildMediaTables(db: Record<string, MimeEntry>): MediaTables {
  const byExtension = new Map<string, string>();
  const rankOf = new Map<string, number>();
  const compressible: string[] = [];
  for (const type of Object.keys(db)) {
    const entry = db[type];
    if (entry.compressible) compressible.push(type);
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
  const contentTypes: Record<string, string> = {};
  for (const ext of [...byExtension.keys()].sort()) {
    const type = byExtension.get(ext)!;
    contentTypes[ext] = needsCharset(type, db[type])
      ? type + "; charset=utf-8"
      : type;
  }
  return { contentTypes, compressible: compressible.sort() };
}
