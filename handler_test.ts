/**
 * End-to-end tests of pws over real sockets: an in-process server, raw
 * request bytes, and every status and error path of the spec.
 *
 * @module
 */

import assert from "node:assert/strict";
import denoJson from "./deno.json" with { type: "json" };
import {
  afterWatcher,
  commandAvailable,
  connect,
  curlProtocolArgs,
  curlTrustArgs,
  FIXTURE_FILES,
  FIXTURE_PNG,
  type FixtureTree,
  makeFixtureTree,
  type ParsedResponse,
  parseOneResponse,
  parseResponses,
  PROTOCOL,
  rawExchange,
  type RawExchangeOptions,
  type RawExchangeResult,
  STATIC_DIR,
  TRANSPORT,
  vanishMidDownload,
  wgetTrustArgs,
  withServer,
} from "./tests/helpers.ts";
import type { RunningServer } from "./server/server.ts";

const VERSION: string = denoJson.version;
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const HTML = "text/html; charset=utf-8";
const ALLOW = "GET, HEAD, OPTIONS";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------
// Probes run once, so that skipped tests say why at registration time.

const HAS_MKFIFO = await commandAvailable("mkfifo");
const HAS_CURL = await commandAvailable("curl");
const HAS_WGET = await commandAvailable("wget");
const MODES_ENFORCED = await (async () => {
  const path = await Deno.makeTempFile({ prefix: "pws_mode_probe_" });
  try {
    await Deno.chmod(path, 0o000);
    await Deno.readFile(path);
    return false; // root (or CAP_DAC_OVERRIDE) reads mode 000 files anyway
  } catch {
    return true;
  } finally {
    await Deno.remove(path);
  }
})();

// ---------------------------------------------------------------------------
// Small helpers

/** A GET request for `target` with a Host field and optional extra lines. */
function get(target: string, extraLines = ""): string {
  return `GET ${target} HTTP/1.1\r\nHost: test\r\n${extraLines}\r\n`;
}

/** A request with any method and version. */
function request(
  method: string,
  target: string,
  extraLines = "",
  version = "HTTP/1.1",
): string {
  return `${method} ${target} ${version}\r\nHost: test\r\n${extraLines}\r\n`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Checks the fields every pws response carries. */
function assertCommonFields(res: ParsedResponse, label: string): void {
  assert.equal(res.version, "HTTP/1.1", `${label}: status line version`);
  assert.match(res.header("date") ?? "", IMF_FIXDATE, `${label}: Date`);
  assert.equal(res.headerCount("date"), 1, `${label}: one Date`);
  assert.equal(res.header("server"), `pws/${VERSION}`, `${label}: Server`);
  assert.equal(
    res.headerCount("content-length"),
    1,
    `${label}: one Content-Length`,
  );
  assert.match(res.header("content-length")!, /^\d+$/, `${label}: CL`);
}

interface Exchanged extends RawExchangeResult {
  responses: ParsedResponse[];
}

/**
 * Sends raw bytes, splits the answer into responses and checks the common
 * fields of each.
 */
async function exchange(
  port: number,
  bytes: string | Uint8Array | readonly (string | Uint8Array)[],
  options: RawExchangeOptions & { methods?: readonly string[] } = {},
): Promise<Exchanged> {
  const result = await rawExchange(port, bytes, options);
  const responses = parseResponses(result.bytes, { methods: options.methods });
  responses.forEach((r, i) =>
    assertCommonFields(r, `response #${i + 1} (${r.status})`)
  );
  return { ...result, responses };
}

/** Sends one request and returns its single response. */
async function fetchOne(
  port: number,
  bytes: string | Uint8Array,
  options: RawExchangeOptions & { method?: string } = {},
): Promise<ParsedResponse> {
  const ex = await exchange(port, bytes, {
    ...options,
    methods: [options.method ?? "GET"],
  });
  assert.equal(
    ex.responses.length,
    1,
    `expected one response to ${JSON.stringify(String(bytes).slice(0, 80))}`,
  );
  return ex.responses[0];
}

/** Runs `fn` with a fresh fixture tree served by an in-process server. */
async function withFixture(
  fn: (server: RunningServer, fx: FixtureTree) => Promise<void>,
): Promise<void> {
  await using fx = await makeFixtureTree();
  await withServer((server) => fn(server, fx), { root: fx.root });
}

/** Paths of the files the process has open, from /proc/self/fd. */
function openFiles(): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      out.push(Deno.readLinkSync(`/proc/self/fd/${entry.name}`));
    } catch {
      // the descriptor of the directory listing itself, already gone
    }
  }
  return out;
}

/**
 * A persistent client connection for keep-alive tests: send, then read one
 * response at a time.
 */
class Client implements Disposable {
  #buffer = new Uint8Array(0);
  #closed = false;

  private constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<Client> {
    const conn = await connect(port);
    (conn as Deno.TcpConn).setNoDelay?.(true);
    return new Client(conn);
  }

  async send(data: string): Promise<void> {
    const bytes = encoder.encode(data);
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  /** Reads one whole response; throws on close or after `timeoutMs`. */
  async response(method = "GET", timeoutMs = 3000): Promise<ParsedResponse> {
    const timer = setTimeout(() => this.close(), timeoutMs);
    try {
      const buf = new Uint8Array(64 * 1024);
      while (true) {
        const step = parseOneResponse(this.#buffer, 0, method);
        if (step !== undefined) {
          this.#buffer = this.#buffer.slice(step.next);
          assertCommonFields(step.response, `${method} response`);
          return step.response;
        }
        const n = await this.conn.read(buf);
        if (n === null) throw new Error("server closed before a response");
        const grown = new Uint8Array(this.#buffer.length + n);
        grown.set(this.#buffer);
        grown.set(buf.subarray(0, n), this.#buffer.length);
        this.#buffer = grown;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits up to `timeoutMs` for the server to close; true if it did, false
   * if the connection stayed open (then it is closed here). Extra bytes
   * are an error.
   */
  async closedByServer(timeoutMs: number): Promise<boolean> {
    if (this.#buffer.length > 0) {
      throw new Error(`unexpected bytes: ${decoder.decode(this.#buffer)}`);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    try {
      const n = await this.conn.read(new Uint8Array(1024));
      if (n !== null) throw new Error(`unexpected bytes after response`);
      return true;
    } catch (err) {
      if (timedOut) return false;
      if (err instanceof Deno.errors.ConnectionReset) return true;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

// ---------------------------------------------------------------------------
// The helpers themselves

Deno.test("parseResponses splits a stream by Content-Length, chunked framing and bodiless statuses", () => {
  const stream = encoder.encode(
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
      "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" + // HEAD: no body
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n" +
      "HTTP/1.1 204 No Content\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n" +
      "HTTP/1.1 404 Not Found\r\nX-A: 1\r\nx-a: 2\r\n\r\nuntil close",
  );
  const cases: [status: number, body: string][] = [
    [200, "hello"],
    [200, ""],
    [304, ""],
    [204, ""],
    [200, "abcde"],
    [404, "until close"],
  ];
  const responses = parseResponses(stream, {
    methods: ["GET", "HEAD", "GET", "GET", "GET", "GET"],
  });
  assert.deepEqual(responses.map((r) => [r.status, r.text]), cases);
  assert.equal(responses[5].header("x-a"), "1, 2");
  assert.equal(responses[5].headerCount("x-a"), 2);
  assert.equal(responses[2].reason, "Not Modified");
});

Deno.test("parseResponses refuses a truncated body unless told to allow it", () => {
  const stream = encoder.encode(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
  );
  assert.throws(() => parseResponses(stream), /incomplete response #2/);
  const partial = parseResponses(stream, { allowIncomplete: true });
  assert.equal(partial.length, 1);
  assert.equal(partial[0].text, "ok");
});

// ---------------------------------------------------------------------------
// Serving files

Deno.test("GET / serves the root index.html with its exact bytes and validators", async () => {
  await withFixture(async (server, fx) => {
    const res = await fetchOne(server.port, get("/"));
    assert.equal(res.status, 200);
    assert.equal(res.reason, "OK");
    assert.equal(res.text, FIXTURE_FILES["index.html"]);
    assert.equal(res.header("content-type"), HTML);
    assert.equal(
      res.header("content-length"),
      String(encoder.encode(FIXTURE_FILES["index.html"]).length),
    );
    const mtime = (await Deno.stat(`${fx.root}/index.html`)).mtime!;
    assert.match(res.header("last-modified") ?? "", IMF_FIXDATE);
    assert.equal(
      Date.parse(res.header("last-modified")!),
      Math.floor(mtime.getTime() / 1000) * 1000,
    );
  });
});

Deno.test("HEAD sends the same header fields as GET and no body", async () => {
  await withFixture(async (server) => {
    for (const target of ["/", "/style.css", "/missing", "/docs", "/sub/"]) {
      const ex = await exchange(
        server.port,
        request("GET", target) + request("HEAD", target),
        { methods: ["GET", "HEAD"] },
      );
      // parseResponses would have thrown on any byte after the HEAD head.
      assert.equal(ex.responses.length, 2, target);
      const [full, head] = ex.responses;
      const withoutDate = (r: ParsedResponse) =>
        r.headerList.filter(([n]) => n.toLowerCase() !== "date");
      assert.deepEqual(withoutDate(head), withoutDate(full), target);
      assert.equal(head.status, full.status, target);
      assert.equal(head.body.length, 0, target);
      assert.ok(full.body.length > 0, `${target}: GET has a body`);
    }
  });
});

Deno.test("Content-Type has a charset for text types and none for images", async () => {
  await withFixture(async (server) => {
    const cases: [target: string, type: string][] = [
      ["/", HTML],
      ["/sub/page.html", HTML],
      ["/style.css", "text/css; charset=utf-8"],
      ["/notes.txt", "text/plain; charset=utf-8"],
      ["/image.png", "image/png"],
    ];
    for (const [target, type] of cases) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 200, target);
      assert.equal(res.header("content-type"), type, target);
    }
    const png = await fetchOne(server.port, get("/image.png"));
    assert.deepEqual(png.body, FIXTURE_PNG);
  });
});

Deno.test("Last-Modified is sent for files only, never for redirects, errors or OPTIONS", async () => {
  await withFixture(async (server) => {
    const cases: [name: string, req: string, status: number, has: boolean][] = [
      ["file", get("/notes.txt"), 200, true],
      ["directory index", get("/sub/"), 200, true],
      ["redirect", get("/sub"), 301, false],
      ["not found", get("/nope.txt"), 404, false],
      // A malformed escape: a 400 in both protocols.
      ["bad request", get("/%zz"), 400, false],
      ["method not allowed", request("DELETE", "/notes.txt"), 405, false],
      ["options", request("OPTIONS", "/notes.txt"), 200, false],
    ];
    for (const [name, req, status, has] of cases) {
      const res = await fetchOne(server.port, req);
      assert.equal(res.status, status, name);
      assert.equal(res.header("last-modified") !== undefined, has, name);
      if (status !== 200 || name === "options") {
        assert.equal(res.header("etag"), undefined, `${name}: no ETag`);
      }
    }
  });
});

Deno.test("odd names, empty files and symlinks within the root are served", async () => {
  await withFixture(async (server) => {
    const cases: [target: string, body: string][] = [
      ["/with%20space.txt", FIXTURE_FILES["with space.txt"]],
      [
        `/${encodeURIComponent("ünïcødé-文件.txt")}`,
        FIXTURE_FILES["ünïcødé-文件.txt"],
      ],
      ["/link-inside.txt", FIXTURE_FILES["notes.txt"]],
      ["/sub/page.html", FIXTURE_FILES["sub/page.html"]],
      ["/sub/index.html", FIXTURE_FILES["sub/index.html"]],
      ["/notes.txt?query=ignored&x", FIXTURE_FILES["notes.txt"]],
      ["/./sub/./page.html", FIXTURE_FILES["sub/page.html"]],
      ["/empty.txt", ""],
    ];
    for (const [target, body] of cases) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 200, target);
      assert.equal(res.text, body, target);
      assert.equal(res.header("content-length"), String(res.body.length));
    }
  });
});

Deno.test("files around the 64 KiB streaming threshold arrive whole", async () => {
  await withFixture(async (server, fx) => {
    for (const size of [65535, 65536, 65537, 300_001]) {
      const content = new Uint8Array(size);
      for (let i = 0; i < size; i++) content[i] = (i * 31 + (i >> 8)) & 0xff;
      await Deno.writeFile(`${fx.root}/blob-${size}.bin`, content);
      const res = await fetchOne(server.port, get(`/blob-${size}.bin`));
      assert.equal(res.status, 200, `size ${size}`);
      assert.equal(res.header("content-length"), String(size));
      assert.equal(res.header("content-type"), "application/octet-stream");
      assert.deepEqual(res.body, content, `size ${size}: exact bytes`);
    }
  });
});

// ---------------------------------------------------------------------------
// Not found, redirects and containment

Deno.test("a missing file gets 404 with the root's NotFound.html and no validators", async () => {
  await withFixture(async (server) => {
    for (const target of ["/missing.html", "/sub/missing", "/a/b/c/d"]) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 404, target);
      assert.equal(res.reason, "Not Found");
      assert.equal(res.text, FIXTURE_FILES["NotFound.html"], target);
      assert.equal(res.header("content-type"), HTML);
      assert.equal(res.header("etag"), undefined);
      assert.equal(res.header("last-modified"), undefined);
    }
  });
});

Deno.test("without NotFound.html a built-in 404 page is sent", async () => {
  await withFixture(async (server, fx) => {
    await Deno.remove(`${fx.root}/NotFound.html`);
    const res = await fetchOne(server.port, get("/missing.html"));
    assert.equal(res.status, 404);
    assert.match(res.text, /404 Not Found/);
    assert.doesNotMatch(res.text, /fixture not found page/);
    assert.equal(res.header("content-type"), HTML);
    assert.equal(res.header("last-modified"), undefined);
  });
});

Deno.test("a directory without a trailing slash redirects to the slash form, keeping the query", async () => {
  await withFixture(async (server) => {
    const cases: [target: string, location: string][] = [
      ["/docs", "/docs/"],
      ["/docs?x=1", "/docs/?x=1"],
      ["/sub?a=b&c=%20d", "/sub/?a=b&c=%20d"],
      ["/noindex", "/noindex/"],
      ["/evil.example/dir", "/evil.example/dir/"],
      ["/with%20space.txt/../docs", "/docs/"],
      ["http://test/docs?y", "/docs/?y"],
    ];
    for (const [target, location] of cases) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 301, target);
      assert.equal(res.reason, "Moved Permanently");
      assert.equal(res.header("location"), location, target);
      assert.equal(res.header("last-modified"), undefined);
    }
    // The redirect target really serves the directory index.
    const docs = await fetchOne(server.port, get("/docs/?x=1"));
    assert.equal(docs.status, 200);
    assert.equal(docs.text, FIXTURE_FILES["docs/index.html"]);
  });
});

Deno.test("a target starting with // never yields a Location that leaves the site", async () => {
  await withFixture(async (server) => {
    const targets = [
      "//evil.example/dir",
      "//evil.example/dir?next=1",
      "///evil.example/dir",
      "/%2fevil.example/dir",
      "/%2F%2Fevil.example/dir",
      "//evil.example",
      "//evil.example/",
      "/./evil.example/dir",
      "/..//evil.example/dir",
      "/\\evil.example/dir",
      "/%5cevil.example/dir",
      "http://test//evil.example/dir",
    ];
    for (const target of targets) {
      const res = await fetchOne(server.port, get(target));
      assert.ok(
        [200, 301, 400, 404].includes(res.status),
        `${target}: ${res.status}`,
      );
      if (res.status === 301) {
        const location = res.header("location")!;
        assert.match(location, /^\/[^/\\]/, `${target} → ${location}`);
        assert.ok(!location.includes(".."), `${target} → ${location}`);
      }
    }
    const res = await fetchOne(server.port, get("//evil.example/dir"));
    assert.equal(res.status, 301);
    assert.equal(res.header("location"), "/evil.example/dir/");
  });
});

Deno.test("a directory without index.html is 404", async () => {
  await withFixture(async (server) => {
    const res = await fetchOne(server.port, get("/noindex/"));
    assert.equal(res.status, 404);
    assert.equal(res.text, FIXTURE_FILES["NotFound.html"]);
    const inside = await fetchOne(server.port, get("/noindex/file.txt"));
    assert.equal(inside.status, 200);
  });
});

Deno.test("a path that continues through a file is 404", async () => {
  await withFixture(async (server) => {
    for (const target of ["/index.html/x", "/index.html/", "/notes.txt/"]) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 404, target);
      assert.equal(res.text, FIXTURE_FILES["NotFound.html"], target);
    }
  });
});

Deno.test("dotfiles and dot-directories are 404, also through symlinks and encodings", async () => {
  await withFixture(async (server) => {
    const targets = [
      "/.secret",
      "/%2esecret",
      "/.git/config",
      "/.git%2fconfig",
      "/.git/",
      "/.git",
      "/sub/.hidden",
      "/link-to-dotfile.txt",
      "/sub/../.secret",
    ];
    for (const target of targets) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 404, target);
      assert.equal(res.text, FIXTURE_FILES["NotFound.html"], target);
    }
  });
});

Deno.test("symlinks whose target is outside the root are 404", async () => {
  await withFixture(async (server, fx) => {
    const targets = [
      "/link-outside.txt",
      "/link-outside-dir/secret.txt",
      "/link-outside-dir/",
      "/link-outside-dir/index.html",
    ];
    for (const target of targets) {
      const res = await fetchOne(server.port, get(target));
      assert.equal(res.status, 404, target);
      assert.ok(!res.text.includes(fx.marker), `${target} leaked the marker`);
    }
  });
});

Deno.test({
  name: "a symlinked directory outside the root is 404 even without a slash",
  async fn() {
    await withFixture(async (server) => {
      const res = await fetchOne(server.port, get("/link-outside-dir"));
      assert.equal(res.status, 404);
      assert.equal(res.header("location"), undefined);
    });
  },
});

Deno.test({
  name: "a FIFO in the root is 404 at once and does not hang the server" +
    (HAS_MKFIFO ? "" : " (skipped: mkfifo is not available)"),
  ignore: !HAS_MKFIFO,
  async fn() {
    await withFixture(async (server, fx) => {
      assert.ok(fx.hasFifo, "the fixture has its FIFO");
      const ex = await exchange(
        server.port,
        get("/fifo") + get("/notes.txt"),
        { timeoutMs: 3000 },
      );
      assert.ok(!ex.timedOut, "the FIFO request must not hang");
      assert.ok(ex.elapsedMs < 1000, `took ${ex.elapsedMs} ms`);
      assert.deepEqual(ex.responses.map((r) => r.status), [404, 200]);
      assert.equal(ex.responses[0].text, FIXTURE_FILES["NotFound.html"]);
    });
  },
});

Deno.test({
  name: "a file with mode 000 is answered with 403" +
    (MODES_ENFORCED
      ? ""
      : " (skipped: running as root, where mode 000 files stay readable)"),
  ignore: !MODES_ENFORCED,
  async fn() {
    await withFixture(async (server, fx) => {
      assert.ok(fx.modesEnforced);
      const res = await fetchOne(server.port, get("/locked.txt"));
      assert.equal(res.status, 403);
      assert.doesNotMatch(res.text, /mode 000/);
      assert.equal(res.header("last-modified"), undefined);
    });
  },
});

Deno.test("a file deleted between requests is 404 on the next request", async () => {
  await withFixture(async (server, fx) => {
    await Deno.writeTextFile(`${fx.root}/temp.txt`, "here for now\n");
    const before = await fetchOne(server.port, get("/temp.txt"));
    assert.equal(before.status, 200);
    assert.equal(before.text, "here for now\n");
    await Deno.remove(`${fx.root}/temp.txt`);
    await afterWatcher();
    const after = await fetchOne(server.port, get("/temp.txt"));
    assert.equal(after.status, 404);
    assert.equal(after.text, FIXTURE_FILES["NotFound.html"]);
  });
});

/** Path-traversal request-targets, all aimed at files outside the root. */
function traversalVectors(): string[] {
  const dots = [
    "..",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%252e%252e",
    "%c0%ae%c0%ae",
    "..;",
    "%2e%2e%00",
  ];
  const slashes = ["/", "%2f", "%2F", "\\", "%5c", "%5C", "%252f", "//"];
  const out: string[] = [];
  for (const dot of dots) {
    for (const slash of slashes) {
      out.push(`/${dot}${slash}outside/secret.txt`);
    }
    out.push(`/${`${dot}/`.repeat(12)}etc/passwd`);
    out.push(`/${`${dot}%2f`.repeat(12)}etc%2fpasswd`);
  }
  out.push(
    "/..",
    "/../",
    "/%2e%2e",
    "/sub/..",
    "/sub/../..",
    "/sub/../../outside/secret.txt",
    "/sub/%2e%2e/%2e%2e/outside/secret.txt",
    "/outside/secret.txt/..",
    "/../outside/..",
    "/noindex/../../outside",
    "/../outside",
    "/" + "../".repeat(60) + "etc/passwd",
    "/" + "..%2f".repeat(60) + "etc/passwd",
    "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2f..",
    "/%2f../outside/secret.txt",
    "/....//....//outside/secret.txt",
    "/.../outside/secret.txt",
    "/.%00./outside/secret.txt",
    "/%%32%65%%32%65/outside/secret.txt",
    "/%u002e%u002e/outside/secret.txt",
    "/..%c0%af../outside/secret.txt",
    "/..%ef%bc%8f../outside/secret.txt",
    "/..\\..\\..\\etc\\passwd",
    "/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
    "/.%2e/.%2e/.%2e/etc/passwd",
    "/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/link-outside-dir/../outside/secret.txt",
    "/link-outside-dir/%2e%2e/outside/secret.txt",
    "http://x/../../etc/passwd",
    "http://x/../outside/secret.txt",
    "HTTP://x/%2e%2e/outside/secret.txt",
    "http://x/..",
    "http://../outside/secret.txt",
    "\\..\\outside\\secret.txt",
    "../outside/secret.txt",
    "..%2foutside%2fsecret.txt",
    "file:///etc/passwd",
  );
  return out;
}

Deno.test("path traversal vectors never reach a file outside the root", async () => {
  await withFixture(async (server, fx) => {
    // An HTTP/2 :path starts with "/" (an absolute-form target becomes
    // :authority and :path); other target forms are HTTP/1.1's grammar.
    const vectors = traversalVectors().filter((target) =>
      PROTOCOL === "http/1.1" || target.startsWith("/") ||
      /^https?:\/\//i.test(target)
    );
    assert.ok(vectors.length >= 60, `${vectors.length} vectors`);
    const rootFiles = new Set(Object.values(FIXTURE_FILES));
    for (const target of vectors) {
      const res = await fetchOne(server.port, get(target));
      const what = `${JSON.stringify(target)} → ${res.status}`;
      assert.ok(!res.text.includes(fx.marker), `${what} leaked the marker`);
      assert.ok(!res.text.includes("root:x:0:0"), `${what} leaked passwd`);
      switch (res.status) {
        case 400:
          break;
        case 404:
          assert.equal(res.text, FIXTURE_FILES["NotFound.html"], what);
          break;
        case 301: {
          const location = res.header("location") ?? "";
          assert.match(location, /^\/[^/\\]/, `${what} Location ${location}`);
          assert.ok(!location.includes(".."), `${what} Location ${location}`);
          break;
        }
        case 200:
          // Only dot-segments that resolve back into the root may succeed.
          assert.ok(rootFiles.has(res.text), `${what} served ${res.text}`);
          break;
        default:
          assert.fail(`${what}: unexpected status`);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Malformed requests

// HTTP/1.1 only: the request-line grammar of RFC 9112 §3 (HTTP/2 has pseudo-fields).
Deno.test("malformed request lines are 400 and close the connection", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const host = "Host: test\r\n\r\n";
    const cases: [name: string, bytes: string | Uint8Array][] = [
      ["no version (HTTP/0.9 style)", "GET /\r\n\r\n"],
      ["empty target", `GET  HTTP/1.1\r\n${host}`],
      ["two spaces before the target", `GET  / HTTP/1.1\r\n${host}`],
      ["extra token after the version", `GET / HTTP/1.1 x\r\n${host}`],
      ["lowercase protocol name", `GET / http/1.1\r\n${host}`],
      ["non-digit minor version", `GET / HTTP/1.x\r\n${host}`],
      ["two-digit minor version", `GET / HTTP/1.10\r\n${host}`],
      ["missing minor version", `GET / HTTP/1\r\n${host}`],
      ["leading space", ` GET / HTTP/1.1\r\n${host}`],
      ["tabs as separators", `GET\t/\tHTTP/1.1\r\n${host}`],
      ["space inside the target", `GET /a b HTTP/1.1\r\n${host}`],
      ["control byte before the method", `\x01GET / HTTP/1.1\r\n${host}`],
      ["DEL in the target", `GET /\x7f HTTP/1.1\r\n${host}`],
      ["raw UTF-8 in the target", encoder.encode(`GET /é HTTP/1.1\r\n${host}`)],
      ["separator in the method", `G(T / HTTP/1.1\r\n${host}`],
      ["no method", `/ HTTP/1.1\r\n${host}`],
      ["NUL in the target", `GET /a\0b HTTP/1.1\r\n${host}`],
      ["bare CR ending the request line", `GET / HTTP/1.1\r${host}`],
      [
        "TLS handshake bytes",
        "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
      ],
      ["head cut off by the client", "GET / HTTP/1.1\r\nHost: te"],
    ];
    for (const [name, bytes] of cases) {
      const closeWrite = name === "head cut off by the client";
      const ex = await exchange(server.port, bytes, {
        closeWrite,
        timeoutMs: 3000,
      });
      assert.deepEqual(ex.responses.map((r) => r.status), [400], name);
      assert.equal(ex.responses[0].reason, "Bad Request", name);
      assert.equal(ex.responses[0].header("connection"), "close", name);
      assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
    }
  });
});

// HTTP/1.1 only: the field-line grammar of RFC 9112 §5 (HTTP/2 fields are HPACK-coded).
Deno.test("malformed header sections are 400 and close the connection", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [name: string, fields: string][] = [
      ["space before the colon", "Host : test\r\n"],
      ["tab before the colon", "Host\t: test\r\n"],
      ["space before the colon in another field", "Host: t\r\nX-A : 1\r\n"],
      ["bare CR in a value", "Host: t\r\nX-A: a\rb\r\n"],
      ["bare CR as a line end", "Host: t\rX-A: b\r\n"],
      ["NUL in a value", "Host: t\r\nX-A: a\0b\r\n"],
      ["NUL in a name", "Host: t\r\nX-\0A: b\r\n"],
      ["control byte in a value", "Host: t\r\nX-A: a\x01b\r\n"],
      ["DEL in a value", "Host: t\r\nX-A: a\x7fb\r\n"],
      ["obsolete line folding", "Host: t\r\nX-A: a\r\n b\r\n"],
      ["a line without a colon", "Host: t\r\nX-A\r\n"],
      ["an empty field name", "Host: t\r\n: x\r\n"],
      ["a space inside a name", "Host: t\r\nX A: b\r\n"],
      ["an invalid Host value", "Host: a b\r\n"],
      ["a Host value with a path", "Host: t/x\r\n"],
      ["an invalid Content-Length", "Host: t\r\nContent-Length: +5\r\n"],
      ["a negative Content-Length", "Host: t\r\nContent-Length: -1\r\n"],
      [
        "a huge Content-Length",
        "Host: t\r\nContent-Length: 99999999999999999999\r\n",
      ],
      [
        "Transfer-Encoding without chunked last",
        "Host: t\r\nTransfer-Encoding: gzip\r\n",
      ],
    ];
    for (const [name, fields] of cases) {
      const ex = await exchange(
        server.port,
        `GET / HTTP/1.1\r\n${fields}\r\n` + get("/notes.txt"),
        { closeWrite: false, timeoutMs: 3000 },
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [400], name);
      assert.equal(ex.responses[0].header("connection"), "close", name);
      assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
    }
  });
});

Deno.test("unknown methods and lowercase get are 501", async () => {
  await withFixture(async (server) => {
    for (
      const method of ["FOO", "get", "Get", "PROPFIND", "BREW", "M-SEARCH"]
    ) {
      const ex = await exchange(
        server.port,
        request(method, "/") + get("/notes.txt"),
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [501, 200], method);
      assert.equal(ex.responses[0].reason, "Not Implemented");
    }
  });
});

Deno.test("POST, PUT, DELETE, PATCH and TRACE are 405 with Allow, and their bodies are skipped", async () => {
  await withFixture(async (server) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "TRACE"]) {
      const body = "GET /.secret HTTP/1.1\r\nHost: t\r\n\r\n";
      const ex = await exchange(
        server.port,
        request(method, "/", `Content-Length: ${body.length}\r\n`) + body +
          get("/notes.txt"),
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [405, 200], method);
      const res = ex.responses[0];
      assert.equal(res.reason, "Method Not Allowed");
      assert.equal(res.header("allow"), ALLOW, method);
      assert.equal(ex.responses[1].text, FIXTURE_FILES["notes.txt"]);
    }
  });
});

Deno.test("OPTIONS / and OPTIONS * answer 200 with Allow and an empty body", async () => {
  await withFixture(async (server) => {
    for (const target of ["/", "*", "/notes.txt"]) {
      const ex = await exchange(
        server.port,
        request("OPTIONS", target) + get("/notes.txt"),
        { methods: ["OPTIONS", "GET"] },
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [200, 200], target);
      const res = ex.responses[0];
      assert.equal(res.header("allow"), ALLOW, target);
      assert.equal(res.header("content-length"), "0", target);
      assert.equal(res.body.length, 0);
    }
  });
});

// HTTP/1.1 only: over HTTP/2 a :path of * outside OPTIONS is malformed and the stream is reset (RFC 9113 §8.3.1).
Deno.test(
  "GET * and HEAD * are 400",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      for (const method of ["GET", "HEAD"]) {
        const res = await fetchOne(server.port, request(method, "*"), {
          method,
        });
        assert.equal(res.status, 400, method);
      }
    });
  },
);

// HTTP/1.1 only: the HTTP-version of an HTTP/1.x request line.
Deno.test("HTTP major versions other than 1 are 505", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [name: string, bytes: string][] = [
      ["HTTP/2.0", request("GET", "/", "", "HTTP/2.0")],
      ["HTTP/3.0", request("GET", "/", "", "HTTP/3.0")],
      ["HTTP/0.9 with a version", request("GET", "/", "", "HTTP/0.9")],
    ];
    for (const [name, bytes] of cases) {
      const ex = await exchange(server.port, bytes, { closeWrite: false });
      assert.deepEqual(ex.responses.map((r) => r.status), [505], name);
      assert.equal(ex.responses[0].reason, "HTTP Version Not Supported");
      assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
    }
    // A higher HTTP/1.x minor version is served as HTTP/1.1.
    const res = await fetchOne(
      server.port,
      request("GET", "/notes.txt", "", "HTTP/1.2"),
    );
    assert.equal(res.status, 200);
  });
});

// HTTP/1.1 only: raw bytes of the switch between the protocols.
Deno.test(
  "the HTTP/2 preface starts HTTP/2, or with --no-http2 is a request for HTTP/2.0: 505",
  { ignore: PROTOCOL === "h2" },
  async () => {
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    await withServer(async (server) => {
      // HTTP/2 on (the default): the server's SETTINGS frame comes back.
      const ex = await rawExchange(server.port, preface, { timeoutMs: 2000 });
      assert.ok(ex.bytes.length >= 9, "a frame came back");
      assert.equal(ex.bytes[3], 0x4, "the first frame is SETTINGS");
    });
    await withServer(async (server) => {
      const ex = await exchange(server.port, preface, { closeWrite: false });
      assert.deepEqual(ex.responses.map((r) => r.status), [505]);
      assert.ok(ex.closedByServer && !ex.timedOut);
    }, { config: { http2: false } });
  },
);

// HTTP/1.1 only: Host field rules of HTTP/1.x (HTTP/2 sends :authority).
Deno.test("Host rules: HTTP/1.1 needs exactly one Host, HTTP/1.0 needs none", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [name: string, bytes: string, status: number][] = [
      ["HTTP/1.1 without Host", "GET /notes.txt HTTP/1.1\r\n\r\n", 400],
      [
        "HTTP/1.1 with two Host fields",
        "GET /notes.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
      ],
      [
        "HTTP/1.1 with two equal Host fields",
        "GET /notes.txt HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
        400,
      ],
      ["HTTP/1.0 without Host", "GET /notes.txt HTTP/1.0\r\n\r\n", 200],
      [
        "HTTP/1.1 with an empty Host",
        "GET /notes.txt HTTP/1.1\r\nHost:\r\n\r\n",
        200,
      ],
      [
        "HTTP/1.1 with host and port",
        "GET /notes.txt HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
        200,
      ],
    ];
    for (const [name, bytes, status] of cases) {
      const res = await fetchOne(server.port, bytes);
      assert.equal(res.status, status, name);
      if (status === 200) assert.equal(res.text, FIXTURE_FILES["notes.txt"]);
    }
  });
});

// ---------------------------------------------------------------------------
// Size limits

Deno.test("a request-target over 8 KiB is 414; just under is served normally", async () => {
  await withFixture(async (server) => {
    const long = "/" + "a".repeat(9000);
    const cases: [name: string, bytes: string, status: number][] = [
      ["whole request", get(long), 414],
      ["just under the limit", get("/" + "a".repeat(8000)), 404],
    ];
    // A request line cut off is HTTP/1.1's.
    if (PROTOCOL === "http/1.1") {
      cases.push(["request line without an end", `GET ${long}`, 414]);
    }
    // HTTP/1.1 closes after a 414 (the rest of the line is unknown); over
    // HTTP/2 only the stream ends.
    const closes = PROTOCOL === "http/1.1";
    for (const [name, bytes, status] of cases) {
      const ex = await exchange(server.port, bytes, {
        closeWrite: status !== 414 || !closes,
        timeoutMs: 3000,
      });
      assert.deepEqual(ex.responses.map((r) => r.status), [status], name);
      if (status === 414) {
        assert.equal(ex.responses[0].reason, "URI Too Long");
        if (closes) {
          assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
        }
      }
    }
  });
});

Deno.test("more than 100 header fields or a head over 32 KiB is 431", async () => {
  await withFixture(async (server) => {
    const fields = (n: number, size = 4) =>
      Array.from({ length: n }, (_, i) => `X-F${i}: ${"v".repeat(size)}\r\n`)
        .join("");
    // Host is one of the 100 fields in HTTP/1.1; over HTTP/2 it becomes
    // :authority, a pseudo-field, so one more regular field is needed.
    const host = PROTOCOL === "h2" ? 1 : 0;
    const cases: [name: string, bytes: string, status: number][] = [
      ["100 fields (the limit)", get("/notes.txt", fields(99 + host)), 200],
      ["101 fields", get("/notes.txt", fields(100 + host)), 431],
      ["40 fields of 1000 bytes", get("/notes.txt", fields(40, 1000)), 431],
      ["31 fields of 1000 bytes", get("/notes.txt", fields(31, 1000)), 200],
    ];
    // A head cut off is HTTP/1.1's.
    if (PROTOCOL === "http/1.1") {
      cases.push([
        "a head that never ends",
        "GET / HTTP/1.1\r\nHost: t\r\n" + fields(60, 1000).slice(0, 40000),
        431,
      ]);
    }
    // HTTP/1.1 closes after a 431; over HTTP/2 only the stream ends.
    const closes = PROTOCOL === "http/1.1";
    for (const [name, bytes, status] of cases) {
      const ex = await exchange(server.port, bytes, {
        closeWrite: status === 200 || !closes,
        timeoutMs: 3000,
      });
      assert.deepEqual(ex.responses.map((r) => r.status), [status], name);
      if (status === 431) {
        assert.equal(
          ex.responses[0].reason,
          "Request Header Fields Too Large",
        );
        if (closes) {
          assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------
// Request bodies and framing

// HTTP/1.1 only: HTTP/1.1 body framing between pipelined requests.
Deno.test(
  "a Content-Length body on GET is discarded and the next request answered",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      // The body looks like a request: it must not be taken for one.
      const body = "GET /.secret HTTP/1.1\r\nHost: t\r\n\r\n";
      const cases: [name: string, bytes: string][] = [
        [
          "one write",
          get("/", `Content-Length: ${body.length}\r\n`) + body +
          get("/notes.txt"),
        ],
        [
          "equal duplicate lengths",
          get("/", `Content-Length: ${body.length}, ${body.length}\r\n`) +
          body + get("/notes.txt"),
        ],
        ["zero length", get("/", "Content-Length: 0\r\n") + get("/notes.txt")],
      ];
      for (const [name, bytes] of cases) {
        const ex = await exchange(server.port, bytes);
        assert.deepEqual(ex.responses.map((r) => r.status), [200, 200], name);
        assert.equal(ex.responses[0].text, FIXTURE_FILES["index.html"], name);
        assert.equal(ex.responses[1].text, FIXTURE_FILES["notes.txt"], name);
      }
      // The body may also arrive in pieces, after the head.
      const ex = await exchange(server.port, [
        get("/", `Content-Length: ${body.length}\r\n`),
        body.slice(0, 5),
        body.slice(5),
        get("/notes.txt"),
      ], { pieceDelayMs: 20 });
      assert.deepEqual(ex.responses.map((r) => r.status), [200, 200]);
    });
  },
);

// HTTP/1.1 only: chunked transfer coding.
Deno.test("a chunked body on GET is discarded and the next request answered", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    // The data looks like a request: it must not be taken for one.
    const data = ".secret HTTP/1.1\r\nHost: t\r\n\r\n";
    const chunked = "5;ext=1\r\nGET /\r\n" +
      `${data.length.toString(16)}\r\n${data}\r\n` +
      "0\r\nX-Trailer: yes\r\n\r\n";
    const ex = await exchange(
      server.port,
      get("/", "Transfer-Encoding: chunked\r\n") + chunked + get("/notes.txt"),
    );
    assert.deepEqual(ex.responses.map((r) => r.status), [200, 200]);
    assert.equal(ex.responses[1].text, FIXTURE_FILES["notes.txt"]);
    const malformed = await exchange(
      server.port,
      get("/", "Transfer-Encoding: chunked\r\n") + "zz\r\n" +
        get("/notes.txt"),
      { closeWrite: false, timeoutMs: 3000 },
    );
    assert.deepEqual(malformed.responses.map((r) => r.status), [400]);
    assert.ok(malformed.closedByServer && !malformed.timedOut);
  });
});

// HTTP/1.1 only: HTTP/1.1 body framing (Content-Length against Transfer-Encoding).
Deno.test("ambiguous body framing is 400 and closes the connection", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [name: string, fields: string, body: string][] = [
      [
        "Content-Length with Transfer-Encoding",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "0\r\n\r\n",
      ],
      [
        "Transfer-Encoding with Content-Length",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "0\r\n\r\n",
      ],
      [
        "conflicting Content-Length fields",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "hello!",
      ],
      ["conflicting Content-Length list", "Content-Length: 5, 6\r\n", "hello"],
      [
        "chunked on HTTP/1.0",
        "Transfer-Encoding: chunked\r\n",
        "0\r\n\r\n",
      ],
    ];
    for (const [name, fields, body] of cases) {
      const version = name.endsWith("HTTP/1.0") ? "HTTP/1.0" : "HTTP/1.1";
      const ex = await exchange(
        server.port,
        request("GET", "/", fields, version) + body + get("/notes.txt"),
        { closeWrite: false, timeoutMs: 3000 },
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [400], name);
      assert.equal(ex.responses[0].header("connection"), "close", name);
      assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
    }
  });
});

Deno.test("a body over 1 MiB is 413 and closes the connection", async () => {
  await withFixture(async (server) => {
    const big = "x".repeat(2 * 1024 * 1024);
    const cases: [name: string, bytes: string][] = [
      [
        "Content-Length",
        request("POST", "/", `Content-Length: ${big.length}\r\n`) + big,
      ],
    ];
    // Chunked coding is HTTP/1.1's.
    if (PROTOCOL === "http/1.1") {
      cases.push([
        "chunked",
        request("GET", "/", "Transfer-Encoding: chunked\r\n") +
        `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
      ]);
    }
    // HTTP/1.1 closes the connection (the rest of the body would be read
    // as requests); over HTTP/2 the stream ends and the connection stays.
    const closes = PROTOCOL === "http/1.1";
    for (const [name, bytes] of cases) {
      const ex = await exchange(server.port, bytes, {
        closeWrite: !closes,
        timeoutMs: 5000,
      });
      assert.deepEqual(ex.responses.map((r) => r.status), [413], name);
      assert.equal(ex.responses[0].reason, "Content Too Large");
      if (closes) {
        assert.equal(ex.responses[0].header("connection"), "close", name);
        assert.ok(ex.closedByServer && !ex.timedOut, `${name}: closed`);
      }
    }
  });
});

// HTTP/1.1 only: Expect and interim responses as HTTP/1.1 sends them.
Deno.test(
  "Expect other than 100-continue is 417; 100-continue without a body is served",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      const refused = await exchange(
        server.port,
        get("/notes.txt", "Expect: foo\r\n") + get("/notes.txt"),
        { closeWrite: false, timeoutMs: 3000 },
      );
      assert.deepEqual(refused.responses.map((r) => r.status), [417]);
      assert.equal(refused.responses[0].reason, "Expectation Failed");
      const res = await fetchOne(
        server.port,
        get("/notes.txt", "Expect: 100-continue\r\n"),
      );
      assert.equal(res.status, 200);
      assert.equal(res.text, FIXTURE_FILES["notes.txt"]);
    });
  },
);

// ---------------------------------------------------------------------------
// Connections

// HTTP/1.1 only: HTTP/1.1 persistent connections.
Deno.test(
  "HTTP/1.1 keeps the connection open across several requests in turn",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      using client = await Client.connect(server.port);
      // Each request is written only after the previous response was read,
      // and none is longer than the first (a regression of 1e7f44d).
      const cases: [target: string, status: number][] = [
        ["/sub/page.html", 200],
        ["/notes.txt", 200],
        ["/missing", 404],
        ["/sub", 301],
        ["/", 200],
        ["/style.css", 200],
      ];
      for (const [target, status] of cases) {
        await client.send(get(target));
        const res = await client.response();
        assert.equal(res.status, status, target);
        assert.equal(res.header("connection"), undefined, target);
      }
      assert.equal(await client.closedByServer(300), false, "still open");
    });
  },
);

Deno.test({
  name: "curl reuses one connection for two URLs" +
    (HAS_CURL ? "" : " (skipped: curl is not installed)"),
  // curl 7.88 fails the second URL on a reused prior-knowledge (h2c)
  // connection, against nghttpd as well: over TCP this is HTTP/1.1 only.
  ignore: !HAS_CURL || (PROTOCOL === "h2" && TRANSPORT === "tcp"),
  async fn() {
    await withServer(async (server) => {
      const out = await new Deno.Command("curl", {
        args: [
          ...curlTrustArgs(),
          ...curlProtocolArgs(),
          "-s",
          "--max-time",
          "5",
          "-o",
          "/dev/null",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{num_connects}\n",
          `${server.url}about.html`,
          `${server.url}style.css`,
        ],
        stdin: "null",
      }).output();
      assert.equal(decoder.decode(out.stdout), "200 1\n200 0\n");
    });
  },
});

// HTTP/1.1 only: HTTP/1.0 connection rules.
Deno.test("HTTP/1.0 closes the connection by default", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    using client = await Client.connect(server.port);
    await client.send("GET /notes.txt HTTP/1.0\r\n\r\n");
    const res = await client.response();
    assert.equal(res.status, 200);
    assert.equal(res.header("connection"), "close");
    assert.equal(await client.closedByServer(2000), true);
  });
});

// HTTP/1.1 only: HTTP/1.0 connection rules.
Deno.test(
  "HTTP/1.0 with Connection: keep-alive gets keep-alive back and an open socket",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      {
        using client = await Client.connect(server.port);
        for (const target of ["/notes.txt", "/missing", "/"]) {
          await client.send(
            `GET ${target} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`,
          );
          const res = await client.response();
          assert.equal(res.header("connection"), "keep-alive", target);
        }
        assert.equal(await client.closedByServer(300), false, "still open");
      }
      // Pipelined on one connection, each answer says keep-alive.
      const keepAlive = "Connection: keep-alive\r\n";
      const ex = await exchange(
        server.port,
        request("GET", "/notes.txt", keepAlive, "HTTP/1.0") +
          request("GET", "/missing", keepAlive, "HTTP/1.0") +
          request("GET", "/", "", "HTTP/1.0"),
        { closeWrite: false, timeoutMs: 3000 },
      );
      assert.deepEqual(ex.responses.map((r) => r.status), [200, 404, 200]);
      assert.deepEqual(ex.responses.map((r) => r.header("connection")), [
        "keep-alive",
        "keep-alive",
        "close",
      ]);
      assert.ok(ex.closedByServer && !ex.timedOut);
    });
  },
);

// HTTP/1.1 only: the Connection field.
Deno.test(
  "Connection: close is honoured: the response says so and the socket closes",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      for (const value of ["close", "Close", "keep-alive, close", "x, CLOSE"]) {
        const ex = await exchange(
          server.port,
          get("/notes.txt", `Connection: ${value}\r\n`) + get("/"),
          { closeWrite: false, timeoutMs: 3000 },
        );
        assert.deepEqual(ex.responses.map((r) => r.status), [200], value);
        assert.equal(ex.responses[0].header("connection"), "close", value);
        assert.ok(ex.closedByServer && !ex.timedOut, `${value}: closed`);
      }
    });
  },
);

// HTTP/1.1 only: HTTP/1.1 pipelining.
Deno.test("ten pipelined requests in one write are answered in order", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [
      req: string,
      method: string,
      status: number,
      body?: string,
    ][] = [
      [get("/"), "GET", 200, FIXTURE_FILES["index.html"]],
      [request("HEAD", "/notes.txt"), "HEAD", 200, ""],
      [get("/missing"), "GET", 404, FIXTURE_FILES["NotFound.html"]],
      [get("/docs?x=1"), "GET", 301],
      [request("OPTIONS", "*"), "OPTIONS", 200, ""],
      [request("POST", "/", "Content-Length: 3\r\n") + "abc", "POST", 405],
      [get("/sub/"), "GET", 200, FIXTURE_FILES["sub/index.html"]],
      [request("FOO", "/"), "FOO", 501],
      [get("/style.css"), "GET", 200, FIXTURE_FILES["style.css"]],
      [
        get("/notes.txt", "Connection: close\r\n"),
        "GET",
        200,
        FIXTURE_FILES["notes.txt"],
      ],
    ];
    const ex = await exchange(server.port, cases.map((c) => c[0]).join(""), {
      methods: cases.map((c) => c[1]),
      closeWrite: false,
    });
    assert.ok(ex.closedByServer && !ex.timedOut);
    assert.deepEqual(
      ex.responses.map((r) => r.status),
      cases.map((c) => c[2]),
    );
    cases.forEach(([, , , body], i) => {
      if (body !== undefined) assert.equal(ex.responses[i].text, body, `#${i}`);
    });
    assert.equal(ex.responses[3].header("location"), "/docs/?x=1");
  });
});

// HTTP/1.1 only: HTTP/1.1 pipelining through the read buffer.
Deno.test(
  "hundreds of pipelined requests, more than the read buffer holds, are all answered",
  { ignore: PROTOCOL === "h2" },
  async () => {
    await withFixture(async (server) => {
      const count = 800;
      const ex = await exchange(server.port, get("/notes.txt").repeat(count), {
        timeoutMs: 5000,
      });
      assert.ok(!ex.timedOut);
      assert.equal(ex.responses.length, count);
      assert.ok(ex.responses.every((r) => r.status === 200));
      assert.ok(
        ex.responses.every((r) => r.text === FIXTURE_FILES["notes.txt"]),
      );
    });
  },
);

// HTTP/1.1 only: HTTP/1.1 head assembly from pieces.
Deno.test("requests written one byte at a time are answered", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const text = get("/notes.txt") + get("/sub/page.html");
    const bytes = encoder.encode(text);
    const pieces = Array.from(bytes, (b) => Uint8Array.of(b));
    const ex = await exchange(server.port, pieces, { pieceDelayMs: 1 });
    assert.deepEqual(ex.responses.map((r) => r.status), [200, 200]);
    assert.equal(ex.responses[0].text, FIXTURE_FILES["notes.txt"]);
    assert.equal(ex.responses[1].text, FIXTURE_FILES["sub/page.html"]);
  });
});

// HTTP/1.1 only: the empty lines RFC 9112 §2.2 lets precede a request line.
Deno.test("blank lines before a request line are ignored", {
  ignore: PROTOCOL === "h2",
}, async () => {
  await withFixture(async (server) => {
    const cases: [name: string, bytes: string][] = [
      ["CRLF CRLF", "\r\n\r\n" + get("/notes.txt")],
      ["bare LFs", "\n\n" + get("/notes.txt")],
      ["between pipelined requests", get("/") + "\r\n" + get("/notes.txt")],
    ];
    for (const [name, bytes] of cases) {
      const ex = await exchange(server.port, bytes);
      assert.ok(ex.responses.length >= 1, name);
      assert.ok(ex.responses.every((r) => r.status === 200), name);
      assert.equal(ex.responses.at(-1)!.text, FIXTURE_FILES["notes.txt"]);
    }
    // Only blank lines, then the end: no response at all.
    const empty = await rawExchange(server.port, "\r\n\r\n\r\n");
    assert.equal(empty.bytes.length, 0);
    assert.ok(empty.closedByServer);
  });
});

// Not over TLS + HTTP/2: the client there is Deno's node:http2, whose TLS
// socket keeps Nagle's algorithm (Deno's TlsConn has no setNoDelay), so its
// own second write waits for pws's delayed ACK. curl, which sets
// TCP_NODELAY as browsers do, shows no delay (tests/http2_test.ts).
Deno.test({
  name:
    "the first response on a fresh connection is not held back by Nagle's algorithm",
  ignore: PROTOCOL === "h2" && TRANSPORT === "tls",
}, async () => {
  await withFixture(async (server) => {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const ex = await exchange(server.port, get("/notes.txt"));
      assert.deepEqual(ex.responses.map((r) => r.status), [200]);
      times.push(ex.elapsedMs);
    }
    // A small write held until the peer's delayed ACK costs 40 ms; the
    // fastest of seven fresh connections (a TLS handshake included) shows
    // it whatever else runs on the machine.
    const fastest = Math.min(...times);
    assert.ok(
      fastest < 30,
      `fastest ${fastest.toFixed(1)} ms: ${times.map((t) => t.toFixed(0))}`,
    );
  });
});

Deno.test("a client that vanishes mid-download leaves the server working and the file closed", async () => {
  await withFixture(async (server, fx) => {
    const path = `${fx.root}/big.bin`;
    await Deno.writeFile(path, new Uint8Array(0));
    await Deno.truncate(path, 64 * 1024 * 1024);
    const realPath = await Deno.realPath(path);
    const fdsBefore = openFiles().length;

    let heldWhileSending = false;
    const received = await vanishMidDownload(
      server.port,
      "/big.bin",
      256 * 1024,
      () => {
        heldWhileSending = openFiles().includes(realPath);
      },
    );
    assert.ok(received >= 256 * 1024, `received ${received} bytes`);
    assert.ok(heldWhileSending, "the server holds the file open while sending");

    // Released: closed, or (once the file is old enough) idle in the pool
    // of open files, which server.close() empties (and the test's resource
    // sanitizer would report a handle left open).
    const held = () => openFiles().filter((p) => p === realPath).length;
    for (let i = 0; i < 150 && held() > 0; i++) await delay(20);
    const open = openFiles();
    assert.ok(held() <= 1, "the file handle was released");
    assert.ok(
      open.length <= fdsBefore + 2,
      `descriptors: ${fdsBefore} before, ${open.length} after`,
    );
    const next = await fetchOne(server.port, get("/notes.txt"));
    assert.equal(next.status, 200);
    assert.equal(next.text, FIXTURE_FILES["notes.txt"]);
  });
});

// ---------------------------------------------------------------------------
// Every response, and real clients

Deno.test("every kind of response carries Date, Server and Content-Length", async () => {
  await withFixture(async (server) => {
    const cases: [req: string, status: number][] = [
      [get("/"), 200],
      [get("/sub"), 301],
      [get("/nope"), 404],
      [get("/%zz"), 400],
      [request("PUT", "/"), 405],
      [request("FOO", "/"), 501],
      [request("OPTIONS", "*"), 200],
      [get("/" + "a".repeat(9000)), 414],
      [get("/", "X: y\r\n".repeat(101)), 431],
    ];
    // Request lines, versions and Expect exist in HTTP/1.1 only.
    if (PROTOCOL === "http/1.1") {
      cases.push(
        [get("*"), 400],
        [request("GET", "/", "", "HTTP/2.0"), 505],
        [get("/", "Expect: nope\r\n"), 417],
      );
    }
    for (const [req, status] of cases) {
      // fetchOne checks Date, Server and one Content-Length on each.
      const res = await fetchOne(server.port, req, {
        method: req.startsWith("OPTIONS") ? "OPTIONS" : "GET",
      });
      assert.equal(res.status, status, req.slice(0, 40));
      assert.match(res.header("date")!, IMF_FIXDATE);
      assert.equal(res.header("server"), `pws/${VERSION}`);
      assert.equal(Number(res.header("content-length")), res.body.length);
    }
  });
});

Deno.test({
  name: "curl fetches the demo index" +
    (HAS_CURL ? "" : " (skipped: curl is not installed)"),
  ignore: !HAS_CURL,
  async fn() {
    const expected = await Deno.readFile(`${STATIC_DIR}/index.html`);
    await withServer(async (server) => {
      const out = await new Deno.Command("curl", {
        args: [
          ...curlTrustArgs(),
          ...curlProtocolArgs(),
          "-sv",
          "--max-time",
          "10",
          server.url,
        ],
        stdin: "null",
      }).output();
      const stderr = decoder.decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(out.stdout, expected);
      // curl shows HTTP/2 fields as they are sent: in lowercase.
      assert.match(
        stderr,
        PROTOCOL === "h2" ? /< HTTP\/2 200/ : /< HTTP\/1\.1 200 OK/,
      );
      assert.match(
        stderr,
        new RegExp(`< Content-Length: ${expected.length}`, "i"),
      );
      assert.match(stderr, /< Content-Type: text\/html; charset=utf-8/i);
    });
  },
});

Deno.test({
  name: "wget fetches the demo index" +
    (HAS_WGET ? "" : " (skipped: wget is not installed)"),
  // HTTP/1.1 only: wget speaks HTTP/1.1 only.
  ignore: !HAS_WGET || PROTOCOL === "h2",
  async fn() {
    const expected = await Deno.readFile(`${STATIC_DIR}/index.html`);
    await withServer(async (server) => {
      const out = await new Deno.Command("wget", {
        args: [
          ...wgetTrustArgs(),
          "-S",
          "-O-",
          "--timeout=10",
          "--tries=1",
          server.url,
        ],
        stdin: "null",
      }).output();
      const stderr = decoder.decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(out.stdout, expected);
      assert.match(stderr, /HTTP\/1\.1 200 OK/);
      assert.match(stderr, new RegExp(`Content-Length: ${expected.length}`));
    });
  },
});

Deno.test({
  name: "a kept-alive response says when pws closes the idle connection " +
    "(Keep-Alive: timeout); a closing one does not",
  // HTTP/2 has no Keep-Alive field (RFC 9113 §8.2.2).
  ignore: PROTOCOL === "h2",
}, async () => {
  await using fx = await makeFixtureTree();
  await withServer(async (server) => {
    const ex = await exchange(
      server.port,
      get("/notes.txt") +
        "GET /notes.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
        "GET /notes.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert.deepEqual(
      ex.responses.map((r) => [r.header("keep-alive"), r.header("connection")]),
      [["timeout=7", undefined], ["timeout=7", "keep-alive"], [
        undefined,
        "close",
      ]],
    );
  }, { root: fx.root, config: { idleTimeoutMs: 7_900 } });
});
