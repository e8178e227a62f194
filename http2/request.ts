/**
 * An HTTP/2 request's decoded header block, judged by RFC 9113 §8 and
 * turned into the {@linkcode RequestHead} the rest of pws already serves
 * (so `respond()` needs no HTTP/2 knowledge), or refused.
 *
 * Pure and linear: one pass over the fields, each character looked at a
 * bounded number of times, no regular expression. The HPACK decoder has
 * already bounded the block's decoded size.
 *
 * Refusals come in two kinds. A *malformed* request (RFC 9113 §8.1.1) is a
 * protocol violation: the stream is reset with PROTOCOL_ERROR, and no
 * response page is sent. A request with too many fields is well formed but
 * too large for pws: it is answered with 431, like HTTP/1.1.
 *
 * @module
 */

import { bodyFraming } from "../http/body.ts";
import {
  type HeadLimits,
  isFieldValue,
  isTchar,
  isToken,
  type RequestHead,
} from "../http/request.ts";
import { asciiLower, isOws, trimOws } from "../http/scan.ts";

/** A field as the HPACK decoder gives it: latin1 byte strings. */
export type RequestField = readonly [name: string, value: string];

/** What {@linkcode requestFromFields} makes of a header block. */
export type RequestVerdict =
  | {
    kind: "request";
    head: RequestHead;
    /** The Content-Length, when the request carried one. */
    contentLength: number | undefined;
    /** The Priority field's raw value (RFC 9218 §5), lines joined. */
    priority: string | undefined;
  }
  /** Reset the stream with PROTOCOL_ERROR (RFC 9113 §8.1.1). */
  | { kind: "malformed"; reason: string }
  /** Answer 431 (RFC 6585 §5): more fields than pws accepts. */
  | { kind: "too_large"; status: 414 | 431; reason: string };

/** What {@linkcode checkTrailers} makes of a trailer block. */
export type TrailerVerdict = { kind: "ok" } | {
  kind: "malformed";
  reason: string;
};

const COLON = 0x3a;
const SLASH = 0x2f;

/**
 * Turns the fields of a request's header block into a request head with
 * `versionMajor` 2 and `versionMinor` 0, the target taken from `:path`
 * (`:authority` for CONNECT), and the regular fields in order (names in
 * lowercase, as HTTP/2 requires them). A `host` field is added from
 * `:authority` when the request has none, so that code reading Host works
 * unchanged; cookie crumbs are joined into one `cookie` field.
 *
 * The request line HTTP/1.1 would have (`METHOD target HTTP/2.0`) gets
 * HTTP/1.1's 414 limit, so that a target is refused alike in both. Of the
 * other limits only `limits.maxHeaderCount` is used: the decoded size was bounded by the
 * HPACK decoder. Reasons are fixed strings: no request byte is echoed.
 */
export function requestFromFields(
  fields: readonly RequestField[],
  limits: Pick<HeadLimits, "maxHeaderCount" | "maxRequestLineBytes">,
): RequestVerdict {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  const headers: [string, string][] = [];
  const hosts: string[] = [];
  let priority: string | undefined;
  let hasContentLength = false;
  // Cookie crumbs (RFC 9113 §8.2.3) go into one field, kept where the
  // first crumb was.
  let cookieIndex = -1;
  let regularSeen = false;

  for (const [name, value] of fields) {
    const valueProblem = fieldValueProblem(value);
    if (valueProblem !== undefined) return malformed(valueProblem);
    if (name.charCodeAt(0) === COLON) {
      // RFC 9113 §8.3: pseudo-header fields all come first.
      if (regularSeen) {
        return malformed("Pseudo-header field after a regular field");
      }
      switch (name) {
        case ":method":
          if (method !== undefined) return duplicate();
          method = value;
          break;
        case ":scheme":
          if (scheme !== undefined) return duplicate();
          scheme = value;
          break;
        case ":authority":
          if (authority !== undefined) return duplicate();
          authority = value;
          break;
        case ":path":
          if (path !== undefined) return duplicate();
          path = value;
          break;
        default:
          // :status, :protocol (pws never enables extended CONNECT) and
          // anything unknown (RFC 9113 §8.3).
          return malformed("Pseudo-header field not allowed in a request");
      }
      continue;
    }
    regularSeen = true;
    const problem = regularFieldProblem(name, value);
    if (problem !== undefined) return malformed(problem);
    if (name === "cookie" && cookieIndex >= 0) {
      headers[cookieIndex][1] += "; " + value;
      continue;
    }
    if (headers.length >= limits.maxHeaderCount) {
      return { kind: "too_large", status: 431, reason: "Too many fields" };
    }
    if (name === "cookie") cookieIndex = headers.length;
    else if (name === "host") hosts.push(value);
    else if (name === "content-length") hasContentLength = true;
    else if (name === "priority") {
      priority = priority === undefined ? value : priority + ", " + value;
    }
    headers.push([name, value]);
  }

  if (method === undefined) return malformed("Missing :method");
  if (!isToken(method)) return malformed("Invalid :method");
  if (authority !== undefined && !isVisibleAscii(authority)) {
    // An authority is URI characters (RFC 3986 §3.2), and an http(s) one
    // names a host, so it is not empty (RFC 9110 §4.2.1): a client with no
    // authority to send omits the field. It may become the logged target
    // (CONNECT), which must hold visible ASCII only.
    return malformed("Invalid :authority");
  }
  let target: string;
  if (method === "CONNECT") {
    // RFC 9113 §8.5: :authority only; the target is its authority-form.
    if (scheme !== undefined || path !== undefined) {
      return malformed("CONNECT with :scheme or :path");
    }
    if (authority === undefined) return malformed("CONNECT without :authority");
    target = authority;
  } else {
    if (scheme === undefined) return malformed("Missing :scheme");
    if (path === undefined) return malformed("Missing :path");
    // :scheme need not be the connection's (RFC 9113 §8.3.1 lets a client
    // name another, e.g. through a gateway); pws serves its one root
    // whatever the scheme says, as HTTP/1.1 ignores an absolute-form's.
    if (!isScheme(scheme)) return malformed("Invalid :scheme");
    const problem = pathProblem(path, method);
    if (problem !== undefined) return malformed(problem);
    target = path;
  }
  // " " + target + " HTTP/2.0": the line's length in HTTP/1.1 terms.
  if (method.length + target.length + 10 > limits.maxRequestLineBytes) {
    return {
      kind: "too_large",
      status: 414,
      reason: "Request target too long",
    };
  }

  if (authority !== undefined) {
    // RFC 9113 §8.3.1: a Host naming another authority than :authority
    // SHOULD be treated as malformed: two authorities, two possible
    // readings of whom the request is for.
    const lowerAuthority = asciiLower(authority);
    for (const host of hosts) {
      if (asciiLower(host) !== lowerAuthority) {
        return malformed("Host differs from :authority");
      }
    }
    if (hosts.length === 0) headers.push(["host", authority]);
  }

  const head: RequestHead = {
    method,
    target,
    versionMajor: 2,
    versionMinor: 0,
    headers,
  };
  let contentLength: number | undefined;
  if (hasContentLength) {
    // The HTTP/1.1 rules (digits only, equal repeats), by the same code.
    // Transfer-Encoding, the other half of that check, is refused above.
    const framing = bodyFraming(head);
    if (framing.kind === "error") return malformed("Invalid content-length");
    contentLength = framing.kind === "length" ? framing.length : 0;
  }
  return { kind: "request", head, contentLength, priority };
}

/**
 * Checks a trailer block (RFC 9113 §8.1): no pseudo-header field (they
 * belong to the header block, §8.3), and each field by the rules of a
 * request's regular fields. pws ignores trailers otherwise.
 */
export function checkTrailers(
  fields: readonly RequestField[],
): TrailerVerdict {
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === COLON) {
      return malformed("Pseudo-header field in trailers");
    }
    const problem = fieldValueProblem(value) ??
      regularFieldProblem(name, value);
    if (problem !== undefined) return malformed(problem);
  }
  return { kind: "ok" };
}

function malformed(reason: string): { kind: "malformed"; reason: string } {
  return { kind: "malformed", reason };
}

function duplicate(): { kind: "malformed"; reason: string } {
  return malformed("Duplicate pseudo-header field");
}

/**
 * Why a field value is malformed, or undefined. RFC 9113 §8.2.1 forbids
 * NUL, CR and LF anywhere, and SP or HTAB at either end (a value that an
 * HTTP/1.1 hop would trim or split differently). The other control
 * characters are invalid too (RFC 9110 §5.5) and pws's HTTP/1.1 parser
 * refuses them: refusing them here keeps every head pws serves within the
 * same characters, whichever protocol carried it.
 */
function fieldValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (isOws(value.charCodeAt(0)) || isOws(value.charCodeAt(value.length - 1))) {
    return "Field value begins or ends with whitespace";
  }
  return isFieldValue(value) ? undefined : "Invalid character in field value";
}

/**
 * Why a regular field (not a pseudo-header field) is malformed, or
 * undefined: its name must be a lowercase token (RFC 9113 §8.2.1, §8.2),
 * and it must not be connection-specific (§8.2.2), since HTTP/2 frames
 * the connection itself.
 */
function regularFieldProblem(name: string, value: string): string | undefined {
  if (name.length === 0) return "Empty field name";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return "Uppercase field name";
    if (c > 0xff || !isTchar(c)) return "Invalid character in field name";
  }
  switch (name) {
    case "connection":
    case "keep-alive":
    case "proxy-connection":
    case "transfer-encoding":
    case "upgrade":
      return "Connection-specific field";
    case "te":
      // The one TE an HTTP/2 request may carry (RFC 9113 §8.2.2).
      return asciiLower(trimOws(value)) === "trailers"
        ? undefined
        : "TE other than trailers";
  }
  return undefined;
}

/**
 * Why `:path` is malformed for `method`, or undefined. RFC 9113 §8.3.1:
 * never empty; `*` for a server-wide OPTIONS only; otherwise the origin
 * form (an absolute path and optional query). Anything else, such as an
 * absolute URI, has no meaning here: the authority travels in
 * `:authority`, and a second one inside `:path` could disagree with it.
 * Only visible ASCII may appear (URI characters, RFC 3986), as in an
 * HTTP/1.1 request-target: the rest of pws, the log included, relies on it.
 */
function pathProblem(path: string, method: string): string | undefined {
  if (path.length === 0) return "Empty :path";
  if (path === "*") {
    return method === "OPTIONS" ? undefined : "Asterisk :path not for OPTIONS";
  }
  if (path.charCodeAt(0) !== SLASH) return ":path is not an absolute path";
  return isVisibleAscii(path) ? undefined : "Invalid character in :path";
}

/** True when `text` is non-empty visible ASCII (0x21–0x7e) only. */
function isVisibleAscii(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * True when `text` is a URI scheme (RFC 3986 §3.1):
 * `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
 */
function isScheme(text: string): boolean {
  if (text.length === 0 || !isAlpha(text.charCodeAt(0))) return false;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      !isAlpha(c) && !(c >= 0x30 && c <= 0x39) && c !== 0x2b && c !== 0x2d &&
      c !== 0x2e
    ) {
      return false;
    }
  }
  return true;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
