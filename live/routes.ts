/**
 * The reserved paths of live reload (`--live` only; they are never files):
 * `/__pws/live.js`, the client script, and `/__pws/events`, the event
 * stream of one tab. Anything else under `/__pws/` is 404.
 *
 * @module
 */

import { evaluatePreconditions } from "../http/conditional.ts";
import type { RequestHead } from "../http/request.ts";
import { conditionalHeaders } from "../response/file.ts";
import {
  baseFields,
  type Reply,
  type ResponderContext,
} from "../response/reply.ts";
import { errorReply } from "../response/respond.ts";
import { LIVE_CLIENT_SOURCE } from "./client.ts";
import type { LiveHub } from "./hub.ts";
import { LIVE_EVENTS_PATH, LIVE_SCRIPT_PATH } from "./inject.ts";

const SCRIPT_BYTES = new TextEncoder().encode(LIVE_CLIENT_SOURCE);

/** FNV-1a of the script, as its strong tag (it changes only with pws). */
function scriptTag(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `"live-${hash.toString(16)}-${bytes.length.toString(16)}"`;
}

const SCRIPT_ETAG = scriptTag(SCRIPT_BYTES);

/** An event stream that ends at once (the hub closed meanwhile). */
async function* noMessages(): AsyncGenerator<Uint8Array> {}

/** True for a request under the reserved `/__pws/` (with `--live`). */
export function isLivePath(segments: readonly string[]): boolean {
  return segments[0] === "__pws";
}

/**
 * The reply to a request under `/__pws/`. `canStream` says whether the
 * protocol can carry an endless body (HTTP/1.1 chunked, HTTP/2).
 */
export function liveReply(
  ctx: ResponderContext,
  live: LiveHub,
  head: RequestHead,
  path: string,
  canStream: boolean,
): Reply {
  if (path === LIVE_SCRIPT_PATH) {
    const fields = baseFields(ctx.config);
    fields.push(
      ["Content-Type", "text/javascript; charset=utf-8"],
      ["ETag", SCRIPT_ETAG],
      ["Cache-Control", "no-cache"],
    );
    const outcome = evaluatePreconditions(
      head.method,
      conditionalHeaders(head),
      { etag: SCRIPT_ETAG },
    );
    if (outcome === "not-modified") {
      return { status: 304, fields, content: { kind: "none" } };
    }
    if (outcome === "precondition-failed") return errorReply(ctx, 412);
    return {
      status: 200,
      fields,
      content: { kind: "bytes", bytes: SCRIPT_BYTES },
    };
  }
  if (path !== LIVE_EVENTS_PATH) return errorReply(ctx, 404);
  // An HTTP/1.0 client cannot receive a body of unknown length and stay.
  if (!canStream) return errorReply(ctx, 505);
  if (!live.accepting) return errorReply(ctx, 503, [["Retry-After", "1"]]);
  const fields = baseFields(ctx.config);
  fields.push(
    ["Content-Type", "text/event-stream"],
    ["Cache-Control", "no-store"],
  );
  return {
    status: 200,
    fields,
    content: {
      kind: "stream",
      // Opened only when the body is sent (never for HEAD).
      open: () => live.open() ?? noMessages(),
    },
  };
}
