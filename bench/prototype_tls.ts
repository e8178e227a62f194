/**
 * The bare TLS prototype: what Deno's TLS stack (rustls inside the
 * runtime) allows at best, measured beside nginx and pws in the HTTPS
 * scenarios. A `Deno.listenTls` listener that, for every request, finds
 * the end of the head and the path and writes a response made at start-up
 * from the files of ROOT (up to 1 MiB each): no `stat`, no parsing, no
 * validation, no Date or validators. Not a server: the ceiling of any
 * Deno server that terminates TLS itself.
 *
 *     deno run --allow-net --allow-read bench/prototype_tls.ts ROOT CERT KEY
 *
 * prints `listening on https://127.0.0.1:PORT/`.
 *
 * @module
 */

import { readyResponses, serveRequests } from "./prototype_core.ts";

const [root, certFile, keyFile] = Deno.args;
if (!root || !certFile || !keyFile) {
  console.error("usage: prototype_tls.ts ROOT CERT KEY");
  Deno.exit(2);
}

const NOT_FOUND = new TextEncoder().encode(
  "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);

/** "/name" → [keep-alive response, `Connection: close` response]. */
const ready = new Map<string, [Uint8Array, Uint8Array]>();
for (const entry of Deno.readDirSync(root)) {
  if (!entry.isFile) continue;
  const file = `${root}/${entry.name}`;
  if (Deno.statSync(file).size > 1024 * 1024) continue;
  ready.set(`/${entry.name}`, readyResponses(Deno.readFileSync(file)));
}

function responseFor(path: string, close: boolean): Uint8Array {
  return ready.get(path)?.[close ? 1 : 0] ?? NOT_FOUND;
}

// The ALPN list pws offers, so that the handshakes are the same.
const listener = Deno.listenTls({
  hostname: "127.0.0.1",
  port: 0,
  cert: Deno.readTextFileSync(certFile),
  key: Deno.readTextFileSync(keyFile),
  alpnProtocols: ["http/1.1"],
});
console.log(`listening on https://127.0.0.1:${listener.addr.port}/`);
for await (const conn of listener) serveRequests(conn, responseFor, NOT_FOUND);
