/**
 * Small linear scanners shared by the field parsers. Request bytes are
 * attacker-controlled, so every parser walks them once, by hand: no regular
 * expression (a backtracking one can cost quadratic time on a crafted
 * value), and no `String.prototype.trim` (it strips Unicode spaces such as
 * U+00A0 too, while HTTP's optional whitespace is SP and HTAB only).
 *
 * @module
 */

/** True for SP and HTAB, the optional whitespace of RFC 9110 §5.6.3. */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Index of the first non-OWS character at or after `i` (or the end). */
export function skipOws(text: string, i: number): number {
  while (i < text.length && isOws(text.charCodeAt(i))) i++;
  return i;
}

/** Strips SP and HTAB (only those) from both ends, in linear time. */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * Splits a comma-separated list (RFC 9110 §5.6.1) into its elements with
 * OWS trimmed, dropping empty elements (`a, ,b` is `a`, `b`).
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (i === value.length || value.charCodeAt(i) === 0x2c /* , */) {
      const element = trimOws(value.slice(start, i));
      if (element !== "") out.push(element);
      start = i + 1;
    }
  }
  return out;
}

/** True when `text` is one or more ASCII digits and nothing else. */
export function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Lowercases ASCII letters only: `toLowerCase` would also fold non-ASCII
 * characters (U+212A KELVIN SIGN becomes "k"), letting a look-alike pass
 * for a token.
 */
export function asciiLower(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      out += text.slice(from, i) + String.fromCharCode(c + 32);
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}
