/**
 * `--tls-self-signed`: the local CA is made once with safe modes, reused,
 * refused when unsafe or damaged, and the leaves it issues satisfy
 * `openssl verify`, `curl` and `Deno.connectTls`.
 */

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describeCertificate } from "./certs.ts";
import { loadOrCreateLocalCa, selfSignedCertificate } from "./local_ca.ts";
import { runCommand, tlsHandshakeText } from "./test_helpers.ts";

const ROOT = await Deno.makeTempDir({ prefix: "pws_local_ca_test_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(ROOT, { recursive: true });
});
let dirs = 0;
/** A fresh, not yet existing data directory under ROOT. */
const freshDir = () => `${ROOT}/data${++dirs}/pws`;

const LAN = [
  { address: "192.0.2.7" },
  { address: "fe80::1c2:3ff:fe04:506%eth0" },
  { address: "2001:db8::5" },
  { address: "127.0.0.1" },
];
const isPosix = Deno.build.os !== "windows";

/** Issues from the CA in `dataDir`, for host "devbox" on LAN above. */
async function issue(dataDir: string) {
  const result = await selfSignedCertificate({
    dataDir,
    hostname: "devbox",
    addresses: LAN,
    owner: "alice@devbox",
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result.value;
}

/** The first PEM block of `pem` (the leaf of a chain). */
function firstCertificate(pem: string): string {
  const end = "-----END CERTIFICATE-----";
  return pem.slice(0, pem.indexOf(end) + end.length) + "\n";
}

Deno.test("local CA: made once, ca.key 0600, ca.crt 0644", async () => {
  const dir = freshDir();
  const issued = await issue(dir);
  assert.equal(issued.caCreated, true);
  assert.equal(issued.caPath, `${dir}/ca.crt`);
  if (isPosix) {
    assert.equal(Deno.statSync(`${dir}/ca.key`).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
    const certMode = Deno.statSync(`${dir}/ca.crt`).mode! & 0o777;
    assert.equal(certMode & 0o622, 0o600, certMode.toString(8));
  }
  // No temporary file is left behind.
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
    ["ca.crt", "ca.key"],
  );
  const ca = new X509Certificate(Deno.readFileSync(issued.caPath));
  assert.equal(issued.caFingerprint, ca.fingerprint256);
  const opensslPrint = await runCommand("openssl", [
    ...["x509", "-in", issued.caPath, "-noout", "-fingerprint", "-sha256"],
  ]);
  assert.equal(
    opensslPrint.stdout.trim(),
    `sha256 Fingerprint=${issued.caFingerprint}`,
  );
});

Deno.test("local CA: a restart reuses it; each start has a new leaf", async () => {
  const dir = freshDir();
  const first = await issue(dir);
  const caText = Deno.readTextFileSync(`${dir}/ca.crt`);
  const keyText = Deno.readTextFileSync(`${dir}/ca.key`);
  const second = await issue(dir);
  assert.equal(second.caCreated, false);
  assert.equal(second.caFingerprint, first.caFingerprint);
  assert.equal(Deno.readTextFileSync(`${dir}/ca.crt`), caText);
  assert.equal(Deno.readTextFileSync(`${dir}/ca.key`), keyText);
  assert.notEqual(second.key, first.key);
  assert.notEqual(firstCertificate(second.cert), firstCertificate(first.cert));
});

Deno.test("local CA: pws starting twice at once shares one CA", async () => {
  for (let round = 0; round < 4; round++) {
    const dir = freshDir();
    const results = await Promise.all(
      [1, 2, 3].map(() => loadOrCreateLocalCa(dir, "alice@devbox")),
    );
    const prints = results.map((result) => {
      assert.ok(result.ok, JSON.stringify(result));
      return result.value.fingerprint256;
    });
    assert.deepEqual(new Set(prints).size, 1, prints.join(" "));
    const stored = new X509Certificate(Deno.readFileSync(`${dir}/ca.crt`));
    assert.equal(prints[0], stored.fingerprint256);
    // The stored key belongs to the stored certificate.
    assert.ok((await issue(dir)).caCreated === false);
  }
});

Deno.test("local CA: openssl verifies the leaf and shows its extensions", async () => {
  const dir = freshDir();
  const issued = await issue(dir);
  const leafPath = `${dir}/../leaf.pem`;
  Deno.writeTextFileSync(leafPath, firstCertificate(issued.cert));
  const verify = await runCommand("openssl", [
    ...["verify", "-x509_strict", "-purpose", "sslserver"],
    ...["-CAfile", issued.caPath, leafPath],
  ]);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  assert.ok(verify.stdout.includes(": OK"), verify.stdout);

  const leaf = (await runCommand("openssl", [
    ...["x509", "-in", leafPath, "-noout", "-text"],
  ])).stdout;
  for (
    const expected of [
      "Issuer: CN = pws local CA (alice@devbox)",
      "X509v3 Key Usage: critical\n                Digital Signature\n",
      "X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n",
      "X509v3 Authority Key Identifier",
      "DNS:localhost, DNS:devbox, DNS:devbox.local, IP Address:127.0.0.1, " +
      "IP Address:0:0:0:0:0:0:0:1, IP Address:192.0.2.7, " +
      "IP Address:2001:DB8:0:0:0:0:0:5\n",
    ]
  ) {
    assert.ok(leaf.includes(expected), `${expected} in\n${leaf}`);
  }
  assert.ok(!leaf.includes("FE80"), leaf);
  assert.deepEqual(issued.facts.subject, ["CN=devbox"]);
  assert.deepEqual(issued.facts.subjectAltNames, [
    "DNS:localhost",
    "DNS:devbox",
    "DNS:devbox.local",
    "IP:127.0.0.1",
    "IP:::1",
    "IP:192.0.2.7",
    "IP:2001:db8::5",
  ]);
  assert.ok(describeCertificate(issued.facts).startsWith("CN=devbox, "));
  const parsed = new X509Certificate(firstCertificate(issued.cert));
  const from = new Date(parsed.validFrom).getTime();
  const to = new Date(parsed.validTo).getTime();
  const now = Date.now();
  assert.ok(from <= now - 60_000, "notBefore is backdated");
  assert.ok(from >= now - 60 * 60_000, "by minutes, not hours");
  assert.ok(to - from <= 397 * 86_400_000, "browsers accept ≤ 397 days");
  assert.ok(to - now >= 7 * 86_400_000, "long enough to be useful");
  // A random serial of 16 bytes (32 hex digits).
  assert.equal(parsed.serialNumber.length, 32);

  const ca = (await runCommand("openssl", [
    ...["x509", "-in", issued.caPath, "-noout", "-text"],
  ])).stdout;
  for (
    const expected of [
      "Subject: CN = pws local CA (alice@devbox)",
      "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0\n",
      "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n",
      "X509v3 Subject Key Identifier",
      "Public-Key: (256 bit)",
      "NIST CURVE: P-256",
    ]
  ) {
    assert.ok(ca.includes(expected), `${expected} in\n${ca}`);
  }
  const caCert = new X509Certificate(Deno.readFileSync(issued.caPath));
  const years = (new Date(caCert.validTo).getTime() - now) / 365.25 /
    86_400_000;
  assert.ok(years > 9.9 && years < 10.1, `${years} years`);
});

Deno.test("local CA: curl and Deno trust the leaf through ca.crt", async () => {
  const dir = freshDir();
  const issued = await issue(dir);
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: issued.cert,
    key: issued.key,
  });
  const port = listener.addr.port;
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        const buffer = new Uint8Array(4096);
        await conn.read(buffer);
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n" +
            "hello TLS",
        ));
      } catch {
        // A client that gave up: the test's assertions say so.
      } finally {
        conn.close();
      }
    }
  })();
  try {
    for (const host of ["localhost", "127.0.0.1"]) {
      const curl = await runCommand("curl", [
        ...["-sS", "--max-time", "10", "--cacert", issued.caPath],
        ...["--resolve", `localhost:${port}:127.0.0.1`],
        `https://${host}:${port}/`,
      ]);
      assert.equal(curl.code, 0, `${host}: ${curl.stderr}`);
      assert.equal(curl.stdout, "hello TLS");
    }
    // Without the CA, curl refuses: the test above proves trust, not luck.
    const untrusted = await runCommand("curl", [
      ...["-sS", "--max-time", "10", `https://127.0.0.1:${port}/`],
    ]);
    assert.notEqual(untrusted.code, 0);
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
  const caPem = Deno.readTextFileSync(issued.caPath);
  for (const name of ["127.0.0.1", "localhost", "devbox", "devbox.local"]) {
    assert.equal(
      await tlsHandshakeText(issued, [caPem], name),
      "hello over TLS",
    );
  }
  await assert.rejects(tlsHandshakeText(issued, [caPem], "example.com"));
});

Deno.test({
  name: "local CA: a key that group or others may read is refused",
  ignore: !isPosix,
  fn: async () => {
    const dir = freshDir();
    await issue(dir);
    for (const mode of [0o640, 0o604, 0o644, 0o660]) {
      Deno.chmodSync(`${dir}/ca.key`, mode);
      const result = await selfSignedCertificate({
        dataDir: dir,
        hostname: "devbox",
        addresses: [],
        owner: "alice@devbox",
      });
      assert.equal(result.ok, false, mode.toString(8));
      const { error } = result as { error: string };
      assert.ok(error.includes(`${dir}/ca.key`), error);
      assert.ok(error.includes(`mode 0${mode.toString(8)}`), error);
      assert.ok(!error.includes("\n"), error);
    }
    Deno.chmodSync(`${dir}/ca.key`, 0o600);
    assert.equal((await issue(dir)).caCreated, false);
  },
});

/** The error line of issuing from `dir`, asserted to be one line. */
async function refusal(dir: string): Promise<string> {
  const result = await selfSignedCertificate({
    dataDir: dir,
    hostname: "devbox",
    addresses: [],
    owner: "alice@devbox",
  });
  assert.equal(result.ok, false);
  const { error } = result as { error: string };
  assert.ok(!error.includes("\n"), error);
  assert.ok(!error.includes("    at "), error);
  return error;
}

Deno.test("local CA: damaged files give one clear line", async () => {
  const dir = freshDir();
  await issue(dir);
  const goodCert = Deno.readTextFileSync(`${dir}/ca.crt`);
  const goodKey = Deno.readTextFileSync(`${dir}/ca.key`);

  Deno.writeTextFileSync(`${dir}/ca.crt`, "not a certificate at all\n");
  let error = await refusal(dir);
  assert.ok(error.includes(`${dir}/ca.crt is corrupt`), error);
  assert.ok(error.includes("delete"), error);

  Deno.writeTextFileSync(
    `${dir}/ca.crt`,
    goodCert.slice(0, 200) + "AAAA" + goodCert.slice(204),
  );
  error = await refusal(dir);
  assert.ok(error.includes(`${dir}/ca.crt is corrupt`), error);

  // Another CA's key beside this certificate.
  const other = freshDir();
  await issue(other);
  Deno.writeTextFileSync(`${dir}/ca.crt`, goodCert);
  Deno.writeTextFileSync(
    `${dir}/ca.key`,
    Deno.readTextFileSync(`${other}/ca.key`),
  );
  error = await refusal(dir);
  assert.ok(error.includes("does not match"), error);
  assert.ok(error.includes(`${dir}/ca.key`), error);

  Deno.writeTextFileSync(`${dir}/ca.key`, "garbage\n");
  error = await refusal(dir);
  assert.ok(error.includes(`${dir}/ca.key is not a valid`), error);

  // A certificate without its key is not silently replaced.
  Deno.removeSync(`${dir}/ca.key`);
  error = await refusal(dir);
  assert.ok(error.includes("has no key beside it"), error);
  assert.equal(Deno.readTextFileSync(`${dir}/ca.crt`), goodCert);

  // A key whose certificate was lost gets a new certificate.
  Deno.writeTextFileSync(`${dir}/ca.key`, goodKey, { mode: 0o600 });
  Deno.removeSync(`${dir}/ca.crt`);
  const remade = await issue(dir);
  assert.equal(remade.caCreated, true);
  assert.equal(Deno.readTextFileSync(`${dir}/ca.key`), goodKey);
});

Deno.test("local CA: a data directory that cannot be made is one line", async () => {
  const file = `${ROOT}/plain-file`;
  Deno.writeTextFileSync(file, "x");
  const error = await refusal(`${file}/pws`);
  assert.ok(error.includes(`${file}/pws`), error);
});

Deno.test("local CA: making the CA and a leaf takes well under a second", async () => {
  // Warm up the code paths once, then time a cold CA and a restart.
  await issue(freshDir());
  const dir = freshDir();
  let started = performance.now();
  await issue(dir);
  const create = performance.now() - started;
  started = performance.now();
  await issue(dir);
  const restart = performance.now() - started;
  assert.ok(create < 500, `creating took ${create} ms`);
  assert.ok(restart < 500, `restarting took ${restart} ms`);
});

Deno.test({
  name: "local CA: by default it lives in $XDG_DATA_HOME/pws",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const saved = Deno.env.get("XDG_DATA_HOME");
    const xdg = `${ROOT}/xdg`;
    Deno.env.set("XDG_DATA_HOME", xdg);
    try {
      const result = await selfSignedCertificate({ addresses: [] });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.value.caPath, `${xdg}/pws/ca.crt`);
      assert.ok(result.value.trustInstruction.includes(result.value.caPath));
    } finally {
      if (saved === undefined) Deno.env.delete("XDG_DATA_HOME");
      else Deno.env.set("XDG_DATA_HOME", saved);
    }
  },
});
