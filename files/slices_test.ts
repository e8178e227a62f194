import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeInSlices, sortInSlices } from "./slices.ts";

const noPause = () => Promise.resolve();

Deno.test("sortInSlices() sorts like Array.prototype.sort, stably", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ key: fc.integer({ min: 0, max: 20 }), id: fc.nat() }),
      ),
      async (items) => {
        const compare = (a: { key: number }, b: { key: number }) =>
          a.key - b.key;
        const sorted = await sortInSlices(items, compare, noPause, 7);
        assert.deepEqual(sorted, [...items].sort(compare));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("sortInSlices() pauses after every budget of comparisons", async () => {
  let pauses = 0;
  const items = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  const sorted = await sortInSlices(
    items,
    (a, b) => a - b,
    () => {
      pauses++;
      return Promise.resolve();
    },
    100,
  );
  assert.deepEqual(sorted, [...items].sort((a, b) => a - b));
  // About n log2 n = 10,000 comparisons: close to 100 pauses.
  assert.ok(pauses >= 50 && pauses <= 100, `${pauses} pauses`);
});

Deno.test("sortInSlices() does not change its input", async () => {
  const items = [3, 1, 2];
  await sortInSlices(items, (a, b) => a - b, noPause);
  assert.deepEqual(items, [3, 1, 2]);
});

Deno.test("encodeInSlices() joins rendered items as UTF-8, pausing per budget", async () => {
  let pauses = 0;
  const bytes = await encodeInSlices(
    [1, 2, 3, 4, 5],
    (n) => `<${n}>`,
    ",",
    () => {
      pauses++;
      return Promise.resolve();
    },
    2,
  );
  assert.equal(new TextDecoder().decode(bytes), "<1>,<2>,<3>,<4>,<5>");
  assert.equal(pauses, 2);
  const empty = await encodeInSlices([], String, ",", () => Promise.resolve());
  assert.equal(empty.length, 0);
  const accents = await encodeInSlices(
    ["é", "ü"],
    (s) => s,
    "·",
    () => Promise.resolve(),
    1,
  );
  assert.equal(new TextDecoder().decode(accents), "é·ü");
});
