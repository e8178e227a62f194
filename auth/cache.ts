/**
 * Credentials that passed, remembered by their exact `Authorization`
 * value: a browser sends the same value with every request, and checking
 * a bcrypt password costs tens of milliseconds of a pool thread, so each
 * value is checked once and then looked up. Bounded in entries, in the
 * length of a value, and in time (an entry is trusted for a few minutes,
 * then checked again). Failures are never remembered.
 *
 * @module
 */

/** Options of {@linkcode CredentialCache}. */
export interface CredentialCacheOptions {
  /** Entries kept; beyond, the oldest goes (default 256). */
  maxEntries?: number;
  /** How long an entry is trusted, in ms (default 5 minutes). */
  ttlMs?: number;
  /** Longer values are not remembered (default 1024 characters). */
  maxValueLength?: number;
}

/** Default number of remembered values. */
export const DEFAULT_CACHE_ENTRIES = 256;
/** Default time an entry is trusted. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;
/** Default longest remembered value. */
export const DEFAULT_MAX_VALUE_LENGTH = 1024;

interface Entry {
  user: string;
  expires: number;
}

/** Authorization values known good, and their users; see the module docs. */
export class CredentialCache {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly maxValueLength: number;
  /** In insertion order: the first key is the oldest. */
  #entries = new Map<string, Entry>();

  constructor(options: CredentialCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    this.maxValueLength = options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH;
  }

  /** Entries held now (expired ones included until touched). */
  get size(): number {
    return this.#entries.size;
  }

  /** The user `value` authenticated as, while its entry is fresh. */
  get(value: string, now: number = Date.now()): string | undefined {
    const entry = this.#entries.get(value);
    if (entry === undefined) return undefined;
    if (now >= entry.expires) {
      this.#entries.delete(value);
      return undefined;
    }
    return entry.user;
  }

  /** Remembers that `value` authenticated as `user`. */
  set(value: string, user: string, now: number = Date.now()): void {
    if (value.length > this.maxValueLength || this.maxEntries === 0) return;
    this.#entries.delete(value);
    this.#entries.set(value, { user, expires: now + this.ttlMs });
    while (this.#entries.size > this.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}
