import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ByteRange,
  COALESCE_GAP,
  contentRangeValue,
  DEFAULT_MAX_RANGES,
  parseRange,
  type RangeDecision,
  unsatisfiedRangeValue,
} from "./range.ts";

const FULL: RangeDecision = { kind: "full" };
const UNSATISFIABLE: RangeDecision = { kind: "unsatisfiable" };
const HUGE = "99999999999999999999";

function partial(...pairs: [number, number][]): RangeDecision {
  return {
    kind: "partial",
    ranges: pairs.map(([start, end]) => ({ start, end })),
  };
}

interface RangeCase {
  name: string;
  header: string;
  size?: number;
  maxRanges?: number;
  expected: RangeDecision;
}

function runRangeCases(cases: RangeCase[]): void {
  for (const { name, header, size, maxRanges, expected } of cases) {
    const options = maxRanges === undefined ? undefined : { maxRanges };
    assert.deepEqual(
      parseRange(header, size ?? 100, options),
      expected,
      `${name}: ${JSON.stringify(header)}`,
    );
  }
}

Deno.test("parseRange() ignores malformed headers and other units", () => {
  const malformed: [string, string][] = [
    ["empty", ""],
    ["no equals sign", "bytes"],
    ["empty range set", "bytes="],
    ["only commas", "bytes=, ,"],
    ["double dash", "bytes=--2"],
    ["last before first", "bytes=5-2"],
    ["letters", "bytes=a-b"],
    ["letter last-pos", "bytes=1-a"],
    ["lone dash", "bytes=-"],
    ["no dash", "bytes=1"],
    ["two dashes", "bytes=1-2-3"],
    ["trailing dash on suffix", "bytes=-1-"],
    ["plus sign", "bytes=+1-2"],
    ["hex digits", "bytes=0x1-2"],
    ["decimal point", "bytes=1.5-2"],
    ["non-ASCII digit", "bytes=\u0663-5"],
    ["semicolon separator", "bytes=0-1;2-3"],
    ["one bad spec among good", "bytes=0-1, 5-2"],
    ["garbage element", "bytes=0-1,x"],
    ["other unit", "items=0-1"],
    ["unit prefix", "bytesx=0-1"],
    ["space before equals", "bytes =0-1"],
    ["space after equals", "bytes= 0-1"],
    ["space before dash", "bytes=0 -1"],
    ["space after dash", "bytes=0- 1"],
    ["space inside suffix", "bytes=- 1"],
    ["newline", "bytes=0-1\n"],
    ["huge last before huge first", `bytes=${HUGE}1-${HUGE}0`],
  ];
  runRangeCases(
    malformed.map(([name, header]) => ({ name, header, expected: FULL })),
  );
});

Deno.test("parseRange() reads every single-range form", () => {
  runRangeCases([
    { name: "first-last", header: "bytes=0-9", expected: partial([0, 9]) },
    {
      name: "unit in capitals",
      header: "BYTES=0-9",
      expected: partial([0, 9]),
    },
    { name: "unit mixed case", header: "Bytes=0-9", expected: partial([0, 9]) },
    { name: "one byte", header: "bytes=0-0", expected: partial([0, 0]) },
    { name: "last byte", header: "bytes=99-99", expected: partial([99, 99]) },
    {
      name: "last-pos clamped",
      header: "bytes=50-1000",
      expected: partial([50, 99]),
    },
    { name: "open-ended", header: "bytes=10-", expected: partial([10, 99]) },
    { name: "from zero", header: "bytes=0-", expected: partial([0, 99]) },
    { name: "suffix", header: "bytes=-10", expected: partial([90, 99]) },
    {
      name: "suffix of whole size",
      header: "bytes=-100",
      expected: partial([0, 99]),
    },
    {
      name: "suffix longer than file",
      header: "bytes=-1000",
      expected: partial([0, 99]),
    },
    {
      name: "leading zeros",
      header: "bytes=000-009",
      expected: partial([0, 9]),
    },
    {
      name: "OWS around the field value",
      header: " \tbytes=0-9 ",
      expected: partial([0, 9]),
    },
    {
      name: "empty list elements",
      header: "bytes=,0-9,, ,",
      expected: partial([0, 9]),
    },
  ]);
});

Deno.test("parseRange() handles numbers beyond Number.MAX_SAFE_INTEGER", () => {
  runRangeCases([
    {
      name: "huge last-pos means to the end",
      header: `bytes=5-${HUGE}`,
      expected: partial([5, 99]),
    },
    {
      name: "huge suffix means the whole file",
      header: `bytes=-${HUGE}`,
      expected: partial([0, 99]),
    },
    {
      name: "huge first-pos is unsatisfiable",
      header: `bytes=${HUGE}-`,
      expected: UNSATISFIABLE,
    },
    {
      name: "first past 2^53 - 1 is unsatisfiable",
      header: "bytes=9007199254740992-9007199254740993",
      expected: UNSATISFIABLE,
    },
    {
      name: "huge equal first and last",
      header: `bytes=${HUGE}-${HUGE}`,
      expected: UNSATISFIABLE,
    },
    {
      name: "huge unsatisfiable dropped beside a good range",
      header: `bytes=${HUGE}-,0-1`,
      expected: partial([0, 1]),
    },
    {
      name: "huge with leading zeros compared exactly",
      header: `bytes=000${HUGE}-${HUGE}`,
      expected: UNSATISFIABLE,
    },
  ]);
});

Deno.test("parseRange() reports unsatisfiable range sets", () => {
  runRangeCases([
    {
      name: "first-pos at size",
      header: "bytes=100-",
      expected: UNSATISFIABLE,
    },
    {
      name: "first-pos past size",
      header: "bytes=100-200",
      expected: UNSATISFIABLE,
    },
    { name: "zero suffix", header: "bytes=-0", expected: UNSATISFIABLE },
    {
      name: "several, none satisfiable",
      header: "bytes=200-300, 150-, -0",
      expected: UNSATISFIABLE,
    },
    {
      name: "unsatisfiable ones dropped",
      header: "bytes=200-300, 0-9, -0",
      expected: partial([0, 9]),
    },
  ]);
});

Deno.test("parseRange() treats every range of an empty file as unsatisfiable", () => {
  const headers = ["bytes=0-", "bytes=0-0", "bytes=-5", "bytes=-0", "bytes=1-"];
  runRangeCases(
    headers.map((header) => ({
      name: "empty file",
      header,
      size: 0,
      expected: UNSATISFIABLE,
    })),
  );
  runRangeCases([
    {
      name: "empty file, malformed",
      header: "bytes=5-2",
      size: 0,
      expected: FULL,
    },
  ]);
});

Deno.test("parseRange() allows OWS only around commas", () => {
  runRangeCases([
    {
      name: "spaces and tabs around commas",
      header: "bytes=0-9 ,\t500-599",
      size: 1000,
      expected: partial([0, 9], [500, 599]),
    },
    {
      name: "space after a leading comma",
      header: "bytes=, 0-9",
      expected: partial([0, 9]),
    },
  ]);
});

Deno.test("parseRange() takes SP and HTAB as OWS, nothing else", () => {
  runRangeCases([
    {
      name: "OWS around the whole value",
      header: " \tbytes=0-9\t ",
      expected: partial([0, 9]),
    },
    {
      name: "U+00A0 (byte 0xA0) before a spec",
      header: "bytes=0-9,\xa05-6",
      expected: FULL,
    },
    {
      name: "U+00A0 after the value",
      header: "bytes=0-9\xa0",
      expected: FULL,
    },
    { name: "vertical tab", header: "bytes=0-9,\v5-6", expected: FULL },
    {
      name: "comma runs and OWS runs",
      header: "bytes=" + ", \t".repeat(1000) + "0-9" + " ,".repeat(1000),
      expected: partial([0, 9]),
    },
    { name: "upper-case unit", header: "BYTES=0-9", expected: partial([0, 9]) },
  ]);
});

Deno.test("parseRange() compares leading-zero positions exactly", () => {
  runRangeCases([
    {
      name: "zeros on both",
      header: "bytes=0005-0009",
      expected: partial([5, 9]),
    },
    { name: "all zeros", header: "bytes=000-000", expected: partial([0, 0]) },
    { name: "zero suffix", header: "bytes=-000", expected: UNSATISFIABLE },
    {
      name: "long zero run before the digit",
      header: `bytes=${"0".repeat(5000)}7-${"0".repeat(20)}8`,
      expected: partial([7, 8]),
    },
    {
      name: "zero-padded last before first",
      header: "bytes=0010-009",
      expected: FULL,
    },
  ]);
});

Deno.test("parseRange() sorts and coalesces multiple ranges", () => {
  const gap = COALESCE_GAP;
  runRangeCases([
    {
      name: "overlapping",
      header: "bytes=0-10,5-20",
      size: 10000,
      expected: partial([0, 20]),
    },
    {
      name: "adjacent",
      header: "bytes=0-9,10-19",
      size: 10000,
      expected: partial([0, 19]),
    },
    {
      name: "gap one byte below the limit",
      header: `bytes=0-9,${10 + gap - 1}-${10 + gap + 9}`,
      size: 10000,
      expected: partial([0, 10 + gap + 9]),
    },
    {
      name: "gap at the limit",
      header: `bytes=0-9,${10 + gap}-${10 + gap + 9}`,
      size: 10000,
      expected: partial([0, 9], [10 + gap, 10 + gap + 9]),
    },
    {
      name: "out of order",
      header: "bytes=500-599,0-9",
      size: 10000,
      expected: partial([0, 9], [500, 599]),
    },
    {
      name: "contained",
      header: "bytes=0-999,100-199",
      size: 10000,
      expected: partial([0, 999]),
    },
    {
      name: "duplicates",
      header: "bytes=0-9,0-9",
      size: 10000,
      expected: partial([0, 9]),
    },
    {
      name: "suffix meets an int-range",
      header: "bytes=-100,9000-9899",
      size: 10000,
      expected: partial([9000, 9999]),
    },
    {
      name: "chain of small gaps",
      header: "bytes=0-0,50-50,100-100",
      size: 10000,
      expected: partial([0, 100]),
    },
    {
      name: "open range swallows later ones",
      header: "bytes=5000-,6000-6001,9999-",
      size: 10000,
      expected: partial([5000, 9999]),
    },
  ]);
});

/** `count` one-byte ranges far enough apart never to be coalesced. */
function spreadRanges(count: number): string {
  const specs = Array.from({ length: count }, (_, i) => {
    const at = i * (COALESCE_GAP + 100);
    return `${at}-${at}`;
  });
  return `bytes=${specs.join(",")}`;
}

Deno.test("parseRange() serves the full file past maxRanges", () => {
  const size = 1_000_000;
  const atLimit = parseRange(spreadRanges(DEFAULT_MAX_RANGES), size);
  assert.equal(atLimit.kind, "partial");
  assert.equal(
    atLimit.kind === "partial" && atLimit.ranges.length,
    DEFAULT_MAX_RANGES,
  );
  runRangeCases([
    {
      name: "one over the default",
      header: spreadRanges(DEFAULT_MAX_RANGES + 1),
      size,
      expected: FULL,
    },
    {
      name: "one over a custom limit",
      header: spreadRanges(3),
      size,
      maxRanges: 2,
      expected: FULL,
    },
    {
      name: "counted after coalescing",
      header: "bytes=0-9,5-19,20-29",
      size,
      maxRanges: 1,
      expected: partial([0, 29]),
    },
    {
      name: "thousands of touching ranges coalesce to one",
      header: `bytes=${
        Array.from({ length: 5000 }, (_, i) => `${i}-${i}`).join(",")
      }`,
      size,
      expected: partial([0, 4999]),
    },
  ]);
});

Deno.test("parseRange() ignores a size that is not a byte count", () => {
  for (const size of [-1, NaN, 1.5, Infinity]) {
    assert.deepEqual(parseRange("bytes=0-9", size), FULL, String(size));
  }
});

Deno.test("contentRangeValue() and unsatisfiedRangeValue() format RFC 9110 values", () => {
  assert.equal(contentRangeValue({ start: 0, end: 9 }, 100), "bytes 0-9/100");
  assert.equal(
    contentRangeValue({ start: 99, end: 99 }, 100),
    "bytes 99-99/100",
  );
  assert.equal(unsatisfiedRangeValue(100), "bytes */100");
  assert.equal(unsatisfiedRangeValue(0), "bytes */0");
});

/** A generated range-spec, with the text it is written as. */
type Spec =
  | { kind: "int"; first: bigint; last: bigint }
  | { kind: "open"; first: bigint }
  | { kind: "suffix"; length: bigint };

const position = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 12_000n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 80n }) },
);

const spec: fc.Arbitrary<Spec> = fc.oneof(
  fc.tuple(position, position).map(([a, b]): Spec => ({
    kind: "int",
    first: a < b ? a : b,
    last: a < b ? b : a,
  })),
  position.map((first): Spec => ({ kind: "open", first })),
  position.map((length): Spec => ({ kind: "suffix", length })),
);

function specText(s: Spec): string {
  switch (s.kind) {
    case "int":
      return `${s.first}-${s.last}`;
    case "open":
      return `${s.first}-`;
    case "suffix":
      return `-${s.length}`;
  }
}

/** Reference model: the byte offsets a spec asks for, as [from, to). */
function requested(s: Spec, size: number): [number, number] {
  const n = BigInt(size);
  const clamp = (v: bigint) => Number(v < n ? v : n);
  switch (s.kind) {
    case "int":
      return [clamp(s.first), clamp(s.last + 1n)];
    case "open":
      return [clamp(s.first), size];
    case "suffix":
      return [
        size === 0 ? 0 : clamp(n - s.length < 0n ? 0n : n - s.length),
        size,
      ];
  }
}

Deno.test("parseRange() covers exactly the requested bytes of valid range sets", () => {
  const separator = fc.constantFrom(",", ", ", " ,\t", ",,");
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 10_000 }),
      fc.array(spec, { minLength: 1, maxLength: 20 }),
      separator,
      (size, specs, sep) => {
        const decision = parseRange(
          `bytes=${specs.map(specText).join(sep)}`,
          size,
        );
        const wanted = new Uint8Array(size);
        for (const s of specs) wanted.fill(1, ...requested(s, size));
        const anyWanted = wanted.includes(1);
        if (!anyWanted) {
          assert.deepEqual(decision, UNSATISFIABLE);
          return;
        }
        assert.equal(decision.kind, "partial");
        const { ranges } = decision as { ranges: ByteRange[] };
        const covered = new Uint8Array(size);
        ranges.forEach((r, i) => {
          assert.ok(0 <= r.start && r.start <= r.end && r.end <= size - 1);
          if (i > 0) {
            assert.ok(r.start - ranges[i - 1].end - 1 >= COALESCE_GAP);
          }
          // Coalescing only fills gaps, so every range starts and ends on
          // a requested byte.
          assert.equal(wanted[r.start], 1);
          assert.equal(wanted[r.end], 1);
          covered.fill(1, r.start, r.end + 1);
        });
        wanted.forEach((w, offset) => {
          if (w) assert.equal(covered[offset], 1, `byte ${offset}`);
        });
      },
    ),
  );
});

Deno.test("parseRange() never throws on arbitrary headers", () => {
  const header = fc.oneof(
    fc.string(),
    fc.string({
      unit: fc.constantFrom("b", "y", "t", "e", "s", "=", "-", ",", " ", "1"),
    }).map((s) => `bytes=${s}`),
  );
  fc.assert(
    fc.property(header, fc.integer({ min: -1, max: 1000 }), (h, size) => {
      const decision = parseRange(h, size);
      assert.ok(["full", "unsatisfiable", "partial"].includes(decision.kind));
    }),
  );
});
