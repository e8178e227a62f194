/** Where the local CA lives, whose it is, and how to trust it, per OS. */

import assert from "node:assert/strict";
import { caOwner, defaultDataDir, trustInstruction } from "./data_dir.ts";

/** An environment made of `values`. */
const envOf = (values: Record<string, string>) => (name: string) =>
  values[name];

Deno.test("data dir: XDG_DATA_HOME, else ~/.local/share, on Linux", () => {
  const home = { HOME: "/home/alice" };
  assert.equal(
    defaultDataDir("linux", envOf({ ...home, XDG_DATA_HOME: "/data" })),
    "/data/pws",
  );
  assert.equal(
    defaultDataDir("linux", envOf(home)),
    "/home/alice/.local/share/pws",
  );
  // The XDG spec says relative values are invalid and must be ignored.
  assert.equal(
    defaultDataDir("linux", envOf({ ...home, XDG_DATA_HOME: "rel" })),
    "/home/alice/.local/share/pws",
  );
  assert.equal(defaultDataDir("linux", envOf({})), undefined);
  assert.equal(
    defaultDataDir("freebsd", envOf(home)),
    "/home/alice/.local/share/pws",
  );
});

Deno.test("data dir: Application Support on macOS, LOCALAPPDATA on Windows", () => {
  assert.equal(
    defaultDataDir("darwin", envOf({ HOME: "/Users/al", XDG_DATA_HOME: "/x" })),
    "/Users/al/Library/Application Support/pws",
  );
  assert.equal(
    defaultDataDir(
      "windows",
      envOf({ LOCALAPPDATA: "C:\\Users\\al\\AppData\\Local" }),
    ),
    "C:\\Users\\al\\AppData\\Local\\pws",
  );
  assert.equal(defaultDataDir("windows", envOf({ HOME: "/h" })), undefined);
});

Deno.test("data dir: the CA's owner is user@host", () => {
  assert.equal(caOwner(envOf({ USER: "alice" }), "devbox"), "alice@devbox");
  assert.equal(caOwner(envOf({ USERNAME: "bob" }), "pc"), "bob@pc");
  assert.equal(caOwner(envOf({}), "pc"), "user@pc");
});

Deno.test("data dir: the trust instruction is one line per OS", () => {
  const linux = trustInstruction("linux", "/home/al/.local/share/pws/ca.crt");
  assert.ok(
    linux.includes(
      "sudo cp /home/al/.local/share/pws/ca.crt " +
        "/usr/local/share/ca-certificates/pws-local-ca.crt && " +
        "sudo update-ca-certificates",
    ),
    linux,
  );
  assert.ok(linux.includes("Firefox"), linux);
  const mac = trustInstruction(
    "darwin",
    "/Users/al/Library/Application Support/pws/ca.crt",
  );
  // The space in "Application Support" is quoted for the shell.
  assert.ok(
    mac.includes("'/Users/al/Library/Application Support/pws/ca.crt'"),
    mac,
  );
  assert.ok(mac.includes("security add-trusted-cert"), mac);
  assert.ok(
    trustInstruction("windows", "C:\\a b\\ca.crt").includes(
      'certutil -user -addstore Root "C:\\a b\\ca.crt"',
    ),
  );
  assert.equal(
    trustInstruction("linux", "/tmp/it's/ca.crt").includes(
      `'/tmp/it'\\''s/ca.crt'`,
    ),
    true,
  );
  for (const os of ["linux", "darwin", "windows"] as const) {
    assert.ok(!trustInstruction(os, "/x/ca.crt").includes("\n"));
  }
});
