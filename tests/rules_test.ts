/**
 * End-to-end tests of a site's `_redirects` and `_headers` over real
 * sockets: the table of documented behaviours of Netlify and Cloudflare
 * Pages (placeholders and splats, query conditions, rewrites, shadowing
 * and `!`, custom error pages, headers on 200/206/304), how the rules
 * combine with `--spa` and `--clean-urls`, the `404.html` fallback, that
 * the rules files are never served, and reloading.
 *
 * Sites are built in temp dirs, in our own words.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ConfigOverrides } from "../server/config.ts";
import { isSettled, stampOf } from "../files/cache.ts";
import {
  type ParsedResponse,
  parseResponses,
  PROTOCOL,
  rawExchange,
  type RunningServer,
  spawnServer,
  withServer,
} from "./helpers.ts";

/** Writes `files` (relative path → content) under a fresh temp dir. */
async function makeSite(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "pws_rules_" });
  for (const [path, content] of Object.entries(files)) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) {
      await Deno.mkdir(`${root}/${path.slice(0, slash)}`, { recursive: true });
    }
    await Deno.writeTextFile(`${root}/${path}`, content);
  }
  return root;
}

/** Runs `fn` with a server on a site made of `files`, then removes it. */
async function withSite(
  files: Record<string, string>,
  config: ConfigOverrides,
  fn: (server: RunningServer, root: string) => Promise<void>,
): Promise<void> {
  const root = await makeSite(files);
  try {
    await withServer((server) => fn(server, root), { root, config });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** One request on its own connection; the one response. */
async function get(
  port: number,
  target: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<ParsedResponse> {
  let text = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    text += `${name}: ${value}\r\n`;
  }
  const result = await rawExchange(port, text + "\r\n", { timeoutMs: 10_000 });
  assert.ok(!result.timedOut, `${method} ${target} timed out`);
  const responses = parseResponses(result.bytes, { methods: [method] });
  assert.equal(responses.length, 1, `one response to ${target}`);
  return responses[0];
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The site of the behaviour table. */
const SITE: Record<string, string> = {
  "index.html": "<p>front page</p>\n",
  "about.html": "<p>about this site</p>\n",
  "app/index.html": "<p>app shell</p>\n",
  "blog/2024/hello.html": "<p>hello post</p>\n",
  "news/kept.html": "<p>a news page still here</p>\n",
  "old/exists.html": "<p>old page, shadowed by a forced rule</p>\n",
  "store-closed.html": "<p>the store is closed</p>\n",
  "gone.html": "<p>this page is gone</p>\n",
  "404.html": "<p>site-wide not found</p>\n",
  "assets/app.js": "console.log('app');\n".repeat(80),
  "digits.txt": "0123456789abcdef".repeat(4),
  ".env": "TOKEN=do-not-serve-me\n",
  "_redirects": [
    "# pages that moved (rules of our own, for the tests)",
    "/home                 /                             301",
    "/docs/:section/:page  /manual/:page?from=:section    302",
    "/news/*               /archive/:splat               301",
    "/articles/*           /blog/:splat                  200",
    "/search  q=:term      /find/:term                   302",
    "/lang    lang=fr      /fr/                          302",
    "/old/exists.html      /about.html                   200!",
    "/old/*                /about.html                   200",
    "/shop/*               /store-closed.html            404",
    "/removed              /gone.html                    410",
    "/outbound/*           https://example.com/x/:splat  308",
    "/peek/*               /.env                         200",
    "/peek-rules           /_redirects                   200",
    "/t307                 /about.html                   307",
    "/t303                 /about.html                   303",
    "/keepq                /about.html                   302",
    "/setq                 /about.html?fixed=1           302",
    "/spa/*                /app/index.html               200",
    "/up/*                 /../../:splat                 200",
    "",
  ].join("\n"),
  "_headers": [
    "# response fields (our own)",
    "/*",
    "  X-Frame-Options: DENY",
    "  X-Robots-Tag: noindex",
    "/assets/*",
    "  Cache-Control: public, max-age=31536000, immutable",
    "  X-Robots-Tag: nosnippet",
    "  Vary: Origin",
    "/about.html",
    "  X-Page: about",
    "/missing-literal",
    "  X-Explicit: yes",
    "",
  ].join("\n"),
};

Deno.test("rules: placeholders and splats are substituted into redirects", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const placeholders = await get(port, "/docs/guide/intro");
    assert.equal(placeholders.status, 302);
    assert.equal(placeholders.header("location"), "/manual/intro?from=guide");

    const splat = await get(port, "/news/2020/05/story");
    assert.equal(splat.status, 301);
    assert.equal(splat.header("location"), "/archive/2020/05/story");
    // The splat also matches nothing at all.
    assert.equal((await get(port, "/news")).header("location"), "/archive/");
    // Trailing slashes do not count, as on Netlify.
    const slash = await get(port, "/home/");
    assert.equal(slash.status, 301);
    assert.equal(slash.header("location"), "/");
    // Paths match case-sensitively.
    assert.equal((await get(port, "/Home")).status, 404);
    // Captured values are encoded: a space stays inside its segment.
    assert.equal(
      (await get(port, "/news/a%20b/%3F")).header("location"),
      "/archive/a%20b/%3F",
    );
  });
});

Deno.test("rules: query conditions must all match, and capture values", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const found = await get(port, "/search?q=deno");
    assert.equal(found.status, 302);
    // The request's query is kept when the target sets none.
    assert.equal(found.header("location"), "/find/deno?q=deno");
    assert.equal((await get(port, "/search")).status, 404);
    assert.equal((await get(port, "/search?other=1")).status, 404);
    assert.equal(
      (await get(port, "/lang?x=1&lang=fr")).header("location"),
      "/fr/?x=1&lang=fr",
    );
    assert.equal((await get(port, "/lang?lang=de")).status, 404);
  });
});

Deno.test("rules: redirect statuses, and the query kept or replaced", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const t307 = await get(port, "/t307");
    assert.equal(t307.status, 307);
    assert.equal(t307.reason, "Temporary Redirect");
    assert.equal((await get(port, "/t303")).reason, "See Other");
    assert.equal(
      (await get(port, "/keepq?a=1&b=2")).header("location"),
      "/about.html?a=1&b=2",
    );
    assert.equal(
      (await get(port, "/setq?a=1")).header("location"),
      "/about.html?fixed=1",
    );
    // A URL the author wrote is the one place a rule leaves the site.
    const out = await get(port, "/outbound/a/b?c=d");
    assert.equal(out.status, 308);
    assert.equal(out.header("location"), "https://example.com/x/a/b?c=d");
  });
});

Deno.test("rules: 200 rewrites serve the target under the requested URL", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const hit = await get(port, "/articles/2024/hello.html");
    assert.equal(hit.status, 200);
    assert.equal(hit.text, "<p>hello post</p>\n");
    assert.equal(hit.header("location"), undefined);
    assert.match(hit.header("content-type") ?? "", /^text\/html/);
    // A missing target is a 404: rewrites are followed once, never chained.
    const miss = await get(port, "/articles/none.html");
    assert.equal(miss.status, 404);
    assert.equal(miss.text, "<p>site-wide not found</p>\n");
    // HEAD gets the same head without the body.
    const head = await get(port, "/articles/2024/hello.html", {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.header("content-length"), "18");
  });
});

Deno.test("rules: a file shadows a rule unless the rule is forced with !", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const shadowed = await get(port, "/news/kept.html");
    assert.equal(shadowed.status, 200);
    assert.equal(shadowed.text, "<p>a news page still here</p>\n");
    const forced = await get(port, "/old/exists.html");
    assert.equal(forced.status, 200);
    assert.equal(forced.text, "<p>about this site</p>\n");
    const fallback = await get(port, "/old/anything");
    assert.equal(fallback.text, "<p>about this site</p>\n");
  });
});

Deno.test("rules: 404 and 410 rules serve their page with that status", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const closed = await get(port, "/shop/cart");
    assert.equal(closed.status, 404);
    assert.equal(closed.text, "<p>the store is closed</p>\n");
    assert.match(closed.header("content-type") ?? "", /^text\/html/);
    assert.equal(closed.header("etag"), undefined);
    const gone = await get(port, "/removed");
    assert.equal(gone.status, 410);
    assert.equal(gone.reason, "Gone");
    assert.equal(gone.text, "<p>this page is gone</p>\n");
  });
});

Deno.test("rules: 404.html is the not-found page when NotFound.html is absent", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const res = await get(port, "/no/such/page");
    assert.equal(res.status, 404);
    assert.equal(res.text, "<p>site-wide not found</p>\n");
  });
  const both = { ...SITE, "NotFound.html": "<p>pws's own page</p>\n" };
  await withSite(both, {}, async ({ port }) => {
    assert.equal((await get(port, "/no/such")).text, "<p>pws's own page</p>\n");
  });
});

Deno.test("rules: headers apply to 200, 206 and 304 alike", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const ok = await get(port, "/about.html");
    assert.equal(ok.status, 200);
    assert.equal(ok.header("x-frame-options"), "DENY");
    assert.equal(ok.header("x-page"), "about");
    assert.equal(ok.header("x-robots-tag"), "noindex");
    const etag = ok.header("etag")!;

    const partial = await get(port, "/about.html", { Range: "bytes=0-2" });
    assert.equal(partial.status, 206);
    assert.equal(partial.text, "<p>");
    assert.equal(partial.header("x-frame-options"), "DENY");
    assert.equal(partial.header("x-page"), "about");

    const notModified = await get(port, "/about.html", {
      "If-None-Match": etag,
    });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.header("x-frame-options"), "DENY");
    assert.equal(notModified.header("x-page"), "about");
    assert.equal(
      notModified.header("cache-control"),
      ok.header("cache-control"),
    );
  });
});

Deno.test("rules: Cache-Control and Vary replace pws's own, blocks join values", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const res = await get(port, "/assets/app.js", {
      "Accept-Encoding": "gzip",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headerCount("cache-control"), 1);
    assert.equal(
      res.header("cache-control"),
      "public, max-age=31536000, immutable",
    );
    // One Vary: the site's token joins pws's negotiation.
    assert.equal(res.headerCount("vary"), 1);
    assert.equal(res.header("vary"), "Accept-Encoding, Origin");
    // Every matching block applies; one field, values joined, file order.
    assert.equal(res.headerCount("x-robots-tag"), 1);
    assert.equal(res.header("x-robots-tag"), "noindex, nosnippet");
    const revalidated = await get(port, "/assets/app.js", {
      "If-None-Match": res.header("etag")!,
      "Accept-Encoding": "gzip",
    });
    assert.equal(revalidated.status, 304);
    assert.equal(
      revalidated.header("cache-control"),
      "public, max-age=31536000, immutable",
    );
  });
});

Deno.test("rules: errors and redirects get only blocks naming their exact path", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    const missing = await get(port, "/assets/none.js");
    assert.equal(missing.status, 404);
    // A year-long Cache-Control on a 404 would keep the error in caches.
    assert.equal(missing.header("cache-control"), undefined);
    assert.equal(missing.header("x-frame-options"), undefined);
    const moved = await get(port, "/home");
    assert.equal(moved.status, 301);
    assert.equal(moved.header("x-frame-options"), undefined);
    const literal = await get(port, "/missing-literal");
    assert.equal(literal.status, 404);
    assert.equal(literal.header("x-explicit"), "yes");
    assert.equal(literal.header("x-frame-options"), undefined);
  });
});

Deno.test("rules: the rules files and dotfiles are never served", async () => {
  await withSite(SITE, {}, async ({ port }) => {
    for (
      const target of [
        "/_redirects",
        "/_headers",
        "/%5Fredirects",
        "/docs/../_headers",
        "/peek/x",
        "/peek-rules",
        "/up/_redirects",
        "/up/.env",
        "/up/etc/passwd",
      ]
    ) {
      const res = await get(port, target);
      assert.equal(res.status, 404, target);
      assert.ok(!res.text.includes("X-Frame-Options"), target);
      assert.ok(!res.text.includes("/manual/"), target);
      assert.ok(!res.text.includes("do-not-serve-me"), target);
    }
  });
});

Deno.test("rules: the rules files are left out of directory listings", async () => {
  const files = { ...SITE };
  delete files["index.html"];
  await withSite(files, {
    lookup: { dotfiles: "ignore", cleanUrls: false, dirListing: true },
  }, async ({ port }) => {
    const listing = await get(port, "/");
    assert.equal(listing.status, 200);
    assert.ok(listing.text.includes("about.html"));
    assert.ok(!listing.text.includes("_redirects"));
    assert.ok(!listing.text.includes("_headers"));
  });
});

const SPA_SITE: Record<string, string> = {
  "index.html": "<p>spa shell</p>\n",
  "about.html": "<p>about</p>\n",
  "legacy/page.html": "<p>legacy page</p>\n",
  "_redirects": [
    "/team          /about           301",
    "/legacy-home   /legacy/page     200",
    "/api/*         /legacy/page.html 200",
    "",
  ].join("\n"),
};

Deno.test("rules: rules run before --spa, which still catches what they leave", async () => {
  await withSite(SPA_SITE, { spa: true }, async ({ port }) => {
    const html = { Accept: "text/html" };
    const ruled = await get(port, "/api/users", html);
    assert.equal(ruled.status, 200);
    assert.equal(ruled.text, "<p>legacy page</p>\n");
    assert.equal((await get(port, "/team", html)).status, 301);
    const spa = await get(port, "/some/route", html);
    assert.equal(spa.status, 200);
    assert.equal(spa.text, "<p>spa shell</p>\n");
  });
});

Deno.test("rules: with --clean-urls a clean path is a file (it shadows), and targets may be clean", async () => {
  const files = {
    ...SPA_SITE,
    "_redirects": "/about /team 301\n/legacy-home /legacy/page 200\n",
  };
  await withSite(files, {
    lookup: { dotfiles: "ignore", cleanUrls: true, dirListing: false },
  }, async ({ port }) => {
    // /about is served by about.html: the non-forced rule yields to it.
    const about = await get(port, "/about");
    assert.equal(about.status, 200);
    assert.equal(about.text, "<p>about</p>\n");
    // A rewrite target is looked up like a request: /legacy/page is clean.
    const rewritten = await get(port, "/legacy-home");
    assert.equal(rewritten.status, 200);
    assert.equal(rewritten.text, "<p>legacy page</p>\n");
  });
  await withSite(files, {}, async ({ port }) => {
    // Without --clean-urls there is no file at /about: the rule applies.
    assert.equal((await get(port, "/about")).status, 301);
  });
});

Deno.test({
  name: "rules: a site with rules still replays answers the rules leave alone",
  // Replay is HTTP/1.1's: it answers repeated request heads by their bytes.
  ignore: PROTOCOL === "h2",
}, async () => {
  const files = { ...SPA_SITE, "_headers": "/api/*\n  X-Api: 1\n" };
  await withSite(files, {}, async (server, root) => {
    // Only files changed over a second ago are kept, and so replayed.
    while (!isSettled(stampOf(Deno.statSync(`${root}/about.html`)))) {
      await delay(100);
    }
    const request = "GET /about.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    const result = await rawExchange(server.port, request.repeat(20));
    const responses = parseResponses(result.bytes);
    assert.equal(responses.length, 20);
    assert.ok(responses.every((r) => r.status === 200));
    assert.ok(server.replayCount() >= 10, `replays: ${server.replayCount()}`);
  });
});

/** Polls `check` until it holds or `ms` pass; returns whether it held. */
async function eventually(
  check: () => Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await delay(100);
  }
  return false;
}

for (const watch of [true, false]) {
  Deno.test(
    `rules: changed files are reloaded; a broken one keeps the rules in force (${
      watch ? "root watcher" : "--no-watch: stat check"
    })`,
    async () => {
      await withSite(
        { "a.html": "a\n", "b.html": "b\n" },
        { watch },
        async ({ port }, root) => {
          assert.equal((await get(port, "/go")).status, 404);
          await Deno.writeTextFile(`${root}/_redirects`, "/go /a.html 302\n");
          assert.ok(
            await eventually(
              async () =>
                (await get(port, "/go")).header("location") === "/a.html",
              5000,
            ),
            "the new _redirects was not picked up",
          );
          await Deno.writeTextFile(
            `${root}/_headers`,
            "/a.html\n  X-Reloaded: 1\n",
          );
          assert.ok(
            await eventually(
              async () =>
                (await get(port, "/a.html")).header("x-reloaded") === "1",
              5000,
            ),
            "the new _headers was not picked up",
          );
          // A file that no longer parses: the rules in force stay.
          await Deno.writeTextFile(`${root}/_redirects`, "/go /b.html 30\n");
          await delay(2500);
          assert.equal((await get(port, "/go")).header("location"), "/a.html");
          // Fixed: the new rule applies.
          await Deno.writeTextFile(`${root}/_redirects`, "/go /b.html 302\n");
          assert.ok(
            await eventually(
              async () =>
                (await get(port, "/go")).header("location") === "/b.html",
              5000,
            ),
          );
          // Removed: no rules any more.
          await Deno.remove(`${root}/_redirects`);
          assert.ok(
            await eventually(
              async () => (await get(port, "/go")).status === 404,
              5000,
            ),
          );
        },
      );
    },
  );
}

Deno.test("rules: start-up errors exit 2 naming file and line; the banner sums the rules up", async () => {
  const root = await makeSite({
    "index.html": "x\n",
    "_redirects": "/a /b\n/c /d 30\n",
    "_headers": "/x\n  X-A: 1\n",
  });
  try {
    const failed = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "main.ts", "--root", root, "0"],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(failed.code, 2);
    const stderr = new TextDecoder().decode(failed.stderr);
    assert.ok(
      stderr.includes('pws: _redirects:2: unknown status "30"'),
      stderr,
    );

    await Deno.writeTextFile(
      `${root}/_redirects`,
      "/a /b\n/c /d 302\n/c /d 302\n",
    );
    const server = await spawnServer(["--root", root, "0"], {
      cleartext: true,
    });
    const stopped = await server.stop();
    assert.ok(
      stopped.stdout.includes("Rules:   3 redirects, 1 header block"),
      stopped.stdout,
    );
    assert.ok(
      stopped.stderr.includes(
        "pws: warning: _redirects:3: duplicate of line 2",
      ),
      stopped.stderr,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rules: a reload that fails is reported once, until the files change", async () => {
  const root = await makeSite({
    "index.html": "x\n",
    "_redirects": "/a /index.html 302\n",
  });
  try {
    const server = await spawnServer(["--root", root, "0"], {
      cleartext: true,
    });
    await delay(300);
    await Deno.writeTextFile(`${root}/_redirects`, "/a /index.html 3022\n");
    await delay(3500);
    const stopped = await server.stop();
    const lines = stopped.stderr.split("\n").filter((l) =>
      l.includes('_redirects:1: unknown status "3022"')
    );
    assert.equal(lines.length, 1, stopped.stderr);
    assert.ok(lines[0].includes("kept the rules in force"), lines[0]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rules: _headers replaces --header, --cors and --cache-control values, one field each", async () => {
  const files = {
    "page.html": "<p>page</p>\n",
    "_headers": [
      "/page.html",
      "  X-Frame-Options: DENY",
      "  Access-Control-Allow-Origin: https://app.example",
      "  Cache-Control: max-age=60",
      "",
    ].join("\n"),
  };
  await withSite(files, {
    cors: true,
    cacheControl: "public, max-age=5",
    extraHeaders: [["X-Frame-Options", "SAMEORIGIN"], ["X-Other", "kept"]],
  }, async ({ port }) => {
    const res = await get(port, "/page.html", { Origin: "https://x.example" });
    assert.equal(res.status, 200);
    for (
      const [name, value] of [
        ["x-frame-options", "DENY"],
        ["access-control-allow-origin", "https://app.example"],
        ["cache-control", "max-age=60"],
        ["x-other", "kept"],
      ]
    ) {
      assert.equal(res.headerCount(name), 1, name);
      assert.equal(res.header(name), value, name);
    }
  });
});

Deno.test("rules: with --live, a rewrite and a rule's error page get the live script", async () => {
  await withSite(SITE, { live: true }, async ({ port }) => {
    const rewritten = await get(port, "/articles/2024/hello.html");
    assert.equal(rewritten.status, 200);
    assert.ok(rewritten.text.includes("/__pws/live.js"), rewritten.text);
    const closed = await get(port, "/shop/cart");
    assert.equal(closed.status, 404);
    assert.ok(closed.text.startsWith("<p>the store is closed</p>"));
    assert.ok(closed.text.includes("/__pws/live.js"), closed.text);
  });
});

Deno.test("rules: SIGHUP reads the rules files again, even unchanged", async () => {
  const root = await makeSite({
    "index.html": "x\n",
    "_redirects": "/a /index.html 302\n",
  });
  try {
    const server = await spawnServer(["--root", root, "0"], {
      cleartext: true,
    });
    await delay(300);
    // Nothing changed: neither the watcher nor the periodic check reloads.
    Deno.kill(server.pid, "SIGHUP");
    await delay(500);
    const stopped = await server.stop();
    const reloads = stopped.stderr.split("\n").filter((l) =>
      l.includes("rules reloaded: 1 redirect")
    );
    assert.equal(reloads.length, 1, stopped.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
