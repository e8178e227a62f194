/**
 * Live reload (`--live`) in a real browser: Chromium through
 * playwright-core, real files changed on disk. Edits reload the page (the
 * latency from write to new DOM is reported), stylesheets swap in place
 * with the page's state kept, deletes and renames reload, 50 rapid writes
 * make one reload, pages without `</head>`/`</body>` and pages with a
 * Content-Security-Policy work, a restarted pws reloads its pages once,
 * and over HTTPS the event stream runs on HTTP/2. Without `--live` no
 * byte of any response changes.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { type RunningServer, startServer } from "../server/server.ts";
import {
  hasChromium,
  inPage,
  launchBrowser,
  newPage,
  servedCertificate,
  spkiHash,
} from "./browser.ts";
import {
  parseResponses,
  rawExchange,
  spawnServer,
  startTestServer,
} from "./helpers.ts";

/** A site to edit: a page, its stylesheet, and an other page. */
async function makeLiveSite(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "pws-live-" });
  await Deno.writeTextFile(
    `${root}/index.html`,
    pageHtml("first", '<link rel="stylesheet" href="/site.css">'),
  );
  await Deno.writeTextFile(
    `${root}/site.css`,
    "body { color: rgb(255, 0, 0); }\n",
  );
  return root;
}

/** An HTML page whose `<h1>` says `marker`. */
function pageHtml(marker: string, head = ""): string {
  return `<!doctype html><html><head><title>${marker}</title>${head}` +
    `</head><body><h1>${marker}</h1></body></html>\n`;
}

function startLive(root: string, port = 0): RunningServer {
  return startServer({
    root,
    hostname: "127.0.0.1",
    port,
    config: { live: true, logFormat: "off" },
  });
}

/** Waits until the page shows `marker` in its `<h1>` (CSP-proof). */
async function waitForText(page: Page, marker: string): Promise<void> {
  await page.locator("h1", { hasText: marker }).first().waitFor({
    timeout: 5000,
  });
}

/**
 * When the page now shown had its new DOM (domInteractive: parsed, before
 * deferred scripts run), in epoch ms on the same clock as Date.now().
 */
function parsedAt(page: Page): Promise<number> {
  return inPage<number>(
    page,
    "performance.timeOrigin + " +
      "performance.getEntriesByType('navigation')[0].domInteractive",
  );
}

/** Opens `url` and waits until its event stream is connected. */
async function openLive(page: Page, url: string): Promise<void> {
  const connected = page.waitForResponse((r) =>
    r.url().endsWith("/__pws/events")
  );
  try {
    await page.goto(url, { waitUntil: "load" });
  } finally {
    await connected.catch(() => {});
  }
}

/** Counts the page's loads from now on. */
function countLoads(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on("load", () => counter.count++);
  return counter;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

Deno.test({
  name: "live: edits, stylesheets, deletes, renames, bursts, bare pages, " +
    "CSP and a restart, in Chromium" +
    (hasChromium ? "" : " (skipped: Chromium is not installed)"),
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const root = await makeLiveSite();
    let server = startLive(root);
    const port = server.port;
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const { page } = await newPage(browser);
      const url = `http://127.0.0.1:${port}/`;
      await openLive(page, url);

      await t.step("an edited page reloads (write → new DOM)", async () => {
        const latencies: number[] = [];
        for (let i = 1; i <= 7; i++) {
          const marker = `edit ${i}`;
          const reconnected = page.waitForResponse((r) =>
            r.url().endsWith("/__pws/events")
          );
          const writtenAt = Date.now();
          await Deno.writeTextFile(
            `${root}/index.html`,
            pageHtml(marker, '<link rel="stylesheet" href="/site.css">'),
          );
          await waitForText(page, marker);
          latencies.push(await parsedAt(page) - writtenAt);
          // The new page's own stream must be up before the next edit.
          await reconnected;
        }
        console.log(
          `write → new DOM: median ${median(latencies).toFixed(0)} ms, ` +
            `worst ${Math.max(...latencies).toFixed(0)} ms (target 300)`,
        );
        assert.ok(median(latencies) <= 300, `median ${median(latencies)} ms`);
      });

      await t.step(
        "an edited stylesheet swaps in place; state survives",
        async () => {
          await inPage(page, "window.__kept = 42");
          await Deno.writeTextFile(
            `${root}/site.css`,
            "body { color: rgb(0, 0, 255); }\n",
          );
          await page.waitForFunction(
            "getComputedStyle(document.body).color === 'rgb(0, 0, 255)'",
            undefined,
            { timeout: 5000 },
          );
          assert.equal(await inPage(page, "window.__kept"), 42, "no reload");
        },
      );

      await t.step(
        "deleting the page shows 404, recreating it reloads",
        async () => {
          await Deno.remove(`${root}/index.html`);
          await page.locator("h1", { hasText: "edit 7" }).waitFor({
            state: "detached",
            timeout: 5000,
          });
          await Deno.writeTextFile(
            `${root}/index.html`,
            pageHtml("back again"),
          );
          await waitForText(page, "back again");
        },
      );

      await t.step(
        "renaming a page away and back reloads each time",
        async () => {
          await Deno.rename(`${root}/index.html`, `${root}/moved.html`);
          await page.locator("h1", { hasText: "back again" }).waitFor({
            state: "detached",
            timeout: 5000,
          });
          await Deno.writeTextFile(
            `${root}/moved.html`,
            pageHtml("renamed back"),
          );
          await Deno.rename(`${root}/moved.html`, `${root}/index.html`);
          await waitForText(page, "renamed back");
        },
      );

      await t.step("50 rapid writes cause exactly one reload", async () => {
        await openLive(page, url);
        const loads = countLoads(page);
        for (let i = 0; i < 50; i++) {
          await Deno.writeTextFile(
            `${root}/index.html`,
            pageHtml(`burst ${i}`),
          );
        }
        await waitForText(page, "burst 49");
        // Anything late would have come by now.
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(loads.count, 1);
      });

      await t.step(
        "a page with neither </head> nor </body> reloads",
        async () => {
          await Deno.writeTextFile(`${root}/bare.html`, "<h1>bare one</h1>");
          await openLive(page, `${url}bare.html`);
          await Deno.writeTextFile(`${root}/bare.html`, "<h1>bare two</h1>");
          await waitForText(page, "bare two");
        },
      );

      await t.step(
        "a page with a Content-Security-Policy reloads",
        async () => {
          const csp = `<meta http-equiv="Content-Security-Policy" ` +
            `content="default-src 'self'">`;
          await Deno.writeTextFile(
            `${root}/csp.html`,
            pageHtml("csp one", csp),
          );
          const violations: string[] = [];
          page.on("console", (m) => {
            if (m.text().includes("Content Security Policy")) {
              violations.push(m.text());
            }
          });
          await openLive(page, `${url}csp.html`);
          await Deno.writeTextFile(
            `${root}/csp.html`,
            pageHtml("csp two", csp),
          );
          await waitForText(page, "csp two");
          assert.deepEqual(violations, []);
        },
      );

      await t.step(
        "after a restart the page reconnects and reloads once",
        async () => {
          await openLive(page, url);
          await server.close();
          // Changed while pws was down: only a reload after the restart shows it.
          await Deno.writeTextFile(
            `${root}/index.html`,
            pageHtml("after restart"),
          );
          await new Promise((r) => setTimeout(r, 300));
          const loads = countLoads(page);
          server = startLive(root, port);
          await waitForText(page, "after restart");
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(loads.count, 1, "one reload, not a loop");
        },
      );
    } finally {
      await browser?.close();
      await server.close();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "live: over HTTPS the page and its event stream use HTTP/2" +
    (hasChromium ? "" : " (skipped: Chromium is not installed)"),
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await makeLiveSite();
    const data = await Deno.makeTempDir({ prefix: "pws-live-data-" });
    const server = await spawnServer(
      ["--root", root, "--quiet", "--live", "--tls-self-signed", "0"],
      { env: { XDG_DATA_HOME: data } },
    );
    let browser: Browser | undefined;
    try {
      const leaf = await servedCertificate(server.port);
      browser = await launchBrowser([
        `--ignore-certificate-errors-spki-list=${spkiHash(leaf)}`,
      ]);
      const { page, responses } = await newPage(browser);
      await openLive(page, `https://localhost:${server.port}/`);
      await Deno.writeTextFile(`${root}/index.html`, pageHtml("over h2"));
      await waitForText(page, "over h2");
      const events = responses.get("/__pws/events");
      assert.ok(events !== undefined);
      const hop = await inPage<string[]>(
        page,
        "performance.getEntries().filter((e) => 'nextHopProtocol' in e)" +
          ".map((e) => e.nextHopProtocol)",
      );
      assert.ok(hop.length > 0 && hop.every((p) => p === "h2"), String(hop));
    } finally {
      await browser?.close();
      await server.stop();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(data, { recursive: true });
    }
  },
});

Deno.test("live: without --live no byte changes and /__pws/ is an ordinary path", async () => {
  const root = await makeLiveSite();
  await Deno.mkdir(`${root}/__pws`);
  await Deno.writeTextFile(`${root}/__pws/live.js`, "// a file of the site\n");
  const requests = "GET / HTTP/1.1\r\nHost: t\r\n\r\n" +
    "GET /__pws/live.js HTTP/1.1\r\nHost: t\r\n\r\n" +
    "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n" +
    "GET /__pws/events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  try {
    const plain = startTestServer({ root, tls: false });
    let off;
    try {
      off = parseResponses(
        (await rawExchange(plain.port, requests, { tls: false })).bytes,
      );
    } finally {
      await plain.close();
    }
    assert.equal(off.length, 4);
    assert.equal(
      new TextDecoder().decode(off[0].body),
      await Deno.readTextFile(`${root}/index.html`),
    );
    assert.equal(
      new TextDecoder().decode(off[1].body),
      "// a file of the site\n",
    );
    assert.equal(off[2].status, 404);
    assert.ok(!new TextDecoder().decode(off[2].body).includes("__pws"));
    assert.equal(off[3].status, 404);

    const live = startTestServer({ root, tls: false, config: { live: true } });
    let on;
    try {
      on = parseResponses(
        (await rawExchange(
          live.port,
          requests.replace("GET /__pws/events", "HEAD /__pws/events"),
          { tls: false },
        )).bytes,
        { methods: ["GET", "GET", "GET", "HEAD"] },
      );
    } finally {
      await live.close();
    }
    const html = new TextDecoder().decode(on[0].body);
    assert.ok(
      html.includes('<script src="/__pws/live.js" defer></script></head>'),
    );
    assert.notEqual(on[0].header("etag"), off[0].header("etag"));
    assert.equal(Number(on[0].header("content-length")), on[0].body.length);
    // Reserved under --live: the client script, not the site's file.
    assert.ok(new TextDecoder().decode(on[1].body).includes("EventSource"));
    assert.ok(new TextDecoder().decode(on[2].body).includes("/__pws/live.js"));
    assert.equal(on[3].status, 200);
    assert.equal(on[3].header("content-type"), "text/event-stream");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("live: --spa fallbacks and --clean-urls pages get the script too", async () => {
  const root = await makeLiveSite();
  await Deno.writeTextFile(`${root}/about.html`, pageHtml("about"));
  try {
    const server = startTestServer({
      root,
      tls: false,
      config: {
        live: true,
        spa: true,
        lookup: { dotfiles: "ignore", cleanUrls: true, dirListing: false },
      },
    });
    try {
      const responses = parseResponses(
        (await rawExchange(
          server.port,
          "GET /app/route HTTP/1.1\r\nHost: t\r\nAccept: text/html\r\n\r\n" +
            "GET /about HTTP/1.1\r\nHost: t\r\n\r\n",
          { tls: false },
        )).bytes,
      );
      for (const response of responses) {
        assert.equal(response.status, 200);
        const html = new TextDecoder().decode(response.body);
        assert.ok(html.includes('<script src="/__pws/live.js" defer>'), html);
      }
      assert.ok(new TextDecoder().decode(responses[1].body).includes("about"));
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
