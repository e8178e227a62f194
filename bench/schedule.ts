/**
 * The order in which servers are started and measured: one after the
 * other (each runs all its scenarios, restarted if it dies), or
 * interleaved (all started at once, their runs taken in turn, so that
 * other work on a shared machine hits each server alike).
 *
 * @module
 */

import { checkTls, type TlsCheck } from "./load.ts";
import {
  finishCell,
  measure,
  type MeasureContext,
  measureRun,
  type Measuring,
  startCell,
} from "./measure.ts";
import { isStopping } from "./procs.ts";
import type { Cell } from "./report.ts";
import type { Scenario } from "./scenarios.ts";
import type {
  RunningServer,
  ServerContext,
  ServerSpec,
  TlsFiles,
} from "./servers.ts";
import { describeTlsChecks } from "./report.ts";

/** What a whole benchmark measured. */
export interface Outcome {
  cells: Cell[];
  /** Servers that could not be prepared or started, and why. */
  skipped: { label: string; reason: string }[];
  /** Servers that ran, in order. */
  ran: ServerSpec[];
  /** What `openssl s_client` got from each HTTPS server. */
  tlsChecks: { label: string; checks: TlsCheck[] }[];
}

/** How often a server that died is restarted before its scenarios are given up. */
const MAX_RESTARTS = 2;

/**
 * The order in which `count` servers take repetition `rep`: each round
 * starts with the next server, so that none always runs right after
 * another (whose connections may still be closing) or always first.
 */
export function turnOrder(count: number, rep: number): number[] {
  return Array.from({ length: count }, (_, k) => (rep + k) % count);
}

/** The cleartext scenarios first, then the HTTPS ones (a second start). */
function groups(scenarios: readonly Scenario[]): Scenario[][] {
  return [scenarios.filter((s) => !s.tls), scenarios.filter((s) => s.tls)]
    .filter((g) => g.length > 0);
}

function labelOf(spec: ServerSpec, tls: boolean): string {
  return tls ? spec.tlsLabel ?? spec.label : spec.label;
}

function notRun(
  spec: ServerSpec,
  scenario: Scenario,
  notes: string[],
): Cell {
  return {
    server: spec.id,
    label: labelOf(spec, scenario.tls === true),
    scenario,
    durationS: 0,
    runs: [],
    check: "–",
    checkOk: false,
    notes,
  };
}

/** What one server start measured. */
interface Measured {
  cells: Cell[];
  /** For an HTTPS start: what `openssl s_client` got from it. */
  tlsChecks?: TlsCheck[];
}

/**
 * Starts `spec` (with the certificate when `tls` is given), measures the
 * scenarios of `group` on it, restarting it when it dies, and stops it.
 * Returns the reason when it did not start.
 */
async function measureServer(
  spec: ServerSpec,
  label: string,
  group: readonly Scenario[],
  tls: TlsFiles | undefined,
  ctx: ServerContext,
  mctx: MeasureContext,
): Promise<Measured | string> {
  let server: RunningServer;
  try {
    mctx.log(`starting ${label}`);
    server = await spec.start(ctx, tls);
  } catch (e) {
    const reason = (e as Error).message;
    mctx.log(`skipping ${label}: ${reason}`);
    return reason.split("\n").join(" / ").slice(0, 500);
  }
  mctx.log(
    `${label} listens on ${server.scheme}://127.0.0.1:${server.port}/, pid ${server.pid}`,
  );
  const measured: Measured = { cells: [] };
  let restarts = 0;
  try {
    if (tls) {
      measured.tlsChecks = await checkTls(
        server.port,
        group[0].path,
        tls,
        ctx.tmpDir,
      );
      mctx.log(`${label}: ${describeTlsChecks(measured.tlsChecks)}`);
    }
    for (const scenario of group) {
      if (isStopping()) break;
      // A server that dies (or is killed by someone else) is restarted
      // and the scenario measured again, at most MAX_RESTARTS times.
      const earlier: string[] = [];
      let cell: Cell | undefined;
      while (cell === undefined && !isStopping()) {
        if (!server.alive()) {
          const how = server.exitInfo() ?? "gone";
          if (restarts >= MAX_RESTARTS) {
            earlier.push(`the server process had died (${how})`);
            break;
          }
          restarts++;
          mctx.log(`${label} died (${how}); restarting it`);
          await server.stop();
          try {
            server = await spec.start(ctx, tls);
          } catch (e) {
            earlier.push(`restart failed: ${(e as Error).message}`);
            break;
          }
          earlier.push("restarted the server and measured again");
        }
        mctx.log(`${spec.id}: ${scenario.id}`);
        const c = await measure(server, spec, scenario, mctx);
        if (server.alive() || restarts >= MAX_RESTARTS) cell = c;
        else earlier.push(...c.notes);
      }
      cell ??= notRun(spec, scenario, ["not run"]);
      cell.notes.unshift(...earlier);
      measured.cells.push(cell);
    }
  } finally {
    await server.stop();
  }
  return measured;
}

/**
 * Each server in turn: prepared, started, all its cleartext scenarios,
 * stopped; started again with the certificate for its HTTPS scenarios.
 */
export async function oneAfterAnother(
  specs: readonly ServerSpec[],
  scenarios: readonly Scenario[],
  ctx: ServerContext,
  mctx: MeasureContext,
): Promise<Outcome> {
  const out: Outcome = { cells: [], skipped: [], ran: [], tlsChecks: [] };
  for (const spec of specs) {
    if (isStopping()) break;
    const mine = scenarios.filter((s) => s.servers.includes(spec.id));
    if (mine.length === 0) continue;
    const reason = await spec.prepare(ctx);
    if (reason) {
      mctx.log(`skipping ${spec.label}: ${reason}`);
      out.skipped.push({ label: spec.label, reason });
      continue;
    }
    for (const group of groups(mine)) {
      if (isStopping()) break;
      const tls = group[0].tls ? mctx.tls : undefined;
      const label = labelOf(spec, tls !== undefined);
      const m = await measureServer(spec, label, group, tls, ctx, mctx);
      if (typeof m === "string") {
        out.skipped.push({ label, reason: m });
        continue;
      }
      if (!out.ran.includes(spec)) out.ran.push(spec);
      out.cells.push(...m.cells);
      if (m.tlsChecks) out.tlsChecks.push({ label, checks: m.tlsChecks });
    }
  }
  return out;
}

/**
 * All servers of a group (cleartext, then HTTPS) started at once, each
 * pinned to the server CPU and idle while the others are measured; for
 * each scenario every server is checked and warmed up, then repetition
 * `i` is measured on each server in turn, starting with a different one
 * each time. A server that dies is not restarted.
 */
export async function interleaved(
  specs: readonly ServerSpec[],
  scenarios: readonly Scenario[],
  ctx: ServerContext,
  mctx: MeasureContext,
): Promise<Outcome> {
  const out: Outcome = { cells: [], skipped: [], ran: [], tlsChecks: [] };
  const ready: ServerSpec[] = [];
  for (const spec of specs) {
    if (!scenarios.some((s) => s.servers.includes(spec.id))) continue;
    const reason = await spec.prepare(ctx);
    if (reason) {
      mctx.log(`skipping ${spec.label}: ${reason}`);
      out.skipped.push({ label: spec.label, reason });
    } else ready.push(spec);
  }
  for (const group of groups(scenarios)) {
    const tls = group[0].tls ? mctx.tls : undefined;
    const running: { spec: ServerSpec; server: RunningServer }[] = [];
    try {
      for (const spec of ready) {
        if (isStopping()) break;
        if (!group.some((s) => s.servers.includes(spec.id))) continue;
        const label = labelOf(spec, tls !== undefined);
        try {
          mctx.log(`starting ${label}`);
          const server = await spec.start(ctx, tls);
          running.push({ spec, server });
          mctx.log(
            `${label} listens on ${server.scheme}://127.0.0.1:${server.port}/, pid ${server.pid}`,
          );
          if (!out.ran.includes(spec)) out.ran.push(spec);
          if (tls) {
            const checks = await checkTls(
              server.port,
              group[0].path,
              tls,
              ctx.tmpDir,
            );
            mctx.log(`${label}: ${describeTlsChecks(checks)}`);
            out.tlsChecks.push({ label, checks });
          }
        } catch (e) {
          const reason = (e as Error).message;
          mctx.log(`skipping ${label}: ${reason}`);
          out.skipped.push({
            label,
            reason: reason.split("\n").join(" / ").slice(0, 500),
          });
        }
      }
      for (const scenario of group) {
        if (isStopping()) break;
        const cells: (Measuring | Cell)[] = [];
        for (const { spec, server } of running) {
          if (!scenario.servers.includes(spec.id)) continue;
          if (!server.alive()) {
            cells.push(notRun(spec, scenario, [
              `the server process had died (${server.exitInfo() ?? "gone"})`,
            ]));
            continue;
          }
          mctx.log(`${spec.id}: ${scenario.id} (check and warm-up)`);
          cells.push(await startCell(server, spec, scenario, mctx));
        }
        const measuring = cells.filter((c): c is Measuring => "spec" in c);
        const reps = scenario.once ? 1 : mctx.mode.reps;
        for (let i = 0; i < reps && !isStopping(); i++) {
          for (const k of turnOrder(measuring.length, i)) {
            const m = measuring[k];
            if (m.server.alive()) await measureRun(m, i, mctx);
          }
        }
        for (const c of cells) {
          out.cells.push("spec" in c ? await finishCell(c) : c);
        }
      }
    } finally {
      await Promise.all(running.map(({ server }) => server.stop()));
    }
  }
  return out;
}
