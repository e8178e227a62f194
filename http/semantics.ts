/**
 * Request-level decisions that follow from a parsed head: is the Host
 * header acceptable, does the connection persist, what does the method
 * mean for a static file server. Pure functions.
 *
 * @module
 */

import {
  headerValue,
  headerValues,
  hexDigitValue,
  isToken,
  type RequestHead,
} from "./request.ts";
import {
  asciiLower,
  asciiSet,
  elementValueEnd,
  equalsAsciiLower,
  forEachListElement,
  forEachParameter,
  isDigits,
  isOws,
  skipOws,
  trimOws,
} from "./scan.ts";

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

// RFC 3986 character classes of a Host value (RFC 9110 §7.2: uri-host
// [":" port]).
const SUB_DELIMS = "!$&'()*+,;=";
const REG_NAME_CHARS = asciiSet("-._~" + SUB_DELIMS, true);
const IP_FUTURE_CHARS = asciiSet("-._~:" + SUB_DELIMS, true);

/** True when `text[from..to)` is one or more characters of `accept`. */
function allOf(
  text: string,
  from: number,
  to: number,
  accept: (code: number) => boolean,
): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) if (!accept(text.charCodeAt(i))) return false;
  return true;
}

function isHexDigit(code: number): boolean {
  return hexDigitValue(code) >= 0;
}

/**
 * The inside of an IP-literal's brackets: IPv6 characters (hex digits,
 * ":" and "." for an embedded IPv4), or an IPvFuture `v1.x`.
 */
function isIpLiteralBody(text: string, from: number, to: number): boolean {
  const first = text.charCodeAt(from);
  if (first !== 0x76 /* v */ && first !== 0x56 /* V */) {
    return allOf(
      text,
      from,
      to,
      (c) => isHexDigit(c) || c === 0x3a || c === 0x2e,
    );
  }
  const dot = text.indexOf(".", from);
  return dot > 0 && dot < to && allOf(text, from + 1, dot, isHexDigit) &&
    allOf(text, dot + 1, to, (c) => IP_FUTURE_CHARS[c] === 1);
}

/**
 * Whether `value` is a syntactically valid Host field value: an IP-literal
 * in brackets, or a reg-name / IPv4address (unreserved, sub-delims and
 * pct-encoded characters, possibly empty), then an optional `:` and port
 * digits. One pass, no backtracking.
 */
export function isValidHostValue(value: string): boolean {
  let i = 0;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf("]");
    if (close < 0 || !isIpLiteralBody(value, 1, close)) return false;
    i = close + 1;
  } else {
    while (i < value.length) {
      const c = value.charCodeAt(i);
      if (REG_NAME_CHARS[c] === 1) {
        i++;
      } else if (
        c === 0x25 /* % */ && isHexDigit(value.charCodeAt(i + 1)) &&
        isHexDigit(value.charCodeAt(i + 2))
      ) {
        i += 3;
      } else {
        break;
      }
    }
  }
  if (i === value.length) return true;
  if (value.charCodeAt(i) !== 0x3a /* : */) return false;
  return i + 1 === value.length || isDigits(value.slice(i + 1));
}

/** True for an HTTP/1.0 request (not 1.1, nor 2.0). */
export function isHttp10(head: RequestHead): boolean {
  return head.versionMajor === 1 && head.versionMinor === 0;
}

/**
 * Checks the Host rules of RFC 9112 §3.2: an HTTP/1.1 request needs exactly
 * one Host field with a valid value. Returns a reason for a 400, or
 * undefined when the request is acceptable.
 */
export function checkHost(head: RequestHead): string | undefined {
  const hosts = headerValues(head, "host");
  if (hosts.length > 1) return "More than one Host header";
  if (hosts.length === 0) {
    // HTTP/1.0 may omit it; HTTP/1.1 and HTTP/2 (as :authority) may not.
    return isHttp10(head) ? undefined : "Missing Host header";
  }
  return isValidHostValue(hosts[0]) ? undefined : "Invalid Host header";
}

/**
 * Whether an `Expect` value is the one expectation pws meets,
 * `100-continue` (RFC 9110 §10.1.1), compared case-insensitively; any
 * other value is answered with 417.
 */
export function isExpectContinue(value: string): boolean {
  return value.length === 12 && asciiLower(value) === "100-continue";
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
    forEachListElement(value, (start, end) => {
      if (equalsAsciiLower(value, start, end, "close")) close = true;
      else if (equalsAsciiLower(value, start, end, "keep-alive")) {
        keepAlive = true;
      }
    });
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
  let navigation = false;
  forEachListElement(accept, (start, end) => {
    // Only a `text/html` range matters: look at nothing else.
    const typeEnd = elementValueEnd(accept, start, end);
    if (!equalsAsciiLower(accept, start, typeEnd, "text/html")) return false;
    // text/html;q=0 means "anything but HTML".
    let refused = false;
    forEachParameter(accept, start, end, (nameStart, nameEnd, from, to) => {
      refused = from >= 0 &&
        equalsAsciiLower(accept, nameStart, nameEnd, "q") &&
        isZeroWeight(accept, from, to);
      return refused;
    });
    navigation = !refused;
    return navigation;
  });
  return navigation;
}

/**
 * True when `text[from..to)` is a weight of zero: `0`, `0.`, `0.000` (any
 * number of zeros, as this check always allowed).
 */
function isZeroWeight(text: string, from: number, to: number): boolean {
  if (from >= to || text.charCodeAt(from) !== 0x30) return false;
  if (to - from === 1) return true;
  if (text.charCodeAt(from + 1) !== 0x2e /* . */) return false;
  for (let i = from + 2; i < to; i++) {
    if (text.charCodeAt(i) !== 0x30) return false;
  }
  return true;
}

/**
 * True when `value` is `token *( OWS "," OWS token )`: one or more tokens
 * separated by single commas (no empty elements), as a CORS preflight's
 * Access-Control-Request-Headers may be echoed back.
 */
export function isTokenList(value: string): boolean {
  let i = 0;
  while (true) {
    const start = i;
    while (
      i < value.length && !isOws(value.charCodeAt(i)) &&
      value.charCodeAt(i) !== 0x2c
    ) i++;
    if (!isToken(value.slice(start, i))) return false;
    i = skipOws(value, i);
    if (i === value.length) return true;
    if (value.charCodeAt(i) !== 0x2c /* , */) return false;
    i = skipOws(value, i + 1);
  }
}

/**
 * True when `head` is a CORS preflight (Fetch standard): an OPTIONS
 * request with Origin and Access-Control-Request-Method. With `--cors`,
 * these are answered without credentials, since browsers never send any
 * with a preflight.
 */
export function isCorsPreflight(head: RequestHead): boolean {
  return head.method === "OPTIONS" &&
    headerValue(head, "origin") !== undefined &&
    headerValue(head, "access-control-request-method") !== undefined;
}

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
  const requested = trimOws(
    headerValues(head, "access-control-request-headers")
      .join(", "),
  );
  if (isTokenList(requested)) {
    headers.push(["Access-Control-Allow-Headers", requested]);
  }
  headers.push(["Vary", "Access-Control-Request-Headers"]);
  return headers;
}
