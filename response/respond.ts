/**
 * Writers for the responses that are not files: errors, redirects, empty
 * answers and small in-memory bodies. Each builds its head from the same
 * base fields, so every response carries Date, Server, and the connection
 * and CORS fields it needs.
 *
 * @module
 */

import { SERVER_NAME } from "../server/config.ts";
import type { Connection, Exchange } from "../http1/connection.ts";
import { currentHttpDate, type ResponseHeaders } from "../http/response.ts";
import { headerValue } from "../http/request.ts";
import { ALLOW_HEADER_VALUE } from "../http/semantics.ts";
import { builtInErrorPage } from "../files/error_page.ts";
import { compressBytes, MIN_COMPRESS_BYTES } from "../files/compress.ts";
import { chooseEncoding } from "../http/accept_encoding.ts";

/** Media type of the HTML pages pws makes. */
export const HTML_TYPE = "text/html; charset=utf-8";
const NOT_FOUND_PAGE = "NotFound.html";
const EMPTY = new Uint8Array(0);

/** Response fields that let scripts on other origins read ranges and tags. */
const CORS_EXPOSED = "ETag, Content-Range, Accept-Ranges, Content-Encoding";

/**
 * The fields every response starts with: Date, Server, the connection's
 * fate, and CORS when enabled.
 */
export function baseHeaders(
  c: Connection,
  ex: Exchange | undefined,
): ResponseHeaders {
  const headers: ResponseHeaders = [
    ["Date", currentHttpDate()],
    ["Server", SERVER_NAME],
  ];
  if (ex === undefined || !ex.keepAlive) headers.push(["Connection", "close"]);
  else if (ex.head.versionMinor === 0) {
    headers.push(["Connection", "keep-alive"]);
  }
  if (c.config.cors) {
    headers.push(
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Expose-Headers", CORS_EXPOSED],
    );
  }
  return headers;
}

/** Writes a head and, unless `headOnly`, a body, in one write. */
export async function sendHeadAndBody(
  c: Connection,
  status: number,
  headers: ResponseHeaders,
  body: Uint8Array,
  headOnly: boolean,
): Promise<void> {
  const head = c.encodeHead(status, headers);
  if (headOnly || body.length === 0) return c.write(head);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  await c.write(out);
}

/**
 * Sends an error status with its HTML page (the site's NotFound.html for
 * 404). Error responses never carry a file's validators. `ex` is undefined
 * when the request could not be parsed: the connection then closes.
 */
export async function sendError(
  c: Connection,
  status: number,
  ex: Exchange | undefined,
  extra: ResponseHeaders = [],
): Promise<void> {
  const body = status === 404
    ? notFoundPage(c.config.rootReal)
    : builtInErrorPage(status);
  const headers = baseHeaders(c, ex);
  headers.push(
    ["Content-Type", HTML_TYPE],
    ["Content-Length", String(body.length)],
    ...extra,
  );
  if (status === 405) headers.push(["Allow", ALLOW_HEADER_VALUE]);
  await sendHeadAndBody(c, status, headers, body, ex?.headOnly ?? false);
}

/** The root's NotFound.html when it is a readable small file. */
function notFoundPage(rootReal: string): Uint8Array {
  try {
    const path = rootReal + "/" + NOT_FOUND_PAGE;
    const info = Deno.statSync(path);
    if (info.isFile && info.size <= 1024 * 1024) return Deno.readFileSync(path);
  } catch {
    // fall through to the built-in page
  }
  return builtInErrorPage(404);
}

/** Sends a status with no content (OPTIONS answers, preflights). */
export async function sendEmpty(
  c: Connection,
  ex: Exchange,
  status: number,
  extra: ResponseHeaders,
): Promise<void> {
  const headers = baseHeaders(c, ex);
  headers.push(...extra);
  // 204 must not carry Content-Length; other statuses say 0.
  if (status !== 204) headers.push(["Content-Length", "0"]);
  await sendHeadAndBody(c, status, headers, EMPTY, true);
}

/** Sends a 301 to a path on this server. */
export async function sendRedirect(
  c: Connection,
  ex: Exchange,
  location: string,
): Promise<void> {
  const body = builtInErrorPage(301);
  const headers = baseHeaders(c, ex);
  headers.push(
    ["Location", location],
    ["Content-Type", HTML_TYPE],
    ["Content-Length", String(body.length)],
  );
  await sendHeadAndBody(c, 301, headers, body, ex.headOnly);
}

/**
 * Sends a body made in memory (a directory listing), compressed when the
 * client accepts it and it is worth it.
 */
export async function sendGenerated(
  c: Connection,
  ex: Exchange,
  contentType: string,
  body: Uint8Array,
  extra: ResponseHeaders,
): Promise<void> {
  const headers = baseHeaders(c, ex);
  headers.push(["Content-Type", contentType], ...extra);
  let bytes = body;
  if (c.config.compression) {
    headers.push(["Vary", "Accept, Accept-Encoding"]);
    const accept = headerValue(ex.head, "accept-encoding");
    const coding = accept === undefined || body.length < MIN_COMPRESS_BYTES
      ? "identity"
      : chooseEncoding(accept, ["br", "gzip"]);
    if (coding !== null && coding !== "identity") {
      bytes = await compressBytes(body, coding);
      headers.push(["Content-Encoding", coding]);
    }
  } else {
    headers.push(["Vary", "Accept"]);
  }
  headers.push(["Content-Length", String(bytes.length)]);
  await sendHeadAndBody(c, 200, headers, bytes, ex.headOnly);
}
