/**
 * What a site's rules cost a request: `deno bench --allow-all
 * bench/rules_bench.ts`. The request path asks `redirectFor` and
 * `fieldsFor` of the compiled rules (handler.ts `respond`); a site
 * without rules files asks only whether there are rules.
 *
 * The 1,000 rules mix the shapes sites generate: moved pages (literal
 * paths), blog posts by slug (a placeholder), versioned docs (a splat)
 * and language prefixes (a placeholder first, which every path must
 * also try), plus 100 header blocks.
 *
 * @module
 */

import { type ResolvedTarget, resolveTarget } from "../files/target.ts";
import { MANAGED_FIELDS } from "../response/reply.ts";
import { parseHeaders } from "../rules/headers.ts";
import { parseRedirects } from "../rules/redirects.ts";
import { SiteRules } from "../rules/site_rules.ts";
import { isRulesFile } from "../rules/names.ts";

/** The text of a `_redirects` with 1,000 rules. */
function thousandRules(): string {
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) lines.push(`/old/page-${i} /pages/${i} 301`);
  for (let i = 0; i < 300; i++) lines.push(`/blog/${i}/:slug /posts/:slug 301`);
  for (let i = 0; i < 200; i++) lines.push(`/docs/v${i}/* /docs/:splat 302`);
  for (let i = 0; i < 100; i++) lines.push(`/:lang/promo-${i} /promo 302`);
  return lines.join("\n");
}

/** The text of a `_headers` with 100 blocks. */
function hundredBlocks(): string {
  const lines: string[] = [];
  for (let i = 0; i < 100; i++) {
    lines.push(`/section-${i}/*`, `  X-Section: ${i}`);
  }
  return lines.join("\n");
}

const redirects = parseRedirects(thousandRules());
const headers = parseHeaders(hundredBlocks(), MANAGED_FIELDS);
if (redirects.items.length !== 1000 || redirects.errors.length > 0) {
  throw new Error("the bench rules did not parse as 1,000 rules");
}
const rules = new SiteRules(redirects.items, headers.items);

function path(target: string): ResolvedTarget {
  const resolved = resolveTarget(target);
  if (resolved.kind !== "path") throw new Error(target);
  return resolved;
}

const miss = path("/assets/js/app.3f2a9c.js");
const hitLast = path("/fr/promo-99");
const noRules: { current: SiteRules | undefined } = { current: undefined };

Deno.bench("no rules files: the request path's check", {
  group: "miss",
}, () => {
  // All a site without _redirects and _headers pays per request.
  if (isRulesFile(miss.segments)) throw new Error("unexpected");
  const current = noRules.current;
  if (current !== undefined) current.redirectFor(miss, false);
});

Deno.bench("1,000 rules, 100 header blocks: a miss", {
  group: "miss",
  baseline: true,
}, () => {
  if (isRulesFile(miss.segments)) throw new Error("unexpected");
  if (rules.fieldsFor(miss) !== undefined) throw new Error("a block matched");
  if (rules.redirectFor(miss, () => false) !== undefined) {
    throw new Error("a rule matched");
  }
});

Deno.bench("1,000 rules: a hit on the last rule", { group: "hit" }, () => {
  if (rules.redirectFor(hitLast, () => false) === undefined) {
    throw new Error("no rule matched");
  }
});

Deno.bench("parse and compile 1,000 rules", { group: "load" }, () => {
  const parsed = parseRedirects(thousandRules());
  new SiteRules(parsed.items, headers.items);
});
