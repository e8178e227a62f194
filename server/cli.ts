/**
 * The command line, as a pure function from arguments to options or to a
 * message for the user.
 *
 * @module
 */

import { parseUnixMode } from "./unix_socket.ts";
import { parseArgs } from "node:util";
import { isFieldValue, isToken } from "../http/request.ts";
import { trimOws } from "../http/scan.ts";
import type { ConfigOverrides } from "./config.ts";
import type { AuthSources } from "../auth/load.ts";
import { hasControl } from "../auth/basic.ts";
import { type ListenAddress, parseListenAddress } from "../metrics/address.ts";
import { MANAGED_FIELDS } from "../response/reply.ts";
import { type IpRange, parseCidr } from "../http/ip.ts";

/** Options the command line sets. */
export interface CliOptions {
  /** Port to listen on; 0 picks any free port. */
  port: number;
  /** Directory to serve, as given (resolved later). */
  root: string;
  /** Address to bind. */
  host: string;
  /** Configuration set by flags; defaults apply to the rest. */
  config: ConfigOverrides;
  /** Listeners (threads) sharing the port. */
  workers: number;
  /** Where the TLS certificate comes from, when serving HTTPS. */
  tls?: TlsSource;
  /** Port of the cleartext listener that redirects to HTTPS. */
  redirectHttpPort?: number;
  /** `--auth` and `--auth-file`, read at start-up; undefined: no password. */
  auth?: AuthSources;
  /** `--unix PATH` (and `--unix-mode`): a Unix socket instead of a port. */
  unix?: { path: string; mode?: number };
  /** Where `--metrics` listens for scrapes and health checks. */
  metrics?: ListenAddress;
}

/** `--tls-cert FILE --tls-key FILE`, or `--tls-self-signed`. */
export type TlsSource =
  | { kind: "files"; certPath: string; keyPath: string }
  | { kind: "self-signed" };

/** Longest `--hsts` accepted: ten years, in seconds. */
const MAX_HSTS_SECONDS = 10 * 365 * 24 * 3600;

/** The outcome of {@linkcode parseCommandLine}. */
export type CliResult =
  | { kind: "run"; options: CliOptions }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "usage-error"; message: string };

/** Default port when none is given. */
export const DEFAULT_PORT = 8000;

/** The help text printed by `--help`. */
export const USAGE = `Usage: pws [options] [PORT]

Serve the files of a directory over HTTP/1.1 and HTTP/2.

Arguments:
  PORT                  port to listen on, 0-65535 (default ${DEFAULT_PORT}; 0 picks a free port)

Options:
  --root DIR            directory to serve (default ./static)
  --host ADDR           address to bind (default 0.0.0.0; IPv6 such as ::1 works)
  --cache-control VALUE Cache-Control for files (default "no-cache": browsers
                        revalidate each use, answered cheaply with 304)
  --cache-size MIB      memory for the hot-file cache in MiB (default 64; 0 = off)
  --no-compression      never compress (default: gzip, br, zstd as negotiated)
  --dir-listing         list directories that have no index.html
  --dotfiles POLICY     allow | deny (403) | ignore (404, default)
  --spa                 unknown extension-less paths asked for as HTML get /index.html
  --clean-urls          /about serves about.html; /about.html redirects to /about
  --cors                Access-Control-Allow-Origin: * and answered preflights
  --no-watch            check files with stat on every request instead of
                        watching the root for changes
  --live                live reload: pages reload when files change, and
                        stylesheets swap in place (for editing a site)
  --live-ignore GLOB    changes live reload ignores (repeatable; dotfiles and
                        node_modules always are), e.g. "*.log" or "dist/**"
  --unix PATH           listen on this Unix socket instead of a port (for a
                        proxy in front; cleartext, one thread)
  --unix-mode MODE      permissions of the socket, octal (e.g. 660)
  --no-http2            speak HTTP/1.1 only (default: HTTP/2 too, by ALPN over
                        TLS and by prior knowledge in cleartext)
  --header "NAME: VALUE" add a header to file responses (repeatable)
  --auth USER:PASS      require this user and password (HTTP Basic; repeatable)
  --auth-file FILE      require a user of this htpasswd file (bcrypt or {SHA};
                        repeatable, combines with --auth)
  -q, --quiet           no access log
  --log-format FORMAT   access log as text (default), json, or the Common
                        or Combined Log Format of Apache and nginx: common,
                        combined
  --log-file PATH       append the access log to PATH instead of stdout
                        (SIGHUP reopens it, for logrotate)
  --trust-proxy CIDR    take the client address for the log (and --auth's
                        limiter) from Forwarded or X-Forwarded-For, but only
                        on connections from these proxies (repeatable)
  --header-timeout S    seconds to receive a request head, then 408 (default 10)
  --idle-timeout S      seconds an idle keep-alive connection stays open (default 5)
  --write-timeout S     seconds a write may stall before the client is dropped (default 30)
  --max-requests N      requests per connection before it closes (default 10000)
  --max-connections N   connections at once; more get 503 (default 4096)
  --shutdown-timeout S  seconds in-flight responses get after SIGINT/SIGTERM (default 10)
  --workers N|auto      listener threads sharing the port (default 1; auto = one per core)
  --metrics ADDR:PORT   serve /metrics (Prometheus) and /health on this separate
                        address, e.g. 127.0.0.1:9100 or [::1]:9100

HTTPS:
  --tls-cert FILE       PEM certificate (a full chain is allowed), with --tls-key
  --tls-key FILE        PEM private key (ECDSA or RSA) of that certificate
                        (SIGHUP, or a change of the files, reloads the pair)
  --tls-self-signed     zero-setup HTTPS: a local CA made once in your data
                        directory issues a certificate for this machine
  --redirect-http PORT  also listen on PORT in cleartext, answering 308 to https://
  --hsts SECONDS        send Strict-Transport-Security: max-age=SECONDS over HTTPS
  -h, --help            show this help and exit
  -V, --version         show the version and exit

Examples:
  pws                            serve ./static on http://localhost:8000/
  pws 9000 --root ./public       serve ./public on port 9000
  pws --host ::1 0               serve on IPv6 loopback, any free port
  pws --spa --cors --root dist   serve a single-page app to other origins
`;

/**
 * Parses `pws [options] [PORT]`. Never throws: bad input becomes a
 * one-line message saying what is wrong.
 */
export function parseCommandLine(args: string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        root: { type: "string" },
        host: { type: "string" },
        "cache-control": { type: "string" },
        "header-timeout": { type: "string" },
        "idle-timeout": { type: "string" },
        "write-timeout": { type: "string" },
        "shutdown-timeout": { type: "string" },
        "max-requests": { type: "string" },
        "max-connections": { type: "string" },
        "cache-size": { type: "string" },
        workers: { type: "string" },
        metrics: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-self-signed": { type: "boolean" },
        "redirect-http": { type: "string" },
        hsts: { type: "string" },
        "no-compression": { type: "boolean" },
        "dir-listing": { type: "boolean" },
        dotfiles: { type: "string" },
        spa: { type: "boolean" },
        "clean-urls": { type: "boolean" },
        cors: { type: "boolean" },
        "no-http2": { type: "boolean" },
        "no-watch": { type: "boolean" },
        live: { type: "boolean" },
        unix: { type: "string" },
        "unix-mode": { type: "string" },
        "live-ignore": { type: "string", multiple: true },
        header: { type: "string", multiple: true },
        auth: { type: "string", multiple: true },
        "auth-file": { type: "string", multiple: true },
        quiet: { type: "boolean", short: "q" },
        "log-format": { type: "string" },
        "log-file": { type: "string" },
        "trust-proxy": { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (err) {
    return usageError(describeParseError(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 1) {
    return usageError(
      `expected at most one PORT, got ${positionals.length}: ${
        positionals.join(" ")
      }`,
    );
  }
  let port = DEFAULT_PORT;
  if (positionals.length === 1) {
    const parsedPort = parsePort(positionals[0]);
    if (parsedPort === undefined) {
      return usageError(
        `invalid port ${
          quote(positionals[0])
        }: use a whole number from 0 to 65535`,
      );
    }
    port = parsedPort;
  }
  const root = values.root ?? "./static";
  if (root === "") return usageError("--root needs a directory");
  const host = values.host ?? "0.0.0.0";
  if (host === "") return usageError("--host needs an address");
  const cacheControl = values["cache-control"];
  if (
    cacheControl !== undefined &&
    (cacheControl.trim() === "" || !isFieldValue(cacheControl) ||
      cacheControl !== cacheControl.trim())
  ) {
    return usageError(
      `invalid --cache-control ${
        quote(cacheControl)
      }: use a header value such ` +
        `as "public, max-age=3600"`,
    );
  }
  const config: ConfigOverrides = {};
  if (cacheControl !== undefined) config.cacheControl = cacheControl;
  for (const [flag, key] of SECONDS_FLAGS) {
    const text = values[flag];
    if (text === undefined) continue;
    const seconds = parseSeconds(text);
    if (seconds === undefined) {
      return usageError(
        `invalid --${flag} ${quote(text)}: use a number of seconds above 0, ` +
          `such as 10 or 0.5`,
      );
    }
    config[key] = seconds * 1000;
  }
  for (const [flag, key] of COUNT_FLAGS) {
    const text = values[flag];
    if (text === undefined) continue;
    const count = parseCount(text);
    if (count === undefined) {
      return usageError(
        `invalid --${flag} ${quote(text)}: use a whole number of at least 1`,
      );
    }
    config[key] = count;
  }
  if (values["cache-size"] !== undefined) {
    const text = values["cache-size"];
    const mib = /^[0-9]{1,6}$/.test(text) ? Number(text) : undefined;
    if (mib === undefined) {
      return usageError(
        `invalid --cache-size ${
          quote(text)
        }: use a whole number of MiB (0 turns the cache off)`,
      );
    }
    config.fileCacheBytes = mib * 1024 * 1024;
  }
  const dotfiles = values.dotfiles ?? "ignore";
  if (dotfiles !== "allow" && dotfiles !== "deny" && dotfiles !== "ignore") {
    return usageError(
      `invalid --dotfiles ${quote(dotfiles)}: use allow, deny or ignore`,
    );
  }
  config.lookup = {
    dotfiles,
    cleanUrls: values["clean-urls"] ?? false,
    dirListing: values["dir-listing"] ?? false,
  };
  if (values["no-compression"]) config.compression = false;
  if (values.spa) config.spa = true;
  if (values.cors) config.cors = true;
  if (values["no-http2"]) config.http2 = false;
  if (values["no-watch"]) config.watch = false;
  if (values.live) {
    config.live = true;
    config.liveInstance = crypto.randomUUID();
  }
  const liveIgnore = values["live-ignore"] ?? [];
  if (liveIgnore.length > 0 && !values.live) {
    return usageError("--live-ignore needs --live");
  }
  if (liveIgnore.some((glob) => glob.trim() === "")) {
    return usageError("empty --live-ignore glob");
  }
  config.liveIgnore = liveIgnore;
  const extraHeaders: [string, string][] = [];
  for (const text of values.header ?? []) {
    const header = parseHeaderFlag(text);
    if (typeof header === "string") return usageError(header);
    extraHeaders.push(header);
  }
  config.extraHeaders = extraHeaders;
  const logFormat = values["log-format"] ?? "text";
  if (
    logFormat !== "text" && logFormat !== "json" && logFormat !== "common" &&
    logFormat !== "combined"
  ) {
    return usageError(
      `invalid --log-format ${
        quote(logFormat)
      }: use text, json, common or combined`,
    );
  }
  config.logFormat = values.quiet ? "off" : logFormat;
  const logFile = values["log-file"];
  if (logFile !== undefined) {
    if (logFile === "") return usageError("--log-file needs a file name");
    if (values.quiet) {
      return usageError("--log-file and --quiet contradict each other");
    }
    config.logFile = logFile;
  }
  const trustProxy: IpRange[] = [];
  for (const text of values["trust-proxy"] ?? []) {
    const range = parseCidr(text);
    if (range === undefined) {
      return usageError(
        `invalid --trust-proxy ${
          quote(text)
        }: use an address or a CIDR range such as 10.0.0.0/8 or fd00::/8`,
      );
    }
    trustProxy.push(range);
  }
  config.trustProxy = trustProxy;
  let workers = 1;
  if (values.workers !== undefined) {
    const text = values.workers;
    const count = text === "auto"
      ? navigator.hardwareConcurrency
      : parseCount(text);
    if (count === undefined || count > 256) {
      return usageError(
        `invalid --workers ${quote(text)}: use a number from 1 to 256, or auto`,
      );
    }
    workers = count;
  }
  const certPath = values["tls-cert"];
  const keyPath = values["tls-key"];
  let tls: TlsSource | undefined;
  if (values["tls-self-signed"]) {
    if (certPath !== undefined || keyPath !== undefined) {
      return usageError(
        "--tls-self-signed makes its own certificate: leave out --tls-cert " +
          "and --tls-key",
      );
    }
    tls = { kind: "self-signed" };
  } else if (certPath !== undefined || keyPath !== undefined) {
    if (certPath === undefined || keyPath === undefined) {
      return usageError(
        "--tls-cert and --tls-key go together: give the certificate file " +
          "and its key file",
      );
    }
    if (certPath === "" || keyPath === "") {
      return usageError("--tls-cert and --tls-key need file names");
    }
    tls = { kind: "files", certPath, keyPath };
  }
  let redirectHttpPort: number | undefined;
  const redirectText = values["redirect-http"];
  if (redirectText !== undefined) {
    redirectHttpPort = parsePort(redirectText);
    if (redirectHttpPort === undefined) {
      return usageError(
        `invalid --redirect-http ${
          quote(redirectText)
        }: use a port from 0 to 65535`,
      );
    }
    if (tls === undefined) {
      return usageError(
        "--redirect-http redirects to HTTPS: add --tls-cert and --tls-key, " +
          "or --tls-self-signed",
      );
    }
    if (redirectHttpPort === port && port !== 0) {
      return usageError(
        `--redirect-http ${redirectHttpPort} is the HTTPS port itself: ` +
          `choose another port (usually 80 beside 443)`,
      );
    }
  }
  const hstsText = values.hsts;
  if (hstsText !== undefined) {
    const seconds = /^[0-9]{1,9}$/.test(hstsText) ? Number(hstsText) : NaN;
    if (!(seconds <= MAX_HSTS_SECONDS)) {
      return usageError(
        `invalid --hsts ${
          quote(hstsText)
        }: use a whole number of seconds up to ${MAX_HSTS_SECONDS} (a year ` +
          `is 31536000)`,
      );
    }
    if (tls === undefined) {
      return usageError(
        "--hsts applies to HTTPS: add --tls-cert and --tls-key, or " +
          "--tls-self-signed",
      );
    }
    config.hstsSeconds = seconds;
  }
  const auth = parseAuthFlags(values.auth ?? [], values["auth-file"] ?? []);
  if (typeof auth === "string") return usageError(auth);
  const unix = parseUnixFlags(values, {
    port: positionals.length > 0,
    tls: tls !== undefined,
    workers,
  });
  if (typeof unix === "string") return usageError(unix);
  let metrics: ListenAddress | undefined;
  if (values.metrics !== undefined) {
    const parsedMetrics = parseListenAddress(values.metrics);
    if (typeof parsedMetrics === "string") {
      return usageError(
        `invalid --metrics ${quote(values.metrics)}: ${parsedMetrics}`,
      );
    }
    metrics = parsedMetrics;
    const taken = metrics.port === 0
      ? undefined
      : metrics.port === port
      ? "the site's port"
      : metrics.port === redirectHttpPort
      ? "the --redirect-http port"
      : undefined;
    if (taken !== undefined) {
      return usageError(
        `--metrics port ${metrics.port} is ${taken}: metrics need a port ` +
          `of their own, such as 9100`,
      );
    }
    config.metrics = true;
  }
  return {
    kind: "run",
    options: {
      port,
      root,
      host,
      config,
      workers,
      tls,
      redirectHttpPort,
      auth,
      unix,
      metrics,
    },
  };
}

/**
 * Reads `--auth USER:PASS` (split at the first colon) and `--auth-file`:
 * the sources to load at start-up, undefined when neither is given, or a
 * message. Messages never repeat the value, which holds a password.
 */
function parseAuthFlags(
  pairs: readonly string[],
  files: readonly string[],
): AuthSources | undefined | string {
  if (pairs.length === 0 && files.length === 0) return undefined;
  const sources: AuthSources = { pairs: [], files: [] };
  for (const text of pairs) {
    const colon = text.indexOf(":");
    if (colon < 0) return "invalid --auth: use USER:PASSWORD (no colon found)";
    const user = text.slice(0, colon);
    const password = text.slice(colon + 1);
    if (user === "") return "invalid --auth: empty user name before the colon";
    if (password === "") {
      return `invalid --auth for ${quote(user)}: empty password`;
    }
    if (hasControl(text)) {
      return "invalid --auth: control characters are not allowed (RFC 7617)";
    }
    sources.pairs.push({ user, password });
  }
  for (const file of files) {
    if (file === "") return "--auth-file needs a file";
    sources.files.push(file);
  }
  return sources;
}

const SECONDS_FLAGS = [
  ["header-timeout", "headerTimeoutMs"],
  ["idle-timeout", "idleTimeoutMs"],
  ["write-timeout", "writeTimeoutMs"],
  ["shutdown-timeout", "shutdownGraceMs"],
] as const;

const COUNT_FLAGS = [
  ["max-requests", "maxRequestsPerConnection"],
  ["max-connections", "maxConnections"],
] as const;

/** Parses a positive number of seconds (decimals allowed), up to a day. */
export function parseSeconds(text: string): number | undefined {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) return undefined;
  const seconds = Number(text);
  return seconds > 0 && seconds <= 86400 ? seconds : undefined;
}

/** Parses a whole number of at least 1. */
export function parseCount(text: string): number | undefined {
  if (!/^[0-9]{1,9}$/.test(text)) return undefined;
  const count = Number(text);
  return count >= 1 ? count : undefined;
}

/**
 * Why a `--header` may not set a field, if it may not: pws manages it
 * (response/reply.ts), or it has a flag of its own. Other fields pws also
 * sets (`Access-Control-*`, `Vary`) are replaced (or, for `Vary`, merged)
 * by the `--header` value: see response/reply.ts.
 */
function reservedReason(lowerName: string): string | undefined {
  return lowerName === "cache-control"
    ? "use --cache-control"
    : MANAGED_FIELDS.get(lowerName);
}

/**
 * Parses `--header "Name: value"`. Returns the field, or a message saying
 * what is wrong (an invalid name or value, or a field pws must control).
 */
export function parseHeaderFlag(text: string): [string, string] | string {
  const colon = text.indexOf(":");
  if (colon < 0) {
    return `invalid --header ${quote(text)}: use "Name: value"`;
  }
  const name = text.slice(0, colon);
  const value = trimOws(text.slice(colon + 1));
  if (!isToken(name)) {
    return `invalid --header name ${quote(name)}: use letters, digits and -`;
  }
  if (!isFieldValue(value)) {
    return `invalid --header value for ${name}: control characters are not allowed`;
  }
  const reserved = reservedReason(name.toLowerCase());
  if (reserved !== undefined) {
    return `--header cannot set ${name}: ${reserved}`;
  }
  return [name, value];
}

/** Parses a port number: decimal digits only, 0–65535. */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Quotes user input for a message, escaping line breaks and controls. */
function quote(text: string): string {
  return JSON.stringify(text);
}

/** Shows a word as it is when plain, quoted when it holds odd characters. */
function plainOrQuoted(text: string): string {
  return /^[\x21-\x7e]+$/.test(text) ? text : quote(text);
}

function usageError(message: string): CliResult {
  return { kind: "usage-error", message };
}

/** Rewords node:util's parse errors into one short line. */
function describeParseError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const m = /'([^']+)'/.exec(message);
    return `unknown option ${m ? plainOrQuoted(m[1]) : ""}`.trim();
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    // Either "--x <value>" is missing its value, or a boolean got one.
    const names = /'(?:-\w, )?(--?[^' ]+)/.exec(message);
    const name = names ? names[1] : "option";
    return message.includes("does not take an argument")
      ? `option ${name} takes no value`
      : `option ${name} needs a value`;
  }
  return quote(message.split("\n")[0]);
}

/**
 * `--unix PATH` and `--unix-mode MODE`, or a usage error. A socket replaces
 * the port, and a proxy in front of it terminates TLS and spreads load.
 */
function parseUnixFlags(
  values: { host?: string; unix?: string; "unix-mode"?: string },
  others: { port: boolean; tls: boolean; workers: number },
): { path: string; mode?: number } | undefined | string {
  const path = values.unix;
  const modeText = values["unix-mode"];
  if (path === undefined) {
    return modeText === undefined ? undefined : "--unix-mode needs --unix";
  }
  if (path === "") return "--unix needs a socket path";
  if (others.port) return "--unix replaces PORT: give one or the other";
  if (values.host !== undefined) return "--unix replaces --host";
  if (others.tls) {
    return "--unix serves cleartext: the proxy in front terminates TLS";
  }
  if (others.workers > 1) {
    return "--unix takes one thread: run several pws on several sockets";
  }
  if (modeText === undefined) return { path };
  const mode = parseUnixMode(modeText);
  if (mode === undefined) {
    return `invalid --unix-mode ${
      quote(modeText)
    }: use octal permissions such as 660`;
  }
  return { path, mode };
}
