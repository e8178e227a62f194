/**
 * The certificate and private key of `--tls-cert FILE --tls-key FILE`:
 * read, checked with `node:crypto`, and handed back as PEM ready for
 * `Deno.listenTls({ cert, key })`, or refused with one line that names the
 * file and says what is wrong with it.
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import {
  describeLabels,
  type PemBlock,
  pemBlocks,
  readPemFile,
} from "./pem.ts";

/** What the banner and the logs say about a certificate. */
export interface CertificateFacts {
  /** Distinguished name, one attribute per entry: `["CN=localhost"]`. */
  subject: string[];
  /** The issuer's distinguished name, as `subject`. */
  issuer: string[];
  /** Subject alternative names as OpenSSL prints them: `DNS:localhost`. */
  subjectAltNames: string[];
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** SHA-256 of the DER, colon-separated uppercase hex (as `openssl`). */
  fingerprint256: string;
}

/** A certificate chain and its key, checked and ready for `listenTls`. */
export interface LoadedCertificate {
  /** PEM certificates: the server's own first, then its issuers. */
  cert: string;
  /** The PEM private key of the first certificate. */
  key: string;
  /** Facts about the server's own certificate. */
  facts: CertificateFacts;
  /** Number of certificates in `cert`. */
  chainLength: number;
  /** Lines to print before serving anyway (such as an expired certificate). */
  warnings: string[];
}

/** A loaded certificate, or the one line that says why there is none. */
export type CertificateLoad =
  | { ok: true; loaded: LoadedCertificate }
  | { ok: false; error: string };

/** Key types `Deno.listenTls` (rustls) can sign a handshake with. */
const SUPPORTED_KEY_TYPES = new Set(["ec", "rsa", "ed25519"]);

/** PEM labels of unencrypted private keys: PKCS#8, SEC1 and PKCS#1. */
const KEY_LABELS = new Set([
  "PRIVATE KEY",
  "EC PRIVATE KEY",
  "RSA PRIVATE KEY",
]);

/**
 * Reads and checks a certificate file (PEM; the server's certificate first,
 * then any intermediates) and a private key file (PEM: PKCS#8, SEC1 or
 * PKCS#1, unencrypted). Every refusal is one line naming the file. A
 * certificate outside its validity at `now` still loads, with a warning.
 */
export async function loadCertificateFiles(
  certPath: string,
  keyPath: string,
  now: Date = new Date(),
): Promise<CertificateLoad> {
  const certFile = await readPemFile(certPath, "certificate file");
  if (!certFile.ok) return certFile;
  const keyFile = await readPemFile(keyPath, "private key file");
  if (!keyFile.ok) return keyFile;

  const chain = parseChain(certPath, pemBlocks(certFile.text), certFile.text);
  if (!chain.ok) return chain;
  const key = parseKey(keyPath, pemBlocks(keyFile.text), keyFile.text);
  if (!key.ok) return key;

  const [leaf] = chain.certificates;
  if (!matches(leaf, key.keyObject)) {
    const other = chain.certificates.findIndex((c) =>
      matches(c, key.keyObject)
    );
    return {
      ok: false,
      error: other > 0
        ? `private key file ${keyPath} belongs to certificate ${other + 1} ` +
          `of ${certPath}, not the first: the server's own certificate ` +
          `must come first, then its issuers`
        : `private key file ${keyPath} does not match the certificate in ` +
          `${certPath}`,
    };
  }
  const facts = certificateFacts(leaf);
  return {
    ok: true,
    loaded: {
      cert: chain.blocks.map((block) => block.text).join(""),
      key: key.block.text,
      facts,
      chainLength: chain.certificates.length,
      warnings: chainWarnings(certPath, chain.certificates, now),
    },
  };
}

type ParsedChain =
  | { ok: true; blocks: PemBlock[]; certificates: X509Certificate[] }
  | { ok: false; error: string };

/** The CERTIFICATE blocks of a certificate file, each parsed. */
function parseChain(path: string, all: PemBlock[], text: string): ParsedChain {
  const fail = (problem: string): ParsedChain => ({
    ok: false,
    error: `certificate file ${path}: ${problem}`,
  });
  if (all.length === 0) return fail(notPem(path, text, "x509"));
  const blocks = all.filter((block) => block.label === "CERTIFICATE");
  if (blocks.length === 0) {
    const isKey = all.some((block) => block.label.endsWith("PRIVATE KEY"));
    return fail(
      `holds no certificate (it holds: ${describeLabels(all)})` +
        (isKey ? "; is it the key file?" : ""),
    );
  }
  const certificates: X509Certificate[] = [];
  for (const [index, block] of blocks.entries()) {
    try {
      certificates.push(new X509Certificate(block.text));
    } catch {
      return fail(
        `certificate ${index + 1} in it is corrupt (not a valid X.509 ` +
          `certificate)`,
      );
    }
  }
  return { ok: true, blocks, certificates };
}

type ParsedKey =
  | { ok: true; block: PemBlock; keyObject: KeyObject }
  | { ok: false; error: string };

/** The one unencrypted private key block of a key file, parsed. */
function parseKey(path: string, all: PemBlock[], text: string): ParsedKey {
  const fail = (problem: string): ParsedKey => ({
    ok: false,
    error: `private key file ${path}: ${problem}`,
  });
  if (all.length === 0) return fail(notPem(path, text, "pkey"));
  if (
    all.some((block) =>
      block.label === "ENCRYPTED PRIVATE KEY" ||
      (KEY_LABELS.has(block.label) && block.encrypted)
    )
  ) {
    return fail(
      "the key is encrypted with a passphrase, which pws does not support; " +
        `decrypt it with: openssl pkey -in ${path} -out DECRYPTED.key`,
    );
  }
  const keys = all.filter((block) => KEY_LABELS.has(block.label));
  if (keys.length === 0) {
    const isCert = all.some((block) => block.label === "CERTIFICATE");
    return fail(
      `holds no private key (it holds: ${describeLabels(all)})` +
        (isCert ? "; is it the certificate file?" : ""),
    );
  }
  if (keys.length > 1) {
    return fail(`holds ${keys.length} private keys; it must hold one`);
  }
  const [block] = keys;
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(block.text);
  } catch {
    return fail(`the ${block.label} in it is corrupt (not a valid key)`);
  }
  const type = keyObject.asymmetricKeyType ?? "unknown";
  if (!SUPPORTED_KEY_TYPES.has(type)) {
    return fail(`holds a ${type} key; pws needs an ECDSA, RSA or Ed25519 key`);
  }
  return { ok: true, block, keyObject };
}

/**
 * Why a file without a single PEM block is not PEM; DER (binary, starting
 * with an ASN.1 SEQUENCE) gets the command that converts it.
 */
function notPem(path: string, text: string, tool: "x509" | "pkey"): string {
  const der = text.charCodeAt(0) === 0x30 && text.includes("\uFFFD");
  return der
    ? `is binary DER, not PEM; convert it with: openssl ${tool} -inform der ` +
      `-in ${path} -out ${path}.pem`
    : 'is not PEM (no "-----BEGIN" line)';
}

/** Whether `key` is the private half of `certificate`'s public key. */
function matches(certificate: X509Certificate, key: KeyObject): boolean {
  try {
    return certificate.checkPrivateKey(key);
  } catch {
    // Different key types (an RSA key for an EC certificate) throw.
    return false;
  }
}

/** Lines to print about a chain that loads but that clients may refuse. */
function chainWarnings(
  path: string,
  chain: readonly X509Certificate[],
  now: Date,
): string[] {
  const warnings: string[] = [];
  const [leaf] = chain;
  const from = new Date(leaf.validFrom);
  const to = new Date(leaf.validTo);
  if (now.getTime() > to.getTime()) {
    warnings.push(
      `certificate in ${path} expired on ${isoSeconds(to)}: clients will ` +
        `refuse it`,
    );
  } else if (now.getTime() < from.getTime()) {
    warnings.push(
      `certificate in ${path} is not valid until ${isoSeconds(from)} ` +
        `(check the clock): clients will refuse it until then`,
    );
  }
  if (leaf.ca && chain.length === 1) {
    warnings.push(
      `certificate in ${path} is a CA certificate (basicConstraints ` +
        `CA:TRUE): some clients (rustls, as in Deno) refuse it as a ` +
        `server's certificate`,
    );
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i].checkIssued(chain[i + 1])) {
      warnings.push(
        `certificate ${i + 2} in ${path} is not the issuer of certificate ` +
          `${i + 1}: clients may fail to build the chain (order it: the ` +
          `server's certificate, then each issuer)`,
      );
    }
  }
  return warnings;
}

/** The facts the banner and logs show about `certificate`. */
export function certificateFacts(
  certificate: X509Certificate,
): CertificateFacts {
  return {
    subject: certificate.subject === "" ? [] : certificate.subject.split("\n"),
    issuer: certificate.issuer === "" ? [] : certificate.issuer.split("\n"),
    subjectAltNames: splitAltNames(certificate.subjectAltName ?? ""),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    fingerprint256: certificate.fingerprint256,
  };
}

/**
 * Splits `node:crypto`'s `subjectAltName` ("DNS:a, IP Address:::1") into
 * its entries, keeping together a value that node quoted because it holds
 * ", ", and writes `IP Address:` as OpenSSL's shorter `IP:`.
 */
export function splitAltNames(value: string): string[] {
  const names: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= value.length; i++) {
    const code = value.charCodeAt(i);
    if (quoted) {
      if (code === 0x5c /* \ */) i++;
      else if (code === 0x22 /* " */) quoted = false;
    } else if (code === 0x22) {
      quoted = true;
    } else if (i === value.length || (code === 0x2c && value[i + 1] === " ")) {
      const name = value.slice(start, i);
      if (name !== "") {
        names.push(
          name.startsWith("IP Address:") ? "IP:" + name.slice(11) : name,
        );
      }
      start = i + 2;
    }
  }
  return names;
}

/**
 * A short, stable description of a certificate for the banner and logs:
 * `CN=localhost, expires 2026-12-30T14:41:04Z, SHA-256 A4:6F:…:C6`.
 * Without a common name, the first subject alternative name stands in.
 */
export function describeCertificate(facts: CertificateFacts): string {
  const name = facts.subject.find((entry) => entry.startsWith("CN=")) ??
    facts.subjectAltNames[0] ?? facts.subject[0] ?? "no subject";
  return `${name}, expires ${isoSeconds(facts.notAfter)}, SHA-256 ` +
    facts.fingerprint256;
}

/** `2026-12-30T14:41:04Z`: an ISO 8601 instant without milliseconds. */
function isoSeconds(date: Date): string {
  return date.toISOString().slice(0, 19) + "Z";
}
