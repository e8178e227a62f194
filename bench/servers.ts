/**
 * The servers the benchmark compares: two nginx configurations, pws,
 * the minimal prototype of issue 7 (bench/prototype.ts), the bare TLS
 * prototype (bench/prototype_tls.ts), Python's http.server and the npm
 * package `serve`. Each is started pinned to CPU 0, with its output
 * appended to a log file in the temp dir; nginx A, pws and the TLS
 * prototype can be started with a certificate, for the HTTPS scenarios.
 *
 * @module
 */

import { nginxConfig } from "./nginx.ts";
import {
  alive,
  cmdline,
  descendants,
  freePort,
  killTree,
  procStat,
  run,
  sleep,
  type Started,
  startLogged,
  succeeds,
  waitForPort,
} from "./procs.ts";
import { parseListenPort } from "./stats.ts";

/** Identifiers accepted by `--only`. */
export type ServerId =
  | "nginx-a"
  | "nginx-b"
  | "nginx-c"
  | "pws"
  | "pws-nowatch"
  | "pws-base"
  | "ceiling"
  | "prototype"
  | "prototype-tls"
  | "python"
  | "serve";

/** All server ids, in the order they are benchmarked and reported. */
export const SERVER_IDS: readonly ServerId[] = [
  "nginx-a",
  "nginx-b",
  "nginx-c",
  "pws",
  "pws-nowatch",
  "pws-base",
  "ceiling",
  "prototype",
  "prototype-tls",
  "python",
  "serve",
];

/** The version of `serve` that is benchmarked (pinned for reproducibility). */
export const SERVE_VERSION = "14.2.7";

/** The CPU the servers are pinned to. */
export const SERVER_CPU = 0;

/** What every server needs to know to start. */
export interface ServerContext {
  /** Temp dir of this benchmark run (logs, configs). */
  tmpDir: string;
  /** The document root with the test files. */
  root: string;
  /** Directory holding pws's `main.ts`. */
  repoDir: string;
  /**
   * A checkout of an earlier pws (`--baseline DIR`), run as `pws-base` to
   * compare against.
   */
  baselineDir?: string;
  /** Progress output. */
  log: (msg: string) => void;
}

/** The run's certificate, as PEM files in the temp dir. */
export interface TlsFiles {
  /** The server certificate followed by the CA that signed it. */
  cert: string;
  /** The server's private key (PKCS#8). */
  key: string;
  /** The CA certificate alone, for clients (`curl --cacert`). */
  ca: string;
}

/** A server that is up and listening. */
export interface RunningServer {
  /** Port on 127.0.0.1. */
  port: number;
  /** `https` when started with a certificate. */
  scheme: "http" | "https";
  /** The process whose memory and CPU time are measured. */
  pid: number;
  /** The process that was spawned (may be a launcher such as npx). */
  rootPid: number;
  /** Log file with the server's stdout and stderr. */
  logFile: string;
  /** True while the measured process is alive. */
  alive(): boolean;
  /** Once the spawned process has exited: how, and the end of its logs. */
  exitInfo(): string | undefined;
  /** Stops the server and its descendants. */
  stop(): Promise<void>;
}

/** How to prepare, start and describe one kind of server. */
export interface ServerSpec {
  id: ServerId;
  /** Name used in tables. */
  label: string;
  /** Name used in the tables of the HTTPS scenarios, when not `label`. */
  tlsLabel?: string;
  /** One-line description for the report. */
  about: string;
  /**
   * Installs or checks what the server needs; returns a reason to skip it,
   * or undefined when it can run.
   */
  prepare(ctx: ServerContext): Promise<string | undefined>;
  /** A version string for the report. */
  version(ctx: ServerContext): Promise<string>;
  /**
   * Starts the server (serving HTTPS only, with `tls`); throws when it
   * does not come up.
   */
  start(ctx: ServerContext, tls?: TlsFiles): Promise<RunningServer>;
}

const taskset = ["taskset", "-c", String(SERVER_CPU)];

function tail(file: string, lines = 20): string {
  try {
    return Deno.readTextFileSync(file).trimEnd().split("\n").slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutMs: 30_000 });
    return (r.stdout.trim() || r.stderr.trim()).split("\n")[0] ?? "";
  } catch {
    return "not installed";
  }
}

/**
 * Starts `cmd args` pinned to the server CPU, waits for it to listen and
 * builds the {@link RunningServer}. `findPort` gets the port (for servers
 * that print it); `pickPid` chooses the measured process among the spawned
 * one and its descendants.
 */
async function launch(
  ctx: ServerContext,
  id: string,
  cmd: string[],
  opts: {
    port?: number;
    findPort?: (log: string) => number | undefined;
    pickPid?: (candidates: number[]) => number | undefined;
    timeoutMs?: number;
    cwd?: string;
    /** More log files to show when the server dies (e.g. nginx's error.log). */
    extraLogs?: string[];
    /** It speaks HTTPS. */
    tls?: boolean;
  },
): Promise<RunningServer> {
  const logFile = `${ctx.tmpDir}/${id}.log`;
  await Deno.writeTextFile(logFile, "");
  const p: Started = startLogged(
    taskset[0],
    [...taskset.slice(1), ...cmd],
    logFile,
    {
      cwd: opts.cwd,
    },
  );
  const stop = () => killTree(p.pid, 5000);
  try {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let port = opts.port;
    if (port === undefined) {
      const deadline = Date.now() + timeoutMs;
      while (port === undefined) {
        if (p.exited()) throw new Error("exited before printing its URL");
        if (Date.now() > deadline) {
          throw new Error(
            `printed no http(s)://HOST:PORT/ line in ${timeoutMs} ms`,
          );
        }
        await sleep(50);
        port = opts.findPort?.(Deno.readTextFileSync(logFile));
      }
    }
    await waitForPort(port, timeoutMs, p.exited);
    let pid = p.pid;
    if (opts.pickPid) {
      const deadline = Date.now() + 10_000;
      let found: number | undefined;
      while (
        (found = opts.pickPid([p.pid, ...descendants(p.pid)])) === undefined
      ) {
        if (Date.now() > deadline) {
          throw new Error("cannot find the server process");
        }
        await sleep(100);
      }
      pid = found;
    }
    let how: string | undefined;
    p.status.then((st) => {
      how = st.signal
        ? `killed by ${st.signal}`
        : `exited with code ${st.code}`;
    });
    return {
      port,
      scheme: opts.tls ? "https" : "http",
      pid,
      rootPid: p.pid,
      logFile,
      alive: () => alive(pid),
      exitInfo: () => {
        if (how === undefined && alive(pid)) return undefined;
        const logs = [logFile, ...(opts.extraLogs ?? [])].map((f) => tail(f, 2))
          .filter((t) => t !== "").join(" / ").replaceAll("\n", " / ");
        return `${how ?? "measured process gone"}${
          logs ? `; log: ${logs}` : ""
        }`;
      },
      stop,
    };
  } catch (e) {
    await stop();
    const log = tail(logFile);
    throw new Error(
      `${id} did not start: ${(e as Error).message}${log ? `\n${log}` : ""}`,
    );
  }
}

/** Installs Debian packages with apt-get (running `apt-get update` first if needed). */
export async function aptInstall(
  packages: string[],
  log: (msg: string) => void,
): Promise<boolean> {
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", ["install", "-y", "--no-install-recommends", ...packages], {
      timeoutMs: 300_000,
      env,
    });
  log(`installing ${packages.join(" ")} with apt-get`);
  try {
    let r = await install();
    if (r.code !== 0) {
      log("apt-get install failed; running apt-get update first");
      await run("apt-get", ["update"], { timeoutMs: 300_000, env });
      r = await install();
    }
    return r.code === 0;
  } catch {
    return false;
  }
}

const NGINX_LABELS: Record<
  "nginx-a" | "nginx-b" | "nginx-c",
  { label: string; about: string }
> = {
  "nginx-a": {
    label: "nginx A (default)",
    about:
      "nginx, single process (`master_process off`), `sendfile on`, `tcp_nopush on`, no access log, `keepalive_requests 100000`",
  },
  "nginx-b": {
    label: "nginx B (open_file_cache)",
    about:
      "nginx, config A plus `open_file_cache max=1000 inactive=20s; open_file_cache_valid 30s;`",
  },
  "nginx-c": {
    label: "nginx C (open_file_cache, sendfile off)",
    about:
      "nginx, config B with `sendfile off` (no `tcp_nopush`): no open or stat per request, and a small file goes out with head and body in one `writev`",
  },
};

function nginxSpec(id: "nginx-a" | "nginx-b" | "nginx-c"): ServerSpec {
  const cached = id !== "nginx-a";
  return {
    id,
    label: NGINX_LABELS[id].label,
    tlsLabel: id === "nginx-a" ? "nginx A + ssl" : undefined,
    about: NGINX_LABELS[id].about,
    async prepare(ctx) {
      if (await succeeds("nginx", ["-v"])) return undefined;
      if (
        await aptInstall(["nginx"], ctx.log) && await succeeds("nginx", ["-v"])
      ) {
        return undefined;
      }
      return "nginx is not installed and apt-get could not install it";
    },
    version: () => firstLine("nginx", ["-v"]),
    async start(ctx, tls) {
      const dir = `${ctx.tmpDir}/${id}${tls ? "-tls" : ""}`;
      await Deno.mkdir(dir, { recursive: true });
      const port = freePort();
      const conf = `${dir}/nginx.conf`;
      await Deno.writeTextFile(
        conf,
        nginxConfig({
          tmpDir: dir,
          root: ctx.root,
          port,
          openFileCache: cached,
          sendfileOff: id === "nginx-c",
          tls,
        }),
      );
      return launch(ctx, `${id}${tls ? "-tls" : ""}`, [
        "nginx",
        "-p",
        dir,
        "-e",
        `${dir}/error.log`,
        "-c",
        conf,
      ], {
        port,
        extraLogs: [`${dir}/error.log`],
        tls: tls !== undefined,
      });
    },
  };
}

/** How pws and the prototype are run: the flags of `deno task start`. */
const DENO_RUN = [
  Deno.execPath(),
  "run",
  "--allow-all",
  "--v8-flags=--max-semi-space-size=1",
];

/** The port of the first `http(s)://HOST:PORT/` line a server printed. */
function portFromLog(log: string): number | undefined {
  for (const line of log.split("\n")) {
    const port = parseListenPort(line);
    if (port !== undefined) return port;
  }
  return undefined;
}

/**
 * pws from `repoDir` (the checkout under test, or `--baseline`'s),
 * started with `extra` flags.
 */
function pwsSpec(
  id: "pws" | "pws-nowatch" | "pws-base",
  label: string,
  about: string,
  extra: string[],
): ServerSpec {
  const dirOf = (ctx: ServerContext) =>
    id === "pws-base" ? ctx.baselineDir : ctx.repoDir;
  return {
    id,
    label,
    about,
    async prepare(ctx) {
      const dir = dirOf(ctx);
      if (dir === undefined) return "no --baseline DIR given";
      try {
        await Deno.stat(`${dir}/main.ts`);
      } catch {
        return `${dir}/main.ts does not exist`;
      }
      if (extra.length === 0) return undefined;
      // An older pws may not know the flag: ask its --help.
      const help = await run(Deno.execPath(), [
        "run",
        "--allow-all",
        "main.ts",
        "--help",
      ], { cwd: dir, timeoutMs: 60_000 }).catch(() => undefined);
      const text = `${help?.stdout ?? ""}${help?.stderr ?? ""}`;
      const missing = extra.filter((f) => f.startsWith("--"))
        .filter((f) => !text.includes(f));
      return missing.length > 0
        ? `this pws does not know ${missing.join(", ")} (not in its --help)`
        : undefined;
    },
    async version(ctx) {
      const dir = dirOf(ctx);
      const rev = dir === undefined ? "" : await firstLine("git", [
        "-C",
        dir,
        "log",
        "-1",
        "--format=%h %s",
      ]);
      return rev.slice(0, 100);
    },
    start(ctx, tls) {
      const name = tls ? `${id}-tls` : id;
      return launch(ctx, name, [
        ...DENO_RUN,
        "main.ts",
        "--quiet",
        ...extra,
        "--root",
        ctx.root,
        "--host",
        "127.0.0.1",
        ...(tls ? ["--tls-cert", tls.cert, "--tls-key", tls.key] : []),
        "0",
      ], {
        cwd: dirOf(ctx),
        tls: tls !== undefined,
        timeoutMs: 120_000, // the first start may fetch npm packages
        findPort: portFromLog,
      });
    },
  };
}

const ceilingSpec: ServerSpec = {
  id: "ceiling",
  label: "bare Deno ceiling",
  about:
    "bench/ceiling.ts: raw TCP, responses made at start-up (200, 304 and the benchmark's 206) written as they are: no stat, open, parsing, validation or Date; what any Deno server on raw TCP can reach at best",
  prepare: () => Promise.resolve(undefined),
  version: () => firstLine(Deno.execPath(), ["--version"]),
  start(ctx) {
    return launch(ctx, "ceiling", [...DENO_RUN, "bench/ceiling.ts", ctx.root], {
      cwd: ctx.repoDir,
      findPort: portFromLog,
    });
  },
};

const prototypeSpec: ServerSpec = {
  id: "prototype",
  label: "issue-7 prototype",
  about:
    "bench/prototype.ts: the minimal raw-TCP design of issue 7 (stat per request, ready response in memory; no parsing, validators or Date), the ceiling of that design on this machine",
  prepare: () => Promise.resolve(undefined),
  version: () => firstLine(Deno.execPath(), ["--version"]),
  start(ctx) {
    return launch(ctx, "prototype", [
      ...DENO_RUN,
      "bench/prototype.ts",
      ctx.root,
    ], {
      cwd: ctx.repoDir,
      findPort: portFromLog,
    });
  },
};

const prototypeTlsSpec: ServerSpec = {
  id: "prototype-tls",
  label: "TLS prototype",
  about:
    "bench/prototype_tls.ts: a bare `Deno.listenTls` listener writing responses made at start-up (no stat, parsing or validation), the ceiling Deno's TLS stack sets on this machine; HTTPS scenarios only",
  prepare: () => Promise.resolve(undefined),
  version: () => firstLine(Deno.execPath(), ["--version"]),
  start(ctx, tls) {
    if (!tls) {
      return Promise.reject(new Error("the TLS prototype needs a certificate"));
    }
    return launch(ctx, "prototype-tls", [
      ...DENO_RUN,
      "bench/prototype_tls.ts",
      ctx.root,
      tls.cert,
      tls.key,
    ], {
      cwd: ctx.repoDir,
      findPort: portFromLog,
      tls: true,
    });
  },
};

const pythonSpec: ServerSpec = {
  id: "python",
  label: "python http.server",
  about:
    "`python3 -m http.server --bind 127.0.0.1` (threading, HTTP/1.0: one request per connection)",
  async prepare(ctx) {
    if (await succeeds("python3", ["--version"])) return undefined;
    if (
      await aptInstall(["python3"], ctx.log) &&
      await succeeds("python3", ["--version"])
    ) return undefined;
    return "python3 is not installed and apt-get could not install it";
  },
  version: () => firstLine("python3", ["--version"]),
  start(ctx) {
    const port = freePort();
    return launch(ctx, "python", [
      "python3",
      "-m",
      "http.server",
      "--bind",
      "127.0.0.1",
      "--directory",
      ctx.root,
      String(port),
    ], {
      port,
      // pyenv shims exec the real interpreter, so this is normally the spawned pid.
      pickPid: (pids) =>
        pids.find((p) => procStat(p)?.comm.startsWith("python")),
    });
  },
};

const serveSpec: ServerSpec = {
  id: "serve",
  label: `serve ${SERVE_VERSION}`,
  about:
    `\`npx -y serve@${SERVE_VERSION} -L -n --no-port-switching -l tcp://127.0.0.1:PORT DIR\` (Node.js; defaults except request logging off)`,
  async prepare(ctx) {
    if (!(await succeeds("npx", ["--version"]))) {
      return "npx (Node.js) is not installed";
    }
    ctx.log(
      `fetching serve@${SERVE_VERSION} with npx (cached after the first time)`,
    );
    const r = await run("npx", ["-y", `serve@${SERVE_VERSION}`, "--version"], {
      timeoutMs: 240_000,
    }).catch((e) => ({
      code: -1,
      stdout: "",
      stderr: String(e),
      timedOut: false,
    }));
    if (r.code !== 0 || r.timedOut) {
      return `npx -y serve@${SERVE_VERSION} failed: ${
        (r.stderr.trim().split("\n").pop() ?? "").slice(0, 200)
      }`;
    }
    return undefined;
  },
  async version() {
    return `serve ${SERVE_VERSION} on Node.js ${await firstLine("node", [
      "--version",
    ])}`;
  },
  start(ctx) {
    const port = freePort();
    return launch(ctx, "serve", [
      "npx",
      "-y",
      `serve@${SERVE_VERSION}`,
      "-L",
      "-n",
      "--no-port-switching",
      "-l",
      `tcp://127.0.0.1:${port}`,
      ctx.root,
    ], {
      port,
      timeoutMs: 60_000,
      // npx → npm exec → sh → node …/serve: measure the node process that serves.
      pickPid: (pids) =>
        pids.filter((p) =>
          procStat(p)?.comm === "node" && /serve/.test(cmdline(p))
        )
          .pop(),
    });
  },
};

/** The specification of every server, by id. */
export const SERVERS: Readonly<Record<ServerId, ServerSpec>> = {
  "nginx-a": nginxSpec("nginx-a"),
  "nginx-b": nginxSpec("nginx-b"),
  "nginx-c": nginxSpec("nginx-c"),
  pws: pwsSpec(
    "pws",
    "pws",
    "this project: `deno run --allow-all --v8-flags=--max-semi-space-size=1 main.ts --quiet --root DIR --host 127.0.0.1 0` (access log off, as in the nginx configs; the root watcher on where pws has one); for HTTPS also `--tls-cert CERT --tls-key KEY`",
    [],
  ),
  "pws-nowatch": pwsSpec(
    "pws-nowatch",
    "pws --no-watch",
    "pws as above with `--no-watch`: no root watcher, a `stat` per cached hit",
    ["--no-watch"],
  ),
  "pws-base": pwsSpec(
    "pws-base",
    "pws baseline",
    "an earlier pws (`--baseline DIR`, its commit under Machine), started like pws",
    [],
  ),
  ceiling: ceilingSpec,
  prototype: prototypeSpec,
  "prototype-tls": prototypeTlsSpec,
  python: pythonSpec,
  serve: serveSpec,
};
