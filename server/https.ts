/**
 * The HTTPS side of the command line: getting the certificate (from
 * `--tls-cert`/`--tls-key` files, or issued by the local CA of
 * `--tls-self-signed`), the lines the banner says about it, and renewing
 * it while serving (on SIGHUP, and when the files change).
 *
 * @module
 */

import type { TlsSource } from "./cli.ts";
import type { TlsPair } from "./listeners.ts";
import { describeCertificate, loadCertificateFiles } from "../tls/certs.ts";

/** A certificate ready to serve, and what to tell the user about it. */
export interface PreparedTls {
  pair: TlsPair;
  /** Lines for the banner (on stdout with the URL). */
  banner: string[];
  /** Lines for stderr before serving (an expired certificate, say). */
  warnings: string[];
}

/** Gets the certificate `source` names, or the one line saying why not. */
export async function prepareTls(
  source: TlsSource,
): Promise<{ ok: true; value: PreparedTls } | { ok: false; error: string }> {
  if (source.kind === "files") {
    const loaded = await loadCertificateFiles(source.certPath, source.keyPath);
    if (!loaded.ok) return loaded;
    const { cert, key, facts, warnings } = loaded.loaded;
    return {
      ok: true,
      value: {
        pair: { cert, key },
        banner: [`  Certificate: ${describeCertificate(facts)}`],
        warnings,
      },
    };
  }
  // Loaded only here: the X.509 library costs about 200 ms at start-up.
  const { selfSignedCertificate } = await import("../tls/local_ca.ts");
  const issued = await selfSignedCertificate();
  if (!issued.ok) return issued;
  const { cert, key, caPath, caFingerprint, caCreated, trustInstruction } =
    issued.value;
  return {
    ok: true,
    value: {
      pair: { cert, key },
      banner: [
        `  Local CA:    ${caPath}${caCreated ? " (made now)" : ""}`,
        `  SHA-256:     ${caFingerprint}`,
        `  ${trustInstruction.charAt(0).toUpperCase()}${
          trustInstruction.slice(1)
        }`,
      ],
      warnings: [],
    },
  };
}

/** The state of a file as far as a renewal is concerned. */
function fileState(path: string): string {
  try {
    const info = Deno.statSync(path);
    return `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
  } catch {
    return "missing";
  }
}

/**
 * Watches the certificate and key files (polling their `stat`, which
 * follows the symlinks certbot and friends swap), and calls `onChange`
 * once they changed and then stayed the same for a whole interval: a
 * renewal that writes the two files one after the other is taken whole.
 * Returns a function that stops watching.
 */
export function watchCertificateFiles(
  certPath: string,
  keyPath: string,
  onChange: () => void,
  intervalMs = 1000,
): () => void {
  const read = () => fileState(certPath) + "|" + fileState(keyPath);
  let seen = read();
  let pending: string | undefined;
  const timer = setInterval(() => {
    const now = read();
    if (pending !== undefined) {
      if (now === pending) {
        pending = undefined;
        seen = now;
        onChange();
        return;
      }
      pending = now;
      return;
    }
    if (now !== seen) pending = now;
  }, intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
