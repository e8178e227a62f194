/**
 * The pws benchmark: compares pws with nginx (two configurations), Python's
 * http.server and `serve` on loopback, with wrk, and writes a Markdown
 * report. See bench/README.md.
 *
 *     deno task bench                      # full run, ~15 minutes
 *     deno task bench --quick              # ~1.5 minutes
 *     deno task bench --only pws,nginx --scenarios 1k,1m
 *     deno task bench --strace             # syscalls per request
 *
 * @module
 */

import { CLIENT_CPU, curlCheck, makeDocroot, runWrk, wrkArgs } from "./load.ts";
import { nginxConfig } from "./nginx.ts";
import {
  cpuTicks,
  isStopping,
  killAll,
  rssBytes,
  run,
  sampleMax,
  succeeds,
} from "./procs.ts";
import {
  type Cell,
  type Environment,
  renderReport,
  renderTables,
  type RunMetrics,
} from "./report.ts";
import { type Mode, type Scenario, SCENARIOS } from "./scenarios.ts";
import {
  aptInstall,
  type RunningServer,
  SERVER_CPU,
  type ServerContext,
  SERVERS,
  type ServerSpec,
} from "./servers.ts";
import {
  type CurlTransfer,
  formatCount,
  formatLatency,
  formatMiB,
  formatNumber,
} from "./stats.ts";
import { measureSyscalls } from "./syscalls.ts";
import { type Options, parseOptions, USAGE } from "./options.ts";

function log(msg: string): void {
  const t = new Date().toISOString().slice(11, 19);
  console.error(`[${t}] ${msg}`);
}

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutMs: 30_000 });
    return (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "";
  } catch {
    return "not installed";
  }
}

/** `nproc` as seen before the harness pins itself to one CPU. */
let nprocBeforePinning = "";
/** The 1, 5 and 15 minute load averages when the run started. */
let loadAtStart = "unknown";

async function environment(
  specs: ServerSpec[],
  ctx: ServerContext,
): Promise<Environment> {
  let cpuModel = "unknown";
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(
      await Deno.readTextFile("/proc/cpuinfo"),
    );
    if (m) cpuModel = m[1];
  } catch { /* not Linux */ }
  const versions: Record<string, string> = {
    deno: await text(Deno.execPath(), ["--version"]),
    wrk: (await text("wrk", ["-v"])).replace(/\s*Copyright.*$/, ""),
    curl: (await text("curl", ["--version"])).split(" ").slice(0, 2).join(" "),
  };
  for (const s of specs) {
    if (s.id === "nginx-b" || s.id === "pws") continue; // same binary as nginx-a / deno
    versions[s.id === "nginx-a" ? "nginx" : s.id] = (await s.version(ctx))
      .replace(/^nginx version: /, "");
  }
  return {
    date: new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC",
    nproc: nprocBeforePinning || await text("nproc", []),
    cpuModel,
    kernel: await text("uname", ["-sr"]),
    loadAtStart,
    versions,
  };
}

/** Makes sure wrk, curl and taskset (and strace when asked) are there, installing with apt. */
async function ensureTools(strace: boolean): Promise<void> {
  const need: [string, string[], string][] = [
    ["wrk", ["-v"], "wrk"],
    ["curl", ["--version"], "curl"],
    ["taskset", ["--version"], "util-linux"],
  ];
  if (strace) need.push(["strace", ["-V"], "strace"]);
  for (const [cmd, args, pkg] of need) {
    // `wrk -v` exits 1, so look at whether it runs at all.
    const ok = cmd === "wrk"
      ? (await text("wrk", ["-v"])).startsWith("wrk")
      : await succeeds(cmd, args);
    if (ok) continue;
    if (!(await aptInstall([pkg], log))) {
      throw new Error(`${cmd} is missing and apt-get could not install ${pkg}`);
    }
  }
}

async function clockTicks(): Promise<number> {
  const t = Number(await text("getconf", ["CLK_TCK"]));
  return Number.isFinite(t) && t > 0 ? t : 100;
}

/** How often a server that died is restarted before its scenarios are given up. */
const MAX_RESTARTS = 2;

/** Measures one scenario on one running server. */
async function measure(
  server: RunningServer,
  spec: ServerSpec,
  scenario: Scenario,
  mode: Mode,
  ticksPerS: number,
): Promise<Cell> {
  const short = spec.id === "python" || spec.id === "serve";
  const durationS = scenario.once
    ? mode.hugeDurationS
    : short
    ? mode.shortDurationS
    : mode.durationS;
  const cell: Cell = {
    server: spec.id,
    label: spec.label,
    scenario,
    durationS,
    runs: [],
    check: "–",
    checkOk: false,
    notes: [],
  };
  const url = `http://127.0.0.1:${server.port}${scenario.path}`;
  const headers = [...scenario.headers];
  try {
    if (scenario.ifNoneMatch) {
      const head = await curlCheck(url, [], { head: true });
      const etag = head.headers["etag"];
      if (!etag) {
        cell.check = `${head.transfers[0].status}, no ETag`;
        cell.notes.push("no ETag on HEAD: nothing to revalidate");
        return cell;
      }
      headers.push(`If-None-Match: ${etag}`);
    }
    // Twice in one curl: the second request goes over the same connection
    // when the server keeps it alive, which catches broken keep-alive.
    const c = await curlCheck(url, headers, {
      head: scenario.expect.head,
      count: 2,
      maxTimeS: (scenario.expect.bytes ?? 0) > 1024 ** 2 ? 20 : 5,
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
  const base = {
    url,
    connections: scenario.connections,
    timeoutS: scenario.timeoutS,
    headers,
  };
  try {
    await runWrk({ ...base, durationS: mode.warmupS });
  } catch (e) {
    cell.notes.push(`warm-up: ${(e as Error).message}`);
  }
  const reps = scenario.once ? 1 : mode.reps;
  for (let i = 0; i < reps && server.alive(); i++) {
    const cpu0 = cpuTicks(server.pid);
    const sampler = sampleMax(() => rssBytes(server.pid), 100);
    let w;
    try {
      w = await runWrk({ ...base, durationS });
    } catch (e) {
      sampler.stop();
      cell.notes.push(`run ${i + 1}: ${(e as Error).message}`);
      continue;
    }
    const rssMax = sampler.stop();
    const cpuS = (cpuTicks(server.pid) - cpu0) / ticksPerS;
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
      errors: w.socketErrors + w.badStatus,
      requests: w.requests,
    };
    cell.runs.push(m);
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
        `, CPU ${cpuS.toFixed(2)} s` +
        (m.errors > 0 ? `, ${formatCount(m.errors)} errors` : ""),
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

/** Writes a Markdown report and runs `deno fmt` on it, so `deno fmt --check` stays clean. */
async function writeReport(file: string, markdown: string): Promise<void> {
  await Deno.writeTextFile(file, markdown);
  const r = await run(Deno.execPath(), ["fmt", "-q", file], {
    timeoutMs: 60_000,
  }).catch(() => undefined);
  if (!r || r.code !== 0) {
    log(`deno fmt ${file} failed; the file is unformatted`);
  }
}

async function pinSelf(): Promise<void> {
  // All threads of this harness on the client CPU, away from the server's.
  await run(
    "taskset",
    ["-a", "-p", "-c", String(CLIENT_CPU), String(Deno.pid)],
    { timeoutMs: 10_000 },
  )
    .catch(() => {});
}

async function benchmark(opts: Options, ctx: ServerContext): Promise<void> {
  const t0 = Date.now();
  const scenarios = SCENARIOS.filter((s) => opts.scenarios.includes(s.id));
  const specs = opts.servers.map((id) => SERVERS[id]);
  const cells: Cell[] = [];
  const skipped: { label: string; reason: string }[] = [];
  const ran: ServerSpec[] = [];
  const ticksPerS = await clockTicks();
  log(
    `mode ${opts.mode.name}; servers ${opts.servers.join(", ")}; scenarios ${
      opts.scenarios.join(", ")
    }`,
  );
  await makeDocroot(ctx.root, scenarios.some((s) => s.id === "1g-x50"));
  for (const spec of specs) {
    if (isStopping()) break;
    const mine = scenarios.filter((s) => s.servers.includes(spec.id));
    if (mine.length === 0) continue;
    const reason = await spec.prepare(ctx);
    if (reason) {
      log(`skipping ${spec.label}: ${reason}`);
      skipped.push({ label: spec.label, reason });
      continue;
    }
    let server: RunningServer;
    try {
      log(`starting ${spec.label}`);
      server = await spec.start(ctx);
    } catch (e) {
      const reason = (e as Error).message;
      log(`skipping ${spec.label}: ${reason}`);
      skipped.push({
        label: spec.label,
        reason: reason.split("\n").join(" / ").slice(0, 500),
      });
      continue;
    }
    ran.push(spec);
    log(`${spec.label} listens on 127.0.0.1:${server.port}, pid ${server.pid}`);
    let restarts = 0;
    try {
      for (const scenario of mine) {
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
            log(`${spec.label} died (${how}); restarting it`);
            await server.stop();
            try {
              server = await spec.start(ctx);
            } catch (e) {
              earlier.push(`restart failed: ${(e as Error).message}`);
              break;
            }
            earlier.push("restarted the server and measured again");
          }
          log(`${spec.id}: ${scenario.id}`);
          const c = await measure(server, spec, scenario, opts.mode, ticksPerS);
          if (server.alive() || restarts >= MAX_RESTARTS) cell = c;
          else earlier.push(...c.notes);
        }
        cell ??= {
          server: spec.id,
          label: spec.label,
          scenario,
          durationS: 0,
          runs: [],
          check: "–",
          checkOk: false,
          notes: ["not run"],
        };
        cell.notes.unshift(...earlier);
        cells.push(cell);
      }
    } finally {
      await server.stop();
    }
  }
  if (isStopping()) throw new Error("interrupted");
  const env = await environment(specs, ctx);
  const commands = [
    `taskset -c ${SERVER_CPU} <server>     # every server`,
    ...scenarios.map((s) =>
      `taskset -c ${CLIENT_CPU} wrk ${
        wrkArgs({
          url: `http://127.0.0.1:PORT${s.path}`,
          connections: s.connections,
          durationS: s.once ? opts.mode.hugeDurationS : opts.mode.durationS,
          timeoutS: s.timeoutS,
          headers: s.ifNoneMatch
            ? [...s.headers, 'If-None-Match: "<ETag from HEAD>"']
            : s.headers,
        }).map((a) => (/[\s"]/.test(a) ? `'${a}'` : a)).join(" ")
      }   # ${s.id}`
    ),
  ];
  const report = renderReport({
    env,
    mode: opts.mode,
    cells,
    scenarios,
    servers: ran.map((s) => ({ id: s.id, label: s.label, about: s.about })),
    skipped,
    commands,
    nginxConfigA: specs.some((s) => s.id === "nginx-a")
      ? nginxConfig({
        tmpDir: "TMP",
        root: "ROOT",
        port: 0,
        openFileCache: false,
      }).replace(":0;", ":PORT;")
      : undefined,
    totalS: (Date.now() - t0) / 1000,
  });
  console.log(renderTables(scenarios, cells));
  if (skipped.length > 0) {
    console.log(
      `Skipped: ${
        skipped.map((s) => `${s.label} (${s.reason.split(" / ")[0]})`).join(
          "; ",
        )
      }`,
    );
  }
  await writeReport(opts.out, report);
  log(
    `report written to ${opts.out} (${Math.round((Date.now() - t0) / 1000)} s)`,
  );
}

async function main(): Promise<number> {
  const benchDir = new URL(".", import.meta.url).pathname.replace(/\/$/, "");
  let opts;
  try {
    opts = parseOptions(Deno.args, benchDir);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === "help") {
    console.log(USAGE);
    return 0;
  }
  const tmpDir = await Deno.makeTempDir({ prefix: "pws-bench-" });
  await Deno.chmod(tmpDir, 0o755);
  const ctx: ServerContext = {
    tmpDir,
    root: `${tmpDir}/root`,
    repoDir: new URL("..", import.meta.url).pathname.replace(/\/$/, ""),
    log,
  };
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    await killAll();
    for (let i = 0; i < 5; i++) {
      try {
        await Deno.remove(tmpDir, { recursive: true });
        break;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })());
  const onSignal = (sig: Deno.Signal, code: number) => () => {
    log(`${sig}: stopping every process started and cleaning up`);
    cleanup().finally(() => Deno.exit(code));
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal("SIGINT", 130)],
    ["SIGTERM", onSignal("SIGTERM", 143)],
    ["SIGHUP", onSignal("SIGHUP", 129)],
  ];
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  try {
    nprocBeforePinning = await text("nproc", []);
    try {
      loadAtStart = (await Deno.readTextFile("/proc/loadavg")).split(" ")
        .slice(0, 3).join(" ");
      if (Number(loadAtStart.split(" ")[0]) > 0.5) {
        log(
          `load average is ${loadAtStart}: other work on this machine will skew the figures`,
        );
      }
    } catch { /* not Linux */ }
    await pinSelf();
    await ensureTools(opts.strace);
    if (opts.strace) {
      await makeDocroot(ctx.root, false);
      const md = await measureSyscalls({
        specs: opts.servers.map((id) => SERVERS[id]),
        ctx,
        requests: opts.requests,
        environment: () =>
          environment(opts.servers.map((id) => SERVERS[id]), ctx),
      });
      console.log(md);
      await writeReport(opts.out, md);
      log(`written to ${opts.out}`);
    } else {
      await benchmark(opts, ctx);
    }
    return 0;
  } catch (e) {
    if (isStopping()) return 130; // interrupted by a signal
    log(`benchmark failed: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    await cleanup();
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
