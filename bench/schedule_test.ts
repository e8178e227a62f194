import assert from "node:assert/strict";
import { turnOrder } from "./schedule.ts";

Deno.test("turnOrder starts each repetition with the next server", () => {
  assert.deepEqual(turnOrder(3, 0), [0, 1, 2]);
  assert.deepEqual(turnOrder(3, 1), [1, 2, 0]);
  assert.deepEqual(turnOrder(3, 2), [2, 0, 1]);
  assert.deepEqual(turnOrder(3, 3), [0, 1, 2]);
  assert.deepEqual(turnOrder(1, 5), [0]);
  assert.deepEqual(turnOrder(0, 1), []);
});
