import assert from "node:assert/strict";
import {
  asciiLower,
  isDigits,
  isOws,
  skipOws,
  splitList,
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
