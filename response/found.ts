/**
 * Sends what a lookup (files/lookup.ts) found: the file, the directory's
 * listing, or the error. Shared by the request path and the rewrites of
 * `_redirects`, which differ only in how a redirect is answered and in
 * whether the answer may be replayed.
 *
 * @module
 */

import { directoryUrlPath } from "../files/target.ts";
import type { LookupResult } from "../files/lookup.ts";
import type { RequestHead } from "../http/request.ts";
import { serveFile } from "./file.ts";
import { listingReply } from "./listing.ts";
import type { Reply, ReplySink, ResponderContext } from "./reply.ts";
import { errorReply } from "./respond.ts";

/** How {@linkcode sendFound} answers the cases its callers differ on. */
export interface FoundOptions {
  /** May the file's answer be replayed for the same head (replay.ts)? */
  replayable: boolean;
  /** The reply to a lookup that redirects (to its slash form, a clean URL). */
  redirect(location: string): Reply;
}

/** Sends the answer to `found`, looked up for the path `segments`. */
export async function sendFound(
  ctx: ResponderContext,
  head: RequestHead,
  sink: ReplySink,
  found: LookupResult,
  segments: readonly string[],
  options: FoundOptions,
): Promise<void> {
  switch (found.kind) {
    case "redirect":
      return sink.send(options.redirect(found.location));
    case "directory":
      return sink.send(
        await listingReply(ctx, head, found.path, directoryUrlPath(segments)),
      );
    case "error":
      if (found.status === 500) {
        console.error("pws: lookup failed:", found.cause);
      }
      return sink.send(errorReply(ctx, found.status));
    case "file":
      return serveFile(ctx, head, sink, found.path, found.info, {
        cached: found.entry,
        replayable: options.replayable,
      });
  }
}
