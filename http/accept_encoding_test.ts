import assert from "node:assert/strict";
import fc from "fast-check";
import { chooseEncoding, parseAcceptEncoding } from "./accept_encoding.ts";

const parseCases: {
  name: string;
  value: string;
  expected: [string, number][];
}[] = [
  { name: "empty value yields no entries", value: "", expected: [] },
  {
    name: "whitespace-only value yields no entries",
    value: "  ",
    expected: [],
  },
  {
    name: "codings without q default to 1",
    value: "gzip, br",
    expected: [["gzip", 1], ["br", 1]],
  },
  {
    name: "q-values are read with optional whitespace around ';'",
    value: "gzip ; q=0.5,br;q=1.0, zstd;q=0",
    expected: [["gzip", 0.5], ["br", 1], ["zstd", 0]],
  },
  {
    name: "codings are lowercased",
    value: "GZip, BR;q=0.2",
    expected: [["gzip", 1], ["br", 0.2]],
  },
  {
    name: "parameter name Q is case-insensitive",
    value: "gzip;Q=0.3",
    expected: [["gzip", 0.3]],
  },
  {
    name: "identity and wildcard are kept as entries",
    value: "identity;q=0.1, *;q=0",
    expected: [["identity", 0.1], ["*", 0]],
  },
  {
    name: "three decimals are allowed",
    value: "gzip;q=0.125, br;q=1.000, zstd;q=0.",
    expected: [["gzip", 0.125], ["br", 1], ["zstd", 0]],
  },
  {
    name: "q above 1 is skipped",
    value: "gzip;q=1.5, br;q=2",
    expected: [],
  },
  {
    name: "q with four decimals is skipped",
    value: "gzip;q=0.1234, br",
    expected: [["br", 1]],
  },
  {
    name: "non-numeric, negative, empty and quoted q are skipped",
    value: 'a;q=abc, b;q=-0.5, c;q=, d;q="0.5", e;q=.5, f;q=1e0',
    expected: [],
  },
  {
    name: "a twice-weighted element is skipped as ambiguous",
    value: "gzip;q=0;q=1, br",
    expected: [["br", 1]],
  },
  {
    name: "elements that are not tokens are skipped",
    value: 'gz ip, , ;q=1, "br", @@, deflate',
    expected: [["deflate", 1]],
  },
  {
    name: "unknown parameters are ignored",
    value: "gzip;level=9;q=0.4, br;foo",
    expected: [["gzip", 0.4], ["br", 1]],
  },
  {
    name: "the first occurrence of a repeated coding wins",
    value: "gzip;q=0.2, GZIP;q=0.9",
    expected: [["gzip", 0.2]],
  },
  {
    name: "aliases are kept as written",
    value: "x-gzip",
    expected: [["x-gzip", 1]],
  },
  {
    name: "an invalid first occurrence does not hide a valid later one",
    value: "gzip;q=5, gzip;q=0.5",
    expected: [["gzip", 0.5]],
  },
  {
    name: "SP and HTAB are OWS around elements, ';' and '='",
    value: "\t gzip\t;\tq\t=\t0.5\t,\t br ",
    expected: [["gzip", 0.5], ["br", 1]],
  },
  {
    name: "U+00A0 (byte 0xA0) is not OWS, so the element is not a token",
    value: "\xa0gzip, br\xa0, zstd",
    expected: [["zstd", 1]],
  },
  {
    name: "U+00A0 around a weight makes it invalid",
    value: "gzip;q=\xa00.5, br;\xa0q=0",
    expected: [["br", 1]],
  },
  {
    name: "a bare q parameter carries no weight",
    value: "gzip;q, br;q;q=0.5",
    expected: [["gzip", 1], ["br", 0.5]],
  },
  {
    name: "a weight with a second '=' is invalid",
    value: "gzip;q=0.5=1, br",
    expected: [["br", 1]],
  },
  {
    name: "runs of empty elements and parameters are skipped",
    value: ",,, ;;, gzip;;;q=0.1;;, ,br",
    expected: [["gzip", 0.1], ["br", 1]],
  },
];

for (const { name, value, expected } of parseCases) {
  Deno.test(`parseAcceptEncoding: ${name}`, () => {
    assert.deepEqual([...parseAcceptEncoding(value)], expected);
  });
}

const BR_GZIP = ["br", "gzip"] as const;
const ZSTD_BR_GZIP = ["zstd", "br", "gzip"] as const;

const chooseCases: {
  name: string;
  header: string | undefined;
  available: readonly string[];
  expected: string | null;
}[] = [
  {
    name: "absent header yields identity even if codings are available",
    header: undefined,
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "empty header yields identity only",
    header: "",
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "header of garbage only behaves like an empty header",
    header: ";;, ,q=1",
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "server order breaks ties between equally weighted codings",
    header: "gzip, deflate, br",
    available: BR_GZIP,
    expected: "br",
  },
  {
    name: "server order with zstd first",
    header: "gzip, br, zstd",
    available: ZSTD_BR_GZIP,
    expected: "zstd",
  },
  {
    name: "higher q wins over server order",
    header: "br;q=0.5, gzip;q=0.8",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "only codings the server has are chosen",
    header: "gzip",
    available: ["br"],
    expected: "identity",
  },
  {
    name: "no available codings yields identity",
    header: "gzip, br",
    available: [],
    expected: "identity",
  },
  {
    name: "q=0 forbids a coding",
    header: "br;q=0, gzip",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "wildcard matches codings not listed",
    header: "*",
    available: BR_GZIP,
    expected: "br",
  },
  {
    name: "explicit entry overrides the wildcard",
    header: "*;q=0.5, gzip;q=0.9",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "explicit q=0 overrides the wildcard",
    header: "*, br;q=0",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "wildcard q=0 forbids unlisted codings but not listed ones",
    header: "*;q=0, gzip",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "wildcard q=0 without identity forbids everything",
    header: "*;q=0",
    available: BR_GZIP,
    expected: null,
  },
  {
    name: "wildcard q=0 with identity listed keeps identity",
    header: "*;q=0, identity",
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "identity;q=0 with an acceptable coding chooses the coding",
    header: "identity;q=0, gzip",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "identity;q=0 with no acceptable coding yields null",
    header: "identity;q=0, deflate",
    available: BR_GZIP,
    expected: null,
  },
  {
    name: "identity;q=0 with nothing available yields null",
    header: "identity;q=0",
    available: [],
    expected: null,
  },
  {
    name: "identity wins when weighted above every coding",
    header: "identity, gzip;q=0.5",
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "a coding wins a tie with identity",
    header: "identity;q=0.5, gzip;q=0.5",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "a coding wins a tie with identity covered by the wildcard",
    header: "*;q=0.7",
    available: BR_GZIP,
    expected: "br",
  },
  {
    name: "wildcard weight applies to identity when identity is unlisted",
    header: "*;q=0.9, gzip;q=0.5",
    available: ["gzip"],
    expected: "identity",
  },
  {
    name: "unlisted identity ranks below a low-weighted coding",
    header: "gzip;q=0.001",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "all listed codings forbidden falls back to identity",
    header: "br;q=0, gzip;q=0",
    available: BR_GZIP,
    expected: "identity",
  },
  {
    name: "x-gzip is an alias for gzip",
    header: "x-gzip",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "an explicit gzip entry takes precedence over x-gzip",
    header: "x-gzip;q=0, gzip;q=0.4",
    available: ["gzip"],
    expected: "gzip",
  },
  {
    name: "x-gzip;q=0 forbids gzip",
    header: "x-gzip;q=0, *",
    available: ["gzip"],
    expected: "identity",
  },
  {
    name: "an available alias name is returned as given",
    header: "gzip",
    available: ["x-gzip"],
    expected: "x-gzip",
  },
  {
    name: "header codings are case-insensitive",
    header: "GZIP, Br;Q=0.1",
    available: BR_GZIP,
    expected: "gzip",
  },
  {
    name: "available codings are case-insensitive and returned as given",
    header: "br",
    available: ["BR", "gzip"],
    expected: "BR",
  },
  {
    name: "identity in available is treated as identity",
    header: "identity;q=0.2, gzip;q=0.1",
    available: ["identity", "gzip"],
    expected: "identity",
  },
  {
    name: "invalid q makes the element unlisted, not forbidden",
    header: "br;q=5, gzip;q=0.5",
    available: BR_GZIP,
    expected: "gzip",
  },
];

for (const { name, header, available, expected } of chooseCases) {
  Deno.test(`chooseEncoding: ${name}`, () => {
    assert.equal(chooseEncoding(header, available), expected);
  });
}

const codingArb = fc.oneof(
  fc.constantFrom(
    "gzip",
    "GZIP",
    "x-gzip",
    "br",
    "zstd",
    "deflate",
    "identity",
    "*",
    "compress",
  ),
  fc.string({ maxLength: 8 }),
);
const qArb = fc.oneof(
  fc.constant(""),
  fc.constantFrom(";q=0", ";q=1", ";q=0.5", ";q=0.001", ";q=1.000"),
  fc.string({ maxLength: 8 }).map((s) => ";q=" + s),
  fc.string({ maxLength: 8 }).map((s) => ";" + s),
);
const headerArb = fc.oneof(
  fc.constant(undefined),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.array(fc.tuple(codingArb, qArb).map(([c, q]) => c + q), {
    maxLength: 6,
  }).map((parts) => parts.join(", ")),
);
const availableArb = fc.array(codingArb, { maxLength: 5 });

Deno.test("chooseEncoding property: never throws and returns a member of available, identity or null", () => {
  fc.assert(
    fc.property(headerArb, availableArb, (header, available) => {
      const chosen = chooseEncoding(header, available);
      assert.ok(
        chosen === null || chosen === "identity" ||
          available.includes(chosen),
        `unexpected ${chosen}`,
      );
    }),
    { numRuns: 2000 },
  );
});

Deno.test("parseAcceptEncoding property: never throws and every weight is within 0..1", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (value) => {
      for (const q of parseAcceptEncoding(value).values()) {
        assert.ok(q >= 0 && q <= 1);
      }
    }),
  );
});

Deno.test("chooseEncoding property: a forbidden coding is never chosen", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("gzip", "br", "zstd"),
      fc.string({ maxLength: 20 }),
      (coding, rest) => {
        const header = `${coding};q=0, ${rest}`;
        assert.notEqual(chooseEncoding(header, ["zstd", "br", "gzip"]), coding);
      },
    ),
  );
});

Deno.test("parseAcceptEncoding: thousands of elements or parameters cost linear time", () => {
  const started = performance.now();
  const many = parseAcceptEncoding("gzip" + ",-5".repeat(10_000));
  assert.deepEqual([...many], [["gzip", 1], ["-5", 1]]);
  const params = parseAcceptEncoding("gzip" + ";q".repeat(15_000) + ";q=0.5");
  assert.deepEqual([...params], [["gzip", 0.5]]);
  const spaces = parseAcceptEncoding("gzip;q=" + " ".repeat(30_000) + "x");
  assert.deepEqual([...spaces], []);
  assert.ok(performance.now() - started < 200);
});
