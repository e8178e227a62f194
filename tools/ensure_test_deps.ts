/**
 * Installs what the test suite needs and the machine lacks: Debian's
 * Chromium for the browser tests (never a browser downloaded by a test
 * tool), curl/wget for the client-compatibility tests, htpasswd
 * (apache2-utils) for the `--auth-file` tests, openssl and testssl.sh
 * for the TLS tests, nghttp2-client for the HTTP/2 tests, Varnish and
 * nginx for the deployment tests, prometheus (for promtool) for the
 * metrics test and goaccess for the access-log format tests. Does nothing
 * when they are present; explains itself when it cannot install.
 *
 * @module
 */

/** A Debian package and the program that shows it is installed. */
interface Requirement {
  packageName: string;
  program: string;
}

const REQUIREMENTS: Requirement[] = [
  { packageName: "chromium", program: "/usr/bin/chromium" },
  { packageName: "curl", program: "/usr/bin/curl" },
  { packageName: "wget", program: "/usr/bin/wget" },
  // htpasswd, so the --auth-file tests read hashes Apache's tool wrote.
  { packageName: "apache2-utils", program: "/usr/bin/htpasswd" },
  // openssl s_client for the TLS tests, testssl.sh for the TLS scan.
  { packageName: "openssl", program: "/usr/bin/openssl" },
  { packageName: "testssl.sh", program: "/usr/bin/testssl" },
  // nghttp and h2load, the HTTP/2 peers.
  { packageName: "nghttp2-client", program: "/usr/bin/nghttp" },
  // The front ends of the deployment tests (tests/behind_cache_test.ts).
  { packageName: "varnish", program: "/usr/sbin/varnishd" },
  { packageName: "nginx", program: "/usr/sbin/nginx" },
  // promtool, which validates the --metrics page.
  { packageName: "prometheus", program: "/usr/bin/promtool" },
  // GoAccess reads the combined access log with its stock format.
  { packageName: "goaccess", program: "/usr/bin/goaccess" },
];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<boolean> {
  const child = new Deno.Command(command, {
    args,
    stdout: "inherit",
    stderr: "inherit",
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).spawn();
  return (await child.status).success;
}

/** Installs the missing requirements with apt-get when possible. */
export async function ensureTestDependencies(): Promise<void> {
  const missing = REQUIREMENTS.filter((r) => !exists(r.program));
  if (missing.length === 0) return;
  const names = missing.map((r) => r.packageName);
  const isRoot = Deno.uid?.() === 0;
  if (!isRoot || !exists("/usr/bin/apt-get")) {
    console.warn(
      `ensure_test_deps: missing ${names.join(", ")}; install them ` +
        `(Debian: apt-get install ${names.join(" ")}). Tests that need ` +
        `them will be skipped.`,
    );
    return;
  }
  console.log(`ensure_test_deps: installing ${names.join(", ")} with apt-get`);
  let ok = await run("apt-get", [
    "install",
    "-y",
    "--no-install-recommends",
    ...names,
  ]);
  if (!ok) {
    await run("apt-get", ["update"]);
    ok = await run("apt-get", [
      "install",
      "-y",
      "--no-install-recommends",
      ...names,
    ]);
  }
  if (!ok) {
    console.warn(
      `ensure_test_deps: could not install ${names.join(", ")}; tests ` +
        `that need them will be skipped.`,
    );
  }
}

if (import.meta.main) {
  await ensureTestDependencies();
}
