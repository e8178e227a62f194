/**
 * The HTTP/2 writer of replies (RFC 9113 §8.1, §8.2): a
 * {@linkcode ReplySink} over one stream. It turns a {@linkcode Reply} into
 * the response's fields in HTTP/2 form (`:status`, lowercase names, no
 * connection-specific fields, Date, Server, content-length when known)
 * and hands them with the content to the connection's output scheduler,
 * which frames, interleaves and flow-controls them.
 *
 * @module
 */

import { SERVER_NAME } from "../server/config.ts";
import { currentHttpDate } from "../http/response.ts";
import type { ResponseHeaders } from "../http/response.ts";
import { asciiLower } from "../http/scan.ts";
import {
  contentLength,
  type Reply,
  type ReplySink,
  type Reusable,
} from "../response/reply.ts";

/** Fields HTTP/2 forbids in a message (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** Lowercase forms of the names pws writes, computed once each. */
const lowerNames = new Map<string, string>();

function lowerName(name: string): string {
  let lower = lowerNames.get(name);
  if (lower === undefined) {
    lower = asciiLower(name);
    if (lowerNames.size < 256) lowerNames.set(name, lower);
  }
  return lower;
}

/**
 * A value as the bytes HTTP/1.1 would send (UTF-8), one character per
 * byte, which is what HPACK carries: both protocols then send the same.
 */
function wireValue(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      let out = "";
      for (const byte of new TextEncoder().encode(value)) {
        out += String.fromCharCode(byte);
      }
      return out;
    }
  }
  return value;
}

/** What the writer adds to every response besides the reply's fields. */
export interface WireOptions {
  /** `Strict-Transport-Security` max-age, on a TLS connection only. */
  hstsSeconds?: number;
}

/**
 * The response fields of `reply` in HTTP/2 form: `:status` first, then
 * date and server, the reply's fields lowercased (connection-specific
 * ones dropped), and content-length when the content has one.
 */
export function responseFields(
  reply: Reply,
  options: WireOptions,
): ResponseHeaders {
  const fields: ResponseHeaders = [
    [":status", String(reply.status)],
    ["date", currentHttpDate()],
    ["server", SERVER_NAME],
  ];
  if (options.hstsSeconds !== undefined) {
    fields.push([
      "strict-transport-security",
      `max-age=${options.hstsSeconds}`,
    ]);
  }
  for (const [name, value] of reply.fields) {
    const lower = lowerName(name);
    if (CONNECTION_SPECIFIC.has(lower)) continue;
    fields.push([lower, wireValue(value)]);
  }
  const length = contentLength(reply.content);
  if (length !== undefined) fields.push(["content-length", String(length)]);
  return fields;
}

/** What a sink needs of its stream's connection. */
export interface StreamOutput {
  /** Wire options of the connection (HSTS over TLS). */
  readonly wire: WireOptions;
  /**
   * Queues the response of the sink's stream; resolves when its last
   * frame is out, rejects with a `StreamClosed` when the stream ends
   * first.
   */
  respond(
    fields: ResponseHeaders,
    reply: Reply,
    headOnly: boolean,
  ): Promise<void>;
}

/** Writes the reply of one request on its HTTP/2 stream. */
export class Http2Sink implements ReplySink {
  /** HTTP/2 frames content of any length: streaming is always possible. */
  readonly canStream = true;

  constructor(
    readonly output: StreamOutput,
    readonly headOnly: boolean,
  ) {}

  send(reply: Reply): Promise<void> {
    return this.output.respond(
      responseFields(reply, this.output.wire),
      reply,
      this.headOnly,
    );
  }

  /**
   * HPACK already makes a repeated head small and its bytes depend on the
   * connection's table: there is no serialized copy to keep.
   */
  sendReusable(_reusable: Reusable, build: () => Reply): Promise<void> {
    return this.send(build());
  }
}
