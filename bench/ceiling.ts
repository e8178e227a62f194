/**
 * The bare Deno ceiling of a static server over plain TCP: responses made
 * at start-up and written as they are. For every request it finds the end
 * of the head, the path and whether the head has `Connection: close`,
 * `If-None-Match` or `Range`; it makes no syscall but the socket's read
 * and write: no `stat`, no open, no parsing or validation, no `Date`.
 * `If-None-Match` always gets a 304 and `Range` always gets the one range
 * the benchmark asks for (BENCH_RANGE). Not a server: what any Deno
 * server on raw TCP can reach at best on the machine at hand (issue 14).
 *
 *     deno run --allow-all bench/ceiling.ts ROOT
 *
 * prints `listening on http://127.0.0.1:PORT/`.
 *
 * @module
 */

import { BENCH_RANGE } from "./load.ts";
import { hasField, serveRequests } from "./prototype_core.ts";

const root = Deno.args[0];
if (!root) {
  console.error("usage: ceiling.ts ROOT");
  Deno.exit(2);
}

const encoder = new TextEncoder();
const NOT_FOUND = encoder.encode(
  "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
);
/** Every 200 carries it, so that the benchmark's 304 check finds an ETag. */
const ETAG = '"ceiling"';

/** A response ready to write: `[keep-alive, Connection: close]`. */
function ready(
  status: string,
  fields: string,
  body: Uint8Array,
): [Uint8Array, Uint8Array] {
  const make = (extra: string) => {
    const head = encoder.encode(
      `HTTP/1.1 ${status}\r\n${fields}${extra}Content-Length: ${body.length}\r\n\r\n`,
    );
    const bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    bytes.set(body, head.length);
    return bytes;
  };
  return [make(""), make("Connection: close\r\n")];
}

const TYPE = "Content-Type: application/octet-stream\r\n";
/** "/name" → its 200 and its 304, for files of up to 1 MiB. */
const full = new Map<string, [Uint8Array, Uint8Array]>();
const notModified = new Map<string, [Uint8Array, Uint8Array]>();
for (const entry of Deno.readDirSync(root)) {
  if (!entry.isFile) continue;
  const file = `${root}/${entry.name}`;
  if (Deno.statSync(file).size > 1024 * 1024) continue;
  const body = Deno.readFileSync(file);
  full.set(`/${entry.name}`, ready("200 OK", `${TYPE}ETag: ${ETAG}\r\n`, body));
  notModified.set(
    `/${entry.name}`,
    ready("304 Not Modified", `ETag: ${ETAG}\r\n`, new Uint8Array(0)),
  );
}

/** The 206 of the benchmark's range, read once from the big file. */
function partial(): [Uint8Array, Uint8Array] | undefined {
  const { file, first, last } = BENCH_RANGE;
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(`${root}/${file}`);
  } catch {
    return undefined;
  }
  try {
    const size = f.statSync().size;
    const body = new Uint8Array(last - first + 1);
    f.seekSync(first, Deno.SeekMode.Start);
    for (let off = 0; off < body.length;) {
      const n = f.readSync(body.subarray(off));
      if (n === null) return undefined;
      off += n;
    }
    return ready(
      "206 Partial Content",
      `${TYPE}ETag: ${ETAG}\r\nContent-Range: bytes ${first}-${last}/${size}\r\n`,
      body,
    );
  } finally {
    f.close();
  }
}
const ranged = partial();
const rangedPath = `/${BENCH_RANGE.file}`;

function responseFor(
  path: string,
  close: boolean,
  buf: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  const k = close ? 1 : 0;
  if (path === rangedPath && ranged && hasField(buf, start, end, "range")) {
    return ranged[k];
  }
  const pair = hasField(buf, start, end, "if-none-match")
    ? notModified.get(path)
    : full.get(path);
  return pair?.[k] ?? NOT_FOUND;
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on http://127.0.0.1:${listener.addr.port}/`);
for await (const conn of listener) serveRequests(conn, responseFor, NOT_FOUND);
