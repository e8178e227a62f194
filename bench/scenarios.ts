/**
 * The benchmark's scenarios and its two modes (full and quick).
 *
 * @module
 */

import { BENCH_RANGE, FILES, HUGE_FILE } from "./load.ts";
import { SERVER_IDS, type ServerId } from "./servers.ts";

/** Identifiers accepted by `--scenarios`. */
export type ScenarioId =
  | "1k"
  | "1k-close"
  | "64k"
  | "1m"
  | "100m"
  | "304"
  | "range"
  | "1g-x50"
  | "1k-tls"
  | "tls-handshake"
  | "1m-tls"
  | "h2-1k"
  | "h2-64k"
  | "h2-1m";

/** One load pattern, run against each of its servers. */
export interface Scenario {
  id: ScenarioId;
  /** Heading in the report. */
  title: string;
  /** What it measures, for the report and README. */
  about: string;
  /** Path requested. */
  path: string;
  /** Client connections. */
  connections: number;
  /**
   * The load generator: wrk (HTTP/1.1, the default) or h2load (HTTP/2
   * over TLS, `streams` requests in flight on each connection).
   */
  client?: "wrk" | "h2load";
  /** h2load `-m`: concurrent streams per connection. */
  streams?: number;
  /** Extra request headers. */
  headers: readonly string[];
  /** Add `If-None-Match` with the ETag the server sent for `path`. */
  ifNoneMatch?: boolean;
  /** Main figure: requests per second or MiB per second. */
  unit: "req/s" | "MiB/s";
  /** Show server CPU time per MiB sent. */
  cpuPerMiB: boolean;
  /**
   * Show server CPU time per request, and how busy the server's and wrk's
   * cores were (which of the two set the pace).
   */
  cpuPerRequest?: boolean;
  /** Over HTTPS: each server is started with the run's certificate. */
  tls?: boolean;
  /** Show the largest RSS sampled during the run instead of latency. */
  peakRss?: boolean;
  /** What a single curl request must get. */
  expect: { status: number; bytes?: number; head?: boolean };
  /** wrk `--timeout` in seconds. */
  timeoutS: number;
  /** Servers that run it. */
  servers: readonly ServerId[];
  /** Run once whatever the repetition count (a long soak rather than a rate). */
  once?: boolean;
}

const RANGE_FIELD = `Range: bytes=${BENCH_RANGE.first}-${BENCH_RANGE.last}`;

/** The three nginx configurations and the pws variants. */
const BIG3: readonly ServerId[] = [
  "nginx-a",
  "nginx-b",
  "nginx-c",
  "pws",
  "pws-nowatch",
  "pws-base",
];
/** The fast paths of issue 14: also against the bare Deno ceiling. */
const WITH_CEILING: readonly ServerId[] = [...BIG3, "ceiling"];
/** Every server over TCP but the ceiling (which has only the fast paths ready). */
const ALL: readonly ServerId[] = SERVER_IDS.filter((s) =>
  s !== "prototype-tls" && s !== "ceiling"
);
/** nginx A with `ssl http2` and pws with `--tls-cert`, both offering h2. */
const H2: readonly ServerId[] = ["nginx-a", "pws"];
/** nginx A with `ssl`, pws with `--tls-cert`, and the bare TLS prototype. */
const TLS: readonly ServerId[] = ["nginx-a", "pws", "prototype-tls"];

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  {
    id: "1k",
    title: "1 KiB, keep-alive",
    about:
      "64 keep-alive connections fetching a 1 KiB file: per-request overhead.",
    path: "/1k.bin",
    connections: 64,
    headers: [],
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    expect: { status: 200, bytes: FILES["1k.bin"] },
    timeoutS: 10,
    servers: [...ALL, "ceiling"],
  },
  {
    id: "1k-close",
    title: "1 KiB, Connection: close",
    about:
      "Same, but every request carries `Connection: close`: one TCP connection per request (accept + close cost).",
    path: "/1k.bin",
    connections: 64,
    headers: ["Connection: close"],
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    expect: { status: 200, bytes: FILES["1k.bin"] },
    timeoutS: 10,
    servers: [...WITH_CEILING, "prototype"],
  },
  {
    id: "64k",
    title: "64 KiB, keep-alive",
    about: "64 keep-alive connections fetching a 64 KiB file.",
    path: "/64k.bin",
    connections: 64,
    headers: [],
    unit: "req/s",
    cpuPerMiB: true,
    expect: { status: 200, bytes: FILES["64k.bin"] },
    timeoutS: 10,
    servers: BIG3,
  },
  {
    id: "1m",
    title: "1 MiB, keep-alive",
    about: "64 keep-alive connections fetching a 1 MiB file.",
    path: "/1m.bin",
    connections: 64,
    headers: [],
    unit: "req/s",
    cpuPerMiB: true,
    expect: { status: 200, bytes: FILES["1m.bin"] },
    timeoutS: 10,
    servers: ALL,
  },
  {
    id: "100m",
    title: "100 MiB download",
    about:
      "4 connections downloading a 100 MiB file over and over: bulk throughput in MiB/s.",
    path: "/100m.bin",
    connections: 4,
    headers: [],
    unit: "MiB/s",
    cpuPerMiB: true,
    expect: { status: 200, bytes: FILES["100m.bin"] },
    timeoutS: 60,
    servers: BIG3,
  },
  {
    id: "304",
    title: "304 revalidation (If-None-Match)",
    about:
      "64 keep-alive connections revalidating 1k.bin with the ETag the server itself sent: should be 304 Not Modified with no body.",
    path: "/1k.bin",
    connections: 64,
    headers: [],
    ifNoneMatch: true,
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    expect: { status: 304, bytes: 0 },
    timeoutS: 10,
    servers: WITH_CEILING,
  },
  {
    id: "range",
    title: "Range request in a 100 MiB file",
    about:
      `64 keep-alive connections each asking for \`${RANGE_FIELD}\` (64 KiB from the middle of 100m.bin): should be 206.`,
    path: `/${BENCH_RANGE.file}`,
    connections: 64,
    headers: [RANGE_FIELD],
    unit: "req/s",
    cpuPerMiB: true,
    cpuPerRequest: true,
    expect: { status: 206, bytes: 65536 },
    timeoutS: 10,
    servers: WITH_CEILING,
  },
  {
    id: "1g-x50",
    title: "50 clients downloading a 1 GiB file at once",
    about:
      "50 connections start downloading a sparse 1 GiB file at the same time (wrk -c50); the server's RSS is sampled every 100 ms. Shows whether memory stays bounded with many slow-to-finish large responses. pws is the subject; nginx A runs it as a reference.",
    path: `/${HUGE_FILE.name}`,
    connections: 50,
    headers: [],
    unit: "MiB/s",
    cpuPerMiB: true,
    peakRss: true,
    expect: { status: 200, head: true },
    timeoutS: 120,
    servers: ["pws", "nginx-a"],
    once: true,
  },
  {
    id: "1k-tls",
    title: "1 KiB over TLS, keep-alive",
    about:
      "64 keep-alive HTTPS connections fetching a 1 KiB file: per-request cost of TLS records on top of `1k` (one handshake per connection, then none).",
    path: "/1k.bin",
    connections: 64,
    headers: [],
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["1k.bin"] },
    timeoutS: 10,
    servers: TLS,
  },
  {
    id: "tls-handshake",
    title: "1 KiB over TLS, a new connection per request",
    about:
      "Like `1k-tls`, but every request carries `Connection: close`: one TCP connection and one TLS handshake per request. wrk offers the session of the connection before, and every server here resumes it (see TLS below), so these are resumed handshakes (TLS 1.3 PSK with a fresh X25519 exchange, no certificate or signature), as a returning browser makes them.",
    path: "/1k.bin",
    connections: 64,
    headers: ["Connection: close"],
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["1k.bin"] },
    timeoutS: 10,
    servers: TLS,
  },
  {
    id: "1m-tls",
    title: "1 MiB over TLS, keep-alive",
    about:
      "64 keep-alive HTTPS connections fetching a 1 MiB file: encryption throughput (no sendfile for anyone: nginx copies through OpenSSL, without kernel TLS).",
    path: "/1m.bin",
    connections: 64,
    headers: [],
    unit: "req/s",
    cpuPerMiB: true,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["1m.bin"] },
    timeoutS: 10,
    servers: TLS,
  },
  {
    id: "h2-1k",
    title: "1 KiB over HTTP/2",
    about:
      "h2load, 16 TLS connections with 10 streams each (`-c16 -m10`), fetching a 1 KiB file: per-request cost of HTTP/2 (HPACK, frames, flow control) on top of TLS. nginx A with `ssl http2` and pws, both agreeing to h2 by ALPN.",
    path: "/1k.bin",
    connections: 16,
    client: "h2load",
    streams: 10,
    headers: [],
    unit: "req/s",
    cpuPerMiB: false,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["1k.bin"] },
    timeoutS: 10,
    servers: H2,
  },
  {
    id: "h2-64k",
    title: "64 KiB over HTTP/2",
    about:
      "h2load `-c16 -m10` fetching a 64 KiB file over HTTP/2 and TLS: DATA frames and flow control windows.",
    path: "/64k.bin",
    connections: 16,
    client: "h2load",
    streams: 10,
    headers: [],
    unit: "req/s",
    cpuPerMiB: true,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["64k.bin"] },
    timeoutS: 10,
    servers: H2,
  },
  {
    id: "h2-1m",
    title: "1 MiB over HTTP/2",
    about:
      "h2load `-c16 -m4` fetching a 1 MiB file over HTTP/2 and TLS: encryption and DATA throughput with several streams sharing a connection.",
    path: "/1m.bin",
    connections: 16,
    client: "h2load",
    streams: 4,
    headers: [],
    unit: "req/s",
    cpuPerMiB: true,
    cpuPerRequest: true,
    tls: true,
    expect: { status: 200, bytes: FILES["1m.bin"] },
    timeoutS: 30,
    servers: H2,
  },
];

/** Scenario ids, for flag validation. */
export const SCENARIO_IDS: readonly ScenarioId[] = SCENARIOS.map((s) => s.id);

/** Durations and repetitions of a mode. */
export interface Mode {
  name: "full" | "quick";
  /** Seconds of each measured run. */
  durationS: number;
  /** Seconds of each measured run for python and serve. */
  shortDurationS: number;
  /** Seconds of the 1 GiB × 50 run. */
  hugeDurationS: number;
  /** Measured runs per scenario and server (the median is reported). */
  reps: number;
  /** Seconds of the warm-up run before each scenario. */
  warmupS: number;
  /** Scenarios run when `--scenarios` is not given. */
  scenarios: readonly ScenarioId[];
}

/** The default mode: ~10 s runs, 3 repetitions, every scenario. */
export const FULL: Mode = {
  name: "full",
  durationS: 10,
  shortDurationS: 5,
  hugeDurationS: 10,
  reps: 3,
  warmupS: 2,
  scenarios: SCENARIO_IDS,
};

/** `--quick`: 2 s runs, one repetition, a subset of the scenarios. */
export const QUICK: Mode = {
  name: "quick",
  durationS: 2,
  shortDurationS: 2,
  hugeDurationS: 3,
  reps: 1,
  warmupS: 1,
  scenarios: [
    "1k",
    "1k-close",
    "1m",
    "100m",
    "304",
    "range",
    "1g-x50",
    "1k-tls",
    "tls-handshake",
    "1m-tls",
    "h2-1k",
    "h2-1m",
  ],
};
