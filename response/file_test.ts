/**
 * End-to-end tests of validators, conditional requests and byte ranges
 * (README "Caching and ranges", RFC 9110 §8.8, §13, §14): an in-process
 * server on 127.0.0.1, raw request bytes over real sockets, and files in a
 * temporary directory. Every behaviour is checked for a small file served
 * from the memory cache, a large file streamed from disk, and a file served
 * with the cache turned off.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { ConfigOverrides } from "../server/config.ts";
import type { RunningServer } from "../server/server.ts";
import {
  afterWatcher,
  commandAvailable,
  curlProtocolArgs,
  curlTrustArgs,
  type ParsedResponse,
  parseResponses,
  rawExchange,
  SCHEME,
  withServer,
} from "../tests/helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DAY_MS = 86_400_000;
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** A strong entity-tag: no `W/`, quoted etagc characters (RFC 9110 §8.8.3). */
const STRONG_ETAG = /^"[\x21\x23-\x7e]*"$/;
const HTML = "text/html; charset=utf-8";
const OCTET = "application/octet-stream";
const TEXT = "text/plain; charset=utf-8";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const HAS_CURL = await commandAvailable("curl");

// ---------------------------------------------------------------------------
// Files and sites

/** Deterministic bytes that differ for every seed (mulberry32). */
function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let state = seed >>> 0;
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * File timestamps come from the kernel's coarse clock (a few ms per tick):
 * waiting this long guarantees that the next write gets a new mtime/ctime.
 */
const TIMESTAMP_TICK_MS = 30;

/** A temporary root served by an in-process server. */
interface Site {
  root: string;
  server: RunningServer;
  port: number;
  /** Absolute path of a file in the root. */
  path(name: string): string;
}

/**
 * Writes `files` into a fresh temp dir, serves it with `config`, runs `fn`,
 * then closes the server and removes the directory, whatever `fn` does.
 */
async function withSite(
  files: Record<string, Uint8Array>,
  config: ConfigOverrides | undefined,
  fn: (site: Site) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pws_file_response_" });
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${root}/${name}`, bytes);
    }
    await withServer(
      (server) =>
        fn({
          root,
          server,
          port: server.port,
          path: (name) => `${root}/${name}`,
        }),
      { root, config },
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// One request, one connection, framing checked

type Fields = Record<string, string>;

/** One response, read from its own connection and checked for framing. */
interface Reply {
  status: number;
  response: ParsedResponse;
  body: Uint8Array;
  /** Bytes of the head, up to and including the empty line. */
  headBytes: number;
  /** Milliseconds from connecting to the end of the response. */
  elapsedMs: number;
  header(lowerName: string): string | undefined;
}

function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) {
      return i + 4;
    }
  }
  return -1;
}

/**
 * Sends one request with `Connection: close` and reads everything the
 * server sends. Asserts that exactly one response arrived, that no byte
 * follows it, and that a response with content says its exact length in
 * Content-Length (no Accept-Encoding is sent, so nothing is chunked).
 */
async function send(
  port: number,
  method: string,
  target: string,
  fields: Fields = {},
  timeoutMs = 5000,
): Promise<Reply> {
  let text =
    `${method} ${target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(fields)) {
    text += `${name}: ${value}\r\n`;
  }
  const label = `${method} ${target} ${JSON.stringify(fields)}`;
  const result = await rawExchange(port, text + "\r\n", { timeoutMs });
  assert.equal(
    result.timedOut,
    false,
    `${label}: no answer in ${timeoutMs} ms`,
  );
  const responses = parseResponses(result.bytes, { methods: [method] });
  assert.equal(responses.length, 1, `${label}: one response expected`);
  const response = responses[0];
  const headBytes = headEnd(result.bytes);
  assert.equal(
    result.bytes.length,
    headBytes + response.body.length,
    `${label}: bytes after the response`,
  );
  const hasContent = method !== "HEAD" && response.status !== 304;
  if (hasContent) {
    assert.equal(response.header("transfer-encoding"), undefined, label);
    assert.equal(
      response.header("content-length"),
      String(response.body.length),
      `${label}: Content-Length must equal the bytes received`,
    );
  }
  return {
    status: response.status,
    response,
    body: response.body,
    headBytes,
    elapsedMs: result.elapsedMs,
    header: (name) => response.header(name),
  };
}

/** Compares bytes, reporting the first difference rather than a huge diff. */
function assertBytes(
  actual: Uint8Array,
  expected: Uint8Array,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${label}: byte ${i} is ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

const LONG_DAYS = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];

/** The obsolete RFC 850 form, e.g. `Sunday, 06-Nov-94 08:49:37 GMT`. */
function rfc850Date(ms: number): string {
  const [, day, month, year, time] = new Date(ms).toUTCString().split(" ");
  const dayName = LONG_DAYS[new Date(ms).getUTCDay()];
  return `${dayName}, ${day}-${month}-${year.slice(2)} ${time} GMT`;
}

/** The obsolete asctime form, e.g. `Sun Nov  6 08:49:37 1994`. */
function asctimeDate(ms: number): string {
  const [dayName, day, month, year, time] = new Date(ms).toUTCString().split(
    " ",
  );
  return `${dayName.slice(0, 3)} ${month} ${
    String(Number(day)).padStart(2, " ")
  } ${time} ${year}`;
}

function parseDate(value: string | undefined, label: string): number {
  assert.ok(value !== undefined, `${label}: missing date`);
  assert.match(value, IMF_FIXDATE, label);
  return Date.parse(value);
}

// ---------------------------------------------------------------------------
// Ranges and multipart/byteranges

/** An inclusive byte range, as in Content-Range. */
type Span = readonly [start: number, end: number];

/** One part of a multipart/byteranges body. */
interface Part {
  contentType: string | undefined;
  contentRange: string;
  start: number;
  end: number;
  completeLength: number;
  data: Uint8Array;
}

function indexOfBytes(
  haystack: Uint8Array,
  needle: Uint8Array,
  from: number,
): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function startsWithAt(bytes: Uint8Array, text: string, at: number): boolean {
  const expected = encoder.encode(text);
  if (at + expected.length > bytes.length) return false;
  return expected.every((b, i) => bytes[at + i] === b);
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/**
 * A strict multipart/byteranges parser (RFC 9110 §14.6, RFC 2046): each
 * part's length is taken from its Content-Range, so a part with too few or
 * too many bytes breaks the delimiter that must follow it.
 */
function parseMultipart(body: Uint8Array, contentType: string): Part[] {
  const m = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1$/i.exec(
    contentType,
  );
  assert.ok(m, `not multipart/byteranges: ${contentType}`);
  const delimiter = `--${m[2]}`;
  let i = indexOfBytes(body, encoder.encode(delimiter), 0);
  assert.ok(i >= 0, "no boundary delimiter in the body");
  const parts: Part[] = [];
  while (true) {
    assert.ok(startsWithAt(body, delimiter, i), `delimiter expected at ${i}`);
    i += delimiter.length;
    if (startsWithAt(body, "--", i)) {
      i += 2;
      if (startsWithAt(body, "\r\n", i)) i += 2;
      assert.equal(i, body.length, "bytes after the close delimiter");
      return parts;
    }
    assert.ok(startsWithAt(body, "\r\n", i), `CRLF after delimiter at ${i}`);
    i += 2;
    const end = indexOfBytes(body, encoder.encode("\r\n\r\n"), i - 2);
    assert.ok(end >= 0, "part header section does not end");
    const fields = new Map<string, string>();
    const headText = decoder.decode(body.subarray(i, end));
    for (const line of headText === "" ? [] : headText.split("\r\n")) {
      const colon = line.indexOf(":");
      assert.ok(colon > 0, `bad part field line ${JSON.stringify(line)}`);
      fields.set(
        line.slice(0, colon).toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
    i = end + 4;
    const contentRange = fields.get("content-range");
    assert.ok(contentRange !== undefined, "part without Content-Range");
    const r = CONTENT_RANGE.exec(contentRange);
    assert.ok(r, `bad part Content-Range ${contentRange}`);
    const start = Number(r[1]);
    const last = Number(r[2]);
    const length = last - start + 1;
    assert.ok(i + length <= body.length, "part data runs past the body");
    parts.push({
      contentType: fields.get("content-type"),
      contentRange,
      start,
      end: last,
      completeLength: Number(r[3]),
      data: body.slice(i, i + length),
    });
    i += length;
    assert.ok(startsWithAt(body, "\r\n", i), `CRLF expected after part data`);
    i += 2;
  }
}

/** What a Range request must produce. */
type RangeExpect =
  | { status: 200 }
  | { status: 416 }
  | { status: 206; spans: Span[] };

/**
 * Checks a reply against the expected outcome for `file`: the whole file
 * (200), `bytes *` + size (416), one range (206 with Content-Range and the
 * exact slice) or several (206 multipart/byteranges whose parts are the
 * slices, each with the file's type and its Content-Range).
 */
function assertRangeReply(
  reply: Reply,
  file: Uint8Array,
  type: string,
  expect: RangeExpect,
  label: string,
): void {
  assert.equal(reply.status, expect.status, label);
  const size = file.length;
  if (expect.status === 200) {
    assert.equal(reply.header("content-range"), undefined, label);
    assert.equal(reply.header("content-type"), type, label);
    assertBytes(reply.body, file, label);
    return;
  }
  if (expect.status === 416) {
    assert.equal(reply.header("content-range"), `bytes */${size}`, label);
    return;
  }
  assertStrongValidators(reply, label);
  if (expect.spans.length === 1) {
    const [start, end] = expect.spans[0];
    assert.equal(reply.header("content-type"), type, label);
    assert.equal(
      reply.header("content-range"),
      `bytes ${start}-${end}/${size}`,
      label,
    );
    assertBytes(reply.body, file.subarray(start, end + 1), label);
    return;
  }
  assert.equal(reply.header("content-range"), undefined, label);
  const parts = parseMultipart(reply.body, reply.header("content-type") ?? "");
  assert.deepEqual(
    parts.map((p) => [p.start, p.end]),
    expect.spans.map(([s, e]) => [s, e]),
    `${label}: parts`,
  );
  for (const part of parts) {
    const partLabel = `${label}: part ${part.contentRange}`;
    assert.equal(part.contentType, type, partLabel);
    assert.equal(part.completeLength, size, partLabel);
    assertBytes(part.data, file.subarray(part.start, part.end + 1), partLabel);
  }
}

function assertStrongValidators(reply: Reply, label: string): void {
  const etag = reply.header("etag");
  assert.ok(etag !== undefined, `${label}: no ETag`);
  assert.match(etag, STRONG_ETAG, `${label}: ETag must be strong`);
  assert.equal(reply.response.headerCount("etag"), 1, label);
  const lastModified = parseDate(reply.header("last-modified"), label);
  const date = parseDate(reply.header("date"), label);
  assert.ok(lastModified <= date, `${label}: Last-Modified after Date`);
}

// ---------------------------------------------------------------------------
// The three ways a file is served

interface Variant {
  name: string;
  file: string;
  size: number;
  type: string;
  config?: ConfigOverrides;
}

const VARIANTS: readonly Variant[] = [
  {
    name: "small file from the memory cache",
    file: "small.txt",
    size: 5000,
    type: TEXT,
  },
  {
    name: "large file streamed from disk",
    file: "large.bin",
    size: 3 * MiB / 2 + 7,
    type: OCTET,
  },
  {
    name: "file served with the cache disabled",
    file: "uncached.bin",
    size: 5000,
    type: OCTET,
    config: { fileCacheBytes: 0 },
  },
];

/** What a plain GET of a file said about it. */
interface Validators {
  etag: string;
  lastModified: string;
  lastModifiedMs: number;
}

async function validatorsOf(
  port: number,
  target: string,
  expected?: Uint8Array,
): Promise<Validators> {
  const reply = await send(port, "GET", target);
  assert.equal(reply.status, 200, `GET ${target}`);
  if (expected) assertBytes(reply.body, expected, `GET ${target}`);
  assertStrongValidators(reply, `GET ${target}`);
  const lastModified = reply.header("last-modified")!;
  return {
    etag: reply.header("etag")!,
    lastModified,
    lastModifiedMs: Date.parse(lastModified),
  };
}

/** A same-size change of a file's contents. */
interface Change {
  name: string;
  /** Replaces the file's contents with `next`, keeping its size. */
  apply(path: string, next: Uint8Array, before: Deno.FileInfo): Promise<void>;
  /** The change puts the mtime back, so Last-Modified must not move. */
  keepsMtime: boolean;
}

const REWRITE_IN_PLACE: Change = {
  name: "rewritten in place",
  apply: (path, next) => Deno.writeFile(path, next),
  keepsMtime: false,
};

const REPLACE_BY_RENAME: Change = {
  name: "replaced by rename with the same mtime",
  apply: async (path, next, before) => {
    const fresh = `${path}-new`;
    await Deno.writeFile(fresh, next);
    await Deno.utime(fresh, before.atime!, before.mtime!);
    await Deno.rename(fresh, path);
  },
  keepsMtime: true,
};

const REWRITE_KEEPING_MTIME: Change = {
  name: "rewritten in place, then mtime put back with Deno.utime",
  apply: async (path, next, before) => {
    await Deno.writeFile(path, next);
    await Deno.utime(path, before.atime!, before.mtime!);
  },
  keepsMtime: true,
};

/**
 * Serves a file (twice, so that the second answer comes from the cache
 * when there is one), changes it with `change`, and checks that the new
 * bytes are served under a new strong ETag that the old one no longer
 * validates, for a whole GET, a revalidation and a range.
 */
async function checkRewrite(
  site: Site,
  v: Variant,
  change: Change,
  index: number,
): Promise<void> {
  const name = `v${index}-${v.file}`;
  const target = `/${name}`;
  const path = site.path(name);
  const first = pseudoRandomBytes(v.size, 100 + index);
  const second = pseudoRandomBytes(v.size, 200 + index);
  const label = change.name;
  await Deno.writeFile(path, first);
  const old = await validatorsOf(site.port, target, first);
  assert.deepEqual(await validatorsOf(site.port, target, first), old);
  const before = await Deno.stat(path);
  await sleep(TIMESTAMP_TICK_MS);
  await change.apply(path, second, before);
  await afterWatcher();
  const after = await Deno.stat(path);
  assert.equal(after.size, before.size, `${label}: same size`);
  assert.equal(
    after.mtime!.getTime() === before.mtime!.getTime(),
    change.keepsMtime,
    `${label}: mtime kept`,
  );

  const now = await validatorsOf(site.port, target, second);
  assert.notEqual(now.etag, old.etag, `${label}: ETag must change`);
  if (change.keepsMtime) {
    assert.equal(now.lastModified, old.lastModified, label);
  }
  const revalidated = await send(site.port, "GET", target, {
    "If-None-Match": old.etag,
  });
  assert.equal(revalidated.status, 200, `${label}: If-None-Match old tag`);
  assertBytes(revalidated.body, second, `${label}: If-None-Match old tag`);
  const resumed = await send(site.port, "GET", target, {
    "If-Range": old.etag,
    Range: "bytes=-100",
  });
  assertRangeReply(
    resumed,
    second,
    v.type,
    { status: 200 },
    `${label}: If-Range old tag`,
  );
  const ranged = await send(site.port, "GET", target, { Range: "bytes=-100" });
  assertRangeReply(ranged, second, v.type, {
    status: 206,
    spans: [[v.size - 100, v.size - 1]],
  }, `${label}: range`);
}

for (const v of VARIANTS) {
  const target = `/${v.file}`;
  const content = pseudoRandomBytes(v.size, 1);

  Deno.test(`ETag is strong and identical on 200, HEAD, 206 and 304 (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async ({ port, path }) => {
      const full = await send(port, "GET", target);
      assert.equal(full.status, 200);
      assertBytes(full.body, content, "200");
      assertStrongValidators(full, "200");
      assert.equal(full.header("accept-ranges"), "bytes");
      const etag = full.header("etag");
      const lastModified = full.header("last-modified");
      // README: "<inode>-<size>-<mtime>-<ctime>" in hex, or, for a file
      // read whole within a second or two of its last change (as here),
      // "c<content digest>"; Last-Modified is the mtime (whole seconds).
      const info = await Deno.stat(path(v.file));
      const hex = (n: number) => n.toString(16);
      const metadataTag = `"${hex(info.ino!)}-${hex(info.size)}-${
        hex(info.mtime!.getTime())
      }-${hex(info.ctime!.getTime())}"`;
      assert.ok(
        etag === metadataTag || /^"c[0-9a-f]{32}"$/.test(etag!),
        `unexpected ETag ${etag}`,
      );
      assert.equal(
        Date.parse(lastModified!),
        Math.floor(info.mtime!.getTime() / 1000) * 1000,
      );
      const cases: [
        name: string,
        method: string,
        fields: Fields,
        status: number,
      ][] = [
        ["repeated GET", "GET", {}, 200],
        ["HEAD", "HEAD", {}, 200],
        ["single range", "GET", { Range: "bytes=0-9" }, 206],
        ["multipart range", "GET", { Range: "bytes=0-9,-10" }, 206],
        ["If-None-Match", "GET", { "If-None-Match": etag! }, 304],
        [
          "If-Modified-Since",
          "HEAD",
          { "If-Modified-Since": lastModified! },
          304,
        ],
      ];
      for (const [name, method, fields, status] of cases) {
        const reply = await send(port, method, target, fields);
        assert.equal(reply.status, status, name);
        assertStrongValidators(reply, name);
        assert.equal(reply.header("etag"), etag, name);
        assert.equal(reply.header("last-modified"), lastModified, name);
      }
    });
  });

  Deno.test(`a same-size rewrite in place or by rename is served with its new bytes and a new ETag (${v.name})`, async () => {
    await withSite({}, v.config, async (site) => {
      for (
        const [i, change] of [REWRITE_IN_PLACE, REPLACE_BY_RENAME].entries()
      ) {
        await checkRewrite(site, v, change, i);
      }
    });
  });

  Deno.test({
    // Deno 2.9.6 reports ctime in whole seconds, so metadata cannot tell
    // two same-size versions apart when the second write puts the mtime
    // back within the same second. pws tags files it reads whole during
    // that window by a content digest and does not cache them, which fixes
    // small files; files streamed from disk (large, or with the cache off)
    // keep this known limit, documented in the README.
    name:
      `a same-size rewrite with the mtime put back gets a new ETag and is never served stale (${v.name})`,
    ignore: v.config?.fileCacheBytes === 0 || v.size > 1024 * 1024,
    fn: async () => {
      await withSite({}, v.config, async (site) => {
        while (Date.now() % 1000 > 300) await sleep(10);
        await checkRewrite(site, v, REWRITE_KEEPING_MTIME, 0);
      });
    },
  });

  Deno.test(`Last-Modified is never later than Date, even for an mtime in the future (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async (site) => {
      const future = new Date(Date.now() + 365 * DAY_MS);
      await Deno.utime(site.path(v.file), future, future);
      const cases: [name: string, method: string, fields: Fields][] = [
        ["GET", "GET", {}],
        ["HEAD", "HEAD", {}],
        ["range", "GET", { Range: "bytes=0-0" }],
      ];
      for (const [name, method, fields] of cases) {
        const reply = await send(site.port, method, target, fields);
        assert.ok(reply.status === 200 || reply.status === 206, name);
        const lastModified = parseDate(reply.header("last-modified"), name);
        const date = parseDate(reply.header("date"), name);
        assert.ok(
          lastModified <= date,
          `${name}: Last-Modified ${reply.header("last-modified")} is after ` +
            `Date ${reply.header("date")}`,
        );
        assert.ok(lastModified < future.getTime() - DAY_MS, name);
        assert.match(reply.header("etag") ?? "", STRONG_ETAG, name);
      }
    });
  });

  Deno.test(`preconditions are evaluated in RFC 9110 §13.2.2 order (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async ({ port }) => {
      const { etag, lastModified, lastModifiedMs } = await validatorsOf(
        port,
        target,
        content,
      );
      const past = httpDate(lastModifiedMs - DAY_MS);
      const future = httpDate(Date.now() + DAY_MS);
      const cases: [
        name: string,
        method: string,
        fields: Fields,
        status: number,
      ][] = [
        ["If-Match with the current ETag", "GET", { "If-Match": etag }, 200],
        ["If-Match with another ETag", "GET", { "If-Match": '"other"' }, 412],
        ["If-Match: *", "GET", { "If-Match": "*" }, 200],
        ["If-Match list holding the current ETag", "GET", {
          "If-Match": `"a", ${etag},"b"`,
        }, 200],
        ["If-Match list without the current ETag", "GET", {
          "If-Match": '"a", "b"',
        }, 412],
        ["If-Match with the weak form of the current ETag", "GET", {
          "If-Match": `W/${etag}`,
        }, 412],
        ["If-Match list with only a weak current tag", "GET", {
          "If-Match": `"a", W/${etag}`,
        }, 412],
        [
          "HEAD If-Match with another ETag",
          "HEAD",
          { "If-Match": '"other"' },
          412,
        ],
        ["If-Unmodified-Since a day before Last-Modified", "GET", {
          "If-Unmodified-Since": past,
        }, 412],
        ["If-Unmodified-Since a day in the future", "GET", {
          "If-Unmodified-Since": future,
        }, 200],
        ["If-Unmodified-Since equal to Last-Modified", "GET", {
          "If-Unmodified-Since": lastModified,
        }, 200],
        ["If-Unmodified-Since not a date", "GET", {
          "If-Unmodified-Since": "yesterday",
        }, 200],
        [
          "If-Unmodified-Since in the past ignored when If-Match matches",
          "GET",
          {
            "If-Match": etag,
            "If-Unmodified-Since": past,
          },
          200,
        ],
        ["If-Match failing before If-None-Match matching", "GET", {
          "If-Match": '"other"',
          "If-None-Match": etag,
        }, 412],
        ["If-Unmodified-Since failing before If-None-Match matching", "GET", {
          "If-Unmodified-Since": past,
          "If-None-Match": etag,
        }, 412],
        ["If-None-Match with the current ETag", "GET", {
          "If-None-Match": etag,
        }, 304],
        ["If-None-Match with the weak form of the current ETag", "GET", {
          "If-None-Match": `W/${etag}`,
        }, 304],
        ["If-None-Match with another ETag", "GET", {
          "If-None-Match": '"other"',
        }, 200],
        ["If-None-Match with another weak ETag", "GET", {
          "If-None-Match": 'W/"other"',
        }, 200],
        ["If-None-Match list holding the weak current ETag", "GET", {
          "If-None-Match": `"a",W/${etag}, "b"`,
        }, 304],
        ["If-None-Match list without the current ETag", "GET", {
          "If-None-Match": '"a", W/"b"',
        }, 200],
        ["If-None-Match: *", "GET", { "If-None-Match": "*" }, 304],
        ["HEAD If-None-Match with the current ETag", "HEAD", {
          "If-None-Match": etag,
        }, 304],
        ["If-None-Match and If-Match both matching", "GET", {
          "If-Match": etag,
          "If-None-Match": etag,
        }, 304],
        ["If-Modified-Since equal to Last-Modified", "GET", {
          "If-Modified-Since": lastModified,
        }, 304],
        ["If-Modified-Since equal, RFC 850 form", "GET", {
          "If-Modified-Since": rfc850Date(lastModifiedMs),
        }, 304],
        ["If-Modified-Since equal, asctime form", "GET", {
          "If-Modified-Since": asctimeDate(lastModifiedMs),
        }, 304],
        [
          "If-Modified-Since a day older",
          "GET",
          { "If-Modified-Since": past },
          200,
        ],
        ["If-Modified-Since a second older", "GET", {
          "If-Modified-Since": httpDate(lastModifiedMs - 1000),
        }, 200],
        ["If-Modified-Since not a date", "GET", {
          "If-Modified-Since": "yesterday",
        }, 200],
        ["HEAD If-Modified-Since equal to Last-Modified", "HEAD", {
          "If-Modified-Since": lastModified,
        }, 304],
        [
          "If-Modified-Since equal ignored when If-None-Match does not match",
          "GET",
          {
            "If-None-Match": '"other"',
            "If-Modified-Since": lastModified,
          },
          200,
        ],
        ["If-Modified-Since older ignored when If-None-Match matches", "GET", {
          "If-None-Match": etag,
          "If-Modified-Since": past,
        }, 304],
        ["If-None-Match matching wins over Range", "GET", {
          "If-None-Match": etag,
          Range: "bytes=0-9",
        }, 304],
        ["If-Match failing wins over Range", "GET", {
          "If-Match": '"other"',
          Range: "bytes=0-9",
        }, 412],
        ["If-Match matching with Range", "GET", {
          "If-Match": etag,
          Range: "bytes=0-9",
        }, 206],
        ["If-None-Match not matching with Range", "GET", {
          "If-None-Match": '"x"',
          Range: "bytes=0-9",
        }, 206],
        // Two field lines of one name form one list (RFC 9110 §5.3).
        ["If-None-Match split over two field lines", "GET", {
          "If-None-Match": '"a"',
          "if-none-match": etag,
        }, 304],
        ["If-Match split over two field lines", "GET", {
          "If-Match": '"a"',
          "if-match": etag,
        }, 200],
      ];
      for (const [name, method, fields, status] of cases) {
        const reply = await send(port, method, target, fields);
        assert.equal(reply.status, status, name);
        if (status === 200) {
          assertBytes(
            reply.body,
            method === "HEAD" ? new Uint8Array() : content,
            name,
          );
          assert.equal(reply.header("etag"), etag, name);
        } else if (status === 206) {
          assertBytes(reply.body, content.subarray(0, 10), name);
        } else if (status === 304) {
          assert.equal(reply.body.length, 0, name);
          assert.equal(reply.header("etag"), etag, name);
        } else {
          assert.equal(reply.header("etag"), undefined, `${name}: 412 ETag`);
        }
      }
    });
  });

  Deno.test(`304 carries ETag, Last-Modified, Cache-Control and Date, no body or Content-Type; 412 carries no validators (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async ({ port }) => {
      const full = await send(port, "GET", target);
      const etag = full.header("etag")!;
      const lastModified = full.header("last-modified")!;
      const notModified: [name: string, method: string, fields: Fields][] = [
        ["GET If-None-Match", "GET", { "If-None-Match": etag }],
        ["HEAD If-None-Match", "HEAD", { "If-None-Match": etag }],
        ["GET If-Modified-Since", "GET", { "If-Modified-Since": lastModified }],
      ];
      for (const [name, method, fields] of notModified) {
        const reply = await send(port, method, target, fields);
        assert.equal(reply.status, 304, name);
        assert.equal(reply.header("etag"), etag, name);
        assert.equal(reply.header("last-modified"), lastModified, name);
        assert.equal(reply.header("cache-control"), "no-cache", name);
        parseDate(reply.header("date"), name);
        assert.equal(reply.header("content-type"), undefined, name);
        assert.equal(reply.header("content-range"), undefined, name);
        assert.equal(reply.header("transfer-encoding"), undefined, name);
        // RFC 9110 §8.6: a Content-Length on 304 must be the 200's length.
        const length = reply.header("content-length");
        if (length !== undefined) assert.equal(length, String(v.size), name);
        assert.equal(reply.body.length, 0, `${name}: 304 with a body`);
      }
      const failed: [name: string, fields: Fields][] = [
        ["If-Match", { "If-Match": '"other"' }],
        ["If-Unmodified-Since", {
          "If-Unmodified-Since": httpDate(Date.parse(lastModified) - DAY_MS),
        }],
      ];
      for (const [name, fields] of failed) {
        const reply = await send(port, "GET", target, fields);
        assert.equal(reply.status, 412, name);
        assert.equal(reply.header("etag"), undefined, `${name}: ETag on 412`);
        assert.equal(reply.header("last-modified"), undefined, name);
        assert.equal(reply.header("content-range"), undefined, name);
        assert.equal(reply.header("content-type"), HTML, name);
      }
    });
  });

  Deno.test(`Range requests get exact 206, multipart, 416 or a full 200 (${v.name})`, async () => {
    const s = v.size;
    const cases: [name: string, range: string, expect: RangeExpect][] = [
      ["first ten bytes", "bytes=0-9", { status: 206, spans: [[0, 9]] }],
      ["from byte 10 to the end", "bytes=10-", {
        status: 206,
        spans: [[10, s - 1]],
      }],
      ["last ten bytes", "bytes=-10", {
        status: 206,
        spans: [[s - 10, s - 1]],
      }],
      ["the whole file as 0-", "bytes=0-", {
        status: 206,
        spans: [[0, s - 1]],
      }],
      ["the last byte", `bytes=${s - 1}-`, {
        status: 206,
        spans: [[s - 1, s - 1]],
      }],
      ["last-pos past the end is clamped", `bytes=${s - 5}-${s + 1000}`, {
        status: 206,
        spans: [[s - 5, s - 1]],
      }],
      ["suffix longer than the file", `bytes=-${s + 100}`, {
        status: 206,
        spans: [[0, s - 1]],
      }],
      ["unit in upper case", "Bytes=0-9", { status: 206, spans: [[0, 9]] }],
      ["spaces around commas", "bytes=0-9 , 2000-2009", {
        status: 206,
        spans: [[0, 9], [2000, 2009]],
      }],
      ["start beyond the end", "bytes=5000000-", { status: 416 }],
      ["start at the size", `bytes=${s}-`, { status: 416 }],
      ["suffix of zero bytes", "bytes=-0", { status: 416 }],
      ["several ranges, none satisfiable", `bytes=${s}-,-0,5000000-5000009`, {
        status: 416,
      }],
      [
        "one satisfiable range among unsatisfiable ones",
        "bytes=5000000-,0-9,-0",
        { status: 206, spans: [[0, 9]] },
      ],
      ["two ranges far apart", "bytes=0-9,1000-1009", {
        status: 206,
        spans: [[0, 9], [1000, 1009]],
      }],
      ["three ranges in any order, sorted", "bytes=2000-2009,-5,0-9", {
        status: 206,
        spans: [[0, 9], [2000, 2009], [s - 5, s - 1]],
      }],
      ["overlapping ranges coalesced into one", "bytes=0-99,50-149", {
        status: 206,
        spans: [[0, 149]],
      }],
      ["adjacent ranges coalesced into one", "bytes=10-19,0-9", {
        status: 206,
        spans: [[0, 19]],
      }],
      ["a range inside another coalesced", "bytes=0-999,10-19", {
        status: 206,
        spans: [[0, 999]],
      }],
      ["overlapping pair plus a far range", "bytes=500-599,0-99,50-149", {
        status: 206,
        spans: [[0, 149], [500, 599]],
      }],
      ["other unit", "items=0-1", { status: 200 }],
      ["double dash", "bytes=--2", { status: 200 }],
      ["last-pos before first-pos", "bytes=5-2", { status: 200 }],
      ["letters", "bytes=a-b", { status: 200 }],
      ["empty range set", "bytes=", { status: 200 }],
      ["no equals sign", "bytes 0-9", { status: 200 }],
      ["one malformed spec spoils the set", "bytes=0-9,x", { status: 200 }],
      ["leading zeros", "bytes=0000-0009", { status: 206, spans: [[0, 9]] }],
      ["last-pos beyond 2^53 is clamped", "bytes=1-99999999999999999999999", {
        status: 206,
        spans: [[1, s - 1]],
      }],
      [
        "suffix beyond 2^53 is the whole file",
        "bytes=-99999999999999999999999",
        {
          status: 206,
          spans: [[0, s - 1]],
        },
      ],
      ["first-pos beyond 2^53", "bytes=99999999999999999999999-", {
        status: 416,
      }],
    ];
    await withSite({ [v.file]: content }, v.config, async ({ port }) => {
      for (const [name, range, expect] of cases) {
        const reply = await send(port, "GET", target, { Range: range });
        assertRangeReply(reply, content, v.type, expect, `${name} (${range})`);
        if (reply.status === 206 || reply.status === 200) {
          assert.equal(reply.header("accept-ranges"), "bytes", name);
        }
      }
    });
  });

  Deno.test(`HEAD with Range gets the 200 head and no body (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async ({ port }) => {
      const get = await send(port, "GET", target);
      for (
        const range of ["bytes=0-9", "bytes=0-9,100-199", "bytes=5000000-"]
      ) {
        const reply = await send(port, "HEAD", target, { Range: range });
        assert.equal(reply.status, 200, range);
        assert.equal(reply.body.length, 0, range);
        assert.equal(reply.header("content-length"), String(v.size), range);
        assert.equal(reply.header("content-range"), undefined, range);
        assert.equal(reply.header("content-type"), v.type, range);
        assert.equal(reply.header("etag"), get.header("etag"), range);
        assert.equal(reply.header("accept-ranges"), "bytes", range);
      }
    });
  });

  Deno.test(`If-Range: the current strong ETag or exact date serves the range, anything else the whole file (${v.name})`, async () => {
    const older = pseudoRandomBytes(v.size, 7);
    await withSite({ [v.file]: older }, v.config, async (site) => {
      const old = await validatorsOf(site.port, target, older);
      await sleep(TIMESTAMP_TICK_MS);
      await Deno.writeFile(site.path(v.file), content);
      const now = await validatorsOf(site.port, target, content);
      assert.notEqual(now.etag, old.etag);
      const range = "bytes=0-9";
      const first: RangeExpect = { status: 206, spans: [[0, 9]] };
      const full: RangeExpect = { status: 200 };
      const cases: [name: string, fields: Fields, expect: RangeExpect][] = [
        ["current strong ETag", { "If-Range": now.etag, Range: range }, first],
        [
          "ETag from before the rewrite",
          { "If-Range": old.etag, Range: range },
          full,
        ],
        ["weak form of the current ETag", {
          "If-Range": `W/${now.etag}`,
          Range: range,
        }, full],
        ["another ETag", { "If-Range": '"other"', Range: range }, full],
        ["exact Last-Modified date", {
          "If-Range": now.lastModified,
          Range: range,
        }, first],
        ["a second before Last-Modified", {
          "If-Range": httpDate(now.lastModifiedMs - 1000),
          Range: range,
        }, full],
        ["a second after Last-Modified", {
          "If-Range": httpDate(now.lastModifiedMs + 1000),
          Range: range,
        }, full],
        ["not a date", { "If-Range": "yesterday", Range: range }, full],
        ["current ETag with several ranges", {
          "If-Range": now.etag,
          Range: "bytes=0-9,-10",
        }, {
          status: 206,
          spans: [[0, 9], [v.size - 10, v.size - 1]],
        }],
        ["current ETag without Range", { "If-Range": now.etag }, full],
      ];
      for (const [name, fields, expect] of cases) {
        const reply = await send(site.port, "GET", target, fields);
        assertRangeReply(reply, content, v.type, expect, name);
        assert.equal(reply.header("etag"), now.etag, name);
      }
    });
  });

  Deno.test(`pipelined conditional and range responses keep the connection in sync (${v.name})`, async () => {
    await withSite({ [v.file]: content }, v.config, async ({ port }) => {
      const { etag } = await validatorsOf(port, target, content);
      const requests: [method: string, fields: Fields, status: number][] = [
        ["GET", { Range: "bytes=0-9" }, 206],
        ["GET", { Range: "bytes=0-9,-10" }, 206],
        ["GET", { Range: "bytes=5000000-" }, 416],
        ["GET", { "If-None-Match": etag }, 304],
        ["HEAD", { Range: "bytes=0-9" }, 200],
        ["GET", { "If-Match": '"other"' }, 412],
        ["HEAD", { "If-None-Match": etag }, 304],
        ["GET", { Range: "bytes=-10" }, 206],
        ["GET", { Connection: "close" }, 200],
      ];
      const bytes = requests.map(([method, fields]) =>
        `${method} ${target} HTTP/1.1\r\nHost: test\r\n` +
        Object.entries(fields).map(([n, value]) => `${n}: ${value}\r\n`)
          .join("") +
        "\r\n"
      ).join("");
      const result = await rawExchange(port, bytes, { timeoutMs: 5000 });
      assert.equal(result.timedOut, false);
      const responses = parseResponses(result.bytes, {
        methods: requests.map(([method]) => method),
      });
      assert.deepEqual(
        responses.map((r) => r.status),
        requests.map(([, , status]) => status),
      );
      assertBytes(responses[0].body, content.subarray(0, 10), "first range");
      assertBytes(responses[7].body, content.subarray(v.size - 10), "suffix");
      assertBytes(responses[8].body, content, "last, whole file");
    });
  });
}

// ---------------------------------------------------------------------------
// Single-configuration behaviours

Deno.test("a missing file stays 404 whatever the preconditions or ranges", async () => {
  await withSite(
    { "present.bin": pseudoRandomBytes(100, 3) },
    undefined,
    async ({ port }) => {
      const cases: [name: string, method: string, fields: Fields][] = [
        ["If-Match: *", "GET", { "If-Match": "*" }],
        ["If-Match with a tag", "GET", { "If-Match": '"x"' }],
        ["If-None-Match: *", "GET", { "If-None-Match": "*" }],
        ["If-None-Match with a tag", "HEAD", { "If-None-Match": '"x"' }],
        ["If-Modified-Since in the future", "GET", {
          "If-Modified-Since": httpDate(Date.now() + DAY_MS),
        }],
        ["If-Unmodified-Since in the past", "GET", {
          "If-Unmodified-Since": httpDate(0),
        }],
        ["Range", "GET", { Range: "bytes=0-9" }],
        ["unsatisfiable Range", "GET", { Range: "bytes=5000000-" }],
        ["If-Range with Range", "GET", {
          "If-Range": '"x"',
          Range: "bytes=0-9",
        }],
      ];
      for (const [name, method, fields] of cases) {
        const reply = await send(port, method, "/missing.bin", fields);
        assert.equal(reply.status, 404, name);
        assert.equal(reply.header("etag"), undefined, name);
        assert.equal(reply.header("last-modified"), undefined, name);
        assert.equal(reply.header("content-range"), undefined, name);
      }
    },
  );
});

Deno.test("an empty file has no satisfiable range: 416 with bytes */0", async () => {
  await withSite(
    { "empty.bin": new Uint8Array() },
    undefined,
    async ({ port }) => {
      const plain = await send(port, "GET", "/empty.bin");
      assert.equal(plain.status, 200);
      assert.equal(plain.body.length, 0);
      assert.match(plain.header("etag") ?? "", STRONG_ETAG);
      const cases: [range: string, status: number][] = [
        ["bytes=0-9", 416],
        ["bytes=0-", 416],
        ["bytes=-5", 416],
        ["bytes=0-0,-1", 416],
        ["bytes=a-b", 200],
        ["items=0-1", 200],
      ];
      for (const [range, status] of cases) {
        const reply = await send(port, "GET", "/empty.bin", { Range: range });
        assertRangeReply(
          reply,
          new Uint8Array(),
          OCTET,
          { status } as RangeExpect,
          range,
        );
      }
    },
  );
});

Deno.test("many tiny ranges never produce a response much larger than the file", async () => {
  const oneByteRanges = (count: number, step: number) =>
    "bytes=" +
    Array.from({ length: count }, (_, i) => `${i * step}-${i * step}`).join(
      ",",
    );
  interface Case {
    name: string;
    size: number;
    range: string;
    expect: RangeExpect;
    /** Largest acceptable body. */
    maxBody: number;
  }
  const cases: Case[] = [
    {
      name: "200 one-byte ranges two bytes apart merge into one range",
      size: 5000,
      range: oneByteRanges(200, 2),
      expect: { status: 206, spans: [[0, 398]] },
      maxBody: 399,
    },
    {
      name: "200 one-byte ranges covering a 400-byte file merge into one range",
      size: 400,
      range: oneByteRanges(200, 2),
      expect: { status: 206, spans: [[0, 398]] },
      maxBody: 400,
    },
    {
      name:
        "200 one-byte ranges 100 bytes apart are refused with the whole file",
      size: 20_000,
      range: oneByteRanges(200, 100),
      expect: { status: 200 },
      maxBody: 20_000,
    },
    {
      name:
        "101 one-byte ranges 81 bytes apart are refused with the whole file",
      size: 101 * 81,
      range: oneByteRanges(101, 81),
      expect: { status: 200 },
      maxBody: 101 * 81,
    },
    {
      name:
        "100 one-byte ranges 81 bytes apart are 100 parts, at most twice the file",
      size: 100 * 81,
      range: oneByteRanges(100, 81),
      expect: {
        status: 206,
        spans: Array.from({ length: 100 }, (_, i): Span => [i * 81, i * 81]),
      },
      maxBody: 2 * 100 * 81,
    },
    {
      name: "the same range 200 times is one range",
      size: 5000,
      range: "bytes=" + Array(200).fill("0-99").join(","),
      expect: { status: 206, spans: [[0, 99]] },
      maxBody: 100,
    },
  ];
  const files: Record<string, Uint8Array> = {};
  for (const [i, c] of cases.entries()) {
    files[`f${i}.bin`] = pseudoRandomBytes(c.size, 40 + i);
  }
  await withSite(files, undefined, async ({ port }) => {
    for (const [i, c] of cases.entries()) {
      const reply = await send(port, "GET", `/f${i}.bin`, { Range: c.range });
      assertRangeReply(reply, files[`f${i}.bin`], OCTET, c.expect, c.name);
      assert.ok(
        reply.body.length <= c.maxBody,
        `${c.name}: ${reply.body.length} bytes for a ${c.size}-byte file`,
      );
    }
  });
});

Deno.test("compressed representations have their own strong ETag, and ranges and If-Range use the identity one", async () => {
  const content = encoder.encode("line of text for compression\n".repeat(200));
  await withSite({ "page.txt": content }, undefined, async ({ port }) => {
    const identity = await validatorsOf(port, "/page.txt", content);
    const gzip = await send(port, "GET", "/page.txt", {
      "Accept-Encoding": "gzip",
    });
    assert.equal(gzip.status, 200);
    assert.equal(gzip.header("content-encoding"), "gzip");
    const gzipTag = gzip.header("etag") ?? "";
    assert.match(gzipTag, STRONG_ETAG);
    assert.notEqual(gzipTag, identity.etag);
    const unzipped = await new Response(
      new Blob([new Uint8Array(gzip.body)]).stream().pipeThrough(
        new DecompressionStream("gzip"),
      ),
    ).bytes();
    assertBytes(unzipped, content, "gunzipped body");
    interface Case {
      name: string;
      fields: Fields;
      status: number;
      etag: string;
      /** Content-Encoding; a 304 carries none (RFC 9110 §15.4.5). */
      coding?: string;
    }
    const gzipped = { "Accept-Encoding": "gzip" };
    const cases: Case[] = [
      {
        name: "gzip tag revalidated with gzip",
        fields: { ...gzipped, "If-None-Match": gzipTag },
        status: 304,
        etag: gzipTag,
      },
      {
        name: "gzip tag revalidated without Accept-Encoding",
        fields: { "If-None-Match": gzipTag },
        status: 200,
        etag: identity.etag,
      },
      {
        name: "gzip response again",
        fields: gzipped,
        status: 200,
        etag: gzipTag,
        coding: "gzip",
      },
      {
        name: "range asked with Accept-Encoding",
        fields: { ...gzipped, Range: "bytes=0-9" },
        status: 206,
        etag: identity.etag,
      },
      {
        name: "If-Range with the identity tag",
        fields: { ...gzipped, "If-Range": identity.etag, Range: "bytes=0-9" },
        status: 206,
        etag: identity.etag,
      },
      {
        name: "If-Range with the gzip tag",
        fields: { ...gzipped, "If-Range": gzipTag, Range: "bytes=0-9" },
        status: 200,
        etag: identity.etag,
      },
    ];
    for (const { name, fields, status, etag, coding } of cases) {
      const reply = await send(port, "GET", "/page.txt", fields);
      assert.equal(reply.status, status, name);
      assert.equal(reply.header("etag"), etag, name);
      assert.equal(reply.header("content-encoding"), coding, name);
      // RFC 9110 §15.4.5: a 304 repeats the Vary a 200 would carry.
      assert.equal(reply.header("vary"), "Accept-Encoding", name);
      if (status === 206) {
        assertBytes(reply.body, content.subarray(0, 10), name);
      }
      if (status === 200 && coding === undefined) {
        assertBytes(reply.body, content, name);
      }
    }
  });
});

Deno.test("a range at the end of a 1 GiB sparse file is answered at once with the right bytes", async () => {
  const marker = encoder.encode("END-OF-THE-SPARSE-FILE");
  await withSite({}, undefined, async (site) => {
    const path = site.path("sparse.bin");
    await Deno.writeFile(path, new Uint8Array());
    await Deno.truncate(path, GiB);
    const file = await Deno.open(path, { write: true });
    try {
      await file.seek(GiB - marker.length, Deno.SeekMode.Start);
      assert.equal(await file.write(marker), marker.length);
    } finally {
      file.close();
    }
    const tail = new Uint8Array(64);
    tail.set(marker, 64 - marker.length);
    const cases: [
      name: string,
      range: string,
      start: number,
      bytes: Uint8Array,
    ][] = [
      ["last 64 bytes as a suffix", "bytes=-64", GiB - 64, tail],
      ["last 64 bytes by offset", `bytes=${GiB - 64}-`, GiB - 64, tail],
      ["last byte", `bytes=${GiB - 1}-${GiB - 1}`, GiB - 1, tail.subarray(63)],
      [
        "16 zero bytes in the middle",
        `bytes=${GiB / 2}-${GiB / 2 + 15}`,
        GiB / 2,
        new Uint8Array(16),
      ],
    ];
    for (const [name, range, start, bytes] of cases) {
      const reply = await send(site.port, "GET", "/sparse.bin", {
        Range: range,
      });
      assert.equal(reply.status, 206, name);
      assert.equal(
        reply.header("content-range"),
        `bytes ${start}-${start + bytes.length - 1}/${GiB}`,
        name,
      );
      assertBytes(reply.body, bytes, name);
      assert.ok(reply.elapsedMs < 2000, `${name}: took ${reply.elapsedMs} ms`);
    }
  });
});

Deno.test("Cache-Control is no-cache by default, or the configured value, on 200, 206 and 304", async () => {
  const content = pseudoRandomBytes(3000, 5);
  const configs: [
    name: string,
    config: ConfigOverrides | undefined,
    value: string,
  ][] = [
    ["default", undefined, "no-cache"],
    ["custom", { cacheControl: "public, max-age=60" }, "public, max-age=60"],
  ];
  for (const [configName, config, value] of configs) {
    await withSite({ "file.bin": content }, config, async ({ port }) => {
      const full = await send(port, "GET", "/file.bin");
      const cases: [
        name: string,
        method: string,
        fields: Fields,
        status: number,
      ][] = [
        ["GET", "GET", {}, 200],
        ["HEAD", "HEAD", {}, 200],
        ["range", "GET", { Range: "bytes=0-9" }, 206],
        ["multipart range", "GET", { Range: "bytes=0-9,-9" }, 206],
        [
          "If-None-Match",
          "GET",
          { "If-None-Match": full.header("etag")! },
          304,
        ],
        ["If-Modified-Since", "HEAD", {
          "If-Modified-Since": full.header("last-modified")!,
        }, 304],
      ];
      for (const [name, method, fields, status] of cases) {
        const label = `${configName}: ${name}`;
        const reply = await send(port, method, "/file.bin", fields);
        assert.equal(reply.status, status, label);
        assert.equal(reply.header("cache-control"), value, label);
        assert.equal(reply.response.headerCount("cache-control"), 1, label);
      }
    });
  }
});

// ---------------------------------------------------------------------------
// Property: any valid Range header over any file size

/** A syntactically valid range-spec (RFC 9110 §14.1.1). */
type Spec =
  | { kind: "closed"; first: number; last: number }
  | { kind: "open"; first: number }
  | { kind: "suffix"; length: number };

function specText(spec: Spec): string {
  switch (spec.kind) {
    case "closed":
      return `${spec.first}-${spec.last}`;
    case "open":
      return `${spec.first}-`;
    case "suffix":
      return `-${spec.length}`;
  }
}

/** The bytes a spec selects in a file of `size` bytes (RFC 9110 §14.1.2). */
function resolve(spec: Spec, size: number): Span | undefined {
  if (spec.kind === "suffix") {
    if (spec.length === 0 || size === 0) return undefined;
    return [Math.max(0, size - spec.length), size - 1];
  }
  if (spec.first >= size) return undefined;
  return [
    spec.first,
    spec.kind === "open" ? size - 1 : Math.min(spec.last, size - 1),
  ];
}

function specArb(size: number): fc.Arbitrary<Spec> {
  const position = fc.integer({ min: 0, max: size + 100 });
  // Mostly short ranges, so that several of them stay separate parts.
  const length = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 300 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: size + 100 }), weight: 1 },
  );
  return fc.oneof(
    {
      arbitrary: fc.tuple(position, length).map(
        ([first, extra]): Spec => ({
          kind: "closed",
          first,
          last: first + extra,
        }),
      ),
      weight: 3,
    },
    position.map((first): Spec => ({ kind: "open", first })),
    length.map((suffix): Spec => ({ kind: "suffix", length: suffix })),
  );
}

const rangeCaseArb = fc.integer({ min: 0, max: 200_000 }).chain((size) =>
  fc.record({
    size: fc.constant(size),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
    specs: fc.array(specArb(size), { minLength: 1, maxLength: 5 }),
    separator: fc.constantFrom(",", ", ", " ,\t", ",,"),
  })
);

/**
 * Checks one reply to a valid Range header against the RFC, without
 * assuming how the server coalesces: 416 exactly when nothing is
 * satisfiable; otherwise every part is an exact slice that starts and ends
 * where some requested range does, parts are sorted and disjoint, every
 * requested byte is in a part, and a single range is never multipart.
 */
function checkRangeProperty(
  reply: Reply,
  file: Uint8Array,
  specs: Spec[],
  label: string,
): void {
  const size = file.length;
  const wanted = specs.map((s) => resolve(s, size)).filter((s) =>
    s !== undefined
  );
  if (wanted.length === 0) {
    assert.equal(reply.status, 416, label);
    assert.equal(reply.header("content-range"), `bytes */${size}`, label);
    return;
  }
  assert.equal(reply.status, 206, label);
  const type = reply.header("content-type") ?? "";
  let parts: Part[];
  if (type.startsWith("multipart/byteranges")) {
    assert.ok(specs.length > 1, `${label}: multipart for a single range`);
    assert.equal(reply.header("content-range"), undefined, label);
    parts = parseMultipart(reply.body, type);
    assert.ok(parts.length >= 2, `${label}: multipart with one part`);
  } else {
    assert.equal(type, OCTET, label);
    const contentRange = reply.header("content-range") ?? "";
    const m = CONTENT_RANGE.exec(contentRange);
    assert.ok(m, `${label}: Content-Range ${contentRange}`);
    parts = [{
      contentType: type,
      contentRange,
      start: Number(m[1]),
      end: Number(m[2]),
      completeLength: Number(m[3]),
      data: reply.body,
    }];
  }
  let previousEnd = -1;
  for (const part of parts) {
    const partLabel = `${label}: part ${part.contentRange}`;
    assert.equal(part.contentType, OCTET, partLabel);
    assert.equal(part.completeLength, size, partLabel);
    assert.ok(
      part.start > previousEnd,
      `${partLabel}: unsorted or overlapping`,
    );
    assert.ok(part.end < size, partLabel);
    assert.ok(wanted.some(([s]) => s === part.start), `${partLabel}: start`);
    assert.ok(wanted.some(([, e]) => e === part.end), `${partLabel}: end`);
    assertBytes(part.data, file.subarray(part.start, part.end + 1), partLabel);
    previousEnd = part.end;
  }
  for (const [start, end] of wanted) {
    assert.ok(
      parts.some((p) => p.start <= start && end <= p.end),
      `${label}: requested ${start}-${end} is in no part`,
    );
  }
}

for (
  const [name, config] of [
    ["cache on", undefined],
    ["cache disabled", { fileCacheBytes: 0 }],
  ] as const
) {
  Deno.test(`property: any valid Range header gets the exact slices of any file (${name})`, async () => {
    await withSite({}, config, async (site) => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          rangeCaseArb,
          async ({ size, seed, specs, separator }) => {
            const fileName = `p${run++}.bin`;
            const file = pseudoRandomBytes(size, seed);
            await Deno.writeFile(site.path(fileName), file);
            try {
              const range = "bytes=" + specs.map(specText).join(separator);
              const reply = await send(site.port, "GET", `/${fileName}`, {
                Range: range,
              });
              checkRangeProperty(reply, file, specs, `${size} bytes, ${range}`);
            } finally {
              await Deno.remove(site.path(fileName));
            }
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}

// ---------------------------------------------------------------------------
// Client compatibility

async function curl(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("curl", {
    args: [
      ...curlTrustArgs(),
      ...curlProtocolArgs(),
      "--silent",
      "--show-error",
      "--max-time",
      "20",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

const CURL_FILES: readonly [name: string, size: number][] = [
  ["small.txt", 5000],
  ["large.bin", 3 * MiB / 2 + 7],
];

Deno.test({
  name: "curl -r 0-99 gets exactly the first 100 bytes" +
    (HAS_CURL ? "" : " (curl not installed)"),
  ignore: !HAS_CURL,
  fn: async () => {
    const files = Object.fromEntries(
      CURL_FILES.map((
        [name, size],
        i,
      ) => [name, pseudoRandomBytes(size, 60 + i)]),
    );
    await withSite(files, undefined, async (site) => {
      for (const [name] of CURL_FILES) {
        const out = site.path(`curl-${name}.out`);
        const result = await curl([
          "-r",
          "0-99",
          "-o",
          out,
          "-w",
          "%{http_code}",
          `${SCHEME}://127.0.0.1:${site.port}/${name}`,
        ]);
        assert.equal(result.code, 0, `${name}: ${result.stderr}`);
        assert.equal(result.stdout, "206", name);
        assertBytes(
          await Deno.readFile(out),
          files[name].subarray(0, 100),
          name,
        );
      }
    });
  },
});

Deno.test({
  name: "curl -C - resumes a partial download to a byte-identical copy" +
    (HAS_CURL ? "" : " (curl not installed)"),
  ignore: !HAS_CURL,
  fn: async () => {
    const files = Object.fromEntries(
      CURL_FILES.map((
        [name, size],
        i,
      ) => [name, pseudoRandomBytes(size, 70 + i)]),
    );
    await withSite(files, undefined, async (site) => {
      for (const [name, size] of CURL_FILES) {
        for (const have of [1, 100, Math.floor(size / 2), size - 1]) {
          const label = `${name} with ${have} bytes already`;
          const out = site.path(`partial-${name}-${have}.out`);
          await Deno.writeFile(out, files[name].subarray(0, have));
          const result = await curl([
            "-C",
            "-",
            "-o",
            out,
            "-w",
            "%{http_code}",
            `${SCHEME}://127.0.0.1:${site.port}/${name}`,
          ]);
          assert.equal(result.code, 0, `${label}: ${result.stderr}`);
          assert.equal(result.stdout, "206", label);
          assertBytes(await Deno.readFile(out), files[name], label);
        }
      }
    });
  },
});
