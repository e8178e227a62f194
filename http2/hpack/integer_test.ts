import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ByteCursor,
  INTEGER_TOO_LARGE,
  INTEGER_TRUNCATED,
  MAX_INTEGER,
  readInteger,
  writeInteger,
} from "./integer.ts";

function cursor(bytes: number[]): ByteCursor {
  const buf = new Uint8Array(bytes);
  return { buf, pos: 0, end: buf.length };
}

function encoded(value: number, prefixBits: number, flags = 0): number[] {
  const out = new Uint8Array(8);
  return [...out.subarray(0, writeInteger(out, 0, value, prefixBits, flags))];
}

Deno.test("C.1.1: 10 with a 5-bit prefix is one byte", () => {
  assert.deepEqual(encoded(10, 5), [0b01010]);
  const c = cursor([0b11101010]); // the 3 flag bits are not part of it
  assert.equal(readInteger(c, 5), 10);
  assert.equal(c.pos, 1);
});

Deno.test("C.1.2: 1337 with a 5-bit prefix is 31, 154, 10", () => {
  assert.deepEqual(encoded(1337, 5), [0b11111, 0b10011010, 0b00001010]);
  const c = cursor([0b00011111, 0b10011010, 0b00001010, 0xaa]);
  assert.equal(readInteger(c, 5), 1337);
  assert.equal(c.pos, 3);
});

Deno.test("C.1.3: 42 at an octet boundary is one byte", () => {
  assert.deepEqual(encoded(42, 8), [42]);
  assert.equal(readInteger(cursor([42]), 8), 42);
});

Deno.test("flags above the prefix are kept by the writer", () => {
  assert.deepEqual(encoded(2, 7, 0x80), [0x82]);
  assert.deepEqual(encoded(127, 7, 0x80), [0xff, 0x00]);
});

Deno.test("every prefix round-trips values around its boundaries", () => {
  for (let prefixBits = 1; prefixBits <= 8; prefixBits++) {
    const max = (1 << prefixBits) - 1;
    for (
      const value of [0, max - 1, max, max + 1, max + 127, max + 128, 1 << 20]
    ) {
      if (value < 0) continue;
      const c = cursor(encoded(value, prefixBits));
      assert.equal(readInteger(c, prefixBits), value, `${value}/${prefixBits}`);
      assert.equal(c.pos, c.end);
    }
  }
});

Deno.test("the largest accepted integer round-trips; one more is refused", () => {
  for (let prefixBits = 1; prefixBits <= 8; prefixBits++) {
    assert.equal(
      readInteger(cursor(encoded(MAX_INTEGER, prefixBits)), prefixBits),
      MAX_INTEGER,
    );
    assert.equal(
      readInteger(cursor(encoded(MAX_INTEGER + 1, prefixBits)), prefixBits),
      INTEGER_TOO_LARGE,
    );
  }
});

Deno.test("an integer cut short is truncated, at every byte", () => {
  const bytes = encoded(1 << 30, 5);
  for (let n = 0; n < bytes.length; n++) {
    assert.equal(
      readInteger(cursor(bytes.slice(0, n)), 5),
      INTEGER_TRUNCATED,
      `${n} bytes`,
    );
  }
});

Deno.test("endless continuation bytes stop after a few, as too large", () => {
  // Zero-valued continuations never grow the value; the length cap ends them.
  const bytes = [0x1f, ...new Array(100_000).fill(0x80), 0x00];
  const c = cursor(bytes);
  assert.equal(readInteger(c, 5), INTEGER_TOO_LARGE);
  // Values that overflow 2^53 if summed without a check.
  assert.equal(
    readInteger(cursor([0x1f, ...new Array(20).fill(0xff), 0x01]), 5),
    INTEGER_TOO_LARGE,
  );
});

Deno.test("property: writeInteger then readInteger is the identity", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MAX_INTEGER }),
      fc.integer({ min: 1, max: 8 }),
      (value, prefixBits) => {
        const bytes = encoded(value, prefixBits);
        const c = cursor(bytes);
        assert.equal(readInteger(c, prefixBits), value);
        assert.equal(c.pos, bytes.length);
      },
    ),
    { numRuns: 2000 },
  );
});
