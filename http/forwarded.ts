/**
 * The client address behind trusted proxies (`--trust-proxy`): from
 * `Forwarded` (RFC 7239 `for=`) or, without it, `X-Forwarded-For`, the
 * rightmost hop that is not itself a trusted proxy. Each proxy appends
 * the address it received from, so the hops to the right of the first
 * untrusted one were written by proxies we trust, and everything to its
 * left by whoever sent the request: it is the last address anyone we
 * trust vouches for.
 *
 * Only connections whose peer is trusted consult the fields at all; the
 * caller decides that. Linear scans, no regular expression; the fields
 * are bounded by the head limits, and at most {@linkcode MAX_HOPS} hops
 * from the right are kept.
 *
 * @module
 */

import { headerValues, type RequestHead } from "./request.ts";
import { inAnyRange, type IpRange, parseIpAddress } from "./ip.ts";
import { equalsAsciiLower, isOws } from "./scan.ts";

/** Hops looked at, from the right; a longer chain is cut on the left. */
export const MAX_HOPS = 32;

/** A hop: the address text as given (validated), and its 16 bytes. */
interface Hop {
  text: string;
  bytes: Uint8Array | undefined;
}

/**
 * The address of a node as `Forwarded` or `X-Forwarded-For` writes it:
 * `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`
 * or a bare `2001:db8::1`, quotes already removed. Undefined for
 * `unknown`, obfuscated names (`_hidden`) and anything malformed.
 */
export function parseNode(node: string): Hop | undefined {
  let address = node;
  if (node.charCodeAt(0) === 0x5b /* [ */) {
    const close = node.indexOf("]");
    if (close < 0) return undefined;
    if (close !== node.length - 1 && !isPort(node, close + 1)) {
      return undefined;
    }
    address = node.slice(1, close);
    if (address.indexOf(":") < 0) return undefined;
  } else {
    const colon = node.indexOf(":");
    if (colon >= 0 && node.indexOf(":", colon + 1) < 0) {
      // One colon: IPv4 and a port.
      if (!isPort(node, colon)) return undefined;
      address = node.slice(0, colon);
    }
  }
  if (address.indexOf("%") >= 0) return undefined;
  const bytes = parseIpAddress(address);
  return bytes === undefined ? undefined : { text: address, bytes };
}

/** True when `text[at..]` is `:` and 1–5 digits. */
function isPort(text: string, at: number): boolean {
  if (text.charCodeAt(at) !== 0x3a) return false;
  const digits = text.length - at - 1;
  if (digits < 1 || digits > 5) return false;
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Keeps the last MAX_HOPS hops pushed (a ring would do; this is short). */
class LastHops {
  hops: (Hop | undefined)[] = [];
  push(hop: Hop | undefined): void {
    this.hops.push(hop);
    if (this.hops.length > MAX_HOPS * 2) {
      this.hops = this.hops.slice(-MAX_HOPS);
    }
  }
  last(): (Hop | undefined)[] {
    return this.hops.slice(-MAX_HOPS);
  }
}

/**
 * The `for=` node of each element of a `Forwarded` value, in order
 * (undefined for an element without a usable one). Quoted strings may
 * hold `,`, `;` and `\`-escapes; a malformed element yields undefined.
 */
export function forwardedHops(value: string): (Hop | undefined)[] {
  const hops = new LastHops();
  let i = 0;
  const n = value.length;
  let hop: Hop | undefined;
  let elementHasPair = false;
  while (i <= n) {
    // One pair: token "=" (token / quoted-string), or the element's end.
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < n && isNameChar(value.charCodeAt(i))) i++;
    const nameEnd = i;
    let node: string | undefined;
    let bad = false;
    if (nameEnd > nameStart) {
      if (value.charCodeAt(i) !== 0x3d /* = */) bad = true;
      else {
        i++;
        if (value.charCodeAt(i) === 0x22 /* " */) {
          i++;
          let text = "";
          let closed = false;
          while (i < n) {
            const c = value.charCodeAt(i);
            if (c === 0x22) {
              closed = true;
              i++;
              break;
            }
            if (c === 0x5c /* \ */ && i + 1 < n) i++;
            text += value[i];
            i++;
          }
          if (!closed) bad = true;
          node = text;
        } else {
          const from = i;
          while (i < n && isNameChar(value.charCodeAt(i))) i++;
          node = value.slice(from, i);
        }
      }
    }
    if (!bad && node !== undefined && nameEnd > nameStart) {
      elementHasPair = true;
      if (equalsAsciiLower(value, nameStart, nameEnd, "for")) {
        hop = parseNode(node);
      }
    }
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const c = i < n ? value.charCodeAt(i) : 0x2c;
    if (bad || (c !== 0x3b && c !== 0x2c)) {
      // Malformed: this element cannot be trusted; skip to the next comma
      // outside quotes.
      hop = undefined;
      elementHasPair = true;
      let quoted = false;
      while (i < n) {
        const d = value.charCodeAt(i);
        if (quoted && d === 0x5c) i++;
        else if (d === 0x22) quoted = !quoted;
        else if (!quoted && d === 0x2c) break;
        i++;
      }
      if (i >= n) {
        hops.push(undefined);
        break;
      }
    }
    if (i >= n || value.charCodeAt(i) === 0x2c) {
      if (elementHasPair) hops.push(hop);
      hop = undefined;
      elementHasPair = false;
      if (i >= n) break;
    }
    i++; // past ";" or ","
  }
  return hops.last();
}

/** tchar, as a parameter name or unquoted value uses (plus `:[]` hosts). */
function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f ||
    c === 0x21 || c === 0x23 || c === 0x24 || c === 0x25 || c === 0x26 ||
    c === 0x27 || c === 0x2a || c === 0x2b || c === 0x5e || c === 0x60 ||
    c === 0x7c || c === 0x7e;
}

/** The hops of an `X-Forwarded-For` value, in order. */
export function xForwardedForHops(value: string): (Hop | undefined)[] {
  const hops = new LastHops();
  let start = 0;
  while (start <= value.length) {
    let comma = value.indexOf(",", start);
    if (comma < 0) comma = value.length;
    let s = start;
    let e = comma;
    while (s < e && isOws(value.charCodeAt(s))) s++;
    while (e > s && isOws(value.charCodeAt(e - 1))) e--;
    if (s < e) hops.push(parseNode(value.slice(s, e)));
    start = comma + 1;
  }
  return hops.last();
}

/**
 * The rightmost hop not in `trusted`, walking from the right; when a hop
 * cannot be read (`unknown`, malformed), the last trusted one walked
 * past (the walk cannot vouch beyond it), or `peer` if there is none.
 * When every hop is trusted, the leftmost.
 */
export function rightmostUntrusted(
  hops: readonly (Hop | undefined)[],
  trusted: readonly IpRange[],
  peer: string,
): string {
  let address = peer;
  for (let k = hops.length - 1; k >= 0; k--) {
    const hop = hops[k];
    if (hop === undefined || hop.bytes === undefined) return address;
    address = hop.text;
    if (!inAnyRange(hop.bytes, trusted)) return address;
  }
  return address;
}

/**
 * The client address of a request that came through trusted proxies:
 * `Forwarded` when present, else `X-Forwarded-For`, else `peer`. Field
 * lines of one name are joined in order, as a list. Only call this for a
 * connection whose peer is trusted.
 */
export function forwardedClient(
  head: RequestHead,
  trusted: readonly IpRange[],
  peer: string,
): string {
  const forwarded = headerValues(head, "forwarded");
  if (forwarded.length > 0) {
    return rightmostUntrusted(
      forwardedHops(forwarded.join(",")),
      trusted,
      peer,
    );
  }
  const xff = headerValues(head, "x-forwarded-for");
  if (xff.length > 0) {
    return rightmostUntrusted(xForwardedForHops(xff.join(",")), trusted, peer);
  }
  return peer;
}

/** True when a connection's peer (the kernel's address) is trusted. */
export function isTrustedPeer(
  peer: string,
  trusted: readonly IpRange[],
): boolean {
  if (trusted.length === 0) return false;
  const bytes = parseIpAddress(peer);
  return bytes !== undefined && inAnyRange(bytes, trusted);
}

/**
 * The address to log and to limit a request by: its peer's, or, when the
 * peer is a trusted proxy, the one the proxies forwarded (see
 * {@linkcode forwardedClient}).
 */
export function requestAddress(
  head: RequestHead | undefined,
  trusted: readonly IpRange[],
  peer: string,
  peerTrusted: boolean = isTrustedPeer(peer, trusted),
): string {
  return peerTrusted && head !== undefined
    ? forwardedClient(head, trusted, peer)
    : peer;
}
