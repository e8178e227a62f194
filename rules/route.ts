/**
 * The site rules' step in the request path (handler.ts `respond`): answer
 * what a `_redirects` rule decided, through the same resolver, lookup and
 * verified opening as any request. A rewrite is looked up once and never
 * matched against the rules again: no chains, no loops.
 *
 * @module
 */

import { sendFound } from "../response/found.ts";
import type { RequestHead } from "../http/request.ts";
import type { ResolvedTarget } from "../files/target.ts";
import { lookupFile, type LookupResult } from "../files/lookup.ts";
import type { FileCache } from "../files/cache.ts";
import { errorReply, pageReply, redirectReply } from "../response/respond.ts";
import type { ReplySink, ResponderContext } from "../response/reply.ts";
import type { RuleDecision } from "./site_rules.ts";
import { isRulesFile } from "./names.ts";

export { isRulesFile };

/** Answers a request as the `_redirects` rule `decision` says. */
export function answerRule(
  ctx: ResponderContext,
  head: RequestHead,
  sink: ReplySink,
  decision: RuleDecision,
): Promise<void> {
  if (decision.kind === "redirect") {
    return sink.send(redirectReply(ctx, decision.location, decision.status));
  }
  const { status, target } = decision;
  const missing = status === 200 ? 404 : status;
  if (target === undefined || isRulesFile(target.segments)) {
    return sink.send(errorReply(ctx, missing));
  }
  const found = lookupRewrite(ctx, target);
  if (status !== 200) {
    // An error status with a page of the site: its bytes, never its
    // validators or ranges, which belong to that page's own URL.
    const page = found.kind === "file"
      ? pageReply(ctx, status, found.path)
      : undefined;
    return sink.send(page ?? errorReply(ctx, status));
  }
  return sendFound(ctx, head, sink, found, target.segments, {
    // The answer rests on the rules too, which replay does not see.
    replayable: false,
    // A rewrite names a page; its slash or clean form is another URL.
    redirect: () => errorReply(ctx, 404),
  });
}

/**
 * Looks a rewrite's target up like a request, except that it never
 * answers with a redirect (the client asked for another URL): a
 * directory serves its index, and with `--clean-urls` an `.html` target
 * is served as it is instead of redirected to its clean form.
 */
function lookupRewrite(
  ctx: ResponderContext,
  target: ResolvedTarget,
): LookupResult {
  const { rootReal, lookup } = ctx.config;
  const cache: FileCache = ctx.fileCache;
  const found = lookupFile(rootReal, target, lookup, cache, ctx.stats);
  if (found.kind !== "redirect") return found;
  const last = target.segments.at(-1) ?? "";
  const again = lookup.cleanUrls && last.endsWith(".html")
    ? lookupFile(
      rootReal,
      target,
      { ...lookup, cleanUrls: false },
      cache,
      ctx.stats,
    )
    : lookupFile(
      rootReal,
      { ...target, trailingSlash: true },
      lookup,
      cache,
      ctx.stats,
    );
  return again;
}

/**
 * True when something is served at the requested path (`found` is its
 * lookup), so that a rule that is not forced yields to it: a file, a
 * listing, a clean URL's file, or a directory whose slash form serves an
 * index or a listing. A directory that would answer 404 does not count,
 * as on Netlify.
 */
export function fileExists(
  ctx: ResponderContext,
  target: ResolvedTarget,
  found: LookupResult,
): boolean {
  if (found.kind !== "redirect") return found.kind !== "error";
  const { rootReal, lookup } = ctx.config;
  const last = target.segments.at(-1) ?? "";
  // --clean-urls redirects /about.html only when that file is there.
  if (lookup.cleanUrls && last.endsWith(".html")) return true;
  const slashed = lookupFile(
    rootReal,
    { ...target, trailingSlash: true },
    lookup,
    ctx.fileCache,
    ctx.stats,
  );
  return slashed.kind === "file" || slashed.kind === "directory";
}
