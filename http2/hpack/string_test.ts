import assert from "node:assert/strict";
import fc from "fast-check";
import type { ByteCursor } from "./integer.ts";
import {
  byteString,
  latin1,
  maxStringBytes,
  readString,
  STRING_BAD_HUFFMAN,
  STRING_LENGTH_TOO_LARGE,
  STRING_TOO_LONG,
  STRING_TRUNCATED,
  writeString,
} from "./string.ts";

function cursor(bytes: number[] | Uint8Array): ByteCursor {
  const buf = new Uint8Array(bytes);
  return { buf, pos: 0, end: buf.length };
}

function written(text: string): Uint8Array {
  const out = new Uint8Array(maxStringBytes(text));
  return out.subarray(0, writeString(out, 0, text));
}

Deno.test("a raw literal reads as its bytes, latin1", () => {
  const c = cursor([0x03, 0x61, 0xff, 0x00, 0x99]);
  assert.equal(readString(c, 100), "a\xff\x00");
  assert.equal(c.pos, 4);
});

Deno.test("a Huffman literal (C.4.1's authority) decodes", () => {
  const c = cursor([
    0x8c,
    0xf1,
    0xe3,
    0xc2,
    0xe5,
    0xf2,
    0x3a,
    0x6b,
    0xa0,
    0xab,
    0x90,
    0xf4,
    0xff,
  ]);
  assert.equal(readString(c, 100), "www.example.com");
  assert.equal(c.pos, 13);
});

Deno.test("the writer picks Huffman unless it is longer, or told not to", () => {
  assert.deepEqual([...written("no-cache")], [
    0x86,
    0xa8,
    0xeb,
    0x10,
    0x64,
    0x9c,
    0xbf,
  ]);
  // Bytes with 28-bit codes are longer in Huffman: sent raw.
  assert.deepEqual([...written("\x01\x02")], [0x02, 0x01, 0x02]);
  assert.deepEqual([...written("")], [0x00]);
  // Equal lengths: Huffman, as in RFC 7541 C.6.2 ("307" is 640eff).
  assert.deepEqual([...written("307")], [0x83, 0x64, 0x0e, 0xff]);
  const out = new Uint8Array(16);
  const end = writeString(out, 0, "no-cache", false);
  assert.deepEqual([...out.subarray(0, end)], [
    0x08,
    ...new TextEncoder().encode("no-cache"),
  ]);
});

Deno.test("a length beyond the block is truncated, before any allocation", () => {
  // Declares 2^32 - 1 bytes (the largest integer accepted) in 7 bytes.
  const huge = [0xff, 0x80, 0xff, 0xff, 0xff, 0x0f];
  assert.equal(readString(cursor(huge), Infinity), STRING_TRUNCATED);
  assert.equal(
    readString(cursor([0x7f, ...huge.slice(1)]), Infinity),
    STRING_TRUNCATED,
  );
  assert.equal(readString(cursor([0x05, 0x61, 0x62]), 100), STRING_TRUNCATED);
  assert.equal(readString(cursor([0x7f]), 100), STRING_TRUNCATED);
  assert.equal(readString(cursor([]), 100), STRING_TRUNCATED);
  assert.equal(
    readString(cursor([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 100),
    STRING_LENGTH_TOO_LARGE,
  );
});

Deno.test("a string over the limit is skipped, and Huffman still checked", () => {
  const c = cursor([0x03, 0x61, 0x62, 0x63, 0x01, 0x64]);
  assert.equal(readString(c, 2), STRING_TOO_LONG);
  assert.equal(c.pos, 4);
  assert.equal(readString(c, 2), "d");
  const code = written("custom-value"); // Huffman, 9 bytes for 12
  assert.ok((code[0] & 0x80) !== 0);
  const h = cursor(code);
  assert.equal(readString(h, 11), STRING_TOO_LONG);
  assert.equal(h.pos, code.length);
  assert.equal(readString(cursor(code), 12), "custom-value");
  // Over the limit and invalid: the error wins, so a bad block is never
  // taken for a merely large one.
  const bad = [0x82, 0x1f, 0xff];
  assert.equal(readString(cursor(bad), 0), STRING_BAD_HUFFMAN);
  assert.equal(readString(cursor(bad), 100), STRING_BAD_HUFFMAN);
});

Deno.test("byteString keeps bytes and UTF-8-encodes wider characters", () => {
  assert.equal(byteString("plain \xe9"), "plain \xe9");
  // One wide character makes the whole string UTF-8, as a TextEncoder would.
  assert.equal(byteString("caf\u00e9 \u20ac"), "caf\xc3\xa9 \xe2\x82\xac");
});

Deno.test("latin1 handles strings longer than one call's chunk", () => {
  const bytes = new Uint8Array(10_000).map((_, i) => i & 0xff);
  const text = latin1(bytes, 0, bytes.length);
  assert.equal(text.length, 10_000);
  assert.equal(text.charCodeAt(9_999), 9_999 & 0xff);
});

Deno.test("property: readString(writeString(s)) is s, at the right position", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 300 }),
      (codes) => {
        const text = String.fromCharCode(...codes);
        const bytes = [...written(text), 0x42];
        const c = cursor(bytes);
        assert.equal(readString(c, text.length), text);
        assert.equal(c.pos, bytes.length - 1);
        if (text.length > 0) {
          assert.equal(
            readString(cursor(bytes), text.length - 1),
            STRING_TOO_LONG,
          );
        }
      },
    ),
    { numRuns: 1000 },
  );
});
