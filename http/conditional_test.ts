import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ConditionalHeaders,
  evaluatePreconditions,
  ifRangeAllowsRange,
  parseETagList,
  type PreconditionOutcome,
  strongMatch,
  type Validators,
  weakMatch,
} from "./conditional.ts";
import { formatHttpDate } from "./date.ts";

// The mtime has a sub-second part on purpose: HTTP dates cannot carry it.
const LAST_MODIFIED = Date.UTC(2024, 0, 15, 12, 0, 0) + 500;
const SAME_SECOND = formatHttpDate(LAST_MODIFIED);
const EARLIER = formatHttpDate(LAST_MODIFIED - 1000);
const LATER = formatHttpDate(LAST_MODIFIED + 1000);
const RFC850_SAME = "Monday, 15-Jan-24 12:00:00 GMT";
const ASCTIME_SAME = "Mon Jan 15 12:00:00 2024";
const ETAG = '"abc"';
const CURRENT: Validators = { etag: ETAG, lastModifiedMs: LAST_MODIFIED };

interface PreconditionCase {
  name: string;
  method?: string;
  headers: ConditionalHeaders;
  validators?: Validators;
  expected: PreconditionOutcome;
}

function runPreconditionCases(cases: PreconditionCase[]): void {
  for (const c of cases) {
    const actual = evaluatePreconditions(
      c.method ?? "GET",
      c.headers,
      c.validators ?? CURRENT,
    );
    assert.equal(actual, c.expected, c.name);
  }
}

Deno.test("parseETagList() reads well-formed lists", () => {
  const cases: { name: string; value: string; expected: string[] | "*" }[] = [
    { name: "one strong tag", value: '"a"', expected: ['"a"'] },
    { name: "one weak tag", value: 'W/"a"', expected: ['W/"a"'] },
    { name: "mixed list", value: '"a", W/"b"', expected: ['"a"', 'W/"b"'] },
    { name: "no space", value: '"a",W/"b"', expected: ['"a"', 'W/"b"'] },
    {
      name: "OWS around commas",
      value: '"a" ,\t"b"  ,  "c"',
      expected: ['"a"', '"b"', '"c"'],
    },
    { name: "OWS at both ends", value: ' \t"a" ', expected: ['"a"'] },
    {
      name: "empty elements",
      value: ',"a",, ,"b",',
      expected: ['"a"', '"b"'],
    },
    { name: "empty opaque tag", value: '""', expected: ['""'] },
    { name: "punctuation inside", value: '"a-b/c,d"', expected: ['"a-b/c,d"'] },
    { name: "obs-text inside", value: '"café"', expected: ['"café"'] },
    { name: "star", value: "*", expected: "*" },
    { name: "star with OWS", value: " * ", expected: "*" },
    { name: "empty value", value: "", expected: [] },
    { name: "only commas", value: " , ,", expected: [] },
  ];
  for (const { name, value, expected } of cases) {
    assert.deepEqual(parseETagList(value), expected, name);
  }
});

Deno.test("parseETagList() returns no tags for malformed lists", () => {
  const cases: { name: string; value: string }[] = [
    { name: "unquoted", value: "abc" },
    { name: "unterminated", value: '"abc' },
    { name: "missing comma", value: '"a" "b"' },
    { name: "lowercase weak prefix", value: 'w/"a"' },
    { name: "space after W/", value: 'W/ "a"' },
    { name: "text after tag", value: '"a"b' },
    { name: "quote inside", value: '"a"b"' },
    { name: "space inside", value: '"a b"' },
    { name: "control inside", value: '"a\x01"' },
    { name: "star in a list", value: '*, "a"' },
    { name: "star after a tag", value: '"a", *' },
    { name: "good tag then garbage", value: '"a", b' },
  ];
  for (const { name, value } of cases) {
    assert.deepEqual(parseETagList(value), [], name);
  }
});

Deno.test("strongMatch() and weakMatch() follow RFC 9110 §8.8.3.2", () => {
  const cases = [
    { a: 'W/"1"', b: 'W/"1"', strong: false, weak: true },
    { a: 'W/"1"', b: 'W/"2"', strong: false, weak: false },
    { a: 'W/"1"', b: '"1"', strong: false, weak: true },
    { a: '"1"', b: 'W/"1"', strong: false, weak: true },
    { a: '"1"', b: '"1"', strong: true, weak: true },
    { a: '"1"', b: '"2"', strong: false, weak: false },
  ];
  for (const { a, b, strong, weak } of cases) {
    assert.equal(strongMatch(a, b), strong, `strong ${a} ${b}`);
    assert.equal(weakMatch(a, b), weak, `weak ${a} ${b}`);
  }
});

Deno.test("evaluatePreconditions() proceeds without conditional headers", () => {
  runPreconditionCases([
    { name: "GET", headers: {}, expected: "proceed" },
    { name: "PUT", method: "PUT", headers: {}, expected: "proceed" },
    {
      name: "no validators",
      headers: {},
      validators: {},
      expected: "proceed",
    },
  ]);
});

Deno.test("evaluatePreconditions() applies If-Match with strong comparison", () => {
  runPreconditionCases([
    { name: "current tag", headers: { ifMatch: ETAG }, expected: "proceed" },
    { name: "star", headers: { ifMatch: "*" }, expected: "proceed" },
    {
      name: "star without an etag",
      headers: { ifMatch: "*" },
      validators: { lastModifiedMs: LAST_MODIFIED },
      expected: "proceed",
    },
    {
      name: "list containing the tag",
      headers: { ifMatch: '"x", "abc"' },
      expected: "proceed",
    },
    {
      name: "other tag",
      headers: { ifMatch: '"x"' },
      expected: "precondition-failed",
    },
    {
      name: "weak form of the current tag",
      headers: { ifMatch: 'W/"abc"' },
      expected: "precondition-failed",
    },
    {
      name: "current etag is weak",
      headers: { ifMatch: '"abc"' },
      validators: { etag: 'W/"abc"' },
      expected: "precondition-failed",
    },
    {
      name: "no current etag",
      headers: { ifMatch: ETAG },
      validators: { lastModifiedMs: LAST_MODIFIED },
      expected: "precondition-failed",
    },
    {
      name: "malformed list",
      headers: { ifMatch: "abc" },
      expected: "precondition-failed",
    },
    {
      name: "fails for PUT too",
      method: "PUT",
      headers: { ifMatch: '"x"' },
      expected: "precondition-failed",
    },
    {
      name: "blank value ignored",
      headers: { ifMatch: " " },
      expected: "proceed",
    },
  ]);
});

Deno.test("evaluatePreconditions() applies If-Unmodified-Since", () => {
  runPreconditionCases([
    {
      name: "later date",
      headers: { ifUnmodifiedSince: LATER },
      expected: "proceed",
    },
    {
      name: "same second as the sub-second mtime",
      headers: { ifUnmodifiedSince: SAME_SECOND },
      expected: "proceed",
    },
    {
      name: "earlier date",
      headers: { ifUnmodifiedSince: EARLIER },
      expected: "precondition-failed",
    },
    {
      name: "earlier date, PUT",
      method: "PUT",
      headers: { ifUnmodifiedSince: EARLIER },
      expected: "precondition-failed",
    },
    {
      name: "invalid date ignored",
      headers: { ifUnmodifiedSince: "yesterday" },
      expected: "proceed",
    },
    {
      name: "no Last-Modified ignores it",
      headers: { ifUnmodifiedSince: EARLIER },
      validators: { etag: ETAG },
      expected: "proceed",
    },
  ]);
});

Deno.test("evaluatePreconditions() applies If-None-Match with weak comparison", () => {
  runPreconditionCases([
    {
      name: "GET, current tag",
      headers: { ifNoneMatch: ETAG },
      expected: "not-modified",
    },
    {
      name: "HEAD, current tag",
      method: "HEAD",
      headers: { ifNoneMatch: ETAG },
      expected: "not-modified",
    },
    {
      name: "POST, current tag",
      method: "POST",
      headers: { ifNoneMatch: ETAG },
      expected: "precondition-failed",
    },
    {
      name: "PUT, star",
      method: "PUT",
      headers: { ifNoneMatch: "*" },
      expected: "precondition-failed",
    },
    {
      name: "GET, star",
      headers: { ifNoneMatch: "*" },
      expected: "not-modified",
    },
    {
      name: "method names are case-sensitive",
      method: "get",
      headers: { ifNoneMatch: ETAG },
      expected: "precondition-failed",
    },
    {
      name: "weak request tag matches strong etag",
      headers: { ifNoneMatch: 'W/"abc"' },
      expected: "not-modified",
    },
    {
      name: "strong request tag matches weak etag",
      headers: { ifNoneMatch: ETAG },
      validators: { etag: 'W/"abc"' },
      expected: "not-modified",
    },
    {
      name: "match later in a list",
      headers: { ifNoneMatch: '"x", W/"abc"' },
      expected: "not-modified",
    },
    {
      name: "other tags",
      headers: { ifNoneMatch: '"x", "y"' },
      expected: "proceed",
    },
    {
      name: "malformed list",
      headers: { ifNoneMatch: "abc" },
      expected: "proceed",
    },
    {
      name: "no current etag",
      headers: { ifNoneMatch: ETAG },
      validators: { lastModifiedMs: LAST_MODIFIED },
      expected: "proceed",
    },
    {
      name: "blank value ignored",
      headers: { ifNoneMatch: "" },
      expected: "proceed",
    },
  ]);
});

Deno.test("evaluatePreconditions() applies If-Modified-Since to GET and HEAD only", () => {
  runPreconditionCases([
    {
      name: "later date",
      headers: { ifModifiedSince: LATER },
      expected: "not-modified",
    },
    {
      name: "same second as the sub-second mtime",
      headers: { ifModifiedSince: SAME_SECOND },
      expected: "not-modified",
    },
    {
      name: "RFC 850 date",
      headers: { ifModifiedSince: RFC850_SAME },
      expected: "not-modified",
    },
    {
      name: "asctime date",
      headers: { ifModifiedSince: ASCTIME_SAME },
      expected: "not-modified",
    },
    {
      name: "HEAD",
      method: "HEAD",
      headers: { ifModifiedSince: LATER },
      expected: "not-modified",
    },
    {
      name: "earlier date",
      headers: { ifModifiedSince: EARLIER },
      expected: "proceed",
    },
    {
      name: "POST ignores it",
      method: "POST",
      headers: { ifModifiedSince: LATER },
      expected: "proceed",
    },
    {
      name: "invalid date ignored",
      headers: { ifModifiedSince: "Mon, 32 Jan 2024 12:00:00 GMT" },
      expected: "proceed",
    },
    {
      name: "several joined values ignored",
      headers: { ifModifiedSince: `${LATER}, ${LATER}` },
      expected: "proceed",
    },
    {
      name: "no Last-Modified ignores it",
      headers: { ifModifiedSince: LATER },
      validators: { etag: ETAG },
      expected: "proceed",
    },
  ]);
});

Deno.test("evaluatePreconditions() follows the RFC 9110 §13.2.2 order", () => {
  runPreconditionCases([
    {
      name: "If-Match success skips If-Unmodified-Since",
      headers: { ifMatch: ETAG, ifUnmodifiedSince: EARLIER },
      expected: "proceed",
    },
    {
      name: "If-Match failure wins over If-None-Match",
      headers: { ifMatch: '"x"', ifNoneMatch: ETAG },
      expected: "precondition-failed",
    },
    {
      name: "If-Match success then If-None-Match match",
      headers: { ifMatch: ETAG, ifNoneMatch: ETAG },
      expected: "not-modified",
    },
    {
      name: "If-Unmodified-Since failure wins over If-None-Match",
      headers: { ifUnmodifiedSince: EARLIER, ifNoneMatch: ETAG },
      expected: "precondition-failed",
    },
    {
      name: "If-Unmodified-Since failure wins over If-Modified-Since",
      headers: { ifUnmodifiedSince: EARLIER, ifModifiedSince: LATER },
      expected: "precondition-failed",
    },
    {
      name: "If-None-Match mismatch skips If-Modified-Since",
      headers: { ifNoneMatch: '"x"', ifModifiedSince: LATER },
      expected: "proceed",
    },
    {
      name: "If-None-Match match wins over a stale If-Modified-Since",
      headers: { ifNoneMatch: ETAG, ifModifiedSince: EARLIER },
      expected: "not-modified",
    },
    {
      name: "blank If-None-Match lets If-Modified-Since apply",
      headers: { ifNoneMatch: " ", ifModifiedSince: LATER },
      expected: "not-modified",
    },
  ]);
});

Deno.test("ifRangeAllowsRange() decides on entity-tags and dates", () => {
  const cases: {
    name: string;
    ifRange: string;
    validators?: Validators;
    expected: boolean;
  }[] = [
    { name: "strong match", ifRange: ETAG, expected: true },
    { name: "strong match with OWS", ifRange: ` ${ETAG}\t`, expected: true },
    { name: "other tag", ifRange: '"x"', expected: false },
    { name: "weak request tag", ifRange: 'W/"abc"', expected: false },
    {
      name: "weak current etag",
      ifRange: ETAG,
      validators: { etag: 'W/"abc"' },
      expected: false,
    },
    {
      name: "no current etag",
      ifRange: ETAG,
      validators: { lastModifiedMs: LAST_MODIFIED },
      expected: false,
    },
    { name: "unterminated tag", ifRange: '"abc', expected: false },
    { name: "tag list", ifRange: `${ETAG}, ${ETAG}`, expected: false },
    { name: "star", ifRange: "*", expected: false },
    { name: "same second date", ifRange: SAME_SECOND, expected: true },
    { name: "same second RFC 850 date", ifRange: RFC850_SAME, expected: true },
    { name: "earlier date", ifRange: EARLIER, expected: false },
    { name: "later date", ifRange: LATER, expected: false },
    { name: "invalid date", ifRange: "Mon, 15 Jan 2024", expected: false },
    {
      name: "no Last-Modified",
      ifRange: SAME_SECOND,
      validators: { etag: ETAG },
      expected: false,
    },
    { name: "empty", ifRange: "", expected: false },
    { name: "garbage", ifRange: "abc", expected: false },
  ];
  for (const { name, ifRange, validators, expected } of cases) {
    assert.equal(
      ifRangeAllowsRange(ifRange, validators ?? CURRENT),
      expected,
      name,
    );
  }
});

// Strings built from the characters that matter to the parsers, so that
// random inputs often come close to being valid.
const headerish = fc.oneof(
  fc.string(),
  fc.string({
    unit: fc.constantFrom('"', "W", "/", ",", " ", "\t", "*", "a", "é", "\0"),
  }),
  fc.constantFrom(ETAG, "*", SAME_SECOND, EARLIER, LATER),
);

Deno.test("evaluatePreconditions() never throws on arbitrary input", () => {
  const headers = fc.record({
    ifMatch: fc.option(headerish, { nil: undefined }),
    ifNoneMatch: fc.option(headerish, { nil: undefined }),
    ifModifiedSince: fc.option(headerish, { nil: undefined }),
    ifUnmodifiedSince: fc.option(headerish, { nil: undefined }),
  });
  const validators = fc.record({
    etag: fc.option(headerish, { nil: undefined }),
    lastModifiedMs: fc.option(fc.double(), { nil: undefined }),
  });
  const outcomes = ["proceed", "not-modified", "precondition-failed"];
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom("GET", "HEAD", "PUT"), fc.string()),
      headers,
      validators,
      (method, h, v) => {
        assert.ok(outcomes.includes(evaluatePreconditions(method, h, v)));
      },
    ),
  );
});

Deno.test("ifRangeAllowsRange() and parseETagList() never throw", () => {
  fc.assert(
    fc.property(headerish, headerish, (value, etag) => {
      const list = parseETagList(value);
      assert.ok(list === "*" || Array.isArray(list));
      assert.equal(typeof ifRangeAllowsRange(value, { etag }), "boolean");
    }),
  );
});

Deno.test("parseETagList() reads back any list of valid tags", () => {
  const opaque = fc.string({
    unit: fc.constantFrom("a", "Z", "0", "-", "/", ",", "!", "~", "W", "é"),
  });
  const tag = fc.tuple(fc.boolean(), opaque).map(([weak, text]) =>
    `${weak ? "W/" : ""}"${text}"`
  );
  const separator = fc.constantFrom(",", ", ", " ,", "\t,\t", ",,", ", ,");
  fc.assert(
    fc.property(
      fc.array(tag, { minLength: 1 }),
      separator,
      (tags, sep) => {
        assert.deepEqual(parseETagList(tags.join(sep)), tags);
      },
    ),
  );
});

Deno.test("conditional headers take SP and HTAB as OWS, nothing else", () => {
  const etag = '"a"';
  const v = { etag, lastModifiedMs: Date.UTC(1994, 10, 6, 8, 49, 37) };
  // OWS around the value and around commas is skipped.
  assert.deepEqual(parseETagList(' \t"a" ,\t"b"\t '), ['"a"', '"b"']);
  assert.equal(parseETagList(" \t* \t"), "*");
  assert.equal(
    evaluatePreconditions("GET", { ifNoneMatch: '\t"a"\t' }, v),
    "not-modified",
  );
  assert.equal(ifRangeAllowsRange(' "a"\t', v), true);
  // U+00A0 (byte 0xA0 of a latin1 head) is not whitespace: the list is
  // malformed, so nothing matches.
  assert.deepEqual(parseETagList('\xa0"a"'), []);
  assert.deepEqual(parseETagList('"a",\xa0"b"'), []);
  assert.deepEqual(parseETagList("\xa0*"), []);
  assert.equal(
    evaluatePreconditions("GET", { ifNoneMatch: '"a"\xa0' }, v),
    "proceed",
  );
  assert.equal(
    evaluatePreconditions("GET", { ifMatch: '\xa0"a"' }, v),
    "precondition-failed",
  );
  assert.equal(ifRangeAllowsRange('\xa0"a"', v), false);
  // A value of only U+00A0 is not blank: it is a malformed validator.
  assert.equal(
    evaluatePreconditions("GET", { ifMatch: "\xa0" }, v),
    "precondition-failed",
  );
  assert.equal(
    ifRangeAllowsRange("\xa0Sun, 06 Nov 1994 08:49:37 GMT", v),
    false,
  );
});

Deno.test("conditional headers cost linear time on a long run of spaces", () => {
  // The regex trim this replaced took seconds on this value.
  const v = { etag: '"a"', lastModifiedMs: 0 };
  const value = '"a"' + " ".repeat(100_000) + "x";
  const started = performance.now();
  assert.equal(
    evaluatePreconditions("GET", { ifNoneMatch: value }, v),
    "proceed",
  );
  assert.equal(
    evaluatePreconditions("GET", { ifMatch: value }, v),
    "precondition-failed",
  );
  assert.equal(ifRangeAllowsRange(value, v), false);
  assert.ok(performance.now() - started < 100);
});
