import assert from "node:assert/strict";
import { TokenBucket } from "./budget.ts";

Deno.test("TokenBucket: spends down to empty, refuses, then refills with time", () => {
  const bucket = new TokenBucket(3, 10, 0);
  assert.ok(bucket.spend(0));
  assert.ok(bucket.spend(0));
  assert.ok(bucket.spend(0));
  assert.equal(bucket.spend(0), false);
  // 10 per second: one token after 100 ms.
  assert.equal(bucket.spend(50), false);
  assert.ok(bucket.spend(100));
  assert.equal(bucket.spend(100), false);
});

Deno.test("TokenBucket: never holds more than its capacity", () => {
  const bucket = new TokenBucket(5, 1000, 0);
  bucket.spend(0, 5);
  bucket.spend(60_000, 0);
  assert.equal(bucket.tokens, 5);
  assert.ok(bucket.spend(60_000, 5));
  assert.equal(bucket.spend(60_000), false);
});
