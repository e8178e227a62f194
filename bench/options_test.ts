import assert from "node:assert/strict";
import { parseOptions, UsageError } from "./options.ts";
import { QUICK } from "./scenarios.ts";
import { SERVER_IDS } from "./servers.ts";

const dir = "/repo/bench";

function parse(args: string[]) {
  const o = parseOptions(args, dir);
  assert.notEqual(o, "help");
  return o as Exclude<typeof o, "help">;
}

Deno.test("defaults: full mode, every server and scenario", () => {
  const o = parse([]);
  assert.equal(o.mode.name, "full");
  assert.equal(o.mode.reps, 3);
  // pws-base only with --baseline.
  assert.deepEqual(o.servers, SERVER_IDS.filter((s) => s !== "pws-base"));
  assert.ok(o.servers.includes("pws") && o.servers.includes("prototype"));
  assert.ok(o.servers.includes("ceiling") && o.servers.includes("nginx-c"));
  assert.equal(o.scenarios.length, 14);
  assert.equal(o.baselineDir, undefined);
  assert.ok(o.servers.includes("prototype-tls"));
  assert.equal(o.out, "/repo/bench/results.md");
  assert.equal(o.strace, false);
});

Deno.test("--quick uses its own scenarios and report file", () => {
  const o = parse(["--quick"]);
  assert.equal(o.mode.name, "quick");
  assert.deepEqual(o.scenarios, [...QUICK.scenarios]);
  assert.equal(o.out, "/repo/bench/results-quick.md");
});

Deno.test("--only nginx means the three configurations, in benchmark order", () => {
  assert.deepEqual(parse(["--only", "pws,nginx"]).servers, [
    "nginx-a",
    "nginx-b",
    "nginx-c",
    "pws",
  ]);
  assert.deepEqual(parse(["--only=python"]).servers, ["python"]);
});

Deno.test("--scenarios keeps the canonical order", () => {
  assert.deepEqual(parse(["--scenarios", "range,1k"]).scenarios, [
    "1k",
    "range",
  ]);
});

Deno.test("the HTTPS scenarios and the TLS prototype can be chosen", () => {
  const o = parse([
    "--only",
    "prototype-tls,pws",
    "--scenarios",
    "1m-tls,tls-handshake,1k-tls",
  ]);
  assert.deepEqual(o.servers, ["pws", "prototype-tls"]);
  assert.deepEqual(o.scenarios, ["1k-tls", "tls-handshake", "1m-tls"]);
  for (const id of ["1k-tls", "tls-handshake", "1m-tls"] as const) {
    assert.ok(QUICK.scenarios.includes(id), `quick mode runs ${id}`);
  }
});

Deno.test("--strace defaults to nginx A and pws", () => {
  const o = parse(["--strace", "--requests", "500"]);
  assert.deepEqual(o.servers, ["nginx-a", "pws"]);
  assert.equal(o.requests, 500);
  assert.equal(o.out, "/repo/bench/syscalls.md");
});

Deno.test("--wait-quiet takes whole seconds; off by default", () => {
  assert.equal(parse([]).waitQuietS, 0);
  assert.equal(parse([]).interleave, false);
  assert.equal(parse(["--interleave"]).interleave, true);
  assert.equal(parse(["--wait-quiet", "30"]).waitQuietS, 30);
});

Deno.test("--help", () => {
  assert.equal(parseOptions(["-h"], dir), "help");
});

Deno.test("bad command lines are usage errors", () => {
  for (
    const args of [
      ["--nope"],
      ["extra"],
      ["--only", "apache"],
      ["--only", ","],
      ["--scenarios", "2k"],
      ["--requests", "0"],
      ["--requests", "many"],
      ["--wait-quiet", "-1"],
      ["--wait-quiet", "601"],
      ["--wait-quiet", "soon"],
      ["--only"],
    ]
  ) {
    assert.throws(() => parseOptions(args, dir), UsageError, args.join(" "));
  }
});

Deno.test("--baseline adds pws-base to the default servers", () => {
  const o = parse(["--baseline", "/tmp/old"]);
  assert.equal(o.baselineDir, "/tmp/old");
  assert.ok(o.servers.includes("pws-base"));
  assert.deepEqual(
    parse(["--baseline=/tmp/old", "--only", "pws,pws-base"]).servers,
    ["pws", "pws-base"],
  );
  assert.throws(() => parseOptions(["--baseline="], dir), UsageError);
});

Deno.test("--runs and --duration change the mode's repetitions and run length", () => {
  const o = parse(["--runs", "5", "--duration=5"]);
  assert.equal(o.mode.reps, 5);
  assert.equal(o.mode.durationS, 5);
  assert.equal(o.mode.name, "full");
  assert.equal(parse(["--quick", "--runs", "2"]).mode.reps, 2);
  for (const bad of [["--runs", "0"], ["--duration", "1.5"], ["--runs", "x"]]) {
    assert.throws(() => parseOptions(bad, dir), UsageError);
  }
});
