/**
 * Unit tests of the failed-attempt limiter (burst, refill, refunds, the
 * bound on addresses) and of the address keys (IPv6 by /64).
 *
 * @module
 */

import assert from "node:assert/strict";
import { addressKey, FailureLimiter } from "./limiter.ts";

Deno.test("FailureLimiter: a burst of attempts, then a wait in whole seconds", () => {
  const limiter = new FailureLimiter({ burst: 3, refillMs: 2000 });
  const t = 1_000_000;
  assert.equal(limiter.take("a", t), 0);
  assert.equal(limiter.take("a", t), 0);
  assert.equal(limiter.take("a", t), 0);
  assert.equal(limiter.take("a", t), 2, "one attempt back in 2 s");
  assert.equal(limiter.take("a", t + 500), 2, "1.5 s rounds up");
  assert.equal(limiter.take("a", t + 1500), 1);
  // Refused attempts take nothing: the token is back after 2 s.
  assert.equal(limiter.take("a", t + 2000), 0);
  assert.equal(limiter.take("a", t + 2000), 2);
  // Another address has its own bucket.
  assert.equal(limiter.take("b", t), 0);
});

Deno.test("FailureLimiter: the bucket refills to the burst and no further", () => {
  const limiter = new FailureLimiter({ burst: 2, refillMs: 1000 });
  const t = 5_000;
  limiter.take("a", t);
  limiter.take("a", t);
  // An hour later: two attempts, not 3,600.
  const later = t + 3_600_000;
  assert.equal(limiter.take("a", later), 0);
  assert.equal(limiter.take("a", later), 0);
  assert.ok(limiter.take("a", later) > 0);
});

Deno.test("FailureLimiter: a success gives its token back", () => {
  const limiter = new FailureLimiter({ burst: 2, refillMs: 60_000 });
  const t = 0;
  for (let i = 0; i < 100; i++) {
    assert.equal(limiter.take("a", t), 0, `attempt ${i}`);
    limiter.refund("a", t);
  }
  limiter.refund("a", t);
  limiter.refund("unknown", t); // nothing to give back to: no entry made
  assert.equal(limiter.size, 1);
  assert.equal(limiter.take("a", t), 0);
  assert.equal(limiter.take("a", t), 0);
  assert.ok(limiter.take("a", t) > 0, "refunds never raise it past the burst");
});

Deno.test("FailureLimiter: memory is bounded; the least recently seen address goes first", () => {
  const limiter = new FailureLimiter({
    burst: 1,
    refillMs: 60_000,
    maxAddresses: 100,
  });
  limiter.take("keep", 0);
  for (let i = 0; i < 10_000; i++) {
    limiter.take(`10.0.${i >> 8}.${i & 255}`, 0);
    if (i % 50 === 0) limiter.take("keep", 0); // seen often: stays
    assert.ok(limiter.size <= 100);
  }
  assert.equal(limiter.size, 100);
  assert.ok(limiter.take("keep", 0) > 0, "the busy address is still limited");
  // The first addresses were dropped: they start afresh.
  assert.equal(limiter.take("10.0.0.0", 0), 0);
});

Deno.test("addressKey: IPv4 as is, IPv6 by /64, IPv4-mapped as IPv4", () => {
  assert.equal(addressKey("192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(
    addressKey("2001:db8:1:2::99"),
    addressKey("2001:0db8:0001:0002:ffff::1"),
  );
  assert.notEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(addressKey("2001:DB8::"), "2001:db8:0:0::/64");
  // Not an address (cannot come from the kernel): kept whole.
  assert.equal(addressKey("1:2:3"), "1:2:3");
  assert.equal(addressKey("1::2::3"), "1::2::3");
});
