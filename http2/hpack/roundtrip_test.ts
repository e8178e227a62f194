/**
 * Property: an encoder and a decoder, each with its own table, stay in
 * step over a sequence of blocks and table size changes, and every list
 * comes out as it went in.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { HeaderBlockDecoder } from "./decoder.ts";
import { HeaderBlockEncoder } from "./encoder.ts";
import { byteString } from "./string.ts";

type Pair = [string, string];

const bytes = (maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((codes) =>
    String.fromCharCode(...codes)
  );

/** Names: common ones (static and dynamic hits), random bytes, Unicode. */
const names = fc.oneof(
  fc.constantFrom(
    ":status",
    ":path",
    "content-type",
    "cache-control",
    "content-length",
    "set-cookie",
    "etag",
    "date",
    "vary",
    "x-custom",
    "",
  ),
  bytes(20),
  fc.string({ maxLength: 8, unit: "grapheme" }),
);

/** Values: common ones, random bytes (some long), empty, Unicode. */
const values = fc.oneof(
  fc.constantFrom("", "200", "404", "/", "text/html", "no-cache", "gzip"),
  bytes(40),
  bytes(3000),
  fc.string({ maxLength: 8, unit: "grapheme" }),
);

type Step =
  | { kind: "block"; fields: Pair[] }
  | { kind: "settings"; sizes: number[] };

const steps = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.array(fc.tuple(names, values), { maxLength: 25 }).map((
        fields,
      ): Step => ({ kind: "block", fields })),
    },
    {
      weight: 1,
      arbitrary: fc.array(fc.integer({ min: 0, max: 6000 }), {
        minLength: 1,
        maxLength: 3,
      }).map((sizes): Step => ({ kind: "settings", sizes })),
    },
  ),
  { maxLength: 12 },
);

function assertTablesAgree(
  encoder: HeaderBlockEncoder,
  decoder: HeaderBlockDecoder,
): void {
  assert.equal(decoder.tableMaxSize, encoder.tableMaxSize);
  assert.equal(decoder.tableSize, encoder.tableSize);
  assert.equal(decoder.tableLength, encoder.tableLength);
  for (let i = 1; i <= encoder.tableLength; i++) {
    assert.deepEqual(decoder.tableEntry(i), encoder.tableEntry(i));
  }
  assert.ok(encoder.tableSize <= encoder.tableMaxSize);
}

Deno.test("property: decode(encode(list)) = list over blocks and size changes", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6000 }),
      fc.boolean(),
      fc.boolean(),
      steps,
      (cap, huffman, sensitive, sequence) => {
        const encoder = new HeaderBlockEncoder({
          maxTableSize: cap,
          huffman,
          neverIndexed: sensitive ? ["set-cookie", "x-custom"] : [],
        });
        const decoder = new HeaderBlockDecoder({ maxHeaderListSize: Infinity });
        for (const step of sequence) {
          if (step.kind === "settings") {
            // The peer's decoder advertises each size; our encoder takes it
            // on receipt, and the decoder applies it when acknowledged.
            for (const size of step.sizes) {
              encoder.setPeerMaxTableSize(size);
              decoder.setMaxTableSize(size);
            }
            continue;
          }
          const block = encoder.encode(step.fields);
          const result = decoder.decode(block);
          assert.equal(result.kind, "fields", JSON.stringify(result));
          const expected = step.fields.map(([n, v]) => [
            byteString(n),
            byteString(v),
          ]);
          assert.deepEqual(
            (result as { fields: Pair[] }).fields,
            expected,
          );
          assertTablesAgree(encoder, decoder);
        }
      },
    ),
    { numRuns: 300 },
  );
});
