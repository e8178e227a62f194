/**
 * Unit tests of the credential cache: hits, expiry, and its bounds (in
 * entries and in value length).
 *
 * @module
 */

import assert from "node:assert/strict";
import { CredentialCache } from "./cache.ts";

Deno.test("CredentialCache: a remembered value gives its user until it expires", () => {
  const cache = new CredentialCache({ ttlMs: 1000 });
  cache.set("Basic YTpi", "a", 0);
  assert.equal(cache.get("Basic YTpi", 0), "a");
  assert.equal(cache.get("Basic YTpi", 999), "a");
  assert.equal(cache.get("Basic YTpj", 500), undefined, "exact values only");
  assert.equal(cache.get("basic YTpi", 500), undefined);
  assert.equal(cache.get("Basic YTpi", 1000), undefined, "expired");
  assert.equal(cache.size, 0, "an expired entry is dropped when touched");
});

Deno.test("CredentialCache: setting again renews the entry", () => {
  const cache = new CredentialCache({ ttlMs: 1000 });
  cache.set("v", "a", 0);
  cache.set("v", "a", 900);
  assert.equal(cache.get("v", 1500), "a");
  assert.equal(cache.size, 1);
});

Deno.test("CredentialCache: bounded in entries, the oldest goes first", () => {
  const cache = new CredentialCache({ maxEntries: 100, ttlMs: 60_000 });
  for (let i = 0; i < 10_000; i++) {
    cache.set(`Basic value-${i}`, `user-${i}`, 0);
    assert.ok(cache.size <= 100);
  }
  assert.equal(cache.size, 100);
  assert.equal(cache.get("Basic value-0", 0), undefined);
  assert.equal(cache.get("Basic value-9899", 0), undefined);
  assert.equal(cache.get("Basic value-9900", 0), "user-9900");
  assert.equal(cache.get("Basic value-9999", 0), "user-9999");
});

Deno.test("CredentialCache: long values are not remembered", () => {
  const cache = new CredentialCache({ maxValueLength: 64 });
  const long = "Basic " + "A".repeat(100);
  cache.set(long, "a", 0);
  assert.equal(cache.get(long, 0), undefined);
  assert.equal(cache.size, 0);
  const off = new CredentialCache({ maxEntries: 0 });
  off.set("v", "a", 0);
  assert.equal(off.size, 0);
});
