import assert from "node:assert/strict";
import { parseListenAddress } from "./address.ts";
import { parseCommandLine } from "../server/cli.ts";
import { main } from "../main.ts";

Deno.test("ADDR:PORT: IPv4, bracketed IPv6 and host names", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9100"), {
    hostname: "127.0.0.1",
    port: 9100,
  });
  assert.deepEqual(parseListenAddress("[::1]:9100"), {
    hostname: "::1",
    port: 9100,
  });
  assert.deepEqual(parseListenAddress("localhost:0"), {
    hostname: "localhost",
    port: 0,
  });
});

Deno.test("ADDR:PORT: malformed values are messages, not addresses", () => {
  for (
    const bad of [
      "9100",
      ":9100",
      "127.0.0.1:",
      "127.0.0.1:65536",
      "127.0.0.1:91000",
      "127.0.0.1:+91",
      "::1:9100",
      "[::1:9100",
      "[]:9100",
      "[127.0.0.1]:9100",
      "[::1%eth0]:9100",
      "host name:9100",
      "exa\nmple:9100",
      "",
    ]
  ) {
    assert.equal(typeof parseListenAddress(bad), "string", bad);
  }
});

Deno.test("--metrics: parsed, and refused on the site's or redirect port", () => {
  const ok = parseCommandLine(["--metrics", "127.0.0.1:9100", "8000"]);
  assert.equal(ok.kind, "run");
  if (ok.kind === "run") {
    assert.deepEqual(ok.options.metrics, { hostname: "127.0.0.1", port: 9100 });
    assert.equal(ok.options.config.metrics, true);
  }
  const off = parseCommandLine([]);
  assert.equal(off.kind === "run" && off.options.config.metrics, undefined);
  const same = parseCommandLine(["--metrics", "127.0.0.1:8000", "8000"]);
  assert.equal(same.kind, "usage-error");
  assert.match(
    same.kind === "usage-error" ? same.message : "",
    /site's port/,
  );
  const redirect = parseCommandLine([
    "--tls-self-signed",
    "--redirect-http",
    "8080",
    "--metrics",
    "[::1]:8080",
    "8443",
  ]);
  assert.equal(redirect.kind, "usage-error");
  // Port 0 on both sides picks two different free ports: allowed.
  assert.equal(parseCommandLine(["--metrics", "127.0.0.1:0", "0"]).kind, "run");
});

Deno.test("--metrics with a bad value exits with 2", async () => {
  const errors: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    assert.equal(await main(["--metrics", "9100"]), 2);
    assert.equal(await main(["--metrics", "127.0.0.1:8000"]), 2);
  } finally {
    console.error = original;
  }
  assert.equal(errors.length, 2);
  assert.match(String(errors[0]), /invalid --metrics "9100"/);
});
