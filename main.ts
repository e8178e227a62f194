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
  type RunningServer,
  type StartOptions,
  startServer,
  StartupError,
} from "./server/server.ts";
import { startWorkerGroup, type WorkerGroup } from "./server/workers.ts";
import { kernelPathsAvailable } from "./files/open.ts";
import { cleartextAuthWarning, loadAuthUsers } from "./auth/load.ts";

/** The addresses a person on this machine or network can click. */
function clickableUrls(hostname: string, port: number): string[] {
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  if (!wildcard) return [];
  const urls = [`  Local:   ${formatUrl("localhost", port)}`];
  try {
    for (const nic of Deno.networkInterfaces()) {
      if (nic.address === "127.0.0.1" || nic.address === "::1") continue;
      if (nic.family === "IPv6" && hostname === "0.0.0.0") continue;
      if (nic.family === "IPv6" && nic.address.startsWith("fe80")) continue;
      urls.push(`  Network: ${formatUrl(nic.address, port)}`);
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
  const { root, host, port, config, workers } = cli.options;
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
  const options: StartOptions = {
    root,
    hostname: host,
    port,
    config: { logColor: Deno.stdout.isTerminal(), ...config },
  };
  let server: RunningServer;
  let group: WorkerGroup | undefined;
  try {
    server = startServer({ ...options, reusePort: workers > 1 });
    if (workers > 1) {
      group = await startWorkerGroup(workers - 1, {
        ...options,
        port: server.port,
      });
    }
  } catch (err) {
    if (err instanceof StartupError) {
      console.error(`pws: ${err.message}`);
      return 1;
    }
    throw err;
  }
  // Listen for signals before announcing the URL: a script may signal as
  // soon as it has read it.
  const stopped = untilSignalled({
    connectionCount: () => server.connectionCount(),
    shutdown: (graceMs) =>
      Promise.all([server.shutdown(graceMs), group?.shutdown(graceMs)])
        .then(() => {}),
  }, server.shutdownGraceMs);
  // With JSON logs stdout carries JSON lines only: the banner goes to
  // stderr, where a person still sees it.
  const say = config.logFormat === "json" ? console.error : console.log;
  say(`pws ${VERSION} serving ${root} on ${server.url}`);
  for (const line of clickableUrls(server.hostname, server.port)) say(line);
  const cleartext = config.auth === undefined
    ? undefined
    : cleartextAuthWarning({ host: server.hostname, tls: false });
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
