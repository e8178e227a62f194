/**
 * The command line, as a pure function from arguments to options or to a
 * message for the user.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isFieldValue } from "./http/request.ts";

/** Options the command line sets. */
export interface CliOptions {
  /** Port to listen on; 0 picks any free port. */
  port: number;
  /** Directory to serve, as given (resolved later). */
  root: string;
  /** Address to bind. */
  host: string;
  /** Cache-Control value for files, or undefined for the default. */
  cacheControl?: string;
}

/** The outcome of {@linkcode parseCommandLine}. */
export type CliResult =
  | { kind: "run"; options: CliOptions }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "usage-error"; message: string };

/** Default port when none is given. */
export const DEFAULT_PORT = 8000;

/** The help text printed by `--help`. */
export const USAGE = `Usage: pws [options] [PORT]

Serve the files of a directory over HTTP/1.1.

Arguments:
  PORT             port to listen on, 0-65535 (default ${DEFAULT_PORT}; 0 picks a free port)

Options:
  --root DIR       directory to serve (default ./static)
  --host ADDR      address to bind (default 0.0.0.0; IPv6 such as ::1 works)
  --cache-control VALUE
                   Cache-Control sent with files (default "no-cache": browsers
                   revalidate every use, answered cheaply with 304)
  -h, --help       show this help and exit
  -V, --version    show the version and exit

Examples:
  pws                      serve ./static on http://localhost:8000/
  pws 9000 --root ./public serve ./public on port 9000
  pws --host ::1 0         serve on IPv6 loopback, any free port
`;

/**
 * Parses `pws [options] [PORT]`. Never throws: bad input becomes a
 * one-line message saying what is wrong.
 */
export function parseCommandLine(args: string[]): CliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        root: { type: "string" },
        host: { type: "string" },
        "cache-control": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (err) {
    return usageError(describeParseError(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 1) {
    return usageError(
      `expected at most one PORT, got ${positionals.length}: ${
        positionals.join(" ")
      }`,
    );
  }
  let port = DEFAULT_PORT;
  if (positionals.length === 1) {
    const parsedPort = parsePort(positionals[0]);
    if (parsedPort === undefined) {
      return usageError(
        `invalid port "${positionals[0]}": use a whole number from 0 to 65535`,
      );
    }
    port = parsedPort;
  }
  const root = values.root ?? "./static";
  if (root === "") return usageError("--root needs a directory");
  const host = values.host ?? "0.0.0.0";
  if (host === "") return usageError("--host needs an address");
  const cacheControl = values["cache-control"];
  if (
    cacheControl !== undefined &&
    (cacheControl.trim() === "" || !isFieldValue(cacheControl) ||
      cacheControl !== cacheControl.trim())
  ) {
    return usageError(
      `invalid --cache-control "${cacheControl}": use a header value such ` +
        `as "public, max-age=3600"`,
    );
  }
  return { kind: "run", options: { port, root, host, cacheControl } };
}

/** Parses a port number: decimal digits only, 0–65535. */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function usageError(message: string): CliResult {
  return { kind: "usage-error", message };
}

/** Rewords node:util's parse errors into one short line. */
function describeParseError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const m = /'([^']+)'/.exec(message);
    return `unknown option ${m ? m[1] : ""}`.trim();
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const m = /'(--?[^' ]+)/.exec(message);
    return `option ${m ? m[1] : ""} needs a value`.replace("  ", " ");
  }
  return message.split("\n")[0];
}
