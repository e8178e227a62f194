/**
 * testssl.sh, the scanner people point at a server to grade its TLS, run
 * against `pws --tls-self-signed` on loopback. The scan is the quick subset
 * (`--fast`, protocols, server defaults, vulnerabilities, server
 * preferences): about a minute and a half here. The local CA is given to
 * the scan (`--add-ca`), so the chain of trust must check out. Every
 * finding of MEDIUM or worse must be one this file names and explains;
 * anything new fails the test.
 *
 * Skips with the reason when testssl.sh is not installed
 * (`tools/ensure_test_deps.ts` installs Debian's `testssl.sh`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { commandAvailable, spawnServer, STATIC_DIR } from "./helpers.ts";

/** One line of testssl.sh's flat JSON output. */
interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/**
 * Findings of MEDIUM or worse that a loopback server with a private CA is
 * expected to get, and why each is not a flaw of pws.
 */
const EXPECTED_FINDINGS: Readonly<Record<string, string>> = {
  // The local CA publishes neither CRL nor OCSP: it lives on one machine
  // and its leaves last 90 days, so there is no one to ask.
  cert_revocation: "a private CA has no revocation service",
  // Deno's rustls answers in the client's cipher order and offers no
  // setting; every suite it offers is AEAD with forward secrecy.
  cipher_order: "Deno gives no server cipher order (all suites are AEAD)",
  // BREACH needs a secret and attacker-chosen text in one compressed
  // body; a static file server reflects nothing from the request.
  BREACH: "static files reflect no request data",
};

const SEVERITY_RANK: Readonly<Record<string, number>> = {
  OK: 0,
  INFO: 0,
  LOW: 1,
  MEDIUM: 2,
  HIGH: 3,
  CRITICAL: 4,
};

const available = await commandAvailable("testssl");

Deno.test({
  name:
    "testssl.sh: only TLS 1.2/1.3, no vulnerability, no finding beyond the named ones",
  ignore: !available,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const data = Deno.makeTempDirSync({ prefix: "pws-testssl-" });
    const server = await spawnServer(
      ["--root", STATIC_DIR, "--quiet", "--tls-self-signed", "0"],
      { env: { XDG_DATA_HOME: data } },
    );
    try {
      const report = `${data}/report.json`;
      const scan = new Deno.Command("testssl", {
        args: [
          "--quiet",
          "--color",
          "0",
          "--warnings",
          "off",
          "--fast",
          "-p",
          "-S",
          "-U",
          "-P",
          "--add-ca",
          `${data}/pws/ca.crt`,
          "--jsonfile",
          report,
          `https://127.0.0.1:${server.port}/`,
        ],
        // Keep every probe on loopback, even the ones that look up peers.
        env: { NXCONNECT: "127.0.0.1:0" },
        stdout: "null",
        stderr: "piped",
        signal: AbortSignal.timeout(300_000),
      });
      const { stderr } = await scan.output();
      let findings: Finding[];
      try {
        findings = JSON.parse(Deno.readTextFileSync(report));
      } catch (error) {
        throw new Error(
          `testssl.sh wrote no report (${error}): ${
            new TextDecoder().decode(stderr).slice(0, 2000)
          }`,
        );
      }
      const byId = new Map(findings.map((f) => [f.id, f]));
      const finding = (id: string) => {
        const found = byId.get(id);
        assert.ok(found, `testssl.sh reported ${id}`);
        return found;
      };

      for (const old of ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]) {
        assert.match(finding(old).finding, /^not offered/, old);
      }
      assert.match(finding("TLS1_2").finding, /^offered/);
      assert.match(finding("TLS1_3").finding, /^offered/);
      for (
        const vulnerability of [
          "heartbleed",
          "CCS",
          "ticketbleed",
          "ROBOT",
          "secure_renego",
          "secure_client_renego",
          "CRIME_TLS",
          "POODLE_SSL",
          "SWEET32",
          "FREAK",
          "DROWN",
          "LOGJAM",
          "BEAST",
          "LUCKY13",
          "RC4",
        ]
      ) {
        const found = byId.get(vulnerability);
        if (found === undefined) continue; // --fast omits a few
        assert.ok(
          (SEVERITY_RANK[found.severity] ?? 0) <= 1,
          `${vulnerability}: ${found.severity} ${found.finding}`,
        );
      }

      const unexplained = findings.filter((f) =>
        (SEVERITY_RANK[f.severity] ?? 0) >= SEVERITY_RANK.MEDIUM &&
        !(f.id in EXPECTED_FINDINGS)
      );
      assert.deepEqual(
        unexplained.map((f) => `${f.id} ${f.severity}: ${f.finding}`),
        [],
      );
      // The scan reached the server: a served leaf from the local CA.
      assert.ok(findings.some((f) => f.id.startsWith("cert_")));
    } finally {
      await server.stop();
      Deno.removeSync(data, { recursive: true });
    }
  },
});
