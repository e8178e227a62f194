import assert from "node:assert/strict";
import {
  C2,
  C3,
  C4,
  C5,
  C6,
  type ExampleSequence,
  hexBytes,
  type Pair,
} from "./appendix_c_vectors.ts";
import { HeaderBlockDecoder } from "./decoder.ts";
import { type EncoderOptions, HeaderBlockEncoder } from "./encoder.ts";

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function tableOf(encoder: HeaderBlockEncoder): Pair[] {
  const out: Pair[] = [];
  for (let i = 1; i <= encoder.tableLength; i++) {
    out.push(encoder.tableEntry(i));
  }
  return out;
}

function decodedFields(decoder: HeaderBlockDecoder, block: Uint8Array): Pair[] {
  const result = decoder.decode(block);
  assert.equal(result.kind, "fields", JSON.stringify(result));
  return (result as { fields: Pair[] }).fields;
}

/**
 * Encodes an Appendix C sequence and compares with the RFC's bytes. With
 * a 256-byte table the encoder must first announce it (the RFC assumes
 * the setting in force already): 0x3fe101 is "size update to 256".
 */
function reproduce(sequence: ExampleSequence): void {
  const options: EncoderOptions = {
    maxTableSize: sequence.maxTableSize,
    huffman: sequence.huffman,
    // The RFC's encoder indexes set-cookie; pws's would not.
    neverIndexed: [],
  };
  const encoder = new HeaderBlockEncoder(options);
  const decoder = new HeaderBlockDecoder();
  sequence.examples.forEach((example, i) => {
    const block = encoder.encode(example.fields);
    const announce = i === 0 && sequence.maxTableSize === 256 ? "3fe101" : "";
    assert.equal(
      toHex(block),
      announce + toHex(hexBytes(example.hex)),
      example.section,
    );
    assert.deepEqual(tableOf(encoder), example.table, example.section);
    assert.equal(encoder.tableSize, example.tableSize, example.section);
    assert.deepEqual(decodedFields(decoder, block), example.fields);
  });
}

Deno.test("C.2: the encoder makes the RFC's choice for each representation", () => {
  for (const example of C2) {
    // C.2.3 shows a never-indexed literal for a field named "password".
    const encoder = new HeaderBlockEncoder({
      huffman: false,
      neverIndexed: ["password"],
    });
    const block = encoder.encode(example.fields);
    assert.equal(toHex(block), toHex(hexBytes(example.hex)), example.section);
    assert.deepEqual(tableOf(encoder), example.table, example.section);
  }
});

Deno.test("C.3: the encoder reproduces the requests without Huffman", () =>
  reproduce(C3));
Deno.test("C.4: the encoder reproduces the requests with Huffman", () =>
  reproduce(C4));
Deno.test("C.5: the encoder reproduces the responses, with evictions", () =>
  reproduce(C5));
Deno.test("C.6: the encoder reproduces the responses with Huffman", () =>
  reproduce(C6));

/** A response head as pws sends one (lowercase names). */
function responseHead(length: number): Pair[] {
  return [
    [":status", "200"],
    ["date", "Tue, 03 Jun 2025 10:00:00 GMT"],
    ["server", "pws"],
    ["content-type", "text/html; charset=utf-8"],
    ["content-length", String(length)],
    ["etag", '"5f3a-1a2b3c"'],
    ["last-modified", "Mon, 02 Jun 2025 09:00:00 GMT"],
    ["cache-control", "no-cache"],
    ["vary", "accept-encoding"],
    ["accept-ranges", "bytes"],
  ];
}

Deno.test("a repeated response head costs a few bytes the second time", () => {
  const encoder = new HeaderBlockEncoder();
  const decoder = new HeaderBlockDecoder();
  const first = encoder.encode(responseHead(1234));
  const second = encoder.encode(responseHead(98765));
  assert.deepEqual(decodedFields(decoder, first), responseHead(1234));
  assert.deepEqual(decodedFields(decoder, second), responseHead(98765));
  // 9 one-byte indices, and content-length as a literal: 0x0f 0x0d (name
  // 28, without indexing), then "98765" in 4 bytes of Huffman and its length.
  assert.equal(second.length, 9 + 7, toHex(second));
  assert.ok(first.length > 100);
  // content-length (not worth indexing) never entered the table.
  assert.ok(tableOf(encoder).every(([name]) => name !== "content-length"));
});

Deno.test("sensitive fields are never-indexed literals and stay out of the table", () => {
  const encoder = new HeaderBlockEncoder();
  const decoder = new HeaderBlockDecoder();
  const fields: Pair[] = [
    ["set-cookie", "session=secret"],
    ["authorization", "Bearer abc"],
    ["x-custom", "1"],
  ];
  const block = encoder.encode(fields);
  // 0x1f 0x28: never indexed, name index 55 (set-cookie).
  assert.deepEqual([...block.subarray(0, 2)], [0x1f, 0x28]);
  assert.deepEqual(decodedFields(decoder, block), fields);
  assert.deepEqual(tableOf(encoder), [["x-custom", "1"]]);
  // Sent again, they are literals again: nothing about them was kept.
  const again = encoder.encode(fields.slice(0, 2));
  assert.equal(again[0], 0x1f);
  assert.ok(again.length > 10);
});

Deno.test("a never-indexed name outside the static table is sent literally", () => {
  const encoder = new HeaderBlockEncoder({ neverIndexed: ["x-token"] });
  const fields: Pair[] = [["x-token", "b"]];
  const block = encoder.encode(fields);
  assert.equal(block[0], 0x10); // never indexed, new name
  assert.equal(encoder.tableLength, 0);
  assert.deepEqual(decodedFields(new HeaderBlockDecoder(), block), fields);
});

Deno.test("fields too big for the table are not indexed", () => {
  const encoder = new HeaderBlockEncoder();
  const big = "x".repeat(3100); // entry of 3100 + 4 + 32 > 3/4 of 4096
  const block = encoder.encode([["link", big]]);
  assert.equal(block[0], 0x0f); // without indexing, name index 45
  assert.equal(encoder.tableLength, 0);
  assert.deepEqual(decodedFields(new HeaderBlockDecoder(), block), [[
    "link",
    big,
  ]]);
});

Deno.test("a lowered peer table size is announced and respected", () => {
  const encoder = new HeaderBlockEncoder();
  const decoder = new HeaderBlockDecoder();
  decodedFields(decoder, encoder.encode(responseHead(1)));
  assert.ok(encoder.tableSize > 200);
  encoder.setPeerMaxTableSize(100);
  decoder.setMaxTableSize(100);
  const block = encoder.encode(responseHead(2));
  assert.deepEqual(
    [...block.subarray(0, 3)],
    [0x3f, 0x45, 0x00].slice(0, 2).concat(block[2]),
  );
  assert.equal(block[0], 0x3f); // size update, 31 + 69 = 100
  assert.equal(block[1], 69);
  assert.deepEqual(decodedFields(decoder, block), responseHead(2));
  assert.ok(encoder.tableSize <= 100);
  assert.equal(encoder.tableMaxSize, 100);
  assert.equal(decoder.tableSize, encoder.tableSize);
});

Deno.test("size changes between blocks send the smallest, then the final (§4.2)", () => {
  const encoder = new HeaderBlockEncoder();
  const decoder = new HeaderBlockDecoder();
  decodedFields(decoder, encoder.encode([["x-a", "1"]]));
  encoder.setPeerMaxTableSize(0);
  encoder.setPeerMaxTableSize(4096);
  const block = encoder.encode([[":status", "200"]]);
  assert.equal(toHex(block), "20" + "3fe11f" + "88");
  assert.equal(encoder.tableLength, 0);
  decodedFields(decoder, block);
  assert.equal(decoder.tableLength, 0);
  // Only the final size when it is the smallest.
  encoder.setPeerMaxTableSize(300);
  encoder.setPeerMaxTableSize(200);
  assert.equal(toHex(encoder.encode([])), "3fa901");
  // Nothing when the usable size does not change.
  encoder.setPeerMaxTableSize(200);
  assert.equal(toHex(encoder.encode([])), "");
});

Deno.test("the encoder's own cap bounds the table, announced in the first block", () => {
  const encoder = new HeaderBlockEncoder({ maxTableSize: 0 });
  const block = encoder.encode([["x-a", "1"]]);
  assert.equal(block[0], 0x20);
  assert.equal(encoder.tableLength, 0);
  encoder.setPeerMaxTableSize(65536);
  assert.equal(toHex(encoder.encode([])), "");
  const capped = new HeaderBlockEncoder({ maxTableSize: 8192 });
  capped.setPeerMaxTableSize(65536);
  assert.equal(toHex(capped.encode([])), "3fe13f"); // 8192
  assert.equal(capped.tableMaxSize, 8192);
});

Deno.test("characters above U+00FF are sent as UTF-8, never truncated", () => {
  const encoder = new HeaderBlockEncoder();
  const block = encoder.encode([["x-name", "\u20ac1"]]);
  assert.deepEqual(decodedFields(new HeaderBlockDecoder(), block), [
    ["x-name", "\xe2\x82\xac1"],
  ]);
});

Deno.test("large lists grow the buffer and still round-trip", () => {
  const fields: Pair[] = [];
  for (let i = 0; i < 200; i++) fields.push([`x-${i}`, "v".repeat(i * 10)]);
  const encoder = new HeaderBlockEncoder();
  const decoder = new HeaderBlockDecoder({ maxHeaderListSize: Infinity });
  for (let round = 0; round < 3; round++) {
    assert.deepEqual(decodedFields(decoder, encoder.encode(fields)), fields);
  }
});
