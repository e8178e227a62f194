import assert from "node:assert/strict";
import fc from "fast-check";
import { HUFFMAN_CODE } from "./huffman_table.ts";
import {
  HUFFMAN_INVALID,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "./huffman.ts";

function hex(text: string): Uint8Array {
  const digits = text.replaceAll(" ", "");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function encode(text: string): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(text));
  assert.equal(huffmanEncode(text, out, 0), out.length);
  return out;
}

/** Decodes into a buffer as large as the input can need; string or error. */
function decode(bytes: Uint8Array): string | number {
  const out = new Uint8Array(huffmanMaxDecodedLength(bytes.length));
  const n = huffmanDecode(bytes, 0, bytes.length, out);
  return n < 0 ? n : String.fromCharCode(...out.subarray(0, n));
}

/** Strings and their Huffman code from RFC 7541 Appendix C.4 and C.6. */
const RFC_EXAMPLES: [string, string][] = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
  ["no-cache", "a8eb 1064 9cbf"],
  ["custom-key", "25a8 49e9 5ba9 7d7f"],
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
  ["302", "6402"],
  ["307", "640e ff"],
  ["private", "aec3 771a 4b"],
  [
    "Mon, 21 Oct 2013 20:13:21 GMT",
    "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
  ],
  [
    "Mon, 21 Oct 2013 20:13:22 GMT",
    "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
  ],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
  ["gzip", "9bd9 ab"],
  [
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5" +
    "291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ],
];

Deno.test("the code table has 257 codes forming a complete prefix code", () => {
  assert.equal(HUFFMAN_CODE.length, 257);
  // Kraft's sum is exactly 1 for a complete code; the tree build in
  // huffman.ts throws on any prefix clash, so importing it checked that.
  let kraft = 0;
  for (const [code, length] of HUFFMAN_CODE) {
    assert.ok(length >= 5 && length <= 30);
    assert.ok(code < 2 ** length);
    kraft += 2 ** -length;
  }
  assert.equal(kraft, 1);
  // Spot checks against Appendix B's rows.
  assert.deepEqual(HUFFMAN_CODE[0x2f], [0x18, 6]); // '/'
  assert.deepEqual(HUFFMAN_CODE[0], [0x1ff8, 13]);
  assert.deepEqual(HUFFMAN_CODE[10], [0x3ffffffc, 30]);
  assert.deepEqual(HUFFMAN_CODE[256], [0x3fffffff, 30]); // EOS
});

Deno.test("Appendix C strings encode and decode as the RFC shows", () => {
  for (const [text, code] of RFC_EXAMPLES) {
    assert.equal(toHex(encode(text)), toHex(hex(code)), text);
    assert.equal(decode(hex(code)), text, text);
  }
});

Deno.test("every byte value round-trips alone and all together", () => {
  let all = "";
  for (let b = 0; b < 256; b++) {
    const text = String.fromCharCode(b);
    all += text;
    assert.equal(decode(encode(text)), text, `byte ${b}`);
  }
  assert.equal(decode(encode(all)), all);
  assert.equal(decode(new Uint8Array(0)), "");
});

Deno.test("EOS inside a string is refused", () => {
  // Thirty one-bits are EOS; then two zero bits.
  assert.equal(decode(hex("ffff fffc")), HUFFMAN_INVALID);
  // 'a' (00011), EOS, padding of ones.
  assert.equal(decode(hex("1fff ffff ff")), HUFFMAN_INVALID);
  // EOS written after valid text.
  const text = encode("abc");
  const withEos = new Uint8Array([...text, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(decode(withEos), HUFFMAN_INVALID);
});

Deno.test("padding longer than 7 bits is refused", () => {
  // 'a' is 00011: 3 bits of padding fill its byte, 8 more make 11.
  assert.equal(decode(hex("1f")), "a");
  assert.equal(decode(hex("1fff")), HUFFMAN_INVALID);
  // A whole byte of ones after '&', whose code is exactly one byte.
  assert.equal(decode(hex("f8")), "&");
  assert.equal(decode(hex("f8ff")), HUFFMAN_INVALID);
  // Only ones: 8 bits of padding with no symbol at all.
  assert.equal(decode(hex("ff")), HUFFMAN_INVALID);
});

Deno.test("padding that is not all ones is refused", () => {
  assert.equal(decode(hex("18")), HUFFMAN_INVALID); // 'a' then 000
  assert.equal(decode(hex("1e")), HUFFMAN_INVALID); // 'a' then 110
  assert.equal(decode(hex("1d")), HUFFMAN_INVALID); // 'a' then 101
  // Seven padding bits, all ones, are fine: 'aaaaa' is 25 bits.
  assert.equal(decode(encode("aaaaa")), "aaaaa");
  const bytes = encode("aaaaa");
  bytes[bytes.length - 1] &= 0xfe;
  assert.equal(decode(bytes), HUFFMAN_INVALID);
});

Deno.test("a small output buffer stores a prefix and reports the length", () => {
  const code = encode("custom-value");
  const out = new Uint8Array(4);
  assert.equal(huffmanDecode(code, 0, code.length, out), 12);
  assert.equal(String.fromCharCode(...out), "cust");
  // Invalid input is invalid whatever the buffer: it is checked to the end.
  const bad = new Uint8Array([...code, 0xff]);
  assert.equal(huffmanDecode(bad, 0, bad.length, out), HUFFMAN_INVALID);
  assert.equal(
    huffmanDecode(bad, 0, bad.length, new Uint8Array(0)),
    HUFFMAN_INVALID,
  );
});

Deno.test("property: decode(encode(bytes)) is the identity", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 200 }),
      (codes) => {
        const text = String.fromCharCode(...codes);
        const bytes = encode(text);
        assert.ok(bytes.length <= Math.ceil(text.length * 30 / 8));
        assert.equal(decode(bytes), text);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("property: random bytes decode or fail cleanly, never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const result = decode(bytes);
      if (typeof result === "string") {
        // Whatever decodes must re-encode to the same bytes: the code is
        // canonical and the padding rules leave one valid form.
        assert.equal(toHex(encode(result)), toHex(bytes));
      } else {
        assert.equal(result, HUFFMAN_INVALID);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decoding is linear: 1 MiB of hostile code in well under a second", () => {
  // A worst case for bit-by-bit decoders: long codes all the way.
  const big = new Uint8Array(1 << 20).fill(0xfe);
  const out = new Uint8Array(16);
  const start = performance.now();
  const n = huffmanDecode(big, 0, big.length, out);
  const ms = performance.now() - start;
  assert.ok(n === HUFFMAN_INVALID || n > 0);
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
});
