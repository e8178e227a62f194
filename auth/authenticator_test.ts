/**
 * Unit tests of the authenticator's decision: the order of its steps
 * (cache, limit, parse, verify), what counts as a failure, and the bound
 * on checks in flight. The bcrypt step is a stub here; the real pool is
 * exercised by `tests/auth_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Authenticator, type AuthVerdict } from "./authenticator.ts";
import { loadAuthUsers } from "./load.ts";
import type { AuthUser } from "./htpasswd.ts";

function users(): AuthUser[] {
  const loaded = loadAuthUsers({
    pairs: [{ user: "alice", password: "secret" }],
    files: [],
  });
  return (loaded as { users: AuthUser[] }).users;
}

function basic(text: string): string {
  return "Basic " + Buffer.from(text).toString("base64");
}

async function verdict(
  auth: Authenticator,
  values: string[],
  remote = "192.0.2.1",
): Promise<AuthVerdict> {
  return await auth.check(values, remote);
}

Deno.test("Authenticator: no field is 401 and not a failed attempt", async () => {
  const auth = new Authenticator({ users: users(), failureBurst: 1 });
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await verdict(auth, []), { kind: "unauthorized" });
  }
  assert.deepEqual(await verdict(auth, [basic("alice:secret")]), {
    kind: "ok",
    user: "alice",
  });
});

Deno.test("Authenticator: right credentials pass and are then answered from the cache", async () => {
  const auth = new Authenticator({ users: users() });
  const value = basic("alice:secret");
  const first = auth.check([value], "192.0.2.1");
  assert.ok(first instanceof Promise, "checked the first time");
  assert.deepEqual(await first, { kind: "ok", user: "alice" });
  const second = auth.check([value], "192.0.2.1");
  assert.deepEqual(second, { kind: "ok", user: "alice" }, "synchronous");
  assert.equal(auth.cache.size, 1);
});

Deno.test("Authenticator: wrong, unknown and malformed credentials are 401 and count as failures", async () => {
  const auth = new Authenticator({
    users: users(),
    failureBurst: 4,
    failureRefillMs: 60_000,
  });
  const attempts = [
    [basic("alice:wrong")],
    [basic("mallory:secret")],
    ["Basic !!!!"],
    [basic("alice:secret"), basic("alice:secret")], // two fields
  ];
  for (const values of attempts) {
    assert.deepEqual(await verdict(auth, values), { kind: "unauthorized" });
  }
  assert.equal(auth.cache.size, 0, "failures are never cached");
  // The burst is spent: even the right password is not checked now.
  const limited = await verdict(auth, [basic("alice:secret")]);
  assert.equal(limited.kind, "limited");
  assert.ok(limited.kind === "limited" && limited.retryAfterSeconds === 60);
  // Another address is not affected.
  assert.deepEqual(
    await verdict(auth, [basic("alice:secret")], "192.0.2.2"),
    { kind: "ok", user: "alice" },
  );
  // Cached credentials pass even from the limited address.
  assert.deepEqual(await verdict(auth, [basic("alice:secret")]), {
    kind: "ok",
    user: "alice",
  });
});

Deno.test("Authenticator: successes are not limited", async () => {
  const auth = new Authenticator({
    users: users(),
    failureBurst: 2,
    failureRefillMs: 60_000,
  });
  // Twenty distinct values of the same credentials (one more space each),
  // so that every one is checked rather than found in the cache.
  const token = basic("alice:secret").slice("Basic ".length);
  for (let i = 1; i <= 20; i++) {
    const v = await verdict(auth, ["Basic" + " ".repeat(i) + token]);
    assert.equal(v.kind, "ok", `login ${i}`);
  }
  assert.equal(auth.cache.size, 20);
  assert.equal((await verdict(auth, [basic("alice:no")])).kind, "unauthorized");
  assert.equal((await verdict(auth, [basic("alice:no")])).kind, "unauthorized");
  assert.equal((await verdict(auth, [basic("alice:no")])).kind, "limited");
});

Deno.test("Authenticator: checks in flight are bounded server-wide (503), without spending attempts", async () => {
  const release: (() => void)[] = [];
  const hash = "$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m";
  const auth = new Authenticator(
    {
      users: [{
        user: "alice",
        secret: { kind: "bcrypt", hash, cost: 5 },
        source: "test",
      }],
      maxPendingChecks: 2,
      maxRunningChecks: 2,
      failureBurst: 3,
    },
    () => new Promise((resolve) => release.push(() => resolve("x"))),
  );
  const a = auth.check([basic("alice:1")], "192.0.2.1");
  const b = auth.check([basic("alice:2")], "192.0.2.2");
  assert.equal(auth.pendingChecks, 2);
  assert.deepEqual(auth.check([basic("alice:3")], "192.0.2.3"), {
    kind: "busy",
  });
  // The refused check gave its attempt back.
  assert.equal(auth.limiter.take("192.0.2.3"), 0);
  assert.equal(auth.limiter.take("192.0.2.3"), 0);
  assert.equal(auth.limiter.take("192.0.2.3"), 0);
  await new Promise((r) => setTimeout(r, 0));
  for (const r of release) r();
  assert.deepEqual(await a, { kind: "unauthorized" });
  assert.deepEqual(await b, { kind: "unauthorized" });
  assert.equal(auth.pendingChecks, 0);
});

Deno.test("Authenticator: checks go to the pool one at a time per thread; the others wait here", async () => {
  const hash = "$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m";
  const release: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const auth = new Authenticator(
    {
      users: [{
        user: "alice",
        secret: { kind: "bcrypt", hash, cost: 5 },
        source: "test",
      }],
      maxRunningChecks: 1,
      failureBurst: 100,
    },
    () => {
      running++;
      most = Math.max(most, running);
      return new Promise((resolve) =>
        release.push(() => {
          running--;
          resolve("x");
        })
      );
    },
  );
  const verdicts = [1, 2, 3, 4].map((i) =>
    auth.check([basic(`alice:${i}`)], "192.0.2.1")
  );
  assert.equal(auth.pendingChecks, 4);
  for (let step = 0; step < 4; step++) {
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(release.length, step + 1, "one check handed over at a time");
    assert.equal(auth.runningChecks, 1);
    release[step]();
  }
  for (const v of verdicts) assert.deepEqual(await v, { kind: "unauthorized" });
  assert.equal(most, 1);
  assert.equal(auth.runningChecks, 0);
  assert.equal(auth.pendingChecks, 0);
});

Deno.test("Authenticator: a failing pool is 503, never a way in", async () => {
  const hash = "$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m";
  const auth = new Authenticator(
    {
      users: [{
        user: "alice",
        secret: { kind: "bcrypt", hash, cost: 5 },
        source: "test",
      }],
    },
    () => Promise.reject(new Error("compression queue full")),
  );
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    assert.deepEqual(await verdict(auth, [basic("alice:secret")]), {
      kind: "busy",
    });
  } finally {
    console.error = original;
  }
  assert.equal(errors.length, 1);
  assert.ok(!JSON.stringify(errors).includes("secret"), "no password logged");
});
