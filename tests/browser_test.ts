/**
 * pws seen through a real browser: Debian's headless Chromium, driven by
 * playwright-core (never a browser downloaded by a tool). The demo site
 * must render with its stylesheet and images, a missing page must show
 * NotFound.html with status 404, the browser must receive compressed
 * responses, and a directory listing must be navigable by clicking.
 *
 * Screenshots go to test-output/ (gitignored).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import type { RunningServer } from "../server/server.ts";
import {
  hasChromium,
  inPage,
  launchBrowser,
  newPage,
  OUTPUT_DIR,
  servedCertificate,
  spkiHash,
} from "./browser.ts";
import { spawnServer, startTestServer, STATIC_DIR } from "./helpers.ts";

const BODY_BACKGROUND = "getComputedStyle(document.body).backgroundColor";

/** A site with no index.html, for the listing. */
async function makeListingSite(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "pws_browser_" });
  await Deno.mkdir(`${root}/alpha`);
  await Deno.mkdir(`${root}/beta/inner`, { recursive: true });
  await Deno.writeTextFile(`${root}/readme.txt`, "top-level readme\n");
  await Deno.writeTextFile(`${root}/alpha/a.txt`, "in alpha\n");
  await Deno.writeTextFile(
    `${root}/beta/inner/hello world.txt`,
    "Hello from a clicked link.\n",
  );
  await Deno.writeTextFile(`${root}/beta/ça va.txt`, "ça va bien\n");
  return root;
}

Deno.test({
  name: "browser: demo site, 404 page, compression and a clickable listing",
  ignore: !hasChromium,
  // Playwright keeps its own pipes and timers; everything is closed below.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await Deno.mkdir(OUTPUT_DIR, { recursive: true });
    let demo: RunningServer | undefined;
    let listing: RunningServer | undefined;
    let cors: RunningServer | undefined;
    let listingRoot: string | undefined;
    let browser: Browser | undefined;
    try {
      demo = startTestServer({ root: STATIC_DIR });
      listingRoot = await makeListingSite();
      listing = startTestServer({
        root: listingRoot,
        config: {
          lookup: { dotfiles: "ignore", cleanUrls: false, dirListing: true },
        },
      });
      browser = await launchBrowser();
      const demoUrl = demo.url;
      const listingUrl = listing.url;
      const b = browser;

      await t.step(
        "the index renders with its stylesheet and images",
        async () => {
          const { page, responses } = await newPage(b);
          const response = await page.goto(demoUrl, { waitUntil: "load" });
          assert.equal(response?.status(), 200);
          assert.equal(
            await page.title(),
            "pws — a small static web server for Deno",
          );
          const styles = await inPage<{ body: string; h1: string | null }>(
            page,
            `({
              body: getComputedStyle(document.body).backgroundColor,
              h1: document.querySelector("h1") &&
                getComputedStyle(document.querySelector("h1")).color,
            })`,
          );
          assert.equal(styles.body, "rgb(247, 245, 240)");
          assert.equal(styles.h1, "rgb(31, 78, 121)");

          const images = await inPage<
            { src: string; complete: boolean; naturalWidth: number }[]
          >(
            page,
            `[...document.images].map((img) => ({
              src: new URL(img.src).pathname,
              complete: img.complete,
              naturalWidth: img.naturalWidth,
            }))`,
          );
          for (const src of ["/images/logo.svg", "/images/server.png"]) {
            const img = images.find((i) => i.src === src);
            assert.ok(img, `${src} is on the page`);
            assert.ok(img.complete, `${src} finished loading`);
            assert.ok(img.naturalWidth > 0, `${src} decoded`);
          }
          for (
            const path of [
              "/style.css",
              "/images/logo.svg",
              "/images/server.png",
            ]
          ) {
            assert.equal(responses.get(path)?.status(), 200, path);
          }
          assert.match(
            (await responses.get("/images/server.png")!.allHeaders())[
              "content-type"
            ] ?? "",
            /^image\/png/,
          );
          await page.screenshot({
            path: `${OUTPUT_DIR}/index.png`,
            fullPage: true,
          });
          await page.context().close();
        },
      );

      await t.step("the browser receives compressed HTML and CSS", async () => {
        const { page, responses } = await newPage(b);
        await page.goto(demoUrl, { waitUntil: "load" });
        for (const path of ["/", "/style.css"]) {
          const response = responses.get(path);
          assert.ok(response, `${path} was fetched`);
          const headers = await response.allHeaders();
          const requestHeaders = await response.request().allHeaders();
          console.log(
            `${path}: Accept-Encoding "${
              requestHeaders["accept-encoding"]
            }" → Content-Encoding "${headers["content-encoding"]}"`,
          );
          assert.match(headers["content-encoding"] ?? "", /^(br|gzip|zstd)$/);
          assert.match(headers["vary"] ?? "", /Accept-Encoding/);
        }
        // Decoded correctly: the stylesheet applies.
        const bg = await inPage<string>(page, BODY_BACKGROUND);
        assert.equal(bg, "rgb(247, 245, 240)");
        await page.context().close();
      });

      await t.step(
        "a missing page shows NotFound.html with status 404",
        async () => {
          const { page } = await newPage(b);
          const response = await page.goto(`${demoUrl}no-such-page`, {
            waitUntil: "load",
          });
          assert.equal(response?.status(), 404);
          assert.equal(await page.title(), "404 — Page not found · pws");
          assert.equal(await page.textContent("h1"), "Page not found");
          // The 404 page is styled too (its stylesheet is a normal 200).
          const bg = await inPage<string>(page, BODY_BACKGROUND);
          assert.equal(bg, "rgb(247, 245, 240)");
          await page.screenshot({
            path: `${OUTPUT_DIR}/notfound.png`,
            fullPage: true,
          });
          // Its "home" button leads back.
          await page.getByRole("link", { name: "Go to the home page" }).click();
          await page.waitForURL(demoUrl);
          assert.equal(await page.textContent("h1"), "Serve a folder.");
          await page.context().close();
        },
      );

      await t.step(
        "links of the demo site work, /docs redirects to /docs/",
        async () => {
          const { page } = await newPage(b);
          await page.goto(demoUrl, { waitUntil: "load" });
          await page.getByRole("link", { name: "/docs", exact: true }).click();
          await page.waitForURL(`${demoUrl}docs/`);
          await page.goto(demoUrl, { waitUntil: "load" });
          await page.getByRole("link", { name: "About pws" }).click();
          await page.waitForURL(`${demoUrl}about.html`);
          await page.context().close();
        },
      );

      await t.step("a directory listing is navigable by clicking", async () => {
        const { page } = await newPage(b);
        const response = await page.goto(listingUrl, { waitUntil: "load" });
        assert.equal(response?.status(), 200);
        assert.equal(await page.title(), "Index of /");
        const names = await page.$$eval(
          "tbody a",
          (links) => links.map((a) => a.textContent),
        );
        // The root has no parent link; directories come first.
        assert.deepEqual(names, ["alpha/", "beta/", "readme.txt"]);

        await page.getByRole("link", { name: "beta/", exact: true }).click();
        await page.waitForURL(`${listingUrl}beta/`);
        assert.equal(await page.title(), "Index of /beta/");
        await page.screenshot({
          path: `${OUTPUT_DIR}/listing.png`,
          fullPage: true,
        });

        // A name with a space and non-ASCII letters.
        await page.getByRole("link", { name: "ça va.txt", exact: true })
          .click();
        await page.waitForURL(/%C3%A7a%20va\.txt$/);
        assert.equal(await page.textContent("body"), "ça va bien\n");
        await page.goBack();
        await page.waitForURL(`${listingUrl}beta/`);

        await page.getByRole("link", { name: "inner/", exact: true }).click();
        await page.waitForURL(`${listingUrl}beta/inner/`);
        await page.getByRole("link", { name: "hello world.txt", exact: true })
          .click();
        await page.waitForURL(`${listingUrl}beta/inner/hello%20world.txt`);
        assert.equal(
          await page.textContent("body"),
          "Hello from a clicked link.\n",
        );

        // And back up with the parent links.
        await page.goto(`${listingUrl}beta/inner/`, { waitUntil: "load" });
        await page.getByRole("link", { name: "../", exact: true }).click();
        await page.waitForURL(`${listingUrl}beta/`);
        await page.getByRole("link", { name: "../", exact: true }).click();
        await page.waitForURL(listingUrl);
        assert.equal(await page.title(), "Index of /");
        await page.context().close();
      });

      await t.step(
        "a cross-origin fetch works with --cors and a --header that also sets Access-Control-Allow-Origin",
        async () => {
          // Chromium refuses a response that carries the field twice
          // ("multiple values '*, *'"): pws must send it once.
          cors = startTestServer({
            root: STATIC_DIR,
            config: {
              cors: true,
              extraHeaders: [["Access-Control-Allow-Origin", "*"]],
            },
          });
          const { page } = await newPage(b);
          await page.goto(demoUrl, { waitUntil: "load" });
          const result = await inPage<string>(
            page,
            `fetch(${JSON.stringify(cors.url + "style.css")})
              .then((r) => r.status + " " + r.headers.get("etag"))
              .catch((e) => "refused: " + e)`,
          );
          assert.match(result, /^200 "/);
          await page.context().close();
        },
      );
    } finally {
      await browser?.close();
      await demo?.close();
      await cors?.close();
      await listing?.close();
      if (listingRoot !== undefined) {
        await Deno.remove(listingRoot, { recursive: true });
      }
    }
  },
});

Deno.test({
  name:
    "browser: the demo site over HTTPS from --tls-self-signed, a secure context, every asset over h2",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir(OUTPUT_DIR, { recursive: true });
    const data = await Deno.makeTempDir({ prefix: "pws-browser-data-" });
    const server = await spawnServer(
      ["--root", STATIC_DIR, "--quiet", "--tls-self-signed", "0"],
      { env: { XDG_DATA_HOME: data } },
    );
    let browser: Browser | undefined;
    try {
      // Trust for this browser only: the served certificate's key, as
      // Chromium's SPKI allow-list (it is issued by the local CA at start).
      const leaf = await servedCertificate(server.port);
      browser = await launchBrowser([
        `--ignore-certificate-errors-spki-list=${spkiHash(leaf)}`,
      ]);
      const { page, responses } = await newPage(browser);
      const url = `https://localhost:${server.port}/`;
      const response = await page.goto(url, { waitUntil: "load" });
      assert.equal(response?.status(), 200);
      const seen = await inPage<
        {
          secure: boolean;
          protocol: string;
          background: string;
          hops: string[];
        }
      >(
        page,
        `({
          secure: window.isSecureContext,
          protocol: location.protocol,
          background: ${BODY_BACKGROUND},
          hops: performance.getEntries()
            .filter((e) => "nextHopProtocol" in e)
            .map((e) => e.nextHopProtocol),
        })`,
      );
      assert.equal(seen.protocol, "https:");
      assert.equal(seen.secure, true, "a secure context");
      assert.equal(seen.background, "rgb(247, 245, 240)", "stylesheet applied");
      assert.ok(seen.hops.length >= 3, `resources: ${seen.hops}`);
      // ALPN chose HTTP/2 for the page and every asset it loaded.
      assert.deepEqual(
        [...new Set(seen.hops)],
        ["h2"],
        `protocols: ${seen.hops}`,
      );
      for (const path of ["/style.css", "/images/server.png"]) {
        assert.equal(responses.get(path)?.status(), 200, path);
      }
      const security = await response!.securityDetails();
      const tlsVersion = String(security?.protocol ?? "");
      assert.ok(
        tlsVersion === "TLS 1.3" || tlsVersion === "TLS 1.2",
        `protocol ${tlsVersion}`,
      );
      await page.screenshot({ path: `${OUTPUT_DIR}/https-index.png` });
      await page.context().close();
    } finally {
      await browser?.close();
      await server.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});
