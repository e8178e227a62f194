/**
 * A running server: the listening socket, the accept loop, the shared
 * context of its connections, and graceful shutdown. Each accepted
 * connection runs in its own async task in `handler.ts`.
 *
 * @module
 */

import {
  type ConfigOverrides,
  defaultConfig,
  SERVER_NAME,
  type ServerConfig,
} from "./config.ts";
import { handleConnection } from "../handler.ts";
import { ConnectionRegistry, type ServerContext } from "../http1/connection.ts";
import { FileCache } from "../files/cache.ts";
import { AccessLog } from "./log.ts";
import { type LogFileSink, openLogFile } from "./log_file.ts";
import { ReplayCache } from "../http1/replay.ts";
import { FileHandlePool } from "../files/handles.ts";
import { StatCache } from "../files/stat_cache.ts";
import { RootWatcher, SHUTTING_DOWN } from "../files/watch.ts";
import { LiveHub } from "../live/hub.ts";
import { compileIgnore } from "../live/ignore.ts";
import { serializeResponseHead } from "../http/response.ts";
import {
  AcceptLoop,
  openListener,
  StartupError,
  type TlsPair,
} from "./listeners.ts";
import { TlsFailureLog } from "./tls_failures.ts";
import { rulesSubscriber, SiteRulesWatcher } from "../rules/load.ts";
import { removeUnixSocket, type UnixSocket } from "./unix_socket.ts";
import {
  emptySnapshot,
  HTTP11,
  HTTP2,
  type MetricsSnapshot,
  RequestMetrics,
} from "../metrics/counters.ts";

export { StartupError, type TlsPair };

/** A running server, as returned by {@linkcode startServer}. */
export interface RunningServer {
  /** The address actually bound. */
  hostname: string;
  /** The port actually bound (useful after asking for port 0). */
  port: number;
  /** The URL to print, e.g. `http://127.0.0.1:8000/` (`https://` with TLS). */
  url: string;
  /** True when the listener speaks TLS. */
  secure: boolean;
  /**
   * Serves new connections with another certificate (a renewed one);
   * connections already open go on with theirs. Throws a StartupError,
   * and keeps the old pair, when the new one is refused.
   */
  reloadTls(pair: TlsPair): void;
  /**
   * Reopens the `--log-file` (after logrotate moved it): lines from the
   * next batch on go to a file at the configured path. Throws, keeping
   * the old file, when the new one cannot be opened. Does nothing without
   * `--log-file`.
   */
  reopenLog(): void;
  /** Stops accepting, closes every connection and resolves when done. */
  close(): Promise<void>;
  /**
   * Graceful stop: no new connections, idle ones closed, in-flight
   * responses finish (each connection closes after its current response)
   * until `graceMs` passes, then everything is closed.
   */
  shutdown(graceMs: number): Promise<void>;
  /** Number of connections open now. */
  connectionCount(): number;
  /** Requests answered by replaying a ready response (see replay.ts). */
  replayCount(): number;
  /** Reads `_redirects` and `_headers` again now (SIGHUP). */
  reloadRules(): void;
  /**
   * What this server counted and holds now, for `--metrics` (request
   * counters stay zero unless `config.metrics` is on).
   */
  metricsSnapshot(): MetricsSnapshot;
  /** The configured grace period for shutdown, in ms. */
  shutdownGraceMs: number;
}

/** What {@linkcode startServer} needs. */
export interface StartOptions {
  /** Directory to serve. */
  root: string;
  /** Address to bind. */
  hostname: string;
  /** Port to bind; 0 for any free port. */
  port: number;
  /** Overrides of the default configuration. */
  config?: ConfigOverrides;
  /** Share the port with other listeners (SO_REUSEPORT, for --workers). */
  reusePort?: boolean;
  /** Serve HTTPS with this certificate and key. */
  tls?: TlsPair;
  /**
   * Serve on this bound Unix socket (`--unix`) instead of `hostname` and
   * `port`; the server removes its file when it stops.
   */
  unixSocket?: UnixSocket;
}

/** Formats `http://host:port/` (or `https://`), bracketing IPv6 addresses. */
export function formatUrl(
  hostname: string,
  port: number,
  scheme: "http" | "https" = "http",
): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${scheme}://${host}:${port}/`;
}

/** Resolves and checks the root; throws StartupError with a clear line. */
export function resolveRoot(root: string): string {
  let real: string;
  try {
    real = Deno.realPathSync(root);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new StartupError(
        `root directory "${root}" does not exist: create it or pass --root DIR`,
      );
    }
    if (err instanceof Deno.errors.NotCapable) {
      throw new StartupError(
        `no permission to read "${root}": run deno with --allow-read`,
      );
    }
    throw new StartupError(`cannot open root "${root}": ${describe(err)}`);
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(real);
  } catch (err) {
    throw new StartupError(`cannot open root "${root}": ${describe(err)}`);
  }
  if (!info.isDirectory) {
    throw new StartupError(
      `root "${root}" is not a directory: pass --root DIR with a directory`,
    );
  }
  return real;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/**
 * Starts serving `options.root`. Resolves once the socket is bound; the
 * accept loop runs in the background until `close()`.
 */
export function startServer(options: StartOptions): RunningServer {
  const config: ServerConfig = {
    ...defaultConfig(resolveRoot(options.root)),
    ...options.config,
  };
  const spec = {
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort ?? false,
    tls: options.tls,
    alpnProtocols: config.http2 ? ["h2", "http/1.1"] : ["http/1.1"],
  };
  // The log file first: a path that cannot be opened stops start-up.
  let logFile: LogFileSink | undefined;
  if (config.logFormat !== "off" && config.logFile !== undefined) {
    try {
      logFile = openLogFile(config.logFile);
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  }
  const unix = options.unixSocket;
  let listener: Deno.Listener;
  try {
    listener = unix?.listener ?? openListener(spec);
  } catch (err) {
    logFile?.close();
    throw err;
  }
  const addr: Deno.NetAddr = unix === undefined
    ? listener.addr as Deno.NetAddr
    : { transport: "tcp", hostname: "unix", port: 0 };
  const secure = options.tls !== undefined;
  const registry = new ConnectionRegistry();
  const replay = new ReplayCache(config.replayEntries);
  // Live reload watches even with --no-watch; only the caches then ignore it.
  const watcher = config.watch || config.live
    ? RootWatcher.start(config.rootReal)
    : undefined;
  const stats = new StatCache(
    config.rootReal,
    config.watch && (watcher?.healthy ?? false),
  );
  const live = config.live
    ? new LiveHub(
      config.rootReal,
      compileIgnore(config.liveIgnore),
      config.liveInstance || crypto.randomUUID(),
    )
    : undefined;
  // The site's _redirects and _headers: loaded here (main.ts has already
  // refused to start on errors), after the watcher started so that no
  // change in between goes unseen, then reloaded when they change.
  const siteRules = new SiteRulesWatcher(
    config.rootReal,
    { hsts: config.hstsSeconds !== undefined },
    config.reportRules ? (line) => console.error(`pws: ${line}`) : undefined,
    // Replayed answers were decided under the old rules.
    () => replay.clear(),
  );
  if (watcher !== undefined) {
    if (config.watch) watcher.subscribe(stats);
    if (live !== undefined) watcher.subscribe(live);
    siteRules.watched = watcher.healthy;
    watcher.subscribe(rulesSubscriber(siteRules));
    const consequence = (config.live ? "live reload sees no changes; " : "") +
      "files are checked with stat on every request";
    if (!watcher.healthy) {
      console.error(
        `pws: not watching the root: ${watcher.lostReason}; ${consequence}`,
      );
    } else {
      watcher.subscribe({
        changed() {},
        lost(reason) {
          if (reason === SHUTTING_DOWN) return;
          console.error(
            `pws: stopped watching the root: ${reason}; ${consequence} ` +
              `from now on`,
          );
        },
      });
    }
  }
  const ctx: ServerContext = {
    config,
    registry,
    fileCache: new FileCache(
      config.fileCacheBytes,
      config.fileCacheMaxFileBytes,
    ),
    replay,
    handles: new FileHandlePool(),
    stats,
    live,
    siteRules,
    tlsFailures: secure ? new TlsFailureLog() : undefined,
    metrics: config.metrics ? new RequestMetrics() : undefined,
    accessLog: config.logFormat === "off" ? undefined : new AccessLog(
      config.logFormat,
      config.logColor && config.logFile === undefined,
      logFile ?? Deno.stdout,
      Deno.stderr,
    ),
  };
  const tasks = new Set<Promise<void>>();
  let accepting = true;

  // One timer checks every connection's deadline, instead of a timer per
  // read and write on the hot path.
  const tick = Math.max(
    20,
    Math.min(
      1000,
      config.headerTimeoutMs / 4,
      config.idleTimeoutMs / 4,
      config.writeTimeoutMs / 4,
    ),
  );
  const sweeper = setInterval(() => {
    registry.sweep();
    ctx.handles.closeUnused();
    // Without a watcher: two stats at most once a second (the check
    // keeps its own pace).
    siteRules.check();
  }, tick);

  const onConnection = (conn: Deno.Conn) => {
    if (!accepting) {
      closeConn(conn);
      return;
    }
    if (tasks.size >= config.maxConnections) {
      if (ctx.metrics !== undefined) ctx.metrics.connectionsRefused++;
      refuseBusy(conn);
      return;
    }
    if (ctx.metrics !== undefined) ctx.metrics.connectionsAccepted++;
    try {
      if (unix === undefined) (conn as Deno.TcpConn).setNoDelay(true);
    } catch {
      // the peer may already be gone
    }
    const task = handleConnection(conn, ctx, secure).finally(() => {
      tasks.delete(task);
    });
    tasks.add(task);
  };
  const acceptLoop = new AcceptLoop(listener, onConnection);

  /** Writes what is queued; closes the log file (never stdout). */
  const closeLog = async () => {
    await ctx.accessLog?.flushed();
    if (config.logFile !== undefined) ctx.accessLog?.sink.close?.();
  };

  const stopAccepting = async () => {
    accepting = false;
    await acceptLoop.stop();
    if (unix !== undefined) removeUnixSocket(unix);
  };

  return {
    hostname: addr.hostname,
    port: addr.port,
    url: unix !== undefined
      ? `unix:${unix.path}`
      : formatUrl(addr.hostname, addr.port, secure ? "https" : "http"),
    secure,
    reloadTls(pair: TlsPair) {
      if (!secure) throw new StartupError("this server does not use TLS");
      acceptLoop.replace(
        openListener({ ...spec, port: addr.port, reusePort: true, tls: pair }),
      );
    },
    reopenLog() {
      const log = ctx.accessLog;
      if (log === undefined || config.logFile === undefined) return;
      log.replaceSink(openLogFile(config.logFile));
    },
    connectionCount: () => tasks.size,
    replayCount: () => ctx.replay.hits,
    reloadRules: () => siteRules.changed(),
    metricsSnapshot: () => snapshotOf(ctx),
    shutdownGraceMs: config.shutdownGraceMs,
    async close() {
      await stopAccepting();
      live?.close();
      registry.closeAll();
      await Promise.allSettled([...tasks]);
      clearInterval(sweeper);
      watcher?.close();
      siteRules.close();
      ctx.handles.closeAll();
      ctx.tlsFailures?.close();
      await closeLog();
    },
    async shutdown(graceMs: number) {
      await stopAccepting();
      // Event streams end now, so that pages reconnect to the next run.
      live?.close();
      registry.drain();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.allSettled([...tasks]), grace]);
      clearTimeout(timer);
      registry.closeAll();
      await Promise.allSettled([...tasks]);
      clearInterval(sweeper);
      watcher?.close();
      siteRules.close();
      ctx.handles.closeAll();
      ctx.tlsFailures?.close();
      await closeLog();
    },
  };
}

/** The counters and holdings of one server's context, as a snapshot. */
function snapshotOf(ctx: ServerContext): MetricsSnapshot {
  const snapshot = emptySnapshot();
  ctx.metrics?.copyInto(snapshot);
  for (const c of ctx.registry.connections) {
    snapshot.openConnections[c.protocol === undefined ? HTTP11 : HTTP2]++;
  }
  snapshot.fileCacheHits = ctx.fileCache.hits;
  snapshot.fileCacheMisses = ctx.fileCache.misses;
  snapshot.fileCacheBytes = ctx.fileCache.bytes;
  snapshot.fileCacheEntries = ctx.fileCache.size;
  snapshot.compressedVariantBytes = ctx.fileCache.variantBytes;
  snapshot.replayHits = ctx.replay.hits;
  snapshot.openFileHandles = ctx.handles.size;
  snapshot.statCacheHits = ctx.stats.hits;
  snapshot.statCacheMisses = ctx.stats.misses;
  snapshot.statCacheEntries = ctx.stats.size;
  snapshot.logLinesDropped = ctx.accessLog?.droppedTotal ?? 0;
  snapshot.tlsHandshakeFailures = ctx.tlsFailures?.total ?? 0;
  return snapshot;
}

const BUSY_RESPONSE = new TextEncoder().encode(
  serializeResponseHead(503, [
    ["Server", SERVER_NAME],
    ["Retry-After", "1"],
    ["Connection", "close"],
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", "20"],
  ]) + "Server busy, retry.\n",
);

/**
 * Answers a connection over the limit with 503 and closes it, without
 * waiting on the client: the kernel buffer takes these few bytes.
 */
function closeConn(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function refuseBusy(conn: Deno.Conn): void {
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  conn.write(BUSY_RESPONSE).then(close, close);
}
