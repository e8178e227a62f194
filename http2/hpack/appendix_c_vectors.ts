/**
 * Test data: the examples of RFC 7541 Appendix C.2-C.6, typed from the
 * RFC. Each gives the encoded block, the header list it decodes to, and the
 * dynamic table afterwards (newest entry first) with its size.
 *
 * @module
 */

/** A `[name, value]` pair. */
export type Pair = [name: string, value: string];

/** One header block of Appendix C. */
export interface Example {
  /** The RFC's section, e.g. "C.3.1". */
  section: string;
  /** The hex dump of the encoded block (spaces ignored). */
  hex: string;
  /** The decoded header list. */
  fields: Pair[];
  /** The dynamic table after decoding, newest first. */
  table: Pair[];
  /** The dynamic table's size after decoding. */
  tableSize: number;
}

/** Consecutive blocks on one connection (shared dynamic tables). */
export interface ExampleSequence {
  /** The RFC's section, e.g. "C.3". */
  section: string;
  /** SETTINGS_HEADER_TABLE_SIZE in force: the table's maximum size. */
  maxTableSize: number;
  /** Whether the RFC's encoder used Huffman for every literal. */
  huffman: boolean;
  /** The blocks, in order. */
  examples: Example[];
}

/** C.2: independent blocks, each from an empty table of 4096 bytes. */
export const C2: Example[] = [
  {
    section: "C.2.1",
    hex: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    fields: [["custom-key", "custom-header"]],
    table: [["custom-key", "custom-header"]],
    tableSize: 55,
  },
  {
    section: "C.2.2",
    hex: "040c 2f73 616d 706c 652f 7061 7468",
    fields: [[":path", "/sample/path"]],
    table: [],
    tableSize: 0,
  },
  {
    section: "C.2.3",
    hex: "1008 7061 7373 776f 7264 0673 6563 7265 74",
    fields: [["password", "secret"]],
    table: [],
    tableSize: 0,
  },
  {
    section: "C.2.4",
    hex: "82",
    fields: [[":method", "GET"]],
    table: [],
    tableSize: 0,
  },
];

const REQUEST_1: Pair[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQUEST_2: Pair[] = [...REQUEST_1, ["cache-control", "no-cache"]];
const REQUEST_3: Pair[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];
const TABLE_1: Pair[] = [[":authority", "www.example.com"]];
const TABLE_2: Pair[] = [["cache-control", "no-cache"], ...TABLE_1];
const TABLE_3: Pair[] = [["custom-key", "custom-value"], ...TABLE_2];

/** C.3: three requests without Huffman coding. */
export const C3: ExampleSequence = {
  section: "C.3",
  maxTableSize: 4096,
  huffman: false,
  examples: [
    {
      section: "C.3.1",
      hex: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      fields: REQUEST_1,
      table: TABLE_1,
      tableSize: 57,
    },
    {
      section: "C.3.2",
      hex: "8286 84be 5808 6e6f 2d63 6163 6865",
      fields: REQUEST_2,
      table: TABLE_2,
      tableSize: 110,
    },
    {
      section: "C.3.3",
      hex: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d" +
        "7661 6c75 65",
      fields: REQUEST_3,
      table: TABLE_3,
      tableSize: 164,
    },
  ],
};

/** C.4: the same requests with Huffman coding. */
export const C4: ExampleSequence = {
  section: "C.4",
  maxTableSize: 4096,
  huffman: true,
  examples: [
    {
      section: "C.4.1",
      hex: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      fields: REQUEST_1,
      table: TABLE_1,
      tableSize: 57,
    },
    {
      section: "C.4.2",
      hex: "8286 84be 5886 a8eb 1064 9cbf",
      fields: REQUEST_2,
      table: TABLE_2,
      tableSize: 110,
    },
    {
      section: "C.4.3",
      hex: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      fields: REQUEST_3,
      table: TABLE_3,
      tableSize: 164,
    },
  ],
};

const DATE_1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSE_1: Pair[] = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", DATE_1],
  ["location", LOCATION],
];
const RESPONSE_2: Pair[] = [[":status", "307"], ...RESPONSE_1.slice(1)];
const RESPONSE_3: Pair[] = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", DATE_2],
  ["location", LOCATION],
  ["content-encoding", "gzip"],
  ["set-cookie", COOKIE],
];
const RESPONSE_TABLE_1: Pair[] = [
  ["location", LOCATION],
  ["date", DATE_1],
  ["cache-control", "private"],
  [":status", "302"],
];
const RESPONSE_TABLE_2: Pair[] = [
  [":status", "307"],
  ...RESPONSE_TABLE_1.slice(0, 3),
];
const RESPONSE_TABLE_3: Pair[] = [
  ["set-cookie", COOKIE],
  ["content-encoding", "gzip"],
  ["date", DATE_2],
];

/** C.5: three responses without Huffman, in a 256-byte table. */
export const C5: ExampleSequence = {
  section: "C.5",
  maxTableSize: 256,
  huffman: false,
  examples: [
    {
      section: "C.5.1",
      hex: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120" +
        "4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768" +
        "7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      fields: RESPONSE_1,
      table: RESPONSE_TABLE_1,
      tableSize: 222,
    },
    {
      section: "C.5.2",
      hex: "4803 3330 37c1 c0bf",
      fields: RESPONSE_2,
      table: RESPONSE_TABLE_2,
      tableSize: 222,
    },
    {
      section: "C.5.3",
      hex: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a" +
        "3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153" +
        "444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49" +
        "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e" +
        "3d31",
      fields: RESPONSE_3,
      table: RESPONSE_TABLE_3,
      tableSize: 215,
    },
  ],
};

/** C.6: the same responses with Huffman coding. */
export const C6: ExampleSequence = {
  section: "C.6",
  maxTableSize: 256,
  huffman: true,
  examples: [
    {
      section: "C.6.1",
      hex: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005" +
        "9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8" +
        "e9ae 82ae 43d3",
      fields: RESPONSE_1,
      table: RESPONSE_TABLE_1,
      tableSize: 222,
    },
    {
      section: "C.6.2",
      hex: "4883 640e ffc1 c0bf",
      fields: RESPONSE_2,
      table: RESPONSE_TABLE_2,
      tableSize: 222,
    },
    {
      section: "C.6.3",
      hex: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d" +
        "1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b" +
        "3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed" +
        "4ee5 b106 3d50 07",
      fields: RESPONSE_3,
      table: RESPONSE_TABLE_3,
      tableSize: 215,
    },
  ],
};

/** All four sequences of Appendix C. */
export const SEQUENCES: ExampleSequence[] = [C3, C4, C5, C6];

/** Bytes of a hex dump, spaces ignored. */
export function hexBytes(hex: string): Uint8Array {
  const digits = hex.replaceAll(" ", "");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}
