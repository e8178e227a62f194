/**
 * IP addresses and CIDR ranges, strictly parsed by linear scans: an IPv4
 * address is four decimal octets (no leading zeros, which some parsers
 * read as octal), an IPv6 address follows RFC 4291 §2.2 (`::` once, an
 * optional dotted IPv4 tail). Both are held as 16 bytes, IPv4 as its
 * IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so one comparison serves
 * both families and a dual-stack socket's `::ffff:127.0.0.1` matches
 * `127.0.0.0/8`.
 *
 * @module
 */

import { hexDigitValue } from "./request.ts";

/** A range of addresses: the first `prefix` bits of `bytes` (16 bytes). */
export interface IpRange {
  bytes: Uint8Array;
  /** Leading bits that must match, 0–128 (an IPv4 /n is 96 + n). */
  prefix: number;
}

/** Parses dotted-quad IPv4 `text[start..end)` into `out[at..at+4)`. */
function parseIpv4Into(
  text: string,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): boolean {
  let octets = 0;
  let i = start;
  while (octets < 4) {
    const from = i;
    let value = 0;
    while (i < end && i - from < 3) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      i++;
    }
    const digits = i - from;
    if (digits === 0 || value > 255) return false;
    if (digits > 1 && text.charCodeAt(from) === 0x30) return false;
    out[at + octets] = value;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== 0x2e /* . */) return false;
      i++;
    }
  }
  return i === end;
}

/**
 * Parses an IPv4 or IPv6 address (a `%zone` suffix on IPv6 is ignored)
 * into 16 bytes; undefined when `text` is not exactly one address.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  const out = new Uint8Array(16);
  if (text.indexOf(":") < 0) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseIpv4Into(text, 0, text.length, out, 12) ? out : undefined;
  }
  let end = text.indexOf("%");
  if (end < 0) end = text.length;
  else if (end === text.length - 1) return undefined;
  return parseIpv6Into(text, end, out) ? out : undefined;
}

/** Parses an IPv6 address `text[0..end)` into `out`. */
function parseIpv6Into(text: string, end: number, out: Uint8Array): boolean {
  // Groups before the gap are written in place; those after it are
  // collected and moved to the end once the count is known.
  const after: number[] = [];
  let groups = 0;
  let gapAt = -1;
  let i = 0;
  if (text.startsWith("::")) {
    gapAt = 0;
    i = 2;
    if (i === end) return true;
  }
  while (i < end) {
    // A dotted IPv4 tail takes the last 32 bits.
    let dot = false;
    let j = i;
    while (j < end && j - i <= 4) {
      const c = text.charCodeAt(j);
      if (c === 0x2e) {
        dot = true;
        break;
      }
      if (c === 0x3a) break;
      j++;
    }
    if (dot) {
      if (groups + 2 > 8) return false;
      const tail = new Uint8Array(4);
      if (!parseIpv4Into(text, i, end, tail, 0)) return false;
      const pair = [(tail[0] << 8) | tail[1], (tail[2] << 8) | tail[3]];
      for (const g of pair) {
        if (gapAt >= 0) after.push(g);
        else writeGroup(out, groups, g);
        groups++;
      }
      i = end;
      break;
    }
    let value = 0;
    let digits = 0;
    while (i < end && digits < 5) {
      const d = hexDigitValue(text.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4 || groups >= 8) return false;
    if (gapAt >= 0) after.push(value);
    else writeGroup(out, groups, value);
    groups++;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gapAt >= 0) return false; // `::` twice
      gapAt = groups;
      i++;
      if (i === end) break;
    } else if (i === end) return false; // a trailing single `:`
  }
  if (gapAt < 0) return groups === 8;
  if (groups > 7) return false;
  for (let k = 0; k < after.length; k++) {
    writeGroup(out, 8 - after.length + k, after[k]);
  }
  return true;
}

function writeGroup(out: Uint8Array, index: number, value: number): void {
  out[index * 2] = value >> 8;
  out[index * 2 + 1] = value & 0xff;
}

/**
 * Parses `ADDRESS/PREFIX` or a bare address (a single host: /32 or
 * /128). An IPv4 prefix is 0–32, an IPv6 one 0–128; bits past the prefix
 * may be set (`10.1.2.3/8` means `10.0.0.0/8`). Undefined when invalid.
 */
export function parseCidr(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  if (address.indexOf("%") >= 0) return undefined;
  const bytes = parseIpAddress(address);
  if (bytes === undefined) return undefined;
  const v4 = address.indexOf(":") < 0;
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (digits.length === 0 || digits.length > 3) return undefined;
    if (digits.length > 1 && digits.charCodeAt(0) === 0x30) return undefined;
    prefix = 0;
    for (let i = 0; i < digits.length; i++) {
      const c = digits.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return undefined;
      prefix = prefix * 10 + (c - 0x30);
    }
    if (prefix > max) return undefined;
  }
  return { bytes, prefix: v4 ? 96 + prefix : prefix };
}

/** True when the 16-byte `address` lies in `range`. */
export function inRange(address: Uint8Array, range: IpRange): boolean {
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) {
    if (address[i] !== range.bytes[i]) return false;
  }
  const bits = range.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (address[full] & mask) === (range.bytes[full] & mask);
}

/** True when `address` lies in any of `ranges`. */
export function inAnyRange(
  address: Uint8Array,
  ranges: readonly IpRange[],
): boolean {
  for (const range of ranges) {
    if (inRange(address, range)) return true;
  }
  return false;
}
