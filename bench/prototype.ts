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

const root = Deno.args[0] ?? ".";
const encoder = new TextEncoder();
const NOT_FOUND = encoder.encode(
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
  const make = (extra: string) => {
    const head = encoder.encode(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${extra}Content-Length: ${body.length}\r\n\r\n`,
    );
    const bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    bytes.set(body, head.length);
    return bytes;
  };
  const bytes: Ready["bytes"] = [make(""), make("Connection: close\r\n")];
  ready.set(path, { size: info.size, mtimeMs, bytes });
  return bytes[close ? 1 : 0];
}

/** Index just past the blank line ending a head in buf[from..to), or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i + 4;
  }
  return -1;
}

/** The path of the request line starting at `start`. */
function pathOf(buf: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && buf[i] !== 32) i++;
  const from = ++i;
  while (i < end && buf[i] !== 32 && buf[i] !== 63) i++;
  return String.fromCharCode(...buf.subarray(from, i));
}

/** True when the head holds "close" at the end of a line (Connection). */
function hasClose(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 5; i < end; i++) {
    if (
      buf[i] === 13 && (buf[i - 1] | 32) === 101 && (buf[i - 2] | 32) === 115 &&
      (buf[i - 3] | 32) === 111 && (buf[i - 4] | 32) === 108 &&
      (buf[i - 5] | 32) === 99
    ) return true;
  }
  return false;
}

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  let have = 0;
  try {
    while (true) {
      const n = await conn.read(buf.subarray(have));
      if (n === null) break;
      have += n;
      let start = 0;
      let close = false;
      while (!close) {
        const end = headEnd(buf, start, have);
        if (end < 0) break;
        close = hasClose(buf, start, end);
        const bytes = responseFor(pathOf(buf, start, end), close);
        if (bytes === NOT_FOUND) close = true;
        let off = 0;
        while (off < bytes.length) off += await conn.write(bytes.subarray(off));
        start = end;
      }
      if (close) break;
      buf.copyWithin(0, start, have);
      have -= start;
    }
  } catch {
    // the client went away
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on http://127.0.0.1:${listener.addr.port}/`);
for await (const conn of listener) serve(conn);
