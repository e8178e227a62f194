/**
 * Measuring one scenario on one running server: a curl check of the
 * response, a warm-up, then the repetitions of wrk with the server's CPU
 * time and memory read from /proc around each.
 *
 * @module
 */

import { curlCheck, runWrk, type WrkOptions } from "./load.ts";
import { cpuTicks, cpuTotals, rssBytes, sampleMax, sleep } from "./procs.ts";
import type { Cell, RunMetrics } from "./report.ts";
import type { Mode, Scenario } from "./scenarios.ts";
import type { RunningServer, ServerSpec, TlsFiles } from "./servers.ts";
import {
  type CurlTransfer,
  formatCount,
  formatLatency,
  formatMiB,
  formatNumber,
} from "./stats.ts";

/** What every measurement of a run shares. */
export interface MeasureContext {
  mode: Mode;
  /** Clock ticks per second (`getconf CLK_TCK`), for /proc CPU times. */
  ticksPerS: number;
  /** The run's certificate, for the HTTPS scenarios. */
  tls?: TlsFiles;
  /** Progress output. */
  log: (msg: string) => void;
  /**
   * Before each measured run, wait up to this many seconds for the rest
   * of the machine to be quiet (0: do not wait).
   */
  waitQuietS: number;
}

/** Other processes using less than this share of one core count as quiet. */
const QUIET_BUSY = 0.1;
/**
 * With `--wait-quiet`, a run during which other processes used more than
 * this share of a core is measured again (at most as many times again as
 * there are repetitions).
 */
const DISTURBED_BUSY = 0.25;

/**
 * Waits until, over one second, the processes other than this harness
 * used less than {@link QUIET_BUSY} of a core (the server is idle between
 * runs), or until `maxS` seconds have passed. Returns the share of a core
 * they used in the last second measured.
 */
async function waitForQuiet(maxS: number, ticksPerS: number): Promise<number> {
  const deadline = Date.now() + maxS * 1000;
  let busy = NaN;
  do {
    const m0 = cpuTotals();
    const self0 = cpuTicks(Deno.pid);
    await sleep(1000);
    const used = cpuTotals().busy - m0.busy - (cpuTicks(Deno.pid) - self0);
    busy = used / ticksPerS;
    if (busy < QUIET_BUSY) break;
  } while (Date.now() < deadline);
  return busy;
}

/** A cell being measured: what its wrk runs share. */
export interface Measuring {
  cell: Cell;
  server: RunningServer;
  spec: ServerSpec;
  /** wrk options but the duration; undefined when nothing can be measured. */
  wrk?: Omit<WrkOptions, "durationS">;
  /** Runs measured again because other work disturbed them. */
  redone: number;
}

/**
 * Measures one scenario on one running server (started with the run's
 * certificate when the scenario is over TLS): the checks and warm-up of
 * {@link startCell}, then its repetitions.
 */
export async function measure(
  server: RunningServer,
  spec: ServerSpec,
  scenario: Scenario,
  ctx: MeasureContext,
): Promise<Cell> {
  const m = await startCell(server, spec, scenario, ctx);
  const reps = scenario.once ? 1 : ctx.mode.reps;
  for (let i = 0; i < reps && server.alive(); i++) {
    await measureRun(m, i, ctx);
  }
  return finishCell(m);
}

/**
 * Checks one response of the scenario with curl (and gets the ETag for
 * `304`), then warms the server up with one unmeasured wrk run.
 */
export async function startCell(
  server: RunningServer,
  spec: ServerSpec,
  scenario: Scenario,
  ctx: MeasureContext,
): Promise<Measuring> {
  const { mode } = ctx;
  const short = spec.id === "python" || spec.id === "serve";
  const durationS = scenario.once
    ? mode.hugeDurationS
    : short
    ? mode.shortDurationS
    : mode.durationS;
  const cell: Cell = {
    server: spec.id,
    label: scenario.tls ? spec.tlsLabel ?? spec.label : spec.label,
    scenario,
    durationS,
    runs: [],
    check: "–",
    checkOk: false,
    notes: [],
  };
  const url = `${server.scheme}://127.0.0.1:${server.port}${scenario.path}`;
  const caFile = server.scheme === "https" ? ctx.tls?.ca : undefined;
  const headers = [...scenario.headers];
  try {
    if (scenario.ifNoneMatch) {
      const head = await curlCheck(url, [], { head: true, caFile });
      const etag = head.headers["etag"];
      if (!etag) {
        cell.check = `${head.transfers[0].status}, no ETag`;
        cell.notes.push("no ETag on HEAD: nothing to revalidate");
        return { cell, server, spec, redone: 0 };
      }
      headers.push(`If-None-Match: ${etag}`);
    }
    // Twice in one curl: the second request goes over the same connection
    // when the server keeps it alive, which catches broken keep-alive.
    const c = await curlCheck(url, headers, {
      head: scenario.expect.head,
      count: 2,
      maxTimeS: (scenario.expect.bytes ?? 0) > 1024 ** 2 ? 20 : 5,
      caFile,
    });
    const describe = (t: CurlTransfer) =>
      scenario.expect.head
        ? `${t.status} (HEAD)`
        : `${t.status}, ${t.bodyBytes} B`;
    const good = (t: CurlTransfer) =>
      t.status === scenario.expect.status &&
      (scenario.expect.bytes === undefined ||
        t.bodyBytes === scenario.expect.bytes);
    const [first, second] = c.transfers;
    cell.check = describe(first);
    cell.checkOk = good(first) && second !== undefined && good(second);
    const expected = `${scenario.expect.status}` +
      (scenario.expect.bytes === undefined
        ? ""
        : ` with ${scenario.expect.bytes} body bytes`);
    if (!good(first)) {
      cell.notes.push(
        `curl check got status ${first.status} with ${first.bodyBytes} body bytes; expected ${expected}`,
      );
    }
    if (second === undefined || !good(second)) {
      cell.check += second ? `; 2nd: ${describe(second)}` : "; 2nd: none";
      cell.notes.push(
        second === undefined || second.status === 0
          ? "a second request right after the first (same connection if kept alive) got no response in time"
          : `a second request right after the first (${
            second.connects === 0 ? "same connection" : "new connection"
          }) got status ${second.status} with ${second.bodyBytes} body bytes; expected ${expected}`,
      );
    }
  } catch (e) {
    cell.check = "failed";
    cell.notes.push(`curl check failed: ${(e as Error).message}`);
  }
  const wrk = {
    url,
    connections: scenario.connections,
    timeoutS: scenario.timeoutS,
    headers,
    client: scenario.client,
    streams: scenario.streams,
  };
  try {
    await runWrk({ ...wrk, durationS: mode.warmupS });
  } catch (e) {
    cell.notes.push(`warm-up: ${(e as Error).message}`);
  }
  return { cell, server, spec, wrk, redone: 0 };
}

/**
 * Measures repetition `i` of a cell (with `--wait-quiet`: after waiting
 * for a quiet machine, and again while other work disturbs it, at most as
 * many times again as there are repetitions).
 */
export async function measureRun(
  measuring: Measuring,
  i: number,
  ctx: MeasureContext,
): Promise<void> {
  const { cell, server, spec, wrk } = measuring;
  const { scenario, durationS } = cell;
  const { ticksPerS, log } = ctx;
  const reps = scenario.once ? 1 : ctx.mode.reps;
  while (wrk && server.alive()) {
    if (ctx.waitQuietS > 0) {
      const busy = await waitForQuiet(ctx.waitQuietS, ticksPerS);
      if (!(busy < QUIET_BUSY)) {
        log(
          `  other processes still use ${
            Math.round(busy * 100)
          } % of a core after ${ctx.waitQuietS} s; measuring anyway`,
        );
      }
    }
    const cpu0 = cpuTicks(server.pid);
    const machine0 = cpuTotals();
    const self0 = cpuTicks(Deno.pid);
    const sampler = sampleMax(() => rssBytes(server.pid), 100);
    let w;
    try {
      w = await runWrk({ ...wrk, durationS });
    } catch (e) {
      sampler.stop();
      cell.notes.push(`run ${i + 1}: ${(e as Error).message}`);
      return;
    }
    const rssMax = sampler.stop();
    const serverTicks = cpuTicks(server.pid) - cpu0;
    const cpuS = serverTicks / ticksPerS;
    // What the rest of the machine used meanwhile: other people's work
    // that competed with the server and wrk for the two cores.
    const machine1 = cpuTotals();
    const othersTicks = machine1.busy - machine0.busy - serverTicks -
      w.clientCpuS * ticksPerS - (cpuTicks(Deno.pid) - self0);
    const mib = w.bytesRead / 1024 ** 2;
    const m: RunMetrics = {
      value: scenario.unit === "req/s"
        ? w.requestsPerSec
        : w.bytesPerSec / 1024 ** 2,
      // No completed request (the 1 GiB downloads): no latency to report.
      p50Us: w.requests > 0 ? w.latencyUs.p50 : NaN,
      p99Us: w.requests > 0 ? w.latencyUs.p99 : NaN,
      rssAfter: rssBytes(server.pid),
      rssMax,
      cpuS,
      cpuMsPerMiB: mib > 0 ? (cpuS * 1000) / mib : NaN,
      cpuUsPerRequest: w.requests > 0 ? (cpuS * 1e6) / w.requests : NaN,
      serverBusy: cpuS / w.durationS,
      clientBusy: w.clientCpuS / w.durationS,
      othersBusy: Math.max(0, othersTicks / ticksPerS / w.durationS),
      steal: (machine1.steal - machine0.steal) / ticksPerS / w.durationS,
      errors: w.socketErrors + w.badStatus,
      requests: w.requests,
    };
    const disturbed = ctx.waitQuietS > 0 && m.othersBusy > DISTURBED_BUSY &&
      measuring.redone < reps;
    if (!disturbed) cell.runs.push(m);
    if (!scenario.once && w.requests <= scenario.connections) {
      cell.notes.push(
        `run ${
          i + 1
        }: only ${w.requests} responses on ${scenario.connections} connections in ${durationS} s: ` +
          "connections stall after their first response?",
      );
    }
    log(
      `  ${spec.id} ${scenario.id} run ${i + 1}/${reps}: ` +
        (scenario.unit === "req/s"
          ? `${formatCount(m.value)} req/s`
          : `${formatNumber(m.value, 4)} MiB/s`) +
        `, p50 ${formatLatency(m.p50Us)}, p99 ${formatLatency(m.p99Us)}, RSS ${
          formatMiB(m.rssAfter)
        }` +
        (scenario.peakRss ? ` (max ${formatMiB(m.rssMax)})` : "") +
        `, CPU ${cpuS.toFixed(2)} s, others ${
          Math.round(m.othersBusy * 100)
        } %` +
        (m.errors > 0 ? `, ${formatCount(m.errors)} errors` : "") +
        (disturbed ? ": disturbed by other work, measuring again" : ""),
    );
    if (!disturbed) return;
    measuring.redone++;
  }
}

/** Adds the notes that concern the cell as a whole, and returns it. */
export async function finishCell(measuring: Measuring): Promise<Cell> {
  const { cell, server, redone } = measuring;
  if (redone > 0) {
    cell.notes.push(
      `${redone} run(s) during which other processes used over ${
        DISTURBED_BUSY * 100
      } % of a core were measured again (--wait-quiet)`,
    );
  }
  if (!server.alive()) {
    await new Promise((r) => setTimeout(r, 100)); // let the exit status arrive
    cell.notes.push(
      `the server process died during this scenario (${
        server.exitInfo() ?? "?"
      })`,
    );
  }
  return cell;
}
