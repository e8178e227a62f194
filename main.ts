/**
 * pws: the command line, the listening socket and the accept loop. Each
 * accepted connection runs in its own async task in `handler.ts`.
 *
 * Run: `deno run --allow-net --allow-read main.ts [options] [PORT]`.
 *
 * @module
 */

import { parseCommandLine, USAGE } from "./cli.ts";
import { defaultConfig, type ServerConfig, VERSION } from "./config.ts";
import { handleConnection } from "./handler.ts";

/** A running server, as returned by {@linkcode startServer}. */
export interface RunningServer {
  /** The address actually bound. */
  hostname: string;
  /** The port actually bound (useful after asking for port 0). */
  port: number;
  /** The URL to print, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  /** Stops accepting, closes every connection and resolves when done. */
  close(): Promise<void>;
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
  config?: Partial<Omit<ServerConfig, "rootReal">>;
}

/** A startup failure with a message meant for a person. */
export class StartupError extends Error {}

/** Formats `http://host:port/`, bracketing IPv6 addresses. */
export function formatUrl(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}/`;
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

/** Opens the listening socket, turning failures into clear messages. */
function listen(hostname: string, port: number): Deno.TcpListener {
  try {
    return Deno.listen({ hostname, port, transport: "tcp" });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StartupError(
        `port ${port} on ${hostname} is already in use: stop the other ` +
          `server or choose another port (0 picks a free one)`,
      );
    }
    if (err instanceof Deno.errors.NotCapable) {
      throw new StartupError(
        `no permission to listen: run deno with --allow-net`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new StartupError(
        `not permitted to bind port ${port} on ${hostname}: ports below ` +
          `1024 need privileges; choose a port from 1024 to 65535`,
      );
    }
    if (err instanceof Deno.errors.AddrNotAvailable) {
      throw new StartupError(
        `cannot bind address "${hostname}": it is not an address of this ` +
          `machine; use --host 0.0.0.0, 127.0.0.1 or ::1`,
      );
    }
    throw new StartupError(
      `cannot listen on ${hostname}:${port}: ${describe(err)}; check --host`,
    );
  }
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
  const listener = listen(options.hostname, options.port);
  const addr = listener.addr;
  const connections = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let closing = false;

  const acceptLoop = (async () => {
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) break;
        // EMFILE and friends: log, give the system a moment, go on.
        console.error(`pws: accept failed: ${describe(err)}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // the peer may already be gone
      }
      connections.add(conn);
      const task = handleConnection(conn, config).finally(() => {
        connections.delete(conn);
        tasks.delete(task);
      });
      tasks.add(task);
    }
  })();

  return {
    hostname: addr.hostname,
    port: addr.port,
    url: formatUrl(addr.hostname, addr.port),
    async close() {
      closing = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      await acceptLoop;
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await Promise.allSettled([...tasks]);
    },
  };
}

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
    console.error(`pws: ${cli.message}\nRun "pws --help" for usage.`);
    return 2;
  }
  const { root, host, port, cacheControl } = cli.options;
  let server: RunningServer;
  try {
    server = startServer({
      root,
      hostname: host,
      port,
      config: cacheControl === undefined ? {} : { cacheControl },
    });
  } catch (err) {
    if (err instanceof StartupError) {
      console.error(`pws: ${err.message}`);
      return 1;
    }
    throw err;
  }
  console.log(`pws ${VERSION} serving ${root} on ${server.url}`);
  for (const line of clickableUrls(server.hostname, server.port)) {
    console.log(line);
  }
  await new Promise(() => {}); // serve until the process is stopped
  return 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  Deno.exit(code);
}
