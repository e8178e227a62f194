/**
 * Content-coding negotiation (RFC 9110 §12.5.3) from an `Accept-Encoding`
 * request header, as pure functions of their inputs.
 *
 * @module
 */

/** RFC 9110 §5.6.2 token characters; content codings are tokens. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * RFC 9110 §12.4.2 qvalue: 0 to 1 with at most three decimals. The "1" branch
 * allows only zeros after the point, so "1.5" is rejected rather than clamped.
 */
const QVALUE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * Old names that RFC 9110 §8.4.1 says recipients should treat as the same
 * coding as the registered name.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "x-gzip": "gzip",
  "x-compress": "compress",
};

/**
 * Parses the weight parameters of one element. Returns the qvalue (1 when no
 * `q` is given) or `undefined` when the element must be ignored because its
 * weight is malformed or given twice (ambiguous).
 */
function parseWeight(params: readonly string[]): number | undefined {
  let q: number | undefined;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq < 0) continue; // A bare extension parameter carries no weight.
    // Parameter names are case-insensitive (RFC 9110 §5.6.6), so "Q=" counts.
    const name = param.slice(0, eq).trim().toLowerCase();
    if (name !== "q") continue;
    const value = param.slice(eq + 1).trim();
    if (q !== undefined || !QVALUE.test(value)) return undefined;
    q = Number(value);
  }
  return q ?? 1;
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
  for (const element of value.split(",")) {
    const [rawCoding, ...params] = element.split(";");
    const coding = rawCoding.trim().toLowerCase();
    if (!TOKEN.test(coding)) continue;
    const q = parseWeight(params);
    if (q === undefined || result.has(coding)) continue;
    result.set(coding, q);
  }
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
