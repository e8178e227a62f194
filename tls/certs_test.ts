/**
 * `--tls-cert` / `--tls-key` loading: every refusal is one line naming the
 * file, every key format Deno.listenTls takes loads, and what loads
 * completes a real TLS handshake. Fixtures are made with `openssl` (and
 * pws's own local CA for certificates with chosen dates) in a temp dir.
 */

import assert from "node:assert/strict";
import {
  describeCertificate,
  loadCertificateFiles,
  splitAltNames,
} from "./certs.ts";
import { issueLeaf } from "./leaf.ts";
import { loadOrCreateLocalCa } from "./local_ca.ts";
import { tlsHandshakeText } from "./test_helpers.ts";

const DIR = await Deno.makeTempDir({ prefix: "pws_certs_test_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(DIR, { recursive: true });
});

/** Runs openssl in DIR; throws with its stderr when it fails. */
async function openssl(...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: DIR,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

const path = (name: string) => `${DIR}/${name}`;
const read = (name: string) => Deno.readTextFileSync(path(name));

/** A self-signed server certificate (CA:FALSE) for localhost. */
async function selfSigned(keyName: string, certName: string): Promise<void> {
  await openssl(
    ...["req", "-x509", "-key", keyName, "-out", certName, "-days", "2"],
    ...["-subj", "/CN=localhost/O=pws tests, certs"],
    ...["-addext", "basicConstraints=critical,CA:FALSE"],
    ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
  );
}

// Keys in the three formats Deno.listenTls takes, and their certificates.
await openssl(
  ...["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  ...["-out", "pkcs8.key"],
);
await selfSigned("pkcs8.key", "pkcs8.crt");
// `ecparam -genkey` writes an EC PARAMETERS block before the SEC1 key.
await openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.key");
await selfSigned("sec1.key", "sec1.crt");
await openssl("genrsa", "-traditional", "-out", "pkcs1.key", "2048");
await selfSigned("pkcs1.key", "pkcs1.crt");

// A root, an intermediate and a leaf it issued.
Deno.writeTextFileSync(
  path("ca.ext"),
  "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n",
);
Deno.writeTextFileSync(
  path("leaf.ext"),
  "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n" +
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
);
await openssl(
  ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  ...["-nodes", "-keyout", "root.key", "-out", "root.crt", "-days", "2"],
  ...["-subj", "/CN=pws test root"],
);
for (
  const [name, issuer, ext] of [["inter", "root", "ca"], [
    "leaf",
    "inter",
    "leaf",
  ]]
) {
  await openssl(
    ...["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    ...["-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`],
    ...["-subj", `/CN=pws test ${name}`],
  );
  await openssl(
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.crt`],
    ...["-CAkey", `${issuer}.key`, "-set_serial", "7", "-days", "2"],
    ...["-extfile", `${ext}.ext`, "-out", `${name}.crt`],
  );
}
Deno.writeTextFileSync(path("chain.pem"), read("leaf.crt") + read("inter.crt"));
Deno.writeTextFileSync(
  path("reversed.pem"),
  read("inter.crt") + read("leaf.crt"),
);

/** Loads `cert` and `key` (names in DIR) and returns the error line. */
async function refusal(cert: string, key: string): Promise<string> {
  const result = await loadCertificateFiles(path(cert), path(key));
  assert.equal(result.ok, false, `${cert} + ${key} should be refused`);
  const { error } = result as { error: string };
  assert.ok(!error.includes("\n"), `one line: ${error}`);
  assert.ok(!error.includes("    at "), `no stack trace: ${error}`);
  return error;
}

/** Asserts `error` names the file and says `problem`. */
function says(error: string, file: string, problem: string): void {
  assert.ok(error.includes(path(file)), `names ${file}: ${error}`);
  assert.ok(error.includes(problem), `says "${problem}": ${error}`);
}

Deno.test("certs: a missing certificate or key file is named", async () => {
  says(await refusal("none.crt", "pkcs8.key"), "none.crt", "not found");
  says(await refusal("pkcs8.crt", "none.key"), "none.key", "not found");
  says(
    await refusal("pkcs8.crt", "none.key"),
    "none.key",
    "private key file",
  );
});

Deno.test("certs: a directory is refused as one", async () => {
  Deno.mkdirSync(path("a-dir"), { recursive: true });
  says(await refusal("a-dir", "pkcs8.key"), "a-dir", "is a directory");
  says(await refusal("pkcs8.crt", "a-dir"), "a-dir", "is a directory");
});

Deno.test("certs: an unreadable file says permission denied", async () => {
  let unreadable = path("unreadable.key");
  Deno.writeTextFileSync(unreadable, read("pkcs8.key"));
  Deno.chmodSync(unreadable, 0o000);
  if (Deno.uid() === 0) {
    // root reads any mode-000 file; sysctl files without a read bit are
    // refused even to root.
    unreadable = "/proc/sys/vm/compact_memory";
  }
  const result = await loadCertificateFiles(path("pkcs8.crt"), unreadable);
  assert.equal(result.ok, false);
  const { error } = result as { error: string };
  assert.ok(error.includes(unreadable), error);
  assert.ok(error.includes("permission denied"), error);
});

Deno.test("certs: a FIFO is refused at once, not waited on", async () => {
  const fifo = path("fifo.crt");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const loading = refusal("fifo.crt", "pkcs8.key");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = await Promise.race([
    loading.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), 3000);
    }),
  ]);
  clearTimeout(timer);
  if (waited) {
    // Give the stuck reader a writer, so the test ends instead of hanging.
    Deno.openSync(fifo, { write: true }).close();
    await loading.catch(() => {});
  }
  assert.equal(waited, false, "loading waited on the FIFO");
  says(await loading, "fifo.crt", "not a regular");
});

Deno.test("certs: empty, blank and oversized files are refused", async () => {
  Deno.writeTextFileSync(path("empty.crt"), "");
  Deno.writeTextFileSync(path("blank.key"), " \r\n\n\t");
  Deno.writeTextFileSync(path("huge.crt"), "A".repeat(1024 * 1024 + 1));
  says(await refusal("empty.crt", "pkcs8.key"), "empty.crt", "is empty");
  says(await refusal("pkcs8.crt", "blank.key"), "blank.key", "is empty");
  says(await refusal("huge.crt", "pkcs8.key"), "huge.crt", "is larger");
});

Deno.test("certs: text that is not PEM, and DER, are told apart", async () => {
  Deno.writeTextFileSync(path("text.crt"), "hello, I am not a certificate\n");
  await openssl(
    "x509",
    "-in",
    "pkcs8.crt",
    "-outform",
    "der",
    "-out",
    "der.crt",
  );
  says(await refusal("text.crt", "pkcs8.key"), "text.crt", "is not PEM");
  says(
    await refusal("der.crt", "pkcs8.key"),
    "der.crt",
    `binary DER, not PEM; convert it with: openssl x509 -inform der -in ${
      path("der.crt")
    } -out ${path("der.crt")}.pem`,
  );
  says(await refusal("pkcs8.crt", "text.crt"), "text.crt", "is not PEM");
});

Deno.test("certs: swapped files say what they hold instead", async () => {
  const noCert = await refusal("pkcs8.key", "pkcs8.crt");
  says(noCert, "pkcs8.key", "holds no certificate");
  says(noCert, "pkcs8.key", "PRIVATE KEY");
  const noKey = await refusal("pkcs8.crt", "pkcs8.crt");
  says(noKey, "pkcs8.crt", "holds no private key");
  says(noKey, "pkcs8.crt", "certificate file?");
});

Deno.test("certs: a key that does not match the certificate", async () => {
  // Another EC key, and a key of another type.
  says(await refusal("pkcs8.crt", "sec1.key"), "sec1.key", "does not match");
  says(await refusal("pkcs8.crt", "pkcs1.key"), "pkcs1.key", "does not match");
  // The key of the intermediate: the chain is in the wrong order.
  says(await refusal("reversed.pem", "leaf.key"), "leaf.key", "certificate 2");
});

Deno.test("certs: an encrypted key is refused as unsupported", async () => {
  await openssl(
    ...["pkcs8", "-topk8", "-in", "pkcs8.key", "-out", "enc8.key"],
    ...["-passout", "pass:secret"],
  );
  await openssl(
    ...["ec", "-in", "sec1.key", "-aes128", "-out", "legacy.key"],
    ...["-passout", "pass:secret"],
  );
  says(await refusal("pkcs8.crt", "enc8.key"), "enc8.key", "encrypted");
  says(await refusal("sec1.crt", "legacy.key"), "legacy.key", "encrypted");
  says(
    await refusal("sec1.crt", "legacy.key"),
    "legacy.key",
    "does not support",
  );
});

Deno.test("certs: a corrupt certificate block is refused", async () => {
  Deno.writeTextFileSync(
    path("corrupt.crt"),
    "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG\n-----END CERTIFICATE-----\n",
  );
  says(await refusal("corrupt.crt", "pkcs8.key"), "corrupt.crt", "corrupt");
});

Deno.test("certs: PKCS#8, SEC1 and PKCS#1 keys load and serve TLS", async () => {
  for (
    const [name, label] of [
      ["pkcs8", "PRIVATE KEY"],
      ["sec1", "EC PRIVATE KEY"],
      ["pkcs1", "RSA PRIVATE KEY"],
    ]
  ) {
    const result = await loadCertificateFiles(
      path(`${name}.crt`),
      path(`${name}.key`),
    );
    assert.ok(result.ok, JSON.stringify(result));
    const { loaded } = result;
    // Only the key block is handed on (not SEC1's EC PARAMETERS).
    assert.ok(loaded.key.startsWith(`-----BEGIN ${label}-----`), loaded.key);
    assert.equal(loaded.chainLength, 1);
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.facts.subject, [
      "CN=localhost",
      "O=pws tests, certs",
    ]);
    assert.deepEqual(loaded.facts.subjectAltNames, [
      "DNS:localhost",
      "IP:127.0.0.1",
    ]);
    const text = await tlsHandshakeText(loaded, [read(`${name}.crt`)]);
    assert.equal(text, "hello over TLS");
  }
});

Deno.test("certs: a chain loads and clients verify it to the root", async () => {
  const result = await loadCertificateFiles(
    path("chain.pem"),
    path("leaf.key"),
  );
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.loaded.chainLength, 2);
  assert.deepEqual(result.loaded.warnings, []);
  assert.deepEqual(result.loaded.facts.issuer, ["CN=pws test inter"]);
  // Only the root is trusted: the intermediate must come from the server.
  const text = await tlsHandshakeText(result.loaded, [read("root.crt")]);
  assert.equal(text, "hello over TLS");
});

Deno.test("certs: a chain in the wrong order loads with a warning", async () => {
  const result = await loadCertificateFiles(
    path("reversed.pem"),
    path("inter.key"),
  );
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.loaded.warnings.length, 1);
  assert.ok(result.loaded.warnings[0].includes("is not the issuer"));
});

Deno.test("certs: a file holding both certificate and key serves as both", async () => {
  Deno.writeTextFileSync(
    path("both.pem"),
    read("pkcs8.key") + read("pkcs8.crt"),
  );
  const result = await loadCertificateFiles(path("both.pem"), path("both.pem"));
  assert.ok(result.ok, JSON.stringify(result));
  assert.ok(!result.loaded.cert.includes("PRIVATE KEY"));
  assert.ok(!result.loaded.key.includes("CERTIFICATE"));
});

Deno.test("certs: expired and not-yet-valid certificates load with a warning", async () => {
  const ca = await loadOrCreateLocalCa(path("dated-ca"), "tests@certs");
  assert.ok(ca.ok, JSON.stringify(ca));
  const day = 24 * 60 * 60 * 1000;
  for (
    const [name, issuedAt, warning] of [
      ["expired", new Date(Date.now() - 120 * day), "expired on"],
      ["future", new Date(Date.now() + 2 * day), "is not valid until"],
    ] as const
  ) {
    const leaf = await issueLeaf(ca.value, {
      hostname: "localhost",
      addresses: [],
      now: issuedAt,
    });
    Deno.writeTextFileSync(path(`${name}.crt`), leaf.cert);
    Deno.writeTextFileSync(path(`${name}.key`), leaf.key);
    const result = await loadCertificateFiles(
      path(`${name}.crt`),
      path(`${name}.key`),
    );
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.loaded.warnings.length, 1, name);
    const [line] = result.loaded.warnings;
    assert.ok(line.includes(warning), line);
    assert.ok(line.includes(path(`${name}.crt`)), line);
    assert.ok(!line.includes("\n"));
  }
});

Deno.test("certs: a CA certificate served as a leaf loads with a warning", async () => {
  const result = await loadCertificateFiles(
    path("root.crt"),
    path("root.key"),
  );
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.loaded.warnings.length, 1);
  assert.ok(result.loaded.warnings[0].includes("CA:TRUE"));
});

Deno.test("certs: the description is short and stable", async () => {
  const result = await loadCertificateFiles(
    path("pkcs8.crt"),
    path("pkcs8.key"),
  );
  assert.ok(result.ok);
  const { facts } = result.loaded;
  const description = describeCertificate(facts);
  assert.equal(
    description,
    `CN=localhost, expires ${
      facts.notAfter.toISOString().slice(0, 19)
    }Z, SHA-256 ${facts.fingerprint256}`,
  );
  assert.equal(facts.fingerprint256.length, 32 * 3 - 1);
  assert.equal(
    describeCertificate({ ...facts, subject: [] }).split(",")[0],
    "DNS:localhost",
  );
});

Deno.test("certs: alternative names split as node prints them", () => {
  assert.deepEqual(
    splitAltNames(
      'DNS:a.example, IP Address:::1, DNS:"b, c", email:x@y.z',
    ),
    ["DNS:a.example", "IP:::1", 'DNS:"b, c"', "email:x@y.z"],
  );
  assert.deepEqual(splitAltNames(""), []);
});
