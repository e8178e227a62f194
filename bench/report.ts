/**
 * Turns measured runs into the Markdown report: one table per scenario with
 * medians and ratios to nginx A.
 *
 * @module
 */

import type { TlsCheck } from "./load.ts";
import type { Mode, Scenario } from "./scenarios.ts";
import type { ServerId } from "./servers.ts";
import {
  formatCount,
  formatLatency,
  formatMiB,
  formatNumber,
  markdownTable,
  median,
  ratio,
  spread,
  withRatio,
} from "./stats.ts";

/** Figures of one measured run. */
export interface RunMetrics {
  /** Requests/s or MiB/s, following the scenario's unit. */
  value: number;
  p50Us: number;
  p99Us: number;
  /** VmRSS right after the run, bytes. */
  rssAfter: number;
  /** Largest VmRSS sampled during the run, bytes. */
  rssMax: number;
  /** Server CPU time (user + system) during the run, seconds. */
  cpuS: number;
  /** Server CPU milliseconds per MiB read by the client. */
  cpuMsPerMiB: number;
  /** Server CPU microseconds per completed request. */
  cpuUsPerRequest: number;
  /** Server CPU time over the run's duration: 1 is one core kept busy. */
  serverBusy: number;
  /** The same for wrk (near 1: the client, not the server, set the pace). */
  clientBusy: number;
  /**
   * CPU time of every other process on the machine (not the server, wrk
   * or this harness) over the run's duration: other people's work.
   */
  othersBusy: number;
  /** CPU time stolen by the hypervisor over the run's duration. */
  steal: number;
  /** Socket errors + responses with status ≥ 400. */
  errors: number;
  requests: number;
}

/** Everything measured for one server in one scenario. */
export interface Cell {
  server: ServerId;
  label: string;
  scenario: Scenario;
  /** Seconds per measured run. */
  durationS: number;
  runs: RunMetrics[];
  /** What the single curl request got, e.g. `200, 1024 B`. */
  check: string;
  /** False when the curl check got an unexpected status or size. */
  checkOk: boolean;
  /** Problems met (wrk failure, server died …). */
  notes: string[];
}

/** The median figures of a cell. */
export interface Medians {
  value: number;
  p50Us: number;
  p99Us: number;
  rssAfter: number;
  rssMax: number;
  cpuMsPerMiB: number;
  cpuUsPerRequest: number;
  serverBusy: number;
  clientBusy: number;
  spread: number;
  errors: number;
}

/** Medians over the runs of a cell (errors are summed). */
export function medians(cell: Cell): Medians {
  const pick = (f: (r: RunMetrics) => number) => median(cell.runs.map(f));
  return {
    value: pick((r) => r.value),
    p50Us: pick((r) => r.p50Us),
    p99Us: pick((r) => r.p99Us),
    rssAfter: pick((r) => r.rssAfter),
    rssMax: pick((r) => r.rssMax),
    cpuMsPerMiB: pick((r) => r.cpuMsPerMiB),
    cpuUsPerRequest: pick((r) => r.cpuUsPerRequest),
    serverBusy: pick((r) => r.serverBusy),
    clientBusy: pick((r) => r.clientBusy),
    spread: spread(cell.runs.map((r) => r.value)),
    errors: cell.runs.reduce((a, r) => a + r.errors, 0),
  };
}

/** A fraction as a whole percentage: `97 %`. */
function formatPercent(f: number): string {
  return Number.isFinite(f) ? `${Math.round(f * 100)} %` : "–";
}

function formatValue(unit: Scenario["unit"], v: number): string {
  return unit === "req/s" ? formatCount(v) : formatNumber(v, 4);
}

/**
 * The cell the ratios of a scenario are taken against: the nginx
 * configuration with the highest median in it (the fastest nginx on this
 * machine for this load), or undefined when no nginx was measured.
 */
export function referenceCell(cells: readonly Cell[]): Cell | undefined {
  let best: Cell | undefined;
  let bestValue = -Infinity;
  for (const c of cells) {
    if (!c.server.startsWith("nginx") || c.runs.length === 0) continue;
    const v = medians(c).value;
    if (v > bestValue) [best, bestValue] = [c, v];
  }
  return best;
}

/** The Markdown table of one scenario (ratios against {@link referenceCell}). */
export function scenarioTable(
  scenario: Scenario,
  cells: readonly Cell[],
): string {
  const ref = referenceCell(cells);
  const r = ref ? medians(ref) : undefined;
  const headers = ["Server", scenario.unit];
  if (scenario.peakRss) headers.push("RSS max", "RSS after");
  else headers.push("p50", "p99", "RSS after");
  if (scenario.cpuPerRequest) headers.push("CPU µs/req");
  if (scenario.cpuPerMiB) headers.push("CPU ms/MiB");
  if (scenario.cpuPerRequest) headers.push("server busy", "wrk busy");
  headers.push("±", "errors", "check");
  const rows = cells.map((c) => {
    const label = c.notes.length > 0 ? `${c.label} ⚠` : c.label;
    if (c.runs.length === 0) {
      return [label, "–", ...headers.slice(2, -1).map(() => "–"), c.check];
    }
    const m = medians(c);
    const row = [
      label,
      withRatio(
        formatValue(scenario.unit, m.value),
        ratio(m.value, r?.value ?? NaN),
      ),
    ];
    if (scenario.peakRss) {
      row.push(
        withRatio(formatMiB(m.rssMax), ratio(m.rssMax, r?.rssMax ?? NaN)),
        withRatio(formatMiB(m.rssAfter), ratio(m.rssAfter, r?.rssAfter ?? NaN)),
      );
    } else {
      row.push(
        withRatio(formatLatency(m.p50Us), ratio(m.p50Us, r?.p50Us ?? NaN)),
        withRatio(formatLatency(m.p99Us), ratio(m.p99Us, r?.p99Us ?? NaN)),
        withRatio(formatMiB(m.rssAfter), ratio(m.rssAfter, r?.rssAfter ?? NaN)),
      );
    }
    if (scenario.cpuPerRequest) {
      row.push(
        withRatio(
          formatNumber(m.cpuUsPerRequest),
          ratio(m.cpuUsPerRequest, r?.cpuUsPerRequest ?? NaN),
        ),
      );
    }
    if (scenario.cpuPerMiB) {
      row.push(
        withRatio(
          formatNumber(m.cpuMsPerMiB),
          ratio(m.cpuMsPerMiB, r?.cpuMsPerMiB ?? NaN),
        ),
      );
    }
    if (scenario.cpuPerRequest) {
      row.push(formatPercent(m.serverBusy), formatPercent(m.clientBusy));
    }
    row.push(
      Number.isFinite(m.spread) ? `${(m.spread * 100).toFixed(1)}%` : "–",
      formatCount(m.errors),
      c.checkOk ? `${c.check} ✓` : `${c.check} ✗`,
    );
    return row;
  });
  return markdownTable(headers, rows);
}

/** Facts about the machine and the tools, for the report header. */
export interface Environment {
  date: string;
  nproc: string;
  cpuModel: string;
  kernel: string;
  /** `/proc/loadavg` (1, 5, 15 min) when the run started: other load skews results. */
  loadAtStart: string;
  versions: Record<string, string>;
}

/** Inputs of {@link renderReport}. */
export interface ReportInput {
  env: Environment;
  mode: Mode;
  cells: readonly Cell[];
  scenarios: readonly Scenario[];
  /** Servers that ran, id → label and description. */
  servers: readonly { id: ServerId; label: string; about: string }[];
  skipped: readonly { label: string; reason: string }[];
  /** Command lines, for the method section. */
  commands: readonly string[];
  nginxConfigA?: string;
  /** `--wait-quiet`: seconds waited at most for a quiet machine before each run. */
  waitQuietS?: number;
  /** `--interleave`: the servers' runs were taken in turn. */
  interleave?: boolean;
  /** Present when HTTPS scenarios were chosen. */
  tls?: {
    /** What `openssl s_client` got from each HTTPS server. */
    checks: readonly { label: string; checks: readonly TlsCheck[] }[];
    /** nginx A's config with `ssl`, when it ran HTTPS. */
    nginxConfig?: string;
  };
  totalS: number;
}

/**
 * One line per TLS version saying what a server agreed to and whether it
 * resumed the session offered on the second connection, e.g.
 * `TLSv1.3 TLS_AES_256_GCM_SHA384 (X25519), resumed`.
 */
export function describeTlsCheck(check: TlsCheck): string {
  const { first, second } = check;
  if (!first) return `TLS ${check.version}: no handshake`;
  const group = first.group ? ` (${first.group})` : "";
  const chain = first.verified ? "" : ", chain not verified";
  const again = !second
    ? "second connection failed"
    : second.resumed
    ? "resumed"
    : "not resumed";
  return `${first.protocol} ${first.cipher}${group}${chain}, ${again}`;
}

/** {@link describeTlsCheck} of every version, joined with `; `. */
export function describeTlsChecks(checks: readonly TlsCheck[]): string {
  return checks.map(describeTlsCheck).join("; ");
}

/** The TLS section of the report: certificate, sessions, what wrk does. */
function tlsSection(tls: NonNullable<ReportInput["tls"]>): string[] {
  const lines = [
    "## TLS",
    "",
    "- **Certificate**: one per run, the same files for every server: an ECDSA P-256 certificate for 127.0.0.1 and localhost signed by a throwaway CA " +
    "(`makeTestTls()` of tests/tls_fixture.ts); full handshakes send it with the CA (two certificates) and sign with P-256.",
    "- **Versions**: TLS 1.2 and 1.3 on every server; wrk (OpenSSL) negotiates TLS 1.3 and the servers' default choices (below).",
    "- **Session resumption: on, on both sides.** nginx keeps sessions in a server-side cache (`ssl_session_cache shared:SSL:10m; ssl_session_tickets off;`), as rustls does in pws and the TLS prototype " +
    "(Deno's defaults: TLS 1.2 session ids, TLS 1.3 tickets that are keys into the server's cache); neither issues stateless tickets. " +
    "wrk keeps one OpenSSL object per connection and reuses it (`SSL_clear`) after a close, so every new connection offers the session of the one before: " +
    "in `tls-handshake` all handshakes but each connection's first are resumed handshakes (TLS 1.3 PSK with a fresh X25519 exchange, no certificate, no signature). " +
    "wrk cannot be told otherwise, and pws cannot turn resumption off, so both-with is the comparison that can be made fairly.",
    "- **CPU µs/req**: the server's utime+stime during the run divided by the requests wrk completed (handshakes included in `tls-handshake`). " +
    "**server busy** and **wrk busy**: the CPU time of the server and of wrk over the run's duration (100 % is one core kept busy). " +
    "wrk decrypts and, per connection, handshakes as much as a server does: where wrk is near 100 % and the server is not, the client set the pace, " +
    "and CPU µs/req is the fairer comparison.",
    "",
    "What two `openssl s_client` connections in a row got from each HTTPS server before its runs (the first verifies the chain against the run's CA, the second offers the first's session):",
    "",
    markdownTable(
      ["Server", "TLS 1.3 only", "TLS 1.2 only"],
      tls.checks.map((c) => [
        c.label,
        ...["1.3", "1.2"].map((v) => {
          const check = c.checks.find((x) => x.version === v);
          return check ? describeTlsCheck(check) : "–";
        }),
      ]),
      ["l", "l", "l"],
    ),
    "",
  ];
  if (tls.nginxConfig) {
    lines.push(
      "<details><summary>nginx config A with <code>ssl</code> (HTTPS scenarios)</summary>",
      "",
      "```nginx",
      tls.nginxConfig.trimEnd(),
      "```",
      "",
      "</details>",
      "",
    );
  }
  return lines;
}

/** The scenario tables alone (what is printed on the terminal). */
export function renderTables(
  scenarios: readonly Scenario[],
  cells: readonly Cell[],
): string {
  const parts: string[] = [];
  for (const s of scenarios) {
    const mine = cells.filter((c) => c.scenario.id === s.id);
    if (mine.length === 0) continue;
    parts.push(
      `### ${s.title} (\`${s.id}\`)`,
      "",
      s.about,
      "",
      scenarioTable(s, mine),
      "",
    );
    const ref = referenceCell(mine);
    if (ref) {
      parts.push(`(×n): against ${ref.label}, the fastest nginx here.`, "");
    }
    for (const c of mine) {
      for (const n of c.notes) parts.push(`- ⚠ ${c.label}: ${n}`);
    }
    if (mine.some((c) => c.notes.length > 0)) parts.push("");
  }
  return parts.join("\n");
}

/** The table describing the machine and tool versions of a run. */
export function machineTable(env: Environment): string {
  return markdownTable(["", ""], [
    ["nproc", env.nproc],
    ["CPU", env.cpuModel],
    ["kernel", env.kernel],
    ["load average at start", env.loadAtStart],
    ...Object.entries(env.versions),
  ], ["l", "l"]);
}

/** The whole Markdown report written to bench/results.md. */
export function renderReport(input: ReportInput): string {
  const { env, mode } = input;
  const lines: string[] = [
    "# pws benchmark results",
    "",
    `Generated by \`deno task bench${
      mode.name === "quick" ? " --quick" : ""
    }\` (bench/run.ts) on ${env.date}; took ${Math.round(input.totalS)} s.`,
    "",
    "## Machine",
    "",
    machineTable(env),
    "",
    "## Method",
    "",
    `- Mode **${mode.name}**: ${mode.reps} measured run(s) of ${mode.durationS} s per scenario and server ` +
    `(${mode.shortDurationS} s for python and serve, ${mode.hugeDurationS} s once for the 1 GiB download), ` +
    `each preceded by a ${mode.warmupS} s warm-up run with the same parameters; figures are medians over the runs.`,
    "- Every server is pinned to CPU 0 and wrk (`-t1`) to CPU 1 with `taskset`; the harness itself runs on CPU 1. " +
    "Loopback only (127.0.0.1).",
    ...(input.interleave
      ? [
        "- **Interleaved** (`--interleave`): the servers of a scenario ran at the same time (each pinned to CPU 0, idle while not measured); " +
        "each was checked and warmed up, then repetition 1 was measured on each in turn, then repetition 2 starting with the next server, and so on.",
      ]
      : []),
    ...(input.waitQuietS
      ? [
        `- Before each measured run the harness waited (up to ${input.waitQuietS} s) for a second in which other processes used under 10 % of a core, ` +
        "and a run during which they used over 25 % was measured again, at most as many times again as there are repetitions (`--wait-quiet`).",
      ]
      : []),
    "- req/s, MiB/s and latency percentiles come from `wrk --latency`; MiB/s is wrk's Transfer/sec (headers included). " +
    "The `h2-*` scenarios use h2load (`-t1`, timed with `-D`): req/s is its figure, MiB/s its traffic total over the duration; it reports no percentiles (–).",
    "- RSS is `VmRSS` of the server process from `/proc/<pid>/status` right after each run (for nginx: its only process, `master_process off`; for serve: the node process under npx). " +
    "CPU ms/MiB is the server's utime+stime from `/proc/<pid>/stat` during the run divided by the MiB wrk read; CPU µs/req the same divided by the requests wrk completed.",
    "- `(×n)` is the figure divided by that of the fastest nginx configuration in the same scenario, named under each table (for req/s and MiB/s higher is better; for latency, RSS and CPU lower is better).",
    "- `±` is (max − min) / median of the main figure over the runs; `errors` counts wrk socket errors and responses with status ≥ 400 over all runs; " +
    "`check` is the status and body size one curl request got before the runs (✗: not what the scenario expects).",
    "",
    "## Results",
    "",
    renderTables(input.scenarios, input.cells),
    ...(input.tls ? tlsSection(input.tls) : []),
    "## Servers",
    "",
    ...input.servers.map((s) => `- **${s.label}**: ${s.about}`),
    "",
  ];
  if (input.skipped.length > 0) {
    lines.push(
      "Skipped:",
      "",
      ...input.skipped.map((s) => `- ${s.label}: ${s.reason}`),
      "",
    );
  }
  lines.push(
    "## Commands",
    "",
    "```",
    ...input.commands,
    "```",
    "",
  );
  if (input.nginxConfigA) {
    lines.push(
      "<details><summary>nginx config A (B adds <code>open_file_cache</code>)</summary>",
      "",
      "```nginx",
      input.nginxConfigA.trimEnd(),
      "```",
      "",
      "</details>",
      "",
    );
  }
  lines.push("## Every run", "");
  const rows = input.cells.filter((c) => c.runs.length > 0).map((c) => [
    c.scenario.id,
    c.label,
    c.runs.map((r) => formatValue(c.scenario.unit, r.value)).join(" / "),
    c.runs.map((r) => formatLatency(r.p99Us)).join(" / "),
    c.runs.map((r) => formatMiB(r.rssAfter)).join(" / "),
    c.runs.map((r) => formatPercent(r.othersBusy)).join(" / "),
    c.runs.map((r) => formatPercent(r.steal)).join(" / "),
  ]);
  lines.push(
    "`others` is the CPU time every other process of the machine used during the run (not the server, wrk or the harness), " +
      "`steal` the time the hypervisor gave to other guests, both over the run's duration (100 % is one core): " +
      "how much other work competed for the two cores.",
    "",
    markdownTable(
      [
        "scenario",
        "server",
        "req/s or MiB/s",
        "p99",
        "RSS after",
        "others",
        "steal",
      ],
      rows,
      ["l", "l", "r", "r", "r", "r", "r"],
    ),
    "",
  );
  return lines.join("\n");
}
