/**
 * The client side of the benchmark: the docroot with its test files, wrk
 * runs pinned to the client CPU, and curl checks of single responses.
 *
 * @module
 */

import { run } from "./procs.ts";
import {
  type CurlOutput,
  parseCurlOutput,
  parseWrk,
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

/** Options of one wrk run. */
export interface WrkOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Per-request timeout for wrk (responses slower than this count as timeouts). */
  timeoutS: number;
  headers: readonly string[];
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

/** Runs wrk pinned to {@link CLIENT_CPU} and parses its output; throws when it fails. */
export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const r = await run(
    "taskset",
    ["-c", String(CLIENT_CPU), "wrk", ...wrkArgs(o)],
    { timeoutMs: (o.durationS + o.timeoutS + 20) * 1000 },
  );
  if (r.timedOut) throw new Error("wrk did not finish in time");
  try {
    return parseWrk(r.stdout);
  } catch {
    throw new Error(
      `wrk failed (exit ${r.code}): ${
        (r.stderr || r.stdout).trim().slice(0, 300)
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
  opts: { head?: boolean; count?: number; maxTimeS?: number } = {},
): Promise<CurlOutput> {
  const maxTimeS = opts.maxTimeS ?? 5;
  const args = ["-s", "-D", "-", "--max-time", String(maxTimeS)];
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
