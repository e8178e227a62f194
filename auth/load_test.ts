/**
 * Unit tests of start-up loading: `--auth` pairs and `--auth-file` files
 * combined, unreadable files, users defined twice, and the clear-text
 * warning.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cleartextAuthWarning, isLoopbackHost, loadAuthUsers } from "./load.ts";

const BOB = "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";

async function withFile<T>(
  content: string | Uint8Array,
  fn: (path: string) => T,
): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".htpasswd" });
  try {
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    return fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("loadAuthUsers: --auth passwords are kept as SHA-256 digests only", () => {
  const result = loadAuthUsers({
    pairs: [{ user: "alice", password: "s3cret:with:colons" }],
    files: [],
  });
  assert.equal(result.kind, "ok");
  if (result.kind !== "ok") return;
  assert.deepEqual(result.users, [{
    user: "alice",
    secret: {
      kind: "sha256",
      digest: createHash("sha256").update("s3cret:with:colons").digest(
        "base64",
      ),
    },
    source: "--auth",
  }]);
  assert.ok(!JSON.stringify(result).includes("s3cret"));
});

Deno.test("loadAuthUsers: --auth and --auth-file combine, with the file's warnings", async () => {
  await withFile(BOB, (path) => {
    const result = loadAuthUsers({
      pairs: [{ user: "alice", password: "x" }],
      files: [path],
    });
    assert.equal(result.kind, "ok");
    if (result.kind !== "ok") return;
    assert.deepEqual(result.users.map((u) => u.user), ["alice", "bob"]);
    assert.equal(result.warnings.length, 1);
    assert.ok(result.warnings[0].startsWith(`${path} line 1: `));
  });
});

Deno.test("loadAuthUsers: a user defined twice is refused, naming both places", async () => {
  const twice = loadAuthUsers({
    pairs: [{ user: "a", password: "x" }, { user: "a", password: "y" }],
    files: [],
  });
  assert.deepEqual(twice, {
    kind: "error",
    message: 'user "a" is defined twice (--auth and --auth)',
  });
  await withFile(BOB, (path) => {
    const result = loadAuthUsers({
      pairs: [{ user: "bob", password: "x" }],
      files: [path],
    });
    assert.deepEqual(result, {
      kind: "error",
      message: `user "bob" is defined twice (--auth and ${path} line 1)`,
    });
  });
});

Deno.test("loadAuthUsers: unreadable files give one line saying why", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = loadAuthUsers({ pairs: [], files: [`${dir}/nope`] });
    assert.deepEqual(missing, {
      kind: "error",
      message: `cannot read --auth-file "${dir}/nope": no such file`,
    });
    const directory = loadAuthUsers({ pairs: [], files: [dir] });
    assert.equal(directory.kind, "error");
    assert.match(
      (directory as { message: string }).message,
      /^cannot read --auth-file ".*": it is a directory$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await withFile(new Uint8Array([0x62, 0x3a, 0xff, 0x0a]), (path) => {
    assert.deepEqual(loadAuthUsers({ pairs: [], files: [path] }), {
      kind: "error",
      message: `cannot read --auth-file "${path}": it is not UTF-8 text`,
    });
  });
  const denied = loadAuthUsers({ pairs: [], files: ["x"] }, () => {
    throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  });
  assert.deepEqual(denied, {
    kind: "error",
    message: 'cannot read --auth-file "x": permission denied',
  });
});

Deno.test("loadAuthUsers: a refused line stops start-up with the parser's message", async () => {
  await withFile("dave:secret\n", (path) => {
    const result = loadAuthUsers({ pairs: [], files: [path] });
    assert.equal(result.kind, "error");
    const message = (result as { message: string }).message;
    assert.ok(message.startsWith(`${path} line 1: user "dave" has a plain`));
    assert.ok(!message.includes("secret"));
  });
});

Deno.test("cleartextAuthWarning: only off loopback and without TLS", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) {
    assert.ok(isLoopbackHost(host), host);
    assert.equal(cleartextAuthWarning({ host, tls: false }), undefined, host);
  }
  for (const host of ["0.0.0.0", "::", "192.168.1.20", "example.com"]) {
    assert.ok(!isLoopbackHost(host), host);
    const warning = cleartextAuthWarning({ host, tls: false });
    assert.ok(warning?.includes("clear text"), host);
    assert.equal(cleartextAuthWarning({ host, tls: true }), undefined, host);
  }
});
