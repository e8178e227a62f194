/**
 * Unit tests of the htpasswd parser: each hash kind (as `htpasswd` writes
 * them), comments and blank lines, refused kinds with their one-line
 * messages, and duplicate users.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bcryptCost, classifyHash, parseHtpasswd } from "./htpasswd.ts";

// Written by `htpasswd -nbB alice secret`, `-nbs bob secret`,
// `-nbm carol secret`, `-nbp dave secret`, `-nbd eve secret`.
const ALICE =
  "alice:$2y$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m";
const BOB = "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=";
const CAROL = "carol:$apr1$z1gdpYCj$dAy/Xgeytsiq6jCgEd6Gi1";
const DAVE = "dave:secret";
const EVE = "eve:f9/8ICFGnvzis";

function ok(text: string) {
  const result = parseHtpasswd(text, "users.htpasswd");
  assert.equal(result.kind, "ok", JSON.stringify(result));
  return result as Extract<typeof result, { kind: "ok" }>;
}

function error(text: string): string {
  const result = parseHtpasswd(text, "users.htpasswd");
  assert.equal(result.kind, "error", JSON.stringify(result));
  const message = (result as { message: string }).message;
  assert.ok(!message.includes("\n"), "one line");
  return message;
}

Deno.test("parseHtpasswd: bcrypt $2y$, $2a$ and $2b$ users", () => {
  const tail = ALICE.slice("alice:$2y".length);
  const result = ok(
    [ALICE, `ann:$2a${tail}`, `abe:$2b${tail}`].join("\n") + "\n",
  );
  assert.deepEqual(result.users.map((u) => u.user), ["alice", "ann", "abe"]);
  for (const u of result.users) {
    assert.equal(u.secret.kind, "bcrypt");
    assert.equal(u.secret.kind === "bcrypt" && u.secret.cost, 5);
  }
  assert.equal(result.users[0].source, "users.htpasswd line 1");
  assert.deepEqual(result.warnings, []);
});

Deno.test("parseHtpasswd: {SHA} is accepted with a warning naming file, line and user", () => {
  const result = ok(`${ALICE}\n${BOB}\n`);
  assert.deepEqual(result.users[1], {
    user: "bob",
    secret: { kind: "sha1", digest: "5en6G6MezRroT3XKqkdPOmY/BfQ=" },
    source: "users.htpasswd line 2",
  });
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0], /^users\.htpasswd line 2: user "bob" /);
  assert.match(result.warnings[0], /SHA-1/);
});

Deno.test("parseHtpasswd: comments, blank lines, CRLF and a byte order mark are skipped", () => {
  const result = ok(
    "\ufeff# team\r\n\r\n   \n" + ALICE + "\r\n  # bob below\n" + BOB +
      "  \n\n",
  );
  assert.deepEqual(result.users.map((u) => [u.user, u.source]), [
    ["alice", "users.htpasswd line 4"],
    ["bob", "users.htpasswd line 6"],
  ]);
});

Deno.test("parseHtpasswd: plain text is refused, naming file and line, never the password", () => {
  const message = error(`${ALICE}\n${DAVE}\n`);
  assert.match(
    message,
    /^users\.htpasswd line 2: user "dave" has a plain-text password/,
  );
  assert.match(message, /bcrypt/);
  assert.ok(!message.includes("secret"), message);
});

Deno.test("parseHtpasswd: MD5, crypt and unknown schemes are refused with what is supported", () => {
  const cases: [string, RegExp][] = [
    [CAROL, /user "carol" has an MD5 \(\$apr1\$\) hash/],
    [EVE, /user "eve" has a crypt \(DES\) hash or a plain-text password/],
    ["f:$5$XbHS1wHdTl.xk6W1$pgKe7p31KgF15WMNHDd0O4weJM", /SHA-256-crypt/],
    ["g:$6$abc$def", /SHA-512-crypt/],
    ["h:$1$abc$def", /MD5-crypt/],
    ["i:{SSHA}abcdef", /unknown hash scheme \{SSHA\}/],
    ["j:$argon2id$v=19$m=65536", /unknown hash scheme \$argon2id\$/],
    [
      "k:$2x$05$PO3sH6K1EsiHX9bM3xmcxOx7RBihXWEkw5aPudzZD/YVNBS/uxz9m",
      /\$2x\$/,
    ],
    ["l:", /an empty password/],
  ];
  for (const [line, pattern] of cases) {
    const message = error(`${ALICE}\n${line}\n`);
    assert.match(message, /^users\.htpasswd line 2: /, line);
    assert.match(message, pattern, line);
    assert.match(message, /pws accepts bcrypt/, line);
  }
});

Deno.test("parseHtpasswd: malformed bcrypt and {SHA} hashes are refused", () => {
  const tail = ALICE.slice("alice:".length);
  const cases = [
    tail.slice(0, 59), // one short
    tail + "x", // one long
    tail.replace("$05$", "$03$"), // cost too low
    tail.replace("$05$", "$32$"), // cost too high
    tail.replace("$05$", "$5$x"),
    tail.slice(0, 30) + "!" + tail.slice(31), // outside the alphabet
  ];
  for (const hash of cases) {
    assert.match(error(`x:${hash}`), /malformed bcrypt hash/, hash);
  }
  for (
    const hash of [
      "{SHA}",
      "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ",
      "{SHA}5en6G6MezRroT3XKqkdPOmY!BfQ=",
    ]
  ) {
    assert.match(error(`x:${hash}`), /malformed \{SHA\} hash/, hash);
  }
});

Deno.test("parseHtpasswd: duplicate users, missing colons, empty names and empty files are refused", () => {
  assert.equal(
    error(`${ALICE}\n${BOB}\n${ALICE}\n`),
    'users.htpasswd line 3: user "alice" is already defined on line 1',
  );
  assert.equal(
    error(`${ALICE}\njustsomething\n`),
    "users.htpasswd line 2: expected USER:HASH",
  );
  assert.equal(
    error(`:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n`),
    "users.htpasswd line 1: empty user name",
  );
  assert.match(error("a\x01b:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="), /control/);
  assert.match(error("# nobody\n\n"), /^users\.htpasswd has no users/);
  assert.match(error(""), /no users/);
});

Deno.test("parseHtpasswd: user names are everything before the first colon, UTF-8 included", () => {
  const result = ok("zoë:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
  assert.equal(result.users[0].user, "zoë");
});

Deno.test("bcryptCost and classifyHash agree on the shapes htpasswd writes", () => {
  assert.equal(bcryptCost(ALICE.slice(6)), 5);
  assert.equal(bcryptCost("$2y$31$" + "a".repeat(53)), 31);
  assert.equal(bcryptCost("$2y$04$" + "a".repeat(53)), 4);
  assert.equal(bcryptCost("$2y$4$" + "a".repeat(54)), undefined);
  assert.deepEqual(classifyHash("{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="), {
    kind: "sha1",
    digest: "5en6G6MezRroT3XKqkdPOmY/BfQ=",
  });
});
