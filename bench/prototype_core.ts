/**
 * What the benchmark prototypes (bench/prototype.ts and bench/ceiling.ts
 * over TCP, bench/prototype_tls.ts over TLS) share: finding the end of a request
 * head, the path of its request line and a `Connection: close`, and the
 * loop that answers one connection. Nothing is validated: these are
 * ceilings of a design, not servers.
 *
 * @module
 */

/**
 * A 200 response for `body` ready to write: `[keep-alive, Connection:
 * close]`, with only Content-Type and Content-Length in the head.
 */
export function readyResponses(body: Uint8Array): [Uint8Array, Uint8Array] {
  const make = (extra: string) => {
    const head = new TextEncoder().encode(
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${extra}Content-Length: ${body.length}\r\n\r\n`,
    );
    const bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    bytes.set(body, head.length);
    return bytes;
  };
  return [make(""), make("Connection: close\r\n")];
}

/** Index just past the blank line ending a head in buf[from..to), or -1. */
export function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i + 4;
  }
  return -1;
}

/** The path (query left out) of the request line starting at `start`. */
export function pathOf(buf: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && buf[i] !== 32) i++;
  const from = ++i;
  while (i < end && buf[i] !== 32 && buf[i] !== 63) i++;
  return String.fromCharCode(...buf.subarray(from, i));
}

/**
 * True when a line of the head in buf[start..end) ends in "close", in any
 * case: wrk's `Connection: close`, found without parsing header names.
 */
export function hasClose(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 5; i < end; i++) {
    if (
      buf[i] === 13 && (buf[i - 1] | 32) === 101 && (buf[i - 2] | 32) === 115 &&
      (buf[i - 3] | 32) === 111 && (buf[i - 4] | 32) === 108 &&
      (buf[i - 5] | 32) === 99
    ) return true;
  }
  return false;
}

/**
 * True when a line of the head in buf[start..end) starts with `name`
 * followed by a colon, in any case (`name` given in lower case): enough
 * for the ceiling to tell wrk's `If-None-Match` and `Range` requests
 * apart without parsing fields.
 */
export function hasField(
  buf: Uint8Array,
  start: number,
  end: number,
  name: string,
): boolean {
  const n = name.length;
  for (let i = start; i + n + 2 < end; i++) {
    if (buf[i] !== 10 || buf[i + n + 1] !== 58) continue;
    let k = 0;
    while (k < n && (buf[i + 1 + k] | 32) === name.charCodeAt(k)) k++;
    if (k === n) return true;
  }
  return false;
}

/**
 * Answers the requests of one connection until the client closes it, a
 * request asks for `Connection: close` or `respond` returns `last` (the
 * 404, after which the connection closes). Heads larger than 16 KiB are
 * not supported (the connection stalls): wrk's are about 60 bytes.
 */
export async function serveRequests(
  conn: Deno.Conn,
  respond: (
    path: string,
    close: boolean,
    buf: Uint8Array,
    start: number,
    end: number,
  ) => Uint8Array,
  last: Uint8Array,
): Promise<void> {
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
        const bytes = respond(pathOf(buf, start, end), close, buf, start, end);
        if (bytes === last) close = true;
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
