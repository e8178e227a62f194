import assert from "node:assert/strict";
import {
  asciiLower,
  asciiSet,
  elementValueEnd,
  equalsAsciiLower,
  forEachListElement,
  forEachParameter,
  isDigit,
  isDigits,
  isOws,
  parseQvalue,
  skipDigits,
  skipOws,
  splitList,
  stripLeadingZeros,
  trimOws,
} from "./scan.ts";

Deno.test("isOws() accepts SP and HTAB only", () => {
  assert.equal(isOws(0x20), true);
  assert.equal(isOws(0x09), true);
  for (const c of [0x0a, 0x0d, 0x0b, 0x0c, 0xa0, 0x85, 0x3000]) {
    assert.equal(isOws(c), false, c.toString(16));
  }
});

Deno.test("trimOws() strips SP and HTAB but not U+00A0 or other spaces", () => {
  assert.equal(trimOws(" \t a b \t "), "a b");
  assert.equal(trimOws("\xa05"), "\xa05");
  assert.equal(trimOws("5\xa0"), "5\xa0");
  assert.equal(trimOws("\v5\f"), "\v5\f");
  assert.equal(trimOws("   "), "");
  assert.equal(trimOws(""), "");
});

Deno.test("trimOws() is linear on a long run of spaces before a non-space", () => {
  const value = '"a"' + " ".repeat(200_000) + "x";
  const started = performance.now();
  assert.equal(trimOws(value), value);
  assert.ok(performance.now() - started < 50);
});

Deno.test("skipOws() stops at the first other character", () => {
  assert.equal(skipOws("  \tx", 0), 3);
  assert.equal(skipOws("ab", 1), 1);
  assert.equal(skipOws("a  ", 1), 3);
});

Deno.test("splitList() trims elements and drops empty ones", () => {
  assert.deepEqual(splitList(",chunked"), ["chunked"]);
  assert.deepEqual(splitList(" a , ,b,, "), ["a", "b"]);
  assert.deepEqual(splitList(""), []);
  assert.deepEqual(splitList("\xa0chunked"), ["\xa0chunked"]);
});

Deno.test("isDigits() accepts ASCII digits only", () => {
  assert.equal(isDigits("0123"), true);
  assert.equal(isDigits(""), false);
  assert.equal(isDigits("+5"), false);
  assert.equal(isDigits("5 "), false);
  assert.equal(isDigits("\u0665"), false); // ARABIC-INDIC DIGIT FIVE
});

Deno.test("asciiLower() folds A-Z only", () => {
  assert.equal(asciiLower("Chunked"), "chunked");
  assert.equal(asciiLower("gzip"), "gzip");
  assert.equal(asciiLower("\u212Aeep-alive"), "\u212Aeep-alive");
  assert.equal(asciiLower("\u0130D"), "\u0130d");
});

Deno.test("asciiLower() folds A-Z only, also in long and mixed text", () => {
  assert.equal(asciiLower("W/".repeat(5000)), "w/".repeat(5000));
  // Non-ASCII text takes the character-by-character path.
  const mixed = "\u212AB\xc0\xe9Z\ud800".repeat(3000);
  assert.equal(asciiLower(mixed), "\u212Ab\xc0\xe9z\ud800".repeat(3000));
  assert.equal(asciiLower("\xc9T\xc9"), "\xc9t\xc9");
});

Deno.test("isDigit() and skipDigits() know ASCII digits only", () => {
  assert.equal(isDigit(0x30), true);
  assert.equal(isDigit(0x39), true);
  assert.equal(isDigit(0x2f), false);
  assert.equal(isDigit(0x3a), false);
  assert.equal(isDigit(0x0665), false);
  assert.equal(skipDigits("12a3", 0), 2);
  assert.equal(skipDigits("a12", 0), 0);
  assert.equal(skipDigits("a12", 1), 3);
  assert.equal(skipDigits("", 0), 0);
});

Deno.test("stripLeadingZeros() keeps at least one digit", () => {
  assert.equal(stripLeadingZeros("007"), "7");
  assert.equal(stripLeadingZeros("000"), "0");
  assert.equal(stripLeadingZeros("0"), "0");
  assert.equal(stripLeadingZeros("100"), "100");
  assert.equal(stripLeadingZeros(""), "");
  assert.equal(stripLeadingZeros("0".repeat(50_000) + "1"), "1");
});

Deno.test("asciiSet() builds a membership table over ASCII", () => {
  const set = asciiSet("-.", true);
  for (const c of "azAZ09-.") assert.equal(set[c.charCodeAt(0)], 1, c);
  for (const c of " /:@_\x7f") assert.notEqual(set[c.charCodeAt(0)], 1, c);
  assert.notEqual(set[0xe9], 1);
  assert.notEqual(asciiSet("-")[0x61], 1);
});

Deno.test("parseQvalue() accepts exactly the RFC 9110 qvalue grammar", () => {
  const valid: [string, number][] = [
    ["0", 0],
    ["0.", 0],
    ["0.5", 0.5],
    ["0.123", 0.123],
    ["0.000", 0],
    ["1", 1],
    ["1.", 1],
    ["1.000", 1],
  ];
  for (const [text, q] of valid) assert.equal(parseQvalue(text), q, text);
  const invalid = [
    "",
    ".5",
    "0.1234",
    "1.5",
    "1.001",
    "2",
    "01",
    "0,5",
    " 0",
    "0 ",
    "-0",
    "+1",
    "0x1",
    "1e0",
    "0.\u0665",
  ];
  for (const text of invalid) {
    assert.equal(parseQvalue(text), undefined, JSON.stringify(text));
  }
});

Deno.test("forEachListElement() visits the elements splitList() returns", () => {
  const values = [
    "",
    ",",
    " , ,\t,",
    "a",
    " a ,b\t, ,c,",
    ",chunked",
    "\xa0chunked",
    "a b, c",
    "x".repeat(3) + ",".repeat(10),
  ];
  for (const value of values) {
    const seen: string[] = [];
    forEachListElement(value, (start, end) => {
      seen.push(value.slice(start, end));
    });
    assert.deepEqual(seen, splitList(value), JSON.stringify(value));
  }
});

Deno.test("forEachListElement() stops when the visitor returns true", () => {
  const seen: string[] = [];
  forEachListElement("a,b,c", (start, end) => {
    seen.push("a,b,c".slice(start, end));
    return seen.length === 2;
  });
  assert.deepEqual(seen, ["a", "b"]);
});

/** The parameters of an element as [name, value] pairs, via the walker. */
function params(text: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  forEachParameter(text, 0, text.length, (ns, ne, vs, ve) => {
    out.push([text.slice(ns, ne), vs < 0 ? undefined : text.slice(vs, ve)]);
  });
  return out;
}

Deno.test("forEachParameter() walks name[=value] pairs with OWS trimmed", () => {
  assert.deepEqual(params("gzip"), []);
  assert.deepEqual(params("gzip;q=0.5"), [["q", "0.5"]]);
  assert.deepEqual(params("text/html ; Q = 0 ;level=1"), [
    ["Q", "0"],
    ["level", "1"],
  ]);
  assert.deepEqual(params("a;;\t;b"), [["b", undefined]]);
  assert.deepEqual(params("a;=5;q="), [["", "5"], ["q", ""]]);
  assert.deepEqual(params("a;q=1=2"), [["q", "1=2"]]);
  assert.deepEqual(params('a;x="b;c"'), [["x", '"b'], ['c"', undefined]]);
  assert.deepEqual(params("a;\xa0q=0"), [["\xa0q", "0"]]);
});

Deno.test("forEachParameter() stays within the element and stops on true", () => {
  const text = "a;x=1,b;y=2";
  const names: string[] = [];
  forEachParameter(text, 0, 5, (ns, ne) => {
    names.push(text.slice(ns, ne));
  });
  assert.deepEqual(names, ["x"]);
  const first: string[] = [];
  forEachParameter("a;p;q;r", 0, 7, (ns, ne) => {
    first.push("a;p;q;r".slice(ns, ne));
    return true;
  });
  assert.deepEqual(first, ["p"]);
});

Deno.test("elementValueEnd() ends the first part at ';' or the element end", () => {
  assert.equal(elementValueEnd("gzip;q=1", 0, 8), 4);
  assert.equal(elementValueEnd("gzip \t;q=1", 0, 10), 4);
  assert.equal(elementValueEnd("gzip", 0, 4), 4);
  assert.equal(elementValueEnd("a,b;q", 0, 1), 1);
  assert.equal(elementValueEnd(";q", 0, 2), 0);
  assert.equal(elementValueEnd("a\xa0;", 0, 3), 2);
});

Deno.test("equalsAsciiLower() compares a span ignoring ASCII case only", () => {
  assert.equal(equalsAsciiLower("xText/HTMLx", 1, 10, "text/html"), true);
  assert.equal(equalsAsciiLower("close", 0, 5, "close"), true);
  assert.equal(equalsAsciiLower("closed", 0, 6, "close"), false);
  assert.equal(equalsAsciiLower("clos", 0, 4, "close"), false);
  assert.equal(equalsAsciiLower("\u212Aeep", 0, 4, "keep"), false);
  assert.equal(equalsAsciiLower("", 0, 0, ""), true);
});

Deno.test("the list and parameter walkers are linear on long adversarial input", () => {
  // A quadratic walker (one that searched past its element) would take
  // seconds here; a linear one takes a few milliseconds.
  const value = "a".repeat(10) + ",a".repeat(100_000) + ";q";
  const started = performance.now();
  let count = 0;
  forEachListElement(value, (start, end) => {
    elementValueEnd(value, start, end);
    forEachParameter(value, start, end, () => {
      count++;
    });
  });
  assert.equal(count, 1);
  assert.ok(performance.now() - started < 500);
});
