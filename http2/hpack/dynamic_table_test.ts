import assert from "node:assert/strict";
import { DynamicTable, entrySize } from "./dynamic_table.ts";

function entries(table: DynamicTable): string[] {
  const out: string[] = [];
  for (let i = 1; i <= table.length; i++) {
    out.push(`${table.name(i)}: ${table.value(i)}`);
  }
  return out;
}

Deno.test("entry size is name + value + 32 (§4.1)", () => {
  assert.equal(entrySize("custom-key", "custom-header"), 55);
  assert.equal(entrySize("", ""), 32);
});

Deno.test("entries are indexed newest first, and sized", () => {
  const table = new DynamicTable(4096);
  table.add(":authority", "www.example.com");
  table.add("cache-control", "no-cache");
  assert.deepEqual(entries(table), [
    "cache-control: no-cache",
    ":authority: www.example.com",
  ]);
  assert.equal(table.size, 110);
  assert.equal(table.length, 2);
});

Deno.test("adding evicts the oldest entries until the new one fits (§4.4)", () => {
  const table = new DynamicTable(100);
  table.add("a", "1"); // 34
  table.add("b", "2"); // 68
  table.add("c", "3"); // 102 > 100: "a" goes
  assert.deepEqual(entries(table), ["c: 3", "b: 2"]);
  assert.equal(table.size, 68);
  // Exactly the maximum fits.
  table.add("x".repeat(34), "y".repeat(34));
  assert.deepEqual(entries(table), ["x".repeat(34) + ": " + "y".repeat(34)]);
  assert.equal(table.size, 100);
});

Deno.test("an entry larger than the table empties it (§4.4)", () => {
  const table = new DynamicTable(100);
  table.add("a", "1");
  table.add("n", "v".repeat(68)); // 101
  assert.equal(table.length, 0);
  assert.equal(table.size, 0);
});

Deno.test("lowering the maximum evicts; zero empties (§4.3)", () => {
  const table = new DynamicTable(4096);
  for (let i = 0; i < 10; i++) table.add(`n${i}`, "v"); // 35 each
  table.setMaxSize(100);
  assert.deepEqual(entries(table), ["n9: v", "n8: v"]);
  table.setMaxSize(0);
  assert.equal(table.length, 0);
  table.add("a", "b");
  assert.equal(table.length, 0);
  table.setMaxSize(50);
  table.add("a", "b");
  assert.deepEqual(entries(table), ["a: b"]);
});

Deno.test("the ring grows and wraps without losing order", () => {
  const table = new DynamicTable(40 * 35);
  for (let i = 0; i < 1000; i++) {
    table.add(`k${i % 10}`, String.fromCharCode(97 + (i % 26)));
    const expected = Math.min(i + 1, 40);
    assert.equal(table.length, expected);
    assert.equal(table.name(1), `k${i % 10}`);
    assert.equal(table.name(expected), `k${(i + 1 - expected) % 10}`);
  }
  assert.equal(table.size, 40 * 35);
});

Deno.test("ids follow entries; the hooks see every add and eviction", () => {
  const log: string[] = [];
  class Traced extends DynamicTable {
    protected override added(name: string, _v: string, id: number): void {
      log.push(`+${name}#${id}`);
    }
    protected override evicted(name: string, _v: string, id: number): void {
      log.push(`-${name}#${id}`);
    }
  }
  const table = new Traced(70);
  table.add("a", "1");
  table.add("b", "2");
  assert.equal(table.indexOfId(1), 2);
  assert.equal(table.indexOfId(2), 1);
  table.add("c", "3");
  table.setMaxSize(0);
  assert.deepEqual(log, ["+a#1", "+b#2", "-a#1", "+c#3", "-b#2", "-c#3"]);
});
