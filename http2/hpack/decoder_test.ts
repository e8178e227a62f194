import assert from "node:assert/strict";
import {
  C2,
  type ExampleSequence,
  hexBytes,
  type Pair,
  SEQUENCES,
} from "./appendix_c_vectors.ts";
import { type DecodeResult, HeaderBlockDecoder } from "./decoder.ts";
import { writeInteger } from "./integer.ts";

function tableOf(decoder: HeaderBlockDecoder): Pair[] {
  const out: Pair[] = [];
  for (let i = 1; i <= decoder.tableLength; i++) {
    out.push(decoder.tableEntry(i));
  }
  return out;
}

function fields(result: DecodeResult): Pair[] {
  assert.equal(result.kind, "fields", JSON.stringify(result));
  return (result as { fields: Pair[] }).fields;
}

/** An integer with a prefix, as bytes (flags in the first byte). */
function int(value: number, prefixBits: number, flags = 0): number[] {
  const out = new Uint8Array(8);
  return [...out.subarray(0, writeInteger(out, 0, value, prefixBits, flags))];
}

/** A raw (non-Huffman) string literal. */
function raw(text: string): number[] {
  return [...int(text.length, 7), ...[...text].map((c) => c.charCodeAt(0))];
}

Deno.test("C.2: single representations decode, table as the RFC shows", () => {
  for (const example of C2) {
    const decoder = new HeaderBlockDecoder();
    const result = decoder.decode(hexBytes(example.hex));
    assert.deepEqual(fields(result), example.fields, example.section);
    assert.deepEqual(tableOf(decoder), example.table, example.section);
    assert.equal(decoder.tableSize, example.tableSize, example.section);
  }
});

function decodeSequence(sequence: ExampleSequence): void {
  const decoder = new HeaderBlockDecoder({
    maxTableSize: sequence.maxTableSize,
  });
  for (const example of sequence.examples) {
    const result = decoder.decode(hexBytes(example.hex));
    assert.deepEqual(fields(result), example.fields, example.section);
    assert.deepEqual(tableOf(decoder), example.table, example.section);
    assert.equal(decoder.tableSize, example.tableSize, example.section);
  }
}

for (const sequence of SEQUENCES) {
  const what = sequence.maxTableSize === 256
    ? "responses (256-byte table, evictions)"
    : "requests";
  Deno.test(`${sequence.section}: three ${what} decode in sequence`, () => {
    decodeSequence(sequence);
  });
}

Deno.test("a block can be a slice of a larger buffer", () => {
  const example = C2[0];
  const bytes = hexBytes(example.hex);
  const padded = new Uint8Array([0xff, 0xff, ...bytes, 0x80]);
  const result = new HeaderBlockDecoder().decode(padded, 2, 2 + bytes.length);
  assert.deepEqual(fields(result), example.fields);
});

Deno.test("an empty block is an empty list", () => {
  assert.deepEqual(
    fields(new HeaderBlockDecoder().decode(new Uint8Array())),
    [],
  );
});

Deno.test("uppercase and odd names decode as sent, for the caller to judge", () => {
  const block = new Uint8Array([
    0x00,
    ...raw("Content-Type"),
    ...raw("text/html"),
    0x10,
    ...raw("x y\x00\xff"),
    ...raw(""),
  ]);
  assert.deepEqual(fields(new HeaderBlockDecoder().decode(block)), [
    ["Content-Type", "text/html"],
    ["x y\x00\xff", ""],
  ]);
});

Deno.test("never-indexed and not-indexed literals leave the table alone", () => {
  const decoder = new HeaderBlockDecoder();
  const block = new Uint8Array([
    0x00,
    ...raw("a"),
    ...raw("1"), // without indexing, new name
    0x10,
    ...raw("b"),
    ...raw("2"), // never indexed, new name
    0x0f,
    0x08,
    ...raw("x"), // without indexing, name 23 (authorization)
    0x1f,
    0x08,
    ...raw("y"), // never indexed, name 23
  ]);
  assert.deepEqual(fields(decoder.decode(block)), [
    ["a", "1"],
    ["b", "2"],
    ["authorization", "x"],
    ["authorization", "y"],
  ]);
  assert.equal(decoder.tableLength, 0);
});

Deno.test("a literal may name a dynamic entry", () => {
  const decoder = new HeaderBlockDecoder();
  decoder.decode(new Uint8Array([0x40, ...raw("x-id"), ...raw("1")]));
  const result = decoder.decode(new Uint8Array([0x7e, ...raw("2"), 0xbf]));
  // 0x7e: incremental indexing with name 62 (x-id: 1); then 63 is the old.
  assert.deepEqual(fields(result), [["x-id", "2"], ["x-id", "1"]]);
  assert.deepEqual(tableOf(decoder), [["x-id", "2"], ["x-id", "1"]]);
});

Deno.test("size updates at the start apply; zero empties the table", () => {
  const decoder = new HeaderBlockDecoder();
  decoder.decode(hexBytes(C2[0].hex));
  assert.equal(decoder.tableLength, 1);
  // Two updates, the smallest first (§4.2), then a field.
  const result = decoder.decode(
    new Uint8Array([0x20, ...int(4096, 5, 0x20), 0x82]),
  );
  assert.deepEqual(fields(result), [[":method", "GET"]]);
  assert.equal(decoder.tableLength, 0);
  assert.equal(decoder.tableMaxSize, 4096);
  const shrink = decoder.decode(new Uint8Array(int(100, 5, 0x20)));
  assert.deepEqual(fields(shrink), []);
  assert.equal(decoder.tableMaxSize, 100);
});

Deno.test("the header list limit counts name + value + 32 per field", () => {
  const decoder = new HeaderBlockDecoder({ maxHeaderListSize: 32 + 7 + 3 });
  const exact = [0x00, ...raw(":method"), ...raw("GET")];
  assert.deepEqual(fields(decoder.decode(new Uint8Array(exact))), [
    [":method", "GET"],
  ]);
  assert.equal(decoder.decode(new Uint8Array([0x82, 0x82])).kind, "too_large");
  decoder.maxHeaderListSize = 84;
  assert.equal(decoder.decode(new Uint8Array([0x82, 0x82])).kind, "fields");
});
