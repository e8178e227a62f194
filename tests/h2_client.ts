/**
 * The HTTP/2 side of the end-to-end tests: a client on `node:http2` as
 * Deno implements it (Rust's `h2` crate underneath, so an HTTP/2 stack
 * independent of pws's own), and the translation that lets suites written
 * as HTTP/1.1 bytes run over HTTP/2 unchanged (`PWS_TEST_PROTOCOL=h2`):
 *
 * - {@linkcode parseHttp1Requests} turns request bytes into requests, or
 *   throws {@linkcode NotTranslatable} when the bytes rely on something
 *   HTTP/2 cannot say (HTTP/1.1 framing, versions, pipelining rules);
 * - {@linkcode h2Exchange} sends requests in order over one connection;
 * - {@linkcode serializeAsHttp1} writes each answer back as an HTTP/1.1
 *   response, so that `parseResponses` and the suites' assertions read it.
 *
 * @module
 */

import http2 from "node:http2";
import { STATUS_REASONS } from "../http/response.ts";
import { h2FrameExchange } from "./h2_frame_client.ts";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/**
 * Thrown when HTTP/1.1 request bytes cannot be carried by HTTP/2: the test
 * is about HTTP/1.1 itself and runs only over HTTP/1.1.
 */
export class NotTranslatable extends Error {
  /** Says what in the request has no HTTP/2 equivalent. */
  constructor(reason: string) {
    super(`not translatable to HTTP/2: ${reason}`);
    this.name = "NotTranslatable";
  }
}

/** A request to send over HTTP/2. */
export interface H2Request {
  /** The `:method`. */
  method: string;
  /** The `:path` (`*` for `OPTIONS *`). */
  path: string;
  /** The `:scheme` (default: that of the connection). */
  scheme?: string;
  /** The `:authority` (default: the address connected to). */
  authority?: string;
  /** Regular fields in order; names are sent in lowercase. */
  fields?: readonly (readonly [name: string, value: string])[];
  /** Content sent in DATA frames after the HEADERS. */
  body?: Uint8Array;
}

/** A complete HTTP/2 response. */
export interface H2Response {
  /** The `:status`. */
  status: number;
  /** Regular fields in the order received (pseudo-fields removed). */
  fields: [name: string, value: string][];
  /** The content of the DATA frames. */
  body: Uint8Array;
}

/** Options of {@linkcode h2Exchange}. */
export interface H2ExchangeOptions {
  /** Address to connect to (default 127.0.0.1). */
  hostname?: string;
  /** Speak TLS (ALPN `h2`) trusting this CA; cleartext prior knowledge when absent. */
  ca?: string;
  /** Give up after this long in all (default 5000 ms). */
  timeoutMs?: number;
  /**
   * After the last response, keep the connection open until the server
   * closes it or the time runs out (default: close it at once).
   */
  awaitServerClose?: boolean;
}

/** What {@linkcode h2Exchange} saw. */
export interface H2ExchangeResult {
  /** The complete responses, in the order of the requests. */
  responses: H2Response[];
  /**
   * Why the first request without a response got none (a reset stream, a
   * GOAWAY, a connection error), when one did; later requests were not sent.
   */
  error?: string;
  /** True when the server ended the connection (or, by default, all were answered). */
  closedByServer: boolean;
  /** True when the time ran out. */
  timedOut: boolean;
  /** Milliseconds from connecting to the end. */
  elapsedMs: number;
}

/** Fields that only mean something to one HTTP/1.1 connection (RFC 9113 §8.2.2). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function isTokenChar(code: number): boolean {
  // RFC 9110 §5.6.2 tchar.
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) || "!#$%&'*+-.^_`|~".includes(
      String.fromCharCode(code),
    );
}

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    if (!isTokenChar(text.charCodeAt(i))) return false;
  }
  return true;
}

function trimSpaces(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === " " || text[start] === "\t")) start++;
  while (end > start && (text[end - 1] === " " || text[end - 1] === "\t")) {
    end--;
  }
  return text.slice(start, end);
}

/** A request-target as HTTP/2 pseudo-fields. */
interface SplitTarget {
  path: string;
  scheme?: string;
  authority?: string;
}

/**
 * Origin-form and `*` are the `:path` as they are; an absolute-form
 * `http://host/path?q` is `:scheme`, `:authority` and `:path`, as an
 * HTTP/2 client states the same target URI (RFC 9113 §8.3.1).
 */
function splitTarget(target: string): SplitTarget {
  if (target.startsWith("/") || target === "*") return { path: target };
  for (const scheme of ["http", "https"]) {
    if (!target.toLowerCase().startsWith(`${scheme}://`)) continue;
    const rest = target.slice(scheme.length + 3);
    let end = 0;
    while (end < rest.length && rest[end] !== "/" && rest[end] !== "?") end++;
    const path = rest.slice(end);
    return {
      scheme,
      authority: rest.slice(0, end),
      path: path.startsWith("/") ? path : `/${path}`,
    };
  }
  throw new NotTranslatable(
    `request-target ${JSON.stringify(target.slice(0, 80))}`,
  );
}

/** The index of the first CRLF CRLF at or after `from`, or -1. */
function findHeadEnd(text: string, from: number): number {
  return text.indexOf("\r\n\r\n", from);
}

/**
 * Parses one or more complete HTTP/1.1 requests (origin-form, absolute-form
 * or `*` targets, `Content-Length` bodies) into HTTP/2 requests: `Host`
 * becomes `:authority` (an absolute-form target gives `:scheme`,
 * `:authority` and `:path`); `Connection`, `Keep-Alive`,
 * `Proxy-Connection`, `Upgrade` and a `TE` other than `trailers` are
 * dropped. Throws {@linkcode NotTranslatable} for anything whose meaning
 * is HTTP/1.1's own: another version, a malformed request line, blank
 * lines, bare CR or LF, obs-fold, a malformed field line or a control
 * character in a value, a missing or repeated `Host`, an authority-form
 * target, `Transfer-Encoding` or a `Content-Length` other than one number,
 * `Expect`, a request after `Connection: close`, or a request cut short.
 */
export function parseHttp1Requests(bytes: Uint8Array): H2Request[] {
  // Latin-1 keeps one character per byte, so offsets are byte offsets.
  const text = latin1.decode(bytes);
  const requests: H2Request[] = [];
  let at = 0;
  let closing = false;
  while (at < text.length) {
    if (closing) {
      throw new NotTranslatable(
        "a request after Connection: close (HTTP/1.1 pipelining rules)",
      );
    }
    const headEnd = findHeadEnd(text, at);
    if (headEnd < 0) {
      throw new NotTranslatable(
        `an incomplete request head: ${
          JSON.stringify(text.slice(at, at + 80))
        }`,
      );
    }
    const head = text.slice(at, headEnd);
    const withoutCrlf = head.replaceAll("\r\n", "");
    if (withoutCrlf.includes("\n") || withoutCrlf.includes("\r")) {
      throw new NotTranslatable("a bare CR or LF in the head");
    }
    const lines = head.split("\r\n");
    const [method, target, version, ...extra] = lines[0].split(" ");
    if (extra.length > 0 || version === undefined || !isToken(method)) {
      throw new NotTranslatable(
        `a malformed request line ${JSON.stringify(lines[0].slice(0, 80))}`,
      );
    }
    if (version !== "HTTP/1.1") {
      throw new NotTranslatable(`version ${JSON.stringify(version)}`);
    }
    const uri = splitTarget(target);
    const fields: [string, string][] = [];
    let authority: string | undefined;
    let hosts = 0;
    let contentLength: number | undefined;
    for (const line of lines.slice(1)) {
      if (line.startsWith(" ") || line.startsWith("\t")) {
        throw new NotTranslatable("obs-fold");
      }
      const colon = line.indexOf(":");
      const name = line.slice(0, Math.max(colon, 0));
      if (colon <= 0 || !isToken(name)) {
        throw new NotTranslatable(
          `a malformed field line ${JSON.stringify(line.slice(0, 80))}`,
        );
      }
      const value = trimSpaces(line.slice(colon + 1));
      for (let i = 0; i < value.length; i++) {
        const code = value.charCodeAt(i);
        if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
          throw new NotTranslatable(
            `a control character in ${JSON.stringify(name)}`,
          );
        }
      }
      const lower = name.toLowerCase();
      if (lower === "host") {
        hosts++;
        authority = value;
        continue;
      }
      if (lower === "transfer-encoding") {
        throw new NotTranslatable("Transfer-Encoding (HTTP/1.1 framing)");
      }
      if (lower === "expect") {
        throw new NotTranslatable("Expect (HTTP/1.1 interim responses)");
      }
      if (lower === "content-length") {
        if (contentLength !== undefined || !/^[0-9]{1,15}$/.test(value)) {
          throw new NotTranslatable(
            `Content-Length ${JSON.stringify(value)} (HTTP/1.1 framing)`,
          );
        }
        contentLength = Number(value);
      }
      if (lower === "connection") {
        for (const option of value.split(",")) {
          if (trimSpaces(option).toLowerCase() === "close") closing = true;
        }
      }
      if (CONNECTION_FIELDS.has(lower)) continue;
      if (lower === "te" && value.toLowerCase() !== "trailers") continue;
      fields.push([lower, value]);
    }
    if (hosts !== 1) {
      throw new NotTranslatable(`${hosts} Host fields`);
    }
    at = headEnd + 4;
    // An absolute-form target names the authority itself (RFC 9112 §3.2.2).
    const request: H2Request = {
      method,
      path: uri.path,
      authority: uri.authority ?? authority,
      fields,
    };
    if (uri.scheme !== undefined) request.scheme = uri.scheme;
    if (contentLength !== undefined && contentLength > 0) {
      if (at + contentLength > text.length) {
        throw new NotTranslatable("a body shorter than its Content-Length");
      }
      request.body = bytes.slice(at, at + contentLength);
      at += contentLength;
    }
    requests.push(request);
  }
  return requests;
}

/**
 * Writes an HTTP/2 response as the HTTP/1.1 response a gateway would
 * forward: a status line with the reason phrase pws uses on HTTP/1.1, the
 * fields in order, the empty line and the body. A response without
 * `Content-Length` whose status allows content gets `transfer-encoding:
 * chunked` (the HTTP/1.1 way of saying the length was not known in
 * advance, HEAD included, as HTTP/1.1 gives HEAD the fields of GET) and,
 * unless it answers HEAD, a chunked body, so that several responses can
 * follow one another in one byte stream. Content where none belongs (HEAD,
 * 204, 304) is written as it came, so that it shows up as stray bytes.
 */
export function serializeAsHttp1(
  response: H2Response,
  method: string,
): Uint8Array {
  let head = `HTTP/1.1 ${response.status} ${
    STATUS_REASONS[response.status] ?? "Unknown"
  }\r\n`;
  for (const [name, value] of response.fields) head += `${name}: ${value}\r\n`;
  const noContent = response.status < 200 || response.status === 204 ||
    response.status === 304;
  const sized = response.fields.some(([name]) => name === "content-length");
  if (noContent || sized) {
    return concat([encoder.encode(head + "\r\n"), response.body]);
  }
  head += "transfer-encoding: chunked\r\n\r\n";
  const size = response.body.length;
  if (method === "HEAD") {
    return concat([encoder.encode(head), response.body]);
  }
  return concat([
    encoder.encode(head),
    ...(size === 0 ? [] : [
      encoder.encode(`${size.toString(16)}\r\n`),
      response.body,
      encoder.encode("\r\n"),
    ]),
    encoder.encode("0\r\n\r\n"),
  ]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The headers object `node:http2` takes: repeated names become arrays. */
function outgoingHeaders(
  request: H2Request,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {
    ":method": request.method,
    ":path": request.path,
  };
  if (request.scheme !== undefined) headers[":scheme"] = request.scheme;
  if (request.authority !== undefined) {
    headers[":authority"] = request.authority;
  }
  for (const [rawName, value] of request.fields ?? []) {
    const name = rawName.toLowerCase();
    const previous = headers[name];
    headers[name] = previous === undefined
      ? value
      : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return headers;
}

/** True when two of the request's field lines have the same name. */
function repeatsAFieldName(request: H2Request): boolean {
  const names = new Set<string>();
  for (const [name] of request.fields ?? []) {
    const lower = name.toLowerCase();
    if (names.has(lower)) return true;
    names.add(lower);
  }
  return false;
}

type Session = ReturnType<typeof http2.connect>;

/** Sends one request and collects its whole response. */
function sendOne(
  session: Session,
  request: H2Request,
  state: { uploadsAbandoned: number },
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    let stream: ReturnType<Session["request"]>;
    const hasBody = request.body !== undefined && request.body.length > 0;
    try {
      stream = session.request(outgoingHeaders(request), {
        endStream: !hasBody,
      });
    } catch (err) {
      // The client refuses fields HTTP/2 cannot carry.
      reject(new NotTranslatable((err as Error).message));
      return;
    }
    let status = 0;
    let fields: [string, string][] = [];
    const chunks: Uint8Array[] = [];
    let ended = false;
    let settled = false;
    let uploaded = !hasBody;
    // Complete once both the final head and END_STREAM came (the client
    // may report them in either order). A response that ends before the
    // upload does (a 413) is complete too: the upload is then abandoned.
    const settleIfComplete = () => {
      if (settled || !ended || status === 0) return;
      settled = true;
      if (!uploaded) state.uploadsAbandoned++;
      resolve({ status, fields, body: concat(chunks) });
    };
    stream.on(
      "response",
      (_headers: unknown, _flags: unknown, raw: string[]) => {
        status = Number(raw[raw.indexOf(":status") + 1]);
        fields = [];
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (!raw[i].startsWith(":")) fields.push([raw[i], raw[i + 1]]);
        }
        settleIfComplete();
      },
    );
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    // "end" means END_STREAM: a reset stream reports "error" and "close".
    stream.on("end", () => {
      ended = true;
      settleIfComplete();
    });
    stream.on("error", () => {
      // Reported by "close" with the reset code.
    });
    stream.on("close", () => {
      if (!settled) {
        settled = true;
        reject(
          new Error(
            `stream ${stream.id ?? "?"} closed without a complete response` +
              ` (status ${
                status || "none"
              }, RST_STREAM code ${stream.rstCode})`,
          ),
        );
      }
    });
    if (hasBody) {
      stream.write(request.body);
      stream.end(() => uploaded = true);
    }
  });
}

/**
 * Connects (h2c with prior knowledge, or TLS with ALPN `h2` when `ca` is
 * given) and sends `requests` one after another on that one connection,
 * each once the previous response is complete. Stops at the first request
 * that gets no complete response.
 */
export async function h2Exchange(
  port: number,
  requests: readonly H2Request[],
  options: H2ExchangeOptions = {},
): Promise<H2ExchangeResult> {
  // node:http2 refuses to repeat many names (Authorization, If-None-Match…)
  // that tests repeat on purpose: such requests take the frame-layer client.
  if (requests.some(repeatsAFieldName)) {
    return await h2FrameExchange(port, requests, options);
  }
  const { hostname = "127.0.0.1", timeoutMs = 5000, ca } = options;
  const started = performance.now();
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const session = http2.connect(
    `${ca === undefined ? "http" : "https"}://${host}:${port}`,
    ca === undefined ? {} : { ca },
  );
  let sessionError: string | undefined;
  session.on("error", (err: Error) => {
    sessionError ??= `connection error: ${err.message}`;
  });
  let goaway: string | undefined;
  session.on("goaway", (code: number, lastStreamId: number) => {
    goaway ??= `GOAWAY code ${code}, last stream ${lastStreamId}`;
  });
  let sessionClosed = false;
  const closed = new Promise<"closed">((resolve) =>
    session.once("close", () => {
      sessionClosed = true;
      resolve("closed");
    })
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });

  const responses: H2Response[] = [];
  const state = { uploadsAbandoned: 0 };
  let error: string | undefined;
  let timedOut = false;
  try {
    for (const request of requests) {
      const outcome = await Promise.race([
        sendOne(session, request, state),
        closed,
        timeout,
      ]);
      if (outcome === "timeout") {
        timedOut = true;
        break;
      }
      if (outcome === "closed") {
        error = sessionError ?? goaway ?? "connection closed";
        break;
      }
      responses.push(outcome);
    }
  } catch (err) {
    if (err instanceof NotTranslatable) {
      session.destroy();
      await closed;
      clearTimeout(timer);
      throw err;
    }
    error = [(err as Error).message, goaway, sessionError]
      .filter((part) => part !== undefined).join("; ");
  }
  let closedByServer = sessionClosed || error === undefined;
  if (options.awaitServerClose && !timedOut && !sessionClosed) {
    const outcome = await Promise.race([closed, timeout]);
    timedOut = outcome === "timeout";
    closedByServer = outcome === "closed";
  }
  clearTimeout(timer);
  if (!sessionClosed) {
    // Deno's client cannot cancel an upload the server no longer reads,
    // and a graceful close would wait for it.
    if (timedOut || state.uploadsAbandoned > 0) session.destroy();
    else session.close();
    // A graceful close waits for every stream: not forever.
    const grace = setTimeout(() => session.destroy(), 1000);
    await closed;
    clearTimeout(grace);
  }
  return {
    responses,
    error,
    closedByServer: closedByServer && !timedOut,
    timedOut,
    elapsedMs: performance.now() - started,
  };
}

/** Options of {@linkcode h2PartialDownload}. */
export interface H2PartialDownloadOptions {
  /** Address to connect to (default 127.0.0.1). */
  hostname?: string;
  /** Speak TLS trusting this CA; cleartext prior knowledge when absent. */
  ca?: string;
  /** Give up waiting for `minBytes` after this long (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * Starts a GET of `path`, reads until `minBytes` of content arrived, runs
 * `whileOpen` (the download still in progress), then drops the connection
 * without a word, as a client that vanishes does. Returns the bytes read.
 */
export async function h2PartialDownload(
  port: number,
  path: string,
  minBytes: number,
  whileOpen: () => void | Promise<void>,
  options: H2PartialDownloadOptions = {},
): Promise<number> {
  const { hostname = "127.0.0.1", timeoutMs = 5000, ca } = options;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const session = http2.connect(
    `${ca === undefined ? "http" : "https"}://${host}:${port}`,
    ca === undefined ? {} : { ca },
  );
  session.on("error", () => {
    // The connection is dropped on purpose.
  });
  const closed = new Promise<void>((resolve) =>
    session.once("close", () => resolve())
  );
  let received = 0;
  try {
    const stream = session.request({ ":method": "GET", ":path": path }, {
      endStream: true,
    });
    stream.on("error", () => {
      // Reported as fewer bytes than wanted.
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      stream.on("data", (chunk: Uint8Array) => {
        received += chunk.length;
        if (received >= minBytes) {
          stream.pause();
          done();
        }
      });
      stream.on("close", done);
    });
    if (received >= minBytes) await whileOpen();
  } finally {
    session.destroy();
    await closed;
  }
  return received;
}
