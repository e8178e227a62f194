/**
 * The server's options: one typed object, made once from the command line
 * and read by every connection.
 *
 * @module
 */

import { DEFAULT_HEAD_LIMITS, type HeadLimits } from "../http/request.ts";
import { DEFAULT_LOOKUP_OPTIONS, type LookupOptions } from "../files/lookup.ts";
import type { LogFormat } from "./log.ts";
import type { AuthSettings } from "../auth/authenticator.ts";
import type { IpRange } from "../http/ip.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The pws version, from deno.json. */
export const VERSION: string = denoConfig.version;

/** The `Server` header value. */
export const SERVER_NAME = `pws/${VERSION}`;

/** Everything a connection handler needs to know about the server. */
export interface ServerConfig {
  /** Real path of the directory being served. */
  rootReal: string;
  /** Request head size limits. */
  headLimits: HeadLimits;
  /** Largest request body read and discarded before answering 413. */
  maxBodyBytes: number;
  /** The Cache-Control value sent with files (and their 304s). */
  cacheControl: string;
  /** Time a client has to send a complete request head (then 408). */
  headerTimeoutMs: number;
  /** Time an idle keep-alive connection is kept open. */
  idleTimeoutMs: number;
  /** Time a write may make no progress before the client is dropped. */
  writeTimeoutMs: number;
  /** Requests served on one connection before it is closed. */
  maxRequestsPerConnection: number;
  /**
   * Request heads remembered for replay (replay.ts); 0 turns replay off,
   * which tests use to compare the two paths. Not a command-line option.
   */
  replayEntries: number;
  /** Connections served at once; more are answered 503 and closed. */
  maxConnections: number;
  /** Time in-flight responses get to finish after SIGINT/SIGTERM. */
  shutdownGraceMs: number;
  /** Dotfiles, clean URLs, directory listings. */
  lookup: LookupOptions;
  /** Negotiate gzip/brotli/zstd: sidecar files and on the fly. */
  compression: boolean;
  /**
   * Bytes the file cache may hold: contents, compressed variants, ready
   * responses and entry overhead (0 turns the cache off).
   */
  fileCacheBytes: number;
  /** Largest file kept in the file cache. */
  fileCacheMaxFileBytes: number;
  /** Unknown extension-less HTML requests get /index.html (200). */
  spa: boolean;
  /** `Access-Control-Allow-Origin: *` and answered preflights. */
  cors: boolean;
  /**
   * Watch the root (`Deno.watchFs`) so that cache hits need no `stat`;
   * off with `--no-watch`, and by itself where changes may go unreported.
   */
  watch: boolean;
  /**
   * Live reload (`--live`): HTML gets `/__pws/live.js`, and browsers hear
   * of changes on `/__pws/events`. Off: no response changes by a byte.
   */
  live: boolean;
  /** Globs of changes live reload ignores (`--live-ignore`). */
  liveIgnore: string[];
  /**
   * Identifies this run of pws to live pages (shared by its workers), so
   * that a page reloads once after a restart.
   */
  liveInstance: string;
  /**
   * Speak HTTP/2: `h2` offered by ALPN over TLS, and cleartext
   * connections that open with the HTTP/2 preface (prior knowledge).
   */
  http2: boolean;
  /** Header fields added to file responses (`--header`). */
  extraHeaders: [string, string][];
  /**
   * Report reloads of the site's `_redirects` and `_headers` (and their
   * errors) on stderr: the main thread's server does, workers stay quiet.
   */
  reportRules: boolean;
  /** Access log format; "off" for none. */
  logFormat: LogFormat;
  /** Colour the text log (stdout is a terminal). */
  logColor: boolean;
  /** Count requests for the `--metrics` listener (workers count too). */
  metrics: boolean;
  /**
   * Append the access log to this file instead of stdout (`--log-file`);
   * SIGHUP reopens it.
   */
  logFile?: string;
  /**
   * Proxies whose `Forwarded`/`X-Forwarded-For` name the client
   * (`--trust-proxy`); empty: those fields are ignored.
   */
  trustProxy: IpRange[];
  /** `Strict-Transport-Security: max-age=N` on TLS responses (`--hsts`). */
  hstsSeconds?: number;
  /**
   * Answer every request with a 308 to `https://` on this port instead of
   * serving files (the `--redirect-http` listener).
   */
  redirectToHttpsPort?: number;
  /**
   * Password protection (`--auth`, `--auth-file`): the users, and limits
   * tests may lower; undefined serves everyone.
   */
  auth: AuthSettings | undefined;
}

/**
 * `no-cache` lets browsers store files but revalidate every use: edits show
 * up at once, and an unchanged file costs a 304 with no body.
 */
export const DEFAULT_CACHE_CONTROL = "no-cache";

/** The options a command line or a test may set. */
export type ConfigOverrides = Partial<Omit<ServerConfig, "rootReal">>;

/** Default options, completed by the command line. */
export function defaultConfig(rootReal: string): ServerConfig {
  return {
    rootReal,
    headLimits: DEFAULT_HEAD_LIMITS,
    maxBodyBytes: 1024 * 1024,
    cacheControl: DEFAULT_CACHE_CONTROL,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 5_000,
    writeTimeoutMs: 30_000,
    maxRequestsPerConnection: 10_000,
    replayEntries: 512,
    maxConnections: 4096,
    shutdownGraceMs: 10_000,
    lookup: DEFAULT_LOOKUP_OPTIONS,
    compression: true,
    fileCacheBytes: 64 * 1024 * 1024,
    fileCacheMaxFileBytes: 1024 * 1024,
    spa: false,
    cors: false,
    http2: true,
    watch: true,
    live: false,
    liveIgnore: [],
    liveInstance: "",
    extraHeaders: [],
    reportRules: true,
    logFormat: "off",
    logColor: false,
    metrics: false,
    trustProxy: [],
    auth: undefined,
  };
}
