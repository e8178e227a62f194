/**
 * Request-level decisions that follow from a parsed head: is the Host
 * header acceptable, does the connection persist, what does the method
 * mean for a static file server. Pure functions.
 *
 * @module
 */

import { headerValues, listTokens, type RequestHead } from "./request.ts";

/** The methods a static resource supports, in the order `Allow` lists them. */
export const ALLOWED_METHODS = ["GET", "HEAD", "OPTIONS"] as const;

/** The value of `Allow` for every resource pws serves. */
export const ALLOW_HEADER_VALUE = ALLOWED_METHODS.join(", ");

/** Methods RFC 9110 (and RFC 5789) define, which pws knows but refuses. */
const KNOWN_METHODS = new Set([
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "CONNECT",
  "TRACE",
]);

/** How the server treats a method: serve it, 405, or 501. */
export type MethodClass = "allowed" | "not-allowed" | "not-implemented";

/**
 * Classifies a method token. Methods are case-sensitive (RFC 9110 §9.1):
 * `get` is an unknown method, answered with 501.
 */
export function classifyMethod(method: string): MethodClass {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
    return "allowed";
  }
  return KNOWN_METHODS.has(method) ? "not-allowed" : "not-implemented";
}

// uri-host [":" port]: an IP-literal in brackets, or reg-name / IPv4
// characters (unreserved, pct-encoded, sub-delims), then an optional port.
const HOST_VALUE =
  /^(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/**
 * Checks the Host rules of RFC 9112 §3.2: an HTTP/1.1 request needs exactly
 * one Host field with a valid value. Returns a reason for a 400, or
 * undefined when the request is acceptable.
 */
export function checkHost(head: RequestHead): string | undefined {
  const hosts = headerValues(head, "host");
  if (hosts.length > 1) return "More than one Host header";
  if (hosts.length === 0) {
    return head.versionMinor >= 1 ? "Missing Host header" : undefined;
  }
  return HOST_VALUE.test(hosts[0]) ? undefined : "Invalid Host header";
}

/**
 * Decides whether the connection stays open after this exchange
 * (RFC 9112 §9.3): HTTP/1.1 persists unless `close` is listed; HTTP/1.0
 * persists only when `keep-alive` is listed.
 */
export function wantsKeepAlive(head: RequestHead): boolean {
  let close = false;
  let keepAlive = false;
  for (const value of headerValues(head, "connection")) {
    for (const token of listTokens(value)) {
      if (token === "close") close = true;
      else if (token === "keep-alive") keepAlive = true;
    }
  }
  if (close) return false;
  return head.versionMinor >= 1 || keepAlive;
}

/**
 * True when a request for a missing path should get the single-page app's
 * index: a navigation (the client accepts `text/html`) to a path without a
 * file extension. A missing `app.js` stays a 404, so HTML is never served
 * where a script or stylesheet was expected.
 */
export function isSpaNavigation(
  segments: readonly string[],
  accept: string | undefined,
): boolean {
  if (accept === undefined) return false;
  const last = segments[segments.length - 1] ?? "";
  if (last.lastIndexOf(".") > 0) return false;
  return listTokens(accept).some((range) => {
    const [type, ...params] = range.split(";").map((p) => p.trim());
    if (type !== "text/html") return false;
    // text/html;q=0 means "anything but HTML".
    return !params.some((p) => /^q\s*=\s*0(\.0*)?$/.test(p));
  });
}

const TOKEN_LIST =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\s*,\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * The extra fields of a CORS preflight answer (Fetch standard), or
 * undefined when the OPTIONS request is not a preflight (no Origin or no
 * Access-Control-Request-Method).
 */
export function corsPreflightHeaders(
  head: RequestHead,
): [string, string][] | undefined {
  const origin = headerValues(head, "origin");
  const method = headerValues(head, "access-control-request-method");
  if (origin.length === 0 || method.length === 0) return undefined;
  const headers: [string, string][] = [
    ["Access-Control-Allow-Methods", ALLOW_HEADER_VALUE],
    ["Access-Control-Max-Age", "86400"],
  ];
  const requested = headerValues(head, "access-control-request-headers")
    .join(", ").trim();
  if (requested !== "" && TOKEN_LIST.test(requested)) {
    headers.push(["Access-Control-Allow-Headers", requested]);
  }
  headers.push(["Vary", "Access-Control-Request-Headers"]);
  return headers;
}
