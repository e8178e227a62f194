/**
 * `--tls-self-signed`: zero-setup HTTPS for development and the LAN. A
 * local certificate authority is made once and kept in the user's data
 * directory (`ca.crt`, and `ca.key` created with mode 0600), so that trust
 * given to it once survives restarts; every start issues a fresh server
 * certificate from it, in memory only (`tls/leaf.ts`).
 *
 * Every failure is one line for the operator; a CA key that group or others
 * may read is refused, since whoever read it can impersonate any site to
 * every browser that trusts the CA.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import {
  createPrivateKey,
  createPublicKey,
  X509Certificate,
} from "node:crypto";
import { readErrorReason } from "./pem.ts";
import { joinPath, publish, readIfPresent } from "./store.ts";
import {
  CLOCK_SKEW_MS,
  ECDSA_P256,
  type InterfaceAddress,
  issueLeaf,
  type Issuer,
  randomSerial,
} from "./leaf.ts";
import { type CertificateFacts, certificateFacts } from "./certs.ts";
import { caOwner, defaultDataDir, trustInstruction } from "./data_dir.ts";

/** The local CA, ready to sign. */
export interface LocalCa extends Issuer {
  /** Path of `ca.crt`, the file to trust. */
  certPath: string;
  /** Path of `ca.key`. */
  keyPath: string;
  /** SHA-256 of the CA certificate, colon-separated hex (as `openssl`). */
  fingerprint256: string;
  /** Whether this call made the CA (false: it was loaded). */
  created: boolean;
}

/**
 * What `--tls-self-signed` needs: where, for whom, and which names. Every
 * field defaults to what this machine says.
 */
export interface SelfSignedOptions {
  /** Directory of the CA files; defaults to `defaultDataDir()`. */
  dataDir?: string;
  /** The machine's hostname; defaults to `Deno.hostname()`. */
  hostname?: string;
  /** The LAN addresses; defaults to `Deno.networkInterfaces()`. */
  addresses?: readonly InterfaceAddress[];
  /** Whose CA it is, for its name; defaults to `user@hostname`. */
  owner?: string;
  /** Operating system, for the trust instruction; defaults to this one. */
  os?: typeof Deno.build.os;
  /** The time to issue at; defaults to now. */
  now?: Date;
}

/** A server certificate from the local CA, and what to tell the user. */
export interface SelfSignedCertificate {
  /** PEM: the leaf, then the CA certificate. */
  cert: string;
  /** PEM: the leaf's private key. */
  key: string;
  /** The leaf's subject, names, validity and fingerprint. */
  facts: CertificateFacts;
  /** Path of the CA certificate to trust. */
  caPath: string;
  /** SHA-256 fingerprint of the CA certificate. */
  caFingerprint: string;
  /** Whether the CA was made by this call (so it is not trusted yet). */
  caCreated: boolean;
  /** One line: how to make this machine trust the CA. */
  trustInstruction: string;
}

/** A value, or the one line that says why there is none. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** CA validity: ten years, so trust given once lasts. */
export const CA_VALIDITY_DAYS = 3650;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Attempts when another pws makes the same CA at the same moment. */
const PUBLISH_ATTEMPTS = 4;

/**
 * Loads the local CA from `options.dataDir`, making it first if absent, and
 * issues a server certificate from it for this machine's names.
 */
export async function selfSignedCertificate(
  options: SelfSignedOptions = {},
): Promise<Outcome<SelfSignedCertificate>> {
  const os = options.os ?? Deno.build.os;
  const dataDir = options.dataDir ?? defaultDataDir(os, Deno.env.get);
  if (dataDir === undefined) {
    return fail(
      "cannot tell where to keep the local CA: " +
        (os === "windows" ? "LOCALAPPDATA" : "HOME") + " is not set",
    );
  }
  const hostname = options.hostname ?? machineHostname();
  const owner = options.owner ?? caOwner(Deno.env.get, hostname);
  const ca = await loadOrCreateLocalCa(dataDir, owner, { now: options.now });
  if (!ca.ok) return ca;
  const leaf = await issueLeaf(ca.value, {
    hostname,
    addresses: options.addresses ?? machineAddresses(),
    now: options.now,
  });
  return {
    ok: true,
    value: {
      cert: leaf.cert,
      key: leaf.key,
      facts: certificateFacts(new X509Certificate(leaf.cert)),
      caPath: ca.value.certPath,
      caFingerprint: ca.value.fingerprint256,
      caCreated: ca.value.created,
      trustInstruction: trustInstruction(os, ca.value.certPath),
    },
  };
}

/**
 * The CA kept in `dir`: loaded when `ca.crt` and `ca.key` are there and
 * sound, made (and written) when neither is. Files are published by
 * hard-linking a complete temporary file into place, which fails rather
 * than replaces, so two pws starting at once end up sharing one CA.
 * `owner` goes into a new CA's name; `options.now` is the time to check
 * validity and issue at (defaults to now).
 */
export async function loadOrCreateLocalCa(
  dir: string,
  owner: string,
  options: { now?: Date } = {},
): Promise<Outcome<LocalCa>> {
  const certPath = joinPath(dir, "ca.crt");
  const keyPath = joinPath(dir, "ca.key");
  // Windows has no mode bits: %LOCALAPPDATA% is private to its user.
  const checkMode = Deno.build.os !== "windows";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    return fail(`local CA directory ${dir}: ${readErrorReason(error)}`);
  }
  for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
    const key = await readIfPresent(keyPath, "local CA key");
    if (typeof key === "string") return fail(key);
    const cert = await readIfPresent(certPath, "local CA certificate");
    if (typeof cert === "string") return fail(cert);

    if (key !== undefined && checkMode && (key.mode & 0o077) !== 0) {
      return fail(
        `local CA key ${keyPath} has mode ${octal(key.mode)}: group or ` +
          `others may read it, so pws refuses it; if no one has, run ` +
          `chmod 600 ${keyPath}, else delete ${keyPath} and ${certPath} ` +
          `to make a new CA`,
      );
    }
    if (key === undefined && cert !== undefined) {
      return fail(
        `local CA certificate ${certPath} has no key beside it (${keyPath}); ` +
          `delete ${certPath} to make a new CA`,
      );
    }
    const privateKey = key === undefined
      ? await newCaKey(keyPath)
      : await importCaKey(keyPath, key.text);
    if (privateKey === undefined) continue; // another pws wrote it first
    if (typeof privateKey === "string") return fail(privateKey);

    const now = options.now ?? new Date();
    if (cert !== undefined) {
      const checked = checkCaCertificate(
        certPath,
        keyPath,
        cert.text,
        key?.text ?? "",
        now,
      );
      if (!checked.ok) return checked;
      return {
        ok: true,
        value: {
          certificate: checked.value.certificate,
          privateKey: privateKey.signing,
          certPath,
          keyPath,
          fingerprint256: checked.value.fingerprint256,
          created: false,
        },
      };
    }
    const certificate = await newCaCertificate(privateKey, owner, now);
    const pem = certificate.toString("pem") + "\n";
    try {
      if (!await publish(certPath, pem, 0o644)) continue;
    } catch (error) {
      return fail(
        `local CA certificate ${certPath}: ${readErrorReason(error)}`,
      );
    }
    return {
      ok: true,
      value: {
        certificate,
        privateKey: privateKey.signing,
        certPath,
        keyPath,
        fingerprint256: new X509Certificate(pem).fingerprint256,
        created: true,
      },
    };
  }
  return fail(
    `local CA in ${dir}: its files kept changing while pws read them; ` +
      `is another program writing there?`,
  );
}

/** The CA key pair: WebCrypto keys, public half for the certificate. */
interface CaKeys {
  signing: CryptoKey;
  public: CryptoKey;
}

/**
 * Generates a CA key and publishes it as `keyPath` (mode 0600 from its
 * creation). Undefined when another process published one first; an error
 * line when writing fails.
 */
async function newCaKey(keyPath: string): Promise<CaKeys | string | undefined> {
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, [
    "sign",
    "verify",
  ]);
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  const pem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n";
  try {
    if (!await publish(keyPath, pem, 0o600)) return undefined;
  } catch (error) {
    return `local CA key ${keyPath}: ${readErrorReason(error)}`;
  }
  return { signing: keys.privateKey, public: keys.publicKey };
}

/** Reads the CA key in `pem` for signing; an error line if it is not one. */
async function importCaKey(
  keyPath: string,
  pem: string,
): Promise<CaKeys | string> {
  try {
    const privateKey = createPrivateKey(pem);
    if (
      privateKey.asymmetricKeyType === "ec" &&
      privateKey.asymmetricKeyDetails?.namedCurve === "prime256v1"
    ) {
      const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
      const spki = createPublicKey(privateKey).export({
        type: "spki",
        format: "der",
      });
      return {
        signing: await crypto.subtle.importKey(
          "pkcs8",
          new Uint8Array(pkcs8),
          ECDSA_P256,
          false,
          ["sign"],
        ),
        public: await crypto.subtle.importKey(
          "spki",
          new Uint8Array(spki),
          ECDSA_P256,
          true,
          ["verify"],
        ),
      };
    }
  } catch {
    // Falls through to the one line below: no stack trace for the user.
  }
  return `local CA key ${keyPath} is not a valid ECDSA P-256 private key; ` +
    `delete it and the ca.crt beside it to make a new CA`;
}

/**
 * Checks the stored CA certificate: that it parses, is a CA, is still
 * valid and belongs to the key in `keyPem`. Returns it with its
 * fingerprint, or the line saying what is wrong and what to do.
 */
function checkCaCertificate(
  certPath: string,
  keyPath: string,
  certPem: string,
  keyPem: string,
  now: Date,
): Outcome<{ certificate: x509.X509Certificate; fingerprint256: string }> {
  const remake = `delete ${certPath} and ${keyPath} to make a new CA (and ` +
    `trust the new one)`;
  let parsed: X509Certificate;
  let certificate: x509.X509Certificate;
  try {
    parsed = new X509Certificate(certPem);
    certificate = new x509.X509Certificate(certPem);
  } catch {
    return fail(
      `local CA certificate ${certPath} is corrupt (not a PEM ` +
        `certificate); ${remake}`,
    );
  }
  if (!parsed.ca) {
    return fail(
      `local CA certificate ${certPath} is not a CA certificate; ${remake}`,
    );
  }
  if (!parsed.checkPrivateKey(createPrivateKey(keyPem))) {
    return fail(
      `local CA key ${keyPath} does not match the certificate ${certPath}; ` +
        remake,
    );
  }
  if (now.getTime() > certificate.notAfter.getTime()) {
    return fail(
      `local CA certificate ${certPath} expired on ` +
        `${certificate.notAfter.toISOString()}; ${remake}`,
    );
  }
  return {
    ok: true,
    value: { certificate, fingerprint256: parsed.fingerprint256 },
  };
}

/**
 * A self-signed CA certificate for `keys`: `pws local CA (owner)`, CA:TRUE
 * with path length 0 (it signs server certificates only), for keyCertSign
 * and cRLSign, valid for ten years.
 */
async function newCaCertificate(
  keys: CaKeys,
  owner: string,
  now: Date,
): Promise<x509.X509Certificate> {
  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [`pws local CA (${owner})`] }],
    issuer: [{ CN: [`pws local CA (${owner})`] }],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    publicKey: keys.public,
    signingKey: keys.signing,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.public),
    ],
  });
}

/** Permission bits as `chmod` writes them: `0644`. */
function octal(mode: number): string {
  return "0" + (mode & 0o777).toString(8).padStart(3, "0");
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

/** This machine's hostname, or "localhost" when Deno may not ask. */
function machineHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/** This machine's addresses, or none when Deno may not ask. */
function machineAddresses(): readonly InterfaceAddress[] {
  try {
    return Deno.networkInterfaces();
  } catch {
    return [];
  }
}
