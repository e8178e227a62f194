/**
 * The pws benchmark: compares pws with nginx (two configurations), Python's
 * http.server and `serve` on loopback, over HTTP and HTTPS, with wrk, and
 * writes a Markdown report. See bench/README.md.
 *
 *     deno task bench                      # full run, ~20 minutes
 *     deno task bench --quick              # ~2 minutes
 *     deno task bench --only pws,nginx --scenarios 1k,1m
 *     deno task bench --strace             # syscalls per request
 *
 * @module
 */

import {
  CLIENT_CPU,
  h2loadArgs,
  makeDocroot,
  makeTlsFiles,
  wrkArgs,
} from "./load.ts";
import type { MeasureContext } from "./measure.ts";
import { nginxConfig } from "./nginx.ts";
import { isStopping, killAll, run, succeeds } from "./procs.ts";
import { type Environment, renderReport, renderTables } from "./report.ts";
import { interleaved, oneAfterAnother } from "./schedule.ts";
import { SCENARIOS } from "./scenarios.ts";
import {
  aptInstall,
  SERVER_CPU,
  type ServerContext,
  SERVERS,
  type ServerSpec,
} from "./servers.ts";
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
  tls = false,
  h2 = false,
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
  if (tls) {
    versions.openssl = await text("openssl", ["version"]);
    // wrk speaks TLS through the OpenSSL it is linked with.
    versions["wrk's TLS library"] = (await text("sh", [
      "-c",
      'ldd "$(command -v wrk)" | grep -o "libssl[^ ]*"',
    ])) || "none found";
  }
  if (h2) versions.h2load = await text("h2load", ["--version"]);
  for (const s of specs) {
    // Same binary as nginx-a or pws, or deno.
    if (
      ["nginx-b", "nginx-c", "pws-nowatch", "prototype-tls", "ceiling"]
        .includes(s.id)
    ) continue;
    const key = s.id === "nginx-a"
      ? "nginx"
      : s.id === "pws"
      ? "pws commit"
      : s.id === "pws-base"
      ? "pws baseline commit"
      : s.id;
    versions[key] = (await s.version(ctx)).replace(/^nginx version: /, "");
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

/**
 * Makes sure wrk, curl and taskset (strace when asked, openssl for HTTPS
 * scenarios) are there, installing with apt.
 */
async function ensureTools(
  strace: boolean,
  tls: boolean,
  h2: boolean,
): Promise<void> {
  const need: [string, string[], string][] = [
    ["wrk", ["-v"], "wrk"],
    ["curl", ["--version"], "curl"],
    ["taskset", ["--version"], "util-linux"],
  ];
  if (strace) need.push(["strace", ["-V"], "strace"]);
  if (tls) need.push(["openssl", ["version"], "openssl"]);
  if (h2) need.push(["h2load", ["--version"], "nghttp2-client"]);
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
  const mctx: MeasureContext = {
    mode: opts.mode,
    ticksPerS: await clockTicks(),
    log,
    waitQuietS: opts.waitQuietS,
  };
  log(
    `mode ${opts.mode.name}; servers ${opts.servers.join(", ")}; scenarios ${
      opts.scenarios.join(", ")
    }`,
  );
  await makeDocroot(ctx.root, scenarios.some((s) => s.id === "1g-x50"));
  const anyTls = scenarios.some((s) => s.tls);
  if (anyTls) mctx.tls = await makeTlsFiles(`${ctx.tmpDir}/tls`);
  const outcome = await (opts.interleave ? interleaved : oneAfterAnother)(
    specs,
    scenarios,
    ctx,
    mctx,
  );
  const { cells, skipped, ran, tlsChecks } = outcome;
  if (isStopping()) throw new Error("interrupted");
  const env = await environment(
    specs,
    ctx,
    anyTls,
    scenarios.some((s) => s.client === "h2load"),
  );
  const commands = [
    `taskset -c ${SERVER_CPU} <server>     # every server`,
    ...scenarios.map((s) => {
      const o = {
        url: `${s.tls ? "https" : "http"}://127.0.0.1:PORT${s.path}`,
        connections: s.connections,
        durationS: s.once ? opts.mode.hugeDurationS : opts.mode.durationS,
        timeoutS: s.timeoutS,
        headers: s.ifNoneMatch
          ? [...s.headers, 'If-None-Match: "<ETag from HEAD>"']
          : s.headers,
        streams: s.streams,
      };
      const h2 = s.client === "h2load";
      return `taskset -c ${CLIENT_CPU} ${h2 ? "h2load" : "wrk"} ${
        (h2 ? h2loadArgs(o) : wrkArgs(o))
          .map((a) => (/[\s"]/.test(a) ? `'${a}'` : a)).join(" ")
      }   # ${s.id}`;
    }),
  ];
  const nginxA = (tls?: { cert: string; key: string }) =>
    nginxConfig({
      tmpDir: "TMP",
      root: "ROOT",
      port: 0,
      openFileCache: false,
      tls,
    }).replace(":0", ":PORT");
  const nginxRan = ran.some((s) => s.id === "nginx-a");
  const report = renderReport({
    env,
    mode: opts.mode,
    cells,
    scenarios,
    servers: ran.map((s) => ({ id: s.id, label: s.label, about: s.about })),
    skipped,
    commands,
    nginxConfigA: nginxRan ? nginxA() : undefined,
    waitQuietS: opts.waitQuietS,
    interleave: opts.interleave,
    tls: anyTls
      ? {
        checks: tlsChecks,
        nginxConfig: nginxRan && scenarios.some((s) =>
            s.tls && s.servers.includes("nginx-a")
          )
          ? nginxA({ cert: "TMP/tls/cert.pem", key: "TMP/tls/key.pem" })
          : undefined,
      }
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
    baselineDir: opts.baselineDir,
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
    const chosen = SCENARIOS.filter((s) => opts.scenarios.includes(s.id));
    await ensureTools(
      opts.strace,
      !opts.strace && chosen.some((s) => s.tls),
      !opts.strace && chosen.some((s) => s.client === "h2load"),
    );
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
