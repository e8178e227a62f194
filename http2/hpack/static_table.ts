/**
 * HPACK's static table (RFC 7541 §2.3.1, Appendix A): 61 fixed fields that
 * indices 1-61 always name, and the lookups the encoder uses to find them.
 *
 * @module
 */

/** One table entry: `[name, value]`, both byte strings (latin1). */
export type TableEntry = readonly [name: string, value: string];

/** Entries 1-61 of Appendix A, at array positions 0-60. */
export const STATIC_TABLE: readonly TableEntry[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Number of static entries; dynamic indices start right after it. */
export const STATIC_TABLE_LENGTH = STATIC_TABLE.length;

/** Where a name sits in the static table: its first index, and by value. */
export interface StaticNameEntry {
  /** The lowest index with this name (any value). */
  index: number;
  /** Index of each value the table holds for this name. */
  values: ReadonlyMap<string, number>;
}

/** The static table by name, for the encoder (1-based indices). */
export const STATIC_BY_NAME: ReadonlyMap<string, StaticNameEntry> =
  indexByName();

function indexByName(): Map<string, StaticNameEntry> {
  const byName = new Map<
    string,
    { index: number; values: Map<string, number> }
  >();
  STATIC_TABLE.forEach(([name, value], i) => {
    let entry = byName.get(name);
    if (entry === undefined) {
      entry = { index: i + 1, values: new Map() };
      byName.set(name, entry);
    }
    // Appendix A holds no duplicate pair; keep the first index regardless.
    if (!entry.values.has(value)) entry.values.set(value, i + 1);
  });
  return byName;
}
