/**
 * Listening on a Unix domain socket (`--unix PATH`), for a proxy on the
 * same machine (nginx, Caddy, Varnish): a file that is not a socket is
 * never replaced, a socket left by a dead pws is removed first, one a live
 * server answers on is refused, and the socket goes away at shutdown.
 *
 * @module
 */

import { StartupError } from "./listeners.ts";

/** A bound socket file, to remove when the server stops. */
export interface UnixSocket {
  listener: Deno.Listener;
  path: string;
  /** The inode bound, so that only this server's own file is removed. */
  ino: number | null;
}

/** What is at `path` now: nothing, a socket, or something else. */
function kindAt(path: string): "none" | "socket" | "other" {
  try {
    return Deno.lstatSync(path).isSocket ? "socket" : "other";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "none";
    throw err;
  }
}

/** True when a server accepts connections on the socket at `path`. */
async function answers(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Binds `path` (permissions `mode` when given, else the umask's). Throws
 * a StartupError that says what to do when it cannot.
 */
export async function listenUnix(
  path: string,
  mode?: number,
): Promise<UnixSocket> {
  const kind = kindAt(path);
  if (kind === "other") {
    throw new StartupError(
      `--unix ${path}: a file that is not a socket is there; refusing to ` +
        `replace it (remove it, or choose another path)`,
    );
  }
  if (kind === "socket") {
    if (await answers(path)) {
      throw new StartupError(
        `--unix ${path}: another server is listening on it; stop it or ` +
          `choose another path`,
      );
    }
    // Left by a server that died: nothing listens, so it can go.
    Deno.removeSync(path);
  }
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new StartupError(`cannot listen on --unix ${path}: ${why}`);
  }
  if (mode !== undefined) Deno.chmodSync(path, mode);
  return { listener, path, ino: Deno.lstatSync(path).ino };
}

/** Removes the socket file if it is still the one this server bound. */
export function removeUnixSocket(socket: UnixSocket): void {
  try {
    const info = Deno.lstatSync(socket.path);
    if (info.isSocket && info.ino === socket.ino) Deno.removeSync(socket.path);
  } catch {
    // already gone
  }
}

/** Parses `--unix-mode` (octal, e.g. `660` or `0660`); undefined if bad. */
export function parseUnixMode(text: string): number | undefined {
  if (text.length < 3 || text.length > 4) return undefined;
  let mode = 0;
  for (const ch of text) {
    if (ch < "0" || ch > "7") return undefined;
    mode = mode * 8 + (ch.charCodeAt(0) - 48);
  }
  return mode <= 0o777 ? mode : undefined;
}
