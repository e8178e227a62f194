/**
 * Unit tests of the access log: the line formats and the buffered writer
 * (batching, flushing, the memory bound, a sink that fails).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  AccessLog,
  type AccessRecord,
  formatAccessLine,
  isoTime,
  type LogSink,
} from "./log.ts";

const RECORD: AccessRecord = {
  time: Date.UTC(2026, 10, 24, 23, 5, 7, 123),
  remote: "127.0.0.1",
  method: "GET",
  target: "/style.css?v=2",
  protocol: "HTTP/1.1",
  status: 200,
  bytes: 6587,
  durationMs: 1.26,
};

const ESC = "\x1b[";
/** ESC and "[" as a regular expression source (no literal control char). */
const ESC_RE = String.fromCharCode(27) + "\\[";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A sink that keeps every write and answers as `respond` says. */
class FakeSink implements LogSink {
  writes: Uint8Array[] = [];
  constructor(
    readonly respond: (bytes: Uint8Array) => Promise<number> = (bytes) =>
      Promise.resolve(bytes.length),
  ) {}
  write(bytes: Uint8Array): Promise<number> {
    this.writes.push(bytes.slice());
    return this.respond(bytes);
  }
  get text(): string {
    return this.writes.map((w) => new TextDecoder().decode(w)).join("");
  }
}

function recordFor(i: number, status = 200): AccessRecord {
  return { ...RECORD, target: `/file-${i}.txt`, status, bytes: 100 + i };
}

Deno.test("formatAccessLine: text without colour is one plain line", () => {
  const line = formatAccessLine(RECORD, "text", false);
  assert.equal(
    line,
    "2026-11-24T23:05:07.123Z 127.0.0.1 - GET /style.css?v=2 HTTP/1.1 200 6587 1.3ms",
  );
  assert.ok(!line.includes("\x1b"), "no escape codes without colour");
  assert.ok(!line.includes("\n"), "no newline in the line itself");
});

Deno.test("formatAccessLine: durations are rounded to a tenth of a ms", () => {
  const cases: [number, string][] = [[0, "0ms"], [0.04, "0ms"], [
    12.35,
    "12.4ms",
  ], [250, "250ms"]];
  for (const [durationMs, suffix] of cases) {
    const line = formatAccessLine({ ...RECORD, durationMs }, "text", false);
    assert.ok(line.endsWith(` ${suffix}`), `${durationMs} → ${line}`);
  }
});

Deno.test("formatAccessLine: text with colour colours the status by class", () => {
  const colours: [number, string][] = [
    [200, "32"],
    [206, "32"],
    [301, "36"],
    [304, "36"],
    [404, "33"],
    [416, "33"],
    [500, "31"],
    [503, "31"],
  ];
  for (const [status, code] of colours) {
    const line = formatAccessLine({ ...RECORD, status }, "text", true);
    assert.ok(
      line.includes(`${ESC}${code}m${status}${ESC}0m`),
      `status ${status} in colour ${code}: ${JSON.stringify(line)}`,
    );
    // The time and duration are dimmed; the rest stays readable.
    assert.ok(line.startsWith(`${ESC}2m2026-11-24T23:05:07.123Z${ESC}0m `));
    assert.ok(line.endsWith(`${ESC}2m1.3ms${ESC}0m`));
    // Without the escape codes it is exactly the plain line.
    const stripped = line.replace(new RegExp(`${ESC_RE}[0-9;]*m`, "g"), "");
    assert.equal(
      stripped,
      formatAccessLine({ ...RECORD, status }, "text", false),
    );
  }
});

Deno.test("formatAccessLine: JSON is one parseable object with every field", () => {
  const line = formatAccessLine(RECORD, "json", false);
  assert.ok(!line.includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    time: "2026-11-24T23:05:07.123Z",
    remote: "127.0.0.1",
    user: null,
    method: "GET",
    target: "/style.css?v=2",
    protocol: "HTTP/1.1",
    status: 200,
    bytes: 6587,
    bodyBytes: 0,
    durationMs: 1.3,
    referer: null,
    userAgent: null,
  });
  // Colour never applies to JSON.
  assert.equal(formatAccessLine(RECORD, "json", true), line);
});

Deno.test("formatAccessLine: the user (--auth) follows the address", () => {
  const record = { ...RECORD, user: "alice" };
  assert.equal(
    formatAccessLine(record, "text", false),
    "2026-11-24T23:05:07.123Z 127.0.0.1 alice GET /style.css?v=2 HTTP/1.1 200 6587 1.3ms",
  );
  assert.ok(
    formatAccessLine(record, "text", true).includes(" 127.0.0.1 alice GET "),
  );
  assert.equal(
    JSON.parse(formatAccessLine(record, "json", false)).user,
    "alice",
  );
});

Deno.test("formatAccessLine: a user name that would break the text line is percent-encoded", () => {
  const cases: [string, string][] = [
    ["zoë", "zo%C3%AB"],
    ["two words", "two%20words"],
    ["100%", "100%25"],
    ["-", "%2D"],
    ["a\nb", "a%0Ab"],
    ["tab\there", "tab%09here"],
  ];
  for (const [user, shown] of cases) {
    const line = formatAccessLine({ ...RECORD, user }, "text", false);
    assert.equal(line.split(" ")[2], shown, user);
    assert.equal(line.split(" ").length, 9, line);
    // JSON keeps the name as it is.
    assert.equal(
      JSON.parse(formatAccessLine({ ...RECORD, user }, "json", false)).user,
      user,
    );
  }
});

Deno.test("formatAccessLine: credentials in an absolute-form target are not logged", () => {
  const cases: [string, string][] = [
    ["http://alice:secret@example.com/a", "http://***@example.com/a"],
    ["HTTP://alice@example.com/", "HTTP://***@example.com/"],
    ["http://example.com/a@b", "http://example.com/a@b"],
    ["/path@x", "/path@x"],
    ["http://a:b@c@d/", "http://***@d/"],
  ];
  for (const [target, shown] of cases) {
    for (const format of ["text", "json"] as const) {
      const line = formatAccessLine({ ...RECORD, target }, format, false);
      assert.ok(!line.includes("secret"), line);
      const logged = format === "json"
        ? JSON.parse(line).target
        : line.split(" ")[4];
      assert.equal(logged, shown, `${format}: ${target}`);
    }
  }
});

Deno.test("formatAccessLine: JSON escapes quotes, backslashes and controls", () => {
  const odd = { ...RECORD, target: '/a"b\\c\n\x1b[31m', method: "-" };
  const line = formatAccessLine(odd, "json", false);
  assert.ok(!line.includes("\n") && !line.includes("\x1b"));
  assert.equal(JSON.parse(line).target, odd.target);
});

Deno.test("AccessLog: lines recorded together are written in one batch", async () => {
  const sink = new FakeSink();
  const log = new AccessLog("text", false, sink);
  for (let i = 0; i < 100; i++) log.record(recordFor(i));
  // Nothing is written on the request path.
  assert.equal(sink.writes.length, 0);
  await log.flushed();
  assert.equal(sink.writes.length, 1, "one write for the whole batch");
  const lines = sink.text.split("\n");
  assert.equal(lines.pop(), "", "the text ends with a newline");
  assert.equal(lines.length, 100);
  for (let i = 0; i < 100; i++) {
    assert.equal(lines[i], formatAccessLine(recordFor(i), "text", false));
  }
  assert.equal(log.dropped, 0);
});

Deno.test("AccessLog: JSON lines are one object per line", async () => {
  const sink = new FakeSink();
  const log = new AccessLog("json", true, sink);
  for (let i = 0; i < 5; i++) log.record(recordFor(i, 404));
  await log.flushed();
  const lines = sink.text.trimEnd().split("\n");
  assert.equal(lines.length, 5);
  lines.forEach((line, i) => {
    const parsed = JSON.parse(line);
    assert.equal(parsed.target, `/file-${i}.txt`);
    assert.equal(parsed.status, 404);
  });
});

Deno.test("AccessLog: flushed() waits for slow writes and for lines queued meanwhile", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const sink = new FakeSink(async (bytes) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await delay(30);
    inFlight--;
    return bytes.length;
  });
  const log = new AccessLog("text", false, sink);
  for (let i = 0; i < 10; i++) log.record(recordFor(i));
  // Let the first batch start writing, then queue more behind it.
  await delay(20);
  assert.equal(sink.writes.length, 1);
  for (let i = 10; i < 20; i++) log.record(recordFor(i));
  let done = false;
  const flushed = log.flushed().then(() => done = true);
  await delay(5);
  assert.equal(done, false, "flushed() must not resolve while writing");
  await flushed;
  assert.equal(maxInFlight, 1, "writes never overlap");
  const lines = sink.text.trimEnd().split("\n");
  assert.equal(lines.length, 20);
  lines.forEach((line, i) => assert.ok(line.includes(`/file-${i}.txt `)));
  assert.ok(sink.writes.length >= 2);
});

Deno.test("AccessLog: a sink taking a few bytes at a time still gets every byte in order", async () => {
  const sink = new FakeSink((bytes) =>
    Promise.resolve(Math.min(7, bytes.length))
  );
  const log = new AccessLog("text", false, sink);
  for (let i = 0; i < 30; i++) log.record(recordFor(i));
  await log.flushed();
  // Each write starts where the previous one stopped.
  const written = sink.writes.map((w) => w.subarray(0, 7));
  const text = written.map((w) => new TextDecoder().decode(w)).join("");
  const expected = Array.from(
    { length: 30 },
    (_, i) => formatAccessLine(recordFor(i), "text", false) + "\n",
  ).join("");
  assert.equal(text, expected);
});

Deno.test("AccessLog: flushed() with nothing recorded resolves at once", async () => {
  const sink = new FakeSink();
  const log = new AccessLog("text", false, sink);
  await log.flushed();
  assert.equal(sink.writes.length, 0);
});

Deno.test("AccessLog: a sink that never finishes bounds memory at 1 MiB and counts the dropped lines", async () => {
  const sink = new FakeSink(() => new Promise<number>(() => {}));
  const log = new AccessLog("text", false, sink);
  const record = { ...RECORD, target: "/" + "x".repeat(200) };
  const lineBytes = formatAccessLine(record, "text", false).length + 1;
  const total = 10_000; // about 2.3 MiB of lines
  for (let i = 0; i < total; i++) log.record(record);
  const kept = Math.floor(1024 * 1024 / lineBytes);
  assert.equal(log.dropped, total - kept);
  // The batch goes to the sink (which never answers), with a note of the
  // drop; the counter starts again.
  await delay(40);
  assert.equal(sink.writes.length, 1);
  const text = sink.text;
  assert.equal(
    text.split("\n").filter((l) => l.startsWith("2026")).length,
    kept,
  );
  assert.ok(
    text.endsWith(`pws: ${total - kept} log lines dropped (output too slow)\n`),
    JSON.stringify(text.slice(-80)),
  );
  assert.equal(log.dropped, 0);
  // While the sink is stuck, new lines queue up to the bound again, then drop.
  for (let i = 0; i < total; i++) log.record(record);
  assert.equal(log.dropped, total - kept);
  await delay(40);
  assert.equal(sink.writes.length, 1, "no second write while one is stuck");
});

Deno.test("AccessLog: with a notice sink, the log sink gets log lines only", async () => {
  const sink = new FakeSink(() => new Promise<number>(() => {}));
  const notices = new FakeSink();
  const log = new AccessLog("json", false, sink, notices);
  for (let i = 0; i < 20_000; i++) log.record(recordFor(i));
  assert.ok(log.dropped > 0);
  await delay(40);
  for (const line of sink.text.split("\n").filter((l) => l !== "")) {
    JSON.parse(line); // every line of the log is JSON
  }
  assert.match(
    notices.text,
    /^pws: \d+ log lines dropped \(output too slow\)\n$/,
  );
});

Deno.test("AccessLog: a sink that throws does not throw out of record, and logging goes on", async () => {
  let calls = 0;
  const sink = new FakeSink(() => {
    calls++;
    throw new Error("stdout closed");
  });
  const log = new AccessLog("text", false, sink);
  log.record(recordFor(1));
  await log.flushed();
  assert.equal(calls, 1);
  // Later lines are still attempted, and flushed() still resolves.
  log.record(recordFor(2));
  log.record(recordFor(3));
  await log.flushed();
  assert.equal(calls, 2);
});

Deno.test("AccessLog: a sink whose write rejects is survived too", async () => {
  let calls = 0;
  const sink = new FakeSink(() => {
    calls++;
    return Promise.reject(new Deno.errors.BrokenPipe("EPIPE"));
  });
  const log = new AccessLog("json", false, sink);
  for (let i = 0; i < 3; i++) log.record(recordFor(i));
  await log.flushed();
  log.record(recordFor(4));
  await log.flushed();
  assert.equal(calls, 2);
  assert.equal(log.dropped, 0);
});

Deno.test("isoTime matches Date.prototype.toISOString", () => {
  const samples = [
    0,
    999,
    1000,
    Date.UTC(2026, 10, 25, 0, 36, 28, 7),
    Date.UTC(2026, 10, 25, 0, 36, 28, 70),
    Date.UTC(2026, 10, 25, 23, 59, 59, 999),
    Date.UTC(2000, 1, 29, 12, 0, 0, 500),
  ];
  // Out of order, so the once-a-second memo is exercised both ways.
  for (const ms of [...samples, ...samples.toReversed(), Date.now()]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});

Deno.test("AccessLog: replaceSink lets the batch in flight finish on the old sink, closes it, and sends later lines to the new one", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let oldClosed = 0;
  const old = new FakeSink(async (bytes) => {
    await gate;
    return bytes.length;
  });
  const oldSink = Object.assign(old, { close: () => oldClosed++ });
  const fresh = new FakeSink();
  const log = new AccessLog("common", false, oldSink, new FakeSink());
  log.record(recordFor(1));
  await delay(30); // the batch of line 1 is being written, held by the gate
  log.replaceSink(fresh);
  log.record(recordFor(2));
  assert.equal(oldClosed, 0, "not closed while its batch is in flight");
  release();
  await log.flushed();
  assert.equal(old.text.split("\n").length - 1, 1);
  assert.match(old.text, /file-1\.txt/);
  assert.equal(fresh.text.split("\n").length - 1, 1);
  assert.match(fresh.text, /file-2\.txt/);
  assert.equal(oldClosed, 1);
  assert.equal(log.sink, fresh);
});

Deno.test("AccessLog: replaceSink when idle switches at once", async () => {
  let closed = 0;
  const old = Object.assign(new FakeSink(), { close: () => closed++ });
  const fresh = new FakeSink();
  const log = new AccessLog("json", false, old, new FakeSink());
  log.replaceSink(fresh);
  assert.equal(closed, 1);
  log.record({ ...RECORD, userAgent: 'x"\r\ny', referer: "http://r/" });
  await log.flushed();
  assert.equal(old.text, "");
  const parsed = JSON.parse(fresh.text);
  assert.equal(parsed.userAgent, 'x"\r\ny');
  assert.equal(parsed.referer, "http://r/");
  assert.equal(parsed.protocol, "HTTP/1.1");
});

Deno.test("formatAccessLine: combined and common lines from a record", () => {
  const record = { ...RECORD, bodyBytes: 6400, userAgent: "curl/8" };
  assert.equal(
    formatAccessLine(record, "combined", true),
    '127.0.0.1 - - [24/Nov/2026:23:05:07 +0000] "GET /style.css?v=2 HTTP/1.1" 200 6400 "-" "curl/8"',
  );
  assert.equal(
    formatAccessLine({ ...record, user: "ann" }, "common", false),
    '127.0.0.1 - ann [24/Nov/2026:23:05:07 +0000] "GET /style.css?v=2 HTTP/1.1" 200 6400',
  );
});
