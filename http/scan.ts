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

/**
 * Calls `visit(start, end)` with the bounds of each element of a
 * comma-separated list, OWS trimmed, skipping empty elements: the same
 * elements as {@linkcode splitList}, without allocating them. Stops early
 * when `visit` returns true.
 */
export function forEachListElement(
  value: string,
  visit: (start: number, end: number) => boolean | void,
): void {
  let start = 0;
  while (start <= value.length) {
    let comma = value.indexOf(",", start);
    if (comma < 0) comma = value.length;
    let s = start;
    let e = comma;
    while (s < e && isOws(value.charCodeAt(s))) s++;
    while (e > s && isOws(value.charCodeAt(e - 1))) e--;
    if (s < e && visit(s, e) === true) return;
    start = comma + 1;
  }
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
  let hasUpper = false;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) hasUpper = true;
    else if (c >= 0x80) ascii = false;
  }
  if (!hasUpper) return text;
  // Pure ASCII (the usual case): the built-in folds exactly A-Z there, in
  // one native pass rather than a string piece per capital.
  if (ascii) return text.toLowerCase();
  // Otherwise by code, in chunks small enough to spread as arguments.
  const parts: string[] = [];
  for (let from = 0; from < text.length; from += 4096) {
    const codes: number[] = [];
    for (let i = from; i < Math.min(text.length, from + 4096); i++) {
      const c = text.charCodeAt(i);
      codes.push(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    }
    parts.push(String.fromCharCode(...codes));
  }
  return parts.join("");
}

/** True for an ASCII digit `0`–`9` (a character code). */
export function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * Index just past the run of ASCII digits that starts at `i` (`i` itself
 * when there is none).
 */
export function skipDigits(text: string, i: number): number {
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Drops leading zeros from a digit string but keeps at least one digit:
 * `"007"` is `"7"`, `"000"` is `"0"`.
 */
export function stripLeadingZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 0x30) i++;
  return i === 0 ? digits : digits.slice(i);
}

/**
 * A lookup table over ASCII for the characters of `chars`, plus letters
 * and digits when `alphanumeric` is set: `table[code] === 1` means member.
 * Codes of 128 and above are never members (read `undefined`).
 */
export function asciiSet(chars: string, alphanumeric = false): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  if (alphanumeric) {
    for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
    for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
    for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  }
  return table;
}

/**
 * Parses a qvalue (RFC 9110 §12.4.2): `0` to `1` with at most three
 * decimals, where `1` may only be followed by zeros (`1.5` is invalid, not
 * clamped). Returns the weight, or `undefined` when `text` is not exactly
 * a qvalue.
 */
export function parseQvalue(text: string): number | undefined {
  const first = text.charCodeAt(0);
  if (first !== 0x30 && first !== 0x31) return undefined;
  if (text.length === 1) return first - 0x30;
  if (text.charCodeAt(1) !== 0x2e /* . */ || text.length > 5) return undefined;
  for (let i = 2; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (first === 0x31 ? c !== 0x30 : !isDigit(c)) return undefined;
  }
  return Number(text);
}

/**
 * End of the first part of a list element `text[start..end)` shaped
 * `value *( OWS ";" OWS parameter )` (as in Accept and Accept-Encoding):
 * the index of its first `;` (or `end`), less trailing OWS. Searches
 * within the element only.
 */
export function elementValueEnd(
  text: string,
  start: number,
  end: number,
): number {
  let i = start;
  while (i < end && text.charCodeAt(i) !== 0x3b /* ; */) i++;
  while (i > start && isOws(text.charCodeAt(i - 1))) i--;
  return i;
}

/**
 * Calls `visit(nameStart, nameEnd, valueStart, valueEnd)` for each
 * `name[=value]` parameter of a list element `text[start..end)` (see
 * {@linkcode elementValueEnd}), in order, with OWS trimmed from name and
 * value; `valueStart` is -1 when there is no `=`. Empty parameters (`a;;b`)
 * are skipped. Quoted strings are not interpreted: a `;` inside quotes
 * still separates. Allocates nothing; stops when `visit` returns true.
 */
export function forEachParameter(
  text: string,
  start: number,
  end: number,
  visit: (
    nameStart: number,
    nameEnd: number,
    valueStart: number,
    valueEnd: number,
  ) => boolean | void,
): void {
  let i = start;
  while (i < end && text.charCodeAt(i) !== 0x3b) i++;
  while (i < end) {
    // `i` is at a ";": the parameter runs to the next one.
    let partEnd = i + 1;
    let eq = -1;
    while (partEnd < end) {
      const c = text.charCodeAt(partEnd);
      if (c === 0x3b) break;
      if (c === 0x3d /* = */ && eq < 0) eq = partEnd;
      partEnd++;
    }
    let nameStart = i + 1;
    let nameEnd = eq < 0 ? partEnd : eq;
    while (nameStart < nameEnd && isOws(text.charCodeAt(nameStart))) {
      nameStart++;
    }
    while (nameEnd > nameStart && isOws(text.charCodeAt(nameEnd - 1))) {
      nameEnd--;
    }
    if (eq < 0) {
      if (nameStart < nameEnd && visit(nameStart, nameEnd, -1, -1) === true) {
        return;
      }
    } else {
      let valueStart = eq + 1;
      let valueEnd = partEnd;
      while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) {
        valueStart++;
      }
      while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) {
        valueEnd--;
      }
      if (visit(nameStart, nameEnd, valueStart, valueEnd) === true) return;
    }
    i = partEnd;
  }
}

/**
 * True when `text[start..end)` equals `lower` (a lowercase ASCII string)
 * ignoring ASCII case only, without allocating.
 */
export function equalsAsciiLower(
  text: string,
  start: number,
  end: number,
  lower: string,
): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(start + i);
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
