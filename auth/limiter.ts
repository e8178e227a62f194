/**
 * Slowing down password guessing: a token bucket of failed attempts per
 * client address, in a map of bounded size. Each failure (or attempt in
 * flight) takes a token; tokens come back one per refill period; with
 * none left the client is told to wait, and its password is not checked
 * at all. A success gives its token back, so logins are never limited.
 *
 * @module
 */

import { hexDigitValue } from "../http/request.ts";

/** Options of {@linkcode FailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failed attempts an address may make in a row (default 10). */
  burst?: number;
  /** Milliseconds for one attempt to come back (default 6000: 10 a minute). */
  refillMs?: number;
  /** Addresses remembered; beyond, the least recently seen goes (4096). */
  maxAddresses?: number;
}

/** Default burst of failed attempts per address. */
export const DEFAULT_FAILURE_BURST = 10;
/** Default time for one attempt to come back. */
export const DEFAULT_FAILURE_REFILL_MS = 6000;
/** Default number of addresses remembered. */
export const DEFAULT_MAX_ADDRESSES = 4096;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/** Per-address token buckets of failed attempts; see the module docs. */
export class FailureLimiter {
  readonly burst: number;
  readonly refillMs: number;
  readonly maxAddresses: number;
  /** In order of last use: the first key is the one to drop. */
  #buckets = new Map<string, Bucket>();

  constructor(options: FailureLimiterOptions = {}) {
    this.burst = options.burst ?? DEFAULT_FAILURE_BURST;
    this.refillMs = options.refillMs ?? DEFAULT_FAILURE_REFILL_MS;
    this.maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one attempt for `key`: returns 0 when it may go ahead (a token
   * was taken), else the whole seconds to wait (at least 1) before the
   * next one may.
   */
  take(key: string, now: number = Date.now()): number {
    const bucket = this.#current(key, now);
    if (bucket.tokens < 1) {
      const ms = (1 - bucket.tokens) * this.refillMs;
      return Math.max(1, Math.ceil(ms / 1000));
    }
    bucket.tokens -= 1;
    return 0;
  }

  /** Gives back the token of an attempt that succeeded. */
  refund(key: string, now: number = Date.now()): void {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return;
    this.#refill(bucket, now);
    bucket.tokens = Math.min(this.burst, bucket.tokens + 1);
  }

  /** The bucket of `key`, refilled to `now` and moved to the newest end. */
  #current(key: string, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now };
    } else {
      this.#buckets.delete(key);
      this.#refill(bucket, now);
    }
    this.#buckets.set(key, bucket);
    while (this.#buckets.size > this.maxAddresses) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    return bucket;
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + elapsed / this.refillMs,
    );
    bucket.at = now;
  }
}

/**
 * The key a client address is limited by: an IPv4 address as it is; an
 * IPv6 address by its /64 prefix, since one host usually holds a whole
 * /64 and could otherwise take a fresh address for every guess; an
 * IPv4-mapped IPv6 address as the IPv4 address. `remote` comes from the
 * kernel (Deno's `remoteAddr.hostname`) or, for a peer trusted with
 * `--trust-proxy`, from a forwarded hop that `http/forwarded.ts` parsed
 * as an IP address: never unchecked request bytes.
 */
export function addressKey(remote: string): string {
  if (!remote.includes(":")) return remote;
  const zone = remote.indexOf("%");
  const address = zone >= 0 ? remote.slice(0, zone) : remote;
  const groups = expandIpv6(address);
  if (groups === undefined) return address;
  const dotted = address.lastIndexOf(":");
  if (
    groups[0] === 0 && groups[1] === 0 && groups[2] === 0 &&
    groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff &&
    address.indexOf(".", dotted) > dotted
  ) {
    return address.slice(dotted + 1);
  }
  return groups.slice(0, 4).map((g) => g.toString(16)).join(":") + "::/64";
}

/**
 * The eight 16-bit groups of an IPv6 address in text form (with `::` and
 * a dotted IPv4 tail allowed), or undefined when it is not one.
 */
function expandIpv6(address: string): number[] | undefined {
  const gap = address.indexOf("::");
  const head = gap >= 0 ? address.slice(0, gap) : address;
  const tail = gap >= 0 ? address.slice(gap + 2) : "";
  const left = parseGroups(head);
  const right = parseGroups(tail);
  if (left === undefined || right === undefined) return undefined;
  const missing = 8 - left.length - right.length;
  if (gap >= 0 ? missing < 1 : missing !== 0) return undefined;
  return [...left, ...new Array<number>(missing).fill(0), ...right];
}

/** Groups of `a:b:c` (a dotted IPv4 part counts as two), or undefined. */
function parseGroups(text: string): number[] | undefined {
  if (text === "") return [];
  const out: number[] = [];
  const parts = text.split(":");
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    if (p === parts.length - 1 && part.includes(".")) {
      const octets = part.split(".").map(Number);
      if (
        octets.length !== 4 ||
        octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)
      ) return undefined;
      out.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
      continue;
    }
    if (part.length === 0 || part.length > 4) return undefined;
    let value = 0;
    for (let i = 0; i < part.length; i++) {
      const digit = hexDigitValue(part.charCodeAt(i));
      if (digit < 0) return undefined;
      value = value * 16 + digit;
    }
    out.push(value);
  }
  return out;
}
