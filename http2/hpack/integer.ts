/**
 * HPACK's integer representation (RFC 7541 §5.1): a value in the low N bits
 * of a first byte, continued in 7-bit groups, least significant first, when
 * it does not fit.
 *
 * Decoding is bounded: a value above {@linkcode MAX_INTEGER}, or more
 * continuation bytes than such a value needs, is refused (§5.1 lets a
 * decoder refuse encodings over its limits in value or in length), so
 * endless `0x80` bytes cannot keep the decoder busy or overflow a number.
 *
 * @module
 */

/** A position in a block being read: `buf[pos..end)` is still unread. */
export interface ByteCursor {
  buf: Uint8Array;
  pos: number;
  end: number;
}

/**
 * The largest integer accepted: 2^32 - 1, the largest HTTP/2 setting.
 * Every legitimate HPACK integer (an index, a string length, a table size)
 * is far below it.
 */
export const MAX_INTEGER = 0xffffffff;

/** {@linkcode readInteger}: the block ended inside the integer. */
export const INTEGER_TRUNCATED = -1;
/** {@linkcode readInteger}: the integer is above {@linkcode MAX_INTEGER}. */
export const INTEGER_TOO_LARGE = -2;

/**
 * Continuation bytes beyond the prefix that can still carry a value up to
 * {@linkcode MAX_INTEGER}: 5 groups of 7 bits hold 35 bits.
 */
const MAX_CONTINUATION_BYTES = 5;

/**
 * Reads an integer whose first byte is `cursor.buf[cursor.pos]`, using its
 * low `prefixBits` bits (1-8), and advances the cursor past it. Returns the
 * value, or {@linkcode INTEGER_TRUNCATED} / {@linkcode INTEGER_TOO_LARGE}
 * (the cursor is then meaningless: the block is in error).
 */
export function readInteger(cursor: ByteCursor, prefixBits: number): number {
  const { buf, end } = cursor;
  let pos = cursor.pos;
  if (pos >= end) return INTEGER_TRUNCATED;
  const prefixMax = (1 << prefixBits) - 1;
  let value = buf[pos++] & prefixMax;
  if (value < prefixMax) {
    cursor.pos = pos;
    return value;
  }
  // Multiplication instead of shifts: past 31 bits, << wraps to negative.
  let scale = 1;
  for (let count = 0; count < MAX_CONTINUATION_BYTES; count++) {
    if (pos >= end) return INTEGER_TRUNCATED;
    const byte = buf[pos++];
    value += (byte & 0x7f) * scale;
    if (value > MAX_INTEGER) return INTEGER_TOO_LARGE;
    if ((byte & 0x80) === 0) {
      cursor.pos = pos;
      return value;
    }
    scale *= 128;
  }
  // A sixth continuation byte: either zero padding or a value of 2^35 or
  // more; both are beyond what this decoder accepts.
  return INTEGER_TOO_LARGE;
}

/**
 * Writes `value` (0 to {@linkcode MAX_INTEGER}) with a `prefixBits`-bit
 * prefix into `out` at `pos`; `flags` are the bits of the first byte above
 * the prefix (the representation's pattern). Returns the position after
 * it. `out` must have room for 6 bytes.
 */
export function writeInteger(
  out: Uint8Array,
  pos: number,
  value: number,
  prefixBits: number,
  flags: number,
): number {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | prefixMax;
  let rest = value - prefixMax;
  while (rest >= 128) {
    out[pos++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[pos++] = rest;
  return pos;
}
