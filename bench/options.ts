/**
 * The benchmark's command line: flags parsed with `node:util` parseArgs,
 * and the usage text printed for `--help` or a bad flag.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  FULL,
  type Mode,
  QUICK,
  SCENARIO_IDS,
  type ScenarioId,
} from "./scenarios.ts";
import { SERVER_IDS, type ServerId } from "./servers.ts";

/** The help text. */
export const USAGE = [
  "Usage: deno task bench [options]",
  "       deno run --allow-all bench/run.ts [options]",
  "",
  "Options:",
  "  --quick            2 s runs, 1 repetition, fewer scenarios (~2 min)",
  "  --only LIST        servers, comma-separated, from:",
  `                     ${[...SERVER_IDS, "nginx"].join(", ")}`,
  '                     ("nginx" means nginx-a, nginx-b and nginx-c);',
  "                     default: all (pws-base only with --baseline)",
  "  --scenarios LIST   scenarios, comma-separated, from:",
  `                     ${SCENARIO_IDS.join(", ")}`,
  "                     default: all (full run) or",
  `                     ${QUICK.scenarios.join(",")} (--quick)`,
  "  --out FILE         report file (default bench/results.md;",
  "                     bench/results-quick.md with --quick;",
  "                     bench/syscalls.md with --strace)",
  "  --strace           instead of the load tests, count the syscalls per",
  "                     1 KiB keep-alive request of pws and nginx A",
  "                     (strace -c) and write bench/syscalls.md",
  "  --requests N       requests sent under strace (default 2000)",
  "  --interleave       start all servers at once and take their runs in",
  "                     turn (A, B, C, then B, C, A …): on a shared machine,",
  "                     other work then hits every server alike",
  "  --wait-quiet S     before each measured run, wait up to S seconds",
  "                     (default 0) for a second in which other processes",
  "                     use under 10 % of a core, and measure again a run",
  "                     they disturbed (over 25 %): for shared machines",
  "  --runs N           measured runs per scenario and server (default 3,",
  "                     1 with --quick); the report gives their median",
  "  --duration S       seconds of each measured run (default 10, 2 with",
  "                     --quick; python and serve and 1g-x50 keep theirs)",
  "  --baseline DIR     a checkout of an earlier pws, measured as pws-base",
  "                     beside this one (e.g. a `git worktree add` of the",
  "                     commit before a change)",
  "  -h, --help         this text",
  "",
].join("\n");

/** Parsed command line. */
export interface Options {
  mode: Mode;
  servers: ServerId[];
  scenarios: ScenarioId[];
  /** Report file. */
  out: string;
  strace: boolean;
  /** Requests sent under strace. */
  requests: number;
  /** Seconds to wait, at most, for a quiet machine before each run. */
  waitQuietS: number;
  /** Start all servers at once and take their runs in turn. */
  interleave: boolean;
  /** `--baseline`: the checkout of an earlier pws run as `pws-base`. */
  baselineDir?: string;
}

/** A bad command line: print the message and {@link USAGE}, exit 2. */
export class UsageError extends Error {}

function splitList(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * Parses the command line (`benchDir` is where reports go by default).
 * Returns `"help"` for `--help`; throws {@link UsageError} for unknown
 * flags, positional arguments, unknown server or scenario names and a bad
 * `--requests`.
 */
export function parseOptions(
  args: string[],
  benchDir: string,
): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        scenarios: { type: "string" },
        out: { type: "string" },
        strace: { type: "boolean", default: false },
        requests: { type: "string" },
        "wait-quiet": { type: "string" },
        interleave: { type: "boolean", default: false },
        baseline: { type: "string" },
        runs: { type: "string" },
        duration: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return "help";
  let mode = values.quick ? QUICK : FULL;
  const int = (flag: string, v: string | undefined, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new UsageError(`bad --${flag}: ${v}`);
    }
    return n;
  };
  if (values.runs !== undefined) {
    mode = { ...mode, reps: int("runs", values.runs, 20) };
  }
  if (values.duration !== undefined) {
    mode = { ...mode, durationS: int("duration", values.duration, 120) };
  }

  let servers: ServerId[] = values.strace
    ? ["nginx-a", "pws"]
    : SERVER_IDS.filter((s) =>
      s !== "pws-base" || values.baseline !== undefined
    );
  const only = splitList(values.only);
  if (only) {
    const chosen = new Set<ServerId>();
    for (const name of only) {
      if (name === "nginx") {
        chosen.add("nginx-a");
        chosen.add("nginx-b");
        chosen.add("nginx-c");
      } else if ((SERVER_IDS as readonly string[]).includes(name)) {
        chosen.add(name as ServerId);
      } else {
        throw new UsageError(`unknown server: ${name}`);
      }
    }
    if (chosen.size === 0) {
      throw new UsageError("--only needs at least one server");
    }
    servers = SERVER_IDS.filter((s) => chosen.has(s));
  }
  if (values.baseline === "") throw new UsageError("--baseline needs a DIR");

  let scenarios: ScenarioId[] = [...mode.scenarios];
  const wanted = splitList(values.scenarios);
  if (wanted) {
    for (const name of wanted) {
      if (!(SCENARIO_IDS as readonly string[]).includes(name)) {
        throw new UsageError(`unknown scenario: ${name}`);
      }
    }
    if (wanted.length === 0) {
      throw new UsageError("--scenarios needs at least one scenario");
    }
    scenarios = SCENARIO_IDS.filter((s) => wanted.includes(s));
  }

  let requests = 2000;
  if (values.requests !== undefined) {
    requests = Number(values.requests);
    if (!Number.isInteger(requests) || requests < 1 || requests > 100_000) {
      throw new UsageError(`bad --requests: ${values.requests}`);
    }
  }

  let waitQuietS = 0;
  if (values["wait-quiet"] !== undefined) {
    waitQuietS = Number(values["wait-quiet"]);
    if (!Number.isInteger(waitQuietS) || waitQuietS < 0 || waitQuietS > 600) {
      throw new UsageError(`bad --wait-quiet: ${values["wait-quiet"]}`);
    }
  }

  const file = values.strace
    ? "syscalls.md"
    : mode.name === "quick"
    ? "results-quick.md"
    : "results.md";
  return {
    mode,
    servers,
    scenarios,
    out: values.out ?? `${benchDir}/${file}`,
    strace: values.strace,
    requests,
    waitQuietS,
    interleave: values.interleave,
    baselineDir: values.baseline,
  };
}
