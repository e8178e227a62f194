/**
 * Start-up: the users of `--auth USER:PASS` and `--auth-file FILE` made
 * into one list (passwords kept only as digests), the warnings to print,
 * and the check that warns when passwords would cross the network in
 * clear text.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type AuthUser, parseHtpasswd } from "./htpasswd.ts";

/** What the command line asked for (see `server/cli.ts`). */
export interface AuthSources {
  /** `--auth USER:PASS`, in order. */
  pairs: { user: string; password: string }[];
  /** `--auth-file FILE`, in order. */
  files: string[];
}

/** The outcome of {@linkcode loadAuthUsers}. */
export type AuthLoadResult =
  | { kind: "ok"; users: AuthUser[]; warnings: string[] }
  | { kind: "error"; message: string };

/** Reads a file's bytes; `Deno.readFileSync` outside tests. */
export type ReadFile = (path: string) => Uint8Array;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Builds the users from `sources`: each `--auth` password becomes its
 * SHA-256 digest, each file is read and parsed. Every problem (an
 * unreadable file, a refused line, a user defined twice) is one line for
 * the operator, naming the file and line.
 */
export function loadAuthUsers(
  sources: AuthSources,
  readFile: ReadFile = Deno.readFileSync,
): AuthLoadResult {
  const users: AuthUser[] = [];
  const warnings: string[] = [];
  const sourceOf = new Map<string, string>();
  const add = (user: AuthUser): string | undefined => {
    const earlier = sourceOf.get(user.user);
    if (earlier !== undefined) {
      return `user ${JSON.stringify(user.user)} is defined twice ` +
        `(${earlier} and ${user.source})`;
    }
    sourceOf.set(user.user, user.source);
    users.push(user);
    return undefined;
  };
  for (const { user, password } of sources.pairs) {
    const digest = createHash("sha256").update(password, "utf8").digest(
      "base64",
    );
    const twice = add({
      user,
      secret: { kind: "sha256", digest },
      source: "--auth",
    });
    if (twice !== undefined) return { kind: "error", message: twice };
  }
  for (const file of sources.files) {
    const text = readText(file, readFile);
    if (text.kind === "error") return text;
    const parsed = parseHtpasswd(text.text, file);
    if (parsed.kind === "error") return parsed;
    warnings.push(...parsed.warnings);
    for (const user of parsed.users) {
      const twice = add(user);
      if (twice !== undefined) return { kind: "error", message: twice };
    }
  }
  return { kind: "ok", users, warnings };
}

/** Reads `file` as UTF-8 text, or says in one line why it cannot. */
function readText(
  file: string,
  readFile: ReadFile,
): { kind: "ok"; text: string } | { kind: "error"; message: string } {
  const fail = (why: string) => ({
    kind: "error" as const,
    message: `cannot read --auth-file ${JSON.stringify(file)}: ${why}`,
  });
  let bytes: Uint8Array;
  try {
    bytes = readFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return fail("no such file");
    if (err instanceof Deno.errors.IsADirectory) {
      return fail("it is a directory");
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      return fail("permission denied");
    }
    if (err instanceof Deno.errors.NotCapable) {
      return fail("run deno with --allow-read");
    }
    const message = err instanceof Error ? err.message : String(err);
    return fail(message.split("\n")[0]);
  }
  try {
    return { kind: "ok", text: utf8.decode(bytes) };
  } catch {
    return fail("it is not UTF-8 text");
  }
}

/** Where the server listens, as far as the clear-text warning cares. */
export interface ListenSecurity {
  /** The address bound (`--host`). */
  host: string;
  /** True when connections are TLS. */
  tls: boolean;
}

/** True for an address only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]")
    ? host.slice(1, -1)
    : host;
  return bare === "localhost" || bare === "::1" ||
    bare === "0:0:0:0:0:0:0:1" || bare.startsWith("127.");
}

/**
 * The warning to print when passwords would travel in clear text over a
 * network (Basic credentials are only base64: anyone on the path reads
 * them), or undefined when connections are TLS or stay on this machine.
 */
export function cleartextAuthWarning(
  listen: ListenSecurity,
): string | undefined {
  if (listen.tls || isLoopbackHost(listen.host)) return undefined;
  return `passwords are sent in clear text on ${listen.host}: anyone on ` +
    `the network path can read them; serve over TLS, or bind --host ` +
    `127.0.0.1 behind a TLS proxy`;
}
