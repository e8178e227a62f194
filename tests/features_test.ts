/**
 * End-to-end tests of the daily-use features over real sockets:
 * compression (on the fly and precompressed sidecars), directory listings,
 * the dotfiles policy, the SPA fallback, clean URLs, CORS, extra headers and
 * the access log of the command-line server.
 *
 * Every site is built in a temp dir; nothing is written to the repository.
 *
 * @module
 */

import assert from "node:assert/strict";
import zlib from "node:zlib";
import { Buffer } from "node:buffer";
import type { RunningServer } from "../server/server.ts";
import type { ConfigOverrides } from "../server/config.ts";
import {
  type ParsedResponse,
  parseOneResponse,
  parseResponses,
  PROTOCOL,
  rawExchange,
  spawnServer,
  startTestServer,
  STATIC_DIR,
} from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------
// Helpers

/** Options of {@linkcode get}. */
interface RequestOptions {
  method?: string;
  /** "1.1" (default) or "1.0". */
  version?: string;
  headers?: Record<string, string>;
}

/** A response and the exact number of bytes it took on the wire. */
interface Fetched {
  res: ParsedResponse;
  wireBytes: number;
}

/** Sends one request on its own connection and parses the one answer. */
async function fetchRaw(
  port: number,
  target: string,
  options: RequestOptions = {},
): Promise<Fetched> {
  const method = options.method ?? "GET";
  const version = options.version ?? "1.1";
  let text = `${method} ${target} HTTP/${version}\r\nHost: 127.0.0.1\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    text += `${name}: ${value}\r\n`;
  }
  text += "\r\n";
  const result = await rawExchange(port, text, { timeoutMs: 10_000 });
  assert.ok(!result.timedOut, `${method} ${target} timed out`);
  const responses = parseResponses(result.bytes, { methods: [method] });
  assert.equal(responses.length, 1, `one response to ${method} ${target}`);
  return { res: responses[0], wireBytes: result.bytes.length };
}

async function get(
  port: number,
  target: string,
  options: RequestOptions = {},
): Promise<ParsedResponse> {
  return (await fetchRaw(port, target, options)).res;
}

/** Header fields as [lowercase name, value], without the ever-changing Date. */
function stableHeaders(res: ParsedResponse): [string, string][] {
  return res.headerList
    .map(([n, v]) => [n.toLowerCase(), v] as [string, string])
    .filter(([n]) => n !== "date");
}

/** A temp site: relative path → content. */
type Files = Record<string, string | Uint8Array>;

interface Site {
  base: string;
  root: string;
  outside: string;
}

async function makeSite(files: Files): Promise<Site> {
  const base = await Deno.makeTempDir({ prefix: "pws_features_" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  for (const [path, content] of Object.entries(files)) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) {
      await Deno.mkdir(`${root}/${path.slice(0, slash)}`, { recursive: true });
    }
    if (typeof content === "string") {
      await Deno.writeTextFile(`${root}/${path}`, content);
    } else {
      await Deno.writeFile(`${root}/${path}`, content);
    }
  }
  return { base, root, outside };
}

/**
 * Builds a site, starts a server on it, runs `fn`, then closes the server
 * and removes the site whatever happens.
 */
async function withSite(
  files: Files,
  config: ConfigOverrides,
  fn: (server: RunningServer, site: Site) => Promise<void>,
  prepare?: (site: Site) => Promise<void>,
): Promise<void> {
  const site = await makeSite(files);
  try {
    await prepare?.(site);
    const server = startTestServer({ root: site.root, config });
    try {
      await fn(server, site);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(site.base, { recursive: true });
  }
}

/** Deterministic text that compresses well but not to nothing. */
function makeText(bytes: number, seed = 1): string {
  const words = [
    "static",
    "server",
    "deno",
    "request",
    "response",
    "header",
    "body",
    "chunk",
    "gzip",
    "brotli",
    "range",
    "cache",
    "socket",
    "file",
    "byte",
    "stream",
  ];
  let state = seed >>> 0;
  const parts: string[] = [];
  let length = 0;
  let line = 0;
  while (length < bytes) {
    let text = `${line++}:`;
    for (let i = 0; i < 12; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      text += " " + words[state >>> 28];
    }
    text += "\n";
    parts.push(text);
    length += text.length;
  }
  return parts.join("").slice(0, bytes);
}

function bytesEqual(actual: Uint8Array, expected: Uint8Array, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(
    Buffer.from(actual).equals(Buffer.from(expected)),
    `${what}: bytes differ`,
  );
}

const hasZstd = typeof zlib.zstdDecompressSync === "function";

function decompress(coding: string, body: Uint8Array): Uint8Array {
  switch (coding) {
    case "gzip":
      return new Uint8Array(zlib.gunzipSync(body));
    case "br":
      return new Uint8Array(zlib.brotliDecompressSync(body));
    case "zstd":
      return new Uint8Array(zlib.zstdDecompressSync(body));
    default:
      throw new Error(`unexpected coding ${coding}`);
  }
}

// ---------------------------------------------------------------------------
// Compression on the fly

const MEDIUM_TEXT = makeText(20 * 1024, 7); // compressible, ≥ 1 KiB, buffered
const SMALL_TEXT = "tiny text file, well under one kibibyte\n".repeat(10);
const LARGE_TEXT = makeText(3 * 1024 * 1024, 11); // > 1 MiB: streamed
const PNG_BYTES = Deno.readFileSync(`${STATIC_DIR}/images/server.png`);

const COMPRESSION_FILES: Files = {
  "medium.txt": MEDIUM_TEXT,
  "page.html": `<!doctype html>\n<title>x</title>\n${
    "<p>paragraph of html</p>\n".repeat(200)
  }`,
  "small.txt": SMALL_TEXT,
  "large.txt": LARGE_TEXT,
  "picture.png": PNG_BYTES,
};

function withCompressionSite(
  fn: (server: RunningServer) => Promise<void>,
  config: ConfigOverrides = {},
): Promise<void> {
  return withSite(COMPRESSION_FILES, config, (server) => fn(server));
}

Deno.test("compression: gzip, br and zstd bodies decompress exactly to the file, with exact Content-Length", async () => {
  await withCompressionSite(async ({ port }) => {
    const expected = encoder.encode(MEDIUM_TEXT);
    const codings = hasZstd ? ["gzip", "br", "zstd"] : ["gzip", "br"];
    if (!hasZstd) console.log("node:zlib has no zstdDecompressSync: skipped");
    for (const coding of codings) {
      const res = await get(port, "/medium.txt", {
        headers: { "Accept-Encoding": coding },
      });
      assert.equal(res.status, 200, coding);
      assert.equal(res.header("content-encoding"), coding);
      assert.equal(res.header("vary"), "Accept-Encoding");
      assert.equal(res.header("content-type"), "text/plain; charset=utf-8");
      assert.equal(res.header("transfer-encoding"), undefined);
      assert.equal(Number(res.header("content-length")), res.body.length);
      assert.ok(res.body.length < expected.length / 2, `${coding} compresses`);
      bytesEqual(decompress(coding, res.body), expected, coding);
    }
  });
});

Deno.test("compression: the server prefers br when several codings are equally welcome", async () => {
  await withCompressionSite(async ({ port }) => {
    const res = await get(port, "/page.html", {
      headers: { "Accept-Encoding": "gzip, deflate, br, zstd" },
    });
    assert.equal(res.header("content-encoding"), "br");
    assert.equal(res.header("content-type"), "text/html; charset=utf-8");
    assert.ok(decoder.decode(decompress("br", res.body)).includes("<title>x"));
  });
});

Deno.test("compression: q-values decide the coding", async () => {
  await withCompressionSite(async ({ port }) => {
    const cases: [accept: string, coding: string | undefined][] = [
      ["gzip;q=0, br", "br"],
      ["br;q=0.5, gzip", "gzip"],
      ["br;q=0.5, gzip;q=0.8", "gzip"],
      ["*;q=0", undefined],
      ["identity;q=0", undefined],
      ["gzip;q=0, br;q=0, zstd;q=0", undefined],
      ["identity", undefined],
      ["", undefined],
      ["x-gzip", "gzip"],
      ["GZIP", "gzip"],
    ];
    const expected = encoder.encode(MEDIUM_TEXT);
    for (const [accept, coding] of cases) {
      const res = await get(port, "/medium.txt", {
        headers: { "Accept-Encoding": accept },
      });
      assert.equal(res.status, 200, accept);
      assert.equal(res.header("content-encoding"), coding, accept);
      assert.equal(res.header("vary"), "Accept-Encoding", accept);
      const body = coding === undefined
        ? res.body
        : decompress(coding, res.body);
      bytesEqual(body, expected, accept);
    }
  });
});

Deno.test("compression: no Accept-Encoding gets identity, still with Vary", async () => {
  await withCompressionSite(async ({ port }) => {
    const res = await get(port, "/medium.txt");
    assert.equal(res.status, 200);
    assert.equal(res.header("content-encoding"), undefined);
    assert.equal(res.header("vary"), "Accept-Encoding");
    assert.equal(res.header("content-length"), String(MEDIUM_TEXT.length));
    assert.equal(res.text, MEDIUM_TEXT);
  });
});

Deno.test("compression: files under 1 KiB and PNGs are sent as they are", async () => {
  await withCompressionSite(async ({ port }) => {
    const small = await get(port, "/small.txt", {
      headers: { "Accept-Encoding": "gzip, br, zstd" },
    });
    assert.equal(small.status, 200);
    assert.equal(small.header("content-encoding"), undefined);
    assert.equal(small.text, SMALL_TEXT);

    const png = await get(port, "/picture.png", {
      headers: { "Accept-Encoding": "gzip, br, zstd" },
    });
    assert.equal(png.status, 200);
    assert.equal(png.header("content-type"), "image/png");
    assert.equal(png.header("content-encoding"), undefined);
    assert.equal(png.header("vary"), undefined, "nothing varies for a PNG");
    assert.equal(png.header("content-length"), String(PNG_BYTES.length));
    bytesEqual(png.body, PNG_BYTES, "png");
  });
});

Deno.test("compression: a 3 MiB text file streams chunked and decompresses exactly", async () => {
  await withCompressionSite(async ({ port }) => {
    const expected = encoder.encode(LARGE_TEXT);
    for (const coding of ["gzip", "br"]) {
      const res = await get(port, "/large.txt", {
        headers: { "Accept-Encoding": coding },
      });
      assert.equal(res.status, 200);
      assert.equal(res.header("content-encoding"), coding);
      // Over HTTP/2 the translation says "chunked" for a response without
      // Content-Length: the field itself is HTTP/1.1's.
      if (PROTOCOL === "http/1.1") {
        assert.equal(res.header("transfer-encoding"), "chunked");
      }
      assert.equal(res.header("content-length"), undefined);
      assert.equal(res.header("vary"), "Accept-Encoding");
      // parseResponses has already removed the chunked framing.
      bytesEqual(decompress(coding, res.body), expected, coding);
    }
  });
});

// HTTP/1.1 only: HTTP/1.0 clients, which cannot take chunked coding.
Deno.test(
  "compression: HTTP/1.0 gets the large file as identity with Content-Length",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withCompressionSite(async ({ port }) => {
      const res = await get(port, "/large.txt", {
        version: "1.0",
        headers: { "Accept-Encoding": "gzip, br" },
      });
      assert.equal(res.status, 200);
      assert.equal(res.header("content-encoding"), undefined);
      assert.equal(res.header("transfer-encoding"), undefined);
      assert.equal(res.header("content-length"), String(LARGE_TEXT.length));
      bytesEqual(res.body, encoder.encode(LARGE_TEXT), "HTTP/1.0 identity");
      // A small compressible file can still be compressed for HTTP/1.0:
      // its length is known in advance.
      const medium = await get(port, "/medium.txt", {
        version: "1.0",
        headers: { "Accept-Encoding": "gzip" },
      });
      assert.equal(medium.header("content-encoding"), "gzip");
      assert.equal(Number(medium.header("content-length")), medium.body.length);
    });
  },
);

Deno.test("compression: each coding has its own ETag, and If-None-Match with it gives 304 with Vary", async () => {
  await withCompressionSite(async ({ port }) => {
    const identity = await get(port, "/medium.txt");
    const gzip = await get(port, "/medium.txt", {
      headers: { "Accept-Encoding": "gzip" },
    });
    const br = await get(port, "/medium.txt", {
      headers: { "Accept-Encoding": "br" },
    });
    const tags = [identity, gzip, br].map((r) => r.header("etag"));
    for (const tag of tags) assert.match(tag ?? "", /^"[^"]+"$/, "strong tag");
    assert.equal(new Set(tags).size, 3, `distinct tags: ${tags.join(" ")}`);

    const again = await get(port, "/medium.txt", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(again.header("etag"), gzip.header("etag"), "stable tag");

    const notModified = await get(port, "/medium.txt", {
      headers: {
        "Accept-Encoding": "gzip",
        "If-None-Match": gzip.header("etag")!,
      },
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    assert.equal(notModified.header("vary"), "Accept-Encoding");
    assert.equal(notModified.header("etag"), gzip.header("etag"));
    assert.equal(notModified.header("content-encoding"), undefined);

    // The identity tag does not match the gzip representation.
    const other = await get(port, "/medium.txt", {
      headers: {
        "Accept-Encoding": "gzip",
        "If-None-Match": identity.header("etag")!,
      },
    });
    assert.equal(other.status, 200);
    assert.equal(other.header("content-encoding"), "gzip");

    // The streamed (chunked) representation of a large file too.
    const large = await get(port, "/large.txt", {
      headers: { "Accept-Encoding": "br" },
    });
    const large304 = await get(port, "/large.txt", {
      headers: {
        "Accept-Encoding": "br",
        "If-None-Match": large.header("etag")!,
      },
    });
    assert.equal(large304.status, 304);
    assert.equal(large304.header("vary"), "Accept-Encoding");

    // And the identity tag still validates the identity representation.
    const identity304 = await get(port, "/medium.txt", {
      headers: { "If-None-Match": identity.header("etag")! },
    });
    assert.equal(identity304.status, 304);
  });
});

Deno.test("compression: a rewritten file gets a fresh compressed body and tag", async () => {
  await withSite(
    { "f.txt": makeText(8192, 21) },
    {},
    async ({ port }, site) => {
      const headers = { "Accept-Encoding": "gzip" };
      const first = await get(port, "/f.txt", { headers });
      assert.equal(
        decoder.decode(decompress("gzip", first.body)),
        makeText(8192, 21),
      );
      // Same size, new content.
      const next = makeText(8192, 22);
      await Deno.writeTextFile(`${site.root}/f.txt`, next);
      const second = await get(port, "/f.txt", { headers });
      assert.notEqual(second.header("etag"), first.header("etag"));
      assert.equal(decoder.decode(decompress("gzip", second.body)), next);
      // The old tag no longer validates.
      const stale = await get(port, "/f.txt", {
        headers: { ...headers, "If-None-Match": first.header("etag")! },
      });
      assert.equal(stale.status, 200);
    },
  );
});

Deno.test("compression: a Range request gets identity bytes even with Accept-Encoding", async () => {
  await withCompressionSite(async ({ port }) => {
    const res = await get(port, "/medium.txt", {
      headers: { "Accept-Encoding": "gzip, br", Range: "bytes=100-199" },
    });
    assert.equal(res.status, 206);
    assert.equal(res.header("content-encoding"), undefined);
    assert.equal(
      res.header("content-range"),
      `bytes 100-199/${MEDIUM_TEXT.length}`,
    );
    assert.equal(res.text, MEDIUM_TEXT.slice(100, 200));

    const large = await get(port, "/large.txt", {
      headers: { "Accept-Encoding": "gzip", Range: "bytes=-50" },
    });
    assert.equal(large.status, 206);
    assert.equal(large.header("content-encoding"), undefined);
    assert.equal(large.text, LARGE_TEXT.slice(-50));
  });
});

Deno.test("compression: HEAD with gzip has the same headers as GET and no body", async () => {
  await withCompressionSite(async ({ port }) => {
    for (const path of ["/medium.txt", "/large.txt"]) {
      const headers = { "Accept-Encoding": "gzip" };
      const getRes = await get(port, path, { headers });
      const { res: headRes, wireBytes } = await fetchRaw(port, path, {
        method: "HEAD",
        headers,
      });
      assert.equal(headRes.status, 200);
      assert.deepEqual(stableHeaders(headRes), stableHeaders(getRes), path);
      // Nothing follows the head on the wire.
      const headText = headRes.headerList.map(([n, v]) => `${n}: ${v}\r\n`)
        .join("");
      const statusLine = `HTTP/1.1 200 ${headRes.reason}\r\n`;
      assert.equal(wireBytes, statusLine.length + headText.length + 2, path);
    }
  });
});

Deno.test("compression: off means no Content-Encoding and no Vary", async () => {
  await withCompressionSite(async ({ port }) => {
    for (const path of ["/medium.txt", "/large.txt", "/page.html"]) {
      const res = await get(port, path, {
        headers: { "Accept-Encoding": "gzip, br, zstd" },
      });
      assert.equal(res.status, 200, path);
      assert.equal(res.header("content-encoding"), undefined, path);
      assert.equal(res.header("vary"), undefined, path);
      assert.ok(res.header("content-length") !== undefined, path);
    }
  }, { compression: false });
});

// ---------------------------------------------------------------------------
// Precompressed sidecars

const SIDECAR_ORIGINAL = makeText(4096, 3);
const GZ_TEXT = SIDECAR_ORIGINAL + "\n[served from file.txt.gz]\n";
const BR_TEXT = SIDECAR_ORIGINAL + "\n[served from file.txt.br]\n";
const OUTSIDE_SECRET = "OUTSIDE-THE-ROOT secret content\n".repeat(40);

function sidecarFiles(): Files {
  return {
    "file.txt": SIDECAR_ORIGINAL,
    "file.txt.gz": new Uint8Array(zlib.gzipSync(encoder.encode(GZ_TEXT))),
    "file.txt.br": new Uint8Array(
      zlib.brotliCompressSync(encoder.encode(BR_TEXT)),
    ),
    "small.txt": "inside the root\n",
    "big.txt": SIDECAR_ORIGINAL,
    "data.json": '{"a": 1}\n',
    "data.json.gz": new Uint8Array(
      zlib.gzipSync(encoder.encode('{"a": "from the sidecar"}\n')),
    ),
  };
}

/** Sidecars that are symlinks to files outside the root. */
async function linkSidecarsOutside(site: Site): Promise<void> {
  const secret = encoder.encode(OUTSIDE_SECRET);
  await Deno.writeFile(
    `${site.outside}/secret.gz`,
    new Uint8Array(zlib.gzipSync(secret)),
  );
  await Deno.writeFile(
    `${site.outside}/secret.br`,
    new Uint8Array(zlib.brotliCompressSync(secret)),
  );
  for (const name of ["small.txt", "big.txt"]) {
    await Deno.symlink(`${site.outside}/secret.gz`, `${site.root}/${name}.gz`);
    await Deno.symlink(`${site.outside}/secret.br`, `${site.root}/${name}.br`);
  }
}

Deno.test("sidecars: the best accepted .br/.gz is served with the original's type and its own ETag", async () => {
  await withSite(sidecarFiles(), {}, async ({ port }, site) => {
    const identity = await get(port, "/file.txt");
    assert.equal(identity.text, SIDECAR_ORIGINAL);
    const type = identity.header("content-type");
    assert.equal(type, "text/plain; charset=utf-8");

    const gzSize = (await Deno.stat(`${site.root}/file.txt.gz`)).size;
    const brSize = (await Deno.stat(`${site.root}/file.txt.br`)).size;
    const cases: [
      accept: string,
      coding: string,
      text: string,
      size: number,
    ][] = [
      ["gzip", "gzip", GZ_TEXT, gzSize],
      ["br", "br", BR_TEXT, brSize],
      ["gzip, br", "br", BR_TEXT, brSize],
      ["br;q=0.1, gzip", "gzip", GZ_TEXT, gzSize],
      ["br;q=0, gzip;q=0.2", "gzip", GZ_TEXT, gzSize],
      ["*", "br", BR_TEXT, brSize],
    ];
    const tags = new Map<string, string>();
    for (const [accept, coding, text, size] of cases) {
      const res = await get(port, "/file.txt", {
        headers: { "Accept-Encoding": accept },
      });
      assert.equal(res.status, 200, accept);
      assert.equal(res.header("content-encoding"), coding, accept);
      assert.equal(res.header("content-type"), type, accept);
      assert.equal(res.header("vary"), "Accept-Encoding", accept);
      assert.equal(res.header("content-length"), String(size), accept);
      assert.equal(decoder.decode(decompress(coding, res.body)), text, accept);
      const tag = res.header("etag")!;
      assert.notEqual(tag, identity.header("etag"), accept);
      if (tags.has(coding)) assert.equal(tag, tags.get(coding), accept);
      tags.set(coding, tag);
    }
    assert.notEqual(tags.get("gzip"), tags.get("br"));

    // The sidecar's tag validates the sidecar.
    const notModified = await get(port, "/file.txt", {
      headers: {
        "Accept-Encoding": "gzip",
        "If-None-Match": tags.get("gzip")!,
      },
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.header("etag"), tags.get("gzip"));

    // HEAD tells the same story.
    const head = await get(port, "/file.txt", {
      method: "HEAD",
      headers: { "Accept-Encoding": "br" },
    });
    assert.equal(head.header("content-encoding"), "br");
    assert.equal(head.header("content-length"), String(brSize));
    assert.equal(head.header("etag"), tags.get("br"));

    // A coding without a sidecar is made on the fly from the original.
    if (hasZstd) {
      const zstd = await get(port, "/file.txt", {
        headers: { "Accept-Encoding": "zstd" },
      });
      assert.equal(zstd.header("content-encoding"), "zstd");
      assert.equal(
        decoder.decode(decompress("zstd", zstd.body)),
        SIDECAR_ORIGINAL,
      );
    }

    // A sidecar makes even a tiny, otherwise uncompressed file vary.
    const json = await get(port, "/data.json", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(json.header("content-encoding"), "gzip");
    assert.match(json.header("content-type") ?? "", /^application\/json/);
    assert.equal(
      decoder.decode(decompress("gzip", json.body)),
      '{"a": "from the sidecar"}\n',
    );

    // Ranges are taken from the original, never from a sidecar.
    const range = await get(port, "/file.txt", {
      headers: { "Accept-Encoding": "gzip, br", Range: "bytes=0-9" },
    });
    assert.equal(range.status, 206);
    assert.equal(range.header("content-encoding"), undefined);
    assert.equal(range.text, SIDECAR_ORIGINAL.slice(0, 10));
  });
});

Deno.test("sidecars: off with compression off", async () => {
  await withSite(sidecarFiles(), { compression: false }, async ({ port }) => {
    const res = await get(port, "/file.txt", {
      headers: { "Accept-Encoding": "gzip, br" },
    });
    assert.equal(res.header("content-encoding"), undefined);
    assert.equal(res.text, SIDECAR_ORIGINAL);
  });
});

Deno.test("sidecars: a sidecar symlinked outside the root is never served", async () => {
  await withSite(sidecarFiles(), {}, async ({ port }) => {
    const secretMark = "OUTSIDE-THE-ROOT";
    for (const accept of ["gzip", "br", "gzip, br", "*"]) {
      // Small file: identity, its own bytes.
      const small = await get(port, "/small.txt", {
        headers: { "Accept-Encoding": accept },
      });
      assert.equal(small.status, 200, accept);
      assert.equal(small.header("content-encoding"), undefined, accept);
      assert.equal(small.text, "inside the root\n", accept);

      // Larger file: compressed on the fly from the original instead.
      const big = await get(port, "/big.txt", {
        headers: { "Accept-Encoding": accept },
      });
      assert.equal(big.status, 200, accept);
      const coding = big.header("content-encoding");
      const body = coding === undefined
        ? big.body
        : decompress(coding, big.body);
      const text = decoder.decode(body);
      assert.ok(!text.includes(secretMark), `no outside bytes for ${accept}`);
      assert.equal(text, SIDECAR_ORIGINAL, accept);
    }
    // Nor can the links be fetched directly.
    for (const path of ["/small.txt.gz", "/big.txt.br"]) {
      const res = await get(port, path);
      assert.equal(res.status, 404, path);
      assert.ok(!res.text.includes(secretMark));
    }
  }, linkSidecarsOutside);
});

// ---------------------------------------------------------------------------
// Directory listing

const XSS_NAME = "<img src=x onerror=alert(1)>.txt";
const UNICODE_NAME = "ça va.txt";

const LISTING_FILES: Files = {
  "index.html": "<!doctype html><p>root index</p>\n",
  "listing/b.txt": "bee\n",
  "listing/a.txt": "alpha",
  "listing/file10.txt": "ten\n",
  "listing/file2.txt": "x".repeat(2048),
  [`listing/${XSS_NAME}`]: "xss\n",
  [`listing/${UNICODE_NAME}`]: "ça va bien\n",
  "listing/.hidden": "hidden\n",
  "listing/zdir/inner.txt": "inner\n",
  "listing/Adir/deeper/leaf.txt": "leaf\n",
  "listing/.dotdir/x.txt": "in a dot dir\n",
};

const LISTING_ON = {
  lookup: { dotfiles: "ignore", cleanUrls: false, dirListing: true },
} as const satisfies ConfigOverrides;

interface Row {
  href: string;
  label: string;
  size: string;
}

function unescapeHtml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e) =>
      ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[
        e as "amp"
      ] ?? e,
  );
}

function listingRows(html: string): Row[] {
  const rows: Row[] = [];
  const re = /<tr><td><a href="([^"]*)">([^<]*)<\/a><\/td><td>([^<]*)<\/td>/g;
  for (const m of html.matchAll(re)) {
    rows.push({
      href: unescapeHtml(m[1]),
      label: unescapeHtml(m[2]),
      size: unescapeHtml(m[3]),
    });
  }
  return rows;
}

function pathOf(href: string, base: string): string {
  const url = new URL(href, `http://127.0.0.1${base}`);
  return url.pathname + url.search;
}

Deno.test("listing: sorted dirs first, sizes, parent link, escaped names, working encoded links", async () => {
  await withSite(LISTING_FILES, LISTING_ON, async ({ port }) => {
    const res = await get(port, "/listing/");
    assert.equal(res.status, 200);
    assert.equal(res.header("content-type"), "text/html; charset=utf-8");
    const html = res.text;
    assert.match(html, /<title>Index of \/listing\/<\/title>/);
    // No name can inject markup.
    assert.ok(!html.includes("<img"), "the <img> name must be escaped");
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;.txt"));

    const rows = listingRows(html);
    assert.deepEqual(rows.map((r) => r.label), [
      "../",
      "Adir/",
      "zdir/",
      XSS_NAME,
      "a.txt",
      "b.txt",
      UNICODE_NAME,
      "file2.txt",
      "file10.txt",
    ]);
    assert.deepEqual(rows.map((r) => r.href), [
      "../",
      "./Adir/",
      "./zdir/",
      "./%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt",
      "./a.txt",
      "./b.txt",
      "./%C3%A7a%20va.txt",
      "./file2.txt",
      "./file10.txt",
    ]);
    const sizes = Object.fromEntries(rows.map((r) => [r.label, r.size]));
    assert.equal(sizes["a.txt"], "5 B");
    assert.equal(sizes["b.txt"], "4 B");
    assert.equal(sizes["file2.txt"], "2.0 KiB");
    assert.equal(
      sizes[UNICODE_NAME],
      `${encoder.encode("ça va bien\n").length} B`,
    );
    assert.equal(sizes["Adir/"], "—");

    // Every link works from the page's own URL.
    const contents: Record<string, string> = {
      "a.txt": "alpha",
      "b.txt": "bee\n",
      [XSS_NAME]: "xss\n",
      [UNICODE_NAME]: "ça va bien\n",
      "file10.txt": "ten\n",
    };
    for (const row of rows) {
      const target = pathOf(row.href, "/listing/");
      const linked = await get(port, target);
      assert.equal(linked.status, 200, `${row.label} → ${target}`);
      if (row.label in contents) {
        assert.equal(linked.text, contents[row.label], row.label);
      }
    }
    // The parent is the root (its index), the subdirectories list.
    const adir = await get(port, "/listing/Adir/");
    const adirRows = listingRows(adir.text);
    assert.deepEqual(adirRows.map((r) => r.label), ["../", "deeper/"]);
    const leafDir = await get(port, pathOf("./deeper/", "/listing/Adir/"));
    const leafRows = listingRows(leafDir.text);
    assert.deepEqual(leafRows.map((r) => r.label), ["../", "leaf.txt"]);
    const leaf = await get(
      port,
      pathOf(leafRows[1].href, "/listing/Adir/deeper/"),
    );
    assert.equal(leaf.text, "leaf\n");

    // A directory without the slash redirects to it before listing.
    const redirect = await get(port, "/listing/zdir");
    assert.equal(redirect.status, 301);
    assert.equal(redirect.header("location"), "/listing/zdir/");
  });
});

Deno.test("listing: JSON when the client prefers application/json", async () => {
  await withSite(LISTING_FILES, LISTING_ON, async ({ port }) => {
    const res = await get(port, "/listing/", {
      headers: { Accept: "application/json" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.header("content-type"), "application/json; charset=utf-8");
    assert.match(res.header("vary") ?? "", /\bAccept\b/);
    const entries = JSON.parse(res.text) as {
      name: string;
      type: string;
      size: number | null;
      mtime: string | null;
      url: string;
    }[];
    assert.deepEqual(entries.map((e) => e.name), [
      "Adir",
      "zdir",
      XSS_NAME,
      "a.txt",
      "b.txt",
      UNICODE_NAME,
      "file2.txt",
      "file10.txt",
    ]);
    const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
    assert.equal(byName["Adir"].type, "directory");
    assert.equal(byName["Adir"].size, null);
    assert.equal(byName["Adir"].url, "/listing/Adir/");
    assert.equal(byName["file2.txt"].type, "file");
    assert.equal(byName["file2.txt"].size, 2048);
    assert.equal(byName[UNICODE_NAME].url, "/listing/%C3%A7a%20va.txt");
    assert.equal(
      byName[XSS_NAME].url,
      "/listing/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt",
    );
    for (const entry of entries) {
      assert.ok(!Number.isNaN(Date.parse(entry.mtime ?? "")), entry.name);
      const linked = await get(port, entry.url);
      assert.equal(linked.status, 200, entry.url);
    }
    // A browser's Accept still gets HTML.
    const html = await get(port, "/listing/", {
      headers: {
        Accept:
          "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      },
    });
    assert.equal(html.header("content-type"), "text/html; charset=utf-8");
  });
});

Deno.test("listing: compressed when accepted and big enough", async () => {
  await withSite(LISTING_FILES, LISTING_ON, async ({ port }) => {
    const plain = await get(port, "/listing/");
    const res = await get(port, "/listing/", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(res.header("content-encoding"), "gzip");
    assert.equal(Number(res.header("content-length")), res.body.length);
    assert.equal(decoder.decode(decompress("gzip", res.body)), plain.text);
  });
});

Deno.test("listing: off by default, a directory without index is a 404", async () => {
  await withSite(LISTING_FILES, {}, async ({ port }) => {
    const res = await get(port, "/listing/");
    assert.equal(res.status, 404);
    assert.ok(!res.text.includes("a.txt"));
    // Its files are still served.
    assert.equal((await get(port, "/listing/a.txt")).text, "alpha");
  });
});

Deno.test("listing: dotfiles are hidden unless allowed", async () => {
  await withSite(LISTING_FILES, LISTING_ON, async ({ port }) => {
    const html = (await get(port, "/listing/")).text;
    assert.ok(!html.includes(".hidden"));
    assert.ok(!html.includes(".dotdir"));
    const json = await get(port, "/listing/", {
      headers: { Accept: "application/json" },
    });
    assert.ok(!json.text.includes(".hidden"));
    assert.equal((await get(port, "/listing/.dotdir/")).status, 404);
  });
  await withSite(
    LISTING_FILES,
    { lookup: { ...LISTING_ON.lookup, dotfiles: "allow" } },
    async ({ port }) => {
      const rows = listingRows((await get(port, "/listing/")).text);
      const labels = rows.map((r) => r.label);
      assert.ok(labels.includes(".hidden"), labels.join(" "));
      assert.ok(labels.includes(".dotdir/"), labels.join(" "));
      for (const row of rows.filter((r) => r.label.startsWith("."))) {
        const res = await get(port, pathOf(row.href, "/listing/"));
        assert.equal(res.status, 200, row.label);
      }
      const inner = listingRows((await get(port, "/listing/.dotdir/")).text);
      assert.deepEqual(inner.map((r) => r.label), ["../", "x.txt"]);
    },
  );
});

Deno.test("listing: the root has no parent link; dangling links are left out", async () => {
  await withSite(
    { "a.txt": "a\n", "sub/b.txt": "b\n" },
    LISTING_ON,
    async ({ port }) => {
      const rows = listingRows((await get(port, "/")).text);
      assert.deepEqual(rows.map((r) => r.label), ["sub/", "a.txt"]);
    },
    async (site) => {
      await Deno.symlink(`${site.root}/gone.txt`, `${site.root}/dangling.txt`);
    },
  );
});

Deno.test({
  name:
    "listing: symlinks to files outside the root or to dotfiles are not listed",
  fn: async () => {
    await withSite(
      { "dir/ok.txt": "ok\n", "dir/.secret": "dot\n" },
      LISTING_ON,
      async ({ port }) => {
        const rows = listingRows((await get(port, "/dir/")).text);
        for (const row of rows) {
          const res = await get(port, pathOf(row.href, "/dir/"));
          assert.equal(res.status, 200, `listed ${row.label} must serve`);
        }
        assert.deepEqual(rows.map((r) => r.label), ["../", "ok.txt"]);
      },
      async (site) => {
        await Deno.writeTextFile(`${site.outside}/passwd`, "root:x:0:0\n");
        await Deno.symlink(`${site.outside}/passwd`, `${site.root}/dir/out`);
        await Deno.symlink(".secret", `${site.root}/dir/to-dotfile`);
      },
    );
  },
});

Deno.test({
  name:
    "listing: a file named back\\slash.txt (POSIX) is listed and served by the link offered",
  // On Windows a backslash separates path components: no such file exists.
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const files: Files = {
      "share/back\\slash.txt": "bytes behind a backslash\n",
      "share/dir\\name/inner.txt": "inner\n",
    };
    await withSite(files, LISTING_ON, async ({ port }) => {
      const rows = listingRows((await get(port, "/share/")).text);
      assert.deepEqual(rows.map((r) => [r.label, r.href]), [
        ["../", "../"],
        ["dir\\name/", "./dir%5Cname/"],
        ["back\\slash.txt", "./back%5Cslash.txt"],
      ]);
      const file = await get(port, pathOf(rows[2].href, "/share/"));
      assert.equal(file.status, 200);
      assert.equal(file.text, "bytes behind a backslash\n");
      assert.equal(file.header("content-type"), "text/plain; charset=utf-8");
      // A raw backslash names the same file.
      assert.equal((await get(port, "/share/back\\slash.txt")).status, 200);

      const dir = await get(port, pathOf(rows[1].href, "/share/"));
      assert.equal(dir.status, 200);
      const inner = listingRows(dir.text).find((r) => r.label === "inner.txt");
      assert.ok(inner !== undefined, "the directory lists its file");
      const innerFile = await get(
        port,
        pathOf(inner.href, "/share/dir%5Cname/"),
      );
      assert.equal(innerFile.text, "inner\n");
      // Without its slash, the directory redirects to an encoded path that
      // no browser can read as another host (a raw "/\\" would be).
      const redirect = await get(port, "/share/dir%5Cname");
      assert.equal(redirect.status, 301);
      assert.equal(redirect.header("location"), "/share/dir%5Cname/");

      const json = await get(port, "/share/", {
        headers: { Accept: "application/json" },
      });
      const urls = (JSON.parse(json.text) as { url: string }[]).map((e) =>
        e.url
      );
      assert.deepEqual(urls, ["/share/dir%5Cname/", "/share/back%5Cslash.txt"]);
      assert.equal(
        (await get(port, urls[1])).text,
        "bytes behind a backslash\n",
      );
    });
  },
});

// ---------------------------------------------------------------------------
// Dotfiles policy

const DOTFILES: Files = {
  "index.html": "<p>index</p>\n",
  ".well-known/x": "well known\n",
  ".env": "SECRET=1\n",
};

Deno.test("dotfiles: ignore → 404, deny → 403, allow → 200", async () => {
  const expected: [policy: "ignore" | "deny" | "allow", status: number][] = [
    ["ignore", 404],
    ["deny", 403],
    ["allow", 200],
  ];
  for (const [dotfiles, status] of expected) {
    await withSite(
      DOTFILES,
      { lookup: { dotfiles, cleanUrls: false, dirListing: false } },
      async ({ port }) => {
        for (const path of ["/.well-known/x", "/.env", "/%2Eenv"]) {
          const res = await get(port, path);
          assert.equal(res.status, status, `${dotfiles} ${path}`);
          if (status === 200) {
            const file = path.includes("well")
              ? DOTFILES[".well-known/x"]
              : DOTFILES[".env"];
            assert.equal(res.text, file);
          } else {
            assert.ok(!res.text.includes("SECRET"), `${dotfiles} ${path}`);
            assert.equal(res.header("etag"), undefined);
          }
        }
        assert.equal((await get(port, "/")).status, 200);
      },
    );
  }
});

Deno.test("dotfiles: the default (no lookup override) ignores them", async () => {
  await withSite(DOTFILES, {}, async ({ port }) => {
    assert.equal((await get(port, "/.env")).status, 404);
    assert.equal((await get(port, "/.well-known/x")).status, 404);
  });
});

// ---------------------------------------------------------------------------
// Single-page app fallback

const SPA_FILES: Files = {
  "index.html": "<!doctype html><div id=app>spa shell</div>\n",
  "app.css": "body { margin: 0; }\n",
  "about.html": "<p>about page</p>\n",
  "NotFound.html": "<p>custom not found</p>\n",
};

Deno.test("spa: unknown HTML navigations get index.html, other misses stay 404", async () => {
  await withSite(SPA_FILES, { spa: true }, async ({ port }) => {
    const html = "text/html,application/xhtml+xml,*/*;q=0.8";
    for (const path of ["/app/route", "/app/route/", "/x?y=1", "/deep/a/b/c"]) {
      const res = await get(port, path, { headers: { Accept: html } });
      assert.equal(res.status, 200, path);
      assert.equal(res.header("content-type"), "text/html; charset=utf-8");
      assert.equal(res.text, SPA_FILES["index.html"], path);
    }
    const json = await get(port, "/app/route", {
      headers: { Accept: "application/json" },
    });
    assert.equal(json.status, 404);
    const noAccept = await get(port, "/app/route");
    assert.equal(noAccept.status, 404);
    const notHtml = await get(port, "/app/route", {
      headers: { Accept: "text/html;q=0, */*" },
    });
    assert.equal(notHtml.status, 404);
    const script = await get(port, "/app.js", { headers: { Accept: html } });
    assert.equal(script.status, 404);
    assert.equal(script.text, SPA_FILES["NotFound.html"]);
    // Existing files are served as they are.
    const css = await get(port, "/app.css", { headers: { Accept: html } });
    assert.equal(css.status, 200);
    assert.equal(css.text, SPA_FILES["app.css"]);
    const about = await get(port, "/about.html", { headers: { Accept: html } });
    assert.equal(about.text, SPA_FILES["about.html"]);
    const root = await get(port, "/", { headers: { Accept: html } });
    assert.equal(root.text, SPA_FILES["index.html"]);
  });
});

Deno.test("spa: off by default", async () => {
  await withSite(SPA_FILES, {}, async ({ port }) => {
    const res = await get(port, "/app/route", {
      headers: { Accept: "text/html" },
    });
    assert.equal(res.status, 404);
  });
});

// ---------------------------------------------------------------------------
// Clean URLs (on the demo site, read only)

Deno.test("cleanUrls: /about serves about.html, .html forms redirect to the clean form", async () => {
  const server = startTestServer({
    root: STATIC_DIR,
    config: {
      lookup: { dotfiles: "ignore", cleanUrls: true, dirListing: false },
    },
  });
  try {
    const { port } = server;
    const aboutFile = await Deno.readTextFile(`${STATIC_DIR}/about.html`);
    const about = await get(port, "/about");
    assert.equal(about.status, 200);
    assert.equal(about.header("content-type"), "text/html; charset=utf-8");
    assert.equal(about.text, aboutFile);
    const withQuery = await get(port, "/about?lang=en");
    assert.equal(withQuery.status, 200);

    const cases: [from: string, to: string][] = [
      ["/about.html", "/about"],
      ["/about.html?x=1&y=2", "/about?x=1&y=2"],
      ["/docs/index.html", "/docs/"],
      ["/docs/index.html?q", "/docs/?q"],
      ["/index.html", "/"],
    ];
    for (const [from, to] of cases) {
      const res = await get(port, from);
      assert.equal(res.status, 301, from);
      assert.equal(res.header("location"), to, from);
      // The redirect target serves.
      const followed = await get(port, to);
      assert.equal(followed.status, 200, to);
    }
    const docs = await get(port, "/docs/");
    assert.equal(
      docs.text,
      await Deno.readTextFile(`${STATIC_DIR}/docs/index.html`),
    );
    assert.equal((await get(port, "/nope")).status, 404);
    // Other files are untouched.
    assert.equal((await get(port, "/style.css")).status, 200);
  } finally {
    await server.close();
  }
});

Deno.test("cleanUrls: off by default, /about is a 404 and /about.html serves", async () => {
  const server = startTestServer({ root: STATIC_DIR });
  try {
    assert.equal((await get(server.port, "/about")).status, 404);
    assert.equal((await get(server.port, "/about.html")).status, 200);
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// CORS

Deno.test("cors: Access-Control-Allow-Origin on files and errors, preflights answered", async () => {
  const server = startTestServer({ root: STATIC_DIR, config: { cors: true } });
  try {
    const { port } = server;
    const origin = { Origin: "https://app.example" };
    for (
      const [path, status] of [
        ["/style.css", 200],
        ["/missing", 404],
        ["/docs", 301],
      ] as const
    ) {
      const res = await get(port, path, { headers: origin });
      assert.equal(res.status, status, path);
      assert.equal(res.header("access-control-allow-origin"), "*", path);
    }
    const range = await get(port, "/style.css", {
      headers: { ...origin, Range: "bytes=0-9" },
    });
    assert.equal(range.status, 206);
    assert.equal(range.header("access-control-allow-origin"), "*");
    assert.match(
      range.header("access-control-expose-headers") ?? "",
      /Content-Range/,
    );
    const bad = await get(port, "/style.css", { method: "POST" });
    assert.equal(bad.status, 405);
    assert.equal(bad.header("access-control-allow-origin"), "*");

    const preflight = await get(port, "/style.css", {
      method: "OPTIONS",
      headers: {
        ...origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-requested-with, range",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.body.length, 0);
    assert.equal(preflight.header("content-length"), undefined);
    assert.equal(preflight.header("access-control-allow-origin"), "*");
    const methods = preflight.header("access-control-allow-methods") ?? "";
    for (const m of ["GET", "HEAD", "OPTIONS"]) {
      assert.match(methods, new RegExp(m));
    }
    assert.equal(
      preflight.header("access-control-allow-headers"),
      "x-requested-with, range",
    );
    assert.ok(Number(preflight.header("access-control-max-age")) > 0);

    const plain = await get(port, "/style.css", { method: "OPTIONS" });
    assert.equal(plain.status, 200);
    assert.equal(plain.header("allow"), "GET, HEAD, OPTIONS");
    assert.equal(plain.header("content-length"), "0");
    assert.equal(plain.header("access-control-allow-methods"), undefined);
  } finally {
    await server.close();
  }
});

Deno.test("cors: off by default, no CORS fields and OPTIONS preflights get a plain 200", async () => {
  const server = startTestServer({ root: STATIC_DIR });
  try {
    const res = await get(server.port, "/style.css", {
      headers: { Origin: "https://app.example" },
    });
    assert.equal(res.header("access-control-allow-origin"), undefined);
    const preflight = await get(server.port, "/style.css", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example",
        "Access-Control-Request-Method": "GET",
      },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.header("access-control-allow-methods"), undefined);
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// Extra headers

Deno.test("extraHeaders: a field pws also sets is sent once, with the --header value (Vary merged)", async () => {
  const server = startTestServer({
    root: STATIC_DIR,
    config: {
      cors: true,
      extraHeaders: [
        ["Access-Control-Allow-Origin", "https://app.example"],
        ["Vary", "Origin, accept-encoding"],
      ],
    },
  });
  try {
    for (
      const [what, headers] of [
        ["200", {}],
        ["304", { "If-None-Match": "*" }],
        ["206", { Range: "bytes=0-9" }],
        ["gzip", { "Accept-Encoding": "gzip" }],
      ] as const
    ) {
      const res = await get(server.port, "/style.css", { headers });
      assert.equal(res.headerCount("access-control-allow-origin"), 1, what);
      assert.equal(
        res.header("access-control-allow-origin"),
        "https://app.example",
        what,
      );
      assert.equal(res.headerCount("vary"), 1, what);
      assert.equal(res.header("vary"), "Accept-Encoding, Origin", what);
    }
  } finally {
    await server.close();
  }
});

Deno.test("extraHeaders: on 200, 206 and 304 file responses (and compressed ones)", async () => {
  const extraHeaders: [string, string][] = [
    ["X-Frame-Options", "DENY"],
    ["X-Custom", "one, two"],
  ];
  const server = startTestServer({
    root: STATIC_DIR,
    config: { extraHeaders },
  });
  try {
    const { port } = server;
    const check = (res: ParsedResponse, what: string) => {
      assert.equal(res.header("x-frame-options"), "DENY", what);
      assert.equal(res.header("x-custom"), "one, two", what);
      assert.equal(res.headerCount("x-custom"), 1, what);
    };
    const ok = await get(port, "/style.css");
    assert.equal(ok.status, 200);
    check(ok, "200");
    const partial = await get(port, "/style.css", {
      headers: { Range: "bytes=0-9" },
    });
    assert.equal(partial.status, 206);
    check(partial, "206");
    const multi = await get(port, "/style.css", {
      headers: { Range: "bytes=0-9,1000-1009" },
    });
    assert.equal(multi.status, 206);
    check(multi, "206 multipart");
    const notModified = await get(port, "/style.css", {
      headers: { "If-None-Match": ok.header("etag")! },
    });
    assert.equal(notModified.status, 304);
    check(notModified, "304");
    const gzip = await get(port, "/style.css", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(gzip.header("content-encoding"), "gzip");
    check(gzip, "200 gzip");
    const head = await get(port, "/", { method: "HEAD" });
    check(head, "HEAD");
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// Access log (the command-line server)

const LOG_LINE =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\S+) (\S+) (\S+) (\d{3}) (\d+) (\d+(?:\.\d)?)ms$/;

/** The log lines of a stopped server: stdout minus the startup line. */
function logLines(stdout: string): string[] {
  const lines = stdout.split("\n").filter((l) => l !== "");
  assert.match(lines[0] ?? "", /^pws \S+ serving /);
  return lines.slice(1);
}

interface LoggedRequest {
  method: string;
  target: string;
  status: number;
  wireBytes: number;
  bodyBytes: number;
}

/** The protocol the access log names for this run's requests. */
const LOGGED_PROTOCOL = PROTOCOL === "h2" ? "HTTP/2" : "HTTP/1.1";

/**
 * Checks the logged byte count: over HTTP/1.1 every byte on the wire;
 * over HTTP/2 the frames of the response, which the client cannot count
 * (HPACK), so at least one frame header and the content, and no more
 * than the HTTP/1.1 form plus a frame header per 16 KiB of content.
 */
function assertLoggedBytes(logged: number, sent: LoggedRequest, line: string) {
  if (PROTOCOL === "http/1.1") {
    assert.equal(logged, sent.wireBytes, line);
    return;
  }
  const frames = 2 + Math.ceil(sent.bodyBytes / 16_384);
  assert.ok(logged >= 9 + sent.bodyBytes, `${line}: ${logged} bytes`);
  assert.ok(logged <= sent.wireBytes + 9 * frames, `${line}: ${logged} bytes`);
}

/** Sends a fixed set of requests, one connection each. */
async function sendLoggedRequests(port: number): Promise<LoggedRequest[]> {
  const plan: [string, string][] = [
    ["GET", "/"],
    ["GET", "/style.css?v=1"],
    ["HEAD", "/about.html"],
    ["GET", "/missing-page"],
    ["GET", "/docs"],
    ["POST", "/"],
  ];
  const sent: LoggedRequest[] = [];
  for (const [method, target] of plan) {
    const { res, wireBytes } = await fetchRaw(port, target, { method });
    sent.push({
      method,
      target,
      status: res.status,
      wireBytes,
      bodyBytes: res.body.length,
    });
  }
  return sent;
}

Deno.test("access log: one text line per request with method, path, status and bytes", async () => {
  const server = await spawnServer([
    "0",
    "--host",
    "127.0.0.1",
    "--root",
    STATIC_DIR,
  ]);
  let sent: LoggedRequest[] = [];
  try {
    sent = await sendLoggedRequests(server.port);
  } finally {
    const { stdout } = await server.stop();
    const lines = logLines(stdout);
    assert.equal(lines.length, sent.length, stdout);
    lines.forEach((line, i) => {
      assert.ok(!line.includes("\x1b"), "no colour into a pipe");
      const m = LOG_LINE.exec(line);
      assert.ok(m, `log line shape: ${JSON.stringify(line)}`);
      const [, time, remote, user, method, target, protocol, status, bytes] = m;
      assert.equal(protocol, LOGGED_PROTOCOL, line);
      assert.ok(Math.abs(Date.parse(time) - Date.now()) < 60_000);
      assert.equal(remote, "127.0.0.1");
      assert.equal(user, "-", "no --auth: no user");
      assert.equal(method, sent[i].method, line);
      assert.equal(target, sent[i].target, line);
      assert.equal(Number(status), sent[i].status, line);
      assertLoggedBytes(Number(bytes), sent[i], line);
    });
    assert.deepEqual(
      sent.map((s) => s.status),
      [200, 200, 200, 404, 301, 405],
    );
  }
});

Deno.test("access log: --log-format json writes one JSON object per line, and nothing else on stdout", async () => {
  const server = await spawnServer([
    "0",
    "--host",
    "127.0.0.1",
    "--root",
    STATIC_DIR,
    "--log-format",
    "json",
  ]);
  let sent: LoggedRequest[] = [];
  try {
    sent = await sendLoggedRequests(server.port);
  } finally {
    const { stdout, stderr } = await server.stop();
    // stdout is a clean JSON Lines file (jq reads it); the banner and
    // pws's own remarks are on stderr.
    const lines = stdout.split("\n").filter((l) => l !== "");
    assert.match(stderr, /^pws \S+ serving /);
    assert.equal(lines.length, sent.length, stdout);
    lines.forEach((line, i) => {
      const entry = JSON.parse(line);
      assert.equal(entry.remote, "127.0.0.1");
      assert.equal(entry.user, null, "no --auth: no user");
      assert.equal(entry.method, sent[i].method);
      assert.equal(entry.target, sent[i].target);
      assert.equal(entry.protocol, LOGGED_PROTOCOL);
      assert.equal(entry.status, sent[i].status);
      assertLoggedBytes(entry.bytes, sent[i], line);
      assert.equal(typeof entry.durationMs, "number");
      assert.ok(!Number.isNaN(Date.parse(entry.time)));
    });
  }
});

// HTTP/1.1 only: an unreadable HTTP/1.1 request and pipelining.
Deno.test(
  "access log: pipelined requests log in order; an unreadable request logs as - -",
  { ignore: PROTOCOL === "h2" },
  async () => {
    const server = await spawnServer([
      "0",
      "--host",
      "127.0.0.1",
      "--root",
      STATIC_DIR,
    ]);
    let bad = 0;
    let pipelined: ParsedResponse[] = [];
    try {
      bad = (await rawExchange(server.port, "NOT HTTP\r\n\r\n")).bytes.length;
      const result = await rawExchange(
        server.port,
        [
          "GET /about.html HTTP/1.1\r\nHost: x\r\n\r\n",
          "HEAD /images/logo.svg HTTP/1.1\r\nHost: x\r\n\r\n",
          "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ].join(""),
      );
      pipelined = parseResponses(result.bytes, {
        methods: ["GET", "HEAD", "GET"],
      });
    } finally {
      const { stdout } = await server.stop();
      const lines = logLines(stdout).map((l) => LOG_LINE.exec(l));
      assert.ok(lines.every((m) => m !== null), stdout);
      const fields = lines.map((m) => [m![4], m![5], m![6], Number(m![7])]);
      assert.deepEqual(fields, [
        ["-", "-", "-", 400],
        ["GET", "/about.html", "HTTP/1.1", 200],
        ["HEAD", "/images/logo.svg", "HTTP/1.1", 200],
        ["GET", "/nope", "HTTP/1.1", 404],
      ]);
      assert.equal(Number(lines[0]![8]), bad);
      assert.equal(pipelined.length, 3);
    }
  },
);

Deno.test("access log: --quiet and -q print no lines", async () => {
  for (const flag of ["--quiet", "-q"]) {
    const server = await spawnServer([
      "0",
      "--host",
      "127.0.0.1",
      "--root",
      STATIC_DIR,
      flag,
    ]);
    try {
      await sendLoggedRequests(server.port);
    } finally {
      const { stdout } = await server.stop();
      assert.deepEqual(logLines(stdout), [], flag);
    }
  }
});

/**
 * Sends `count` GET requests one after another on one keep-alive
 * connection and returns the elapsed milliseconds.
 */
async function timeKeepAlive(
  port: number,
  target: string,
  count: number,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    conn.setNoDelay(true);
    const request = encoder.encode(
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    let buffer = new Uint8Array(256 * 1024);
    let end = 0;
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      let offset = 0;
      while (offset < request.length) {
        offset += await conn.write(request.subarray(offset));
      }
      while (true) {
        const step = parseOneResponse(buffer, 0, "GET");
        // parseOneResponse looks at the whole buffer; keep only real bytes.
        if (step !== undefined && step.next <= end) {
          assert.equal(step.response.status, 200);
          buffer.copyWithin(0, step.next, end);
          end -= step.next;
          break;
        }
        if (end === buffer.length) {
          const bigger = new Uint8Array(buffer.length * 2);
          bigger.set(buffer);
          buffer = bigger;
        }
        const n = await conn.read(buffer.subarray(end));
        if (n === null) throw new Error(`connection closed after ${i}`);
        end += n;
        buffer.fill(0, end);
      }
    }
    return performance.now() - started;
  } finally {
    conn.close();
  }
}

// HTTP/1.1 only: it times HTTP/1.1 keep-alive requests; the log it measures is the same for both protocols.
Deno.test(
  "access log: logging to a drained pipe does not slow serving (2000 keep-alive requests)",
  { ignore: PROTOCOL === "h2" },
  async () => {
    const args = ["0", "--host", "127.0.0.1", "--root", STATIC_DIR];
    const quiet = await spawnServer([...args, "--quiet"]);
    const logged = await spawnServer(args);
    const N = 2000;
    const quietTimes: number[] = [];
    const loggedTimes: number[] = [];
    let loggedRequests = 0;
    try {
      // Warm both servers (JIT, file cache) before timing.
      await timeKeepAlive(quiet.port, "/style.css", 300);
      await timeKeepAlive(logged.port, "/style.css", 300);
      loggedRequests += 300;
      for (let round = 0; round < 3; round++) {
        quietTimes.push(await timeKeepAlive(quiet.port, "/style.css", N));
        loggedTimes.push(await timeKeepAlive(logged.port, "/style.css", N));
        loggedRequests += N;
      }
    } finally {
      await quiet.stop();
      const { stdout } = await logged.stop();
      const lines = logLines(stdout);
      assert.equal(lines.length, loggedRequests, "every request was logged");
      assert.ok(
        lines.every((l) => l.includes(" GET /style.css HTTP/1.1 200 ")),
      );
    }
    const best = (times: number[]) => Math.min(...times);
    const fmt = (times: number[]) =>
      times.map((t) => `${t.toFixed(0)} ms`).join(", ");
    console.log(
      `${N} keep-alive requests: quiet ${fmt(quietTimes)} (best ${
        best(quietTimes).toFixed(0)
      } ms, ${(N / best(quietTimes) * 1000).toFixed(0)} req/s); ` +
        `logged ${fmt(loggedTimes)} (best ${best(loggedTimes).toFixed(0)} ms, ${
          (N / best(loggedTimes) * 1000).toFixed(0)
        } req/s); ratio ${(best(loggedTimes) / best(quietTimes)).toFixed(2)}`,
    );
    assert.ok(
      best(loggedTimes) <= 2 * best(quietTimes),
      `logging made serving more than 2× slower`,
    );
  },
);
