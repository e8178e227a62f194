import assert from "node:assert/strict";
import fc from "fast-check";
import { formatHttpDate, parseHttpDate } from "./date.ts";

/** Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 §5.6.7. */
const RFC_EXAMPLE = 784111777000;
/** The last second of year 9999. */
const MAX_FOUR_DIGIT_YEAR = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

Deno.test("formatHttpDate() writes IMF-fixdate strings", () => {
  const cases: [string, number, string][] = [
    ["epoch", 0, "Thu, 01 Jan 1970 00:00:00 GMT"],
    ["RFC example", RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"],
    [
      "milliseconds dropped",
      RFC_EXAMPLE + 999,
      "Sun, 06 Nov 1994 08:49:37 GMT",
    ],
    ["leap day", Date.UTC(2000, 1, 29), "Tue, 29 Feb 2000 00:00:00 GMT"],
    ["two-digit fields", 1700000000000, "Tue, 14 Nov 2023 22:13:20 GMT"],
    [
      "single-digit fields padded",
      Date.UTC(2001, 0, 2, 3, 4, 5),
      "Tue, 02 Jan 2001 03:04:05 GMT",
    ],
    [
      "end of a year",
      Date.UTC(1999, 11, 31, 23, 59, 59),
      "Fri, 31 Dec 1999 23:59:59 GMT",
    ],
    ["year 9999", MAX_FOUR_DIGIT_YEAR, "Fri, 31 Dec 9999 23:59:59 GMT"],
  ];
  for (const [name, ms, expected] of cases) {
    assert.equal(formatHttpDate(ms), expected, name);
  }
});

Deno.test("formatHttpDate() uses every day and month name", () => {
  const days = new Set<string>();
  const months = new Set<string>();
  for (let d = 0; d < 7; d++) {
    days.add(formatHttpDate(Date.UTC(2024, 0, 1 + d)).slice(0, 3));
  }
  for (let m = 0; m < 12; m++) {
    months.add(formatHttpDate(Date.UTC(2024, m, 15)).slice(8, 11));
  }
  assert.deepEqual(
    [...days].sort(),
    ["Fri", "Mon", "Sat", "Sun", "Thu", "Tue", "Wed"],
  );
  assert.deepEqual([...months], [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
  ]);
});

Deno.test("parseHttpDate() reads all three HTTP-date forms", () => {
  const cases: [string, string, number][] = [
    ["IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE],
    ["RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE],
    ["asctime", "Sun Nov  6 08:49:37 1994", RFC_EXAMPLE],
    ["asctime with a zero", "Sun Nov 06 08:49:37 1994", RFC_EXAMPLE],
    [
      "asctime two-digit day",
      "Thu Nov 24 23:13:42 2016",
      Date.UTC(2016, 10, 24, 23, 13, 42),
    ],
    [
      "surrounding whitespace",
      "  Sun, 06 Nov 1994 08:49:37 GMT \t",
      RFC_EXAMPLE,
    ],
    ["epoch", "Thu, 01 Jan 1970 00:00:00 GMT", 0],
    ["year 9999", "Fri, 31 Dec 9999 23:59:59 GMT", MAX_FOUR_DIGIT_YEAR - 999],
    ["before the epoch", "Wed, 31 Dec 1969 23:59:59 GMT", -1000],
  ];
  for (const [name, text, expected] of cases) {
    assert.equal(parseHttpDate(text), expected, name);
  }
});

Deno.test("parseHttpDate() takes a two-digit RFC 850 year within 50 years from now", () => {
  const nowYear = new Date().getUTCFullYear();
  const cases: [string, number][] = [
    ["Friday, 31-Dec-99 23:59:59 GMT", 1999],
    ["Saturday, 01-Jan-00 00:00:00 GMT", 2000],
  ];
  for (const [text, year] of cases) {
    const ms = parseHttpDate(text);
    assert.ok(ms !== undefined, text);
    assert.equal(new Date(ms).getUTCFullYear(), year, text);
  }
  // Whatever the year now, the result is at most 50 years ahead.
  for (let yy = 0; yy < 100; yy++) {
    const text = `Monday, 01-Jan-${String(yy).padStart(2, "0")} 00:00:00 GMT`;
    const ms = parseHttpDate(text);
    assert.ok(ms !== undefined, text);
    const year = new Date(ms).getUTCFullYear();
    assert.equal(year % 100, yy, text);
    assert.ok(year <= nowYear + 50 && year > nowYear - 50, text);
  }
});

Deno.test("parseHttpDate() checks leap years", () => {
  const cases: [string, boolean][] = [
    ["Tue, 29 Feb 2000 00:00:00 GMT", true],
    ["Thu, 29 Feb 2024 12:00:00 GMT", true],
    ["Wed, 29 Feb 1996 12:00:00 GMT", true],
    ["Thu, 29 Feb 1900 00:00:00 GMT", false],
    ["Wed, 29 Feb 2023 00:00:00 GMT", false],
    ["Mon, 29 Feb 2100 00:00:00 GMT", false],
    ["Tue, 28 Feb 2023 00:00:00 GMT", true],
  ];
  for (const [text, valid] of cases) {
    assert.equal(parseHttpDate(text) !== undefined, valid, text);
  }
  assert.equal(
    parseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"),
    Date.UTC(2000, 1, 29),
  );
});

Deno.test("parseHttpDate() treats a leap second as the second before", () => {
  assert.equal(
    parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT"),
    Date.UTC(2016, 11, 31, 23, 59, 59),
  );
});

Deno.test("parseHttpDate() rejects invalid dates and garbage", () => {
  const cases: [string, string][] = [
    ["empty", ""],
    ["word", "now"],
    ["number", "784111777"],
    ["ISO 8601", "1994-11-06T08:49:37Z"],
    ["UTC instead of GMT", "Sun, 06 Nov 1994 08:49:37 UTC"],
    ["no zone", "Sun, 06 Nov 1994 08:49:37"],
    ["lowercase GMT", "Sun, 06 Nov 1994 08:49:37 gmt"],
    ["unknown day name", "Foo, 06 Nov 1994 08:49:37 GMT"],
    ["lowercase day name", "sun, 06 Nov 1994 08:49:37 GMT"],
    ["long day name in IMF-fixdate", "Sunday, 06 Nov 1994 08:49:37 GMT"],
    ["unknown month", "Sun, 06 Nox 1994 08:49:37 GMT"],
    ["lowercase month", "Sun, 06 nov 1994 08:49:37 GMT"],
    ["long month", "Sun, 06 November 1994 08:49:37 GMT"],
    ["one-digit day", "Sun, 6 Nov 1994 08:49:37 GMT"],
    ["two-digit year", "Sun, 06 Nov 94 08:49:37 GMT"],
    ["five-digit year", "Sun, 06 Nov 19940 08:49:37 GMT"],
    ["31 February", "Tue, 31 Feb 2023 00:00:00 GMT"],
    ["30 February", "Wed, 30 Feb 2000 00:00:00 GMT"],
    ["31 April", "Thu, 31 Apr 2024 00:00:00 GMT"],
    ["day zero", "Sat, 00 Jan 2000 00:00:00 GMT"],
    ["day 32", "Sat, 32 Jan 2000 00:00:00 GMT"],
    ["hour 24", "Sat, 01 Jan 2000 24:00:00 GMT"],
    ["minute 60", "Sat, 01 Jan 2000 00:60:00 GMT"],
    ["second 61", "Sat, 01 Jan 2000 00:00:61 GMT"],
    ["one-digit hour", "Sat, 01 Jan 2000 0:00:00 GMT"],
    ["missing comma", "Sun 06 Nov 1994 08:49:37 GMT"],
    ["double space", "Sun,  06 Nov 1994 08:49:37 GMT"],
    ["trailing text", "Sun, 06 Nov 1994 08:49:37 GMT x"],
    ["non-ASCII digits", "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT"],
    ["RFC 850 short day name", "Sun, 06-Nov-94 08:49:37 GMT"],
    ["RFC 850 four-digit year", "Sunday, 06-Nov-1994 08:49:37 GMT"],
    ["RFC 850 unknown day", "Funday, 06-Nov-94 08:49:37 GMT"],
    ["RFC 850 31 February", "Friday, 31-Feb-23 08:49:37 GMT"],
    ["asctime long day name", "Sunday Nov  6 08:49:37 1994"],
    ["asctime with GMT", "Sun Nov  6 08:49:37 1994 GMT"],
    ["asctime two-digit year", "Sun Nov  6 08:49:37 94"],
    ["asctime 31 November", "Sun Nov 31 08:49:37 1994"],
    ["asctime day zero", "Sun Nov  0 08:49:37 1994"],
  ];
  for (const [name, text] of cases) {
    assert.equal(parseHttpDate(text), undefined, `${name}: ${text}`);
  }
});

Deno.test({
  name: "parseHttpDate() reads four-digit years below 0100 as written",
  fn() {
    const year50 = new Date(0);
    year50.setUTCFullYear(50, 0, 1);
    year50.setUTCHours(0, 0, 0, 0);
    assert.equal(
      parseHttpDate("Sat, 01 Jan 0050 00:00:00 GMT"),
      year50.getTime(),
    );
    assert.equal(
      parseHttpDate("Sat Jan  1 00:00:00 0050"),
      year50.getTime(),
    );
  },
});

Deno.test("parseHttpDate() inverts formatHttpDate() to the second", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_FOUR_DIGIT_YEAR }), (t) => {
      const text = formatHttpDate(t);
      assert.equal(parseHttpDate(text), Math.floor(t / 1000) * 1000, text);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("parseHttpDate() never throws on arbitrary text", () => {
  const piece = fc.constantFrom(
    "Sun",
    "Sunday",
    ", ",
    " ",
    "06",
    "6",
    "Nov",
    "-",
    "1994",
    "94",
    "08:49:37",
    "GMT",
    "99",
    "60",
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.array(piece, { maxLength: 10 }).map((p) => p.join("")),
      ),
      (text) => {
        const ms = parseHttpDate(text);
        assert.ok(ms === undefined || Number.isInteger(ms), text);
        if (ms !== undefined) assert.equal(ms % 1000, 0, text);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("parseHttpDate() trims SP and HTAB only, not U+00A0", () => {
  assert.equal(
    parseHttpDate("\t Sunday, 06-Nov-94 08:49:37 GMT\t "),
    RFC_EXAMPLE,
  );
  assert.equal(parseHttpDate(" Sun Nov  6 08:49:37 1994\t"), RFC_EXAMPLE);
  // Byte 0xA0 of a latin1 head decodes to U+00A0, which trim() removed.
  assert.equal(parseHttpDate("\xa0Sun, 06 Nov 1994 08:49:37 GMT"), undefined);
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT\xa0"), undefined);
  assert.equal(parseHttpDate("\u3000Sun Nov  6 08:49:37 1994"), undefined);
});

Deno.test("parseHttpDate() rejects any one character changed in a layout", () => {
  // Every position of each form matters: replacing any one character with
  // a character of another class (or deleting it) leaves no valid date,
  // except a digit for a digit or a name for a name.
  const forms = [
    "Sun, 06 Nov 1994 08:49:37 GMT",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov 16 08:49:37 1994",
  ];
  for (const form of forms) {
    for (let i = 0; i < form.length; i++) {
      const deleted = form.slice(0, i) + form.slice(i + 1);
      assert.equal(parseHttpDate(deleted), undefined, JSON.stringify(deleted));
      const c = form[i];
      const other = c >= "0" && c <= "9" ? "x" : c === " " ? "0" : "9";
      const changed = form.slice(0, i) + other + form.slice(i + 1);
      assert.equal(parseHttpDate(changed), undefined, JSON.stringify(changed));
    }
    assert.equal(parseHttpDate(form + "0"), undefined);
    assert.equal(parseHttpDate("0" + form), undefined);
  }
});

Deno.test("parseHttpDate() reads asctime days with a space or a zero", () => {
  for (const day of [" 6", "06"]) {
    assert.equal(parseHttpDate(`Sun Nov ${day} 08:49:37 1994`), RFC_EXAMPLE);
  }
  assert.equal(parseHttpDate("Sun Nov 6  08:49:37 1994"), undefined);
  assert.equal(parseHttpDate("Sun Nov    08:49:37 1994"), undefined);
});

Deno.test("parseHttpDate() is constant-time on long values", () => {
  const started = performance.now();
  for (const unit of [" ", "0", "Sun, ", ",", "Sunday, "]) {
    const value = "Sun, 06 Nov 1994 08:49:37 GMT" + unit.repeat(30_000) + "x";
    assert.equal(parseHttpDate(value), undefined);
    assert.equal(parseHttpDate(unit.repeat(30_000) + "x"), undefined);
  }
  assert.ok(performance.now() - started < 100);
});
