import assert from "node:assert/strict";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { compressionPool } from "./compress_pool.ts";
import {
  contentDigest,
  contentETag,
  fileETag,
  type FileTagInfo,
} from "./etag.ts";

const BASE: FileTagInfo = {
  size: 1024,
  mtimeMs: 1_700_000_000_000,
  ctimeMs: 1_700_000_000_500,
  ino: 0x1a2b,
};

Deno.test("fileETag() formats quoted lowercase hex fields in order", () => {
  assert.equal(fileETag(BASE), '"1a2b-400-18bcfe56800-18bcfe569f4"');
});

Deno.test("fileETag() produces a strong tag that is a valid entity-tag", () => {
  const tag = fileETag(BASE);
  assert.ok(!tag.startsWith("W/"));
  assert.match(tag, /^"[\x21\x23-\x7e]*"$/);
});

Deno.test("fileETag() writes a missing inode as 0", () => {
  assert.equal(
    fileETag({ ...BASE, ino: null }),
    '"0-400-18bcfe56800-18bcfe569f4"',
  );
});

Deno.test("fileETag() writes non-finite numbers as 0", () => {
  assert.equal(
    fileETag({ size: NaN, mtimeMs: Infinity, ctimeMs: -Infinity, ino: 1 }),
    '"1-0-0-0"',
  );
});

Deno.test("fileETag() floors fractional milliseconds", () => {
  assert.equal(
    fileETag({ size: 0, mtimeMs: 15.9, ctimeMs: 16.1, ino: 0 }),
    '"0-0-f-10"',
  );
});

Deno.test("fileETag() is deterministic for the same metadata", () => {
  assert.equal(fileETag({ ...BASE }), fileETag({ ...BASE }));
});

Deno.test("fileETag() changes when any metadata field changes", () => {
  const cases: { name: string; info: FileTagInfo }[] = [
    { name: "size", info: { ...BASE, size: BASE.size + 1 } },
    { name: "mtime", info: { ...BASE, mtimeMs: BASE.mtimeMs + 1 } },
    { name: "ctime only (mtime reset)", info: { ...BASE, ctimeMs: 1 } },
    { name: "inode (replaced by rename)", info: { ...BASE, ino: 7 } },
  ];
  for (const { name, info } of cases) {
    assert.notEqual(fileETag(info), fileETag(BASE), name);
  }
});

Deno.test("fileETag() appends a variant inside the quotes", () => {
  const cases = [
    { variant: "br", expected: '"1a2b-400-18bcfe56800-18bcfe569f4-br"' },
    { variant: "gzip", expected: '"1a2b-400-18bcfe56800-18bcfe569f4-gzip"' },
  ];
  for (const { variant, expected } of cases) {
    assert.equal(fileETag(BASE, variant), expected, variant);
  }
});

Deno.test("fileETag() gives each representation a different tag", () => {
  const tags = new Set([
    fileETag(BASE),
    fileETag(BASE, "br"),
    fileETag(BASE, "gzip"),
  ]);
  assert.equal(tags.size, 3);
});

Deno.test("fileETag() rejects variants that cannot appear in a tag", () => {
  const cases = [
    { name: "empty", variant: "" },
    { name: "double quote", variant: 'b"r' },
    { name: "space", variant: "b r" },
    { name: "control", variant: "br\n" },
    { name: "non-ASCII", variant: "brö" },
    { name: "DEL", variant: "br\x7f" },
    { name: "U+00A0", variant: "br\xa0" },
  ];
  for (const { name, variant } of cases) {
    assert.throws(() => fileETag(BASE, variant), TypeError, name);
  }
});

Deno.test("fileETag() and contentETag() accept every visible ASCII character but DQUOTE", () => {
  let visible = "";
  for (let c = 0x21; c <= 0x7e; c++) {
    if (c !== 0x22) visible += String.fromCharCode(c);
  }
  assert.equal(fileETag(BASE, visible).endsWith(`-${visible}"`), true);
  assert.equal(contentETag("ab", visible), `"cab-${visible}"`);
  assert.throws(() => contentETag("ab", 'a"'), TypeError);
  assert.throws(() => contentETag("ab", ""), TypeError);
});

Deno.test("fileETag() maps distinct metadata to distinct tags", () => {
  const nat = fc.maxSafeNat();
  const info = fc.record({
    size: nat,
    mtimeMs: nat,
    ctimeMs: nat,
    ino: fc.option(nat, { nil: null }),
  });
  fc.assert(
    fc.property(info, info, (a, b) => {
      const same = a.size === b.size && a.mtimeMs === b.mtimeMs &&
        a.ctimeMs === b.ctimeMs && (a.ino ?? 0) === (b.ino ?? 0);
      assert.equal(fileETag(a) === fileETag(b), same);
    }),
  );
});

/** The first 128 bits of SHA-256 in hex, computed by node:crypto. */
function expectedDigest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 32);
}

Deno.test("contentDigest() of a small file stays on the event loop; a large one goes to a pool thread", async () => {
  // Small: about 0.1 ms here, less than a trip to a thread
  // and far less than starting one (40-60 ms of stalled event loop).
  const started = compressionPool.threadsStarted;
  const small = new Uint8Array(16 * 1024).map((_, i) => i * 7);
  assert.equal(await contentDigest(small), expectedDigest(small));
  assert.equal(compressionPool.threadsStarted, started, "no thread started");
  // Large: about 4 ms per MiB of stalled event loop, so a thread does it.
  const large = new Uint8Array(1024 * 1024).map((_, i) => i * 13);
  assert.equal(await contentDigest(large), expectedDigest(large));
  assert.ok(compressionPool.threadCount >= 1, "a pool thread did it");
});
