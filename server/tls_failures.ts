/**
 * TLS handshake failures: counted, and reported on stderr at most once a
 * second. A scanner, a cleartext request to the TLS port or a client that
 * gives up mid-handshake is worth knowing about, but never worth a line
 * per connection.
 *
 * @module
 */

/** How often at most a line about failed handshakes is written. */
export const REPORT_INTERVAL_MS = 1000;

/** Counts failed TLS handshakes and reports them, rate-limited. */
export class TlsFailureLog {
  /** Failed handshakes since the server started. */
  total = 0;
  #unreported = 0;
  #lastReason = "";
  #lastReportAt = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly write: (line: string) => void = (line) => console.error(line),
  ) {}

  /** Counts one failure; `reason` is the TLS library's error, short. */
  record(remote: string, reason: string, now: number = Date.now()): void {
    this.total++;
    this.#unreported++;
    this.#lastReason = `${remote}: ${reason}`;
    if (now - this.#lastReportAt >= REPORT_INTERVAL_MS) {
      this.#report(now);
    } else if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        this.#report(Date.now());
      }, this.#lastReportAt + REPORT_INTERVAL_MS - now);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Stops the pending report, if any (at server close). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #report(now: number): void {
    if (this.#unreported === 0) return;
    const count = this.#unreported;
    this.#unreported = 0;
    this.#lastReportAt = now;
    this.write(
      `pws: ${count} TLS handshake${count === 1 ? "" : "s"} failed ` +
        `(${this.total} in all; last: ${this.#lastReason})`,
    );
  }
}
