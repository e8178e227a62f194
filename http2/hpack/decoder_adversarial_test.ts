/**
 * Hostile header blocks: each must end in a clean, typed result (never a
 * throw), in time linear in the block, with memory bounded by the limits.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { hexBytes, type Pair, SEQUENCES } from "./appendix_c_vectors.ts";
import { type DecodeResult, HeaderBlockDecoder } from "./decoder.ts";
import { writeInteger } from "./integer.ts";

function int(value: number, prefixBits: number, flags = 0): number[] {
  const out = new Uint8Array(8);
  return [...out.subarray(0, writeInteger(out, 0, value, prefixBits, flags))];
}

function raw(text: string): number[] {
  return [...int(text.length, 7), ...[...text].map((c) => c.charCodeAt(0))];
}

function decodeFresh(bytes: number[] | Uint8Array): DecodeResult {
  return new HeaderBlockDecoder().decode(new Uint8Array(bytes));
}

function assertCompressionError(result: DecodeResult, what: string): void {
  assert.equal(
    result.kind,
    "compression_error",
    `${what}: ${JSON.stringify(result)}`,
  );
}

/** Runs `f` and returns milliseconds taken. */
function timed(f: () => void): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

Deno.test("a block cut at every byte is an error or a prefix of the list", () => {
  for (const sequence of SEQUENCES) {
    const blocks = sequence.examples.map((e) => hexBytes(e.hex));
    for (let n = 0; n < blocks.length; n++) {
      const full = blocks[n];
      for (let cut = 0; cut < full.length; cut++) {
        const decoder = new HeaderBlockDecoder({
          maxTableSize: sequence.maxTableSize,
        });
        for (let k = 0; k < n; k++) decoder.decode(blocks[k]);
        const result = decoder.decode(full.subarray(0, cut));
        if (result.kind === "fields") {
          const expected = sequence.examples[n].fields;
          assert.deepEqual(
            result.fields,
            expected.slice(0, result.fields.length),
          );
        } else {
          assertCompressionError(
            result,
            `${sequence.examples[n].section}/${cut}`,
          );
        }
      }
    }
  }
  // Cuts strictly inside C.3.1's fourth field (bytes 4-19) must fail.
  const c31 = hexBytes(SEQUENCES[0].examples[0].hex);
  for (let cut = 4; cut < c31.length; cut++) {
    assertCompressionError(decodeFresh(c31.subarray(0, cut)), `C.3.1/${cut}`);
  }
});

Deno.test("endless integer continuation bytes are refused at once", () => {
  for (const first of [0xff, 0x7f, 0x3f, 0x1f, 0x0f]) {
    const block = new Uint8Array(1 << 20).fill(0x80);
    block[0] = first;
    let result!: DecodeResult;
    const ms = timed(() => result = decodeFresh(block));
    assertCompressionError(result, first.toString(16));
    assert.ok(ms < 50, `${ms} ms`);
  }
  // A string length that overflows 32 bits.
  assertCompressionError(
    decodeFresh([0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    "length",
  );
});

Deno.test("index 0 and indices past both tables are errors", () => {
  assertCompressionError(decodeFresh([0x80]), "indexed 0");
  assertCompressionError(decodeFresh([0xbe]), "indexed 62, empty table");
  assertCompressionError(decodeFresh(int(1_000_000, 7, 0x80)), "indexed 1e6");
  assertCompressionError(decodeFresh([0x7e, ...raw("v")]), "name 62, indexing");
  assertCompressionError(decodeFresh([0x0f, 0x2f, ...raw("v")]), "name 62");
  assertCompressionError(
    decodeFresh([0x1f, 0x2f, ...raw("v")]),
    "name 62, never",
  );
  // One past the newest entry after an insertion.
  const decoder = new HeaderBlockDecoder();
  assert.equal(
    decoder.decode(new Uint8Array([0x40, ...raw("a"), ...raw("b")])).kind,
    "fields",
  );
  assert.equal(decoder.decode(new Uint8Array([0xbe])).kind, "fields");
  assertCompressionError(decoder.decode(new Uint8Array([0xbf])), "indexed 63");
});

Deno.test("a string longer than the block is an error, without allocating it", () => {
  assertCompressionError(decodeFresh([0x40, 0x0a, 0x61]), "name");
  assertCompressionError(decodeFresh([0x40, ...raw("a"), 0x05, 0x61]), "value");
  // Declares almost 4 GiB, Huffman and raw: must not allocate or loop.
  const huge = int(0xffffffff, 7, 0x80);
  const hugeRaw = int(0xffffffff, 7, 0);
  for (const length of [huge, hugeRaw]) {
    let result!: DecodeResult;
    const ms = timed(() =>
      result = decodeFresh([0x40, ...raw("a"), ...length, 0x61])
    );
    assertCompressionError(result, "huge");
    assert.ok(ms < 50, `${ms} ms`);
  }
});

Deno.test("invalid Huffman in a name or value is an error", () => {
  const cases: [string, number[]][] = [
    ["EOS inside", [0x84, 0xff, 0xff, 0xff, 0xfc]],
    ["padding of 11 bits", [0x82, 0x1f, 0xff]],
    ["zero padding", [0x81, 0x18]],
    ["padding 110", [0x81, 0x1e]],
  ];
  for (const [what, bad] of cases) {
    assertCompressionError(
      decodeFresh([0x00, ...bad, ...raw("v")]),
      `name: ${what}`,
    );
    assertCompressionError(
      decodeFresh([0x00, ...raw("n"), ...bad]),
      `value: ${what}`,
    );
    assertCompressionError(
      decodeFresh([0x40, ...raw("n"), ...bad]),
      `indexed value: ${what}`,
    );
  }
});

Deno.test("a table size update above the limit is an error", () => {
  assertCompressionError(decodeFresh(int(4097, 5, 0x20)), "4097 > 4096");
  assert.equal(decodeFresh(int(4096, 5, 0x20)).kind, "fields");
  const small = new HeaderBlockDecoder({ maxTableSize: 100 });
  assertCompressionError(
    small.decode(new Uint8Array(int(101, 5, 0x20))),
    "101 > 100",
  );
  assertCompressionError(decodeFresh(int(0xffffffff, 5, 0x20)), "2^32 - 1");
  assertCompressionError(
    decodeFresh([0x3f, ...new Array(20).fill(0xff)]),
    "overflow",
  );
});

Deno.test("a table size update after a field is an error", () => {
  assertCompressionError(decodeFresh([0x82, 0x20]), "after indexed");
  assertCompressionError(
    decodeFresh([0x00, ...raw("a"), ...raw("b"), 0x3f, 0x01]),
    "after literal",
  );
  assertCompressionError(
    decodeFresh([0x20, 0x82, 0x20]),
    "after a field again",
  );
});

Deno.test("a lowered limit requires an update at the next block (§4.2)", () => {
  const decoder = new HeaderBlockDecoder();
  decoder.decode(new Uint8Array([0x40, ...raw("a"), ...raw("b")]));
  decoder.setMaxTableSize(50);
  // Without the update the block is refused, even if it starts well.
  assertCompressionError(decoder.decode(new Uint8Array([0x82])), "no update");

  const next = new HeaderBlockDecoder();
  next.decode(new Uint8Array([0x40, ...raw("a"), ...raw("b")]));
  next.setMaxTableSize(50);
  assertCompressionError(
    next.decode(new Uint8Array(int(51, 5, 0x20))),
    "51 > 50",
  );

  const good = new HeaderBlockDecoder();
  good.decode(new Uint8Array([0x40, ...raw("a"), ...raw("b")]));
  good.setMaxTableSize(50);
  const result = good.decode(new Uint8Array([...int(50, 5, 0x20), 0xbe]));
  assert.equal(result.kind, "fields");
  assert.deepEqual((result as { fields: Pair[] }).fields, [["a", "b"]]);
  assert.equal(good.tableMaxSize, 50);
  // Then no further update is needed.
  assert.equal(good.decode(new Uint8Array([0x82])).kind, "fields");
  // Raising the limit needs none either, and allows larger updates.
  good.setMaxTableSize(8192);
  assert.equal(good.decode(new Uint8Array([0x82])).kind, "fields");
  assert.equal(good.decode(new Uint8Array(int(8192, 5, 0x20))).kind, "fields");
  assert.equal(good.tableMaxSize, 8192);
});

Deno.test("limits lowered then raised require the smallest update (§4.2)", () => {
  const setUp = () => {
    const decoder = new HeaderBlockDecoder();
    decoder.setMaxTableSize(0);
    decoder.setMaxTableSize(1000);
    decoder.setMaxTableSize(4096);
    return decoder;
  };
  // Only the final size: the drop to 0 went unsignalled.
  assertCompressionError(
    setUp().decode(new Uint8Array(int(4096, 5, 0x20))),
    "final only",
  );
  assertCompressionError(
    setUp().decode(new Uint8Array(int(1000, 5, 0x20))),
    "1000 > 0",
  );
  const decoder = setUp();
  const result = decoder.decode(new Uint8Array([0x20, ...int(4096, 5, 0x20)]));
  assert.equal(result.kind, "fields");
  assert.equal(decoder.tableMaxSize, 4096);
});

Deno.test("after a compression error the decoder refuses everything", () => {
  const decoder = new HeaderBlockDecoder();
  assertCompressionError(decoder.decode(new Uint8Array([0x80])), "index 0");
  assertCompressionError(decoder.decode(new Uint8Array([0x82])), "afterwards");
});

/** A 4 KiB entry, then `references` indexed references to it. */
function bomb(references: number): Uint8Array {
  const valueLength = 4096 - 32 - 1; // an entry of exactly 4096 bytes
  const head = [0x40, ...raw("x"), ...int(valueLength, 7)];
  const out = new Uint8Array(head.length + valueLength + references);
  out.set(head);
  out.fill(0x76, head.length, head.length + valueLength); // "vvv…"
  out.fill(0xbe, head.length + valueLength); // index 62
  return out;
}

Deno.test("HPACK bomb: thousands of references to a 4 KiB entry stop at the limit", () => {
  const block = bomb(100_000); // would decode to 409 MB
  const decoder = new HeaderBlockDecoder({ maxHeaderListSize: 64 * 1024 });
  let result!: DecodeResult;
  const ms = timed(() => result = decoder.decode(block));
  assert.equal(result.kind, "too_large", JSON.stringify(result).slice(0, 200));
  assert.ok(ms < 200, `${ms.toFixed(1)} ms for ${block.length} bytes`);
  // The block was processed to its end: the table is in sync and usable.
  assert.equal(decoder.tableLength, 1);
  const next = decoder.decode(new Uint8Array([0xbe]));
  assert.equal(next.kind, "fields");
  assert.equal((next as { fields: Pair[] }).fields[0][1].length, 4063);
});

Deno.test("too large, yet entries added later in the block still reach the table", () => {
  const decoder = new HeaderBlockDecoder({ maxHeaderListSize: 100 });
  const block = new Uint8Array([
    0x40,
    ...raw("big"),
    ...raw("x".repeat(200)), // too large for the list
    0x40,
    ...raw("k"),
    ...raw("v"), // fits, but the list is already over
    0x0f,
    0x2f,
    ...raw("y".repeat(1000)), // not indexed: skipped
  ]);
  assert.equal(decoder.decode(block).kind, "too_large");
  assert.deepEqual(
    [decoder.tableEntry(1), decoder.tableEntry(2)],
    [["k", "v"], ["big", "x".repeat(200)]],
  );
  // A compression error later in an oversized block still wins.
  const bad = new Uint8Array([...block.subarray(0, 30), 0x80]);
  assertCompressionError(
    new HeaderBlockDecoder({ maxHeaderListSize: 100 }).decode(bad),
    "index 0",
  );
});

/** `pattern` repeated to fill `bytes` bytes (whole repetitions only). */
function repeated(pattern: number[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes - (bytes % pattern.length));
  for (let i = 0; i < out.length; i++) out[i] = pattern[i % pattern.length];
  return out;
}

/** `head` bytes followed by `tail`. */
function concat(head: number[], tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

Deno.test("1 MiB hostile blocks finish in linear time", () => {
  const MiB = 1 << 20;
  const blocks: [string, Uint8Array, DecodeResult["kind"][]][] = [
    ["indexed static fields", repeated([0x82], MiB), ["too_large"]],
    ["size updates", repeated([0x20], MiB), ["fields"]],
    ["empty literals", repeated([0x00, 0x00, 0x00], MiB), ["too_large"]],
    [
      "inserts evicting each other",
      repeated([0x40, 0x01, 0x61, 0x01, 0x62], MiB),
      ["too_large"],
    ],
    [
      "one long Huffman value",
      concat([0x00, 0x01, 0x61, ...int(MiB, 7, 0x80)], repeated([0xfe], MiB)),
      ["too_large", "compression_error"],
    ],
    [
      "one long raw value",
      concat([0x00, 0x01, 0x61, ...int(MiB, 7)], repeated([0x61], MiB)),
      ["too_large"],
    ],
    ["a bomb", bomb(MiB - 4200), ["too_large"]],
  ];
  for (const [what, block, kinds] of blocks) {
    let result!: DecodeResult;
    const ms = timed(() => result = new HeaderBlockDecoder().decode(block));
    assert.ok(kinds.includes(result.kind), `${what}: ${result.kind}`);
    // Linear work on 1 MiB takes milliseconds (tens on a loaded machine);
    // quadratic work would take minutes.
    assert.ok(ms < 500, `${what}: ${ms.toFixed(1)} ms`);
  }
});

Deno.test("property: random and mutated blocks never throw", () => {
  const valid = SEQUENCES.flatMap((s) =>
    s.examples.map((e) => hexBytes(e.hex))
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(
          fc.constantFrom(...valid),
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
        ).map(([block, at, byte]) => {
          const copy = block.slice();
          copy[at % copy.length] = byte;
          return copy;
        }),
      ),
      fc.integer({ min: 0, max: 300 }),
      (block, listLimit) => {
        const decoder = new HeaderBlockDecoder({
          maxHeaderListSize: listLimit,
        });
        const result = decoder.decode(block);
        assert.ok(
          ["fields", "compression_error", "too_large"].includes(result.kind),
        );
        if (result.kind === "fields") {
          let size = 0;
          for (const [name, value] of result.fields) {
            size += name.length + value.length + 32;
          }
          assert.ok(size <= listLimit);
        }
        assert.ok(decoder.tableSize <= decoder.tableMaxSize);
      },
    ),
    { numRuns: 5000 },
  );
});
