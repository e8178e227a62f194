/**
 * Serializing response heads (RFC 9112 §4, RFC 9110 §15). Pure apart from
 * the once-a-second `Date` cache.
 *
 * @module
 */

import { formatHttpDate } from "./date.ts";

/** Reason phrases for the statuses pws sends. */
export const STATUS_REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  410: "Gone",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Returns the status line, e.g. `HTTP/1.1 404 Not Found`. */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_REASONS[status] ?? "Unknown"}`;
}

/** Header fields of a response, in the order they are sent. */
export type ResponseHeaders = [name: string, value: string][];

/**
 * Serializes a response head: status line, fields and the blank line.
 * Field names and values must already be valid (they come from pws itself
 * or from validated configuration).
 */
export function serializeResponseHead(
  status: number,
  headers: ResponseHeaders,
): string {
  let out = statusLine(status) + "\r\n";
  for (let i = 0; i < headers.length; i++) {
    out += headers[i][0] + ": " + headers[i][1] + "\r\n";
  }
  return out + "\r\n";
}

let cachedSecond = NaN; // matches no second, so the first call formats
let cachedDate = "";

/**
 * The current time as an IMF-fixdate, formatted at most once a second: the
 * value only changes once a second, and formatting is costly per request.
 */
export function currentHttpDate(nowMs: number = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = formatHttpDate(nowMs);
  }
  return cachedDate;
}

/**
 * The second the current Date header describes: responses built in the
 * same second carry the same Date and may be reused.
 */
export function currentHttpSecond(nowMs: number = Date.now()): number {
  currentHttpDate(nowMs);
  return cachedSecond;
}

/**
 * Statuses whose responses never have content (RFC 9110 §6.4.1): a
 * Content-Length must still describe the content that would have been
 * sent, so callers omit the body, not the length.
 */
export function statusHasNoContent(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}
