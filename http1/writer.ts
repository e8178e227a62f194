/**
 * The HTTP/1.1 writer of replies (RFC 9112 §4, §6): a {@linkcode ReplySink}
 * over one connection. It adds what belongs to the wire (Date, Server,
 * Connection, Content-Length or chunked framing), writes HEAD answers
 * without content, streams files through the connection's reused buffer
 * with positional reads, and keeps the complete bytes of reusable replies
 * for the rest of the second: the one-write, zero-formatting fast path.
 *
 * @module
 */

import { SERVER_NAME } from "../server/config.ts";
import {
  type Connection,
  ConnectionClosed,
  type Exchange,
} from "./connection.ts";
import { currentHttpDate, currentHttpSecond } from "../http/response.ts";
import type { ResponseHeaders } from "../http/response.ts";
import { readAt, readFullyAt } from "../files/open.ts";
import type { ReadyResponse } from "../files/cache.ts";
import { TruncatedContent } from "../response/stream.ts";
import {
  type Content,
  contentLength,
  type Reply,
  type ReplySink,
  type Reusable,
} from "../response/reply.ts";

/** Bodies up to this size are written together with their head. */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * Bodies up to this size are copied behind the head of a kept reply (one
 * write, no copy per request); larger ones are kept by reference and
 * copied into the connection's buffer when sent, so a cached file's bytes
 * are never held twice per kind of connection.
 */
export const INLINE_BODY_BYTES = 4 * 1024;

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/**
 * Which kind of connection a reusable reply was serialized for: its
 * Connection field and whether it carries content differ.
 */
function connectionKind(ex: Exchange): number {
  return (ex.keepAlive ? 2 : 0) + (ex.head.versionMinor === 0 ? 1 : 0) +
    (ex.headOnly ? 4 : 0);
}

/** Kinds of connection per reusable slot (see {@linkcode connectionKind}). */
const KINDS = 8;

let keepAliveFor = -1;
let keepAliveText = "";

/**
 * `timeout=N` for an idle timeout of `ms`: whole seconds rounded down (at
 * least 1), so that a client's idea of the deadline is never later than
 * pws's.
 */
export function keepAliveValue(ms: number): string {
  if (ms !== keepAliveFor) {
    keepAliveFor = ms;
    keepAliveText = `timeout=${Math.max(1, Math.floor(ms / 1000))}`;
  }
  return keepAliveText;
}

/** The fields every HTTP/1.1 response starts with. */
function wireFields(c: Connection, ex: Exchange | undefined): ResponseHeaders {
  const fields: ResponseHeaders = [
    ["Date", currentHttpDate()],
    ["Server", SERVER_NAME],
  ];
  if (ex === undefined || !ex.keepAlive) fields.push(["Connection", "close"]);
  else {
    if (ex.head.versionMinor === 0) fields.push(["Connection", "keep-alive"]);
    // Tells clients (undici, Python's pools) when pws will close an idle
    // connection, so that they do not send on one being closed.
    fields.push(["Keep-Alive", keepAliveValue(c.config.idleTimeoutMs)]);
  }
  // HSTS means something only over HTTPS (RFC 6797 §7.2).
  const hsts = c.config.hstsSeconds;
  if (c.secure && hsts !== undefined) {
    fields.push(["Strict-Transport-Security", `max-age=${hsts}`]);
  }
  return fields;
}

/** Serializes a reply's head for `ex` (undefined: a request not parsed). */
export function encodeReplyHead(
  c: Connection,
  ex: Exchange | undefined,
  reply: Reply,
): Uint8Array {
  const fields = wireFields(c, ex);
  for (const field of reply.fields) fields.push(field);
  const length = contentLength(reply.content);
  if (length !== undefined) fields.push(["Content-Length", String(length)]);
  else if (reply.content.kind === "stream") {
    fields.push(["Transfer-Encoding", "chunked"]);
  }
  return c.encodeHead(reply.status, fields);
}

/** Writes replies for one exchange on an HTTP/1.1 connection. */
export class Http1Sink implements ReplySink {
  constructor(readonly c: Connection, readonly ex: Exchange | undefined) {}

  /** HTTP/1.0 has no chunked coding: its content must have a length. */
  get canStream(): boolean {
    return this.ex === undefined || this.ex.head.versionMinor >= 1;
  }

  async send(reply: Reply): Promise<void> {
    const head = encodeReplyHead(this.c, this.ex, reply);
    if (this.ex?.headOnly || reply.content.kind === "none") {
      return this.c.write(head);
    }
    await writeContent(this.c, head, reply.content);
  }

  sendReusable(reusable: Reusable, build: () => Reply): Promise<void> {
    const c = this.c;
    const ex = this.ex!;
    const index = reusable.slot * KINDS + connectionKind(ex);
    const second = currentHttpSecond();
    const ready = reusable.entry.ready?.[index];
    if (reusable.replayPath !== undefined) {
      ex.ready = { path: reusable.replayPath, index };
    }
    if (ready !== undefined && ready.second === second) {
      return writeReady(c, ready);
    }
    const reply = build();
    const head = encodeReplyHead(c, ex, reply);
    const content = reply.content;
    let kept: ReadyResponse | undefined;
    if (ex.headOnly || content.kind === "none") {
      kept = {
        second,
        status: reply.status,
        bytes: head,
        headBytes: head.length,
      };
    } else if (content.kind === "bytes") {
      const body = content.bytes;
      kept = body.length <= INLINE_BODY_BYTES
        ? {
          second,
          status: reply.status,
          bytes: concat(head, body),
          headBytes: head.length,
        }
        : body.length <= SMALL_BODY_BYTES
        ? {
          second,
          status: reply.status,
          bytes: head,
          body,
          headBytes: head.length,
        }
        : undefined;
    }
    if (kept === undefined) {
      // Too large to keep: not reused, nor replayed.
      ex.ready = undefined;
      return writeContent(c, head, content);
    }
    c.ctx.fileCache.setReady(reusable.entry, index, kept);
    return writeReady(c, kept);
  }
}

/** Writes a kept reply (head, and its body when kept apart). */
export function writeReady(c: Connection, ready: ReadyResponse): Promise<void> {
  c.status = ready.status;
  c.headBytes = ready.headBytes;
  return ready.body === undefined
    ? c.write(ready.bytes)
    : writeBytes(c, ready.bytes, ready.body);
}

/** Writes `head` and then the content, in as few writes as fit. */
async function writeContent(
  c: Connection,
  head: Uint8Array,
  content: Content,
): Promise<void> {
  switch (content.kind) {
    case "none":
      return c.write(head);
    case "bytes":
      return writeBytes(c, head, content.bytes);
    case "file":
      return streamFile(c, content.fd, content.start, content.length, head);
    case "parts": {
      await c.write(head);
      for (const part of content.parts) {
        if (typeof content.source === "number") {
          await streamFile(
            c,
            content.source,
            part.start,
            part.length,
            part.head,
          );
        } else {
          await writeBytes(
            c,
            part.head,
            content.source.subarray(part.start, part.start + part.length),
          );
        }
      }
      return c.write(content.tail);
    }
    case "stream":
      return writeChunked(c, head, content.open());
  }
}

/** Writes head and body together when they fit a stream buffer. */
function writeBytes(
  c: Connection,
  head: Uint8Array,
  body: Uint8Array,
): Promise<void> {
  if (body.length === 0) return c.write(head);
  if (head.length + body.length > SMALL_BODY_BYTES) {
    return c.write(head).then(() => c.write(body));
  }
  const buf = c.streamBufferFor(head.length + body.length);
  buf.set(head);
  buf.set(body, head.length);
  return c.write(buf.subarray(0, head.length + body.length));
}

/**
 * Copies `length` bytes of the file from `start` to the connection through
 * the connection's reused buffer, after `head`, which goes out with the
 * first chunk (one write fewer per response). If the file ends early the
 * connection is closed: sending fewer bytes than Content-Length promised
 * is the only honest signal left.
 */
async function streamFile(
  c: Connection,
  fd: number,
  start: number,
  length: number,
  head: Uint8Array,
): Promise<void> {
  const buf = c.streamBufferFor(head.length + length);
  // A head too large to share the first chunk goes out alone.
  let prefix = head.length <= buf.length / 4 ? head.length : 0;
  if (prefix === 0 && head.length > 0) await c.write(head);
  buf.set(head.subarray(0, prefix));
  if (prefix + length <= buf.length) {
    // One chunk (a typical range request): read it synchronously, as the
    // page cache usually answers at once; large streams stay asynchronous.
    const n = readFullyAt(fd, buf.subarray(prefix, prefix + length), start);
    if (n < length) {
      if (prefix + n > 0) await c.write(buf.subarray(0, prefix + n));
      throw new ConnectionClosed();
    }
    return c.write(buf.subarray(0, prefix + length));
  }
  let position = start;
  let remaining = length;
  while (remaining > 0) {
    const want = Math.min(buf.length - prefix, remaining);
    const n = await readAt(fd, buf.subarray(prefix, prefix + want), position);
    if (n === 0) {
      if (prefix > 0) await c.write(buf.subarray(0, prefix));
      throw new ConnectionClosed();
    }
    await c.write(buf.subarray(0, prefix + n));
    position += n;
    remaining -= n;
    prefix = 0;
  }
}

/** Writes a stream of unknown length as chunked transfer coding. */
async function writeChunked(
  c: Connection,
  head: Uint8Array,
  chunks: AsyncIterable<Uint8Array>,
): Promise<void> {
  await c.write(head);
  try {
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      await c.write(encoder.encode(chunk.length.toString(16) + "\r\n"));
      await c.write(chunk);
      await c.write(CRLF);
    }
  } catch (err) {
    // Without the last chunk the client sees the body as incomplete,
    // which is all that can be said once the head is out.
    if (err instanceof TruncatedContent) throw new ConnectionClosed();
    throw err;
  }
  await c.write(LAST_CHUNK);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
