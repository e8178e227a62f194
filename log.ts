/**
 * The access log: one line per request, written in the background so that
 * logging never blocks or slows serving.
 *
 * @module
 */

/** What is known of a finished request. */
export interface AccessRecord {
  /** When the request started (ms since the epoch). */
  time: number;
  /** The client's address. */
  remote: string;
  /** Method token, or "-" when the request line could not be read. */
  method: string;
  /** The request-target as sent, or "-". */
  target: string;
  /** The status sent (0 when none was sent). */
  status: number;
  /** Bytes written to the client for this request, head included. */
  bytes: number;
  /** Milliseconds from the first byte of the request to the last written. */
  durationMs: number;
}

/** Log formats: none, a line for people, or a JSON object per line. */
export type LogFormat = "off" | "text" | "json";

const COLORS = { reset: "\x1b[0m", dim: "\x1b[2m" };

function statusColor(status: number): string {
  if (status >= 500) return "\x1b[31m"; // red
  if (status >= 400) return "\x1b[33m"; // yellow
  if (status >= 300) return "\x1b[36m"; // cyan
  return "\x1b[32m"; // green
}

/**
 * Formats one access-log line (without the newline). Targets can only hold
 * visible ASCII (the parser refuses anything else), so a line cannot be
 * forged by a request; JSON escapes everything anyway.
 */
export function formatAccessLine(
  record: AccessRecord,
  format: "text" | "json",
  color: boolean,
): string {
  const time = new Date(record.time).toISOString();
  const duration = Math.round(record.durationMs * 10) / 10;
  if (format === "json") {
    return JSON.stringify({
      time,
      remote: record.remote,
      method: record.method,
      target: record.target,
      status: record.status,
      bytes: record.bytes,
      durationMs: duration,
    });
  }
  const status = String(record.status);
  if (!color) {
    return `${time} ${record.remote} ${record.method} ${record.target} ${status} ${record.bytes} ${duration}ms`;
  }
  return `${COLORS.dim}${time}${COLORS.reset} ${record.remote} ${record.method} ${record.target} ${
    statusColor(record.status)
  }${status}${COLORS.reset} ${record.bytes} ${COLORS.dim}${duration}ms${COLORS.reset}`;
}

/** Where log bytes go; `Deno.stdout` in the server. */
export interface LogSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** Most bytes waiting to be written before lines are dropped. */
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * Buffers log lines and writes them in batches off the request path. When
 * the sink cannot keep up (a stalled terminal or pipe), lines beyond
 * {@linkcode MAX_PENDING_BYTES} are dropped and counted instead of growing
 * memory or slowing requests.
 */
export class AccessLog {
  #pending: string[] = [];
  #pendingBytes = 0;
  #writing = false;
  #scheduled = false;
  #dropped = 0;
  #encoder = new TextEncoder();
  #idle: Promise<void> = Promise.resolve();

  constructor(
    readonly format: "text" | "json",
    readonly color: boolean,
    readonly sink: LogSink,
  ) {}

  /** Lines dropped because the sink was too slow. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one record; returns at once. */
  record(record: AccessRecord): void {
    const line = formatAccessLine(record, this.format, this.color) + "\n";
    if (this.#pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.#dropped++;
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    if (!this.#scheduled && !this.#writing) {
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 10);
    }
  }

  /** Resolves once everything queued so far has been written. */
  async flushed(): Promise<void> {
    while (this.#scheduled || this.#writing || this.#pending.length > 0) {
      if (!this.#writing && !this.#scheduled) this.#flush();
      await this.#idle;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#writing || this.#pending.length === 0) return;
    let text = this.#pending.join("");
    if (this.#dropped > 0) {
      text += `pws: ${this.#dropped} log lines dropped (output too slow)\n`;
      this.#dropped = 0;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writing = true;
    this.#idle = this.#writeAll(this.#encoder.encode(text)).finally(() => {
      this.#writing = false;
      if (this.#pending.length > 0) this.#flush();
    });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.sink.write(bytes.subarray(offset));
      }
    } catch {
      // A closed stdout must not take the server down; logging just stops.
    }
  }
}
