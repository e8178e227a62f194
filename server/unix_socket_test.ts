import assert from "node:assert/strict";
import { parseUnixMode } from "./unix_socket.ts";
import { MAIN_MODULE, STATIC_DIR } from "../tests/helpers.ts";

Deno.test("parseUnixMode() reads three or four octal digits", () => {
  assert.equal(parseUnixMode("660"), 0o660);
  assert.equal(parseUnixMode("0600"), 0o600);
  assert.equal(parseUnixMode("777"), 0o777);
  for (
    const bad of ["", "66", "688", "1777", "0o660", "rw-", "-660", "66000"]
  ) {
    assert.equal(parseUnixMode(bad), undefined, bad);
  }
});

/** pws on a Unix socket, until its banner line says it is serving. */
async function startOnSocket(path: string, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", MAIN_MODULE],
      ...["--root", STATIC_DIR, "--unix", path, ...extra],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 20_000;
  while (!seen.includes("serving")) {
    const { value, done } = await lines.read();
    if (done || Date.now() > deadline) break;
    seen += value;
  }
  // Keep draining so the access log never blocks the server.
  (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })().catch(() => {});
  return { child, banner: seen };
}

/** GET / over the socket, as a proxy in front would send it. */
async function getOverSocket(path: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: site\r\nConnection: close\r\n\r\n",
      ),
    );
    let text = "";
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** Runs pws with `args` expecting it to refuse; returns its stderr. */
async function refusal(args: string[]): Promise<{ code: number; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN_MODULE, "--root", STATIC_DIR, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, err: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "--unix: serves on the socket with --unix-mode, and removes it at " +
    "shutdown",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pws-unix-" });
    const path = `${dir}/pws.sock`;
    try {
      const { child, banner } = await startOnSocket(path, [
        "--unix-mode",
        "660",
      ]);
      assert.match(banner, /serving .* on unix:.*pws\.sock/);
      const info = await Deno.lstat(path);
      assert.ok(info.isSocket);
      assert.equal(info.mode! & 0o777, 0o660);
      const response = await getOverSocket(path);
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(response.includes("</html>"));
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--unix: a file that is not a socket is never replaced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws-unix-" });
  const path = `${dir}/important.txt`;
  try {
    await Deno.writeTextFile(path, "precious\n");
    const { code, err } = await refusal(["--unix", path]);
    assert.equal(code, 1);
    assert.match(err, /not a socket is there; refusing to replace it/);
    assert.equal(await Deno.readTextFile(path), "precious\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "--unix: a stale socket of a dead server is replaced; a live one " +
    "is refused",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pws-unix-" });
    const path = `${dir}/pws.sock`;
    try {
      // A process that binds and dies leaves its socket file behind.
      const stale = await new Deno.Command("python3", {
        args: [
          "-c",
          "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])",
          path,
        ],
      }).output();
      assert.ok(stale.success);
      assert.ok((await Deno.lstat(path)).isSocket);
      const { child } = await startOnSocket(path);
      try {
        assert.match(await getOverSocket(path), /^HTTP\/1\.1 200 /);
        const second = await refusal(["--unix", path]);
        assert.equal(second.code, 1);
        assert.match(second.err, /another server is listening on it/);
        // The refused second pws left the first one's socket alone.
        assert.match(await getOverSocket(path), /^HTTP\/1\.1 200 /);
      } finally {
        child.kill("SIGTERM");
        await child.status;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--unix: combinations that cannot work are usage errors", async () => {
  const cases: [string[], RegExp][] = [
    [["--unix", "/tmp/x.sock", "8080"], /replaces PORT/],
    [["--unix", "/tmp/x.sock", "--host", "::1"], /replaces --host/],
    [["--unix", "/tmp/x.sock", "--tls-self-signed"], /terminates TLS/],
    [["--unix", "/tmp/x.sock", "--workers", "2"], /one thread/],
    [["--unix-mode", "660"], /needs --unix/],
    [["--unix", "/tmp/x.sock", "--unix-mode", "999"], /invalid --unix-mode/],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await refusal(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(err, message);
  }
});
