/**
 * Pure helpers for the benchmark: parsing the output of wrk, strace and
 * /proc files, medians, ratios, number formatting and Markdown tables.
 * Nothing in this module starts processes or touches the file system.
 *
 * @module
 */

/** One wrk run, as parsed from its text output (`wrk --latency`). */
export interface WrkResult {
  /** Completed requests. */
  requests: number;
  /** Wall-clock duration of the run in seconds. */
  durationS: number;
  /** Bytes read by wrk (headers + bodies), from the "N requests in …, X read" line. */
  bytesRead: number;
  /** The `Requests/sec:` figure. */
  requestsPerSec: number;
  /** The `Transfer/sec:` figure, in bytes per second. */
  bytesPerSec: number;
  /** Latency percentiles from the "Latency Distribution" block, in microseconds. */
  latencyUs: { p50: number; p75: number; p90: number; p99: number };
  /** Socket errors (connect + read + write + timeout). */
  socketErrors: number;
  /** Timeouts alone (a subset of `socketErrors`). */
  timeouts: number;
  /** Responses with a status of 400 or more ("Non-2xx or 3xx responses"). */
  badStatus: number;
}

const TIME_UNITS_US: Record<string, number> = {
  us: 1,
  ms: 1e3,
  s: 1e6,
  m: 60e6,
  h: 3600e6,
};

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  PB: 1024 ** 5,
};

/**
 * Converts a wrk time string such as `496.00us`, `4.49ms`, `1.20s` or
 * `1.00m` to microseconds.
 */
export function parseWrkTime(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot parse wrk time: ${JSON.stringify(text)}`);
  return Number(m[1]) * TIME_UNITS_US[m[2]];
}

/**
 * Converts a wrk size string such as `218.16MB` or `512.00B` to bytes
 * (wrk uses binary units: 1 KB = 1024 B).
 */
export function parseWrkSize(text: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB|PB)$/.exec(text.trim());
  if (!m) throw new Error(`cannot parse wrk size: ${JSON.stringify(text)}`);
  return Number(m[1]) * SIZE_UNITS[m[2]];
}

/**
 * Parses the text printed by `wrk --latency`. Throws when the summary lines
 * are missing (for instance when wrk failed to connect at all).
 */
export function parseWrk(output: string): WrkResult {
  const summary =
    /(\d+) requests in ([\d.]+(?:us|ms|s|m|h)), ([\d.]+(?:B|KB|MB|GB|TB|PB)) read/
      .exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const tps = /Transfer\/sec:\s+([\d.]+(?:B|KB|MB|GB|TB|PB))/.exec(output);
  if (!summary || !rps || !tps) {
    throw new Error(`unrecognised wrk output:\n${output}`);
  }
  const pct = (p: number): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+(?:us|ms|s|m|h))\\s*$`, "m")
      .exec(output);
    return m ? parseWrkTime(m[1]) : NaN;
  };
  const sock =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(output);
  const socketCounts = sock ? sock.slice(1, 5).map(Number) : [0, 0, 0, 0];
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    requests: Number(summary[1]),
    durationS: parseWrkTime(summary[2]) / 1e6,
    bytesRead: parseWrkSize(summary[3]),
    requestsPerSec: Number(rps[1]),
    bytesPerSec: parseWrkSize(tps[1]),
    latencyUs: { p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99) },
    socketErrors: socketCounts.reduce((a, b) => a + b, 0),
    timeouts: socketCounts[3],
    badStatus: bad ? Number(bad[1]) : 0,
  };
}

/**
 * Parses the summary h2load prints after a timed run (`-D`) into the shape
 * of a wrk result: completed requests are the 2xx and 3xx responses,
 * socket errors h2load's failed, errored and timed-out requests, bad
 * statuses its 4xx and 5xx, bytes read its traffic total (frames
 * included). h2load gives no latency percentiles: those are NaN. Throws
 * when the summary is missing.
 */
export function parseH2load(output: string): WrkResult {
  const finished = /finished in [\d.]+(?:us|ms|s|m|h), ([\d.]+) req\/s/.exec(
    output,
  );
  const reqs =
    /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/
      .exec(output);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/
    .exec(output);
  const traffic = /traffic: \S+ \((\d+)\) total/.exec(output);
  if (!finished || !reqs || !codes || !traffic) {
    throw new Error(`unrecognised h2load output:\n${output}`);
  }
  const requestsPerSec = Number(finished[1]);
  const requests = Number(codes[1]) + Number(codes[2]);
  const done = requests + Number(codes[3]) + Number(codes[4]);
  // h2load's req/s is done requests over the main duration (-D), which
  // leaves out connecting; recover that duration from it.
  const durationS = requestsPerSec > 0 ? done / requestsPerSec : NaN;
  const bytesRead = Number(traffic[1]);
  return {
    requests,
    durationS,
    bytesRead,
    requestsPerSec,
    bytesPerSec: bytesRead / durationS,
    latencyUs: { p50: NaN, p75: NaN, p90: NaN, p99: NaN },
    socketErrors: Number(reqs[1]) + Number(reqs[2]) + Number(reqs[3]),
    timeouts: Number(reqs[3]),
    badStatus: Number(codes[3]) + Number(codes[4]),
  };
}

/**
 * The median of the finite numbers in `values` (the mean of the two middle
 * ones for an even count); `NaN` when there are none.
 */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The relative spread of `values`: (max − min) / median, or `NaN` for fewer
 * than two finite values.
 */
export function spread(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return NaN;
  const m = median(finite);
  if (m === 0) return NaN;
  return (Math.max(...finite) - Math.min(...finite)) / m;
}

/** `value / reference`, or `NaN` when either is missing or the reference is 0. */
export function ratio(value: number, reference: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(reference)) return NaN;
  if (reference === 0) return NaN;
  return value / reference;
}

/** Utime and stime (clock ticks), parent pid and command name from `/proc/<pid>/stat`. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
}

/** Machine-wide CPU time from `/proc/stat`, in clock ticks. */
export interface CpuTotals {
  /** user + nice + system over all CPUs (interrupt time left out). */
  busy: number;
  /** Time the hypervisor gave to other guests while ours wanted to run. */
  steal: number;
}

/** Reads the aggregate `cpu` line of `/proc/stat`; NaN fields when absent. */
export function parseCpuTotals(text: string): CpuTotals {
  const m = /^cpu\s+(.*)$/m.exec(text);
  const f = m ? m[1].trim().split(/\s+/).map(Number) : [];
  return { busy: f[0] + f[1] + f[2], steal: f[7] ?? NaN };
}

/**
 * Parses the one-line text of `/proc/<pid>/stat`. The command name may hold
 * spaces and parentheses, so the fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) {
    throw new Error(`cannot parse /proc stat: ${JSON.stringify(text)}`);
  }
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
  };
}

/**
 * Reads a `kB` field such as `VmRSS` or `VmHWM` from the text of
 * `/proc/<pid>/status` and returns it in bytes (`NaN` when absent).
 */
export function parseStatusField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * Finds the port in the line a server prints once it listens, e.g.
 * `Listening on http://127.0.0.1:8080/`; `undefined` when there is none.
 */
export function parseListenPort(line: string): number | undefined {
  const m = /https?:\/\/[^\s/]*:(\d+)\//.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** One line of a `strace -c` summary. */
export interface SyscallCount {
  name: string;
  calls: number;
  errors: number;
}

/**
 * Parses the table printed by `strace -c` (the header, dashes and `total`
 * line are skipped). Rows have the columns `% time, seconds, usecs/call,
 * calls, [errors], syscall`.
 */
export function parseStraceSummary(text: string): SyscallCount[] {
  const out: SyscallCount[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 5 && fields.length !== 6) continue;
    if (!/^[\d.]+$/.test(fields[0]) || !/^[\d.]+$/.test(fields[3])) continue;
    const name = fields[fields.length - 1];
    if (name === "total" || !/^[a-z_0-9]+$/.test(name)) continue;
    out.push({
      name,
      calls: Number(fields[3]),
      errors: fields.length === 6 ? Number(fields[4]) : 0,
    });
  }
  return out;
}

/** One transfer of a curl run, from its `-w` line. */
export interface CurlTransfer {
  /** HTTP status; 0 when curl got no response. */
  status: number;
  /** Body bytes received. */
  bodyBytes: number;
  /** New connections curl opened for this transfer (0: reused). */
  connects: number;
}

/** What {@link parseCurlOutput} returns. */
export interface CurlOutput {
  transfers: CurlTransfer[];
  /** Headers of the first response, names in lower case. */
  headers: Record<string, string>;
}

/**
 * Parses the stdout of `curl -D - -w "\n@@%{http_code} %{size_download}
 * %{num_connects}\n"`: header blocks, each followed by its `@@` line.
 */
export function parseCurlOutput(text: string): CurlOutput {
  const transfers: CurlTransfer[] = [];
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^@@(\d+) (\d+) (\d+)$/.exec(line.trim());
    if (m) {
      transfers.push({
        status: Number(m[1]),
        bodyBytes: Number(m[2]),
        connects: Number(m[3]),
      });
      continue;
    }
    const i = line.indexOf(":");
    if (transfers.length === 0 && i > 0 && !line.startsWith("HTTP/")) {
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
  }
  return { transfers, headers };
}

/** What `openssl s_client` says about the session it made. */
export interface SClientSession {
  /** True for `Reused` (an abbreviated handshake), false for `New`. */
  resumed: boolean;
  /** e.g. `TLSv1.3`. */
  protocol: string;
  /** OpenSSL's name of the cipher suite, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** The key exchange group (`Server Temp Key`), e.g. `X25519`, when printed. */
  group?: string;
  /** True when the chain verified (`Verify return code: 0 (ok)`). */
  verified: boolean;
}

/**
 * Parses the session summary `openssl s_client` prints after its
 * handshake (`New, TLSv1.3, Cipher is …` or `Reused, …`); `undefined` when
 * there is none or no protocol was agreed (`New, (NONE), Cipher is (NONE)`).
 */
export function parseSClientSession(text: string): SClientSession | undefined {
  const m = /^(New|Reused), (TLSv[\d.]+), Cipher is (\S+)\s*$/m.exec(text);
  if (!m) return undefined;
  const group = /^Server Temp Key: ([^,\s]+)/m.exec(text);
  return {
    resumed: m[1] === "Reused",
    protocol: m[2],
    cipher: m[3],
    group: group?.[1],
    verified: /^\s*Verify return code: 0 \(ok\)\s*$/m.test(text),
  };
}

/**
 * Reads the children's CPU time from what the shell builtin `times`
 * printed at the end of `text` (two lines, `0m1.060000s 0m0.500000s`: the
 * shell's own user and system time, then its children's). Returns their
 * sum in seconds and where the two lines start, or undefined.
 */
export function parseChildTimes(
  text: string,
): { cpuS: number; index: number } | undefined {
  const m =
    /(?:^|\n)(\d+m[\d.]+s \d+m[\d.]+s\n)(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/
      .exec(text);
  if (!m) return undefined;
  const cpuS = Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) * 60 +
    Number(m[5]);
  return { cpuS, index: m.index + (text[m.index] === "\n" ? 1 : 0) };
}

/** Formats a count with thousands separators and no decimals: `89,327`. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

/** Formats a number with a fixed number of significant digits (at least the integer part). */
export function formatNumber(n: number, significant = 3): string {
  if (!Number.isFinite(n)) return "–";
  if (n === 0) return "0";
  const digits = Math.floor(Math.log10(Math.abs(n))) + 1;
  const decimals = Math.max(0, significant - digits);
  return n.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/** Formats microseconds as `496 µs`, `4.49 ms` or `1.20 s`. */
export function formatLatency(us: number): string {
  if (!Number.isFinite(us)) return "–";
  if (us < 1000) return `${formatNumber(us)} µs`;
  if (us < 1e6) return `${formatNumber(us / 1e3)} ms`;
  return `${formatNumber(us / 1e6)} s`;
}

/** Formats a byte count as MiB: `8.29 MiB`. */
export function formatMiB(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  return `${formatNumber(bytes / 1024 ** 2)} MiB`;
}

/** Formats a ratio as `×0.85`; `–` when unknown. */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return "–";
  return `×${r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

/** A value followed by its ratio to a reference, e.g. `89,327 (×1.00)`. */
export function withRatio(text: string, r: number): string {
  return Number.isFinite(r) ? `${text} (${formatRatio(r)})` : text;
}

/**
 * Renders a Markdown table. `align` holds one of `l` or `r` per column
 * (default: first column left, the rest right). Pipes in cells are escaped.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ("l" | "r")[],
): string {
  const al = align ?? headers.map((_, i) => (i === 0 ? "l" : "r"));
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const line = (cells: readonly string[]) =>
    `| ${cells.map(esc).join(" | ")} |`;
  const sep = `|${al.map((a) => (a === "r" ? " ---: " : " --- ")).join("|")}|`;
  return [line(headers), sep, ...rows.map(line)].join("\n");
}
