/**
 * Telling HTTP/2 from HTTP/1.1 on a cleartext connection (RFC 9113 §3.3):
 * a client with prior knowledge opens with the 24-byte preface; anything
 * else is HTTP/1.1. Pure functions over the first bytes read.
 *
 * @module
 */

import { CLIENT_PREFACE } from "./frame.ts";

/**
 * Whether `buf[start..end]` begins like the client preface: `"yes"` when
 * it holds all of it, `"no"` when a byte differs, `"maybe"` when what is
 * there matches but is shorter (read more).
 */
export function matchPreface(
  buf: Uint8Array,
  start: number,
  end: number,
): "yes" | "no" | "maybe" {
  const have = Math.min(end - start, CLIENT_PREFACE.length);
  for (let i = 0; i < have; i++) {
    if (buf[start + i] !== CLIENT_PREFACE[i]) return "no";
  }
  return have === CLIENT_PREFACE.length ? "yes" : "maybe";
}

/**
 * Whether a request line that failed to parse is not HTTP/1 at all: three
 * space-separated words whose last does not even begin with `HTTP` (in
 * any case), such as a wrong preface (`INVALID CONNECTION PREFACE`). RFC
 * 9112 §2.2's 400 is for what "appears to be an HTTP request message";
 * this does not, and a client that meant HTTP/2 cannot read a 400: pws
 * closes the connection instead.
 */
export function isForeignRequestLine(
  buf: Uint8Array,
  start: number,
  end: number,
): boolean {
  let spaces = 0;
  let lastWord = start;
  let i = start;
  for (; i < end; i++) {
    const byte = buf[i];
    if (byte === 0x0d || byte === 0x0a) break;
    if (byte === 0x20) {
      if (i === lastWord) return false; // an empty word
      spaces++;
      lastWord = i + 1;
    } else if (byte < 0x21 || byte > 0x7e) return false;
  }
  if (spaces !== 2 || i === lastWord) return false;
  const http = "http";
  if (i - lastWord < http.length) return true;
  for (let k = 0; k < http.length; k++) {
    if ((buf[lastWord + k] | 0x20) !== http.charCodeAt(k)) return true;
  }
  return false;
}
