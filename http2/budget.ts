/**
 * Budgets that turn floods into a GOAWAY: frames that cost the server
 * work without moving a response forward (PING, SETTINGS, PRIORITY,
 * empty DATA, streams reset as soon as opened…) spend tokens that refill
 * at a steady rate. A client that behaves never comes near the limit; a
 * flood empties the bucket within a fraction of a second of arriving.
 *
 * @module
 */

/** A token bucket: `capacity` tokens, refilled at `perSecond`. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  /** A full bucket at `now` (ms). */
  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    now: number = Date.now(),
  ) {
    this.#tokens = capacity;
    this.#at = now;
  }

  /** Spends `cost` tokens at `now`; false when the bucket is empty. */
  spend(now: number, cost = 1): boolean {
    const elapsed = now - this.#at;
    if (elapsed > 0) {
      this.#tokens = Math.min(
        this.capacity,
        this.#tokens + elapsed * this.perSecond / 1000,
      );
      this.#at = now;
    }
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Tokens left (after the last refill). */
  get tokens(): number {
    return this.#tokens;
  }
}
