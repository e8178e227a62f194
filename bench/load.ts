/**
 * The client side of the benchmark: the docroot with its test files and
 * the run's certificate, wrk runs pinned to the client CPU, curl checks of
 * single responses and `openssl s_client` checks of TLS sessions.
 *
 * @module
 */

import { run } from "./procs.ts";
import type { TlsFiles } from "./servers.ts";
import {
  type CurlOutput,
  parseChildTimes,
  parseCurlOutput,
  parseH2load,
  parseSClientSession,
  parseWrk,
  type SClientSession,
  type WrkResult,
} from "./stats.ts";

/** The CPU wrk is pinned to. */
export const CLIENT_CPU = 1;

/** Sizes of the test files, by name. */
export const FILES: Readonly<Record<string, number>> = {
  "1k.bin": 1024,
  "64k.bin": 64 * 1024,
  "1m.bin": 1024 * 1024,
  "100m.bin": 100 * 1024 * 1024,
};

/**
 * The byte range the `range` scenario asks of 100m.bin (64 KiB from the
 * middle, inclusive bounds), also what bench/ceiling.ts has ready.
 */
export const BENCH_RANGE = {
  file: "100m.bin",
  first: 50_000_000,
  last: 50_065_535,
};

/** Size of the sparse file used by the 50-client download. */
export const HUGE_FILE = { name: "1g.bin", size: 1024 ** 3 };

/**
 * Creates the docroot: the files of {@link FILES} filled with random bytes
 * (written 1 MiB at a time), an index.html, and optionally the sparse
 * 1 GiB file.
 */
export async function makeDocroot(root: string, huge: boolean): Promise<void> {
  await Deno.mkdir(root, { recursive: true });
  await Deno.chmod(root, 0o755);
  const chunk = new Uint8Array(1024 * 1024);
  for (const [name, size] of Object.entries(FILES)) {
    const file = await Deno.open(`${root}/${name}`, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o644,
    });
    try {
      for (let left = size; left > 0; left -= chunk.length) {
        for (let i = 0; i < chunk.length; i += 65536) {
          crypto.getRandomValues(chunk.subarray(i, i + 65536));
        }
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        for (let off = 0; off < part.length;) {
          off += await file.write(part.subarray(off));
        }
      }
    } finally {
      file.close();
    }
  }
  await Deno.writeTextFile(
    `${root}/index.html`,
    "<!doctype html>\n<html><head><title>pws bench</title></head>" +
      "<body><p>pws benchmark docroot</p></body></html>\n",
    { mode: 0o644 },
  );
  if (huge) {
    const file = await Deno.open(`${root}/${HUGE_FILE.name}`, {
      write: true,
      create: true,
      truncate: true,
      mode: 0o644,
    });
    try {
      await file.truncate(HUGE_FILE.size); // sparse: no blocks written
    } finally {
      file.close();
    }
  }
}

/**
 * Writes the run's certificate into `dir`: an ECDSA P-256 server
 * certificate for 127.0.0.1 and localhost, signed by a throwaway CA, made
 * by the tests' own `makeTestTls()` (valid for a day). Every HTTPS server
 * of the run gets the same files.
 */
export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  // Loaded only for HTTPS scenarios: the X.509 library is an npm package.
  const { makeTestTls } = await import("../tests/tls_fixture.ts");
  const made = await makeTestTls();
  await Deno.mkdir(dir, { recursive: true });
  const files: TlsFiles = {
    cert: `${dir}/cert.pem`,
    key: `${dir}/key.pem`,
    ca: `${dir}/ca.pem`,
  };
  await Deno.writeTextFile(files.cert, made.cert, { mode: 0o644 });
  await Deno.writeTextFile(files.key, made.key, { mode: 0o600 });
  await Deno.writeTextFile(files.ca, made.ca, { mode: 0o644 });
  return files;
}

/** What two `openssl s_client` connections in a row got from a server. */
export interface TlsCheck {
  /** `1.3` or `1.2`: the only version the client offered. */
  version: string;
  /** The first connection (a full handshake), when it worked. */
  first?: SClientSession;
  /** The second, offering the session of the first. */
  second?: SClientSession;
}

/**
 * Asks the HTTPS server on `port` for `path` twice per TLS version (1.3,
 * then 1.2), each time on a new connection with `openssl s_client`: the
 * first verifies the chain against the run's CA and saves its session,
 * the second offers it, which shows whether the server resumes sessions.
 * Each connection sends a HEAD request and reads until the server closes,
 * so TLS 1.3 tickets (sent after the handshake) arrive.
 */
export async function checkTls(
  port: number,
  path: string,
  tls: TlsFiles,
  dir: string,
): Promise<TlsCheck[]> {
  const request =
    `HEAD ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
  const out: TlsCheck[] = [];
  for (const version of ["1.3", "1.2"]) {
    const session = `${dir}/session-${port}-${version}.pem`;
    const connect = async (extra: string[]) => {
      const r = await run("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        `-tls${version.replace(".", "_")}`,
        "-CAfile",
        tls.ca,
        "-verify_ip",
        "127.0.0.1",
        "-verify_return_error",
        "-ign_eof", // send the request, then read until the server closes
        ...extra,
      ], { timeoutMs: 10_000, input: request }).catch(() => undefined);
      return r && !r.timedOut ? parseSClientSession(r.stdout) : undefined;
    };
    const first = await connect(["-sess_out", session]);
    const second = first ? await connect(["-sess_in", session]) : undefined;
    await Deno.remove(session).catch(() => {});
    out.push({ version, first, second });
  }
  return out;
}

/** Options of one wrk run. */
export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Per-request timeout for wrk (responses slower than this count as timeouts). */
  timeoutS: number;
  headers: readonly string[];
  /** The load generator (default wrk). */
  client?: "wrk" | "h2load";
  /** h2load `-m`: streams in flight per connection. */
  streams?: number;
}

/** The command line (without taskset) for a wrk run. */
export function wrkArgs(o: WrkOptions): string[] {
  const args = [
    "-t1",
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    "--timeout",
    `${o.timeoutS}s`,
    "--latency",
  ];
  for (const h of o.headers) args.push("-H", h);
  args.push(o.url);
  return args;
}

/** A wrk run: its output, and the CPU time wrk itself used. */
export interface WrkRun extends WrkResult {
  /** wrk's user + system CPU time in seconds (NaN when unknown). */
  clientCpuS: number;
}

/**
 * The command line (without taskset) for an h2load run: one thread, a
 * timed run (`-D`) of `connections` × `streams`; h2load offers h2 by ALPN
 * and does not verify the certificate.
 */
export function h2loadArgs(o: WrkOptions): string[] {
  const args = [
    "-t1",
    `-c${o.connections}`,
    `-m${o.streams ?? 1}`,
    "-D",
    String(o.durationS),
  ];
  for (const h of o.headers) args.push("-H", h);
  args.push(o.url);
  return args;
}

/**
 * Runs the scenario's client (wrk, or h2load for HTTP/2) pinned to
 * {@link CLIENT_CPU} and parses its output; throws when it fails.
 */
export async function runWrk(o: WrkOptions): Promise<WrkRun> {
  const h2 = o.client === "h2load";
  const tool = h2 ? "h2load" : "wrk";
  // Under a shell whose `times` reports the CPU time the client used: when
  // its core is busy, the client and not the server sets the pace.
  const r = await run(
    "taskset",
    [
      "-c",
      String(CLIENT_CPU),
      "sh",
      "-c",
      `${tool} "$@"; s=$?; times >&2; exit $s`,
      "sh",
      ...(h2 ? h2loadArgs(o) : wrkArgs(o)),
    ],
    { timeoutMs: (o.durationS + o.timeoutS + 20) * 1000 },
  );
  if (r.timedOut) throw new Error(`${tool} did not finish in time`);
  const times = parseChildTimes(r.stderr);
  try {
    const parsed = h2 ? parseH2load(r.stdout) : parseWrk(r.stdout);
    return { ...parsed, clientCpuS: times?.cpuS ?? NaN };
  } catch {
    const stderr = times ? r.stderr.slice(0, times.index) : r.stderr;
    throw new Error(
      `${tool} failed (exit ${r.code}): ${
        (stderr.trim() || r.stdout).trim().slice(-300)
      }`,
    );
  }
}

/**
 * Sends the same request `count` times in one curl invocation (so a
 * keep-alive server answers them on one connection; HEAD when `head`) and
 * returns what each transfer got, plus the first response's headers.
 * Throws when curl gets no response at all.
 */
export async function curlCheck(
  url: string,
  headers: readonly string[],
  opts: {
    head?: boolean;
    count?: number;
    maxTimeS?: number;
    /** CA certificate to verify an https server with. */
    caFile?: string;
  } = {},
): Promise<CurlOutput> {
  const maxTimeS = opts.maxTimeS ?? 5;
  const args = ["-s", "-D", "-", "--max-time", String(maxTimeS)];
  if (opts.caFile) args.push("--cacert", opts.caFile);
  if (opts.head) args.push("-I");
  for (const h of headers) args.push("-H", h);
  args.push("-w", "\n@@%{http_code} %{size_download} %{num_connects}\n");
  for (let i = 0; i < (opts.count ?? 1); i++) args.push("-o", "/dev/null", url);
  const r = await run("curl", args, { timeoutMs: (maxTimeS + 10) * 1000 });
  const out = parseCurlOutput(r.stdout);
  if (out.transfers.length === 0 || out.transfers[0].status === 0) {
    throw new Error(`curl ${url} got no response (exit ${r.code})`);
  }
  return out;
}
