/**
 * What the browser tests share: Debian's headless Chromium driven by
 * playwright-core (never a browser downloaded by a tool), pages that
 * record their responses, and trust for a TLS server's certificate.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import {
  type Browser,
  chromium,
  type Page,
  type Response,
} from "playwright-core";
import { REPO_DIR } from "./helpers.ts";

/** Debian's Chromium: the only browser the tests use. */
export const CHROMIUM = "/usr/bin/chromium";
/** Where screenshots go (gitignored). */
export const OUTPUT_DIR = `${REPO_DIR}/test-output`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when Chromium is installed; browser tests are skipped otherwise. */
export const hasChromium: boolean = exists(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `${CHROMIUM} is missing, so the browser tests are ` +
      `skipped. Install Debian's chromium (apt-get install chromium), or run ` +
      `"deno task test", which installs it.`,
  );
}

/** Launches headless Chromium with the flags that keep it offline. */
export function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...extraArgs,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
      "--disable-quic",
    ],
    timeout: 30_000,
  });
}

/** A fresh light-scheme page whose responses are recorded by path. */
export async function newPage(
  browser: Browser,
): Promise<{ page: Page; responses: Map<string, Response> }> {
  const context = await browser.newContext({
    colorScheme: "light",
    viewport: { width: 1100, height: 800 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(10_000);
  const responses = new Map<string, Response>();
  page.on("response", (response) => {
    responses.set(new URL(response.url()).pathname, response);
  });
  return { page, responses };
}

/**
 * Evaluates a JavaScript expression in the page. Browser code is kept in
 * strings: this project type-checks without the DOM library.
 */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/**
 * The SPKI hash Chromium's `--ignore-certificate-errors-spki-list` takes:
 * base64 of SHA-256 over the certificate's public key (DER SPKI).
 */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({
    type: "spki",
    format: "der",
  });
  return createHash("sha256").update(spki).digest("base64");
}

/** The leaf certificate a TLS server presents (via openssl s_client). */
export async function servedCertificate(port: number): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "localhost",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const begin = text.indexOf("-----BEGIN CERTIFICATE-----");
  const end = text.indexOf("-----END CERTIFICATE-----");
  assert.ok(begin >= 0 && end > begin, "openssl showed the certificate");
  return text.slice(begin, end + "-----END CERTIFICATE-----".length) + "\n";
}
