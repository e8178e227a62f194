/**
 * Password protection of a whole server (`--auth`, `--auth-file`): the
 * decision for one request, and the replies that refuse it. The handler
 * asks {@linkcode Authenticator.check} before anything else, so a client
 * without valid credentials learns nothing about the site: every request
 * gets the same 401 (or 429 / 503), whatever its method or path.
 *
 * The order of a check, cheapest first:
 * 1. No `Authorization` field: 401 (a browser's first request; not a
 *    failed attempt).
 * 2. The exact value passed before: the user, at once ({@linkcode
 *    CredentialCache}): a browser's repeated requests cost a map lookup.
 * 3. The client address has no attempt left: 429 with `Retry-After`,
 *    without looking at the password ({@linkcode FailureLimiter}).
 * 4. Too many checks in flight on the server: 503 with `Retry-After`.
 *    The pool threads also compress: checks are handed to them one per
 *    thread, the rest wait here, so a flood of guesses delays a
 *    compression job by one check at most.
 * 5. Parse (RFC 7617) and verify ({@linkcode CredentialVerifier}); a
 *    malformed value is a failed attempt like a wrong password.
 *
 * @module
 */

import { BASIC_CHALLENGE, parseBasicAuthorization } from "./basic.ts";
import { CredentialCache } from "./cache.ts";
import type { AuthUser } from "./htpasswd.ts";
import { addressKey, FailureLimiter } from "./limiter.ts";
import { type BcryptHasher, CredentialVerifier } from "./verify.ts";
import { compressionPool } from "../files/compress_pool.ts";
import { errorReply } from "../response/respond.ts";
import type { Reply, ResponderContext } from "../response/reply.ts";

/** The password protection of a server: its users and its limits. */
export interface AuthSettings {
  /** The users allowed in. */
  users: AuthUser[];
  /** Failed attempts one address may make in a row (default 10). */
  failureBurst?: number;
  /** Milliseconds for one failed attempt to be forgiven (default 6000). */
  failureRefillMs?: number;
  /** Password checks running or waiting, server-wide (default 16). */
  maxPendingChecks?: number;
  /**
   * Password checks running at once (default: the pool's threads, so
   * that a compression job waits behind one check at most).
   */
  maxRunningChecks?: number;
}

/** Default limit of password checks running or waiting. */
export const DEFAULT_MAX_PENDING_CHECKS = 16;

/** The outcome of a check. */
export type AuthVerdict =
  | { kind: "ok"; user: string }
  /** No valid credentials: 401 with the challenge. */
  | { kind: "unauthorized" }
  /** Too many failed attempts from this address: 429. */
  | { kind: "limited"; retryAfterSeconds: number }
  /** Too many checks in flight, or the pool failed: 503. */
  | { kind: "busy" };

/** A refusal: any verdict but "ok". */
export type AuthRefusal = Exclude<AuthVerdict, { kind: "ok" }>;

const UNAUTHORIZED: AuthVerdict = { kind: "unauthorized" };
const BUSY: AuthVerdict = { kind: "busy" };

/** Checks the credentials of requests; see the module docs. */
export class Authenticator {
  readonly cache = new CredentialCache();
  readonly limiter: FailureLimiter;
  readonly verifier: CredentialVerifier;
  readonly maxPendingChecks: number;
  readonly maxRunningChecks: number;
  #pending = 0;
  #running = 0;
  /** Checks waiting for a running one to finish, oldest first. */
  #waiting: (() => void)[] = [];

  constructor(
    settings: AuthSettings,
    bcrypt: BcryptHasher = (password, salt) =>
      compressionPool.bcrypt(password, salt),
  ) {
    this.limiter = new FailureLimiter({
      burst: settings.failureBurst,
      refillMs: settings.failureRefillMs,
    });
    this.verifier = new CredentialVerifier(settings.users, bcrypt);
    this.maxPendingChecks = settings.maxPendingChecks ??
      DEFAULT_MAX_PENDING_CHECKS;
    this.maxRunningChecks = settings.maxRunningChecks ??
      compressionPool.maxThreads;
  }

  /** Password checks running or waiting now. */
  get pendingChecks(): number {
    return this.#pending;
  }

  /** Password checks running now. */
  get runningChecks(): number {
    return this.#running;
  }

  /**
   * The verdict on a request whose `Authorization` fields are `values`,
   * from the client at `remote`. Synchronous when no password needs
   * checking (the common case: a cached value), else a promise.
   */
  check(
    values: readonly string[],
    remote: string,
    now: number = Date.now(),
  ): AuthVerdict | Promise<AuthVerdict> {
    if (values.length === 0) return UNAUTHORIZED;
    // Two fields are malformed (RFC 9110 §11.6.2 allows one credential).
    const value = values.length === 1 ? values[0] : undefined;
    if (value !== undefined) {
      const user = this.cache.get(value, now);
      if (user !== undefined) return { kind: "ok", user };
    }
    const key = addressKey(remote);
    const wait = this.limiter.take(key, now);
    if (wait > 0) return { kind: "limited", retryAfterSeconds: wait };
    const credentials = value === undefined
      ? undefined
      : parseBasicAuthorization(value);
    if (credentials === undefined) return UNAUTHORIZED;
    if (this.#pending >= this.maxPendingChecks) {
      this.limiter.refund(key);
      return BUSY;
    }
    return this.#verify(value!, credentials.user, credentials.password, key);
  }

  async #verify(
    value: string,
    user: string,
    password: string,
    key: string,
  ): Promise<AuthVerdict> {
    this.#pending++;
    if (this.#running < this.maxRunningChecks) this.#running++;
    else await new Promise<void>((go) => this.#waiting.push(go));
    let match: boolean;
    try {
      match = await this.verifier.verify(user, password);
    } catch (err) {
      console.error(`pws: password check failed: ${describe(err)}`);
      this.limiter.refund(key);
      return BUSY;
    } finally {
      this.#pending--;
      // The slot goes straight to the next waiting check, if any.
      const next = this.#waiting.shift();
      if (next === undefined) this.#running--;
      else next();
    }
    if (!match) return UNAUTHORIZED;
    this.limiter.refund(key);
    this.cache.set(value, user);
    return { kind: "ok", user };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The reply to a refused request. Its body and fields depend only on the
 * kind of refusal, never on the method, path or file system.
 */
export function refusalReply(
  ctx: ResponderContext,
  refusal: AuthRefusal,
): Reply {
  switch (refusal.kind) {
    case "unauthorized":
      return errorReply(ctx, 401, [["WWW-Authenticate", BASIC_CHALLENGE]]);
    case "limited":
      return errorReply(ctx, 429, [
        ["Retry-After", String(refusal.retryAfterSeconds)],
      ]);
    case "busy":
      return errorReply(ctx, 503, [["Retry-After", "1"]]);
  }
}

/** One authenticator per settings object, made at first use. */
const authenticators = new WeakMap<AuthSettings, Authenticator>();

/**
 * The authenticator for `settings`: its cache and limits are shared by the
 * servers given this very object (a test may do so on purpose); each
 * `--workers` thread gets a copy of the settings, so it has its own.
 */
export function authenticatorFor(settings: AuthSettings): Authenticator {
  let auth = authenticators.get(settings);
  if (auth === undefined) {
    auth = new Authenticator(settings);
    authenticators.set(settings, auth);
  }
  return auth;
}
