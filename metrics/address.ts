/**
 * `ADDR:PORT` as `--metrics` takes it (pure): `127.0.0.1:9100`,
 * `[::1]:9100`, `localhost:9100`.
 *
 * @module
 */

import { isDigits } from "../http/scan.ts";

/** An address and port to listen on. */
export interface ListenAddress {
  /** The host, without brackets for IPv6. */
  hostname: string;
  /** 0–65535; 0 picks a free port. */
  port: number;
}

/** True for the characters of an IPv6 literal: hex digits, `:` and `.`. */
function isIpv6Char(c: number): boolean {
  return (c >= 0x30 && c <= 0x3a) || (c >= 0x41 && c <= 0x46) ||
    (c >= 0x61 && c <= 0x66) || c === 0x2e;
}

/** True for the characters of an IPv4 address or a host name. */
function isHostChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e;
}

function every(text: string, test: (c: number) => boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!test(text.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * Parses `ADDR:PORT`, the address an IPv4 address, a host name or a
 * bracketed IPv6 address. Returns the address, or a message saying what
 * is wrong.
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return "use ADDR:PORT, such as 127.0.0.1:9100";
  const portText = text.slice(colon + 1);
  if (!isDigits(portText) || portText.length > 5 || Number(portText) > 65535) {
    return "the port must be a number from 0 to 65535";
  }
  let host = text.slice(0, colon);
  if (host === "") {
    return "give the address too, such as 127.0.0.1:9100 or [::1]:9100";
  }
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) return "an IPv6 address needs its closing ]";
    host = host.slice(1, -1);
    if (!host.includes(":") || !every(host, isIpv6Char)) {
      return "not an IPv6 address between the brackets";
    }
  } else if (host.includes(":")) {
    return "put an IPv6 address in brackets, such as [::1]:9100";
  } else if (!every(host, isHostChar)) {
    return "the address may hold letters, digits, '.' and '-' only";
  }
  return { hostname: host, port: Number(portText) };
}
