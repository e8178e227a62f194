/**
 * Content-coding negotiation (RFC 9110 §12.5.3) from an `Accept-Encoding`
 * request header, as pure functions of their inputs.
 *
 * @module
 */

import { isToken } from "./request.ts";
import {
  asciiLower,
  elementValueEnd,
  equalsAsciiLower,
  forEachListElement,
  forEachParameter,
  parseQvalue,
} from "./scan.ts";

/**
 * Old names that RFC 9110 §8.4.1 says recipients should treat as the same
 * coding as the registered name.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "x-gzip": "gzip",
  "x-compress": "compress",
};

/**
 * Reads the weight of the element `value[start..end)`. Returns the qvalue
 * (1 when no `q` is given) or `undefined` when the element must be ignored
 * because its weight is malformed (RFC 9110 §12.4.2) or given twice
 * (ambiguous).
 */
function parseWeight(
  value: string,
  start: number,
  end: number,
): number | undefined {
  let q: number | undefined;
  let invalid = false;
  forEachParameter(value, start, end, (nameStart, nameEnd, from, to) => {
    // A bare extension parameter carries no weight. Names are
    // case-insensitive (RFC 9110 §5.6.6), so "Q=" counts.
    if (from < 0 || !equalsAsciiLower(value, nameStart, nameEnd, "q")) return;
    if (q === undefined) q = parseQvalue(value.slice(from, to));
    else q = undefined; // given twice
    invalid = q === undefined;
    return invalid;
  });
  return invalid ? undefined : q ?? 1;
}

/**
 * Parses an `Accept-Encoding` field value into a map from lowercased coding
 * (including `identity` and `*`) to its qvalue.
 *
 * Never throws: elements whose coding is not a token or whose `q` is not a
 * valid qvalue are skipped. When a coding is listed more than once, the first
 * valid occurrence wins. Aliases such as `x-gzip` are kept as written;
 * {@linkcode chooseEncoding} resolves them.
 */
export function parseAcceptEncoding(value: string): Map<string, number> {
  const result = new Map<string, number>();
  forEachListElement(value, (start, end) => {
    const rawCoding = value.slice(start, elementValueEnd(value, start, end));
    if (!isToken(rawCoding)) return;
    const coding = asciiLower(rawCoding);
    if (result.has(coding)) return;
    const q = parseWeight(value, start, end);
    if (q !== undefined) result.set(coding, q);
  });
  return result;
}

/**
 * Looks up the client's weight for `coding`: an exact entry first, then an
 * alias entry (e.g. `x-gzip` for `gzip`), then the `*` wildcard. `undefined`
 * means the client said nothing that covers it.
 */
function weightOf(
  accepted: ReadonlyMap<string, number>,
  coding: string,
): number | undefined {
  const exact = accepted.get(coding);
  if (exact !== undefined) return exact;
  for (const [alias, canonical] of Object.entries(ALIASES)) {
    if (canonical !== coding) continue;
    const viaAlias = accepted.get(alias);
    if (viaAlias !== undefined) return viaAlias;
  }
  return accepted.get("*");
}

/**
 * Picks the content coding for a response.
 *
 * @param acceptEncoding the request's `Accept-Encoding` value, or `undefined`
 *   when the header is absent.
 * @param available the codings the server can produce for this resource, in
 *   the server's order of preference (e.g. `["zstd", "br", "gzip"]`).
 * @returns the chosen entry of `available` (returned exactly as given),
 *   `"identity"` to send the representation unencoded, or `null` when the
 *   client forbade identity (`identity;q=0`, or `*;q=0` without an `identity`
 *   entry) and accepts none of `available`. On `null` the caller either
 *   answers 406 Not Acceptable or, as RFC 9110 §12.5.3 permits, sends identity
 *   anyway; most servers do the latter.
 *
 * Rules: an absent header yields identity (clients that did not ask get no
 * compression); an empty header accepts identity only; `*` covers codings not
 * listed explicitly; `q=0` forbids; the highest q wins, ties going to the
 * earlier entry of `available`; identity is acceptable unless forbidden, and
 * a coding beats identity on equal q because it is smaller on the wire. When
 * identity is not listed and no `*` covers it, it ranks below every accepted
 * coding: a client that names `gzip;q=0.5` alone still wants gzip.
 * `x-gzip` and `x-compress` count as `gzip` and `compress`; codings compare
 * case-insensitively.
 */
export function chooseEncoding(
  acceptEncoding: string | undefined,
  available: readonly string[],
): string | null {
  if (acceptEncoding === undefined) return "identity";
  const accepted = parseAcceptEncoding(acceptEncoding);

  let best: string | null = null;
  let bestQ = 0;
  for (const offered of available) {
    const coding = ALIASES[offered.toLowerCase()] ?? offered.toLowerCase();
    // Identity is decided below; a wildcard is not a coding one can produce.
    if (coding === "identity" || coding === "*") continue;
    const q = weightOf(accepted, coding) ?? 0;
    // Strictly greater keeps the earlier (server-preferred) coding on ties.
    if (q > bestQ) {
      best = offered;
      bestQ = q;
    }
  }

  // Unlisted identity not covered by `*` is acceptable at the lowest rank.
  const identityQ = accepted.get("identity") ?? accepted.get("*");
  const identityAllowed = identityQ === undefined || identityQ > 0;
  if (best !== null && (identityQ === undefined || bestQ >= identityQ)) {
    return best;
  }
  return identityAllowed ? "identity" : null;
}
