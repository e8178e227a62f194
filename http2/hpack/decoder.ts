/**
 * The HPACK decoder (RFC 7541 §3, §6): one per HTTP/2 connection, turning
 * each complete header block into its ordered list of fields while keeping
 * the dynamic table in step with the peer's encoder.
 *
 * Every input is answered with a typed result, never an exception:
 *
 * - `fields`: the list, names and values as byte strings (latin1). Names
 *   are not validated (uppercase, bytes outside tokens, pseudo-fields):
 *   that is request validation, the caller's (RFC 9113 §8.2.1).
 * - `compression_error`: the block breaks RFC 7541 (truncated, bad index,
 *   bad Huffman, misplaced or oversized table size update, integer too
 *   large). The decoder's state is lost, so it refuses every later block
 *   too: answer with a connection error of type COMPRESSION_ERROR
 *   (GOAWAY), RFC 9113 §4.3.
 * - `too_large`: the block is valid but its list exceeds the header list
 *   limit (name + value + 32 per field, the SETTINGS_MAX_HEADER_LIST_SIZE
 *   measure). The block was still processed to its end, so the table is in
 *   sync and the connection can go on: refuse the stream (431, or
 *   RST_STREAM), RFC 9113 §8.2.3 and §10.5.1.
 *
 * Work is linear in the block: each representation consumes at least one
 * byte, indices and table updates cost O(1) (evictions are paid for by
 * insertions), and strings cost their length. Memory is bounded by the
 * limits: once the list is over its limit nothing more is added to it (so
 * a "bomb" of references to one large entry costs one byte each), and a
 * string is only built when it fits the list or the table.
 *
 * @module
 */

import { DynamicTable, ENTRY_OVERHEAD } from "./dynamic_table.ts";
import { type ByteCursor, INTEGER_TRUNCATED, readInteger } from "./integer.ts";
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from "./static_table.ts";
import {
  readString,
  STRING_BAD_HUFFMAN,
  STRING_TOO_LONG,
  STRING_TRUNCATED,
} from "./string.ts";

/** A decoded field: `[name, value]`, byte strings. */
export type HeaderField = [name: string, value: string];

/** What {@linkcode HeaderBlockDecoder.decode} makes of a block. */
export type DecodeResult =
  | { kind: "fields"; fields: HeaderField[] }
  | { kind: "compression_error"; reason: string }
  | { kind: "too_large"; reason: string };

/** Limits of a {@linkcode HeaderBlockDecoder}. */
export interface DecoderOptions {
  /**
   * The SETTINGS_HEADER_TABLE_SIZE in force, which bounds the table size
   * updates the peer may send; the table starts at this size. Default
   * 4096, HTTP/2's initial value: keep it until the peer acknowledges a
   * different setting, then call
   * {@linkcode HeaderBlockDecoder.setMaxTableSize}.
   */
  maxTableSize?: number;
  /**
   * The largest header list accepted, counted as name + value + 32 bytes
   * per field (RFC 9113 §6.5.2). Default {@linkcode DEFAULT_MAX_HEADER_LIST_SIZE}.
   */
  maxHeaderListSize?: number;
}

/** HTTP/2's initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2). */
export const DEFAULT_MAX_TABLE_SIZE = 4096;

/** Default header list limit: as large as pws's HTTP/1 head limit. */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 32 * 1024;

/** A representation's outcome that is not a field: an error's reason. */
type Failure = string;

const TRUNCATED = "block ends inside a representation";

const NO_BYTES = new Uint8Array(0);

/**
 * Decodes the header blocks of one connection, in order. Not reentrant:
 * one block at a time, as HTTP/2 delivers them.
 */
export class HeaderBlockDecoder {
  /** The header list limit; may be changed between blocks. */
  maxHeaderListSize: number;
  #table: DynamicTable;
  /** The largest table size the peer may set (our setting). */
  #limit: number;
  /**
   * The smallest limit set below the table's maximum since the last block
   * (Infinity: none): the next block must open with a size update to at
   * most this (RFC 7541 §4.2).
   */
  #owedUpdate = Infinity;
  /** Set by a compression error: the table is out of step for good. */
  #failed: string | undefined;
  readonly #cursor: ByteCursor = { buf: NO_BYTES, pos: 0, end: 0 };
  // State of the block being decoded.
  #fields: HeaderField[] = [];
  #listSize = 0;
  #tooLarge = false;

  /** A decoder with an empty table; see {@linkcode DecoderOptions}. */
  constructor(options: DecoderOptions = {}) {
    this.#limit = options.maxTableSize ?? DEFAULT_MAX_TABLE_SIZE;
    this.maxHeaderListSize = options.maxHeaderListSize ??
      DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#table = new DynamicTable(this.#limit);
  }

  /**
   * Sets the largest table size the peer may choose: call it when the peer
   * acknowledges a SETTINGS_HEADER_TABLE_SIZE of ours. Below the table's
   * current maximum, the peer's next block must begin with a size update
   * to at most `limit`, or to the smallest such limit if several were set
   * since its last block (RFC 7541 §4.2, RFC 9113 §4.3.1).
   */
  setMaxTableSize(limit: number): void {
    this.#limit = limit;
    if (limit < this.#table.maxSize && limit < this.#owedUpdate) {
      this.#owedUpdate = limit;
    }
  }

  /** Number of dynamic table entries. */
  get tableLength(): number {
    return this.#table.length;
  }

  /** The dynamic table's size by §4.1. */
  get tableSize(): number {
    return this.#table.size;
  }

  /** The dynamic table's maximum size, as last updated. */
  get tableMaxSize(): number {
    return this.#table.maxSize;
  }

  /** Dynamic table entry `index` (1 = newest), for inspection. */
  tableEntry(index: number): HeaderField {
    return [this.#table.name(index), this.#table.value(index)];
  }

  /** Decodes the complete header block `block[start..end)`. */
  decode(
    block: Uint8Array,
    start: number = 0,
    end: number = block.length,
  ): DecodeResult {
    if (this.#failed !== undefined) {
      return { kind: "compression_error", reason: this.#failed };
    }
    const cursor = this.#cursor;
    cursor.buf = block;
    cursor.pos = start;
    cursor.end = Math.min(end, block.length);
    this.#fields = [];
    this.#listSize = 0;
    this.#tooLarge = false;
    const failure = this.#decodeBlock(cursor);
    const fields = this.#fields;
    cursor.buf = NO_BYTES; // hold no reference to the block
    if (failure !== undefined) {
      this.#failed = failure;
      return { kind: "compression_error", reason: failure };
    }
    if (this.#tooLarge) {
      return {
        kind: "too_large",
        reason: `header list larger than ${this.maxHeaderListSize} bytes`,
      };
    }
    return { kind: "fields", fields };
  }

  /** Decodes representations to the end; returns why it failed, if so. */
  #decodeBlock(cursor: ByteCursor): Failure | undefined {
    const buf = cursor.buf;
    // Dynamic table size updates may only open the block (§4.2).
    while (cursor.pos < cursor.end && (buf[cursor.pos] & 0xe0) === 0x20) {
      const size = readInteger(cursor, 5);
      if (size < 0) return integerFailure(size, "table size update");
      if (size > this.#limit) {
        return `table size update to ${size} above the limit ${this.#limit}`;
      }
      this.#table.setMaxSize(size);
      if (size <= this.#owedUpdate) this.#owedUpdate = Infinity;
    }
    if (this.#owedUpdate !== Infinity) {
      return `block lacks a table size update to ${this.#owedUpdate} or less`;
    }
    while (cursor.pos < cursor.end) {
      const first = buf[cursor.pos];
      let failure: Failure | undefined;
      if (first >= 0x80) failure = this.#indexed(cursor);
      else if (first >= 0x40) failure = this.#literal(cursor, 6, true);
      else if (first >= 0x20) {
        return "table size update after a field representation";
      } else failure = this.#literal(cursor, 4, false); // 0000 or 0001
      if (failure !== undefined) return failure;
    }
    return undefined;
  }

  /** §6.1: an indexed field. */
  #indexed(cursor: ByteCursor): Failure | undefined {
    const index = readInteger(cursor, 7);
    if (index < 0) return integerFailure(index, "index");
    if (index === 0) return "index 0";
    if (index <= STATIC_TABLE_LENGTH) {
      const [name, value] = STATIC_TABLE[index - 1];
      this.#emit(name, value);
      return undefined;
    }
    const dynamic = index - STATIC_TABLE_LENGTH;
    if (dynamic > this.#table.length) return `index ${index} past the tables`;
    this.#emit(this.#table.name(dynamic), this.#table.value(dynamic));
    return undefined;
  }

  /**
   * §6.2: a literal field, with incremental indexing (6-bit name index) or
   * without / never indexed (4-bit; the same to a decoder).
   */
  #literal(
    cursor: ByteCursor,
    prefixBits: number,
    indexing: boolean,
  ): Failure | undefined {
    const nameIndex = readInteger(cursor, prefixBits);
    if (nameIndex < 0) return integerFailure(nameIndex, "name index");
    // Room left in the list for this field's name and value, and the most
    // the table could take; a longer string is skipped, not built.
    const listRoom = this.#tooLarge
      ? -1
      : this.maxHeaderListSize - this.#listSize - ENTRY_OVERHEAD;
    const tableRoom = indexing ? this.#table.maxSize - ENTRY_OVERHEAD : -1;
    let name: string | undefined;
    if (nameIndex === 0) {
      const read = readString(cursor, Math.max(listRoom, tableRoom, 0));
      if (typeof read === "string") name = read;
      else if (read !== STRING_TOO_LONG) return stringFailure(read, "name");
    } else if (nameIndex <= STATIC_TABLE_LENGTH) {
      name = STATIC_TABLE[nameIndex - 1][0];
    } else if (nameIndex - STATIC_TABLE_LENGTH <= this.#table.length) {
      name = this.#table.name(nameIndex - STATIC_TABLE_LENGTH);
    } else {
      return `name index ${nameIndex} past the tables`;
    }
    const used = name === undefined ? 0 : name.length;
    const valueRoom = name === undefined
      ? 0
      : Math.max(listRoom - used, tableRoom - used, 0);
    const value = readString(cursor, valueRoom);
    if (typeof value !== "string" && value !== STRING_TOO_LONG) {
      return stringFailure(value, "value");
    }
    if (name === undefined || typeof value !== "string") {
      // Too long for the list and, if indexed, for the table, which such
      // an entry empties (§4.4).
      this.#overLimit();
      if (indexing) this.#clearTable();
      return undefined;
    }
    if (indexing) this.#table.add(name, value);
    this.#emit(name, value);
    return undefined;
  }

  /** Empties the dynamic table, keeping its maximum size. */
  #clearTable(): void {
    const maxSize = this.#table.maxSize;
    this.#table.setMaxSize(0);
    this.#table.setMaxSize(maxSize);
  }

  /** Appends a field, unless the list is (or now goes) over its limit. */
  #emit(name: string, value: string): void {
    if (this.#tooLarge) return;
    this.#listSize += name.length + value.length + ENTRY_OVERHEAD;
    if (this.#listSize > this.maxHeaderListSize) this.#overLimit();
    else this.#fields.push([name, value]);
  }

  /** The list went over its limit: keep decoding, but build no list. */
  #overLimit(): void {
    this.#tooLarge = true;
    this.#fields = [];
  }
}

function integerFailure(code: number, what: string): Failure {
  return code === INTEGER_TRUNCATED ? TRUNCATED : `${what} too large`;
}

function stringFailure(code: number, what: string): Failure {
  if (code === STRING_TRUNCATED) return TRUNCATED;
  if (code === STRING_BAD_HUFFMAN) return `${what}: invalid Huffman code`;
  return `${what}: length too large`;
}
