/**
 * Unit tests of the pure rules modules: every message the parsers give,
 * pattern matching, the trie against a plain scan of every rule, and the
 * decisions of {@linkcode SiteRules}.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { MANAGED_FIELDS } from "../response/reply.ts";
import { type ResolvedTarget, resolveTarget } from "../files/target.ts";
import { parseRedirects } from "./redirects.ts";
import { parseHeaders } from "./headers.ts";
import { matchPattern, parsePathPattern, type PathPattern } from "./pattern.ts";
import { firstOf, PatternTrie } from "./trie.ts";
import { parseQuery, SiteRules } from "./site_rules.ts";

/** A request target resolved as the request path resolves it. */
function path(target: string): ResolvedTarget {
  const resolved = resolveTarget(target);
  assert.equal(resolved.kind, "path", target);
  return resolved as ResolvedTarget;
}

/** Each malformed `_redirects` line and the message it gets. */
const REDIRECT_ERRORS: [string, string][] = [
  ["/a /b 30", 'unknown status "30"'],
  ["/a /b 999", 'unknown status "999"'],
  ["/a /b +301", 'unknown status "+301"'],
  ["/a", 'no target after "/a"'],
  ["/a /b 200 extra", 'unexpected "extra" after the status'],
  ["a /b", 'expected a path starting with "/", got "a"'],
  [
    "/a?x /b",
    '"/a?x": a path pattern has no "?" or "#" (write query conditions as ' +
    "key=:value after it)",
  ],
  ["/*/x /b", '"/*/x": "*" may only end a pattern'],
  [
    "/a* /b",
    '"/a*": "*" must be a whole segment at the end (like /assets/*)',
  ],
  [
    "/:1 /b",
    '"/:1": bad placeholder ":1" (use letters, digits and _, starting with ' +
    "a letter)",
  ],
  [
    "/:splat /b",
    '"/:splat": ":splat" names what "*" matches; choose another ' +
    "placeholder name",
  ],
  ["/:a/:a /b", '"/:a/:a": placeholder ":a" appears twice'],
  ["/%zz /b", '"/%zz": malformed percent-encoding in "%zz"'],
  ["/.. /b", '"/..": segment ".." can never match a request path'],
  ["/a =x /b", 'bad query condition "=x" (use key=:name or key=value)'],
  ["/a k=:1 /b", 'bad placeholder ":1" in "k=:1"'],
  ["/a k=%zz /b", 'malformed percent-encoding in "k=%zz"'],
  ["/a k=1 k=2 /b", 'query key "k" appears twice'],
  ["/:x x=:x /b", 'placeholder ":x" is captured twice'],
  ["/a b", 'expected a target path or URL, got "b"'],
  [
    "/a //evil.example",
    '"//evil.example": browsers read a target starting with "//" as ' +
    "another host; write the full https:// URL",
  ],
  [
    "/a https://x.example/ 200",
    'proxying to "https://x.example/" (200 with a URL) is not supported; ' +
    "use a 3xx status to redirect there",
  ],
  [
    "/a https://x.example/ 404",
    "status 404 needs a page of this site, not a URL",
  ],
  ["/a /b#top 200", "a fragment means nothing in a 200 target"],
  ["/a https:///x 301", '"https:///x": the URL has no host'],
  [
    "/a https://:h.example/ 301",
    '"https://:h.example/": a placeholder in the host would let requests ' +
    "choose where to redirect",
  ],
  [
    "/a https://x.example/é 301",
    '"https://x.example/é": a URL must be ASCII (percent-encode the rest)',
  ],
  ["/a /b\x01", "control character in the line"],
];

Deno.test("_redirects: every malformed line gets its message, with file and line", () => {
  for (const [line, message] of REDIRECT_ERRORS) {
    // Two good lines first, so that the line number is checked too.
    const text = "# moved pages\n/ok /fine\n" + line + "\n";
    const parsed = parseRedirects(text);
    assert.deepEqual(parsed.errors, [`_redirects:3: ${message}`], line);
    assert.equal(parsed.items.length, 1, line);
  }
});

Deno.test("_redirects: duplicates, unreachable rules and unsupported features are warnings", () => {
  const parsed = parseRedirects(
    [
      "/x /y",
      "/x /y",
      "/a /b 301!",
      "/a /c 302",
      "https://other.example/* /b",
      "/c /d 301 Country=us",
      "/e /:nope",
      "/f/* /g 200!",
      "/f/:p /h 200",
      "/g/:p /g/x 200",
      "/g/* /g/y 200!",
      "/* /z",
      "/q /r",
    ].join("\n"),
  );
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.warnings, [
    "_redirects:2: duplicate of line 1",
    '_redirects:4: never applies: line 3 ("/a") matches every request it ' +
    "matches, first",
    '_redirects:5: "https://other.example/*": rules for other hosts are not ' +
    "supported (pws matches paths only); rule ignored",
    '_redirects:6: "Country=us": only query conditions before the target ' +
    "are supported (not country, language, role or cookie ones); rule " +
    "ignored",
    '_redirects:7: ":nope" in "/:nope" is not captured by this rule; kept ' +
    "as written",
    '_redirects:9: never applies: line 8 ("/f/*") matches every request ' +
    "it matches, first",
    // Line 11: a forced rule after a non-forced one still applies where
    // files are.
    '_redirects:13: never applies: line 12 ("/*") matches every request it ' +
    "matches, first",
  ]);
  // Skipped lines are not rules; warned ones are.
  assert.equal(parsed.items.length, 11);
});

Deno.test("_redirects: statuses, forcing and the default", () => {
  const parsed = parseRedirects(
    "/a /b\n/c /d 302!\n/e /f 200\n/g /h 410\n/i https://x.example/:splat 308",
  );
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(
    parsed.items.map((r) => [r.status, r.forced]),
    [[301, false], [302, true], [200, false], [410, false], [308, false]],
  );
});

/** Each malformed `_headers` line and the message it gets. */
const HEADER_ERRORS: [string, string, string][] = [
  ["  X-A: 1", "_headers:1", "a header line before any path pattern"],
  [
    "/a\n  bad name: 1",
    "_headers:2",
    'bad field name "bad name" (letters, digits and - only, no space ' +
    "before the colon)",
  ],
  ["/a\n  X-Empty:", "_headers:2", "no value for X-Empty"],
  ["/a\n  noColon", "_headers:2", 'expected "Name: value", got "noColon"'],
  ["/a\n  X-U: é", "_headers:2", "the value of X-U must be ASCII"],
  [
    "notpath",
    "_headers:1",
    'expected a path starting with "/" or an indented "Name: value" line, ' +
    'got "notpath"',
  ],
  ["/a b", "_headers:1", '"/a b": a path pattern has no spaces (write %20)'],
  ["/b/*/c", "_headers:1", '"/b/*/c": "*" may only end a pattern'],
  ["/a\n  X: \x01", "_headers:2", "control character in the line"],
];

Deno.test("_headers: every malformed line gets its message, with file and line", () => {
  for (const [text, at, message] of HEADER_ERRORS) {
    const parsed = parseHeaders(text, MANAGED_FIELDS);
    assert.deepEqual(parsed.errors, [`${at}: ${message}`], text);
  }
});

Deno.test("_headers: managed fields, removals, other hosts and empty blocks are warnings", () => {
  const parsed = parseHeaders(
    [
      "/a",
      "  Content-Type: text/plain",
      "  Content-Length: 3",
      "  ETag: x",
      "  Connection: close",
      "  X-Ok: 1",
      "  ! X-Remove",
      "https://other.example/*",
      "  X-Host: 1",
      "/empty",
      "# a comment",
      "/b/:id",
      "\tCache-Control: max-age=60",
    ].join("\n"),
    MANAGED_FIELDS,
  );
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.warnings, [
    "_headers:2: Content-Type cannot be set here: pws sets it itself from " +
    "the file name; line ignored",
    "_headers:3: Content-Length cannot be set here: pws sets it itself; " +
    "line ignored",
    "_headers:4: ETag cannot be set here: pws sets it itself; line ignored",
    "_headers:5: Connection cannot be set here: pws sets it itself; line " +
    "ignored",
    '_headers:7: "! X-Remove": removing a field ("! Name", Cloudflare\'s) ' +
    "is not supported; line ignored",
    '_headers:8: "https://other.example/*": blocks for other hosts are not ' +
    "supported (pws matches paths only); block ignored",
    '_headers:10: no header lines under "/empty"',
  ]);
  assert.deepEqual(
    parsed.items.map((b) => [b.pattern.source, b.fields]),
    [["/a", [["X-Ok", "1"]]], ["/b/:id", [["Cache-Control", "max-age=60"]]]],
  );
});

Deno.test("patterns: literals, placeholders and the splat, segment by segment", () => {
  const p = parsePathPattern("/blog/:year/*") as PathPattern;
  assert.deepEqual(matchPattern(p, ["blog", "2024", "a", "b"]), {
    params: new Map([["year", "2024"]]),
    splat: ["a", "b"],
  });
  assert.deepEqual(matchPattern(p, ["blog", "2024"])?.splat, []);
  assert.equal(matchPattern(p, ["blog"]), undefined);
  assert.equal(matchPattern(p, ["Blog", "2024"]), undefined);
  const exact = parsePathPattern("/a/b/") as PathPattern;
  assert.ok(exact.exact);
  assert.ok(matchPattern(exact, ["a", "b"]));
  assert.equal(matchPattern(exact, ["a", "b", "c"]), undefined);
  const encoded = parsePathPattern("/a%20b") as PathPattern;
  assert.ok(matchPattern(encoded, ["a b"]));
});

Deno.test("query strings: decoded, first of a key wins, malformed left out", () => {
  assert.deepEqual(
    parseQuery("a=1&b=x+y&a=2&c=%zz&d&=e&f=%2F"),
    new Map([["a", "1"], ["b", "x y"], ["d", ""], ["f", "/"]]),
  );
});

const segmentArb = fc.constantFrom("a", "b", "c", "x");
const patternArb = fc.tuple(
  fc.array(fc.oneof(segmentArb, fc.constantFrom(":p", ":q")), {
    maxLength: 4,
  }),
  fc.boolean(),
).map(([segments, splat]) => {
  // Placeholder names must differ within one pattern.
  let n = 0;
  const named = segments.map((s) => s.startsWith(":") ? `:n${n++}` : s);
  return "/" + named.join("/") + (splat ? (named.length ? "/*" : "*") : "");
});

Deno.test("trie: finds exactly the rules a scan of every rule finds, in order", () => {
  fc.assert(
    fc.property(
      fc.array(patternArb, { maxLength: 30 }),
      fc.array(segmentArb, { maxLength: 6 }),
      (sources, segments) => {
        const patterns = sources.map((s) => parsePathPattern(s) as PathPattern);
        const trie = new PatternTrie();
        patterns.forEach((p, id) => trie.add(p, id));
        const scanned = patterns.flatMap((p, id) =>
          matchPattern(p, segments) ? [id] : []
        );
        assert.deepEqual(trie.matches(segments), scanned);
        // The lazy merge finds the first accepted, as a scan would.
        const lists = trie.matchLists(segments);
        for (const modulus of [1, 2, 3]) {
          assert.equal(
            firstOf(lists, (id) => id % modulus === modulus - 1),
            scanned.find((id) => id % modulus === modulus - 1),
          );
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("site rules: first applicable rule wins; files shadow unforced rules", () => {
  const { items } = parseRedirects(
    [
      "/docs/:section/:page  /manual/:page?from=:section  302",
      "/news/*               /archive/:splat              301",
      "/search  q=:term      /find/:term                  302",
      "/old/*                /about.html                  200",
      "/held/*               /x.html                      200!",
      "/up/*                 /../../:splat                200",
      "/out/*                https://example.com/x/:splat 308",
      "/enc/:v               /to/:v                       301",
    ].join("\n"),
  );
  const rules = new SiteRules(items, []);
  assert.equal(rules.summary, "8 redirects, 0 header blocks");
  assert.deepEqual(rules.redirectFor(path("/docs/guide/intro"), false), {
    kind: "redirect",
    status: 302,
    location: "/manual/intro?from=guide",
    line: 1,
  });
  assert.equal(
    rules.redirectFor(path("/news/a/b?k=1"), false)?.kind === "redirect" &&
      (rules.redirectFor(path("/news/a/b?k=1"), false) as { location: string })
        .location,
    "/archive/a/b?k=1",
  );
  assert.equal(rules.redirectFor(path("/search?other=1"), false), undefined);
  // An existing file shadows the rule; a forced one applies anyway.
  assert.equal(rules.redirectFor(path("/old/x"), true), undefined);
  assert.equal(rules.redirectFor(path("/held/x"), true)?.kind, "rewrite");
  // Dot segments in a target cannot climb above the root.
  const up = rules.redirectFor(path("/up/etc/passwd"), false);
  assert.equal(up?.kind, "rewrite");
  assert.deepEqual(
    up?.kind === "rewrite" ? up.target?.segments : [],
    ["etc", "passwd"],
  );
  // A captured value never adds a segment, a query or a host.
  const enc = rules.redirectFor(path("/enc/a%3Fb%23%20"), false);
  assert.equal(
    enc?.kind === "redirect" ? enc.location : "",
    "/to/a%3Fb%23%20",
  );
  const out = rules.redirectFor(path("/out/a?c=d"), false);
  assert.equal(
    out?.kind === "redirect" ? out.location : "",
    "https://example.com/x/a?c=d",
  );
});

Deno.test("site rules: header blocks merge in file order; exact blocks also for errors", () => {
  const { items } = parseHeaders(
    [
      "/*",
      "  X-Robots-Tag: noindex",
      "  Set-Cookie: a=1",
      "/assets/*",
      "  X-Robots-Tag: nosnippet",
      "  Set-Cookie: b=2",
      "/assets/app.js",
      "  X-Exact: 1",
    ].join("\n"),
    MANAGED_FIELDS,
  );
  const rules = new SiteRules([], items);
  const fields = rules.fieldsFor(path("/assets/app.js"));
  assert.deepEqual(fields?.all, [
    ["X-Robots-Tag", "noindex, nosnippet"],
    ["Set-Cookie", "a=1"],
    ["Set-Cookie", "b=2"],
    ["X-Exact", "1"],
  ]);
  assert.deepEqual(fields?.explicit, [["X-Exact", "1"]]);
  // Remembered sets are told apart by the blocks that matched.
  assert.deepEqual(rules.fieldsFor(path("/other"))?.all, [
    ["X-Robots-Tag", "noindex"],
    ["Set-Cookie", "a=1"],
  ]);
  assert.deepEqual(rules.fieldsFor(path("/assets/x.css"))?.explicit, []);
  assert.equal(rules.fieldsFor(path("/assets/app.js")), fields);
  assert.equal(new SiteRules([], []).fieldsFor(path("/x")), undefined);
});

Deno.test("_redirects: looking for unreachable rules stays linear (30,000 catch-alls)", () => {
  const lines: string[] = [];
  for (let i = 0; i < 30_000; i++) lines.push(`/* /page-${i} 302`);
  const started = performance.now();
  const parsed = parseRedirects(lines.join("\n"));
  const ms = performance.now() - started;
  assert.equal(parsed.items.length, 30_000);
  assert.equal(parsed.warnings.length, 29_999);
  // Linear: 0.7–1.5 s on a loaded 2-core machine; every earlier rule
  // weighed for each took 41 s.
  assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
});
