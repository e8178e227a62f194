/**
 * Another client, in a process of its own: requests a path on a fresh
 * HTTP/1.1 connection every few milliseconds and times each answer, until
 * its stdin closes; then prints the samples as JSON. A process of its own
 * so that the attack's work in the test process (parsing what floods
 * bring back) is not counted as the server's delay.
 *
 * Run: `deno run --allow-net tests/latency_watcher.ts PORT PATH EVERY_MS
 * TIMEOUT_MS`. It writes "ready\n" once its first request was answered,
 * and `{"samples": [...], "failures": n}` at the end.
 *
 * @module
 */

/** What the watcher prints when it stops. */
export interface WatcherResult {
  /** Milliseconds of every request answered with 200, in order. */
  samples: number[];
  /** Requests that failed or were not answered with 200 in time. */
  failures: number;
}

const STATUS_200 = new TextEncoder().encode("HTTP/1.1 200 ");

/**
 * One GET of `path` with `Connection: close`: true when the answer, read
 * to its end within `timeoutMs`, is a 200.
 */
export async function getOnce(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch {
      // closed
    }
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const request =
      `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(request));
    const head = new Uint8Array(STATUS_200.length);
    let got = 0;
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const take = Math.min(n, head.length - got);
      head.set(buffer.subarray(0, take), got);
      got += take;
    }
    return got === head.length && head.every((b, i) => b === STATUS_200[i]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed
    }
  }
}

async function main(): Promise<void> {
  const [port, path, everyMs, timeoutMs] = [
    Number(Deno.args[0]),
    Deno.args[1],
    Number(Deno.args[2]),
    Number(Deno.args[3]),
  ];
  let stopped = false;
  // stdin closing (or failing) is the signal to stop.
  (async () => {
    const sink = new Uint8Array(64);
    try {
      while (await Deno.stdin.read(sink) !== null) {
        // nothing is sent: only the end matters
      }
    } catch {
      // closed
    }
    stopped = true;
  })();
  const result: WatcherResult = { samples: [], failures: 0 };
  let ready = false;
  while (!stopped) {
    const started = performance.now();
    if (await getOnce(port, path, timeoutMs)) {
      if (ready) result.samples.push(performance.now() - started);
      else {
        // The first request warms this process up: not a sample.
        ready = true;
        await Deno.stdout.write(new TextEncoder().encode("ready\n"));
      }
    } else if (ready) result.failures++;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  await Deno.stdout.write(
    new TextEncoder().encode(JSON.stringify(result) + "\n"),
  );
}

if (import.meta.main) await main();
