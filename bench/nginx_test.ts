import assert from "node:assert/strict";
import { nginxConfig } from "./nginx.ts";

const base = { tmpDir: "/tmp/b", root: "/tmp/b/root", port: 8123 };

Deno.test("config A is single-process, quiet and uses sendfile", () => {
  const conf = nginxConfig({ ...base, openFileCache: false });
  for (
    const line of [
      "daemon off;",
      "master_process off;",
      "pid /tmp/b/nginx.pid;",
      "error_log /tmp/b/error.log notice;",
      "access_log off;",
      "sendfile on;",
      "tcp_nopush on;",
      "keepalive_requests 100000;",
      "listen 127.0.0.1:8123;",
      "root /tmp/b/root;",
    ]
  ) {
    assert.ok(conf.includes(line), `missing ${line}`);
  }
  assert.ok(!conf.includes("open_file_cache"));
});

Deno.test("config B adds open_file_cache", () => {
  const conf = nginxConfig({ ...base, openFileCache: true });
  assert.ok(conf.includes("open_file_cache max=1000 inactive=20s;"));
  assert.ok(conf.includes("open_file_cache_valid 30s;"));
});

Deno.test("braces balance", () => {
  const conf = nginxConfig({ ...base, openFileCache: true });
  assert.equal(
    conf.split("{").length,
    conf.split("}").length,
  );
});

Deno.test("with tls, the listener speaks HTTPS with sessions in a server cache", () => {
  const conf = nginxConfig({
    ...base,
    openFileCache: false,
    tls: { cert: "/tmp/b/tls/cert.pem", key: "/tmp/b/tls/key.pem" },
  });
  for (
    const line of [
      "listen 127.0.0.1:8123 ssl http2;",
      "ssl_certificate /tmp/b/tls/cert.pem;",
      "ssl_certificate_key /tmp/b/tls/key.pem;",
      "ssl_protocols TLSv1.2 TLSv1.3;",
      "ssl_session_cache shared:SSL:10m;",
      "ssl_session_tickets off;",
      "access_log off;",
      "master_process off;",
    ]
  ) {
    assert.ok(conf.includes(line), `missing ${line}`);
  }
  // One listener only: no cleartext port beside the HTTPS one.
  assert.equal(conf.split("listen ").length, 2);
  assert.equal(conf.split("{").length, conf.split("}").length);
});

Deno.test("without tls, nothing about ssl", () => {
  const conf = nginxConfig({ ...base, openFileCache: false });
  assert.ok(!conf.includes("ssl"));
  assert.ok(conf.includes("listen 127.0.0.1:8123;"));
});

Deno.test("config C is B with sendfile off and no tcp_nopush", () => {
  const conf = nginxConfig({ ...base, openFileCache: true, sendfileOff: true });
  assert.ok(conf.includes("open_file_cache max=1000 inactive=20s;"));
  assert.ok(conf.includes("sendfile off;"));
  assert.ok(!conf.includes("sendfile on;"));
  assert.ok(!conf.includes("tcp_nopush"));
});

Deno.test("h2c: HTTP/2 with prior knowledge on the plain listener", () => {
  const conf = nginxConfig({ ...base, openFileCache: false, h2c: true });
  assert.ok(conf.includes("listen 127.0.0.1:8123 http2;"));
  assert.ok(!conf.includes("ssl"));
});
