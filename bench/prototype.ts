/**
 * The "minimal raw-TCP Deno prototype" of issue 7's table, rebuilt to
 * measure beside nginx and pws: for every request it finds the end of the
 * head, takes the path from the request line, `stat`s the file and writes
 * a response kept in memory while size and mtime are unchanged. It parses
 * nothing else, validates nothing and sends no Date, validators or
 * errors beyond a bare 404: not a server, only the ceiling of the design.
 *
 *     deno run --allow-net --allow-read bench/prototype.ts ROOT
 *
 * prints `listening on http://127.0.0.1:PORT/`.
 *
 * @module
 */

import { readyResponses, serveRequests } from "./prototype_core.ts";

const root = Deno.args[0] ?? ".";
const NOT_FOUND = new TextEncoder().encode(
  "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

interface Ready {
  size: number;
  mtimeMs: number;
  /** The response, and the same with `Connection: close`. */
  bytes: [Uint8Array, Uint8Array];
}
const ready = new Map<string, Ready>();

function responseFor(path: string, close: boolean): Uint8Array {
  if (path.includes("..")) return NOT_FOUND;
  const file = root + path;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(file);
  } catch {
    return NOT_FOUND;
  }
  const mtimeMs = info.mtime?.getTime() ?? 0;
  const known = ready.get(path);
  if (known && known.size === info.size && known.mtimeMs === mtimeMs) {
    return known.bytes[close ? 1 : 0];
  }
  if (!info.isFile || info.size > 1024 * 1024) return NOT_FOUND;
  const body = Deno.readFileSync(file);
  const bytes = readyResponses(body);
  ready.set(path, { size: info.size, mtimeMs, bytes });
  return bytes[close ? 1 : 0];
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on http://127.0.0.1:${listener.addr.port}/`);
for await (const conn of listener) serveRequests(conn, responseFor, NOT_FOUND);
