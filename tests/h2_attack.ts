/**
 * Running attacks on a spawned pws and judging what other clients and
 * the server's memory lived through: a latency watcher that keeps asking
 * for a file on fresh HTTP/1.1 connections, RSS sampling, open-file
 * counts, and a runner for connections that flood and must be cut.
 *
 * @module
 */

import assert from "node:assert/strict";
import { H2Client } from "./h2_raw.ts";
import { readRssBytes, type SpawnedServer, spawnServer } from "./helpers.ts";

/**
 * Worst p99 latency of other clients' requests while floods saturate a
 * core (idle, this shared machine shows a p99 of 10–30 ms).
 */
export const P99_BOUND_MS = 250;
/**
 * Most the server's RSS may grow during a flood: what the floods leave
 * for the garbage collector, which runs when it likes (ten seconds of
 * rapid reset level off at about 62 MiB).
 */
export const RSS_BOUND_MIB = 96;
/** Frames sent by one flooding connection: ten times the bucket. */
export const FLOOD_FRAMES = 10_000;
/** Most attacking connections one test opens. */
export const MAX_CONNECTIONS = 2000;
/** Time from the flood to the GOAWAY. */
export const DEFENCE_MS = 1000;

/** Latencies of requests made while an attack ran. */
export interface LatencyReport {
  /** Milliseconds of every answered request, sorted. */
  samples: number[];
  /** Requests that failed or were not answered with 200 in time. */
  failures: number;
  /** The median, 90th and 99th percentiles and the worst, in ms. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** The latencies of `samples` (ms, in any order) and their percentiles. */
export function latencyReport(
  samples: number[],
  failures: number,
): LatencyReport {
  samples = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    samples.length === 0
      ? Infinity
      : samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return {
    samples,
    failures,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: at(1),
  };
}

/**
 * Another client in a process of its own (`latency_watcher.ts`), which
 * requests a path on fresh HTTP/1.1 connections every `everyMs` and times
 * each: what other clients live through while an attack runs, without
 * the attack's own work in this process counted as the server's delay.
 */
export class LatencyWatcher {
  #stdout: Promise<string>;

  private constructor(
    readonly child: Deno.ChildProcess,
    readonly ready: Promise<void>,
    stdout: Promise<string>,
  ) {
    this.#stdout = stdout;
  }

  /** Starts the watcher; resolves once its first request was answered. */
  static async start(
    port: number,
    path: string,
    everyMs = 20,
    timeoutMs = 2000,
  ): Promise<LatencyWatcher> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        new URL("./latency_watcher.ts", import.meta.url).pathname,
        String(port),
        path,
        String(everyMs),
        String(timeoutMs),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => onReady = resolve);
    const stdout = (async () => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        text += decoder.decode(chunk, { stream: true });
        if (text.startsWith("ready\n")) onReady();
      }
      onReady();
      return text;
    })();
    const watcher = new LatencyWatcher(child, ready, stdout);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("the latency watcher did not start")),
        10_000,
      );
    });
    try {
      await Promise.race([ready, late]);
    } catch (err) {
      await watcher.stop().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return watcher;
  }

  /** Stops the watcher and reports what it measured. */
  async stop(): Promise<LatencyReport> {
    await this.child.stdin.close().catch(() => {});
    const text = await this.#stdout;
    await this.child.status;
    const last = text.trim().split("\n").at(-1) ?? "";
    const result = JSON.parse(last) as { samples: number[]; failures: number };
    return latencyReport(result.samples, result.failures);
  }
}

/**
 * Requests `path` on fresh HTTP/1.1 connections (from another process)
 * every `everyMs` until `done` settles, timing each.
 */
export async function watchLatency(
  port: number,
  path: string,
  done: Promise<unknown>,
  everyMs = 20,
  timeoutMs = 2000,
): Promise<LatencyReport> {
  const watcher = await LatencyWatcher.start(port, path, everyMs, timeoutMs);
  let report: LatencyReport;
  try {
    await done;
  } finally {
    report = await watcher.stop();
  }
  return report;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly baseline: number;
  max: number;
  samples = 0;
  #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number, everyMs = 50) {
    this.baseline = readRssBytes(pid) ?? 0;
    this.max = this.baseline;
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  /** Takes one sample now. */
  sample(): void {
    const rss = readRssBytes(this.pid);
    if (rss === undefined) return;
    this.samples++;
    if (rss > this.max) this.max = rss;
  }

  /** Stops sampling; returns the growth over the baseline in MiB. */
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return (this.max - this.baseline) / (1024 * 1024);
  }
}

/** Descriptors of process `pid` that are open on `path`. */
export function fdsOpenOn(pid: number, path: string): number {
  let count = 0;
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`) === path) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A temporary site: `files` maps a name to its size (sparse, zeros). */
export function makeSite(files: Record<string, number>): string {
  const root = Deno.makeTempDirSync({ prefix: "pws-h2-" });
  Deno.writeTextFileSync(`${root}/health.txt`, "ok\n");
  for (const [name, size] of Object.entries(files)) {
    const path = `${root}/${name}`;
    Deno.writeFileSync(path, new Uint8Array(0));
    Deno.truncateSync(path, size);
  }
  return root;
}

/** Starts pws as a subprocess on loopback over cleartext TCP. */
export function spawnH2Server(
  root: string,
  args: string[] = [],
): Promise<SpawnedServer> {
  return spawnServer(
    ["0", "--host", "127.0.0.1", "--root", root, "-q", ...args],
    { cleartext: true },
  );
}

/** What other clients and the server's memory went through. */
export interface AttackOutcome {
  /** Health requests on other connections while the attack ran. */
  latency: LatencyReport;
  /** Growth of the server's RSS over its level before, in MiB. */
  rssGrowthMiB: number;
}

/**
 * Runs `attack` against a spawned `server` while another client keeps
 * requesting `/health.txt` and the server's RSS is sampled.
 */
export async function underAttack(
  server: SpawnedServer,
  attack: () => Promise<void>,
): Promise<AttackOutcome> {
  const watcher = await LatencyWatcher.start(server.port, "/health.txt");
  const rss = new RssSampler(server.pid);
  let latency: LatencyReport;
  let rssGrowthMiB: number;
  try {
    await attack();
  } finally {
    latency = await watcher.stop();
    rssGrowthMiB = rss.stop();
  }
  return { latency, rssGrowthMiB };
}

/** How many fresh HTTP/1.1 requests answered, and how fast, as text. */
export function describe(outcome: AttackOutcome): string {
  const { latency, rssGrowthMiB } = outcome;
  return `${latency.samples.length} health checks, ${latency.failures} ` +
    `failed, p50 ${latency.p50.toFixed(1)}, p90 ${
      latency.p90.toFixed(1)
    }, p99 ${latency.p99.toFixed(1)} ms, max ${
      latency.max.toFixed(1)
    } ms; RSS +${rssGrowthMiB.toFixed(1)} MiB`;
}

/**
 * Runs `fn` with a spawned server (extra `args`) over a site holding
 * `/health.txt` and `/big.bin` (256 MiB, sparse), then stops both.
 */
export async function withSpawned(
  fn: (server: SpawnedServer, root: string) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const root = makeSite({ "big.bin": 256 << 20 });
  const server = await spawnH2Server(root, args);
  try {
    await fn(server, root);
  } finally {
    await server.stop();
    Deno.removeSync(root, { recursive: true });
  }
}

/** Other clients were served quickly and memory stayed bounded. */
export function assertOthersServed(
  outcome: AttackOutcome,
  p99BoundMs = P99_BOUND_MS,
): void {
  const text = describe(outcome);
  console.log(text);
  assert.equal(outcome.latency.failures, 0, text);
  assert.ok(outcome.latency.samples.length >= 10, text);
  assert.ok(outcome.latency.p99 < p99BoundMs, text);
  assert.ok(outcome.rssGrowthMiB < RSS_BOUND_MIB, text);
}

/**
 * Opens attacking connections, `parallel` at a time, for `durationMs`
 * (at most {@linkcode MAX_CONNECTIONS}); each sends what `flood` sends
 * and must get GOAWAY with `code` within {@linkcode DEFENCE_MS} of its
 * flood, then be closed; `check` judges what it received.
 */
export async function floodConnections(
  port: number,
  options: {
    code: number;
    flood: (c: H2Client) => Promise<unknown>;
    check?: (c: H2Client) => void;
    parallel?: number;
    durationMs?: number;
  },
): Promise<void> {
  const { parallel = 2, durationMs = 1500 } = options;
  const until = performance.now() + durationMs;
  let opened = 0;
  const worker = async () => {
    while (performance.now() < until && opened < MAX_CONNECTIONS) {
      opened++;
      const c = await H2Client.open(port);
      try {
        await c.waitFor(() => c.serverSettings !== undefined, 2000, "SETTINGS");
        const started = performance.now();
        await options.flood(c);
        await c.waitGoaway(DEFENCE_MS);
        const tookMs = c.goawayAt! - started;
        assert.equal(c.goaway!.errorCode, options.code, c.summary());
        assert.ok(tookMs < DEFENCE_MS, `GOAWAY after ${tookMs} ms`);
        await c.waitClosed(2000);
        options.check?.(c);
      } finally {
        await c.close();
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
