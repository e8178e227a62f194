/**
 * The access log: one line per request, written in the background so that
 * logging never blocks or slows serving.
 *
 * @module
 */

import { formatCombinedLine, formatCommonLine } from "./log_format.ts";

/** What is known of a finished request. */
export interface AccessRecord {
  /** When the request started (ms since the epoch). */
  time: number;
  /** The client's address. */
  remote: string;
  /** The user the request authenticated as (`--auth`); never a password. */
  user?: string;
  /** Method token, or "-" when the request line could not be read. */
  method: string;
  /** The request-target as sent, or "-". */
  target: string;
  /** `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`; "-" when unknown. */
  protocol: string;
  /** The status sent (0 when none was sent). */
  status: number;
  /** Bytes written to the client for this request, head included. */
  bytes: number;
  /** Bytes of the response body written (`%b`); the bytes of the head not counted. */
  bodyBytes?: number;
  /** The request's `Referer`, as received (Latin-1 byte string). */
  referer?: string;
  /** The request's `User-Agent`, as received (Latin-1 byte string). */
  userAgent?: string;
  /** Milliseconds from the first byte of the request to the last written. */
  durationMs: number;
}

/**
 * Log formats: none, a line for people, a JSON object per line, or the
 * Common and Combined Log Formats of Apache and nginx.
 */
export type LogFormat = "off" | "text" | "json" | "common" | "combined";

/** The formats that write lines (all but "off"). */
export type LineFormat = Exclude<LogFormat, "off">;

const COLORS = { reset: "\x1b[0m", dim: "\x1b[2m" };

function statusColor(status: number): string {
  if (status >= 500) return "\x1b[31m"; // red
  if (status >= 400) return "\x1b[33m"; // yellow
  if (status >= 300) return "\x1b[36m"; // cyan
  return "\x1b[32m"; // green
}

let isoSecond = NaN;
let isoSecondPrefix = "";

/**
 * `new Date(ms).toISOString()`, with the part up to the seconds formatted
 * once a second: a Date per logged request is a measurable cost.
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    // "2026-11-25T00:36:28." — everything before the milliseconds.
    isoSecondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = Math.floor(ms - second * 1000);
  return isoSecondPrefix + String(millis).padStart(3, "0") + "Z";
}

/**
 * A user name as one word of a text line: characters outside visible
 * ASCII, and `%`, percent-encoded as UTF-8 (a name is the operator's, from
 * `--auth` or an htpasswd file, but may hold spaces or accents); `-`
 * alone, which would read as "no user", becomes `%2D`.
 */
export function textLogUser(user: string): string {
  if (user === "-") return "%2D";
  let plain = true;
  for (let i = 0; i < user.length && plain; i++) {
    const c = user.charCodeAt(i);
    plain = c > 0x20 && c < 0x7f && c !== 0x25;
  }
  if (plain && user !== "") return user;
  let out = "";
  for (const byte of new TextEncoder().encode(user)) {
    out += byte > 0x20 && byte < 0x7f && byte !== 0x25
      ? String.fromCharCode(byte)
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * The target as logged: the userinfo of an absolute-form target
 * (`http://user:password@host/`, answered 400) is replaced by `***`, so
 * that no password reaches the log that way. Origin-form targets (all but
 * a few) are returned at once.
 */
export function loggedTarget(target: string): string {
  if (target.charCodeAt(0) === 0x2f /* / */) return target;
  const scheme = target.indexOf("://");
  if (scheme < 0) return target;
  const from = scheme + 3;
  let end = from;
  let at = -1;
  for (; end < target.length; end++) {
    const c = target.charCodeAt(end);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    if (c === 0x40 /* @ */) at = end;
  }
  return at < 0 ? target : target.slice(0, from) + "***" + target.slice(at);
}

/**
 * Formats one access-log line (without the newline). Targets can only hold
 * visible ASCII (the parser refuses anything else), so a line cannot be
 * forged by a request; JSON escapes everything anyway. Credentials never
 * appear: the user name only, and no userinfo of a target.
 */
export function formatAccessLine(
  record: AccessRecord,
  format: LineFormat,
  color: boolean,
): string {
  const target = loggedTarget(record.target);
  if (format === "common" || format === "combined") {
    const fields = {
      remote: record.remote,
      user: record.user,
      time: record.time,
      method: record.method,
      target,
      protocol: record.protocol,
      status: record.status,
      bodyBytes: record.bodyBytes ?? 0,
      referer: record.referer,
      userAgent: record.userAgent,
    };
    return format === "common"
      ? formatCommonLine(fields)
      : formatCombinedLine(fields);
  }
  const time = isoTime(record.time);
  const duration = Math.round(record.durationMs * 10) / 10;
  if (format === "json") {
    return JSON.stringify({
      time,
      remote: record.remote,
      user: record.user ?? null,
      method: record.method,
      target,
      protocol: record.protocol,
      status: record.status,
      bytes: record.bytes,
      bodyBytes: record.bodyBytes ?? 0,
      durationMs: duration,
      referer: record.referer ?? null,
      userAgent: record.userAgent ?? null,
    });
  }
  const status = String(record.status);
  const user = record.user === undefined ? "-" : textLogUser(record.user);
  if (!color) {
    return `${time} ${record.remote} ${user} ${record.method} ${target} ${record.protocol} ${status} ${record.bytes} ${duration}ms`;
  }
  return `${COLORS.dim}${time}${COLORS.reset} ${record.remote} ${user} ${record.method} ${target} ${record.protocol} ${
    statusColor(record.status)
  }${status}${COLORS.reset} ${record.bytes} ${COLORS.dim}${duration}ms${COLORS.reset}`;
}

/** Where log bytes go; `Deno.stdout`, or the `--log-file`, in the server. */
export interface LogSink {
  write(bytes: Uint8Array): Promise<number>;
  /** Called once the sink is replaced and everything given to it written. */
  close?(): void;
}

/** Size of the chunks log lines are encoded into. */
const LOG_CHUNK_BYTES = 64 * 1024;

/** Most bytes waiting to be written before lines are dropped. */
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * Buffers log lines and writes them in batches off the request path. When
 * the sink cannot keep up (a stalled terminal or pipe), lines beyond
 * {@linkcode MAX_PENDING_BYTES} are dropped and counted instead of growing
 * memory or slowing requests.
 */
export class AccessLog {
  /** Chunks of encoded lines, full, waiting to be written. */
  #full: Uint8Array[] = [];
  /** The chunk being filled, and how much of it is used. */
  #current: Uint8Array | undefined;
  #used = 0;
  /** Written chunks kept for reuse, so steady logging allocates nothing. */
  #spare: Uint8Array[] = [];
  #pendingBytes = 0;
  #writing = false;
  #scheduled = false;
  #dropped = 0;
  #droppedTotal = 0;
  #encoder = new TextEncoder();
  #idle: Promise<void> = Promise.resolve();

  /**
   * `sink` takes the log lines and nothing else (in JSON mode every line
   * must parse); `notices` takes pws's own remarks about the log, such as
   * how many lines were dropped (stderr in the server).
   */
  constructor(
    readonly format: LineFormat,
    readonly color: boolean,
    sink: LogSink,
    readonly notices: LogSink = sink,
  ) {
    this.#sink = sink;
  }

  #sink: LogSink;
  /** A sink waiting to take over at the next batch (see replaceSink). */
  #nextSink: LogSink | undefined;

  /** Where lines are written now. */
  get sink(): LogSink {
    return this.#sink;
  }

  /**
   * Sends lines to `sink` from the next batch on (a reopened log file):
   * the batch being written, if any, finishes on the old sink, which is
   * then closed, so no line is lost, split or written twice. Lines queued
   * but not yet written go to the new sink.
   */
  replaceSink(sink: LogSink): void {
    const replaced = this.#nextSink;
    this.#nextSink = sink;
    // A sink that never took over is closed at once.
    if (replaced !== undefined && replaced !== sink) replaced.close?.();
    if (!this.#writing) this.#switchSink();
  }

  #switchSink(): void {
    const next = this.#nextSink;
    if (next === undefined) return;
    this.#nextSink = undefined;
    const old = this.#sink;
    this.#sink = next;
    if (old !== next) old.close?.();
  }

  /** Lines dropped because the sink was too slow. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Lines dropped since the log was opened (for `--metrics`). */
  get droppedTotal(): number {
    return this.#droppedTotal;
  }

  /**
   * Queues one record; returns at once. Lines are encoded straight into
   * reused byte chunks: held as strings until the next flush, they would
   * outlive the young generation and cost full garbage collections.
   */
  record(record: AccessRecord): void {
    const line = formatAccessLine(record, this.format, this.color) + "\n";
    const maxBytes = line.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    let chunk = this.#current;
    if (chunk === undefined || chunk.length - this.#used < maxBytes) {
      if (chunk !== undefined) this.#full.push(chunk.subarray(0, this.#used));
      chunk = maxBytes <= LOG_CHUNK_BYTES && this.#spare.length > 0
        ? this.#spare.pop()!
        : new Uint8Array(Math.max(LOG_CHUNK_BYTES, maxBytes));
      this.#current = chunk;
      this.#used = 0;
    }
    const { written } = this.#encoder.encodeInto(
      line,
      chunk.subarray(this.#used),
    );
    // Over the bound, the encoded line is left unused: it is dropped.
    if (this.#pendingBytes + written > MAX_PENDING_BYTES) {
      this.#dropped++;
      this.#droppedTotal++;
      return;
    }
    this.#used += written;
    this.#pendingBytes += written;
    if (!this.#scheduled && !this.#writing) {
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 10);
    }
  }

  /** Resolves once everything queued so far has been written. */
  async flushed(): Promise<void> {
    while (this.#scheduled || this.#writing || this.#pendingBytes > 0) {
      if (!this.#writing && !this.#scheduled) this.#flush();
      await this.#idle;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#writing || (this.#pendingBytes === 0 && this.#dropped === 0)) {
      return;
    }
    const chunks = this.#full;
    if (this.#current !== undefined && this.#used > 0) {
      chunks.push(this.#current.subarray(0, this.#used));
      this.#current = undefined;
    }
    if (this.#dropped > 0) {
      const notice = this.#encoder.encode(
        `pws: ${this.#dropped} log lines dropped (output too slow)\n`,
      );
      this.#dropped = 0;
      if (this.notices === this.#sink) chunks.push(notice);
      else {
        // Fire and forget: a notice must never hold up the log itself.
        Promise.resolve().then(() => this.notices.write(notice)).catch(
          () => {},
        );
      }
    }
    this.#full = [];
    this.#used = 0;
    this.#pendingBytes = 0;
    this.#switchSink();
    if (chunks.length === 0) return;
    // One write per batch; several chunks are copied into one buffer (a
    // byte copy, cheap next to a write per chunk) and reused at once.
    let bytes = chunks[0];
    if (chunks.length > 1) {
      bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.length;
        this.#reuse(chunk);
      }
    }
    this.#writing = true;
    this.#idle = this.#writeAll(bytes).finally(() => {
      this.#reuse(bytes);
      this.#writing = false;
      if (this.#pendingBytes > 0 || this.#dropped > 0) this.#flush();
      else this.#switchSink();
    });
  }

  /** Keeps a written chunk's buffer for later lines (two at most). */
  #reuse(chunk: Uint8Array): void {
    if (chunk.buffer.byteLength === LOG_CHUNK_BYTES && this.#spare.length < 2) {
      this.#spare.push(new Uint8Array(chunk.buffer as ArrayBuffer));
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    const sink = this.#sink;
    try {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await sink.write(bytes.subarray(offset));
      }
    } catch {
      // A closed stdout must not take the server down; logging just stops.
    }
  }
}
