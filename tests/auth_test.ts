/**
 * Password protection end to end, over real sockets: without valid
 * credentials every request gets the same 401, whatever it asks for; CORS
 * preflights are answered without them; htpasswd files with bcrypt (from
 * `htpasswd -B` when installed) and `{SHA}` work; the access log names the
 * user and never shows a password; bad flags and files stop start-up with
 * one line. Guessing (rate limits, timing, the event loop) is in
 * `tests/adversarial/auth_guessing_test.ts`.
 *
 * Run: `deno test --allow-all tests/auth_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import bcrypt from "bcryptjs";
import {
  commandAvailable,
  MAIN_MODULE,
  makeFixtureTree,
  type ParsedResponse,
  parseResponses,
  PROTOCOL,
  rawExchange,
  spawnServer,
  STATIC_DIR,
  withServer,
} from "./helpers.ts";
import { loadAuthUsers } from "../auth/load.ts";
import type { AuthSettings } from "../auth/authenticator.ts";
import type { AuthUser } from "../auth/htpasswd.ts";

/** `Authorization: Basic …` for `user:password`. */
function basic(user: string, password: string): string {
  return "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
}

/** Settings for `--auth alice:s3cret` with a limit no test here reaches. */
function aliceOnly(): AuthSettings {
  const loaded = loadAuthUsers({
    pairs: [{ user: "alice", password: "s3cret" }],
    files: [],
  });
  assert.equal(loaded.kind, "ok");
  return { users: (loaded as { users: AuthUser[] }).users, failureBurst: 1e6 };
}

/** One request on its own connection; its response. */
async function ask(
  port: number,
  method: string,
  target: string,
  fields: string[] = [],
): Promise<ParsedResponse> {
  const head = [`${method} ${target} HTTP/1.1`, "Host: t", ...fields];
  const result = await rawExchange(
    port,
    head.join("\r\n") + "\r\nConnection: close\r\n\r\n",
  );
  const [response] = parseResponses(result.bytes, { methods: [method] });
  return response;
}

/** The fields of a response but Date, as `name: value` lines. */
function fieldsButDate(response: ParsedResponse): string[] {
  return response.headerList.filter(([n]) => n.toLowerCase() !== "date")
    .map(([n, v]) => `${n}: ${v}`);
}

/** What an authenticated client gets, by request. */
const REQUESTS: [method: string, target: string, status: number][] = [
  ["GET", "/index.html", 200],
  ["HEAD", "/index.html", 200],
  ["GET", "/sub", 301],
  ["GET", "/sub/", 200],
  ["GET", "/noindex/", 404],
  ["GET", "/nope.txt", 404],
  ["GET", "/.secret", 403],
  ["GET", "/sub/.hidden", 403],
  ["DELETE", "/index.html", 405],
  ["POST", "/nope", 405],
  ["BREW", "/", 501],
  ["OPTIONS", "/", 200],
  ["OPTIONS", "*", 200],
];

Deno.test("without valid credentials every request gets the same 401; with them, the usual answer", async () => {
  await using tree = await makeFixtureTree();
  await withServer(async (server) => {
    const refusals = [
      [],
      [`Authorization: ${basic("alice", "wrong")}`],
      [`Authorization: ${basic("mallory", "s3cret")}`],
      [`Authorization: ${basic("alice", "s3cret ")}`],
      ["Authorization: Basic !!!!"],
      ["Authorization: Bearer abc"],
      [`Authorization: basic ${basic("alice", "s3cret")}`],
      [`Authorization: ${basic("alice", "s3cret")}`, "Authorization: x"],
    ];
    let firstGet: ParsedResponse | undefined;
    let firstHead: ParsedResponse | undefined;
    for (const [method, target, status] of REQUESTS) {
      for (const fields of refusals) {
        const label = `${method} ${target} ${fields.join(" | ")}`;
        const response = await ask(server.port, method, target, fields);
        assert.equal(response.status, 401, label);
        assert.equal(
          response.header("www-authenticate"),
          'Basic realm="pws", charset="UTF-8"',
          label,
        );
        const first = method === "HEAD"
          ? (firstHead ??= response)
          : (firstGet ??= response);
        assert.deepEqual(fieldsButDate(response), fieldsButDate(first), label);
        assert.deepEqual(response.body, first.body, label);
        assert.ok(!response.text.includes("fixture"), label);
      }
      const ok = await ask(server.port, method, target, [
        `Authorization: ${basic("alice", "s3cret")}`,
      ]);
      assert.equal(ok.status, status, `${method} ${target} authenticated`);
    }
    assert.equal(firstHead!.body.length, 0);
    assert.equal(
      firstHead!.header("content-length"),
      firstGet!.header("content-length"),
    );
  }, {
    root: tree.root,
    config: {
      auth: aliceOnly(),
      lookup: { dotfiles: "deny", cleanUrls: false, dirListing: false },
    },
  });
});

Deno.test("a keep-alive client gets 401, then its file once it sends credentials", async () => {
  await withServer(async (server) => {
    const authorization = `Authorization: ${basic("alice", "s3cret")}`;
    const result = await rawExchange(server.port, [
      "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n",
      `GET /style.css HTTP/1.1\r\nHost: t\r\n${authorization}\r\n\r\n`,
      `GET /style.css HTTP/1.1\r\nHost: t\r\n${authorization}\r\n\r\n`,
    ], { pieceDelayMs: 30 });
    const responses = parseResponses(result.bytes);
    assert.deepEqual(responses.map((r) => r.status), [401, 200, 200]);
    // HTTP/2 has no Connection field: the one connection is its own proof.
    if (PROTOCOL === "http/1.1") {
      assert.equal(responses[0].header("connection"), undefined, "kept open");
    }
    assert.deepEqual(responses[1].body, responses[2].body);
  }, { config: { auth: aliceOnly() } });
});

Deno.test("with --cors, preflights are answered without credentials, and nothing else is", async () => {
  const preflight = [
    "Origin: https://app.example",
    "Access-Control-Request-Method: GET",
    "Access-Control-Request-Headers: authorization",
  ];
  await withServer(async (server) => {
    const answer = await ask(server.port, "OPTIONS", "/index.html", preflight);
    assert.equal(answer.status, 204);
    assert.equal(answer.header("access-control-allow-origin"), "*");
    assert.equal(
      answer.header("access-control-allow-headers"),
      "authorization",
    );
    // Not preflights: 401 (with the CORS fields, so scripts can read it).
    const plain = await ask(server.port, "OPTIONS", "/index.html", [
      "Origin: https://app.example",
    ]);
    assert.equal(plain.status, 401);
    const get = await ask(server.port, "GET", "/index.html", preflight);
    assert.equal(get.status, 401);
    assert.equal(get.header("access-control-allow-origin"), "*");
    const ok = await ask(server.port, "GET", "/index.html", [
      "Origin: https://app.example",
      `Authorization: ${basic("alice", "s3cret")}`,
    ]);
    assert.equal(ok.status, 200);
  }, { config: { auth: aliceOnly(), cors: true } });
  // Without --cors, a preflight is a request like any other: 401.
  await withServer(async (server) => {
    const answer = await ask(server.port, "OPTIONS", "/index.html", preflight);
    assert.equal(answer.status, 401);
  }, { config: { auth: aliceOnly() } });
});

/**
 * An htpasswd line with a bcrypt hash of `password`: from `htpasswd -B`
 * when it is installed (apache2-utils), else made with bcryptjs the way
 * htpasswd writes it (`$2y$`, cost 5).
 */
async function bcryptLine(user: string, password: string): Promise<string> {
  if (await commandAvailable("htpasswd")) {
    const out = await new Deno.Command("htpasswd", {
      args: ["-nbB", user, password],
      stdout: "piped",
      stderr: "null",
    }).output();
    const line = new TextDecoder().decode(out.stdout).split("\n")[0];
    if (out.success && line.startsWith(`${user}:$2y$`)) return line;
  }
  return `${user}:` +
    bcrypt.hashSync(password, 5).replace(/^\$2b\$/, "$2y$");
}

Deno.test("--auth-file with bcrypt and {SHA} users; the log names users and never shows a password", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws-auth-" });
  const file = `${dir}/users.htpasswd`;
  await Deno.writeTextFile(
    file,
    "# team\n" + await bcryptLine("alice", "Bcrypt-Pass-1") + "\n" +
      // `htpasswd -nbs bob Sha-Pass-2`
      `bob:{SHA}${
        Buffer.from(
          await crypto.subtle.digest(
            "SHA-1",
            new TextEncoder().encode("Sha-Pass-2"),
          ),
        ).toString("base64")
      }\n`,
  );
  try {
    for (const format of ["text", "json"]) {
      const server = await spawnServer([
        "0",
        "--host",
        "127.0.0.1",
        "--root",
        STATIC_DIR,
        "--auth-file",
        file,
        "--auth",
        "carol:Plain-Pass-3",
        "--log-format",
        format,
      ]);
      const statuses: number[] = [];
      try {
        const tries: [string, string, string][] = [
          ["alice", "Bcrypt-Pass-1", "/style.css"],
          ["alice", "Wrong-Pass-4", "/style.css"],
          ["bob", "Sha-Pass-2", "/nope"],
          ["bob", "Wrong-Pass-5", "/"],
          ["carol", "Plain-Pass-3", "/"],
          ["Bcrypt-Pass-1", "Bcrypt-Pass-1", "/"],
        ];
        for (const [user, password, target] of tries) {
          const r = await ask(server.port, "GET", target, [
            `Authorization: ${basic(user, password)}`,
          ]);
          statuses.push(r.status);
        }
        // The same head three times on one connection: the later ones are
        // replayed (settled files), and logged with their user too.
        const head = `GET /style.css HTTP/1.1\r\nHost: t\r\n` +
          `Authorization: ${basic("alice", "Bcrypt-Pass-1")}\r\n\r\n`;
        const replayed = await rawExchange(server.port, [head, head, head], {
          pieceDelayMs: 20,
        });
        statuses.push(...parseResponses(replayed.bytes).map((r) => r.status));
      } finally {
        const { stdout, stderr } = await server.stop();
        assert.deepEqual(statuses, [
          200,
          401,
          404,
          401,
          200,
          401,
          200,
          200,
          200,
        ]);
        const lines = stdout.split("\n").filter((l) =>
          l !== "" && !l.startsWith("pws ")
        );
        assert.equal(lines.length, 9, stdout);
        const users = format === "json"
          ? lines.map((l) => JSON.parse(l).user ?? "-")
          : lines.map((l) => l.split(" ")[2]);
        assert.deepEqual(users, [
          "alice",
          "-",
          "bob",
          "-",
          "carol",
          "-",
          "alice",
          "alice",
          "alice",
        ]);
        for (
          const secret of ["Pass-1", "Pass-2", "Pass-3", "Pass-4", "Pass-5"]
        ) {
          assert.ok(!stdout.includes(secret), `${format} log shows ${secret}`);
          assert.ok(!stderr.includes(secret), `stderr shows ${secret}`);
        }
        assert.match(
          stderr,
          /pws: warning: .*users\.htpasswd line 3: user "bob" has an unsalted SHA-1/,
        );
        assert.ok(!stderr.includes("clear text"), "loopback: no warning");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `main.ts` with `args` until it exits; its code and output. */
async function runPws(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN_MODULE,
      "--host",
      "127.0.0.1",
      "0",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("bad --auth is a usage error (2); a bad --auth-file stops start-up (1); one line, no password, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws-auth-" });
  try {
    await Deno.writeTextFile(
      `${dir}/plain`,
      "# x\nalice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\ndave:TopSecret99\n",
    );
    await Deno.writeTextFile(
      `${dir}/sha`,
      "\nalice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n",
    );
    await Deno.writeTextFile(
      `${dir}/md5`,
      "carol:$apr1$z1gdpYCj$dAy/Xgeytsiq6jCgEd6Gi1\n",
    );
    const cases: [string[], number, RegExp][] = [
      [
        ["--auth", "aliceTopSecret99"],
        2,
        /^pws: invalid --auth: use USER:PASSWORD/,
      ],
      [["--auth", ":TopSecret99"], 2, /empty user/],
      [
        ["--auth-file", `${dir}/missing`],
        1,
        /^pws: cannot read --auth-file ".*missing": no such file$/,
      ],
      [["--auth-file", dir], 1, /it is a directory/],
      [
        ["--auth-file", `${dir}/plain`],
        1,
        /^pws: .*plain line 3: user "dave" has a plain-text password.*bcrypt/,
      ],
      [
        ["--auth-file", `${dir}/md5`],
        1,
        /line 1: user "carol" has an MD5 \(\$apr1\$\) hash.*pws accepts bcrypt/,
      ],
      [
        ["--auth", "alice:x", "--auth-file", `${dir}/sha`],
        1,
        /user "alice" is defined twice \(--auth and .*sha line 2\)/,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      const out = await runPws(args);
      assert.equal(out.code, code, `${args.join(" ")}: ${out.stderr}`);
      assert.equal(out.stdout, "", args.join(" "));
      const lines = out.stderr.split("\n").filter((l) => l !== "");
      const errors = lines.filter((l) => !l.startsWith("pws: warning: "));
      assert.equal(errors.length, 1, out.stderr);
      assert.match(errors[0], pattern, args.join(" "));
      assert.ok(!out.stderr.includes("TopSecret99"), out.stderr);
      assert.ok(!/^\s+at /m.test(out.stderr), `stack trace: ${out.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
