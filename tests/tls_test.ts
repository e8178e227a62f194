/**
 * HTTPS: pws behind `Deno.listenTls`, talked to by real TLS clients (curl,
 * `openssl s_client`, Python's `ssl`), with HSTS, the cleartext redirect
 * listener, handshakes bounded by the header timeout, quiet handling of
 * failed handshakes, and certificates renewed while serving.
 *
 * The conformance and hostile-input suites also run over TLS as a whole:
 * `deno task test` runs them a second time with `PWS_TEST_TRANSPORT=tls`.
 */

import assert from "node:assert/strict";
import {
  commandAvailable,
  parseResponses,
  rawExchange,
  REPO_DIR,
  runCommand as run,
  type RunningServer,
  spawnServer,
  startTestServer,
  STATIC_DIR,
} from "./helpers.ts";
import { makeTestTls, type TestTls } from "./tls_fixture.ts";

const HAS_CURL = await commandAvailable("curl");
const HAS_OPENSSL = await commandAvailable("openssl");
const HAS_PYTHON = await commandAvailable("python3");
const decoder = new TextDecoder();
const INDEX = Deno.readTextFileSync(`${STATIC_DIR}/index.html`);

/** A temp file holding `text`, removed by the caller. */
function tempFile(text: string, suffix: string): string {
  const path = Deno.makeTempFileSync({ prefix: "pws-tls-", suffix });
  Deno.writeTextFileSync(path, text);
  return path;
}

async function withTlsServer(
  tls: TestTls,
  fn: (server: RunningServer) => Promise<void>,
  config: Parameters<typeof startTestServer>[0] = {},
): Promise<void> {
  const server = startTestServer({ ...config, tls });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

const TLS = await makeTestTls();

Deno.test({
  name: "https: curl with --cacert and with -k gets the demo index" +
    (HAS_CURL ? "" : " (skipped: curl is not installed)"),
  ignore: !HAS_CURL,
  async fn() {
    const ca = tempFile(TLS.ca, ".pem");
    try {
      await withTlsServer(TLS, async (server) => {
        for (const trust of [["--cacert", ca], ["-k"]]) {
          for (const host of ["localhost", "127.0.0.1"]) {
            const out = await run("curl", [
              "-sS",
              ...trust,
              `https://${host}:${server.port}/`,
            ]);
            assert.equal(out.code, 0, out.stderr);
            assert.equal(out.stdout, INDEX);
          }
        }
        // Without trust, curl refuses: the certificate is really checked.
        const untrusted = await run("curl", [
          "-sS",
          `https://localhost:${server.port}/`,
        ]);
        assert.notEqual(untrusted.code, 0);
      });
    } finally {
      Deno.removeSync(ca);
    }
  },
});

Deno.test({
  name:
    "https: openssl s_client sees ALPN, TLS 1.2 and 1.3 only, and the chain" +
    (HAS_OPENSSL ? "" : " (skipped: openssl is not installed)"),
  ignore: !HAS_OPENSSL,
  async fn() {
    await withTlsServer(TLS, async (server) => {
      const connect = (extra: string[]) =>
        run(
          "openssl",
          [
            "s_client",
            "-connect",
            `127.0.0.1:${server.port}`,
            "-servername",
            "localhost",
            ...extra,
          ],
          "",
        );
      // h2 is preferred when offered; a client that offers only http/1.1
      // gets it.
      const alpn = await connect(["-alpn", "h2,http/1.1", "-showcerts"]);
      assert.match(alpn.stdout, /ALPN protocol: h2/);
      const http1 = await connect(["-alpn", "http/1.1"]);
      assert.match(http1.stdout, /ALPN protocol: http\/1\.1/);
      // The chain: the server's certificate, then the CA.
      assert.match(alpn.stdout, /0 s:CN\s?=\s?localhost/);
      assert.match(alpn.stdout, /1 s:CN\s?=\s?pws test CA/);
      for (const version of ["-tls1_2", "-tls1_3"]) {
        const out = await connect([version]);
        assert.match(out.stdout, /Cipher is /, version);
        assert.doesNotMatch(out.stdout, /Cipher is \(NONE\)/, version);
      }
      for (const version of ["-tls1", "-tls1_1"]) {
        const out = await connect([version]);
        assert.ok(
          /Cipher is \(NONE\)|no protocols available|alert/i.test(
            out.stdout + out.stderr,
          ),
          `${version} was not refused: ${out.stdout.slice(0, 300)}`,
        );
      }
    });
  },
});

Deno.test({
  name: "https: Python's ssl module verifies the chain and gets the index" +
    (HAS_PYTHON ? "" : " (skipped: python3 is not installed)"),
  ignore: !HAS_PYTHON,
  async fn() {
    const ca = tempFile(TLS.ca, ".pem");
    try {
      await withTlsServer(TLS, async (server) => {
        const script = [
          "import http.client, ssl, sys",
          `ctx = ssl.create_default_context(cafile=${JSON.stringify(ca)})`,
          `c = http.client.HTTPSConnection("localhost", ${server.port}, context=ctx)`,
          'c.request("GET", "/about.html")',
          "r = c.getresponse()",
          "body = r.read()",
          "print(r.status, c.sock.version(), len(body))",
        ].join("\n");
        const out = await run("python3", ["-c", script]);
        assert.equal(out.code, 0, out.stderr);
        const [status, version, length] = out.stdout.trim().split(" ");
        assert.equal(status, "200");
        assert.ok(version === "TLSv1.3" || version === "TLSv1.2", version);
        assert.equal(
          Number(length),
          Deno.statSync(`${STATIC_DIR}/about.html`).size,
        );
      });
    } finally {
      Deno.removeSync(ca);
    }
  },
});

Deno.test("https: --hsts adds Strict-Transport-Security to every HTTPS response", async () => {
  await withTlsServer(TLS, async (server) => {
    const result = await rawExchange(
      server.port,
      [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
        "DELETE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      ].join(""),
      { tls: TLS },
    );
    const responses = parseResponses(result.bytes);
    assert.deepEqual(responses.map((r) => r.status), [200, 404, 405]);
    for (const response of responses) {
      assert.equal(
        response.header("strict-transport-security"),
        "max-age=31536000",
      );
    }
  }, { config: { hstsSeconds: 31536000 } });
});

Deno.test("https: the --redirect-http listener answers 308 to https:// and serves no file", async () => {
  const redirect = startTestServer({
    tls: false,
    config: { redirectToHttpsPort: 8443, hstsSeconds: 60 },
  });
  try {
    const ask = async (request: string) =>
      parseResponses(
        (await rawExchange(redirect.port, request, { tls: false })).bytes,
      )[0];
    const cases: [string, string][] = [
      [
        "GET /about.html?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "https://example.com:8443/about.html?x=1&y=%20",
      ],
      [
        "GET /a HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "https://example.com:8443/a",
      ],
      ["GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "https://[::1]:8443/"],
      [
        "GET http://other.example/p?q HTTP/1.1\r\nHost: site.example\r\n\r\n",
        "https://site.example:8443/p?q",
      ],
      [
        "GET //evil.example/x HTTP/1.1\r\nHost: site.example\r\n\r\n",
        "https://site.example:8443//evil.example/x",
      ],
    ];
    for (const [request, location] of cases) {
      const response = await ask(request);
      assert.equal(response.status, 308, request);
      assert.equal(response.header("location"), location, request);
      assert.equal(response.header("strict-transport-security"), undefined);
      assert.equal(response.header("etag"), undefined, "no file was served");
    }
    // A missing or invalid Host: nowhere to send the client.
    assert.equal((await ask("GET / HTTP/1.0\r\n\r\n")).status, 400);
    assert.equal(
      (await ask("GET / HTTP/1.1\r\nHost: a b\r\n\r\n")).status,
      400,
    );
    assert.equal((await ask("GET / HTTP/1.1\r\n\r\n")).status, 400);
  } finally {
    await redirect.close();
  }
});

Deno.test("https: a cleartext request to the TLS port is closed, counted and reported at most once a second", async () => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await withTlsServer(TLS, async (server) => {
      for (let i = 0; i < 20; i++) {
        const result = await rawExchange(
          server.port,
          "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
          { tls: false, timeoutMs: 3000 },
        );
        assert.ok(result.closedByServer, "closed");
        assert.ok(
          !decoder.decode(result.bytes).includes("HTTP/1.1"),
          "no HTTP answer in cleartext",
        );
      }
      // TLS clients are served as before.
      const ok = await rawExchange(
        server.port,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        { tls: TLS },
      );
      assert.equal(parseResponses(ok.bytes)[0].status, 200);
    });
  } finally {
    console.error = original;
  }
  const reports = lines.filter((l) => l.includes("TLS handshake"));
  assert.ok(reports.length >= 1 && reports.length <= 2, reports.join("\n"));
  assert.match(reports[0], /^pws: 1 TLS handshake failed/);
  assert.equal(lines.length, reports.length, lines.join("\n"));
});

Deno.test({
  name:
    "https: 1,000 clients that never finish the handshake do not delay a new client, and time out",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lines: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args.join(" "));
    const stalled: Deno.Conn[] = [];
    try {
      await withTlsServer(TLS, async (server) => {
        for (let i = 0; i < 1000; i++) {
          stalled.push(
            await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
          );
        }
        // Half of them send a few bytes of a handshake and stop.
        for (let i = 0; i < 500; i++) {
          await stalled[i].write(new Uint8Array([0x16, 0x03, 0x01, 0x00]));
        }
        await new Promise((r) => setTimeout(r, 100));
        const started = performance.now();
        const fresh = await rawExchange(
          server.port,
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
          { tls: TLS },
        );
        const took = performance.now() - started;
        assert.equal(parseResponses(fresh.bytes)[0].status, 200);
        console.log(
          `a new TLS client beside 1,000 stalled: ${took.toFixed(1)} ms`,
        );
        assert.ok(took < 500, `${took.toFixed(0)} ms`);
        // The header timeout (1 s here) closes the stalled ones.
        const deadline = Date.now() + 5000;
        while (server.connectionCount() > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(server.connectionCount(), 0);
      }, { config: { headerTimeoutMs: 1000 } });
    } finally {
      console.error = original;
      for (const conn of stalled) {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    }
    assert.ok(
      lines.some((l) => /no handshake within the header timeout/.test(l)),
      lines.join("\n"),
    );
  },
});

Deno.test("https: a renewed certificate reaches new connections while open ones go on", async () => {
  const renewed = await makeTestTls();
  await withTlsServer(TLS, async (server) => {
    // A keep-alive connection opened before the renewal.
    const before = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.port,
      caCerts: [TLS.ca],
    });
    const get = new TextEncoder().encode(
      "GET /about.html HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    const buf = new Uint8Array(64 * 1024);
    const readResponse = async (conn: Deno.Conn) => {
      let text = "";
      while (!text.includes("</html>")) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("closed");
        text += decoder.decode(buf.subarray(0, n));
      }
      return text;
    };
    await before.write(get);
    assert.match(await readResponse(before), /^HTTP\/1\.1 200 /);

    server.reloadTls({ cert: renewed.cert, key: renewed.key });

    // New connections trust only the renewed CA…
    await assert.rejects(
      rawExchange(server.port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", {
        tls: TLS,
        timeoutMs: 3000,
      }).then((r) => {
        if (r.bytes.length === 0) throw new Error("refused");
        return r;
      }),
    );
    const after = await rawExchange(
      server.port,
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      { tls: renewed },
    );
    assert.equal(parseResponses(after.bytes)[0].status, 200);
    // …while the connection from before still works.
    await before.write(get);
    assert.match(await readResponse(before), /^HTTP\/1\.1 200 /);
    before.close();
    // A broken pair is refused and the renewed one stays.
    assert.throws(() =>
      server.reloadTls({ cert: "not a certificate", key: renewed.key })
    );
    const still = await rawExchange(
      server.port,
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      { tls: renewed },
    );
    assert.equal(parseResponses(still.bytes)[0].status, 200);
  });
});

/** Writes the test pair to files in a new temp dir. */
function writePair(tls: TestTls): { dir: string; cert: string; key: string } {
  const dir = Deno.makeTempDirSync({ prefix: "pws-tls-files-" });
  Deno.writeTextFileSync(`${dir}/cert.pem`, tls.cert);
  Deno.writeTextFileSync(`${dir}/key.pem`, tls.key);
  return { dir, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

/** The certificate subject a TLS client sees, trusting only `ca`. */
async function servedBy(port: number, ca: string): Promise<boolean> {
  try {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [ca],
    });
    await conn.handshake();
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "https: the command line serves --tls-cert/--tls-key, renews on SIGHUP and on file change, keeps a broken pair out",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const first = writePair(TLS);
    const renewed = await makeTestTls();
    const third = await makeTestTls();
    const server = await spawnServer([
      "--root",
      STATIC_DIR,
      "--quiet",
      "--tls-cert",
      first.cert,
      "--tls-key",
      first.key,
      "0",
    ]);
    try {
      assert.match(server.startupLine, /serving .* on https:\/\//);
      assert.ok(await servedBy(server.port, TLS.ca));
      // A keep-alive connection from before the renewals.
      const before = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.port,
        caCerts: [TLS.ca],
      });
      const ask = new TextEncoder().encode(
        "GET /about.html HTTP/1.1\r\nHost: a\r\n\r\n",
      );
      await before.write(ask);
      const buf = new Uint8Array(64 * 1024);
      assert.ok((await before.read(buf))! > 0);

      // SIGHUP after the files were replaced.
      Deno.writeTextFileSync(first.cert, renewed.cert);
      Deno.writeTextFileSync(first.key, renewed.key);
      server.process.kill("SIGHUP");
      const deadline = Date.now() + 5000;
      while (
        !await servedBy(server.port, renewed.ca) && Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(await servedBy(server.port, renewed.ca), "renewed on SIGHUP");
      assert.ok(!await servedBy(server.port, TLS.ca), "the old one is gone");
      await before.write(ask);
      assert.ok((await before.read(buf))! > 0, "the old connection goes on");
      before.close();

      // A broken pair (the key of another certificate) is refused.
      Deno.writeTextFileSync(first.key, third.key);
      server.process.kill("SIGHUP");
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(await servedBy(server.port, renewed.ca), "kept the pair");

      // Fixed files are picked up without a signal.
      Deno.writeTextFileSync(first.cert, third.cert);
      const deadline2 = Date.now() + 6000;
      while (!await servedBy(server.port, third.ca) && Date.now() < deadline2) {
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(await servedBy(server.port, third.ca), "renewed on change");
      const { stderr } = await server.stop();
      assert.match(stderr, /certificate renewed \(SIGHUP\)/);
      assert.match(stderr, /kept the old certificate \(SIGHUP\): .*key.pem/);
      assert.match(stderr, /certificate renewed \(the files changed\)/);
    } finally {
      await server.stop();
      Deno.removeSync(first.dir, { recursive: true });
    }
  },
});

Deno.test("https: a missing or mismatched certificate is one line and exit 1", async () => {
  const files = writePair(TLS);
  const other = await makeTestTls();
  Deno.writeTextFileSync(`${files.dir}/other.key`, other.key);
  try {
    const cases: [string[], RegExp][] = [
      [
        ["--tls-cert", `${files.dir}/nope.pem`, "--tls-key", files.key],
        /nope\.pem.*not found/,
      ],
      [
        ["--tls-cert", files.cert, "--tls-key", `${files.dir}/other.key`],
        /other\.key.*match/,
      ],
      [["--tls-cert", files.key, "--tls-key", files.key], /key\.pem/],
    ];
    for (const [args, message] of cases) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "--root", STATIC_DIR, ...args, "0"],
        cwd: REPO_DIR,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = decoder.decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(stderr, message);
      assert.match(stderr, /^pws: /);
    }
  } finally {
    Deno.removeSync(files.dir, { recursive: true });
  }
});

Deno.test({
  name:
    "https: --tls-self-signed makes a CA once, reuses it, and says how to trust it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const data = Deno.makeTempDirSync({ prefix: "pws-data-" });
    try {
      const start = () =>
        spawnServer(
          ["--root", STATIC_DIR, "--quiet", "--tls-self-signed", "0"],
          {
            env: { XDG_DATA_HOME: data },
          },
        );
      const fingerprints: string[] = [];
      for (let i = 0; i < 2; i++) {
        const server = await start();
        try {
          const ca = Deno.readTextFileSync(`${data}/pws/ca.crt`);
          assert.ok(await servedBy(server.port, ca));
          assert.equal(
            Deno.statSync(`${data}/pws/ca.key`).mode! & 0o777,
            0o600,
          );
        } finally {
          const { stdout } = await server.stop();
          assert.match(stdout, new RegExp(`Local CA: +${data}/pws/ca\\.crt`));
          assert.match(stdout, /To trust it: /);
          fingerprints.push(/SHA-256: +([0-9A-F:]+)/.exec(stdout)![1]);
          assert.equal(stdout.includes("(made now)"), i === 0);
        }
      }
      assert.equal(fingerprints[0], fingerprints[1], "the CA is reused");
    } finally {
      Deno.removeSync(data, { recursive: true });
    }
  },
});

Deno.test({
  name: "https: --workers 2 serves TLS on every thread",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const files = writePair(TLS);
    const server = await spawnServer([
      "--root",
      STATIC_DIR,
      "--quiet",
      "--workers",
      "2",
      "--tls-cert",
      files.cert,
      "--tls-key",
      files.key,
      "0",
    ]);
    try {
      for (let i = 0; i < 40; i++) {
        const result = await rawExchange(
          server.port,
          "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
          { tls: TLS },
        );
        assert.equal(parseResponses(result.bytes)[0].status, 200);
      }
    } finally {
      await server.stop();
      Deno.removeSync(files.dir, { recursive: true });
    }
  },
});
