/**
 * Unit tests of the Basic `Authorization` parser: valid forms, every kind
 * of malformed value, UTF-8, colons in passwords, and linear time on huge
 * values.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  BASIC_CHALLENGE,
  decodeBase64Strict,
  parseBasicAuthorization,
} from "./basic.ts";

/** `Basic base64(text)`, as a client builds it. */
function basic(text: string, scheme = "Basic"): string {
  return `${scheme} ${Buffer.from(text, "utf8").toString("base64")}`;
}

Deno.test("parseBasicAuthorization: a valid value gives user and password", () => {
  assert.deepEqual(parseBasicAuthorization(basic("alice:secret")), {
    user: "alice",
    password: "secret",
  });
  // RFC 7617's own example.
  assert.deepEqual(
    parseBasicAuthorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
    { user: "Aladdin", password: "open sesame" },
  );
});

Deno.test("parseBasicAuthorization: the scheme is case-insensitive, then one or more spaces", () => {
  for (const scheme of ["basic", "BASIC", "bAsIc"]) {
    assert.deepEqual(parseBasicAuthorization(basic("a:b", scheme)), {
      user: "a",
      password: "b",
    }, scheme);
  }
  const token = Buffer.from("a:b").toString("base64");
  assert.deepEqual(parseBasicAuthorization(`Basic   ${token}`), {
    user: "a",
    password: "b",
  });
});

Deno.test("parseBasicAuthorization: other schemes and shapes are not credentials", () => {
  const token = Buffer.from("alice:secret").toString("base64");
  const cases = [
    "",
    "Basic",
    "Basic ",
    `Bearer ${token}`,
    `Digest ${token}`,
    `Basics ${token}`,
    `Basic${token}`,
    `Basic\t${token}`,
    `Basic ${token} `,
    `Basic ${token} extra`,
    `Basic ${token}, Basic ${token}`,
    `Basic realm="x"`,
    // Look-alikes of "Basic" outside ASCII.
    `\u0392asic ${token}`,
  ];
  for (const value of cases) {
    assert.equal(parseBasicAuthorization(value), undefined, value);
  }
});

Deno.test("parseBasicAuthorization: invalid base64 is refused", () => {
  // "alice:secret" is 12 bytes: no padding needed, valid.
  assert.notEqual(parseBasicAuthorization("Basic YWxpY2U6c2VjcmV0"), undefined);
  const invalid = [
    "Basic YWxpY2U6c2VjcmV", // length not a multiple of 4
    "Basic YWxpY2U6c2VjcmV0=", // padding past a full group
    "Basic YWxpY2U6c2Vj*mV0", // outside the alphabet
    "Basic YWxpY2U6c2VjcmV0\u00e9===",
    "Basic YQ==YQ==", // padding in the middle
    "Basic Y===", // three padding characters
    "Basic ====",
    "Basic YWxpY2U6c2VjcmV0-_", // base64url is not base64
    "Basic YR==", // non-canonical: trailing bits set
    "Basic YWF=", // non-canonical with one "="
    "Basic YWxp Y2U6", // a space inside
  ];
  for (const value of invalid) {
    assert.equal(parseBasicAuthorization(value), undefined, value);
  }
});

Deno.test("parseBasicAuthorization: no colon or an empty user is not credentials", () => {
  assert.equal(parseBasicAuthorization(basic("alice")), undefined);
  assert.equal(parseBasicAuthorization(basic(":secret")), undefined);
  assert.equal(parseBasicAuthorization(basic("")), undefined);
  // An empty password is a password (whether any user has it is for the
  // verifier to say).
  assert.deepEqual(parseBasicAuthorization(basic("alice:")), {
    user: "alice",
    password: "",
  });
});

Deno.test("parseBasicAuthorization: the password is everything after the first colon", () => {
  assert.deepEqual(parseBasicAuthorization(basic("alice:se:cr:et:")), {
    user: "alice",
    password: "se:cr:et:",
  });
  assert.deepEqual(parseBasicAuthorization(basic("alice::")), {
    user: "alice",
    password: ":",
  });
});

Deno.test("parseBasicAuthorization: UTF-8 user and password; invalid UTF-8 refused", () => {
  assert.deepEqual(parseBasicAuthorization(basic("zoë:pässwörd €")), {
    user: "zoë",
    password: "pässwörd €",
  });
  assert.deepEqual(parseBasicAuthorization(basic("用户:密码")), {
    user: "用户",
    password: "密码",
  });
  // Latin-1 bytes (what a client without charset support might send) are
  // not UTF-8: refused rather than guessed.
  const latin1 = Buffer.from([0x7a, 0x6f, 0xeb, 0x3a, 0x78]).toString("base64");
  assert.equal(parseBasicAuthorization(`Basic ${latin1}`), undefined);
  // A byte order mark stays part of the name rather than vanishing.
  assert.equal(
    parseBasicAuthorization(basic("\ufeffalice:x"))?.user,
    "\ufeffalice",
  );
});

Deno.test("parseBasicAuthorization: control characters are refused", () => {
  for (const text of ["al\x00ice:x", "alice:se\ncret", "a\x7f:x", "a:\u0085"]) {
    assert.equal(parseBasicAuthorization(basic(text)), undefined, text);
  }
});

Deno.test("parseBasicAuthorization: huge values are parsed in linear time", () => {
  // The best of 5 rounds of 10 parses: noise (GC, other processes) only
  // ever adds time.
  const time = (value: string): number => {
    let best = Infinity;
    for (let round = 0; round < 5; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) parseBasicAuthorization(value);
      best = Math.min(best, (performance.now() - t0) / 10);
    }
    return best;
  };
  const sizes = [4 * 1024, 32 * 1024];
  const shapes = [
    (n: number) => basic("u:" + "a".repeat(n)),
    (n: number) => "Basic " + "A".repeat(n - n % 4),
    (n: number) => "Basic " + " ".repeat(n) + "x",
    (n: number) => "Basic " + "=".repeat(n),
    (n: number) => basic("u:" + ":".repeat(n)),
    (n: number) => basic("u" + "\x01".repeat(n)),
  ];
  for (const shape of shapes) {
    time(shape(1024)); // warm up
    const [small, large] = sizes.map((n) => time(shape(n)));
    // 8 times the input: linear is about 8 times the time; a generous
    // bound against noise, far below the 64 times of a quadratic parse.
    assert.ok(
      large < 2 || large < small * 24,
      `${shape(8).slice(0, 12)}…: ${small.toFixed(3)} ms → ${
        large.toFixed(3)
      } ms`,
    );
    assert.ok(large < 5, `32 KiB took ${large.toFixed(2)} ms`);
  }
});

Deno.test("decodeBase64Strict: agrees with node's decoder on canonical input", () => {
  for (let length = 0; length < 40; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const text = Buffer.from(bytes).toString("base64");
    const decoded = decodeBase64Strict(text);
    if (length === 0) assert.equal(decoded, undefined);
    else assert.deepEqual(decoded, bytes, text);
  }
});

Deno.test("BASIC_CHALLENGE: Basic with realm and UTF-8 charset", () => {
  assert.equal(BASIC_CHALLENGE, 'Basic realm="pws", charset="UTF-8"');
});
