/**
 * Starting, watching and stopping the benchmark's child processes, and
 * reading their memory and CPU time from /proc. Every process started here
 * is remembered until it exits, so {@link killAll} can end all of them (by
 * pid, with their descendants) on an error or a signal.
 *
 * @module
 */

import {
  type CpuTotals,
  parseCpuTotals,
  parseProcStat,
  parseStatusField,
  type ProcStat,
} from "./stats.ts";

/** A started child process. */
export interface Started {
  /** Pid of the process that was spawned. */
  pid: number;
  /** The Deno handle. */
  child: Deno.ChildProcess;
  /** Resolves with the exit status once the process has exited. */
  status: Promise<Deno.CommandStatus>;
  /** True once the process has exited. */
  exited: () => boolean;
}

const live = new Map<number, Started>();
let stopping = false;

/** Options for {@link start}. */
export interface StartOptions {
  cwd?: string;
  env?: Record<string, string>;
  stdout?: "piped" | "null" | "inherit";
  stderr?: "piped" | "null" | "inherit";
  stdin?: "piped" | "null";
}

/** Spawns `cmd args…` and remembers it until it exits. */
export function start(
  cmd: string,
  args: readonly string[],
  opts: StartOptions = {},
): Started {
  if (stopping) throw new Error("stopping: no new processes");
  const child = new Deno.Command(cmd, {
    args: [...args],
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin ?? "null",
    stdout: opts.stdout ?? "null",
    stderr: opts.stderr ?? "null",
  }).spawn();
  let done = false;
  const status = child.status.finally(() => {
    done = true;
    live.delete(child.pid);
  });
  const started: Started = {
    pid: child.pid,
    child,
    status,
    exited: () => done,
  };
  live.set(child.pid, started);
  return started;
}

/**
 * Starts `cmd args…` with stdout and stderr appended to `logFile` (through
 * `sh -c 'exec …'`, so the pid is the command's own and nobody has to drain
 * a pipe while the benchmark measures).
 */
export function startLogged(
  cmd: string,
  args: readonly string[],
  logFile: string,
  opts: Omit<StartOptions, "stdout" | "stderr"> = {},
): Started {
  return start(
    "sh",
    [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logFile,
      cmd,
      ...args,
    ],
    opts,
  );
}

/** Output of a finished command. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a command to completion with a time limit; on timeout the process and
 * its descendants are killed and `timedOut` is set. `input` is written to
 * its stdin, which is then closed (without it, stdin is /dev/null). Never
 * throws for a non-zero exit; throws only when the command cannot be
 * started.
 */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: {
    timeoutMs: number;
    cwd?: string;
    env?: Record<string, string>;
    input?: string;
  },
): Promise<RunResult> {
  const p = start(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
    stdin: opts.input === undefined ? "null" : "piped",
  });
  if (opts.input !== undefined) {
    const writer = p.child.stdin.getWriter();
    // A process that exits without reading its input is not an error here.
    writer.write(new TextEncoder().encode(opts.input))
      .then(() => writer.close())
      .catch(() => {});
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(p.pid, 2000).catch(() => {});
  }, opts.timeoutMs);
  try {
    const [out, err, status] = await Promise.all([
      new Response(p.child.stdout).text(),
      new Response(p.child.stderr).text(),
      p.status,
    ]);
    return { code: status.code, stdout: out, stderr: err, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command and returns true when it exits 0 within the time limit. */
export async function succeeds(
  cmd: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<boolean> {
  try {
    const r = await run(cmd, args, { timeoutMs });
    return r.code === 0 && !r.timedOut;
  } catch {
    return false; // not installed
  }
}

/** `/proc/<pid>/stat` of a process, or undefined when it is gone. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

/** Resident set size of a process in bytes (`VmRSS`), NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    return parseStatusField(
      Deno.readTextFileSync(`/proc/${pid}/status`),
      "VmRSS",
    );
  } catch {
    return NaN;
  }
}

/** User + system CPU time of a process (all its threads) in clock ticks. */
export function cpuTicks(pid: number): number {
  const s = procStat(pid);
  return s ? s.utime + s.stime : NaN;
}

/** CPU time of the whole machine so far (`/proc/stat`), NaN when unreadable. */
export function cpuTotals(): CpuTotals {
  try {
    return parseCpuTotals(Deno.readTextFileSync("/proc/stat"));
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

/** The command line of a process, arguments joined by spaces. */
export function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ")
      .trim();
  } catch {
    return "";
  }
}

/** All descendants of `pid` (children first, then their children …). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const s = procStat(Number(entry.name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children.get(queue.shift()!) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Ends a process and its descendants: SIGTERM to the deepest ones first,
 * then SIGKILL to whatever is left after `graceMs`.
 */
export async function killTree(pid: number, graceMs = 3000): Promise<void> {
  const all = [pid, ...descendants(pid)];
  for (const p of [...all].reverse()) signal(p, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && all.some(alive)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const p of [...all].reverse()) if (alive(p)) signal(p, "SIGKILL");
  const tracked = live.get(pid);
  if (tracked) {
    await Promise.race([
      tracked.status,
      new Promise((r) => setTimeout(r, 2000)),
    ]);
  }
}

/** True once {@link killAll} was called: the run is being torn down. */
export function isStopping(): boolean {
  return stopping;
}

/**
 * Kills every process started through this module that is still running,
 * and refuses to start any more (so a signal cannot race a new start).
 */
export async function killAll(graceMs = 1000): Promise<void> {
  stopping = true;
  await Promise.all([...live.keys()].map((pid) => killTree(pid, graceMs)));
}

/** Sleeps for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Samples a value every `intervalMs` until stopped; `stop()` returns the
 * largest finite sample (NaN when there was none).
 */
export function sampleMax(
  read: () => number,
  intervalMs: number,
): { stop: () => number } {
  let max = NaN;
  const take = () => {
    const v = read();
    if (Number.isFinite(v) && !(v <= max)) max = v;
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return max;
    },
  };
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves once 127.0.0.1:`port` accepts a TCP connection; throws on timeout or when `gone()` says the server died. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  gone: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone()) throw new Error("the server exited before listening");
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(
    `nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`,
  );
}
