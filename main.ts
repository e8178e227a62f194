/**
 * pws: the command line, the banner and signals. The server itself (listen,
 * accept, shutdown) is `server/server.ts`; each accepted connection runs in
 * its own async task in `handler.ts`.
 *
 * Run: `deno run --allow-net --allow-read main.ts [options] [PORT]`.
 *
 * @module
 */

import { parseCommandLine, USAGE } from "./server/cli.ts";
import { VERSION } from "./server/config.ts";
import {
  formatUrl,
  resolveRoot,
  type RunningServer,
  type StartOptions,
  startServer,
  StartupError,
} from "./server/server.ts";
import {
  startWorkerGroup,
  testHooksFromEnv,
  type WorkerGroup,
} from "./server/workers.ts";
import { listenUnix } from "./server/unix_socket.ts";
import {
  type MetricsEndpoint,
  startMetricsEndpoint,
} from "./metrics/endpoint.ts";
import { addSnapshot } from "./metrics/counters.ts";
import { formatMetrics } from "./metrics/exposition.ts";
import { kernelPathsAvailable } from "./files/open.ts";
import {
  type PreparedTls,
  prepareTls,
  watchCertificateFiles,
} from "./server/https.ts";
import { cleartextAuthWarning, loadAuthUsers } from "./auth/load.ts";
import { loadSiteRules } from "./rules/load.ts";

/** The addresses a person on this machine or network can click. */
function clickableUrls(
  hostname: string,
  port: number,
  scheme: "http" | "https" = "http",
): string[] {
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  if (!wildcard) return [];
  const urls = [`  Local:   ${formatUrl("localhost", port, scheme)}`];
  try {
    for (const nic of Deno.networkInterfaces()) {
      if (nic.address === "127.0.0.1" || nic.address === "::1") continue;
      if (nic.family === "IPv6" && hostname === "0.0.0.0") continue;
      if (nic.family === "IPv6" && nic.address.startsWith("fe80")) continue;
      urls.push(`  Network: ${formatUrl(nic.address, port, scheme)}`);
    }
  } catch {
    // Without --allow-sys the network addresses are unknown; local is enough.
  }
  return urls;
}

/** Runs the command line; returns the process exit code on failure. */
export async function main(args: string[]): Promise<number> {
  const cli = parseCommandLine(args);
  if (cli.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (cli.kind === "version") {
    console.log(`pws ${VERSION}`);
    return 0;
  }
  if (cli.kind === "usage-error") {
    console.error(`pws: ${cli.message} (see pws --help)`);
    return 2;
  }
  const { root, host, port, config, workers, tls, redirectHttpPort, metrics } =
    cli.options;
  // Password protection: users loaded once here (workers get the list).
  if (cli.options.auth !== undefined) {
    const loaded = loadAuthUsers(cli.options.auth);
    if (loaded.kind === "error") {
      console.error(`pws: ${loaded.message}`);
      return 1;
    }
    for (const warning of loaded.warnings) {
      console.error(`pws: warning: ${warning}`);
    }
    config.auth = { users: loaded.users };
  }
  const rules = checkSiteRules(root, config.hstsSeconds !== undefined);
  if (typeof rules === "number") return rules;
  let prepared: PreparedTls | undefined;
  if (tls !== undefined) {
    const result = await prepareTls(tls);
    if (!result.ok) {
      console.error(`pws: ${result.error}`);
      return 1;
    }
    prepared = result.value;
    for (const line of prepared.warnings) console.error(`pws: ${line}`);
  }
  const options: StartOptions = {
    root,
    hostname: host,
    port,
    config: { logColor: Deno.stdout.isTerminal(), ...config },
    tls: prepared?.pair,
  };
  let server: RunningServer;
  let group: WorkerGroup | undefined;
  let redirect: RunningServer | undefined;
  let endpoint: MetricsEndpoint | undefined;
  try {
    const unix = cli.options.unix;
    if (unix !== undefined) {
      options.unixSocket = await listenUnix(unix.path, unix.mode);
    }
    server = startServer({ ...options, reusePort: workers > 1 });
    if (workers > 1) {
      group = await startWorkerGroup(workers - 1, {
        ...options,
        port: server.port,
      }, { ...testHooksFromEnv(), metrics: metrics !== undefined });
    }
    if (redirectHttpPort !== undefined) {
      redirect = startServer({
        ...options,
        port: redirectHttpPort,
        tls: undefined,
        config: { ...options.config, redirectToHttpsPort: server.port },
      });
    }
    if (metrics !== undefined) {
      endpoint = startMetricsPage(metrics, workers, server, group, redirect);
    }
  } catch (err) {
    if (err instanceof StartupError) {
      console.error(`pws: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const stopRenewing = tls?.kind === "files"
    ? renewOnChange(tls.certPath, tls.keyPath, server, group)
    : undefined;
  // SIGHUP also reads the site's rules again (workers watch them anyway).
  const reloadRules = () => server.reloadRules();
  try {
    Deno.addSignalListener("SIGHUP", reloadRules);
  } catch {
    // no SIGHUP here (Windows): the watcher and the check still reload
  }
  const stopReopening = config.logFile !== undefined &&
      config.logFormat !== "off"
    ? reopenLogOnHangup(config.logFile, [server, redirect], group)
    : undefined;
  const stopWatching = () => {
    stopRenewing?.();
    stopReopening?.();
  };
  // Listen for signals before announcing the URL: a script may signal as
  // soon as it has read it.
  const stopped = untilSignalled({
    connectionCount: () => server.connectionCount(),
    shutdown: (graceMs) => {
      stopWatching();
      try {
        Deno.removeSignalListener("SIGHUP", reloadRules);
      } catch {
        // never added
      }
      // Health checks see the drain while it lasts.
      endpoint?.setDraining();
      return Promise.all([
        server.shutdown(graceMs),
        group?.shutdown(graceMs),
        redirect?.shutdown(graceMs),
      ]).then(() => endpoint?.close());
    },
  }, server.shutdownGraceMs);
  // With machine-read logs on stdout, stdout carries log lines only: the
  // banner goes to stderr, where a person still sees it.
  const machineLog = config.logFormat === "json" ||
    config.logFormat === "common" || config.logFormat === "combined";
  const say = machineLog && config.logFile === undefined
    ? console.error
    : console.log;
  say(`pws ${VERSION} serving ${root} on ${server.url}`);
  const scheme = server.secure ? "https" : "http";
  if (cli.options.unix === undefined) {
    for (const line of clickableUrls(server.hostname, server.port, scheme)) {
      say(line);
    }
  }
  if (redirect !== undefined) {
    say(`  Redirect:  ${redirect.url} → ${scheme}:// on port ${server.port}`);
  }
  if (endpoint !== undefined) say(`  Metrics: ${endpoint.url} (and /health)`);
  for (const line of prepared?.banner ?? []) say(line);
  if (rules !== undefined) say(`  Rules:   ${rules}`);
  // A Unix socket is reached from this machine only.
  const cleartext = config.auth === undefined || cli.options.unix !== undefined
    ? undefined
    : cleartextAuthWarning({ host: server.hostname, tls: server.secure });
  if (cleartext !== undefined) console.error(`pws: warning: ${cleartext}`);
  if (!kernelPathsAvailable()) {
    console.error(
      "pws: without --allow-all, Deno hides /proc/self/fd, so files are " +
        "checked by real path and inode; a directory swapped at exactly " +
        "the wrong microseconds could slip past (see README: threat model)",
    );
  }
  return await stopped;
}

/**
 * Starts the `--metrics` listener: each scrape sums this thread's servers
 * and the workers' last snapshots (at most a second old).
 */
function startMetricsPage(
  address: { hostname: string; port: number },
  workers: number,
  server: RunningServer,
  group: WorkerGroup | undefined,
  redirect: RunningServer | undefined,
): MetricsEndpoint {
  const startTimeSeconds = (Date.now() - performance.now()) / 1000;
  return startMetricsEndpoint({
    ...address,
    page: () => {
      const sum = server.metricsSnapshot();
      if (group !== undefined) addSnapshot(sum, group.metricsSnapshot());
      if (redirect !== undefined) addSnapshot(sum, redirect.metricsSnapshot());
      let residentBytes: number | undefined;
      try {
        residentBytes = Deno.memoryUsage().rss;
      } catch {
        // not available here
      }
      return formatMetrics(sum, {
        version: VERSION,
        startTimeSeconds,
        residentBytes,
        workers,
        workerRestarts: group?.restarts() ?? 0,
        tls: server.secure,
      });
    },
  });
}

/**
 * Reads the site's `_redirects` and `_headers` once before serving: an
 * error in them stops pws with exit code 2 (a site served with half its
 * rules would mislead), warnings are printed. Returns the summary for
 * the banner, undefined without rules files, or the exit code. A root
 * that does not resolve is left for startServer to report.
 */
function checkSiteRules(
  root: string,
  hsts: boolean,
): string | number | undefined {
  let rootReal: string;
  try {
    rootReal = resolveRoot(root);
  } catch {
    return undefined;
  }
  const loaded = loadSiteRules(rootReal, { hsts });
  for (const error of loaded.errors) console.error(`pws: ${error}`);
  if (loaded.errors.length > 0) return 2;
  for (const warning of loaded.warnings) {
    console.error(`pws: warning: ${warning}`);
  }
  return loaded.rules?.summary;
}

/**
 * Renews the certificate from its files on SIGHUP and when they change:
 * new connections (of every worker) get the new pair, open ones go on. A
 * pair that does not load keeps the old one, with one line saying why.
 * Returns a function that stops watching.
 */
function renewOnChange(
  certPath: string,
  keyPath: string,
  server: RunningServer,
  group: WorkerGroup | undefined,
): () => void {
  let renewing = false;
  const renew = async (why: string) => {
    if (renewing) return;
    renewing = true;
    try {
      const result = await prepareTls({ kind: "files", certPath, keyPath });
      if (!result.ok) {
        console.error(
          `pws: kept the old certificate (${why}): ${result.error}`,
        );
        return;
      }
      server.reloadTls(result.value.pair);
      group?.reloadTls(result.value.pair);
      console.error(
        `pws: certificate renewed (${why}):` +
          result.value.banner[0].replace("  Certificate:", ""),
      );
    } catch (err) {
      console.error(
        `pws: kept the old certificate (${why}): ${
          err instanceof Error ? err.message.split("\n")[0] : String(err)
        }`,
      );
    } finally {
      renewing = false;
    }
  };
  const onHangup = () => void renew("SIGHUP");
  try {
    Deno.addSignalListener("SIGHUP", onHangup);
  } catch {
    // no SIGHUP here (Windows): the file watch still renews
  }
  const stop = watchCertificateFiles(
    certPath,
    keyPath,
    () => void renew("the files changed"),
  );
  return () => {
    stop();
    try {
      Deno.removeSignalListener("SIGHUP", onHangup);
    } catch {
      // never added
    }
  };
}

/**
 * Reopens the `--log-file` on SIGHUP (logrotate's `postrotate`), in this
 * thread's servers and every worker, and says so in one line on stderr
 * once all have: lines written after that line go to the new file. A file
 * that cannot be opened keeps the old one, with one line saying why.
 * (SIGHUP also renews the certificate: both listeners run.)
 */
function reopenLogOnHangup(
  path: string,
  servers: (RunningServer | undefined)[],
  group: WorkerGroup | undefined,
): () => void {
  const onHangup = async () => {
    const errors: string[] = [];
    for (const server of servers) {
      try {
        server?.reopenLog();
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    if (group !== undefined) errors.push(...await group.reopenLog());
    if (errors.length === 0) {
      console.error(`pws: reopened the log file ${path} (SIGHUP)`);
    } else {
      console.error(`pws: kept the old log file (SIGHUP): ${errors[0]}`);
    }
  };
  const listener = () => void onHangup();
  try {
    Deno.addSignalListener("SIGHUP", listener);
  } catch {
    return () => {}; // no SIGHUP here (Windows)
  }
  return () => {
    try {
      Deno.removeSignalListener("SIGHUP", listener);
    } catch {
      // already removed
    }
  };
}

/**
 * A repeat of a signal this soon is one Ctrl-C delivered twice: the
 * terminal signals the whole process group, and `deno task` forwards the
 * signal to pws as well. Nobody presses Ctrl-C twice within 100 ms.
 */
const DUPLICATE_SIGNAL_MS = 100;

/**
 * Serves until SIGINT or SIGTERM, then shuts down gracefully and returns
 * 0; a second signal (not a duplicate of the first) exits at once with 130.
 */
function untilSignalled(
  server: Pick<RunningServer, "connectionCount" | "shutdown">,
  graceMs: number,
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let firstAt = 0;
    const onSignal = () => {
      const now = performance.now();
      if (stopping) {
        if (now - firstAt < DUPLICATE_SIGNAL_MS) return;
        console.error("pws: second signal, exiting now");
        Deno.exit(130);
      }
      stopping = true;
      firstAt = now;
      console.error(
        `pws: shutting down (${server.connectionCount()} open connections, ` +
          `up to ${graceMs / 1000} s; signal again to exit now)`,
      );
      server.shutdown(graceMs).then(() => resolve(0));
    };
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(signal, onSignal);
      } catch {
        // signals unsupported here (Windows lacks SIGTERM)
      }
    }
  });
}

if (import.meta.main) {
  // A bug in one connection must never take the server down.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    console.error("pws: unhandled rejection:", event.reason);
  });
  const code = await main(Deno.args);
  Deno.exit(code);
}
