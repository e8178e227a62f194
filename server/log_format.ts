/**
 * The Common and Combined Log Formats of Apache and nginx, as pure
 * functions: `%h %l %u %t "%r" %>s %b`, and the same followed by
 * `"%{Referer}i" "%{User-agent}i"`. Log tools (GoAccess, AWStats, every
 * SIEM) read these with their stock patterns.
 *
 * Escaping follows nginx: in the request line, the user, the referer and
 * the user agent, `"`, `\`, control bytes and bytes from 0x7f up become
 * `\xHH` (upper-case hex), so no request can end a quoted field, start a
 * line, or leave bytes a reader could take for UTF-8 text. An empty field
 * is `-`; a field that is exactly `-` is written `\x2D`, so that the two
 * stay apart.
 *
 * @module
 */

import { MONTH_NAMES } from "../http/date.ts";

const HEX = "0123456789ABCDEF";

/** True for a byte nginx writes as `\xHH` in an access-log field. */
function mustEscape(byte: number): boolean {
  return byte < 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x5c;
}

/** A space must be escaped too in an unquoted field (`%u`). */
function mustEscapeUnquoted(byte: number): boolean {
  return byte === 0x20 || mustEscape(byte);
}

/**
 * Escapes a byte string (each UTF-16 unit one byte, as pws holds request
 * fields: HTTP/1.1 and HTTP/2 alike) for a log field: `"`, `\`, bytes
 * below 0x20 and from 0x7f up become `\xHH`. Units above 0xff (not from
 * the wire) are escaped as their UTF-8 bytes. `""` becomes `-`, and `-`
 * becomes `\x2D`. Linear, and the input is returned as is when nothing
 * needs escaping (the usual case). `escapes` chooses the bytes to escape
 * (nginx's set by default).
 */
export function escapeLogField(
  text: string,
  escapes: (byte: number) => boolean = mustEscape,
): string {
  if (text === "") return "-";
  if (text === "-") return "\\x2D";
  let i = 0;
  while (i < text.length && !escapes(text.charCodeAt(i))) i++;
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      const bytes = new TextEncoder().encode(
        text.slice(i, i + (c >= 0xd800 && c <= 0xdbff ? 2 : 1)),
      );
      if (c >= 0xd800 && c <= 0xdbff) i++;
      for (const byte of bytes) out += escapedByte(byte);
    } else if (escapes(c)) out += escapedByte(c);
    else out += text[i];
  }
  return out;
}

function escapedByte(byte: number): string {
  return "\\x" + HEX[byte >> 4] + HEX[byte & 15];
}

/**
 * A user name (the operator's, from `--auth` or an htpasswd file, so any
 * Unicode) as the unquoted `%u` field: its UTF-8 bytes, escaped like
 * request fields, and a space as `\x20` too, since a space would end it.
 */
export function escapeLogUser(user: string | undefined): string {
  if (user === undefined) return "-";
  // Units above 0xff are escaped as their UTF-8 bytes by escapeLogField;
  // the others (Latin-1 letters) must be too.
  let bytes = "";
  for (const byte of new TextEncoder().encode(user)) {
    bytes += String.fromCharCode(byte);
  }
  return escapeLogField(bytes, mustEscapeUnquoted);
}

let clfSecond = NaN;
let clfSecondText = "";

/**
 * `%t`: `[10/Oct/2000:13:55:36 +0000]`, always in UTC (a log read on
 * another machine, or across a change of daylight saving, stays in
 * order). Formatted once per second.
 */
export function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clfSecond) {
    const d = new Date(second * 1000);
    clfSecond = second;
    clfSecondText = "[" + pad2(d.getUTCDate()) + "/" +
      MONTH_NAMES[d.getUTCMonth()] + "/" + d.getUTCFullYear() + ":" +
      pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) + ":" +
      pad2(d.getUTCSeconds()) + " +0000]";
  }
  return clfSecondText;
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/**
 * `%r`, the request line as nginx logs it: `METHOD target PROTOCOL`,
 * HTTP/2 as `HTTP/2.0`; `-` when no request line was read.
 */
export function clfRequestLine(
  method: string,
  target: string,
  protocol: string,
): string {
  if (method === "-" || method === "") return "-";
  const version = protocol === "HTTP/2" ? "HTTP/2.0" : protocol;
  return escapeLogField(`${method} ${target} ${version}`);
}

/** What a Common or Combined line says about one request. */
export interface ClfFields {
  /** `%h`: the client address. */
  remote: string;
  /** `%u`: the authenticated user, if any. */
  user: string | undefined;
  /** When the request started, ms since the epoch. */
  time: number;
  /** The request line's parts (`-` as method when none was read). */
  method: string;
  target: string;
  protocol: string;
  /** `%>s`. */
  status: number;
  /** `%b`: bytes of the response body (its head not counted). */
  bodyBytes: number;
  /** `Referer` and `User-Agent` as received (Combined only). */
  referer: string | undefined;
  userAgent: string | undefined;
}

/**
 * One Common Log Format line, without the newline. `%b` is the count of
 * body bytes, `0` when there were none, as nginx's `$body_bytes_sent`
 * writes it (Apache's `%b` writes `-`; log readers take both).
 */
export function formatCommonLine(fields: ClfFields): string {
  return (fields.remote === "" ? "-" : escapeLogField(fields.remote)) +
    " - " + escapeLogUser(fields.user) + " " + clfTime(fields.time) +
    ' "' + clfRequestLine(fields.method, fields.target, fields.protocol) +
    '" ' + fields.status + " " + fields.bodyBytes;
}

/** One Combined Log Format line: Common, then referer and user agent. */
export function formatCombinedLine(fields: ClfFields): string {
  return formatCommonLine(fields) + ' "' +
    escapeLogField(fields.referer ?? "") + '" "' +
    escapeLogField(fields.userAgent ?? "") + '"';
}
