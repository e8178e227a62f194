/**
 * The numbers `--metrics` exposes: per-request counters kept by each
 * serving thread, and the snapshot a thread hands over (to the scrape, or
 * to the main thread from a `--workers` thread).
 *
 * Cost: a finished request costs a few array increments and no
 * allocation. The counters live in typed arrays preallocated once, indexed
 * by label position; labels with values chosen by clients (the method)
 * fold into a fixed set, so no client can grow the label space.
 *
 * @module
 */

/** Methods counted by name; every other method counts as `OTHER`. */
export const METHOD_LABELS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "OTHER",
] as const;

/** Protocol label values, in index order. */
export const PROTOCOL_LABELS = ["HTTP/1.0", "HTTP/1.1", "HTTP/2"] as const;

/** Index of `HTTP/1.0` in {@linkcode PROTOCOL_LABELS}. */
export const HTTP10 = 0;
/** Index of `HTTP/1.1` in {@linkcode PROTOCOL_LABELS}. */
export const HTTP11 = 1;
/** Index of `HTTP/2` in {@linkcode PROTOCOL_LABELS}. */
export const HTTP2 = 2;

/** Status class label values, in index order. */
export const STATUS_CLASS_LABELS = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/**
 * Upper bounds (seconds) of the latency histogram's buckets; `+Inf`
 * follows. Durations are measured in whole milliseconds (as nginx's
 * `$request_time` is), so no bucket is finer than 1 ms.
 */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const METHODS = METHOD_LABELS.length;
const PROTOCOLS = PROTOCOL_LABELS.length;
const STATUS_CLASSES = STATUS_CLASS_LABELS.length;

/** Cells of the request counter: status class × method × protocol. */
export const REQUEST_CELLS = STATUS_CLASSES * METHODS * PROTOCOLS;

/** The cell of the request counter for these label indexes. */
export function requestCell(
  statusClass: number,
  method: number,
  protocol: number,
): number {
  return (statusClass * METHODS + method) * PROTOCOLS + protocol;
}

/** The label indexes of a request counter cell (the inverse of `requestCell`). */
export function requestCellLabels(
  cell: number,
): [statusClass: number, method: number, protocol: number] {
  const protocol = cell % PROTOCOLS;
  const rest = (cell - protocol) / PROTOCOLS;
  const method = rest % METHODS;
  return [(rest - method) / METHODS, method, protocol];
}

/** The index of `method` in {@linkcode METHOD_LABELS}. */
export function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "CONNECT":
      return 5;
    case "OPTIONS":
      return 6;
    case "TRACE":
      return 7;
    case "PATCH":
      return 8;
    default:
      return 9;
  }
}

/** The bucket of a duration: the first bound at or above it, else `+Inf`. */
export function latencyBucket(seconds: number): number {
  const bounds = LATENCY_BOUNDS_SECONDS;
  let i = 0;
  while (i < bounds.length && seconds > bounds[i]) i++;
  return i;
}

/**
 * Everything one serving thread reports, as plain numbers and typed
 * arrays, so that it crosses to another thread by structured clone and
 * adds up field by field.
 */
export interface MetricsSnapshot {
  /** Finished requests per {@linkcode requestCell}. */
  requests: Float64Array;
  /** Response bytes written (heads included), per protocol. */
  responseBytes: Float64Array;
  /** Requests per latency bucket (not cumulative), `+Inf` last. */
  latencyBuckets: Float64Array;
  /** Sum of request durations, in seconds. */
  latencySumSeconds: number;
  /** Connections accepted and served. */
  connectionsAccepted: number;
  /** Connections refused with 503 over `--max-connections`. */
  connectionsRefused: number;
  /** Responses whose file bytes came from the hot-file cache. */
  fileCacheHits: number;
  /** File responses read from disk instead. */
  fileCacheMisses: number;
  /** Requests answered by replaying a ready response. */
  replayHits: number;
  /** `stat` answers given from the watcher-vouched memory. */
  statCacheHits: number;
  /** `stat` calls that went to the file system while vouched. */
  statCacheMisses: number;
  /** Access-log lines dropped because the output was too slow. */
  logLinesDropped: number;
  /** TLS handshakes that failed. */
  tlsHandshakeFailures: number;
  /** Gauge: open connections, per protocol (HTTP/1.0 unused: always 0). */
  openConnections: Float64Array;
  /** Gauge: bytes the hot-file cache counts against its budget. */
  fileCacheBytes: number;
  /** Gauge: entries of the hot-file cache. */
  fileCacheEntries: number;
  /** Gauge: bytes of compressed variants the hot-file cache holds. */
  compressedVariantBytes: number;
  /** Gauge: open file descriptors kept in the pool. */
  openFileHandles: number;
  /** Gauge: answers kept by the stat cache. */
  statCacheEntries: number;
}

/** Fields of {@linkcode MetricsSnapshot} that are gauges, not counters. */
const GAUGE_FIELDS: ReadonlySet<keyof MetricsSnapshot> = new Set(
  [
    "openConnections",
    "fileCacheBytes",
    "fileCacheEntries",
    "compressedVariantBytes",
    "openFileHandles",
    "statCacheEntries",
  ] as const,
);

/** A snapshot of nothing: every counter and gauge zero. */
export function emptySnapshot(): MetricsSnapshot {
  return {
    requests: new Float64Array(REQUEST_CELLS),
    responseBytes: new Float64Array(PROTOCOLS),
    latencyBuckets: new Float64Array(LATENCY_BOUNDS_SECONDS.length + 1),
    latencySumSeconds: 0,
    connectionsAccepted: 0,
    connectionsRefused: 0,
    fileCacheHits: 0,
    fileCacheMisses: 0,
    replayHits: 0,
    statCacheHits: 0,
    statCacheMisses: 0,
    logLinesDropped: 0,
    tlsHandshakeFailures: 0,
    openConnections: new Float64Array(PROTOCOLS),
    fileCacheBytes: 0,
    fileCacheEntries: 0,
    compressedVariantBytes: 0,
    openFileHandles: 0,
    statCacheEntries: 0,
  };
}

/**
 * Adds `from` into `into`, field by field. With `countersOnly`, gauges are
 * left out: what a stopped thread counted stays in the totals, what it held
 * is gone with it.
 */
export function addSnapshot(
  into: MetricsSnapshot,
  from: MetricsSnapshot,
  countersOnly = false,
): void {
  const target = into as unknown as Record<string, number | Float64Array>;
  const source = from as unknown as Record<string, number | Float64Array>;
  for (const key of Object.keys(into) as (keyof MetricsSnapshot)[]) {
    if (countersOnly && GAUGE_FIELDS.has(key)) continue;
    const value = source[key];
    const sum = target[key];
    if (typeof sum === "number") {
      if (typeof value === "number") target[key] = sum + value;
    } else if (value instanceof Float64Array) {
      const n = Math.min(sum.length, value.length);
      for (let i = 0; i < n; i++) sum[i] += value[i];
    }
  }
}

/**
 * The counters one serving thread updates as requests finish (see the
 * module comment for the cost).
 */
export class RequestMetrics {
  /** Finished requests per {@linkcode requestCell}. */
  readonly requests: Float64Array = new Float64Array(REQUEST_CELLS);
  /** Response bytes written, per protocol. */
  readonly responseBytes: Float64Array = new Float64Array(PROTOCOLS);
  /** Requests per latency bucket (not cumulative), `+Inf` last. */
  readonly latencyBuckets: Float64Array = new Float64Array(
    LATENCY_BOUNDS_SECONDS.length + 1,
  );
  /** Sum of request durations, in seconds. */
  latencySumSeconds = 0;
  /** Connections accepted and served. */
  connectionsAccepted = 0;
  /** Connections refused over `--max-connections`. */
  connectionsRefused = 0;

  /**
   * Counts one finished request that got a response (`status` 100–599):
   * its method and protocol, the bytes written for it and how long it
   * took, in ms. A request that got no status is not counted.
   */
  requestDone(
    method: string,
    protocol: number,
    status: number,
    bytes: number,
    durationMs: number,
  ): void {
    const statusClass = Math.floor(status / 100) - 1;
    if (!(statusClass >= 0 && statusClass < STATUS_CLASSES)) return;
    this.requests[requestCell(statusClass, methodIndex(method), protocol)]++;
    this.responseBytes[protocol] += bytes;
    const seconds = durationMs > 0 ? durationMs / 1000 : 0;
    this.latencyBuckets[latencyBucket(seconds)]++;
    this.latencySumSeconds += seconds;
  }

  /** Copies the counters into `snapshot` (its other fields untouched). */
  copyInto(snapshot: MetricsSnapshot): void {
    snapshot.requests.set(this.requests);
    snapshot.responseBytes.set(this.responseBytes);
    snapshot.latencyBuckets.set(this.latencyBuckets);
    snapshot.latencySumSeconds = this.latencySumSeconds;
    snapshot.connectionsAccepted = this.connectionsAccepted;
    snapshot.connectionsRefused = this.connectionsRefused;
  }
}
