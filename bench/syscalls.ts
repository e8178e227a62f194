/**
 * `--strace` mode: counts the system calls a server makes per 1 KiB
 * keep-alive request, with `strace -c -f -p PID` attached while curl sends a
 * fixed number of requests over one connection.
 *
 * @module
 */

import { CLIENT_CPU, runWrk } from "./load.ts";
import { killTree, run, sleep, start } from "./procs.ts";
import { type Environment, machineTable } from "./report.ts";
import type { ServerContext, ServerSpec } from "./servers.ts";
import {
  markdownTable,
  parseStraceSummary,
  type SyscallCount,
} from "./stats.ts";

/** Inputs of {@link measureSyscalls}. */
export interface SyscallOptions {
  specs: readonly ServerSpec[];
  ctx: ServerContext;
  /** Requests sent while strace is attached. */
  requests: number;
  environment: () => Promise<Environment>;
}

interface Counted {
  label: string;
  requests: number;
  counts: SyscallCount[];
}

/** Waits until `stream` has produced text matching `re` (or the time is up); keeps draining it afterwards. */
async function waitForText(
  stream: ReadableStream<Uint8Array>,
  re: RegExp,
  timeoutMs: number,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + timeoutMs;
  while (!re.test(seen) && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      sleep(Math.max(0, deadline - Date.now())).then(() => undefined),
    ]);
    if (!next || next.done) break;
    seen += next.value;
  }
  // Keep reading so strace never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* discard */ }
    } catch { /* closed */ }
  })();
  return seen;
}

async function countOne(
  spec: ServerSpec,
  opts: SyscallOptions,
): Promise<Counted> {
  const { ctx, requests } = opts;
  const server = await spec.start(ctx);
  try {
    const url = `http://127.0.0.1:${server.port}/1k.bin`;
    ctx.log(`${spec.id}: warming up`);
    await runWrk({
      url,
      connections: 8,
      durationS: 2,
      timeoutS: 10,
      headers: [],
    });
    const config = `${ctx.tmpDir}/curl-${spec.id}.conf`;
    const lines = ['write-out = "%{http_code} %{num_connects}\\n"'];
    for (let i = 0; i < requests; i++) {
      lines.push(`url = "${url}"`, 'output = "/dev/null"');
    }
    await Deno.writeTextFile(config, lines.join("\n") + "\n");
    const outFile = `${ctx.tmpDir}/strace-${spec.id}.txt`;
    const tracer = start("taskset", [
      "-c",
      String(CLIENT_CPU),
      "strace",
      "-c",
      "-f",
      "-p",
      String(server.pid),
      "-o",
      outFile,
    ], { stderr: "piped" });
    try {
      const attached = await waitForText(
        tracer.child.stderr,
        /attached/,
        10_000,
      );
      if (!/attached/.test(attached)) {
        throw new Error(
          `strace did not attach: ${attached.trim().slice(0, 300)}`,
        );
      }
      await sleep(200);
      ctx.log(`${spec.id}: ${requests} requests under strace`);
      const r = await run("taskset", [
        "-c",
        String(CLIENT_CPU),
        "curl",
        "-s",
        "-K",
        config,
      ], {
        timeoutMs: 300_000,
      });
      const statuses = r.stdout.trim().split("\n");
      const ok = statuses.filter((l) => l.startsWith("200 ")).length;
      const connects = statuses.reduce(
        (a, l) => a + Number(l.split(" ")[1] ?? 0),
        0,
      );
      if (ok !== requests) {
        ctx.log(`${spec.id}: only ${ok} of ${requests} requests got 200`);
      }
      if (connects > 1) {
        ctx.log(
          `${spec.id}: curl opened ${connects} connections (keep-alive broken?)`,
        );
      }
      Deno.kill(tracer.pid, "SIGINT");
      await Promise.race([tracer.status, sleep(15_000)]);
      const counts = parseStraceSummary(await Deno.readTextFile(outFile));
      return { label: spec.label, requests: ok, counts };
    } finally {
      await killTree(tracer.pid, 2000);
    }
  } finally {
    await server.stop();
  }
}

/** Runs the syscall count for every spec and returns the Markdown report. */
export async function measureSyscalls(opts: SyscallOptions): Promise<string> {
  const counted: Counted[] = [];
  const skipped: string[] = [];
  for (const spec of opts.specs) {
    const reason = await spec.prepare(opts.ctx);
    if (reason) {
      skipped.push(`- ${spec.label}: ${reason}`);
      continue;
    }
    try {
      counted.push(await countOne(spec, opts));
    } catch (e) {
      skipped.push(`- ${spec.label}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  const env = await opts.environment();
  const names = new Set<string>();
  for (const c of counted) for (const s of c.counts) names.add(s.name);
  const perReq = (c: Counted, name: string, f: (s: SyscallCount) => number) => {
    const s = c.counts.find((x) => x.name === name);
    return s && c.requests > 0 ? f(s) / c.requests : 0;
  };
  // Sort by the subject of the benchmark (pws) when it was measured.
  const first = counted.find((c) => c.label === "pws") ?? counted[0];
  const order = [...names].sort((a, b) =>
    first
      ? perReq(first, b, (s) => s.calls) - perReq(first, a, (s) => s.calls) ||
        a.localeCompare(b)
      : a.localeCompare(b)
  );
  const fmt = (v: number) => {
    if (v === 0) return "·";
    return v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toFixed(4);
  };
  const rows = order.map((name) => [
    name,
    ...counted.flatMap((
      c,
    ) => [
      fmt(perReq(c, name, (s) => s.calls)),
      fmt(perReq(c, name, (s) => s.errors)),
    ]),
  ]);
  rows.push([
    "**total**",
    ...counted.flatMap((c) => {
      const calls = c.counts.reduce((a, s) => a + s.calls, 0);
      const errors = c.counts.reduce((a, s) => a + s.errors, 0);
      return [
        `**${fmt(calls / Math.max(1, c.requests))}**`,
        fmt(errors / Math.max(1, c.requests)),
      ];
    }),
  ]);
  const headers = [
    "syscall",
    ...counted.flatMap((c) => [`${c.label} calls/req`, "errors/req"]),
  ];
  return [
    "# Syscalls per request",
    "",
    `Generated by \`deno task bench --strace\` (bench/run.ts) on ${env.date}.`,
    "",
    `Each server (pinned to CPU ${0}) is warmed up with wrk for 2 s, then \`strace -c -f -p <pid>\` is attached to all of its threads ` +
    `while \`curl -K\` sends ${opts.requests} sequential GET requests for a 1 KiB file over one keep-alive connection. ` +
    "Counts are divided by the number of 200 responses; the few calls of the attach and detach moments and of idle timers are included. " +
    "`errors/req` are calls that returned an error (EAGAIN on a non-blocking socket is the usual one).",
    "",
    machineTable(env),
    "",
    counted.length > 0 ? markdownTable(headers, rows) : "Nothing was measured.",
    "",
    ...counted.map((c) => `- ${c.label}: ${c.requests} requests counted.`),
    ...(skipped.length > 0 ? ["", "Skipped:", "", ...skipped] : []),
    "",
  ].join("\n");
}
