import assert from "node:assert/strict";
import { type MemberValue, scanDictionary } from "./structured_dictionary.ts";

function members(text: string): [string, MemberValue][] | undefined {
  const out: [string, MemberValue][] = [];
  return scanDictionary(text, (key, value) => out.push([key, value]))
    ? out
    : undefined;
}

Deno.test("each member is reported with its kind, in order, repeats included", () => {
  assert.deepEqual(
    members(
      'a=1, b=-2.5, c="s", d=tok, e=:AQ==:, f=?0, g, h=(1 2);p, a=-7;q=1',
    ),
    [
      ["a", { kind: "integer", value: 1 }],
      ["b", { kind: "decimal" }],
      ["c", { kind: "string" }],
      ["d", { kind: "token" }],
      ["e", { kind: "byte-sequence" }],
      ["f", { kind: "boolean", value: false }],
      ["g", { kind: "boolean", value: true }],
      ["h", { kind: "inner-list" }],
      ["a", { kind: "integer", value: -7 }],
    ],
  );
});

Deno.test("parameters never overwrite their item's value", () => {
  assert.deepEqual(members("u=2;u=5;i=?0"), [["u", {
    kind: "integer",
    value: 2,
  }]]);
  assert.deepEqual(members("i=?1;x=7"), [["i", {
    kind: "boolean",
    value: true,
  }]]);
  assert.deepEqual(members("i;x=?0"), [["i", {
    kind: "boolean",
    value: true,
  }]]);
  assert.deepEqual(members("u=(1 2);x=3"), [["u", { kind: "inner-list" }]]);
});

Deno.test("numbers: RFC 8941 §4.2.4 limits", () => {
  assert.deepEqual(members("a=999999999999999"), [["a", {
    kind: "integer",
    value: 999999999999999,
  }]]);
  assert.deepEqual(members("a=-999999999999999"), [["a", {
    kind: "integer",
    value: -999999999999999,
  }]]);
  assert.equal(members("a=1000000000000000"), undefined);
  assert.deepEqual(members("a=123456789012.123"), [["a", { kind: "decimal" }]]);
  assert.equal(members("a=1234567890123.1"), undefined);
  assert.equal(members("a=1.1234"), undefined);
  assert.equal(members("a=1."), undefined);
  assert.equal(members("a=.1"), undefined);
  assert.equal(members("a=1.2.3"), undefined);
});

Deno.test("an invalid dictionary is reported as such after members before it", () => {
  const seen: string[] = [];
  assert.equal(scanDictionary("a=1, b=2, C=3", (key) => seen.push(key)), false);
  assert.deepEqual(seen, ["a", "b"]);
  assert.deepEqual(members(""), []);
  assert.deepEqual(members("   "), []);
  assert.equal(members(","), undefined);
});

Deno.test("a long valid value is scanned in linear time", () => {
  const inner = "(" + "1 ".repeat(200_000) + ")";
  const strings = '"' + "\\\\".repeat(200_000) + '"';
  const start = performance.now();
  assert.equal(members(`a=${inner}, b=${strings}`)?.length, 2);
  assert.equal(members(`a=${inner.slice(0, -1)}`), undefined);
  assert.equal(members(`a=${strings.slice(0, -1)}`), undefined);
  assert.ok(performance.now() - start < 1000);
});
