/**
 * The Prometheus text exposition format, version 0.0.4 (pure): escaping,
 * numbers, families with `# HELP` and `# TYPE`, histograms with cumulative
 * buckets, `+Inf`, `_sum` and `_count`; and the page of pws's series.
 *
 * @module
 */

import {
  LATENCY_BOUNDS_SECONDS,
  METHOD_LABELS,
  type MetricsSnapshot,
  PROTOCOL_LABELS,
  requestCellLabels,
  STATUS_CLASS_LABELS,
} from "./counters.ts";

/** The `Content-Type` of a page in this format. */
export const EXPOSITION_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

/** A metric type of the format (the ones pws uses). */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names and values of one sample, in the order written. */
export type Labels = readonly (readonly [name: string, value: string])[];

/**
 * A label value as written between double quotes: backslash, double
 * quote and line feed escaped (`\\`, `\"`, `\n`), the only escapes the
 * format has.
 */
export function escapeLabelValue(value: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const escaped = c === 0x5c
      ? "\\\\"
      : c === 0x22
      ? '\\"'
      : c === 0x0a
      ? "\\n"
      : "";
    if (escaped === "") continue;
    out += value.slice(from, i) + escaped;
    from = i + 1;
  }
  return from === 0 ? value : out + value.slice(from);
}

/** A `# HELP` text: backslash and line feed escaped (quotes stay). */
export function escapeHelp(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const escaped = c === 0x5c ? "\\\\" : c === 0x0a ? "\\n" : "";
    if (escaped === "") continue;
    out += text.slice(from, i) + escaped;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A sample value: a decimal number, or `NaN`, `+Inf`, `-Inf`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Collects families and samples into one page of text. */
export class ExpositionWriter {
  #text = "";

  /** Starts a family: its `# HELP` and `# TYPE` lines. */
  family(name: string, type: MetricType, help: string): void {
    this.#text += `# HELP ${name} ${
      escapeHelp(help)
    }\n# TYPE ${name} ${type}\n`;
  }

  /** One sample line. */
  sample(name: string, value: number, labels: Labels = []): void {
    let line = name;
    if (labels.length > 0) {
      line += "{";
      for (let i = 0; i < labels.length; i++) {
        if (i > 0) line += ",";
        line += `${labels[i][0]}="${escapeLabelValue(labels[i][1])}"`;
      }
      line += "}";
    }
    this.#text += `${line} ${formatValue(value)}\n`;
  }

  /** A family of one sample. */
  single(name: string, type: MetricType, help: string, value: number): void {
    this.family(name, type, help);
    this.sample(name, value);
  }

  /**
   * A histogram family: `counts` holds the observations per bucket, not
   * cumulative, one more than `bounds` (the last is above every bound);
   * written as cumulative `_bucket` lines ending with `le="+Inf"`, then
   * `_sum` and `_count`.
   */
  histogram(
    name: string,
    help: string,
    bounds: readonly number[],
    counts: ArrayLike<number>,
    sum: number,
  ): void {
    this.family(name, "histogram", help);
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      const le = i < bounds.length ? formatValue(bounds[i]) : "+Inf";
      this.sample(`${name}_bucket`, cumulative, [["le", le]]);
    }
    this.sample(`${name}_sum`, sum);
    this.sample(`${name}_count`, cumulative);
  }

  /** The page so far. */
  text(): string {
    return this.#text;
  }
}

/** What the page says beside the serving threads' snapshot. */
export interface ProcessFacts {
  /** pws's version, for `pws_info`. */
  version: string;
  /** When the process started, in seconds since the epoch. */
  startTimeSeconds: number;
  /** Resident memory in bytes, when known. */
  residentBytes?: number;
  /** Threads serving the site (`--workers`). */
  workers: number;
  /** Worker threads replaced since start. */
  workerRestarts: number;
  /** True when TLS is on (the handshake failure series is written). */
  tls: boolean;
}

/** The whole `/metrics` page for the sum of all serving threads. */
export function formatMetrics(
  snapshot: MetricsSnapshot,
  facts: ProcessFacts,
): string {
  const out = new ExpositionWriter();
  out.family(
    "pws_requests_total",
    "counter",
    "Requests answered, by status class, method (unknown methods as OTHER) and protocol.",
  );
  // Only combinations seen so far: 150 lines of zeros would say nothing.
  const requests = snapshot.requests;
  for (let cell = 0; cell < requests.length; cell++) {
    if (requests[cell] === 0) continue;
    const [status, method, protocol] = requestCellLabels(cell);
    out.sample("pws_requests_total", requests[cell], [
      ["status_class", STATUS_CLASS_LABELS[status]],
      ["method", METHOD_LABELS[method]],
      ["protocol", PROTOCOL_LABELS[protocol]],
    ]);
  }
  out.family(
    "pws_response_bytes_total",
    "counter",
    "Bytes written for responses, heads and framing included, by protocol.",
  );
  for (let p = 0; p < PROTOCOL_LABELS.length; p++) {
    out.sample("pws_response_bytes_total", snapshot.responseBytes[p], [
      ["protocol", PROTOCOL_LABELS[p]],
    ]);
  }
  out.histogram(
    "pws_request_duration_seconds",
    "Time from a request's first byte to its response's last, measured in whole milliseconds.",
    LATENCY_BOUNDS_SECONDS,
    snapshot.latencyBuckets,
    snapshot.latencySumSeconds,
  );
  out.family(
    "pws_open_connections",
    "gauge",
    "Client connections open now, by protocol (HTTP/1.1 until one turns out to be HTTP/2).",
  );
  for (const p of [1, 2]) {
    out.sample("pws_open_connections", snapshot.openConnections[p], [
      ["protocol", PROTOCOL_LABELS[p]],
    ]);
  }
  out.single(
    "pws_connections_accepted_total",
    "counter",
    "Client connections accepted and served.",
    snapshot.connectionsAccepted,
  );
  out.single(
    "pws_connections_refused_total",
    "counter",
    "Client connections answered 503 and closed because --max-connections were open.",
    snapshot.connectionsRefused,
  );
  out.single(
    "pws_file_cache_hits_total",
    "counter",
    "File responses whose bytes came from the hot-file cache.",
    snapshot.fileCacheHits,
  );
  out.single(
    "pws_file_cache_misses_total",
    "counter",
    "File responses whose bytes were read from disk.",
    snapshot.fileCacheMisses,
  );
  out.single(
    "pws_file_cache_bytes",
    "gauge",
    "Bytes the hot-file cache counts against --cache-size (contents, variants, ready responses, overhead).",
    snapshot.fileCacheBytes,
  );
  out.single(
    "pws_file_cache_entries",
    "gauge",
    "Files the hot-file cache holds.",
    snapshot.fileCacheEntries,
  );
  out.single(
    "pws_file_cache_compressed_bytes",
    "gauge",
    "Bytes of compressed variants (gzip, br, zstd) held in the hot-file cache.",
    snapshot.compressedVariantBytes,
  );
  out.single(
    "pws_replay_hits_total",
    "counter",
    "Requests answered by replaying a ready response to a byte-identical head.",
    snapshot.replayHits,
  );
  out.single(
    "pws_open_file_handles",
    "gauge",
    "Open descriptors of large files kept in the pool.",
    snapshot.openFileHandles,
  );
  out.single(
    "pws_stat_cache_hits_total",
    "counter",
    "File-system questions answered from the watcher-vouched stat cache.",
    snapshot.statCacheHits,
  );
  out.single(
    "pws_stat_cache_misses_total",
    "counter",
    "File-system questions the stat cache passed to stat while the watcher vouched.",
    snapshot.statCacheMisses,
  );
  out.single(
    "pws_stat_cache_entries",
    "gauge",
    "Answers the stat cache holds.",
    snapshot.statCacheEntries,
  );
  out.single(
    "pws_log_lines_dropped_total",
    "counter",
    "Access-log lines dropped because the log output was too slow.",
    snapshot.logLinesDropped,
  );
  if (facts.tls) {
    out.single(
      "pws_tls_handshake_failures_total",
      "counter",
      "TLS handshakes that failed.",
      snapshot.tlsHandshakeFailures,
    );
  }
  out.single(
    "pws_workers",
    "gauge",
    "Threads serving the site (--workers).",
    facts.workers,
  );
  out.single(
    "pws_worker_restarts_total",
    "counter",
    "Worker threads replaced after they stopped answering or exited.",
    facts.workerRestarts,
  );
  out.single(
    "pws_process_start_time_seconds",
    "gauge",
    "When the process started, in seconds since the Unix epoch.",
    facts.startTimeSeconds,
  );
  if (facts.residentBytes !== undefined) {
    out.single(
      "pws_process_resident_memory_bytes",
      "gauge",
      "Resident memory of the process, all threads.",
      facts.residentBytes,
    );
  }
  out.family("pws_info", "gauge", "The pws version, as a label; always 1.");
  out.sample("pws_info", 1, [["version", facts.version]]);
  return out.text();
}
