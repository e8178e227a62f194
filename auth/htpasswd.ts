/**
 * Apache htpasswd files (`--auth-file`), parsed into the users pws checks
 * passwords against. Pure: reading the file is `auth/load.ts`'s job.
 *
 * Accepted: bcrypt (`$2y$`, `$2a$`, `$2b$`: `htpasswd -B`) and unsalted
 * SHA-1 (`{SHA}`: `htpasswd -s`, with a warning, since it is fast to
 * crack). Refused, each with a line naming the file, the line and what is
 * supported: plain text (`htpasswd -p`), MD5 (`$apr1$`, htpasswd's old
 * default), crypt (DES, `$1$`, `$5$`, `$6$`) and anything else. Messages
 * never quote a hash or a line, which may hold a password.
 *
 * @module
 */

import { hasControl } from "./basic.ts";

/** A password as pws keeps it: never the password itself. */
export type StoredSecret =
  | {
    kind: "bcrypt";
    /** The whole 60-character hash, `$2y$NN$` + salt + digest. */
    hash: string;
    /** The cost (log2 of the rounds), 4 to 31. */
    cost: number;
  }
  /** `{SHA}`: the base64 SHA-1 digest of the password. */
  | { kind: "sha1"; digest: string }
  /** `--auth`: the base64 SHA-256 digest of the password. */
  | { kind: "sha256"; digest: string };

/** One user allowed in, and where it was defined (for messages). */
export interface AuthUser {
  user: string;
  secret: StoredSecret;
  /** `--auth` or `FILE line N`. */
  source: string;
}

/** The outcome of {@linkcode parseHtpasswd}. */
export type HtpasswdResult =
  | { kind: "ok"; users: AuthUser[]; warnings: string[] }
  | { kind: "error"; message: string };

/** What to say about the hashes pws accepts. */
export const SUPPORTED_HASHES =
  "pws accepts bcrypt ($2y$, made by htpasswd -B) and {SHA} (htpasswd -s)";

const BCRYPT_CHARS = (() => {
  const table = new Uint8Array(128);
  const alphabet =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = 1;
  return table;
})();

/** True when every character of `text[from..to)` is in the bcrypt alphabet. */
function isBcryptText(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || BCRYPT_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * The cost of a well-formed bcrypt hash (`$2a$`, `$2b$` or `$2y$`, a cost
 * of 04 to 31, then 53 characters of bcrypt's base64), or undefined.
 */
export function bcryptCost(hash: string): number | undefined {
  if (hash.length !== 60 || !hash.startsWith("$2")) return undefined;
  const minor = hash[2];
  if ((minor !== "a" && minor !== "b" && minor !== "y") || hash[3] !== "$") {
    return undefined;
  }
  const tens = hash.charCodeAt(4) - 0x30;
  const ones = hash.charCodeAt(5) - 0x30;
  if (tens < 0 || tens > 9 || ones < 0 || ones > 9 || hash[6] !== "$") {
    return undefined;
  }
  const cost = tens * 10 + ones;
  if (cost < 4 || cost > 31 || !isBcryptText(hash, 7, 60)) return undefined;
  return cost;
}

/** True when `digest` is 28 characters of base64 holding 20 bytes. */
function isSha1Base64(digest: string): boolean {
  if (digest.length !== 28 || digest[27] !== "=") return false;
  for (let i = 0; i < 27; i++) {
    const c = digest.charCodeAt(i);
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
    if (!ok) return false;
  }
  return true;
}

/** What a `$id$` prefix stands for, to say what is not supported. */
const CRYPT_SCHEMES: Readonly<Record<string, string>> = {
  "$apr1$": "an MD5 ($apr1$) hash",
  "$1$": "an MD5-crypt ($1$) hash",
  "$5$": "a SHA-256-crypt ($5$) hash",
  "$6$": "a SHA-512-crypt ($6$) hash",
  "$2x$": "a bcrypt $2x$ hash (the variant of a buggy implementation)",
  "$2$": "an original bcrypt $2$ hash",
};

/**
 * Classifies one hash: the secret, or a phrase saying what it is instead
 * (used as "user X has <phrase>").
 */
export function classifyHash(hash: string): StoredSecret | string {
  if (
    hash.startsWith("$2a$") || hash.startsWith("$2b$") ||
    hash.startsWith("$2y$")
  ) {
    const cost = bcryptCost(hash);
    return cost === undefined
      ? "a malformed bcrypt hash (expected $2y$, a cost of 04 to 31, $ and 53 characters)"
      : { kind: "bcrypt", hash, cost };
  }
  if (hash.startsWith("{SHA}")) {
    const digest = hash.slice(5);
    return isSha1Base64(digest)
      ? { kind: "sha1", digest }
      : "a malformed {SHA} hash (expected 28 base64 characters)";
  }
  if (hash.startsWith("$")) {
    const end = hash.indexOf("$", 1);
    const id = end > 0 ? hash.slice(0, end + 1) : "";
    return CRYPT_SCHEMES[id] ??
      (end > 0 && end < 16
        ? `an unknown hash scheme ${id}`
        : "an unknown hash");
  }
  if (hash.startsWith("{")) {
    const end = hash.indexOf("}");
    return end > 0 && end < 16
      ? `an unknown hash scheme ${hash.slice(0, end + 1)}`
      : "an unknown hash";
  }
  if (hash.length === 0) return "an empty password";
  // crypt()'s DES hashes are 13 characters of its alphabet; anything else
  // can only be a password in plain text. Either way: refused.
  if (hash.length === 13 && isBcryptText(hash, 0, 13)) {
    return "a crypt (DES) hash or a plain-text password";
  }
  return "a plain-text password";
}

/** Strips trailing SP, HTAB and CR (files edited on Windows end in CRLF). */
function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
    end--;
  }
  return end === line.length ? line : line.slice(0, end);
}

/**
 * Parses the text of an htpasswd file named `fileName` (for messages):
 * `user:hash` lines, `#` comments and blank lines. Each user may appear
 * once. The first problem is returned as one line naming the file and
 * the line; `{SHA}` users come with a warning each.
 */
export function parseHtpasswd(text: string, fileName: string): HtpasswdResult {
  const users: AuthUser[] = [];
  const warnings: string[] = [];
  const lineOf = new Map<string, number>();
  // A byte order mark left by an editor is not part of the first user.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split("\n");
  for (let n = 1; n <= lines.length; n++) {
    const line = trimLineEnd(lines[n - 1]);
    let first = 0;
    while (line.charCodeAt(first) === 0x20 || line.charCodeAt(first) === 0x09) {
      first++;
    }
    if (first === line.length || line[first] === "#") continue;
    const where = `${fileName} line ${n}`;
    const error = (what: string): HtpasswdResult => ({
      kind: "error",
      message: `${where}: ${what}`,
    });
    const colon = line.indexOf(":");
    if (colon < 0) return error("expected USER:HASH");
    const user = line.slice(0, colon);
    if (user === "") return error("empty user name");
    if (hasControl(user)) {
      return error("the user name holds a control character");
    }
    const earlier = lineOf.get(user);
    if (earlier !== undefined) {
      return error(
        `user ${JSON.stringify(user)} is already defined on line ${earlier}`,
      );
    }
    const secret = classifyHash(line.slice(colon + 1));
    if (typeof secret === "string") {
      return error(
        `user ${JSON.stringify(user)} has ${secret}, which pws does not ` +
          `accept; ${SUPPORTED_HASHES}`,
      );
    }
    if (secret.kind === "sha1") {
      warnings.push(
        `${where}: user ${JSON.stringify(user)} has an unsalted SHA-1 ` +
          `({SHA}) hash, which is fast to crack; prefer bcrypt (htpasswd -B)`,
      );
    }
    lineOf.set(user, n);
    users.push({ user, secret, source: where });
  }
  if (users.length === 0) {
    return {
      kind: "error",
      message: `${fileName} has no users: add one with htpasswd -B ` +
        `${fileName} USER`,
    };
  }
  return { kind: "ok", users, warnings };
}
