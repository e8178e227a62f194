/**
 * Password guessing against `--auth-file` (bcrypt): failed attempts are
 * limited per address (429 without checking the password), a wrong user
 * costs what a wrong password costs (no user enumeration by timing), and
 * bcrypt's tens of milliseconds per check never stall other clients (it
 * runs on a pool thread, not on the event loop).
 *
 * The servers run in this process so that their limits can be set (they
 * are not command-line options); the clients are light (a request, a
 * read), and the checks they measure run on the pool thread.
 *
 * Run: `deno test --allow-all tests/adversarial/auth_guessing_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import bcrypt from "bcryptjs";
import {
  type ParsedResponse,
  parseResponses,
  rawExchange,
  withServer,
} from "../helpers.ts";
import { parseHtpasswd } from "../../auth/htpasswd.ts";
import { loadAuthUsers } from "../../auth/load.ts";
import {
  authenticatorFor,
  type AuthSettings,
} from "../../auth/authenticator.ts";
import type { AuthUser } from "../../auth/htpasswd.ts";

const encoder = new TextEncoder();

function basic(user: string, password: string): string {
  return "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
}

/** Users with bcrypt hashes of `cost`, as `htpasswd -B -C cost` writes. */
function bcryptUsers(cost: number, users: [string, string][]): AuthUser[] {
  const text = users.map(([user, password]) =>
    `${user}:${bcrypt.hashSync(password, cost).replace("$2b$", "$2y$")}`
  ).join("\n");
  const parsed = parseHtpasswd(text, "test.htpasswd");
  assert.equal(parsed.kind, "ok");
  return (parsed as { users: AuthUser[] }).users;
}

function head(target: string, fields: string[] = []): string {
  return [`GET ${target} HTTP/1.1`, "Host: t", ...fields].join("\r\n") +
    "\r\nConnection: close\r\n\r\n";
}

/** One request from 127.0.0.1; its response and how long it took. */
async function ask(
  port: number,
  request: string,
): Promise<{ response: ParsedResponse; ms: number }> {
  const t0 = performance.now();
  const result = await rawExchange(port, request);
  const ms = performance.now() - t0;
  return { response: parseResponses(result.bytes)[0], ms };
}

/**
 * One request from another loopback address (`localAddress`, such as
 * 127.0.0.2: all of 127/8 is this machine), through node:net, since
 * Deno.connect cannot choose its source address.
 */
function askFrom(
  localAddress: string,
  port: number,
  request: string,
): Promise<ParsedResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const socket = net.connect(
      { host: "127.0.0.1", port, localAddress },
      () => socket.end(encoder.encode(request)),
    );
    socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      try {
        resolve(parseResponses(Buffer.concat(chunks))[0]);
      } catch (err) {
        reject(err);
      }
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("after N failures from one address: 429 without checking the password; other addresses and later logins pass", async () => {
  // `--auth` users: checks take microseconds, so no time passes to refill
  // the bucket by accident; which checks ran is counted exactly.
  const loaded = loadAuthUsers({
    pairs: [{ user: "alice", password: "right-one" }],
    files: [],
  });
  const settings: AuthSettings = {
    users: (loaded as { users: AuthUser[] }).users,
    failureBurst: 3,
    failureRefillMs: 1000,
  };
  const verifier = authenticatorFor(settings).verifier;
  const verify = verifier.verify.bind(verifier);
  let checks = 0;
  verifier.verify = (user, password) => {
    checks++;
    return verify(user, password);
  };
  await withServer(async (server) => {
    const right = `Authorization: ${basic("alice", "right-one")}`;
    for (let i = 0; i < 3; i++) {
      const { response } = await ask(
        server.port,
        head("/", [`Authorization: ${basic("alice", `wrong-${i}`)}`]),
      );
      assert.equal(response.status, 401, `failure ${i + 1}`);
    }
    assert.equal(checks, 3);
    const limited: ParsedResponse[] = [];
    for (
      const [target, field] of [
        ["/", `Authorization: ${basic("alice", "wrong-3")}`],
        ["/style.css", right], // even the right password is not checked
        ["/nope", `Authorization: ${basic("nobody", "x")}`],
        ["/", "Authorization: Basic !!!!"],
      ]
    ) {
      limited.push((await ask(server.port, head(target, [field]))).response);
    }
    for (const response of limited) {
      assert.equal(response.status, 429);
      assert.equal(response.header("retry-after"), "1");
      assert.deepEqual(response.body, limited[0].body, "same for every path");
    }
    assert.equal(checks, 3, "no password was checked past the limit");
    // Another address is not limited.
    const other = await askFrom("127.0.0.2", server.port, head("/", [right]));
    assert.equal(other.status, 200);
    assert.equal(checks, 4);
    // A second later, one attempt has come back: the right password
    // passes (sent with two spaces: not the value cached just now).
    await delay(1100);
    const later = await ask(
      server.port,
      head("/", [`Authorization: Basic  ${right.slice(21)}`]),
    );
    assert.equal(later.response.status, 200);
    assert.equal(checks, 5);
  }, { config: { auth: settings } });
});

Deno.test("a wrong user costs what a wrong password costs (medians of alternating attempts)", async () => {
  const ROUNDS = 40;
  const settings: AuthSettings = {
    users: bcryptUsers(8, [["alice", "a-pass"], ["bob", "b-pass"]]),
    failureBurst: 1e6,
  };
  await withServer(async (server) => {
    // Warm up: the pool thread starts and loads bcryptjs.
    await ask(
      server.port,
      head("/", [`Authorization: ${basic("alice", "x")}`]),
    );
    const wrongUser: number[] = [];
    const wrongPassword: number[] = [];
    /** Per round, wrong user minus wrong password: adjacent in time, so
     * both saw the same load (the machine may be busy with other work). */
    const differences: number[] = [];
    const started = performance.now();
    for (let i = 0; i < ROUNDS; i++) {
      const pairs: [number[], string, string][] = [
        [wrongUser, `nobody-${i}`, "a-pass"],
        [wrongPassword, "alice", `guess-${i}`],
      ];
      // Alternate which goes first, so drifts in load hit both alike.
      if (i % 2 === 1) pairs.reverse();
      for (const [times, user, password] of pairs) {
        const { response, ms } = await ask(
          server.port,
          head("/", [`Authorization: ${basic(user, password)}`]),
        );
        assert.equal(response.status, 401);
        times.push(ms);
      }
      differences.push(wrongUser[i] - wrongPassword[i]);
    }
    const user = median(wrongUser);
    const password = median(wrongPassword);
    const difference = median(differences);
    console.log(
      `  ${ROUNDS} rounds in ${(performance.now() - started).toFixed(0)} ms: ` +
        `wrong user median ${user.toFixed(2)} ms, wrong password ` +
        `${password.toFixed(2)} ms, median difference ${
          difference.toFixed(2)
        } ms`,
    );
    assert.ok(password > 5, `a bcrypt check took only ${password} ms`);
    // Equal costs put the median difference near 0; an early answer for
    // unknown users would put it at minus a whole bcrypt check.
    assert.ok(
      Math.abs(difference) <= Math.max(3, 0.3 * password),
      `wrong user ${user.toFixed(2)} ms vs wrong password ${
        password.toFixed(2)
      } ms (median difference ${difference.toFixed(2)} ms)`,
    );
  }, { config: { auth: settings } });
});

Deno.test("bcrypt checks do not stall the event loop: a logged-in client's requests stay fast (p99)", async () => {
  const ATTACKERS = 4;
  /** The probe runs at least this long, and until 20 checks were made… */
  const ATTACK_MS = 2500;
  /** …but no longer than this (a busy machine starves the pool thread). */
  const MAX_ATTACK_MS = 8000;
  const P99_LIMIT_MS = 20;
  // Cost 10: about 60 ms a check, which on the event loop would hold
  // every other client for that long.
  const settings: AuthSettings = {
    users: bcryptUsers(10, [["alice", "right-one"]]),
    failureBurst: 1e6,
  };
  await withServer(async (server) => {
    const probe = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    probe.setNoDelay(true);
    const request = encoder.encode(
      `GET /style.css HTTP/1.1\r\nHost: t\r\n` +
        `Authorization: ${basic("alice", "right-one")}\r\n\r\n`,
    );
    const buf = new Uint8Array(64 * 1024);
    /** One request on the probe connection; its latency in ms. */
    const probeOnce = async (): Promise<number> => {
      const t0 = performance.now();
      await probe.write(request);
      let have = 0;
      while (true) {
        const n = await probe.read(buf.subarray(have));
        if (n === null) throw new Error("probe connection closed");
        have += n;
        const responses = parseResponses(buf.slice(0, have), {
          allowIncomplete: true,
        });
        if (responses.length === 1) {
          assert.equal(responses[0].status, 200);
          return performance.now() - t0;
        }
      }
    };
    // The first request checks the password (and starts the pool thread);
    // the rest are answered from the credential cache.
    for (let i = 0; i < 20; i++) await probeOnce();

    let stop = false;
    let attempts = 0;
    const attack = async (n: number) => {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      try {
        const attackBuf = new Uint8Array(16 * 1024);
        for (let i = 0; !stop; i++) {
          await conn.write(encoder.encode(
            `GET / HTTP/1.1\r\nHost: t\r\n` +
              `Authorization: ${basic("alice", `guess-${n}-${i}`)}\r\n\r\n`,
          ));
          let have = 0;
          while (
            parseResponses(attackBuf.slice(0, have), { allowIncomplete: true })
              .length === 0
          ) {
            const got = await conn.read(attackBuf.subarray(have));
            if (got === null) return;
            have += got;
          }
          attempts++;
        }
      } finally {
        conn.close();
      }
    };
    const attackers = Array.from({ length: ATTACKERS }, (_, n) => attack(n));
    const latencies: number[] = [];
    const started = performance.now();
    while (
      performance.now() - started < ATTACK_MS ||
      (attempts < 20 && performance.now() - started < MAX_ATTACK_MS)
    ) {
      latencies.push(await probeOnce());
      await delay(3);
    }
    stop = true;
    await Promise.all(attackers);
    probe.close();
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)];
    console.log(
      `  ${attempts} wrong bcrypt passwords in ${
        (performance.now() - started).toFixed(0)
      } ms; ` +
        `${sorted.length} probe requests: p50 ${
          median(sorted).toFixed(2)
        } ms, p99 ${p99.toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms`,
    );
    assert.ok(p99 <= P99_LIMIT_MS, `probe p99 ${p99.toFixed(1)} ms`);
    assert.ok(sorted.length >= 100, `only ${sorted.length} probe requests`);
    assert.ok(attempts >= 10, `only ${attempts} attempts were checked`);
  }, { config: { auth: settings } });
});
