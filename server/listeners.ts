/**
 * Listening sockets: TCP or TLS (`Deno.listenTls`), opened with errors a
 * person can act on, and an accept loop whose listener can be replaced
 * while it runs, so that a renewed certificate reaches new connections
 * while the ones already accepted go on.
 *
 * @module
 */

/** A certificate chain and its private key, in PEM. */
export interface TlsPair {
  cert: string;
  key: string;
}

/** What to listen on. */
export interface ListenSpec {
  hostname: string;
  port: number;
  /** Share the port with other listeners (SO_REUSEPORT, for --workers). */
  reusePort: boolean;
  /** Listen with TLS. */
  tls?: TlsPair;
  /** ALPN protocols offered on TLS listeners, in order of preference. */
  alpnProtocols?: string[];
}

/** A startup failure with a message meant for a person. */
export class StartupError extends Error {}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/** Turns a failure to bind into a line that says what to do. */
function bindError(err: unknown, hostname: string, port: number): Error {
  if (err instanceof Deno.errors.AddrInUse) {
    return new StartupError(
      `port ${port} on ${hostname} is already in use: stop the other ` +
        `server or choose another port (0 picks a free one)`,
    );
  }
  if (err instanceof Deno.errors.NotCapable) {
    return new StartupError(
      `no permission to listen: run deno with --allow-net`,
    );
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return new StartupError(
      `not permitted to bind port ${port} on ${hostname}: ports below ` +
        `1024 need privileges; choose a port from 1024 to 65535`,
    );
  }
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return new StartupError(
      `cannot bind address "${hostname}": it is not an address of this ` +
        `machine; use --host 0.0.0.0, 127.0.0.1 or ::1`,
    );
  }
  return new StartupError(
    `cannot listen on ${hostname}:${port}: ${describe(err)}; check --host`,
  );
}

/**
 * Opens the listening socket. A TLS listener always sets SO_REUSEPORT, so
 * that a listener with a renewed certificate can bind beside it before it
 * closes; a probe without that flag first makes sure that no other server
 * holds the port (with it, two servers would silently share the port).
 */
export function openListener(spec: ListenSpec): Deno.Listener {
  const { hostname, tls } = spec;
  let port = spec.port;
  try {
    if (tls === undefined) {
      return spec.reusePort
        ? Deno.listen({ hostname, port, transport: "tcp", reusePort: true })
        : Deno.listen({ hostname, port, transport: "tcp" });
    }
    if (!spec.reusePort) {
      const probe = Deno.listen({ hostname, port, transport: "tcp" });
      port = probe.addr.port;
      probe.close();
    }
    return Deno.listenTls({
      hostname,
      port,
      transport: "tcp",
      reusePort: true,
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: spec.alpnProtocols ?? ["http/1.1"],
    });
  } catch (err) {
    if (tls !== undefined && err instanceof Deno.errors.InvalidData) {
      throw new StartupError(
        `the TLS certificate or key was refused: ${describe(err)}`,
      );
    }
    throw bindError(err, hostname, port);
  }
}

/**
 * Accepts connections until stopped, handing each to `onConnection`. Its
 * listener can be replaced (a TLS listener with a renewed certificate on
 * the same port): the new one accepts first, then the old one closes.
 */
export class AcceptLoop {
  #listener: Deno.Listener;
  #loops = new Set<Promise<void>>();
  #stopped = false;

  constructor(
    listener: Deno.Listener,
    readonly onConnection: (conn: Deno.Conn) => void,
  ) {
    this.#listener = listener;
    this.#run(listener);
  }

  /** The listener accepting now. */
  get listener(): Deno.Listener {
    return this.#listener;
  }

  /** Accepts on `next` from now on and closes the old listener. */
  replace(next: Deno.Listener): void {
    const old = this.#listener;
    this.#listener = next;
    this.#run(next);
    closeQuietly(old);
  }

  /** Stops accepting; resolves once every loop has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    closeQuietly(this.#listener);
    await Promise.allSettled([...this.#loops]);
  }

  #run(listener: Deno.Listener): void {
    const loop = this.#accept(listener).finally(() => {
      this.#loops.delete(loop);
    });
    this.#loops.add(loop);
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    let lastError = 0;
    while (!this.#stopped && listener === this.#listener) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (
          this.#stopped || listener !== this.#listener ||
          err instanceof Deno.errors.BadResource
        ) {
          break;
        }
        // EMFILE and friends: say so (once a second at most), give the
        // system a moment, go on serving the connections already open.
        const now = Date.now();
        if (now - lastError > 1000) {
          console.error(`pws: accept failed: ${describe(err)}`);
          lastError = now;
        }
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.onConnection(conn);
    }
  }
}

function closeQuietly(listener: Deno.Listener): void {
  try {
    listener.close();
  } catch {
    // already closed
  }
}
