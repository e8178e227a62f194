/**
 * The HPACK encoder (RFC 7541 §2, §6): one per HTTP/2 connection, turning
 * each header list pws sends into a header block, with a dynamic table
 * kept in step with the peer's decoder.
 *
 * Choices, per field:
 *
 * - A field in the static table, or in the dynamic table, is sent as its
 *   index (§6.1): one or two bytes.
 * - A sensitive field ({@linkcode NEVER_INDEXED_NAMES}: credentials and
 *   cookies) is a never-indexed literal (§6.2.3): it never enters a table
 *   shared by everything on the connection, and the flag tells any
 *   intermediary to keep it out of its own (§7.1.3), so its value cannot be
 *   guessed by probing the table's state (§7.1).
 *   `www-authenticate` and `proxy-authenticate` are not in the list: a
 *   challenge is public, the same for every client.
 * - Other fields are literals with incremental indexing (§6.2.1), so the
 *   next response that repeats them (`content-type`, `cache-control`,
 *   `vary`, `server`, `etag`, `date` within a second…) costs an index;
 *   except fields whose values rarely repeat ({@linkcode UNINDEXED_NAMES})
 *   or that are too big for the table to be worth it, which are literals
 *   without indexing (§6.2.2), so they do not evict useful entries.
 * - Names come from a table whenever one has them; strings are Huffman
 *   coded when that is not longer (§5.2).
 *
 * The table never exceeds the size the peer allows
 * ({@linkcode HeaderBlockEncoder.setPeerMaxTableSize}), nor the encoder's
 * own cap; changes are announced at the start of the next block (§4.2).
 *
 * @module
 */

import { DynamicTable, entrySize } from "./dynamic_table.ts";
import { writeInteger } from "./integer.ts";
import { STATIC_BY_NAME, STATIC_TABLE_LENGTH } from "./static_table.ts";
import { byteString, writeString } from "./string.ts";

/** A field to encode: `[name, value]`. */
export type EncoderField = readonly [name: string, value: string];

/**
 * Names sent as never-indexed literals by default: their values are
 * secrets (credentials, session cookies).
 */
export const NEVER_INDEXED_NAMES: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
];

/**
 * Names not worth a table entry by default: their values change from one
 * message to the next, so an entry would only evict others.
 */
export const UNINDEXED_NAMES: readonly string[] = [
  ":path",
  "content-length",
  "content-range",
  "age",
];

/** The default sets, shared by every encoder that takes them. */
const DEFAULT_NEVER_INDEXED: ReadonlySet<string> = new Set(NEVER_INDEXED_NAMES);
const DEFAULT_UNINDEXED: ReadonlySet<string> = new Set(UNINDEXED_NAMES);

/** Options of a {@linkcode HeaderBlockEncoder}. */
export interface EncoderOptions {
  /**
   * The largest dynamic table the encoder uses, whatever the peer allows
   * (memory per connection). Default 4096, HTTP/2's initial size.
   */
  maxTableSize?: number;
  /** Names sent as never-indexed literals; default {@linkcode NEVER_INDEXED_NAMES}. */
  neverIndexed?: Iterable<string>;
  /** Names never added to the table; default {@linkcode UNINDEXED_NAMES}. */
  unindexed?: Iterable<string>;
  /** Whether to Huffman-code strings when not longer; default true. */
  huffman?: boolean;
}

/** HTTP/2's initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2). */
const INITIAL_PEER_TABLE_SIZE = 4096;

/**
 * An entry larger than this share of the table is not added: it would
 * evict most of what the table holds for one field.
 */
const MAX_ENTRY_SHARE = 0.75;

/** Output bytes kept between calls; a larger buffer is dropped after use. */
const KEPT_BUFFER_BYTES = 16 * 1024;

/** Entries with one name in the encoder's table, by id. */
interface NameEntries {
  /** Id of the newest entry with this name. */
  newest: number;
  /** Id of the newest entry for each value. */
  values: Map<string, number>;
}

/** The encoder's dynamic table, with lookups by name and by field. */
class EncoderTable extends DynamicTable {
  readonly #byName = new Map<string, NameEntries>();

  /** Dynamic index (1 = newest) of the field, or 0. */
  find(name: string, value: string): number {
    const id = this.#byName.get(name)?.values.get(value);
    return id === undefined ? 0 : this.indexOfId(id);
  }

  /** Dynamic index of the newest entry with this name, or 0. */
  findName(name: string): number {
    const entries = this.#byName.get(name);
    return entries === undefined ? 0 : this.indexOfId(entries.newest);
  }

  protected override added(name: string, value: string, id: number): void {
    const entries = this.#byName.get(name);
    if (entries === undefined) {
      this.#byName.set(name, { newest: id, values: new Map([[value, id]]) });
    } else {
      entries.newest = id;
      entries.values.set(value, id);
    }
  }

  protected override evicted(name: string, value: string, id: number): void {
    const entries = this.#byName.get(name)!;
    // Oldest entries go first: when the newest with this name goes, so
    // have all the others.
    if (entries.newest === id) this.#byName.delete(name);
    else if (entries.values.get(value) === id) entries.values.delete(value);
  }
}

/** Encodes the header lists of one connection, in order. */
export class HeaderBlockEncoder {
  readonly #cap: number;
  readonly #neverIndexed: ReadonlySet<string>;
  readonly #unindexed: ReadonlySet<string>;
  readonly #huffman: boolean;
  readonly #table: EncoderTable;
  /** Smallest table size in force since the last block, if it changed. */
  #smallestPending = Infinity;
  /** Table size to announce at the next block. */
  #nextSize: number;
  #buf = new Uint8Array(1024);

  /** An encoder with an empty table; see {@linkcode EncoderOptions}. */
  constructor(options: EncoderOptions = {}) {
    this.#cap = options.maxTableSize ?? INITIAL_PEER_TABLE_SIZE;
    this.#neverIndexed = options.neverIndexed === undefined
      ? DEFAULT_NEVER_INDEXED
      : new Set(options.neverIndexed);
    this.#unindexed = options.unindexed === undefined
      ? DEFAULT_UNINDEXED
      : new Set(options.unindexed);
    this.#huffman = options.huffman ?? true;
    // Both sides start at HTTP/2's initial size; a smaller cap is
    // announced in the first block.
    this.#table = new EncoderTable(INITIAL_PEER_TABLE_SIZE);
    this.#nextSize = Math.min(this.#cap, INITIAL_PEER_TABLE_SIZE);
    if (this.#nextSize < INITIAL_PEER_TABLE_SIZE) {
      this.#smallestPending = this.#nextSize;
    }
  }

  /**
   * Takes the peer's SETTINGS_HEADER_TABLE_SIZE: call it when processing
   * the peer's SETTINGS frame, and send the acknowledgment before any
   * block encoded afterwards (the peer's decoder expects the new size only
   * once it has our ACK, RFC 9113 §6.5.3). The table shrinks, or grows up
   * to the encoder's cap, at the start of the next block.
   */
  setPeerMaxTableSize(size: number): void {
    const next = Math.min(size, this.#cap);
    this.#nextSize = next;
    if (next < this.#smallestPending) this.#smallestPending = next;
  }

  /** Number of dynamic table entries. */
  get tableLength(): number {
    return this.#table.length;
  }

  /** The dynamic table's size by §4.1. */
  get tableSize(): number {
    return this.#table.size;
  }

  /** The dynamic table's maximum size, as last announced. */
  get tableMaxSize(): number {
    return this.#table.maxSize;
  }

  /** Dynamic table entry `index` (1 = newest), for inspection. */
  tableEntry(index: number): [name: string, value: string] {
    return [this.#table.name(index), this.#table.value(index)];
  }

  /**
   * Encodes `fields` (byte strings; a character above U+00FF makes its
   * string UTF-8) as one header block. Names go out as given: HTTP/2 wants
   * them lowercase, which is the caller's to ensure.
   */
  encode(fields: readonly EncoderField[]): Uint8Array {
    let pos = this.#tableSizeUpdates();
    for (let i = 0; i < fields.length; i++) {
      const name = byteString(fields[i][0]);
      const value = byteString(fields[i][1]);
      this.#reserve(pos, name.length + value.length + 16);
      pos = this.#field(pos, name, value);
    }
    const block = this.#buf.slice(0, pos);
    if (this.#buf.length > KEPT_BUFFER_BYTES) {
      this.#buf = new Uint8Array(KEPT_BUFFER_BYTES);
    }
    return block;
  }

  /**
   * Writes the size updates owed since the last block (§4.2): the
   * smallest size in force meanwhile, if below the current one, then the
   * final size if different. Returns the position after them.
   */
  #tableSizeUpdates(): number {
    let pos = 0;
    const table = this.#table;
    if (this.#smallestPending < table.maxSize) {
      pos = writeInteger(this.#buf, pos, this.#smallestPending, 5, 0x20);
      table.setMaxSize(this.#smallestPending);
    }
    if (this.#nextSize !== table.maxSize) {
      pos = writeInteger(this.#buf, pos, this.#nextSize, 5, 0x20);
      table.setMaxSize(this.#nextSize);
    }
    this.#smallestPending = Infinity;
    return pos;
  }

  /** Writes one field's representation at `pos`; returns the end. */
  #field(pos: number, name: string, value: string): number {
    const out = this.#buf;
    const table = this.#table;
    const known = STATIC_BY_NAME.get(name);
    let nameIndex = known?.index ?? 0;
    if (this.#neverIndexed.has(name)) {
      // Such names never enter the dynamic table: only the static one
      // may know them.
      return this.#literal(pos, 0x10, 4, nameIndex, name, value);
    }
    const staticIndex = known?.values.get(value);
    if (staticIndex !== undefined) {
      return writeInteger(out, pos, staticIndex, 7, 0x80);
    }
    const dynamic = table.find(name, value);
    if (dynamic !== 0) {
      return writeInteger(out, pos, STATIC_TABLE_LENGTH + dynamic, 7, 0x80);
    }
    if (nameIndex === 0) nameIndex = this.#dynamicNameIndex(name);
    if (
      this.#unindexed.has(name) ||
      entrySize(name, value) > table.maxSize * MAX_ENTRY_SHARE
    ) {
      return this.#literal(pos, 0x00, 4, nameIndex, name, value);
    }
    // The name index refers to the table before this entry is added.
    pos = this.#literal(pos, 0x40, 6, nameIndex, name, value);
    table.add(name, value);
    return pos;
  }

  /** The combined-space index of a dynamic entry named `name`, or 0. */
  #dynamicNameIndex(name: string): number {
    const index = this.#table.findName(name);
    return index === 0 ? 0 : STATIC_TABLE_LENGTH + index;
  }

  /** A literal representation (§6.2): pattern, name index or name, value. */
  #literal(
    pos: number,
    pattern: number,
    prefixBits: number,
    nameIndex: number,
    name: string,
    value: string,
  ): number {
    const out = this.#buf;
    pos = writeInteger(out, pos, nameIndex, prefixBits, pattern);
    if (nameIndex === 0) pos = writeString(out, pos, name, this.#huffman);
    return writeString(out, pos, value, this.#huffman);
  }

  /** Makes room for `bytes` more bytes after `pos`. */
  #reserve(pos: number, bytes: number): void {
    if (pos + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < pos + bytes) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, pos));
    this.#buf = bigger;
  }
}
