/**
 * Shared helpers for pws's end-to-end tests: starting a server (in-process
 * or as a subprocess), talking raw bytes to it over TCP, splitting the
 * answer into HTTP/1.1 responses, and building a temporary site that has
 * every awkward kind of file a static server must handle.
 *
 * Nothing here writes into the repository: fixtures live in temp dirs.
 *
 * @module
 */

import {
  type RunningServer,
  type StartOptions,
  startServer,
} from "../server/server.ts";
import { isSettled, stampOf } from "../files/cache.ts";
import { makeTestTls, type TestTls } from "./tls_fixture.ts";
import {
  h2Exchange,
  type H2ExchangeResult,
  h2PartialDownload,
  type H2Request,
  type H2Response,
  NotTranslatable,
  parseHttp1Requests,
  serializeAsHttp1,
} from "./h2_client.ts";

export { NotTranslatable };
export type { H2Request, H2Response };

export type { RunningServer };

/** Absolute path of the repository (the parent of this folder). */
export const REPO_DIR: string = new URL("..", import.meta.url).pathname
  .replace(/\/$/, "");

/** Absolute path of pws's entry point, for running it as a subprocess. */
export const MAIN_MODULE: string = `${REPO_DIR}/main.ts`;

/** Absolute path of the demo site that pws serves by default. */
export const STATIC_DIR: string = `${REPO_DIR}/static`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Transport: the same suites run over TCP and, once more, over TLS

/**
 * The transport of this test run. `PWS_TEST_TRANSPORT=tls deno test ...`
 * runs the suites that use these helpers once more over TLS (`deno task
 * test` does so for the conformance and hostile-input suites): servers
 * started here then listen with TLS, and {@linkcode connect} and
 * {@linkcode rawExchange} speak TLS to them.
 */
export const TRANSPORT: "tcp" | "tls" =
  Deno.env.get("PWS_TEST_TRANSPORT") === "tls" ? "tls" : "tcp";

/**
 * The protocol of this test run. `PWS_TEST_PROTOCOL=h2 deno test ...`
 * runs the suites once more over HTTP/2 (`deno task test` does so for the
 * file-feature suites): {@linkcode rawExchange} then translates the
 * HTTP/1.1 request bytes it is given into HTTP/2 requests on one
 * connection (h2c with prior knowledge, or ALPN `h2` over TLS) and the
 * answers back into HTTP/1.1 bytes, so the suites' assertions read them
 * unchanged (a response without Content-Length comes back chunked, the
 * HTTP/1.1 way of saying so). {@linkcode connect} still opens a plain
 * socket. Tests about HTTP/1.1 itself say `ignore: PROTOCOL === "h2"`
 * after a comment starting "HTTP/1.1 only:" that says why.
 */
export const PROTOCOL: "http/1.1" | "h2" =
  Deno.env.get("PWS_TEST_PROTOCOL") === "h2" ? "h2" : "http/1.1";

/** The test certificate authority and server key of a TLS run. */
export const TEST_TLS: TestTls | undefined = TRANSPORT === "tls"
  ? await makeTestTls()
  : undefined;

/** The URL scheme of this test run's servers. */
export const SCHEME: "http" | "https" = TRANSPORT === "tls" ? "https" : "http";

/**
 * Opens a connection to a test server: TCP, or TLS trusting the test CA
 * when the run is over TLS.
 */
export function connect(
  port: number,
  hostname = "127.0.0.1",
): Promise<Deno.Conn> {
  return TEST_TLS === undefined
    ? Deno.connect({ hostname, port })
    : Deno.connectTls({ hostname, port, caCerts: [TEST_TLS.ca] });
}

let caFile: string | undefined;

/** The same for wget (`--ca-certificate`). */
export function wgetTrustArgs(): string[] {
  const args = curlTrustArgs();
  return args.length === 0 ? [] : [`--ca-certificate=${args[1]}`];
}
let tlsArgs: string[] | undefined;

/**
 * `--tls-cert FILE --tls-key FILE` for the test certificate, written to
 * temp files once (for servers run as a subprocess in a TLS run).
 */
export function testTlsArgs(): string[] {
  if (TEST_TLS === undefined) return [];
  if (tlsArgs === undefined) {
    const cert = Deno.makeTempFileSync({ prefix: "pws-test-", suffix: ".crt" });
    const key = Deno.makeTempFileSync({ prefix: "pws-test-", suffix: ".key" });
    Deno.writeTextFileSync(cert, TEST_TLS.cert);
    Deno.writeTextFileSync(key, TEST_TLS.key);
    tlsArgs = ["--tls-cert", cert, "--tls-key", key];
  }
  return tlsArgs;
}

/**
 * Arguments that make curl speak this run's protocol: `--http1.1` (over
 * TLS curl would otherwise take the `h2` pws offers by ALPN); for HTTP/2,
 * prior knowledge over TCP and ALPN `h2` over TLS.
 */
export function curlProtocolArgs(): string[] {
  if (PROTOCOL === "http/1.1") return ["--http1.1"];
  return TEST_TLS === undefined ? ["--http2-prior-knowledge"] : ["--http2"];
}

/**
 * Arguments that make curl trust this run's servers (none over TCP; the
 * test CA, written to a temp file once, over TLS).
 */
export function curlTrustArgs(): string[] {
  if (TEST_TLS === undefined) return [];
  caFile ??= Deno.makeTempFileSync({ prefix: "pws-test-ca-", suffix: ".pem" });
  Deno.writeTextFileSync(caFile, TEST_TLS.ca);
  return ["--cacert", caFile];
}

/**
 * Waits until the server's root watcher has certainly delivered a change
 * made just before (it takes 1–5 ms; the README promises under 50 ms).
 * Tests that change a file and then expect the change use it: pws serves
 * a request that starts after the watcher's delivery from the new file.
 */
export function afterWatcher(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 100));
}

// ---------------------------------------------------------------------------
// In-process server

/** Options of {@linkcode startTestServer} and {@linkcode withServer}. */
export interface TestServerOptions {
  /** Directory to serve; defaults to the demo site `static/`. */
  root?: string;
  /** Overrides of the server configuration. */
  config?: StartOptions["config"];
  /** Serve TLS with this pair (default: the run's transport decides). */
  tls?: StartOptions["tls"] | false;
}

/**
 * Starts pws in this process on 127.0.0.1 with a free port. The caller
 * must `await server.close()`; prefer {@linkcode withServer}.
 */
export function startTestServer(
  options: TestServerOptions = {},
): RunningServer {
  return startServer({
    root: options.root ?? STATIC_DIR,
    hostname: "127.0.0.1",
    port: 0,
    config: options.config,
    tls: options.tls === false ? undefined : options.tls ?? TEST_TLS,
  });
}

/**
 * Runs `fn` with a freshly started in-process server and closes the server
 * afterwards, whatever `fn` does.
 */
export async function withServer<T>(
  fn: (server: RunningServer) => Promise<T>,
  options: TestServerOptions = {},
): Promise<T> {
  const server = startTestServer(options);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------------------
// Raw TCP exchange

/** Options of {@linkcode rawExchange}. */
export interface RawExchangeOptions {
  /** Give up reading after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Address to connect to (default 127.0.0.1). */
  hostname?: string;
  /** Pause between the pieces of a request given as an array (default 0). */
  pieceDelayMs?: number;
  /**
   * Speak TLS trusting this CA, or cleartext (`false`); by default, the
   * run's transport.
   */
  tls?: { ca: string } | false;
  /**
   * Shut down the writing side once everything is sent (default true), so
   * that a server keeping the connection alive sees the end of input and
   * closes instead of waiting for more requests.
   */
  closeWrite?: boolean;
}

/** What {@linkcode rawExchange} saw. */
export interface RawExchangeResult {
  /** Every byte the server sent. */
  bytes: Uint8Array;
  /** True when the server ended the connection (end of stream or reset). */
  closedByServer: boolean;
  /** True when reading stopped because `timeoutMs` ran out. */
  timedOut: boolean;
  /** Milliseconds from connecting to the end of reading. */
  elapsedMs: number;
}

/**
 * Opens a TCP connection, writes `request` (an array is written piece by
 * piece, each piece its own write), reads until the server closes or the
 * timeout runs out, and returns everything that was read. Write failures
 * (a server that answered and closed early) are not errors: the answer is
 * what matters.
 *
 * In an HTTP/2 run ({@linkcode PROTOCOL}), the requests are sent over
 * HTTP/2 instead and the result holds their answers as HTTP/1.1 bytes
 * (see {@linkcode h2RawExchange}).
 */
export async function rawExchange(
  port: number,
  request: string | Uint8Array | readonly (string | Uint8Array)[],
  options: RawExchangeOptions = {},
): Promise<RawExchangeResult> {
  if (PROTOCOL === "h2") return await h2RawExchange(port, request, options);
  const {
    timeoutMs = 5000,
    hostname = "127.0.0.1",
    pieceDelayMs = 0,
    closeWrite = true,
  } = options;
  const started = performance.now();
  const conn = options.tls === false
    ? await Deno.connect({ hostname, port })
    : options.tls !== undefined
    ? await Deno.connectTls({ hostname, port, caCerts: [options.tls.ca] })
    : await connect(port, hostname);
  (conn as Deno.TcpConn).setNoDelay?.(true);
  const pieces = Array.isArray(request)
    ? request.map(toBytes)
    : [toBytes(request as string | Uint8Array)];
  let closed = false;
  let timedOut = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    closeConn();
  }, timeoutMs);

  const writer = (async () => {
    try {
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0 && pieceDelayMs > 0) await delay(pieceDelayMs);
        if (closed) return;
        let offset = 0;
        while (offset < pieces[i].length) {
          offset += await conn.write(pieces[i].subarray(offset));
        }
      }
      if (closeWrite && !closed) await conn.closeWrite();
    } catch {
      // The server may close before reading everything; that is its right.
    }
  })();

  const chunks: Uint8Array[] = [];
  let total = 0;
  let closedByServer = false;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (err) {
      if (!timedOut && err instanceof Deno.errors.ConnectionReset) {
        closedByServer = true;
      }
      break;
    }
    if (n === null) {
      closedByServer = true;
      break;
    }
    chunks.push(buf.slice(0, n));
    total += n;
  }
  clearTimeout(timer);
  closeConn();
  await writer;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return {
    bytes,
    closedByServer,
    timedOut,
    elapsedMs: performance.now() - started,
  };
}

/** What {@linkcode h2RawExchange} saw. */
export interface H2RawExchangeResult extends RawExchangeResult {
  /** Why a request got no response (reset stream, GOAWAY), if one did not. */
  h2Error?: string;
}

/** The CA to trust for `tls`, as {@linkcode rawExchange} reads it. */
function caFor(tls: RawExchangeOptions["tls"]): string | undefined {
  return tls === false ? undefined : tls?.ca ?? TEST_TLS?.ca;
}

/**
 * {@linkcode rawExchange} over HTTP/2: parses `request` as HTTP/1.1
 * requests (pieces may be delayed only between whole requests), sends them
 * in order over one HTTP/2 connection, and returns the responses written
 * as HTTP/1.1 (`HTTP/1.1 <status> <reason>`, the fields, the body). With
 * `closeWrite: false` it waits for the server to close the connection, as
 * a client that keeps an HTTP/1.1 connection open would. Throws
 * {@linkcode NotTranslatable} for requests that only HTTP/1.1 can express.
 */
export async function h2RawExchange(
  port: number,
  request: string | Uint8Array | readonly (string | Uint8Array)[],
  options: RawExchangeOptions = {},
): Promise<H2RawExchangeResult> {
  const pieces = Array.isArray(request)
    ? request.map(toBytes)
    : [toBytes(request as string | Uint8Array)];
  // Pieces sent with pauses must each be whole requests: a pause inside
  // one is about HTTP/1.1 head assembly.
  const requests = pieces.length > 1 && (options.pieceDelayMs ?? 0) > 0
    ? pieces.flatMap((piece) => parseHttp1Requests(piece))
    : parseHttp1Requests(concatBytes(pieces));
  if (requests.length === 0) throw new NotTranslatable("no request at all");
  const result: H2ExchangeResult = await h2Exchange(port, requests, {
    hostname: options.hostname,
    ca: caFor(options.tls),
    timeoutMs: options.timeoutMs,
    awaitServerClose: options.closeWrite === false,
  });
  const bytes = concatBytes(
    result.responses.map((response, i) =>
      serializeAsHttp1(response, requests[i].method)
    ),
  );
  return {
    bytes,
    closedByServer: result.closedByServer,
    timedOut: result.timedOut,
    elapsedMs: result.elapsedMs,
    h2Error: result.error,
  };
}

/** Options of {@linkcode h2Request}. */
export interface H2RequestOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Address to connect to (default 127.0.0.1). */
  hostname?: string;
  /** TLS trusting this CA, or cleartext (`false`); default: the run's transport. */
  tls?: { ca: string } | false;
}

/**
 * Sends one request over HTTP/2 (whatever the run's protocol) on its own
 * connection and returns its response; throws when none arrives.
 */
export async function h2Request(
  port: number,
  request: H2Request,
  options: H2RequestOptions = {},
): Promise<H2Response> {
  const result = await h2Exchange(port, [request], {
    hostname: options.hostname,
    ca: caFor(options.tls),
    timeoutMs: options.timeoutMs,
  });
  if (result.responses.length === 0) {
    throw new Error(
      `no HTTP/2 response to ${request.method} ${request.path}: ${
        result.timedOut ? "timed out" : result.error
      }`,
    );
  }
  return result.responses[0];
}

/**
 * Starts a GET of `target` in this run's protocol, reads until `minBytes`
 * of the response arrived, runs `whileOpen` (the download still in
 * progress), then drops the connection without a word, as a client that
 * vanishes does. Returns the bytes read (head included over HTTP/1.1).
 */
export async function vanishMidDownload(
  port: number,
  target: string,
  minBytes: number,
  whileOpen: () => void | Promise<void>,
): Promise<number> {
  if (PROTOCOL === "h2") {
    return await h2PartialDownload(port, target, minBytes, whileOpen, {
      ca: TEST_TLS?.ca,
    });
  }
  const conn = await connect(port);
  let received = 0;
  try {
    const request = encoder.encode(`GET ${target} HTTP/1.1\r\nHost: t\r\n\r\n`);
    for (let sent = 0; sent < request.length;) {
      sent += await conn.write(request.subarray(sent));
    }
    const buf = new Uint8Array(64 * 1024);
    while (received < minBytes) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
    }
    if (received >= minBytes) await whileOpen();
  } finally {
    conn.close();
  }
  return received;
}

// ---------------------------------------------------------------------------
// Response parsing

/** One HTTP/1.1 response split out of a byte stream. */
export class ParsedResponse {
  constructor(
    /** The HTTP version of the status line, e.g. `HTTP/1.1`. */
    readonly version: string,
    /** The status code. */
    readonly status: number,
    /** The reason phrase (may be empty). */
    readonly reason: string,
    /** Header fields in order, names as sent. */
    readonly headerList: readonly [name: string, value: string][],
    /** The body bytes (empty for HEAD, 1xx, 204 and 304). */
    readonly body: Uint8Array,
  ) {}

  /** Header fields by lowercase name; repeated fields joined with ", ". */
  get headers(): Map<string, string> {
    const map = new Map<string, string>();
    for (const [name, value] of this.headerList) {
      const key = name.toLowerCase();
      const previous = map.get(key);
      map.set(key, previous === undefined ? value : `${previous}, ${value}`);
    }
    return map;
  }

  /** The value of one header (lowercase name), or undefined. */
  header(lowerName: string): string | undefined {
    return this.headers.get(lowerName);
  }

  /** How many field lines carry the header `lowerName`. */
  headerCount(lowerName: string): number {
    return this.headerList.filter(([n]) => n.toLowerCase() === lowerName)
      .length;
  }

  /** The body decoded as UTF-8. */
  get text(): string {
    return decoder.decode(this.body);
  }
}

/** A response found by {@linkcode parseOneResponse} and where it ended. */
export interface ParseStep {
  response: ParsedResponse;
  /** Index just past the response in the input. */
  next: number;
}

function indexOfSequence(
  bytes: Uint8Array,
  sequence: readonly number[],
  from: number,
): number {
  outer: for (let i = from; i + sequence.length <= bytes.length; i++) {
    for (let j = 0; j < sequence.length; j++) {
      if (bytes[i + j] !== sequence[j]) continue outer;
    }
    return i;
  }
  return -1;
}

const CRLF = [13, 10];
const CRLFCRLF = [13, 10, 13, 10];

/** Decodes a chunked body at `start`; undefined when incomplete. */
function readChunked(
  bytes: Uint8Array,
  start: number,
): { body: Uint8Array; next: number } | undefined {
  const parts: Uint8Array[] = [];
  let i = start;
  while (true) {
    const lineEnd = indexOfSequence(bytes, CRLF, i);
    if (lineEnd < 0) return undefined;
    const sizeText = decoder.decode(bytes.subarray(i, lineEnd)).split(";")[0]
      .trim();
    if (!/^[0-9A-Fa-f]+$/.test(sizeText)) {
      throw new Error(`malformed chunk size ${JSON.stringify(sizeText)}`);
    }
    const size = parseInt(sizeText, 16);
    i = lineEnd + 2;
    if (size === 0) {
      // Trailer field lines, then the empty line that ends the body.
      while (true) {
        const end = indexOfSequence(bytes, CRLF, i);
        if (end < 0) return undefined;
        const empty = end === i;
        i = end + 2;
        if (empty) break;
      }
      break;
    }
    if (bytes.length < i + size + 2) return undefined;
    parts.push(bytes.subarray(i, i + size));
    i += size + 2;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const body = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    body.set(p, offset);
    offset += p.length;
  }
  return { body, next: i };
}

/**
 * Parses one response starting at `start`. `method` is the method of the
 * request it answers (HEAD responses have no body). `atEnd` says the
 * stream is finished, which completes a response delimited by closing.
 * Returns undefined when more bytes are needed; throws on bytes that are
 * not an HTTP/1.x response.
 */
export function parseOneResponse(
  bytes: Uint8Array,
  start: number,
  method = "GET",
  atEnd = false,
): ParseStep | undefined {
  const headEnd = indexOfSequence(bytes, CRLFCRLF, start);
  if (headEnd < 0) return undefined;
  const lines = decoder.decode(bytes.subarray(start, headEnd)).split("\r\n");
  const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) {
    throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  }
  const headerList: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`bad field line ${JSON.stringify(line)}`);
    headerList.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const status = Number(m[2]);
  const bodyStart = headEnd + 4;
  const make = (body: Uint8Array) =>
    new ParsedResponse(m[1], status, m[3], headerList, body);
  const noBody = method === "HEAD" || status === 204 || status === 304 ||
    (status >= 100 && status < 200);
  if (noBody) return { response: make(new Uint8Array(0)), next: bodyStart };
  const find = (name: string) =>
    headerList.find(([n]) => n.toLowerCase() === name)?.[1];
  const te = find("transfer-encoding");
  if (te !== undefined && /chunked\s*$/i.test(te)) {
    const chunked = readChunked(bytes, bodyStart);
    if (chunked === undefined) return undefined;
    return { response: make(chunked.body), next: chunked.next };
  }
  const cl = find("content-length");
  if (cl !== undefined) {
    const length = Number(cl);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new Error(`bad Content-Length ${JSON.stringify(cl)}`);
    }
    if (bytes.length < bodyStart + length) return undefined;
    return {
      response: make(bytes.slice(bodyStart, bodyStart + length)),
      next: bodyStart + length,
    };
  }
  if (!atEnd) return undefined;
  return { response: make(bytes.slice(bodyStart)), next: bytes.length };
}

/** Options of {@linkcode parseResponses}. */
export interface ParseResponsesOptions {
  /**
   * The methods of the requests, in order, so that responses to HEAD are
   * read without a body. Requests beyond the list count as GET.
   */
  methods?: readonly string[];
  /** Return what parsed instead of throwing on trailing bytes. */
  allowIncomplete?: boolean;
}

/**
 * Splits a complete byte stream into HTTP/1.1 responses, in order. Throws
 * when bytes are left over that do not form a whole response (a truncated
 * body, a stray byte), unless `allowIncomplete` is set.
 */
export function parseResponses(
  bytes: Uint8Array,
  options: ParseResponsesOptions = {},
): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let i = 0;
  while (i < bytes.length) {
    const method = options.methods?.[out.length] ?? "GET";
    const step = parseOneResponse(bytes, i, method, true);
    if (step === undefined) {
      if (options.allowIncomplete) break;
      throw new Error(
        `incomplete response #${out.length + 1} after byte ${i}: ` +
          JSON.stringify(decoder.decode(bytes.subarray(i, i + 200))),
      );
    }
    out.push(step.response);
    i = step.next;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Fixture tree

/** A temporary site built by {@linkcode makeFixtureTree}. */
export interface FixtureTree extends AsyncDisposable {
  /** The temp directory holding `root` and `outside`. */
  base: string;
  /** The directory to serve. */
  root: string;
  /** A sibling of `root` that must never be reachable. */
  outside: string;
  /** A string found only in files outside the root. */
  marker: string;
  /** True when `fifo` (a named pipe) could be created. */
  hasFifo: boolean;
  /** True when mode 000 really makes `locked.txt` unreadable (not root). */
  modesEnforced: boolean;
  /** Removes everything. */
  cleanup(): Promise<void>;
}

/**
 * The files of the fixture root, relative path to content. Directories
 * follow from the paths.
 */
export const FIXTURE_FILES: Readonly<Record<string, string>> = {
  "index.html":
    "<!doctype html>\n<title>Fixture</title>\n<p>fixture root</p>\n",
  "NotFound.html":
    "<!doctype html>\n<title>Missing</title>\n<p>fixture not found page</p>\n",
  "style.css": "body { color: #123456; }\n",
  "notes.txt": "plain notes\n",
  "empty.txt": "",
  "sub/index.html": "<!doctype html>\n<p>sub index</p>\n",
  "sub/page.html": "<!doctype html>\n<p>sub page</p>\n",
  "sub/.hidden": "hidden in sub\n",
  "docs/index.html": "<!doctype html>\n<p>docs index</p>\n",
  "noindex/file.txt": "a file in a directory without index\n",
  "evil.example/dir/index.html": "<!doctype html>\n<p>not evil</p>\n",
  ".secret": "dotfile secret\n",
  ".git/config": "[core]\n\trepositoryformatversion = 0\n",
  "with space.txt": "a name with a space\n",
  "ünïcødé-文件.txt": "a unicode name\n",
  "locked.txt": "mode 000\n",
};

/** Bytes of a tiny valid PNG (1×1), stored as `image.png` in the fixture. */
export const FIXTURE_PNG: Uint8Array = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  ),
  (c) => c.charCodeAt(0),
);

/**
 * Builds a temp site: `root/` holds the {@linkcode FIXTURE_FILES}, `image.png`,
 * `link-inside.txt` (symlink to `notes.txt`), `link-to-dotfile.txt` (to
 * `.secret`), `link-outside.txt` (to a file outside the root),
 * `link-outside-dir` (to the outside dir), `fifo` (a named pipe, when
 * `mkfifo` exists) and `locked.txt` with mode 000. `outside/` holds
 * `secret.txt` and `index.html` containing {@linkcode FixtureTree.marker}.
 */
export async function makeFixtureTree(): Promise<FixtureTree> {
  const base = await Deno.makeTempDir({ prefix: "pws_fixture_" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  const marker = `PWS-OUTSIDE-MARKER-${crypto.randomUUID()}`;
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/secret.txt`, `${marker}\n`);
  await Deno.writeTextFile(`${outside}/index.html`, `<p>${marker}</p>\n`);
  for (const [path, content] of Object.entries(FIXTURE_FILES)) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) {
      await Deno.mkdir(`${root}/${path.slice(0, slash)}`, { recursive: true });
    }
    await Deno.writeTextFile(`${root}/${path}`, content);
  }
  await Deno.writeFile(`${root}/image.png`, FIXTURE_PNG);
  await Deno.symlink("notes.txt", `${root}/link-inside.txt`);
  await Deno.symlink(".secret", `${root}/link-to-dotfile.txt`);
  await Deno.symlink(`${outside}/secret.txt`, `${root}/link-outside.txt`);
  await Deno.symlink(outside, `${root}/link-outside-dir`);

  let hasFifo = false;
  try {
    const made = await new Deno.Command("mkfifo", {
      args: [`${root}/fifo`],
      stdout: "null",
      stderr: "null",
    }).output();
    hasFifo = made.success;
  } catch {
    // no mkfifo on this system
  }

  await Deno.chmod(`${root}/locked.txt`, 0o000);
  let modesEnforced = false;
  try {
    await Deno.readFile(`${root}/locked.txt`);
  } catch (err) {
    modesEnforced = err instanceof Deno.errors.PermissionDenied;
  }

  const cleanup = async () => {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  };
  return {
    base,
    root,
    outside,
    marker,
    hasFifo,
    modesEnforced,
    cleanup,
    [Symbol.asyncDispose]: cleanup,
  };
}

/**
 * Writes `files` into a fresh temp dir and waits (up to 5 s) until pws
 * would cache them: it keeps only files whose change time is over a
 * second old, and Deno reports that time in whole seconds. The caller
 * removes the directory.
 */
export async function makeSettledDir(
  prefix: string,
  files: Readonly<Record<string, string | Uint8Array>>,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  for (const [name, data] of Object.entries(files)) {
    await Deno.writeFile(`${dir}/${name}`, toBytes(data));
  }
  const deadline = Date.now() + 5000;
  for (const name of Object.keys(files)) {
    while (!isSettled(stampOf(Deno.statSync(`${dir}/${name}`)))) {
      if (Date.now() >= deadline) throw new Error(`${name} did not settle`);
      await delay(100);
    }
  }
  return dir;
}

// ---------------------------------------------------------------------------
// Subprocess server

/** A pws process started by {@linkcode spawnServer}. */
export interface SpawnedServer {
  /** The port from the startup line. */
  port: number;
  /** The host from the startup line (brackets removed for IPv6). */
  hostname: string;
  /** The URL printed at startup. */
  url: string;
  /** The startup line (stdout; stderr with `--log-format json`). */
  startupLine: string;
  /** The process id (the Deno runtime that serves: `deno run` execs in place). */
  pid: number;
  /** The child process. */
  process: Deno.ChildProcess;
  /** What the server printed on stderr so far (it is still running). */
  stderrSoFar(): string;
  /**
   * Sends SIGTERM (SIGKILL after 5 s), waits for the exit and returns the
   * status and everything the server printed.
   */
  stop(): Promise<StoppedServer>;
}

/** What {@linkcode SpawnedServer.stop} returns. */
export interface StoppedServer {
  status: Deno.CommandStatus;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode spawnServer}. */
export interface SpawnOptions {
  /**
   * Deno permission flags (default `--allow-all`, as `deno task start`
   * and the compiled binary run).
   */
  permissions?: readonly string[];
  /** Working directory (default the repository). */
  cwd?: string;
  /** Serve cleartext even in a TLS test run. */
  cleartext?: boolean;
  /** How long to wait for the startup line (default 15 s). */
  startupTimeoutMs?: number;
  /** Extra environment variables for the server (test hooks). */
  env?: Record<string, string>;
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  sink: (text: string) => void,
): Promise<void> {
  const textDecoder = new TextDecoder();
  for await (const chunk of stream) {
    sink(textDecoder.decode(chunk, { stream: true }));
  }
}

/**
 * Runs `deno run --allow-all main.ts ...args` and waits for
 * the startup line (the first on stdout, or the banner on stderr with
 * `--log-format json`), which must contain the `http://HOST:PORT/` URL.
 * Throws (after stopping the process) when the line does not come.
 */
export async function spawnServer(
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<SpawnedServer> {
  const permissions = options.permissions ?? ["--allow-all"];
  // Over TLS, the server gets the test certificate (unless the test chose).
  if (
    TEST_TLS !== undefined && !args.some((a) => a.startsWith("--tls")) &&
    !options.cleartext
  ) {
    args = [...args, ...testTlsArgs()];
  }
  const process = new Deno.Command(Deno.execPath(), {
    // The V8 flags of `deno task start` and of the compiled binary.
    args: [
      "run",
      "--no-prompt",
      "--v8-flags=--max-semi-space-size=1",
      ...permissions,
      MAIN_MODULE,
      ...args,
    ],
    cwd: options.cwd ?? REPO_DIR,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let stdoutText = "";
  let stderrText = "";
  let lineArrived: (line: string | undefined) => void = () => {};
  const firstLine = new Promise<string | undefined>((resolve) => {
    lineArrived = resolve;
  });
  const stdoutDone = drain(process.stdout, (text) => {
    stdoutText += text;
    const nl = stdoutText.indexOf("\n");
    if (nl >= 0) lineArrived(stdoutText.slice(0, nl));
  }).finally(() => lineArrived(undefined));
  // With --log-format json the banner goes to stderr instead.
  const stderrDone = drain(process.stderr, (text) => {
    stderrText += text;
    for (const line of stderrText.split("\n").slice(0, -1)) {
      if (/^pws \S+ serving /.test(line)) lineArrived(line);
    }
  });

  let stopped: Promise<StoppedServer> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      try {
        process.kill("SIGTERM");
      } catch {
        // already exited
      }
      // A graceful shutdown may wait for open connections: not forever.
      const killer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // already exited
        }
      }, 5000);
      const status = await process.status;
      clearTimeout(killer);
      await Promise.all([stdoutDone, stderrDone]);
      return { status, stdout: stdoutText, stderr: stderrText };
    })();
    return stopped;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(
      () => resolve(undefined),
      options.startupTimeoutMs ?? 15000,
    );
  });
  const line = await Promise.race([firstLine, timeout]);
  clearTimeout(timer);
  const m = line === undefined
    ? null
    : /https?:\/\/(\[[^\]]+\]|[^/:\s]+):(\d+)\//.exec(line);
  if (line === undefined || m === null) {
    const { stderr } = await stop();
    throw new Error(
      `pws did not print its URL; stdout: ${
        JSON.stringify(stdoutText)
      }; stderr: ${JSON.stringify(stderr)}`,
    );
  }
  return {
    port: Number(m[2]),
    hostname: m[1].replace(/^\[|\]$/g, ""),
    url: m[0],
    startupLine: line,
    pid: process.pid,
    process,
    stderrSoFar: () => stderrText,
    stop,
  };
}

/**
 * The resident set size of process `pid` in bytes, from
 * `/proc/<pid>/status` (VmRSS); undefined when it cannot be read.
 */
export function readRssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** True when `command` can be run (looked up on PATH). */
export async function commandAvailable(command: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, {
      args: ["--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code !== 127;
  } catch {
    return false;
  }
}

/**
 * Runs a command to completion (killed after `timeoutMs`), with `input`
 * on its stdin, and returns its exit code and output as text.
 */
export async function runCommand(
  command: string,
  args: string[],
  input?: string,
  timeoutMs = 15_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
