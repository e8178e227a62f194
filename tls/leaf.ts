/**
 * The server certificate that `--tls-self-signed` issues from the local CA
 * at every start, in memory only: ECDSA P-256, valid for 90 days (browsers
 * refuse more than 397), for the names a browser may use to reach this
 * machine: `localhost`, the loopback addresses, the hostname and the LAN
 * addresses.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** The CA that signs: its certificate and its private key. */
export interface Issuer {
  /** The CA certificate. */
  certificate: x509.X509Certificate;
  /** The CA's private key (ECDSA P-256), usable for signing. */
  privateKey: CryptoKey;
}

/** An address as `Deno.networkInterfaces()` reports it. */
export interface InterfaceAddress {
  /** `192.168.1.20`, `2001:db8::1`, possibly with a `%scope`. */
  address: string;
}

/** What names the leaf is for, and when. */
export interface LeafOptions {
  /** The machine's hostname (`Deno.hostname()`). */
  hostname: string;
  /** The machine's addresses (`Deno.networkInterfaces()`). */
  addresses: readonly InterfaceAddress[];
  /** The time to issue at; defaults to now. */
  now?: Date;
}

/** A leaf certificate and its key, as PEM for `Deno.listenTls`. */
export interface IssuedLeaf {
  /** The leaf, then the CA certificate, so clients receive the chain. */
  cert: string;
  /** The leaf's PKCS#8 private key. */
  key: string;
  /** End of validity. */
  notAfter: Date;
}

/** ECDSA on P-256 with SHA-256, for keys and signatures alike. */
export const ECDSA_P256 = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;

/**
 * Validity of a leaf: well below the 397 days browsers accept, and above
 * the 60 days under which TLS scanners (testssl.sh) warn of expiry.
 */
export const LEAF_VALIDITY_DAYS = 90;
/** notBefore lies this far back, so a client whose clock lags accepts it. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Issues a fresh leaf (new key, random serial) signed by `issuer`. */
export async function issueLeaf(
  issuer: Issuer,
  options: LeafOptions,
): Promise<IssuedLeaf> {
  const now = options.now ?? new Date();
  const names = leafNames(options.hostname, options.addresses);
  const keys = await crypto.subtle.generateKey(ECDSA_P256, true, [
    "sign",
    "verify",
  ]);
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  // A leaf must not outlive the CA that vouches for it.
  const notAfter = new Date(Math.min(
    now.getTime() + LEAF_VALIDITY_DAYS * DAY_MS,
    issuer.certificate.notAfter.getTime(),
  ));
  const caKeyId = issuer.certificate.getExtension(
    x509.SubjectKeyIdentifierExtension,
  )?.keyId;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [names.dns[1] ?? "localhost"] }],
    issuer: issuer.certificate.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: "dns" as const, value })),
        ...names.ip.map((value) => ({ type: "ip" as const, value })),
      ]),
      caKeyId === undefined
        ? await x509.AuthorityKeyIdentifierExtension.create(
          issuer.certificate.publicKey,
        )
        : new x509.AuthorityKeyIdentifierExtension(caKeyId),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    cert: leaf.toString("pem") + "\n" + issuer.certificate.toString("pem") +
      "\n",
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
    notAfter,
  };
}

/** The DNS names and IP addresses a leaf is issued for. */
export interface LeafNames {
  /** `localhost` first, then the hostname (and `<hostname>.local`). */
  dns: string[];
  /** `127.0.0.1` and `::1` first, then the machine's other addresses. */
  ip: string[];
}

/**
 * The names a leaf covers: `localhost`, `127.0.0.1`, `::1`, the hostname
 * when it is a valid DNS name (and, when it has no dot, its mDNS form
 * `<hostname>.local`, which LAN browsers often use), and every address of
 * `addresses` except IPv6 link-local ones (`fe80::/10`: they need a zone
 * that URLs cannot carry to a certificate check), without duplicates.
 */
export function leafNames(
  hostname: string,
  addresses: readonly InterfaceAddress[],
): LeafNames {
  const dns = new Set(["localhost"]);
  const host = hostname.toLowerCase();
  if (isDnsName(host)) {
    dns.add(host);
    if (!host.includes(".")) dns.add(host + ".local");
  }
  const ip = new Set(["127.0.0.1", "::1"]);
  for (const { address } of addresses) {
    const percent = address.indexOf("%");
    const bare = (percent < 0 ? address : address.slice(0, percent))
      .toLowerCase();
    if (bare === "" || isLinkLocalIpv6(bare)) continue;
    ip.add(bare);
  }
  return { dns: [...dns], ip: [...ip] };
}

/** True for an IPv6 address in fe80::/10 (fe80: through febf:). */
export function isLinkLocalIpv6(address: string): boolean {
  // The first group must be four digits: "fe8::" is 0fe8, not link-local.
  if (address.indexOf(":") !== 4) return false;
  const prefix = address.slice(0, 3).toLowerCase();
  return prefix.startsWith("fe") && "89ab".includes(prefix[2]);
}

/**
 * True for a hostname that fits a certificate's DNS name: dot-separated
 * labels of ASCII letters, digits and inner hyphens, 63 bytes each at most,
 * 253 in all.
 */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  let labelStart = 0;
  for (let i = 0; i <= name.length; i++) {
    const code = i < name.length ? name.charCodeAt(i) : 0x2e;
    if (code === 0x2e /* . */) {
      const length = i - labelStart;
      if (length === 0 || length > 63) return false;
      if (name[labelStart] === "-" || name[i - 1] === "-") return false;
      labelStart = i + 1;
    } else if (
      !(code >= 0x61 && code <= 0x7a) && !(code >= 0x41 && code <= 0x5a) &&
      !(code >= 0x30 && code <= 0x39) && code !== 0x2d
    ) {
      return false;
    }
  }
  return true;
}

/**
 * A random certificate serial: 16 bytes as hex, the first below 0x80 so
 * the number is positive and nonzero.
 */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Positive (top bit clear) and without a leading zero nibble, so that
  // every serial is exactly 16 bytes and 32 hex digits when printed.
  bytes[0] = (bytes[0] & 0x3f) | 0x40;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
