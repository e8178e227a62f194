import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type CliOptions,
  type CliResult,
  DEFAULT_PORT,
  parseCommandLine,
  parseCount,
  parseHeaderFlag,
  parsePort,
  parseSeconds,
  USAGE,
} from "./cli.ts";

function run(args: string[]): CliOptions {
  const result = parseCommandLine(args);
  if (result.kind !== "run") {
    assert.fail(`${JSON.stringify(args)} gave ${JSON.stringify(result)}`);
  }
  return result.options;
}

function usageError(args: string[]): string {
  const result = parseCommandLine(args);
  if (result.kind !== "usage-error") {
    assert.fail(`${JSON.stringify(args)} gave ${JSON.stringify(result)}`);
  }
  assert.ok(result.message.length > 0);
  return result.message;
}

Deno.test("parseCommandLine() uses the defaults without arguments", () => {
  const options = run([]);
  assert.equal(options.port, DEFAULT_PORT);
  assert.equal(DEFAULT_PORT, 8000);
  assert.equal(options.root, "./static");
  assert.equal(options.host, "0.0.0.0");
  assert.equal(options.config.cacheControl, undefined);
});

Deno.test("parseCommandLine() reads the port argument", () => {
  const cases: [string, number][] = [
    ["80", 80],
    ["0", 0],
    ["1", 1],
    ["8080", 8080],
    ["65535", 65535],
    ["00080", 80],
  ];
  for (const [arg, port] of cases) {
    assert.equal(run([arg]).port, port, arg);
  }
  assert.equal(run(["9000", "--root", "./public"]).port, 9000);
  assert.equal(run(["--root", "./public", "9000"]).port, 9000);
  assert.equal(run(["--", "9000"]).port, 9000);
});

Deno.test("parseCommandLine() refuses invalid ports", () => {
  const cases: [string, string[]][] = [
    ["too large", ["65536"]],
    ["far too large", ["100000"]],
    ["letters", ["abc"]],
    ["decimal", ["1.5"]],
    ["leading space", [" 80"]],
    ["trailing space", ["80 "]],
    ["empty", [""]],
    ["hex", ["0x50"]],
    ["plus sign", ["+80"]],
    ["exponent", ["8e3"]],
    ["non-ASCII digits", ["\u0668\u0660"]],
    ["negative after --", ["--", "-1"]],
  ];
  for (const [name, args] of cases) {
    const message = usageError(args);
    assert.match(message, /port/, name);
  }
});

Deno.test("parseCommandLine() treats -1 as an unknown option", () => {
  assert.match(usageError(["-1"]), /unknown option -1/);
});

Deno.test("parseCommandLine() refuses two ports", () => {
  const message = usageError(["80", "81"]);
  assert.match(message, /at most one PORT/);
  assert.match(message, /80 81/);
});

Deno.test("parseCommandLine() names unknown options", () => {
  const cases: [string[], string][] = [
    [["--bogus"], "--bogus"],
    [["--port", "80"], "--port"],
    [["--ROOT", "x"], "--ROOT"],
    [["-x"], "-x"],
    [["-p"], "-p"],
  ];
  for (const [args, option] of cases) {
    assert.equal(usageError(args), `unknown option ${option}`);
  }
});

Deno.test("parseCommandLine() reads --root and --host", () => {
  assert.equal(run(["--root", "x"]).root, "x");
  assert.equal(run(["--root=x"]).root, "x");
  assert.equal(run(["--root=a=b"]).root, "a=b");
  assert.equal(run(["--root", "/srv/my site"]).root, "/srv/my site");
  assert.equal(run(["--host", "::1"]).host, "::1");
  assert.equal(run(["--host=127.0.0.1"]).host, "127.0.0.1");
  const both = run(["--host", "::", "--root", "pub", "0"]);
  assert.deepEqual(
    [both.host, both.root, both.port],
    ["::", "pub", 0],
  );
});

Deno.test("parseCommandLine() needs a value after --root and --host", () => {
  const cases: [string, string[], RegExp][] = [
    ["--root last", ["--root"], /--root/],
    ["--host last", ["--host"], /--host/],
    ["--root before option", ["--root", "--host", "x"], /--root/],
    ["--root=", ["--root="], /--root/],
    ["--host=", ["--host="], /--host/],
  ];
  for (const [name, args, pattern] of cases) {
    assert.match(usageError(args), pattern, name);
  }
});

Deno.test("parseCommandLine() answers --help and --version", () => {
  const cases: [string[], CliResult][] = [
    [["--help"], { kind: "help" }],
    [["-h"], { kind: "help" }],
    [["--version"], { kind: "version" }],
    [["-V"], { kind: "version" }],
    [["80", "--help"], { kind: "help" }],
    [["--help", "abc"], { kind: "help" }],
    [["--version", "--help"], { kind: "help" }],
    [["-hV"], { kind: "help" }],
  ];
  for (const [args, expected] of cases) {
    assert.deepEqual(parseCommandLine(args), expected, JSON.stringify(args));
  }
  // An unknown option is reported even next to --help.
  assert.equal(usageError(["--help", "--bogus"]), "unknown option --bogus");
});

Deno.test({
  name: "parseCommandLine() says a flag takes no value when given one",
  fn() {
    for (
      const [args, flag] of [[["--help=1"], "--help"], [
        ["--version=2"],
        "--version",
      ]] as const
    ) {
      const message = usageError([...args]);
      assert.doesNotMatch(message, /needs a value/, message);
      assert.ok(message.includes(flag), message);
    }
  },
});

Deno.test("parseCommandLine() validates --cache-control", () => {
  assert.equal(
    run(["--cache-control", "public, max-age=3600"]).config.cacheControl,
    "public, max-age=3600",
  );
  const invalid = ["", " ", " no-cache", "no-cache ", "a\nb", "a\0", "\u20ac"];
  for (const value of invalid) {
    assert.match(
      usageError(["--cache-control", value]),
      /--cache-control/,
      JSON.stringify(value),
    );
  }
});

Deno.test("parseCommandLine() usage errors are one line", () => {
  const cases = [
    ["65536"],
    ["80", "81"],
    ["--bogus"],
    ["--root"],
    ["--root="],
    ["--cache-control", " x"],
  ];
  for (const args of cases) {
    assert.doesNotMatch(usageError(args), /[\r\n]/, JSON.stringify(args));
  }
});

Deno.test({
  name:
    "parseCommandLine() usage errors stay one line for arguments with line breaks",
  fn() {
    const cases = [["--cache-control", "a\nb"], ["8\n0"], ["--a\nb"]];
    for (const args of cases) {
      assert.doesNotMatch(usageError(args), /[\r\n]/, JSON.stringify(args));
    }
  },
});

Deno.test("parseCommandLine() never throws", () => {
  const arg = fc.oneof(
    fc.constantFrom(
      "--root",
      "--host",
      "--help",
      "-h",
      "-V",
      "--",
      "-",
      "80",
      "--root=",
      "--cache-control",
      "--header",
      "--max-requests",
      "--idle-timeout",
    ),
    fc.string({ maxLength: 8 }),
  );
  fc.assert(
    fc.property(fc.array(arg, { maxLength: 6 }), (args) => {
      const result = parseCommandLine(args);
      assert.ok(
        ["run", "help", "version", "usage-error"].includes(result.kind),
      );
      if (result.kind === "run") {
        assert.ok(Number.isInteger(result.options.port));
        assert.ok(result.options.port >= 0 && result.options.port <= 65535);
        assert.notEqual(result.options.root, "");
        assert.notEqual(result.options.host, "");
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("parsePort() accepts 0-65535 written in decimal digits only", () => {
  const cases: [string, number | undefined][] = [
    ["0", 0],
    ["80", 80],
    ["065535", undefined],
    ["65535", 65535],
    ["65536", undefined],
    ["99999", undefined],
    ["00000", 0],
    ["-1", undefined],
    ["abc", undefined],
    ["1.5", undefined],
    [" 80", undefined],
    ["80\n", undefined],
    ["", undefined],
    ["1e3", undefined],
    ["0x1F", undefined],
    ["\uff18\uff10", undefined],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parsePort(text), expected, JSON.stringify(text));
  }
});

Deno.test("parsePort() round-trips every port", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 65535 }), (port) => {
      assert.equal(parsePort(String(port)), port);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 65536, max: 99999 }), (port) => {
      assert.equal(parsePort(String(port)), undefined);
    }),
  );
});

Deno.test("parseSeconds() accepts positive decimal seconds up to a day", () => {
  const cases: [string, number | undefined][] = [
    ["10", 10],
    ["0.5", 0.5],
    ["86400", 86400],
    ["86400.1", undefined],
    ["0", undefined],
    ["0.0", undefined],
    ["-1", undefined],
    [".5", undefined],
    ["5.", undefined],
    ["1e3", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseSeconds(text), expected, JSON.stringify(text));
  }
});

Deno.test("parseCount() accepts whole numbers of at least 1", () => {
  const cases: [string, number | undefined][] = [
    ["1", 1],
    ["4096", 4096],
    ["999999999", 999999999],
    ["1000000000", undefined],
    ["0", undefined],
    ["-1", undefined],
    ["1.5", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseCount(text), expected, JSON.stringify(text));
  }
});

Deno.test("parseHeaderFlag() splits a valid field and refuses the rest", () => {
  assert.deepEqual(parseHeaderFlag("X-Frame-Options: DENY"), [
    "X-Frame-Options",
    "DENY",
  ]);
  assert.deepEqual(parseHeaderFlag("X-A:b:c"), ["X-A", "b:c"]);
  assert.deepEqual(parseHeaderFlag("X-Empty:"), ["X-Empty", ""]);
  const invalid = [
    "no colon",
    ": value",
    "X A: b",
    " X: b",
    "X : b",
    "X: a\nb",
    "X: a\0",
    "Content-Length: 5",
    "transfer-encoding: chunked",
    "Connection: close",
    "Accept-Ranges: none",
    "Location: /elsewhere",
  ];
  for (const text of invalid) {
    assert.equal(typeof parseHeaderFlag(text), "string", JSON.stringify(text));
  }
});

Deno.test("parseHeaderFlag() sends a field with its own flag to that flag", () => {
  assert.equal(
    parseHeaderFlag("Cache-Control: max-age=600"),
    "--header cannot set Cache-Control: use --cache-control",
  );
  assert.equal(
    parseCommandLine(["--header", "cache-control: no-store"]).kind,
    "usage-error",
  );
  // Fields pws also sets but that have no flag are taken (and replace or,
  // for Vary, merge with pws's own: see the socket tests).
  assert.deepEqual(
    parseHeaderFlag("Access-Control-Allow-Origin: https://example.com"),
    ["Access-Control-Allow-Origin", "https://example.com"],
  );
  assert.deepEqual(parseHeaderFlag("Vary: Origin"), ["Vary", "Origin"]);
});

Deno.test("USAGE documents the core options and the default port", () => {
  for (
    const flag of [
      "--root",
      "--host",
      "--cache-control",
      "--auth USER:PASS",
      "--auth-file FILE",
      "--help",
      "--version",
    ]
  ) {
    assert.ok(USAGE.includes(flag), flag);
  }
  assert.ok(USAGE.includes(String(DEFAULT_PORT)));
});

Deno.test("parseCommandLine() reads the HTTPS flags", () => {
  const run = (args: string[]) => {
    const result = parseCommandLine(args);
    assert.equal(result.kind, "run", JSON.stringify(result));
    return (result as { kind: "run"; options: CliOptions }).options;
  };
  assert.deepEqual(run(["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tls, {
    kind: "files",
    certPath: "c.pem",
    keyPath: "k.pem",
  });
  assert.deepEqual(run(["--tls-self-signed"]).tls, { kind: "self-signed" });
  const full = run([
    "443",
    "--tls-self-signed",
    "--redirect-http",
    "80",
    "--hsts",
    "31536000",
  ]);
  assert.equal(full.redirectHttpPort, 80);
  assert.equal(full.config.hstsSeconds, 31536000);
  assert.equal(run(["--tls-self-signed", "--hsts", "0"]).config.hstsSeconds, 0);
  assert.equal(run([]).tls, undefined);
});

Deno.test("parseCommandLine() refuses HTTPS flags that do not fit together", () => {
  const cases: [string[], RegExp][] = [
    [["--tls-cert", "c.pem"], /--tls-cert and --tls-key go together/],
    [["--tls-key", "k.pem"], /--tls-cert and --tls-key go together/],
    [["--tls-self-signed", "--tls-cert", "c", "--tls-key", "k"], /leave out/],
    [["--redirect-http", "80"], /redirects to HTTPS/],
    [["--hsts", "60"], /applies to HTTPS/],
    [["--tls-self-signed", "--hsts=-1"], /invalid --hsts/],
    [["--tls-self-signed", "--hsts", "1e9"], /invalid --hsts/],
    [["--tls-self-signed", "--hsts", "999999999"], /invalid --hsts/],
    [["--tls-self-signed", "--redirect-http", "x"], /invalid --redirect-http/],
    [["443", "--tls-self-signed", "--redirect-http", "443"], /HTTPS port/],
    [["--tls-cert", "", "--tls-key", "k"], /need file names/],
  ];
  for (const [args, message] of cases) {
    const result = parseCommandLine(args);
    assert.equal(result.kind, "usage-error", args.join(" "));
    assert.match((result as { message: string }).message, message);
  }
});

Deno.test("parseCommandLine() reads --auth (repeatable) and --auth-file", () => {
  assert.equal(run([]).auth, undefined, "no flag: no password protection");
  assert.deepEqual(
    run(["--auth", "alice:s3:cr:et", "--auth", "zoë:pä ss"]).auth,
    {
      pairs: [
        { user: "alice", password: "s3:cr:et" },
        { user: "zoë", password: "pä ss" },
      ],
      files: [],
    },
  );
  assert.deepEqual(run(["--auth-file", "a.htpasswd", "--auth", "b:c"]).auth, {
    pairs: [{ user: "b", password: "c" }],
    files: ["a.htpasswd"],
  });
});

Deno.test("parseCommandLine() refuses a bad --auth without echoing the password", () => {
  const cases: [string, string, RegExp][] = [
    ["no colon", "alicesecret", /USER:PASSWORD/],
    ["empty user", ":secret", /empty user/],
    ["empty password", "alice:", /empty password/],
    ["control character", "alice:sec\nret", /control/],
  ];
  for (const [name, value, pattern] of cases) {
    const message = usageError(["--auth", value]);
    assert.match(message, pattern, name);
    assert.ok(message.includes("--auth"), name);
    assert.ok(!message.includes("secret") && !message.includes("sec\n"), name);
  }
  assert.match(usageError(["--auth-file", ""]), /--auth-file needs a file/);
  assert.match(usageError(["--auth"]), /--auth needs a value/);
});

Deno.test("parseCommandLine() reads the log formats, --log-file and --trust-proxy", () => {
  for (const format of ["text", "json", "common", "combined"]) {
    assert.equal(run(["--log-format", format]).config.logFormat, format);
  }
  assert.match(usageError(["--log-format", "clf"]), /common or combined/);
  assert.equal(run(["--log-file", "a.log"]).config.logFile, "a.log");
  assert.match(usageError(["--log-file", ""]), /needs a file/);
  assert.match(usageError(["--log-file", "a.log", "-q"]), /contradict/);
  assert.deepEqual(run([]).config.trustProxy, []);
  const ranges = run([
    "--trust-proxy",
    "10.0.0.0/8",
    "--trust-proxy",
    "::1",
    "--trust-proxy",
    "fd00::/8",
  ]).config.trustProxy!;
  assert.deepEqual(ranges.map((r) => r.prefix), [104, 128, 8]);
  for (const bad of ["10.0.0.0/33", "10.0.0", "localhost", "", "::1/200"]) {
    assert.match(usageError(["--trust-proxy", bad]), /invalid --trust-proxy/);
  }
});
