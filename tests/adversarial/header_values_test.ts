/**
 * Attack class: header values crafted to make a parser slow. pws has one
 * event-loop thread per listener, so a parser that takes quadratic time on
 * a crafted value (a backtracking regex over a long run of spaces, say)
 * stalls every other client while it runs.
 *
 * Part one feeds ~30 KiB adversarial values to the pure function behind
 * every header pws interprets and checks each call is cheap and that the
 * cost grows linearly (30 KiB against 3 KiB stays far from the 100× of a
 * quadratic parser). Part two sends such values over real sockets, three
 * at once, and checks that a small request from another client is still
 * answered within 50 ms.
 *
 * Run: `deno test --allow-all tests/adversarial/header_values_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  evaluatePreconditions,
  ifRangeAllowsRange,
} from "../../http/conditional.ts";
import { parseRange } from "../../http/range.ts";
import { chooseEncoding } from "../../http/accept_encoding.ts";
import type { RequestHead } from "../../http/request.ts";
import {
  checkHost,
  corsPreflightHeaders,
  isExpectContinue,
  isSpaNavigation,
  wantsKeepAlive,
} from "../../http/semantics.ts";
import { wantsJson } from "../../files/listing.ts";
import { resolveTarget } from "../../files/target.ts";
import { parseResponses, spawnServer } from "../helpers.ts";

const KiB = 1024;
const SMALL = 3 * KiB;
const LARGE = 30 * KiB;

const VALIDATORS = {
  etag: '"1a-2b-3c-4d"',
  lastModifiedMs: Date.UTC(2024, 0, 1, 12, 0, 0),
};

function head(headers: [string, string][]): RequestHead {
  return {
    method: "OPTIONS",
    target: "/",
    versionMajor: 1,
    versionMinor: 1,
    headers: [["Host", "example.test"], ...headers],
  };
}

/** A header pws interprets, the pure function that reads it, and starts. */
interface Subject {
  header: string;
  call: (value: string) => unknown;
  /** Typical beginnings, so the filler lands past the first checks. */
  prefixes: string[];
}

const SUBJECTS: Subject[] = [
  {
    header: "If-Match",
    call: (v) => evaluatePreconditions("GET", { ifMatch: v }, VALIDATORS),
    prefixes: ["", 'W/"a", '],
  },
  {
    header: "If-None-Match",
    call: (v) => evaluatePreconditions("GET", { ifNoneMatch: v }, VALIDATORS),
    prefixes: ["", '"a"'],
  },
  {
    header: "If-Modified-Since",
    call: (v) =>
      evaluatePreconditions("GET", { ifModifiedSince: v }, VALIDATORS),
    prefixes: ["Sun, 06 Nov 1994 ", "Sunday, 06-Nov-94 ", "Sun Nov "],
  },
  {
    header: "If-Unmodified-Since",
    call: (v) =>
      evaluatePreconditions("GET", { ifUnmodifiedSince: v }, VALIDATORS),
    prefixes: ["", "Sun Nov  6 08:49:37 "],
  },
  {
    header: "If-Range",
    call: (v) => ifRangeAllowsRange(v, VALIDATORS),
    prefixes: ['"a"', "Sun, 06 Nov 1994 08:49:37 GMT"],
  },
  {
    header: "Range",
    call: (v) => parseRange(v, 1_000_000),
    prefixes: ["bytes=", "bytes=0-1,"],
  },
  {
    header: "Accept-Encoding",
    call: (v) => chooseEncoding(v, ["zstd", "br", "gzip"]),
    prefixes: ["gzip", "br;q="],
  },
  {
    header: "Accept (SPA navigation)",
    call: (v) => isSpaNavigation(["app"], v),
    prefixes: ["text/html", "text/html;q=0."],
  },
  {
    header: "Accept (listing JSON)",
    call: (v) => wantsJson(v),
    prefixes: ["application/json", "application/json;q="],
  },
  {
    header: "Host",
    call: (v) => checkHost({ ...head([]), headers: [["Host", v]] }),
    prefixes: ["", "[", "[v1."],
  },
  {
    header: "Connection",
    call: (v) => wantsKeepAlive(head([["Connection", v]])),
    prefixes: ["", "close"],
  },
  {
    header: "Origin",
    call: (v) =>
      corsPreflightHeaders(
        head([["Origin", v], ["Access-Control-Request-Method", "GET"]]),
      ),
    prefixes: [""],
  },
  {
    header: "Access-Control-Request-Method",
    call: (v) =>
      corsPreflightHeaders(
        head([["Origin", "https://a.test"], [
          "Access-Control-Request-Method",
          v,
        ]]),
      ),
    prefixes: [""],
  },
  {
    header: "Access-Control-Request-Headers",
    call: (v) =>
      corsPreflightHeaders(head([
        ["Origin", "https://a.test"],
        ["Access-Control-Request-Method", "GET"],
        ["Access-Control-Request-Headers", v],
      ])),
    prefixes: ["", "x-a ,"],
  },
  {
    header: "Expect",
    call: (v) => isExpectContinue(v),
    prefixes: [""],
  },
  {
    header: "request-target",
    call: (v) => resolveTarget(v),
    prefixes: ["/", "http://host/", "/%2"],
  },
];

/**
 * Repeated units that trip naive parsers: runs of optional whitespace
 * before a non-space (the backtracking-trim case), of list and parameter
 * delimiters, of quotes and weak prefixes, of digits and dashes, of `%`,
 * and alternations that make a regex engine try many splits.
 */
const FILLERS: [name: string, unit: string][] = [
  ["SP run", " "],
  ["HTAB run", "\t"],
  ["SP/HTAB", " \t"],
  ["commas", ","],
  ["comma-SP", ", "],
  ["SP-comma-SP", " , "],
  ["quotes", '"'],
  ["W/", "W/"],
  ['W/"', 'W/"'],
  ["tags", '"a",'],
  ["semicolons", ";"],
  ["params", ";q"],
  ["equals", "="],
  ["q=0.", ";q=0."],
  ["name=value", ";a=b"],
  ["digits", "1"],
  ["zeros", "0"],
  ["dashes", "-"],
  ["ranges", "0-1,"],
  ["suffixes", "-5,"],
  ["percent", "%"],
  ["percent-2", "%2"],
  ["escapes", "%41"],
  ["colons", ":"],
  ["dots", "."],
  ["slashes", "/"],
  ["word-SP", "a "],
  ["token-SP-comma", "a ,"],
  ["obs-text", "\xa0"],
];

/** Builds `prefix` + repeated `unit` + "x", about `size` characters. */
function attackValue(prefix: string, unit: string, size: number): string {
  const count = Math.max(
    1,
    Math.ceil((size - prefix.length - 1) / unit.length),
  );
  return prefix + unit.repeat(count) + "x";
}

/**
 * Distinct string objects with the same text: V8 caches the results of
 * some string operations per string, and a cache hit would hide the cost.
 */
function copies(value: string, count = 4): string[] {
  return Array.from({ length: count }, (_, k) => (k + value).slice(1));
}

/**
 * Average milliseconds per call of `fn` over `values`: calls run in
 * batches of at least `batchMs`, and the fastest of `batches` batches
 * counts, which filters out one-off pauses (compiling, a garbage
 * collection, another process taking the core).
 */
function msPerCall(
  fn: (value: string) => unknown,
  values: readonly string[],
  batches = 3,
  batchMs = 1,
): number {
  let best = Infinity;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    let calls = 0;
    let elapsed = 0;
    do {
      fn(values[calls % values.length]);
      calls++;
      elapsed = performance.now() - t0;
    } while (elapsed < batchMs && calls < 2000);
    best = Math.min(best, elapsed / calls);
  }
  return best;
}

/**
 * Bounds for one value: the best of three calls of a 3 KiB value (quadratic
 * code needs tens of ms here, so the test stops early on it).
 */
const SMALL_PROBE_MS = 5;
/** A single cold call of a 30 KiB value. */
const LARGE_PROBE_MS = 50;
/**
 * The steady per-call cost of a 30 KiB value. The heaviest linear cases
 * (thousands of list elements, each a small allocation) take 0.2–1 ms.
 */
const LARGE_CALL_MS = 3;
/**
 * 30 KiB against 3 KiB: linear is about 10× (up to 30× when the garbage
 * collector is busy in a long test process), quadratic about 100×.
 */
const MAX_GROWTH = 40;

/** Why one measurement failed, and whether noise could explain it. */
interface Failure {
  message: string;
  /** False when no scheduling hiccup could explain it: do not retry. */
  retry: boolean;
}

/** One measurement of a value pair; undefined when within bounds. */
function measureOnce(
  call: (value: string) => unknown,
  small: string,
  large: string,
): Failure | undefined {
  // Quick probes first, so quadratic code fails in milliseconds instead of
  // running for minutes: the best of three small calls (the first may
  // include compiling), then one large call.
  let smallProbe = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    call(small);
    smallProbe = Math.min(smallProbe, performance.now() - t0);
  }
  if (smallProbe > SMALL_PROBE_MS) {
    return {
      message: `3 KiB took ${smallProbe.toFixed(1)} ms`,
      retry: smallProbe < 5 * SMALL_PROBE_MS,
    };
  }
  const t0 = performance.now();
  call(large);
  const largeProbe = performance.now() - t0;
  if (largeProbe > LARGE_PROBE_MS) {
    return {
      message: `30 KiB took ${largeProbe.toFixed(1)} ms`,
      retry: largeProbe < 5 * LARGE_PROBE_MS,
    };
  }
  const smallMs = msPerCall(call, copies(small));
  const largeMs = msPerCall(call, copies(large));
  if (largeMs > LARGE_CALL_MS) {
    return {
      message: `${largeMs.toFixed(3)} ms per 30 KiB call`,
      retry: true,
    };
  }
  // Below a few µs the timer's grain, not the parser, sets the ratio.
  const growth = largeMs / Math.max(smallMs, 0.002);
  if (growth > MAX_GROWTH) {
    return {
      message: `30 KiB costs ${growth.toFixed(0)}× 3 KiB ` +
        `(${(smallMs * 1000).toFixed(1)} → ${(largeMs * 1000).toFixed(1)} µs)`,
      retry: true,
    };
  }
  return undefined;
}

/**
 * Measures one subject with every prefix × filler; returns the failures.
 * A case fails only when three measurements in a row fail (other
 * processes share the machine); quadratic code fails every time.
 */
function measureSubject(subject: Subject): string[] {
  const failures: string[] = [];
  for (const prefix of subject.prefixes) {
    for (const [name, unit] of FILLERS) {
      const small = attackValue(prefix, unit, SMALL);
      const large = attackValue(prefix, unit, LARGE);
      let failure: Failure | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        failure = measureOnce(subject.call, small, large);
        if (failure === undefined || !failure.retry) break;
      }
      if (failure !== undefined) {
        const label = `${subject.header} ${JSON.stringify(prefix)} + ${name}`;
        failures.push(`${label}: ${failure.message}`);
      }
    }
  }
  return failures;
}

for (const subject of SUBJECTS) {
  Deno.test(`adversarial ${subject.header} values: linear and cheap`, () => {
    const failures = measureSubject(subject);
    const cases = subject.prefixes.length * FILLERS.length;
    assert.deepEqual(
      failures,
      [],
      `${failures.length} of ${cases} cases too slow:\n${failures.join("\n")}`,
    );
  });
}

// ---------------------------------------------------------------------------
// Over real sockets

/** The header section limit is 32 KiB: values just under it. */
const WIRE_VALUE = 31 * KiB;

/** Three heavy heads, each aimed at a different parser. */
function heavyRequests(): string[] {
  const spaces = (prefix: string) => attackValue(prefix, " ", WIRE_VALUE);
  return [
    `If-None-Match: ${spaces('"a"')}`,
    `If-Match: ${spaces('"a"')}`,
    `Range: ${spaces("bytes=0-1,")}`,
  ].map((field) =>
    `GET /index.html HTTP/1.1\r\nHost: a\r\n${field}\r\n` +
    "Connection: close\r\n\r\n"
  );
}

const encoder = new TextEncoder();

/**
 * Writes `request` on a new connection and reads until the server closes
 * or `timeoutMs` passes; returns what was read and how long it took.
 */
async function exchange(
  port: number,
  request: string,
  timeoutMs: number,
): Promise<{ bytes: Uint8Array; ms: number }> {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  const close = () => {
    if (!closed) conn.close();
    closed = true;
  };
  const timer = setTimeout(close, timeoutMs);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    const data = encoder.encode(request);
    for (let off = 0; off < data.length;) {
      off += await conn.write(data.subarray(off));
    }
    const buf = new Uint8Array(64 * KiB);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
  } catch {
    // Closed by the timer or reset by the server: what was read counts.
  } finally {
    clearTimeout(timer);
    close();
  }
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, off);
    off += chunk.length;
  }
  return { bytes, ms: performance.now() - t0 };
}

Deno.test("three ~31 KiB adversarial heads in flight: another client is answered within 50 ms", async () => {
  const root = await Deno.makeTempDir({ prefix: "pws_adv_values_" });
  await Deno.writeTextFile(`${root}/index.html`, "<!doctype html><p>i</p>\n");
  await Deno.writeTextFile(`${root}/small.txt`, "small\n");
  const server = await spawnServer([
    "--root",
    root,
    "--host",
    "127.0.0.1",
    "--quiet",
    "0",
  ]);
  const small =
    "GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  try {
    // Warm up the server's code paths, heavy ones included.
    for (const request of [small, ...heavyRequests()]) {
      await exchange(server.port, request, 30_000);
    }
    const latencies: number[] = [];
    for (let round = 0; round < 3; round++) {
      const heavy = heavyRequests().map((r) =>
        exchange(server.port, r, 30_000)
      );
      // Let the server start on them before the small request arrives.
      await new Promise((resolve) => setTimeout(resolve, 10));
      const answer = await exchange(server.port, small, 30_000);
      latencies.push(answer.ms);
      const [response] = parseResponses(answer.bytes);
      assert.equal(response.status, 200);
      assert.equal(response.text, "small\n");
      const statuses = (await Promise.all(heavy)).map(({ bytes }) =>
        parseResponses(bytes)[0].status
      );
      assert.deepEqual(statuses, [200, 412, 200]);
    }
    const shown = latencies.map((ms) => ms.toFixed(1)).join(", ");
    assert.ok(
      latencies.every((ms) => ms < 50),
      `small request latencies ${shown} ms; each must be under 50 ms`,
    );
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
});
