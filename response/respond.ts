/**
 * Replies that are not files: errors, redirects, empty answers and small
 * bodies made in memory (listings). Each starts from the same base fields
 * (CORS when enabled); the protocol writer adds Date, Server and framing.
 *
 * @module
 */

import { injectLiveScript } from "../live/inject.ts";
import { ALLOW_HEADER_VALUE } from "../http/semantics.ts";
import { headerValue, type RequestHead } from "../http/request.ts";
import { chooseEncoding } from "../http/accept_encoding.ts";
import { builtInErrorPage } from "../files/error_page.ts";
import { compressBytes, MIN_COMPRESS_BYTES } from "../files/compress.ts";
import { stampOf } from "../files/cache.ts";
import { closeQuietly, openVerified, readFullyAt } from "../files/open.ts";
import {
  baseFields,
  type Reply,
  type ResponderContext,
  type ResponseHeaders,
} from "./reply.ts";

/** Media type of the HTML pages pws makes. */
export const HTML_TYPE = "text/html; charset=utf-8";
/** The site's own page for 404, at the root. */
export const NOT_FOUND_PAGE = "NotFound.html";
/** Largest NotFound.html used; a larger one gets the built-in page. */
const MAX_NOT_FOUND_BYTES = 1024 * 1024;

/**
 * An error status with its HTML page (the site's NotFound.html for 404).
 * Error replies never carry a file's validators.
 */
export function errorReply(
  ctx: ResponderContext,
  status: number,
  extra: ResponseHeaders = [],
): Reply {
  let body = status === 404 ? notFoundPage(ctx) : builtInErrorPage(status);
  // Under --live a page that went missing reloads when it comes back.
  if (status === 404 && ctx.live !== undefined) body = injectLiveScript(body);
  const fields = baseFields(ctx.config);
  fields.push(["Content-Type", HTML_TYPE], ...extra);
  if (status === 405) fields.push(["Allow", ALLOW_HEADER_VALUE]);
  return { status, fields, content: { kind: "bytes", bytes: body } };
}

/**
 * The root's NotFound.html when it opens as a small regular file inside
 * the root (verified like any served file, and cached like one), else
 * the built-in page.
 */
function notFoundPage(ctx: ResponderContext): Uint8Array {
  const { rootReal, lookup } = ctx.config;
  const path = rootReal + "/" + NOT_FOUND_PAGE;
  let info: Deno.FileInfo;
  try {
    info = ctx.stats.stat(path);
  } catch {
    return builtInErrorPage(404);
  }
  if (!info.isFile || info.size > MAX_NOT_FOUND_BYTES) {
    return builtInErrorPage(404);
  }
  const hit = ctx.fileCache.get(path, stampOf(info))?.body;
  if (hit !== undefined) return hit;
  const opened = openVerified(path, { rootReal, dotfiles: lookup.dotfiles });
  if (typeof opened === "number") return builtInErrorPage(404);
  try {
    const size = opened.stamp.size;
    if (size > MAX_NOT_FOUND_BYTES) return builtInErrorPage(404);
    const bytes = new Uint8Array(size);
    if (readFullyAt(opened.fd, bytes, 0) !== size) {
      return builtInErrorPage(404);
    }
    ctx.fileCache.set(path, opened.stamp, bytes);
    return bytes;
  } catch {
    return builtInErrorPage(404);
  } finally {
    closeQuietly(opened.fd);
  }
}

/** A status with no content (OPTIONS answers, preflights). */
export function emptyReply(
  ctx: ResponderContext,
  status: number,
  extra: ResponseHeaders,
): Reply {
  const fields = baseFields(ctx.config);
  fields.push(...extra);
  // 204 must not carry Content-Length; other statuses say 0.
  return {
    status,
    fields,
    content: status === 204
      ? { kind: "none" }
      : { kind: "bytes", bytes: new Uint8Array(0) },
  };
}

/** A 301 to a path on this server. */
export function redirectReply(ctx: ResponderContext, location: string): Reply {
  const fields = baseFields(ctx.config);
  fields.push(["Location", location], ["Content-Type", HTML_TYPE]);
  return {
    status: 301,
    fields,
    content: { kind: "bytes", bytes: builtInErrorPage(301) },
  };
}

/**
 * The answer of the `--redirect-http` listener: a 308 to the same path and
 * query on `https://`, at the host the request named (its syntax already
 * checked) and the TLS port. Without a Host, there is nowhere to send the
 * client: 400.
 */
export function httpsRedirectReply(
  ctx: ResponderContext,
  head: RequestHead,
  tlsPort: number,
): Reply {
  const host = headerValue(head, "host");
  if (host === undefined || host === "") return errorReply(ctx, 400);
  const location = "https://" + hostWithoutPort(host) +
    (tlsPort === 443 ? "" : ":" + tlsPort) + pathAndQuery(head.target);
  const fields = baseFields(ctx.config);
  fields.push(["Location", location], ["Content-Type", HTML_TYPE]);
  return {
    status: 308,
    fields,
    content: { kind: "bytes", bytes: builtInErrorPage(308) },
  };
}

/** `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostWithoutPort(host: string): string {
  const colon = host.lastIndexOf(":");
  if (colon < 0 || host.lastIndexOf("]") > colon) return host;
  return host.slice(0, colon);
}

/**
 * The path and query of a request-target: origin-form as it is, the part
 * after the authority of an absolute-form, `/` for anything else.
 */
export function pathAndQuery(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target;
  const scheme = target.indexOf("://");
  if (scheme < 0) return "/";
  const slash = target.indexOf("/", scheme + 3);
  const query = target.indexOf("?", scheme + 3);
  if (slash >= 0 && (query < 0 || slash < query)) return target.slice(slash);
  return query >= 0 ? "/" + target.slice(query) : "/";
}

/**
 * A body made in memory (a directory listing), compressed when the
 * client accepts it and it is worth it.
 */
export async function generatedReply(
  ctx: ResponderContext,
  head: RequestHead,
  contentType: string,
  body: Uint8Array,
  extra: ResponseHeaders,
): Promise<Reply> {
  const fields = baseFields(ctx.config);
  fields.push(["Content-Type", contentType], ...extra);
  let bytes = body;
  if (ctx.config.compression) {
    fields.push(["Vary", "Accept, Accept-Encoding"]);
    const accept = headerValue(head, "accept-encoding");
    const coding = accept === undefined || body.length < MIN_COMPRESS_BYTES
      ? "identity"
      : chooseEncoding(accept, ["br", "gzip"]);
    if (coding !== null && coding !== "identity") {
      bytes = await compressBytes(body, coding);
      fields.push(["Content-Encoding", coding]);
    }
  } else {
    fields.push(["Vary", "Accept"]);
  }
  return { status: 200, fields, content: { kind: "bytes", bytes } };
}
