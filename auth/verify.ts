/**
 * Checking a user's password, in constant time and at the same cost
 * whether or not the user exists.
 *
 * - Digests of the same fixed length are compared with `node:crypto`'s
 *   `timingSafeEqual`: SHA-256 for `--auth`, SHA-1 for `{SHA}`, and for
 *   bcrypt the SHA-256 of the hash computed against that of the hash
 *   stored (so no string comparison stops at the first difference).
 * - An unknown user is checked against a dummy secret of the kind and
 *   cost most users have (a bcrypt hash of the usual cost, say), through
 *   the same steps, so a wrong user costs what a wrong password costs.
 * - bcrypt runs on a thread of the worker pool (`files/compress_pool.ts`):
 *   tens of milliseconds per check must never stall the event loop.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import type { AuthUser, StoredSecret } from "./htpasswd.ts";

/**
 * Computes a bcrypt hash of `password` with `salt` (the first 29
 * characters of a stored hash) and resolves the 60-character result.
 */
export type BcryptHasher = (password: string, salt: string) => Promise<string>;

/** A secret ready to compare with. */
type PreparedSecret =
  | { kind: "sha256" | "sha1"; digest: Uint8Array }
  | { kind: "bcrypt"; salt: string; digest: Uint8Array };

function sha(algorithm: "sha1" | "sha256", text: string): Uint8Array {
  return createHash(algorithm).update(text, "utf8").digest();
}

function prepare(secret: StoredSecret): PreparedSecret {
  switch (secret.kind) {
    case "sha256":
    case "sha1":
      return {
        kind: secret.kind,
        digest: Buffer.from(secret.digest, "base64"),
      };
    case "bcrypt":
      return {
        kind: "bcrypt",
        salt: secret.hash.slice(0, 29),
        digest: sha("sha256", secret.hash),
      };
  }
}

/**
 * How dear a secret is to check: bcrypt by its cost, above the fast
 * digests. Secrets of one rank cost the same.
 */
function costRank(secret: StoredSecret): number {
  switch (secret.kind) {
    case "sha1":
      return 0;
    case "sha256":
      return 1;
    case "bcrypt":
      return 100 + secret.cost;
  }
}

const BCRYPT_ALPHABET =
  "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A secret nobody's password matches, costing what the secrets of most
 * `users` cost (on a tie, the dearer).
 */
export function dummySecret(users: readonly AuthUser[]): PreparedSecret {
  const counts = new Map<number, { count: number; secret: StoredSecret }>();
  for (const { secret } of users) {
    const rank = costRank(secret);
    const seen = counts.get(rank);
    if (seen === undefined) counts.set(rank, { count: 1, secret });
    else seen.count++;
  }
  let best: StoredSecret = { kind: "sha256", digest: "" };
  let bestCount = 0;
  for (const [rank, { count, secret }] of counts) {
    if (count > bestCount || (count === bestCount && rank > costRank(best))) {
      best = secret;
      bestCount = count;
    }
  }
  const random = crypto.getRandomValues(new Uint8Array(32));
  switch (best.kind) {
    case "sha1":
      return { kind: "sha1", digest: random.subarray(0, 20) };
    case "sha256":
      return { kind: "sha256", digest: random };
    case "bcrypt": {
      // Same version and cost as the hash imitated; a random salt.
      let salt = best.hash.slice(0, 7);
      for (const byte of crypto.getRandomValues(new Uint8Array(22))) {
        salt += BCRYPT_ALPHABET[byte & 63];
      }
      return { kind: "bcrypt", salt, digest: random };
    }
  }
}

/** Checks passwords against a fixed set of users; see the module docs. */
export class CredentialVerifier {
  #users = new Map<string, PreparedSecret>();
  #dummy: PreparedSecret;

  constructor(
    users: readonly AuthUser[],
    readonly bcrypt: BcryptHasher,
  ) {
    for (const { user, secret } of users) {
      this.#users.set(user, prepare(secret));
    }
    this.#dummy = dummySecret(users);
  }

  /** Number of users. */
  get userCount(): number {
    return this.#users.size;
  }

  /**
   * True when `password` is `user`'s. Rejects only when the bcrypt thread
   * fails (the pool is closed or full).
   */
  async verify(user: string, password: string): Promise<boolean> {
    const known = this.#users.get(user);
    const secret = known ?? this.#dummy;
    let match: boolean;
    if (secret.kind === "bcrypt") {
      const computed = await this.bcrypt(password, secret.salt);
      match = timingSafeEqual(sha("sha256", computed), secret.digest);
    } else {
      match = timingSafeEqual(sha(secret.kind, password), secret.digest);
    }
    return match && known !== undefined;
  }
}
