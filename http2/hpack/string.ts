/**
 * HPACK's string literals (RFC 7541 §5.2): a Huffman flag and a 7-bit
 * prefixed length, then the bytes, raw or Huffman-coded. Strings are byte
 * strings: one character per byte (latin1), as pws's HTTP/1 parser keeps
 * field values, so no byte is lost or reinterpreted.
 *
 * Reading never allocates for a length the block does not contain: the
 * declared length is checked against the bytes left first, and the output
 * of Huffman decoding is bounded by both the input and the caller's limit.
 *
 * @module
 */

import { type ByteCursor, INTEGER_TRUNCATED, readInteger } from "./integer.ts";
import {
  HUFFMAN_INVALID,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "./huffman.ts";
import { writeInteger } from "./integer.ts";

/** {@linkcode readString}: the block ends before the string does. */
export const STRING_TRUNCATED = -1;
/** {@linkcode readString}: the length is beyond any integer accepted. */
export const STRING_LENGTH_TOO_LARGE = -2;
/** {@linkcode readString}: invalid Huffman code (EOS, bad padding). */
export const STRING_BAD_HUFFMAN = -3;
/**
 * {@linkcode readString}: the string is valid but longer than the caller's
 * limit; it was skipped (and its Huffman code checked), not built.
 */
export const STRING_TOO_LONG = -4;

/** Huffman output up to this size is decoded into one reused buffer. */
const SCRATCH_BYTES = 16 * 1024;
const scratch = new Uint8Array(SCRATCH_BYTES);

/** Chunk size for `String.fromCharCode.apply`, well under any arg limit. */
const CHARS_PER_CALL = 4096;

/** Decodes bytes one-to-one into a string (latin1), so no byte is lost. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= CHARS_PER_CALL) {
    return String.fromCharCode.apply(
      null,
      buf.subarray(start, end) as unknown as number[],
    );
  }
  let out = "";
  for (let i = start; i < end; i += CHARS_PER_CALL) {
    out += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + CHARS_PER_CALL)) as unknown as number[],
    );
  }
  return out;
}

/**
 * Reads a string literal at the cursor and advances past it. Returns the
 * string, or one of the `STRING_*` codes; {@linkcode STRING_TOO_LONG} (more
 * than `maxLength` bytes once decoded) leaves the cursor after the string,
 * so the block can go on, and the other codes are errors of the block.
 */
export function readString(
  cursor: ByteCursor,
  maxLength: number,
): string | number {
  const { buf, end } = cursor;
  if (cursor.pos >= end) return STRING_TRUNCATED;
  const huffman = (buf[cursor.pos] & 0x80) !== 0;
  const length = readInteger(cursor, 7);
  if (length < 0) {
    return length === INTEGER_TRUNCATED
      ? STRING_TRUNCATED
      : STRING_LENGTH_TOO_LARGE;
  }
  const start = cursor.pos;
  if (length > end - start) return STRING_TRUNCATED;
  cursor.pos = start + length;
  if (!huffman) {
    return length > maxLength
      ? STRING_TOO_LONG
      : latin1(buf, start, start + length);
  }
  const capacity = Math.min(maxLength, huffmanMaxDecodedLength(length));
  // Proportional to bytes the block holds, and to the caller's limit.
  const out = capacity <= SCRATCH_BYTES ? scratch : new Uint8Array(capacity);
  const decoded = huffmanDecode(buf, start, start + length, out, capacity);
  if (decoded === HUFFMAN_INVALID) return STRING_BAD_HUFFMAN;
  if (decoded > maxLength) return STRING_TOO_LONG;
  return latin1(out, 0, decoded);
}

/**
 * Bytes {@linkcode writeString} may need for `text`: its length plus the
 * largest length prefix.
 */
export function maxStringBytes(text: string): number {
  return text.length + 6;
}

/**
 * Writes `text` (a byte string: every character U+0000-U+00FF) as a string
 * literal into `out` at `pos` and returns the position after it. With
 * `huffman`, a non-empty string is Huffman-coded unless that is longer (at
 * equal length too, as the RFC's own examples are). `out` needs
 * {@linkcode maxStringBytes}.
 */
export function writeString(
  out: Uint8Array,
  pos: number,
  text: string,
  huffman: boolean = true,
): number {
  const length = text.length;
  if (huffman && length > 0) {
    const huffmanLength = huffmanEncodedLength(text);
    if (huffmanLength <= length) {
      pos = writeInteger(out, pos, huffmanLength, 7, 0x80);
      return huffmanEncode(text, out, pos);
    }
  }
  pos = writeInteger(out, pos, length, 7, 0);
  for (let i = 0; i < length; i++) out[pos++] = text.charCodeAt(i);
  return pos;
}

const utf8 = new TextEncoder();

/**
 * `text` as a byte string: unchanged when every character is a byte
 * (U+0000-U+00FF); otherwise its UTF-8 bytes, one character each, so a
 * character above U+00FF is never truncated to its low byte.
 */
export function byteString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) {
      const bytes = utf8.encode(text);
      return latin1(bytes, 0, bytes.length);
    }
  }
  return text;
}
