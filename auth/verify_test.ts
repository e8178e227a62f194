/**
 * Unit tests of password verification: right, wrong and unknown users
 * for each kind of secret, and the dummy secret that makes an unknown user
 * cost what a known one does.
 *
 * @module
 */

import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { parseHtpasswd } from "./htpasswd.ts";
import { loadAuthUsers } from "./load.ts";
import { CredentialVerifier, dummySecret } from "./verify.ts";
import type { AuthUser } from "./htpasswd.ts";

// `htpasswd -nbB alice secret` and `htpasswd -nbs bob secret`.
const FILE =
  "alice:$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m\n" +
  "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";

function fileUsers(text: string): AuthUser[] {
  const parsed = parseHtpasswd(text, "test");
  assert.equal(parsed.kind, "ok");
  return (parsed as { users: AuthUser[] }).users;
}

function pairUsers(pairs: [string, string][]): AuthUser[] {
  const loaded = loadAuthUsers({
    pairs: pairs.map(([user, password]) => ({ user, password })),
    files: [],
  });
  assert.equal(loaded.kind, "ok");
  return (loaded as { users: AuthUser[] }).users;
}

/** bcrypt on this thread, recording the salts it was asked for. */
function recordingHasher(salts: string[]) {
  return (password: string, salt: string) => {
    salts.push(salt);
    return Promise.resolve(bcrypt.hashSync(password, salt));
  };
}

Deno.test("CredentialVerifier: --auth users: right, wrong, unknown", async () => {
  const verifier = new CredentialVerifier(
    pairUsers([["alice", "s3cret"], ["zoë", "pässwörd:€"]]),
    () => Promise.reject(new Error("no bcrypt here")),
  );
  assert.equal(await verifier.verify("alice", "s3cret"), true);
  assert.equal(await verifier.verify("zoë", "pässwörd:€"), true);
  assert.equal(await verifier.verify("alice", "s3cret "), false);
  assert.equal(await verifier.verify("alice", ""), false);
  assert.equal(await verifier.verify("Alice", "s3cret"), false);
  assert.equal(await verifier.verify("zoë", "s3cret"), false);
  assert.equal(await verifier.verify("mallory", "s3cret"), false);
});

Deno.test("CredentialVerifier: htpasswd bcrypt and {SHA} users: right, wrong, unknown", async () => {
  const salts: string[] = [];
  const verifier = new CredentialVerifier(
    fileUsers(FILE),
    recordingHasher(salts),
  );
  assert.equal(await verifier.verify("alice", "secret"), true);
  assert.equal(await verifier.verify("alice", "Secret"), false);
  assert.equal(await verifier.verify("bob", "secret"), true);
  assert.equal(await verifier.verify("bob", "secret2"), false);
  assert.equal(await verifier.verify("carol", "secret"), false);
  // alice twice and carol went to bcrypt; bob's {SHA} did not.
  assert.equal(salts.length, 3);
  assert.equal(salts[0], "$2y$05$PO3sH6K1EsiHX9bM3xmcxO");
});

Deno.test("CredentialVerifier: an unknown user costs a bcrypt check of the usual cost", async () => {
  const hash = (password: string, cost: number) =>
    bcrypt.hashSync(password, bcrypt.genSaltSync(cost)).replace("$2b$", "$2y$");
  const users = fileUsers(
    `a:${hash("x", 4)}\nb:${hash("y", 6)}\nc:${hash("z", 6)}\n` +
      "d:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
  );
  const salts: string[] = [];
  const verifier = new CredentialVerifier(users, recordingHasher(salts));
  assert.equal(await verifier.verify("nobody", "x"), false);
  assert.equal(await verifier.verify("nobody", "y"), false);
  assert.equal(salts.length, 2, "the unknown user went to bcrypt");
  for (const salt of salts) {
    assert.equal(salt.length, 29);
    assert.ok(salt.startsWith("$2y$06$"), `cost of most users: ${salt}`);
  }
  // A salt of its own, not a user's: nobody's password matches it.
  assert.ok(
    !users.some((u) =>
      u.secret.kind === "bcrypt" && u.secret.hash.startsWith(salts[0])
    ),
  );
});

Deno.test("dummySecret: the kind most users have, the dearer on a tie", () => {
  const sha1 = fileUsers("a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
  assert.equal(dummySecret(sha1).kind, "sha1");
  const pairs = pairUsers([["a", "x"], ["b", "y"]]);
  assert.equal(dummySecret(pairs).kind, "sha256");
  assert.equal(dummySecret([...sha1, ...pairs]).kind, "sha256");
  const mixed = [...fileUsers(FILE), ...pairUsers([["c", "z"]])];
  // One each of bcrypt, {SHA} and --auth: bcrypt is the dearest.
  const dummy = dummySecret(mixed);
  assert.equal(dummy.kind, "bcrypt");
  assert.ok(dummy.kind === "bcrypt" && dummy.salt.startsWith("$2y$05$"));
  assert.equal(dummySecret([]).kind, "sha256");
});

Deno.test("CredentialVerifier: a failing bcrypt thread rejects rather than letting anyone in", async () => {
  const verifier = new CredentialVerifier(
    fileUsers(FILE),
    () => Promise.reject(new Error("compression pool closed")),
  );
  await assert.rejects(verifier.verify("alice", "secret"), /pool closed/);
});
