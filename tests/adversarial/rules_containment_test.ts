/**
 * Attack class: a site's rules as a way out of the root. For random
 * `_redirects` and `_headers` (targets that climb with `..`, name
 * dotfiles, links to the outside, the rules files themselves, captured
 * values from the path and the query) and random requests, no response
 * carries a byte from outside the root, from a dotfile or from the rules
 * files, and no Location leaves the site except for the URL the rules'
 * author wrote.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  makeFixtureTree,
  parseResponses,
  rawExchange,
  withServer,
} from "../helpers.ts";
import { parseRedirects } from "../../rules/redirects.ts";

/** Text found only in the rules files. */
const RULES_MARKER = "PWS-RULES-FILE-MARKER";
/** Text found only in dotfiles of the fixture. */
const DOTFILE_TEXTS = ["dotfile secret", "hidden in sub", "repositoryformat"];
/** The one host a rule may send clients to. */
const AUTHOR_URL = "https://author.example/";

const fromArb = fc.constantFrom(
  "/*",
  "/:a",
  "/:a/*",
  "/sub/*",
  "/sub/:p",
  "/go/*",
  "/x/:a/:b",
  "/notes.txt",
  "/.secret",
  "/link-outside-dir/*",
);
const conditionArb = fc.constantFrom("", "q=:v", "q=..", "k=:w");
const toArb = fc.constantFrom(
  "/:splat",
  "/:a",
  "/:a/:splat",
  "/../:splat",
  "/../../outside/secret.txt",
  "/%2e%2e/%2e%2e/outside/:splat",
  "/.secret",
  "/sub/.hidden",
  "/.git/config",
  "/_redirects",
  "/_headers",
  "/%5Fredirects",
  "/link-outside.txt",
  "/link-outside-dir/:splat",
  "/link-to-dotfile.txt",
  "/fifo",
  "/:v",
  "/sub/:v",
  "/:w/:splat",
  "/notes.txt",
  "/sub/",
  "/noindex",
  AUTHOR_URL + ":splat",
);
const statusArb = fc.constantFrom("", "200", "200!", "404", "410!", "302");

/** One `_redirects` line; proxies (a URL with 200/404) are left out. */
const ruleArb = fc.tuple(fromArb, conditionArb, toArb, statusArb).map(
  ([from, condition, to, status]) => {
    const usable = to.startsWith("https://") &&
        (status.startsWith("2") || status.startsWith("4"))
      ? "302"
      : status;
    // A placeholder the pattern does not capture stays literal text.
    return `${from} ${condition} ${to} ${usable}`.replaceAll("  ", " ");
  },
);

const segmentArb = fc.constantFrom(
  "..",
  "%2e%2e",
  ".secret",
  "sub",
  ".hidden",
  "outside",
  "secret.txt",
  "link-outside-dir",
  "link-outside.txt",
  "_redirects",
  "_headers",
  "go",
  "x",
  "notes.txt",
  ".git",
  "config",
  "%2F..%2F..",
  "a%00b",
);
const queryArb = fc.constantFrom(
  "",
  "?q=..",
  "?q=..%2F..%2Foutside%2Fsecret.txt",
  "?q=.secret",
  "?q=%2F%2Fevil.example",
  "?k=..&q=_redirects",
  "?k=link-outside-dir",
);
const requestArb = fc.tuple(
  fc.array(segmentArb, { minLength: 0, maxLength: 4 }),
  fc.boolean(),
  queryArb,
).map(([segments, slash, query]) =>
  "/" + segments.join("/") + (slash && segments.length > 0 ? "/" : "") +
  query
);

Deno.test("adversarial: no rules make pws serve outside the root, a dotfile or the rules files", async () => {
  await using tree = await makeFixtureTree();
  const decoder = new TextDecoder();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(ruleArb, { minLength: 1, maxLength: 8 }),
      fc.array(requestArb, { minLength: 1, maxLength: 8 }),
      async (rules, requests) => {
        runs++;
        const redirects = `# ${RULES_MARKER}\n${rules.join("\n")}\n`;
        // The rules must be in force, or the property says nothing.
        assert.deepEqual(parseRedirects(redirects).errors, []);
        await Deno.writeTextFile(`${tree.root}/_redirects`, redirects);
        await Deno.writeTextFile(
          `${tree.root}/_headers`,
          `# ${RULES_MARKER}\n/*\n  X-Rules: ${RULES_MARKER.length}\n`,
        );
        await withServer(async ({ port }) => {
          const text = requests.map((target) =>
            `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
          ).join("");
          const result = await rawExchange(port, text, { timeoutMs: 10_000 });
          assert.ok(!result.timedOut, "the exchange timed out");
          const all = decoder.decode(result.bytes);
          assert.ok(!all.includes(tree.marker), "a byte from outside");
          assert.ok(!all.includes(RULES_MARKER), "the rules files");
          for (const text of DOTFILE_TEXTS) {
            assert.ok(!all.includes(text), `a dotfile (${text})`);
          }
          for (const response of parseResponses(result.bytes)) {
            const location = response.header("location");
            if (location === undefined) continue;
            assert.ok(
              location.startsWith(AUTHOR_URL) ||
                (location.startsWith("/") && !location.startsWith("//") &&
                  !location.startsWith("/\\")),
              `Location leaves the site: ${location}`,
            );
          }
        }, { root: tree.root });
      },
    ),
    { numRuns: 120 },
  );
  assert.equal(runs, 120);
});
