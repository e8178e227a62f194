/**
 * HTTP Basic authentication (RFC 7617), the protocol half: parsing an
 * `Authorization` value into a user and a password, and the challenge
 * sent with 401. Pure and linear: the value is attacker-controlled, so it
 * is walked once by hand, and anything malformed is simply "no
 * credentials" (the caller answers 401, never a 400 that says more).
 *
 * @module
 */

import { equalsAsciiLower } from "../http/scan.ts";

/** The realm pws announces; browsers show it in their login prompt. */
export const REALM = "pws";

/**
 * The `WWW-Authenticate` value of every 401: Basic, with the charset
 * parameter (RFC 7617 §2.1) so that browsers send UTF-8 names and
 * passwords rather than Latin-1.
 */
export const BASIC_CHALLENGE = `Basic realm="${REALM}", charset="UTF-8"`;

/** A user name and password as a client sent them. */
export interface BasicCredentials {
  user: string;
  password: string;
}

/**
 * Values of the base64 alphabet (RFC 4648 §4) by character code, 255 for
 * characters outside it. `=` is handled apart.
 */
const BASE64_VALUES: Uint8Array = (() => {
  const table = new Uint8Array(128).fill(255);
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * Decodes `text[start..end)` as canonical padded base64 (RFC 4648 §4):
 * a length that is a multiple of 4, only alphabet characters, at most two
 * `=` and only at the end, and zero bits where the padding cuts a
 * character (so that each byte string has exactly one encoding). Returns
 * undefined for anything else. Linear in the length.
 */
export function decodeBase64Strict(
  text: string,
  start = 0,
  end: number = text.length,
): Uint8Array | undefined {
  const length = end - start;
  if (length === 0 || length % 4 !== 0) return undefined;
  let padding = 0;
  if (text.charCodeAt(end - 1) === 0x3d /* = */) {
    padding = text.charCodeAt(end - 2) === 0x3d ? 2 : 1;
  }
  const out = new Uint8Array((length / 4) * 3 - padding);
  let o = 0;
  for (let i = start; i < end; i += 4) {
    const last = i + 4 === end;
    const a = base64Value(text, i);
    const b = base64Value(text, i + 1);
    const c = last && padding === 2 ? 0 : base64Value(text, i + 2);
    const d = last && padding >= 1 ? 0 : base64Value(text, i + 3);
    if ((a | b | c | d) > 63) return undefined;
    out[o++] = (a << 2) | (b >> 4);
    if (last && padding === 2) {
      if ((b & 0x0f) !== 0) return undefined; // not canonical
      break;
    }
    out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    if (last && padding === 1) {
      if ((c & 0x03) !== 0) return undefined; // not canonical
      break;
    }
    out[o++] = ((c & 0x03) << 6) | d;
  }
  return out;
}

/** The 6-bit value of the character at `i`, or 255 when not base64. */
function base64Value(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code < 128 ? BASE64_VALUES[code] : 255;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Parses an `Authorization` field value as Basic credentials:
 * `Basic` (any case), one or more spaces, then the token68 holding
 * `base64(user ":" password)`, decoded as UTF-8 and split at the first
 * colon. Returns undefined for another scheme, invalid base64 or UTF-8, no
 * colon, an empty user, or control characters (RFC 7617 §2 forbids them in
 * both parts). The field parser has already trimmed surrounding
 * whitespace; anything after the token68 makes the value invalid.
 */
export function parseBasicAuthorization(
  value: string,
): BasicCredentials | undefined {
  if (!equalsAsciiLower(value, 0, Math.min(5, value.length), "basic")) {
    return undefined;
  }
  let i = 5;
  if (value.charCodeAt(i) !== 0x20) return undefined;
  while (value.charCodeAt(i) === 0x20) i++;
  const bytes = decodeBase64Strict(value, i, value.length);
  if (bytes === undefined) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  if (hasControl(text)) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * True when `text` holds a control character: C0, DEL or C1 (the CTLs of
 * RFC 5234 and the Unicode Cc characters RFC 7617 §2 refers to).
 */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
