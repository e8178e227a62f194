/**
 * HPACK's static Huffman code (RFC 7541 §5.2, Appendix B): encoding of
 * byte strings, and a table-driven decoder that reads four bits per step.
 *
 * The decoder is a finite automaton built once from the code table: its
 * states are the 256 inner nodes of the code tree, and each (state, nibble)
 * pair says where the nibble leads and which symbol, if any, it completes
 * (codes are 5 bits or more, so a nibble completes at most one). Decoding
 * is two table look-ups per input byte, whatever the input. It refuses,
 * as §5.2 requires, a string containing EOS, padding longer than 7 bits,
 * and padding that is not the start of EOS (all ones).
 *
 * @module
 */

import { HUFFMAN_CODE } from "./huffman_table.ts";

/** The end-of-string symbol, which must never appear in a string. */
const EOS = 256;

/** Code of each byte value, aligned to the least significant bit. */
const CODES = new Uint32Array(256);
/** Length in bits of each byte value's code. */
const LENGTHS = new Uint8Array(256);
for (let symbol = 0; symbol < 256; symbol++) {
  CODES[symbol] = HUFFMAN_CODE[symbol][0];
  LENGTHS[symbol] = HUFFMAN_CODE[symbol][1];
}

/** A transition's flag: it completes the symbol in bits 9-16. */
const EMITS = 0x100;
/** A transition's flag: it completes EOS, an error. */
const FAILS = 0x20000;

/**
 * The code tree's inner nodes: for node `n`, `ZERO[n]` and `ONE[n]` are its
 * children, an inner node (> 0) or a leaf `-(symbol + 1)`. The root is 0,
 * never anyone's child, so 0 marks an empty slot while building.
 */
const ZERO = new Int16Array(256);
const ONE = new Int16Array(256);

/** `TRANSITIONS[state * 16 + nibble]`: next state | flags | symbol << 9. */
const TRANSITIONS = new Uint32Array(256 * 16);

/**
 * States a string may end in: the root (the string ended on a symbol's
 * last bit) or 1 to 7 one-bits down from it (padding that is a prefix of
 * EOS, which is thirty one-bits).
 */
const ACCEPTING = new Uint8Array(256);

buildDecoder();

/** Builds the tree, then the automaton; throws if the table is not a code. */
function buildDecoder(): void {
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const [code, length] = HUFFMAN_CODE[symbol];
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const children = ((code >>> bit) & 1) === 1 ? ONE : ZERO;
      const child = children[node];
      if (bit === 0) {
        if (child !== 0) throw new Error(`Huffman: ${symbol} is not a leaf`);
        children[node] = -(symbol + 1);
      } else if (child === 0) {
        if (nodes === 256) throw new Error("Huffman: too many inner nodes");
        children[node] = nodes;
        node = nodes++;
      } else if (child < 0) {
        throw new Error(`Huffman: a code is a prefix of ${symbol}'s`);
      } else {
        node = child;
      }
    }
  }
  for (let state = 0; state < 256; state++) {
    if (ZERO[state] === 0 || ONE[state] === 0) {
      throw new Error("Huffman: the code is incomplete");
    }
    for (let nibble = 0; nibble < 16; nibble++) {
      TRANSITIONS[state * 16 + nibble] = walkNibble(state, nibble);
    }
  }
  let node = 0;
  ACCEPTING[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = ONE[node];
    ACCEPTING[node] = 1;
  }
}

/** The transition from `state` on the four bits of `nibble`. */
function walkNibble(state: number, nibble: number): number {
  let node = state;
  let result = 0;
  for (let bit = 3; bit >= 0; bit--) {
    const next = ((nibble >>> bit) & 1) === 1 ? ONE[node] : ZERO[node];
    if (next > 0) {
      node = next;
      continue;
    }
    const symbol = -next - 1;
    if (symbol === EOS) return FAILS;
    if ((result & EMITS) !== 0) {
      throw new Error("Huffman: two symbols in one nibble");
    }
    result = EMITS | (symbol << 9);
    node = 0;
  }
  return result | node;
}

/**
 * The length in bytes of `text` Huffman-encoded. Every character of `text`
 * must be a byte (U+0000-U+00FF).
 */
export function huffmanEncodedLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += LENGTHS[text.charCodeAt(i)];
  return (bits + 7) >>> 3;
}

/**
 * Writes `text` (bytes U+0000-U+00FF only) Huffman-encoded into `out` at
 * `pos`, padded with the start of EOS; returns the position after it.
 * `out` must have room for {@linkcode huffmanEncodedLength} bytes.
 */
export function huffmanEncode(
  text: string,
  out: Uint8Array,
  pos: number,
): number {
  // Fewer than 8 bits wait in `pending`; adding a code of up to 24 bits
  // keeps it under 31 bits, so a longer code goes in two parts.
  let pending = 0;
  let pendingBits = 0;
  for (let i = 0; i < text.length; i++) {
    const byte = text.charCodeAt(i);
    let code = CODES[byte];
    let length = LENGTHS[byte];
    if (length > 24) {
      const high = length - 16;
      pending = (pending << high) | (code >>> 16);
      pendingBits += high;
      while (pendingBits >= 8) {
        pendingBits -= 8;
        out[pos++] = pending >>> pendingBits;
      }
      pending &= (1 << pendingBits) - 1;
      code &= 0xffff;
      length = 16;
    }
    pending = (pending << length) | code;
    pendingBits += length;
    while (pendingBits >= 8) {
      pendingBits -= 8;
      out[pos++] = pending >>> pendingBits;
    }
    pending &= (1 << pendingBits) - 1;
  }
  if (pendingBits > 0) {
    out[pos++] = (pending << (8 - pendingBits)) | (0xff >>> pendingBits);
  }
  return pos;
}

/** {@linkcode huffmanDecode}: EOS inside, or padding that §5.2 forbids. */
export const HUFFMAN_INVALID = -1;

/**
 * The most bytes `length` bytes of Huffman code can decode to: every code
 * is at least 5 bits long.
 */
export function huffmanMaxDecodedLength(length: number): number {
  return Math.floor(length * 8 / 5);
}

/**
 * Decodes the Huffman code in `src[start..end)` into `out`. Returns the
 * decoded length, or {@linkcode HUFFMAN_INVALID}. The whole input is always
 * checked, but only the first `capacity` bytes (at most `out.length`) are
 * stored: a result larger than `capacity` says the string did not fit (its
 * bytes are then incomplete).
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  capacity: number = out.length,
): number {
  if (capacity > out.length) capacity = out.length;
  let count = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    let step = TRANSITIONS[(state << 4) | (byte >>> 4)];
    if ((step & EMITS) !== 0) {
      if (count < capacity) out[count] = step >>> 9;
      count++;
    } else if (step === FAILS) {
      return HUFFMAN_INVALID;
    }
    step = TRANSITIONS[((step & 0xff) << 4) | (byte & 0x0f)];
    if ((step & EMITS) !== 0) {
      if (count < capacity) out[count] = step >>> 9;
      count++;
    } else if (step === FAILS) {
      return HUFFMAN_INVALID;
    }
    state = step & 0xff;
  }
  return ACCEPTING[state] === 1 ? count : HUFFMAN_INVALID;
}
