/**
 * pws as an origin behind real front ends: Varnish (its default VCL, the
 * backend on loopback) caching and revalidating pws's files, and nginx
 * proxying to pws's Unix socket. Each skips with the reason when the
 * program is not installed (`deno task test` installs both on Debian).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  commandAvailable,
  MAIN_MODULE,
  type ParsedResponse,
  parseResponses,
  rawExchange,
  type SpawnedServer,
  spawnServer,
} from "./helpers.ts";

const HAS_VARNISH = await commandAvailable("varnishd");
const HAS_NGINX = await commandAvailable("nginx");

/** A port nothing listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** One request through a front end; `fields` are extra header lines. */
async function get(
  port: number,
  path: string,
  fields: string[] = [],
): Promise<ParsedResponse> {
  const head = [`GET ${path} HTTP/1.1`, "Host: site", ...fields];
  const { bytes } = await rawExchange(
    port,
    head.join("\r\n") + "\r\nConnection: close\r\n\r\n",
    // No half-close: nginx takes it for a client that went away (499).
    { tls: false, closeWrite: false },
  );
  const [response] = parseResponses(bytes);
  return response;
}

/** Waits until `port` answers HTTP (front ends take a moment to start). */
async function untilServing(port: number, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const status = (await get(port, path))?.status;
      if (status !== undefined && status < 500) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answered on ${port}`);
}

/** A hit: Varnish names two transactions, this one and the stored one. */
function isHit(response: ParsedResponse): boolean {
  return (response.header("x-varnish") ?? "").trim().split(/\s+/).length === 2;
}

/** pws's access-log lines for `path` with `status`. */
function logged(output: string, path: string, status: number): number {
  return output.split("\n").filter((line) =>
    line.includes(` GET ${path} `) && line.includes(` ${status} `)
  ).length;
}

Deno.test({
  name: "behind Varnish: hits, 304 revalidation, new bodies, Vary, ranges, " +
    "no-cache and max-age" +
    (HAS_VARNISH ? "" : " (skipped: varnish is not installed)"),
  ignore: !HAS_VARNISH,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "pws-varnish-site-" });
    const work = await Deno.makeTempDir({ prefix: "pws-varnish-" });
    const text = "a line of a text file, compressible\n".repeat(120);
    await Deno.writeTextFile(`${root}/a.txt`, "version one\n");
    await Deno.writeTextFile(`${root}/b.txt`, "version one\n");
    await Deno.writeTextFile(`${root}/big.txt`, text);
    const pwsPort = freePort();
    const varnishPort = freePort();
    let pws: SpawnedServer | undefined;
    let output = "";
    // Varnish's default VCL; gzip handling off, so that it stores what pws
    // sends per Accept-Encoding (Vary) instead of recompressing itself.
    const varnish = new Deno.Command("varnishd", {
      args: [
        "-F",
        ...["-n", `${work}/state`],
        ...["-a", `127.0.0.1:${varnishPort}`],
        ...["-b", `127.0.0.1:${pwsPort}`],
        ...["-s", "malloc,32m"],
        ...["-p", "default_keep=60", "-p", "default_grace=0"],
        ...["-p", "http_gzip_support=off"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await t.step(
        "pws's default no-cache: every request reaches pws",
        async () => {
          pws = await spawnServer(["--root", root, String(pwsPort)], {
            cleartext: true,
          });
          await untilServing(varnishPort, "/nothing");
          const first = await get(varnishPort, "/a.txt");
          const second = await get(varnishPort, "/a.txt");
          assert.equal(first.header("cache-control"), "no-cache");
          assert.ok(!isHit(first) && !isHit(second), "never a hit");
          output += (await pws.stop()).stdout;
          pws = undefined;
          assert.equal(logged(output, "/a.txt", 200), 2);
        },
      );

      await t.step(
        "max-age: hits, then a 304 from pws, then the new body",
        async () => {
          output = "";
          // A file is tagged by content until its ctime is a second old,
          // then by metadata: let b.txt settle first, or its one change of
          // ETag would turn the expected 304 into a 200.
          await new Promise((r) => setTimeout(r, 1200));
          pws = await spawnServer([
            ...["--root", root, "--cache-control", "public, max-age=1"],
            String(pwsPort),
          ], { cleartext: true });
          const miss = await get(varnishPort, "/b.txt");
          const hit = await get(varnishPort, "/b.txt");
          assert.equal(new TextDecoder().decode(hit.body), "version one\n");
          assert.ok(!isHit(miss) && isHit(hit), "the second is a hit");
          // Expired: Varnish revalidates with the ETag it kept.
          await new Promise((r) => setTimeout(r, 1300));
          const revalidated = await get(varnishPort, "/b.txt");
          assert.equal(
            new TextDecoder().decode(revalidated.body),
            "version one\n",
          );
          await Deno.writeTextFile(`${root}/b.txt`, "version two, longer\n");
          await new Promise((r) => setTimeout(r, 1300));
          const changed = await get(varnishPort, "/b.txt");
          assert.equal(
            new TextDecoder().decode(changed.body),
            "version two, longer\n",
          );
          const again = await get(varnishPort, "/b.txt");
          assert.ok(isHit(again));
          assert.equal(
            new TextDecoder().decode(again.body),
            "version two, longer\n",
          );
        },
      );

      await t.step("Vary keeps gzip, br and identity apart", async () => {
        const gzip = await get(varnishPort, "/big.txt", [
          "Accept-Encoding: gzip",
        ]);
        const br = await get(varnishPort, "/big.txt", ["Accept-Encoding: br"]);
        const plain = await get(varnishPort, "/big.txt");
        const plainAgain = await get(varnishPort, "/big.txt");
        const gzipAgain = await get(varnishPort, "/big.txt", [
          "Accept-Encoding: gzip",
        ]);
        assert.equal(gzip.header("content-encoding"), "gzip");
        assert.equal(br.header("content-encoding"), "br");
        assert.equal(plain.header("content-encoding"), undefined);
        assert.equal(plainAgain.header("content-encoding"), undefined);
        assert.equal(new TextDecoder().decode(plainAgain.body), text);
        assert.ok(isHit(plainAgain) && isHit(gzipAgain));
        assert.equal(gzipAgain.header("content-encoding"), "gzip");
        for (const r of [gzip, br, plain]) {
          assert.equal(r.header("vary"), "Accept-Encoding");
        }
      });

      await t.step("a range through Varnish is the file's bytes", async () => {
        const range = await get(varnishPort, "/big.txt", [
          "Range: bytes=100-199",
        ]);
        assert.equal(range.status, 206);
        assert.equal(
          new TextDecoder().decode(range.body),
          text.slice(100, 200),
        );
        assert.equal(
          range.header("content-range"),
          `bytes 100-199/${text.length}`,
        );
      });

      output += (await pws!.stop()).stdout;
      pws = undefined;
      assert.ok(
        logged(output, "/b.txt", 304) >= 1,
        "pws answered 304:\n" + output,
      );
      assert.ok(
        logged(output, "/b.txt", 200) >= 2,
        "and the new body with 200",
      );
    } finally {
      await pws?.stop();
      try {
        varnish.kill("SIGTERM");
      } catch {
        // already gone
      }
      await varnish.status;
      await Deno.remove(root, { recursive: true });
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "behind nginx: proxy_pass to pws's Unix socket" +
    (HAS_NGINX ? "" : " (skipped: nginx is not installed)"),
  ignore: !HAS_NGINX,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "pws-nginx-" });
    // nginx's workers run as an unprivileged user: they must reach the socket.
    await Deno.chmod(work, 0o755);
    const socket = `${work}/pws.sock`;
    const nginxPort = freePort();
    const config = `
daemon off;
worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${work};
  proxy_temp_path ${work};
  fastcgi_temp_path ${work};
  uwsgi_temp_path ${work};
  scgi_temp_path ${work};
  upstream pws { server unix:${socket}; keepalive 8; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_pass http://pws;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`;
    await Deno.writeTextFile(`${work}/nginx.conf`, config);
    const pws = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-all", MAIN_MODULE],
        ...["--unix", socket, "--unix-mode", "666", "--quiet"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const nginx = new Deno.Command("nginx", {
      args: ["-c", `${work}/nginx.conf`, "-p", work],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await untilServing(nginxPort, "/");
      for (let i = 0; i < 3; i++) {
        const response = await get(nginxPort, "/");
        assert.equal(
          response?.status,
          200,
          await Deno.readTextFile(`${work}/error.log`).catch(() => ""),
        );
        assert.ok(new TextDecoder().decode(response.body).includes("</html>"));
      }
      const missing = await get(nginxPort, "/no-such-page");
      assert.equal(missing?.status, 404);
    } finally {
      nginx.kill("SIGTERM");
      pws.kill("SIGTERM");
      await nginx.status;
      await pws.status;
      await Deno.remove(work, { recursive: true });
    }
  },
});
