import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_PRIORITY,
  MAX_PRIORITY_FIELD_LENGTH,
  parsePriority,
  PriorityQueue,
  readPrioritySignal,
  requestPriority,
  type StreamPriority,
  UNSIGNALLED_PRIORITY,
  updatedPriority,
} from "./priority.ts";

function p(urgency: number, incremental: boolean): StreamPriority {
  return { urgency, incremental };
}

Deno.test("RFC 9218 examples", () => {
  // §4.1, §4.2 and §5.
  assert.deepEqual(parsePriority("u=5"), p(5, false));
  assert.deepEqual(parsePriority("u=5, i"), p(5, true));
  assert.deepEqual(parsePriority("i"), p(3, true));
  assert.deepEqual(parsePriority("u=0"), p(0, false));
  assert.deepEqual(parsePriority("u=7, i=?1"), p(7, true));
  assert.deepEqual(parsePriority("u=1, i=?0"), p(1, false));
  // An empty Dictionary is valid and signals the defaults.
  assert.deepEqual(parsePriority(""), DEFAULT_PRIORITY);
});

Deno.test("absent or ignored members keep the base", () => {
  const base = p(6, true);
  assert.deepEqual(parsePriority("u=1", base), p(1, true));
  assert.deepEqual(parsePriority("i=?0", base), p(6, false));
  assert.deepEqual(parsePriority("foo=1", base), base);
  assert.deepEqual(parsePriority("u=9", base), base);
  assert.deepEqual(parsePriority("u=(", base), base);
});

Deno.test("u must be an Integer 0-7 and i a Boolean, else that member is ignored", () => {
  for (
    const value of [
      "u=8",
      "u=-1",
      "u=100",
      "u=1.0",
      "u=1.5",
      'u="1"',
      "u=one",
      "u=?1",
      "u",
      "u=:AQ==:",
      "u=(1)",
      "u=()",
    ]
  ) {
    assert.deepEqual(parsePriority(value + ", i"), p(3, true), value);
  }
  for (
    const value of ["i=1", "i=0", 'i="?1"', "i=tru", "i=(?1)", "i=1.0"]
  ) {
    assert.deepEqual(parsePriority("u=2, " + value), p(2, false), value);
  }
  // Only the bad member is dropped: the rest still counts.
  assert.deepEqual(parsePriority("u=9, i"), p(3, true));
  assert.deepEqual(parsePriority("u=-0"), p(0, false));
  assert.ok(Object.is(parsePriority("u=-0").urgency, 0), "-0 is 0");
  assert.deepEqual(parsePriority("u=000000000000006"), p(6, false));
});

Deno.test("a repeated key: the last one counts, even when ignored", () => {
  assert.deepEqual(parsePriority("u=1, u=2"), p(2, false));
  assert.deepEqual(parsePriority("u=9, u=1"), p(1, false));
  assert.deepEqual(parsePriority("u=1, u=9"), p(3, false));
  assert.deepEqual(parsePriority("i, i=?0"), p(3, false));
  assert.deepEqual(parsePriority("i=?0, i"), p(3, true));
  assert.deepEqual(parsePriority("i, i=5"), p(3, false));
});

Deno.test("parameters and other members' values are skipped correctly", () => {
  const cases: [string, StreamPriority][] = [
    ["u=1;foo=bar", p(1, false)],
    ['u=1;a;b=?0;c=1.5;d="x;y";e=:AQ==:;f=tok, i', p(1, true)],
    ["i;x=?0", p(3, true)],
    ["i;  x", p(3, true)],
    ['a="x, u=7, y", u=2', p(2, false)],
    ['a="\\"u=7\\\\", u=4', p(4, false)],
    ["a=:AQID+/8=:, u=6", p(6, false)],
    ["a=::, u=6", p(6, false)],
    ["a=1.5, u=2", p(2, false)],
    ["a=-123456789012.123, u=2", p(2, false)],
    ["a=-999999999999999, u=2", p(2, false)],
    ["a=tok/en:x, u=0", p(0, false)],
    ["a=*tok, u=0", p(0, false)],
    ['a=(1 2.5 "s" tok :AQ==: ?1);p=1, u=5', p(5, false)],
    ["a=( 1  2 ), u=5", p(5, false)],
    ["a=(), u=5", p(5, false)],
    ["a=(1;x=2 2;y);z, u=5", p(5, false)],
    ["*=1, u=1", p(1, false)],
    ["a_b-c.d*9=1, u=1", p(1, false)],
  ];
  for (const [value, expected] of cases) {
    assert.deepEqual(parsePriority(value), expected, value);
  }
});

Deno.test("whitespace: OWS around commas, SP only elsewhere", () => {
  const ok = [
    "u=1,i",
    "u=1 , i",
    "u=1,\ti",
    "u=1\t,\t i",
    "  u=1, i  ",
    "u=1, i\t",
    "u=1;  a, i",
  ];
  for (const value of ok) {
    assert.deepEqual(parsePriority(value), p(1, true), JSON.stringify(value));
  }
  const bad = [
    "\tu=1, i", // only SP may lead the field
    "u =1, i",
    "u= 1, i",
    "u=1 ;a, i",
    "u=1;\ta, i",
    "u=1\u00a0, i",
    "u=1 i",
    "u=1\r\n, i",
  ];
  for (const value of bad) {
    assert.equal(readPrioritySignal(value), undefined, JSON.stringify(value));
    assert.deepEqual(parsePriority(value), DEFAULT_PRIORITY);
  }
});

Deno.test("a field that is not a Dictionary is ignored as a whole", () => {
  const bad = [
    "u=1,",
    ",u=1",
    "u=1,,i",
    "U=1",
    "1=u",
    "-a=1",
    "é=1",
    "u=1, I",
    "u=1a",
    "u=1.",
    "u=1.1234",
    "u=1234567890123.1",
    "u=1234567890123456",
    "u=--1",
    "u=-",
    "u=-a",
    "u=?",
    "u=?2",
    "u=?10",
    'u="unterminated',
    'u="bad\\x"',
    'u="tab\t"',
    'u="caf\u00e9"',
    "u=:AQ",
    "u=:A!Q:",
    "u=(1 2",
    "u=(1,2)",
    "u=(1tok)",
    'u=(?1"s")',
    "u=(1)(2)",
    "u=(1;)",
    "u=1;",
    "u=1;A=1",
    "u=1;a=",
    "u=1;a=(1)",
    "u=",
    "u=#",
    "u=1, i=?1 junk",
  ];
  for (const value of bad) {
    assert.equal(readPrioritySignal(value), undefined, JSON.stringify(value));
    assert.deepEqual(parsePriority(value + ", u=5"), DEFAULT_PRIORITY, value);
  }
});

Deno.test(`a field over ${MAX_PRIORITY_FIELD_LENGTH} characters is ignored`, () => {
  const pad = (length: number) => {
    const head = "u=1, i, a=";
    return head + "x".repeat(length - head.length);
  };
  assert.deepEqual(parsePriority(pad(MAX_PRIORITY_FIELD_LENGTH)), p(1, true));
  assert.deepEqual(
    parsePriority(pad(MAX_PRIORITY_FIELD_LENGTH + 1)),
    DEFAULT_PRIORITY,
  );
  // Ignored, not scanned: a megabyte costs nothing.
  const start = performance.now();
  for (let i = 0; i < 100; i++) parsePriority(pad(1 << 20));
  assert.ok(performance.now() - start < 200);
});

Deno.test("requestPriority: no signal is incremental, a signal is RFC 9218", () => {
  assert.deepEqual(UNSIGNALLED_PRIORITY, p(3, true));
  assert.deepEqual(requestPriority(undefined), UNSIGNALLED_PRIORITY);
  // A field ignored as a whole is as if absent.
  assert.deepEqual(requestPriority("u=("), UNSIGNALLED_PRIORITY);
  assert.deepEqual(requestPriority("u=1"), p(1, false));
  assert.deepEqual(requestPriority(""), DEFAULT_PRIORITY);
  assert.deepEqual(requestPriority("foo"), DEFAULT_PRIORITY);
  assert.deepEqual(requestPriority("i"), p(3, true));
});

Deno.test("updatedPriority: a PRIORITY_UPDATE replaces; an invalid one is ignored", () => {
  const current = p(1, true);
  assert.deepEqual(updatedPriority(current, "u=5"), p(5, false));
  assert.deepEqual(updatedPriority(current, "i"), p(3, true));
  assert.deepEqual(updatedPriority(current, ""), DEFAULT_PRIORITY);
  assert.deepEqual(updatedPriority(current, "u=9"), DEFAULT_PRIORITY);
  assert.equal(updatedPriority(current, "u=1,"), current);
  assert.equal(updatedPriority(current, "u=1, " + " ".repeat(1100)), current);
});

// --- Properties ----------------------------------------------------------

const keyArb = fc.constantFrom("u", "i", "a", "b*", "x-y.z", "*", "uu", "iu");
const integerArb = fc.integer({ min: -999_999, max: 999_999 });

/** A generated value as text, with the u or i it means when it means one. */
interface GeneratedValue {
  text: string;
  u?: number;
  i?: boolean;
}

const bareItemArb: fc.Arbitrary<GeneratedValue> = fc
  .oneof(
    integerArb.map((n) => ({ text: String(n), u: n })),
    fc.tuple(
      fc.integer({ min: -999, max: 999 }),
      fc.integer({ min: 0, max: 999 }),
    )
      .map(([a, b]) => ({ text: `${a}.${b}` })),
    fc.string({
      unit: fc.constantFrom("a", " ", ",", ";", "=", "(", '\\"', "\\\\", "u"),
      maxLength: 8,
    }).map((s) => ({ text: `"${s}"` })),
    fc.constantFrom("tok", "*x", "a/b:c", "T0k").map((text) => ({ text })),
    fc.constantFrom(":AQID:", "::", ":ab+/=:").map((text) => ({ text })),
    fc.boolean().map((b) => ({ text: b ? "?1" : "?0", i: b })),
  );
const parametersArb = fc.array(
  fc.tuple(
    fc.constantFrom("", " ", "  "),
    keyArb,
    fc.option(bareItemArb, { nil: undefined }),
  ).map(([sp, key, item]) =>
    `;${sp}${key}${item === undefined ? "" : "=" + item.text}`
  ),
  { maxLength: 3 },
).map((list) => list.join(""));
const memberArb = fc.tuple(
  keyArb,
  fc.oneof<fc.Arbitrary<GeneratedValue>[]>(
    fc.constant(
      { text: "", i: true } as { text: string; u?: number; i?: boolean },
    ),
    bareItemArb.map((item) => ({ ...item, text: "=" + item.text })),
    fc.array(fc.tuple(bareItemArb, parametersArb), { maxLength: 3 }).map((
      items,
    ) => ({
      text: "=(" + items.map(([it, ps]) => it.text + ps).join(" ") + ")",
    })),
  ),
  parametersArb,
);
const separatorArb = fc.constantFrom(",", ", ", " ,", "\t,\t", " , ");

Deno.test("valid dictionaries give the last valid u and i (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.array(memberArb, { maxLength: 8 }),
      separatorArb,
      (members, separator) => {
        let urgency: number | undefined;
        let incremental: boolean | undefined;
        const text = members.map(([key, value, params]) => {
          if (key === "u") {
            urgency = value.u !== undefined && value.u >= 0 && value.u <= 7
              ? value.u
              : undefined;
          } else if (key === "i") incremental = value.i;
          return key + value.text + params;
        }).join(separator);
        assert.deepEqual(
          readPrioritySignal(text),
          { urgency, incremental },
          text,
        );
      },
    ),
    { numRuns: 2000 },
  );
});

const soupArb = fc.string({
  unit: fc.constantFrom(
    "u",
    "i",
    "=",
    ",",
    " ",
    "\t",
    ";",
    "(",
    ")",
    '"',
    "\\",
    ":",
    "?",
    "-",
    ".",
    "0",
    "1",
    "7",
    "9",
    "*",
    "a",
    "A",
    "/",
    "\x00",
    "\u00e9",
    "\u{1f600}",
  ),
  maxLength: 40,
});

Deno.test("any string gives a priority with urgency 0-7, never a throw (fast-check)", () => {
  fc.assert(
    fc.property(fc.oneof(soupArb, fc.string({ maxLength: 40 })), (text) => {
      for (const base of [DEFAULT_PRIORITY, UNSIGNALLED_PRIORITY, p(0, true)]) {
        const result = parsePriority(text, base);
        assert.ok(Number.isInteger(result.urgency));
        assert.ok(result.urgency >= 0 && result.urgency <= 7);
        assert.equal(typeof result.incremental, "boolean");
      }
      const signal = requestPriority(text);
      assert.ok(signal.urgency >= 0 && signal.urgency <= 7);
    }),
    { numRuns: 5000 },
  );
});

// --- PriorityQueue -------------------------------------------------------

interface TestStream {
  id: number;
  priority: StreamPriority;
}

function stream(id: number, urgency = 3, incremental = false): TestStream {
  return { id, priority: p(urgency, incremental) };
}

/** The ids `next()` gives over `rounds` quanta, calling `sent` after each. */
function schedule(
  queue: PriorityQueue<TestStream>,
  rounds: number,
): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (let i = 0; i < rounds; i++) {
    const s = queue.next();
    out.push(s?.id);
    if (s !== undefined) queue.sent(s);
  }
  return out;
}

Deno.test("queue: empty, add, remove, size", () => {
  const queue = new PriorityQueue<TestStream>();
  assert.equal(queue.next(), undefined);
  assert.equal(queue.size, 0);
  const a = stream(1);
  queue.add(a);
  queue.add(a); // twice is once
  assert.equal(queue.size, 1);
  assert.ok(queue.has(a));
  assert.equal(queue.next(), a);
  queue.remove(a);
  queue.remove(a); // absent: nothing
  queue.remove(stream(9));
  assert.equal(queue.size, 0);
  assert.equal(queue.next(), undefined);
});

Deno.test("queue: lowest urgency first", () => {
  const queue = new PriorityQueue<TestStream>();
  const streams = [
    stream(1, 5),
    stream(3, 1),
    stream(5, 7),
    stream(7, 0, true),
  ];
  for (const s of streams) queue.add(s);
  const order: number[] = [];
  for (let s = queue.next(); s !== undefined; s = queue.next()) {
    order.push(s.id);
    queue.remove(s);
  }
  assert.deepEqual(order, [7, 3, 1, 5]);
});

Deno.test("queue: non-incremental streams one at a time by id, before incremental", () => {
  const queue = new PriorityQueue<TestStream>();
  const byId = new Map<number, TestStream>();
  for (
    const [id, incremental] of [[9, true], [7, false], [3, false], [
      5,
      false,
    ]] as const
  ) {
    const s = stream(id, 3, incremental);
    byId.set(id, s);
    queue.add(s);
  }
  // Stream 3 keeps its turn through any number of quanta.
  assert.deepEqual(schedule(queue, 3), [3, 3, 3]);
  queue.remove(byId.get(3)!);
  assert.deepEqual(schedule(queue, 2), [5, 5]);
  queue.remove(byId.get(5)!);
  queue.add(stream(1)); // a lower id arriving now goes first
  assert.deepEqual(schedule(queue, 1), [1]);
});

Deno.test("queue: incremental streams share round-robin", () => {
  const queue = new PriorityQueue<TestStream>();
  const streams = [stream(5, 2, true), stream(1, 2, true), stream(3, 2, true)];
  for (const s of streams) queue.add(s);
  // Order of arrival, then rotating a quantum at a time.
  assert.deepEqual(schedule(queue, 7), [5, 1, 3, 5, 1, 3, 5]);
  queue.remove(streams[1]);
  assert.deepEqual(schedule(queue, 4), [3, 5, 3, 5]);
  // sent() of a stream that is not first moves it to the back too.
  queue.add(streams[1]);
  queue.sent(streams[2]);
  assert.deepEqual(schedule(queue, 3), [5, 1, 3]);
});

Deno.test("queue: update moves a stream between urgencies and kinds", () => {
  const queue = new PriorityQueue<TestStream>();
  const a = stream(1, 3, true);
  const b = stream(3, 3, true);
  const c = stream(5, 3, true);
  for (const s of [a, b, c]) queue.add(s);
  queue.update(c, p(0, false));
  assert.deepEqual(c.priority, p(0, false));
  assert.deepEqual(schedule(queue, 2), [5, 5]);
  queue.update(c, p(6, true));
  assert.deepEqual(schedule(queue, 3), [1, 3, 1]);
  // The same priority again keeps the stream's place in its round.
  queue.update(b, p(3, true));
  assert.deepEqual(schedule(queue, 2), [3, 1]);
  // Incremental to non-incremental within one urgency: it goes first.
  queue.update(b, p(3, false));
  assert.deepEqual(schedule(queue, 2), [3, 3]);
  // Updating a stream not queued only sets its priority, used on add.
  const d = stream(7, 3, true);
  queue.update(d, p(0, true));
  assert.ok(!queue.has(d));
  queue.add(d);
  assert.deepEqual(schedule(queue, 1), [7]);
  queue.remove(d);
  queue.remove(b);
  queue.remove(a);
  assert.deepEqual(schedule(queue, 2), [5, 5]);
  assert.equal(queue.size, 1);
});

/** A plain, obviously right model of the queue to compare with. */
class ModelQueue {
  entries: { s: TestStream; turn: number }[] = [];
  clock = 0;
  add(s: TestStream): void {
    if (this.entries.some((e) => e.s === s)) return;
    this.entries.push({ s, turn: this.clock++ });
  }
  remove(s: TestStream): void {
    this.entries = this.entries.filter((e) => e.s !== s);
  }
  update(s: TestStream, priority: StreamPriority): void {
    const entry = this.entries.find((e) => e.s === s);
    const same = s.priority.urgency === priority.urgency &&
      s.priority.incremental === priority.incremental;
    s.priority = priority;
    if (entry !== undefined && !same) entry.turn = this.clock++;
  }
  sent(s: TestStream): void {
    const entry = this.entries.find((e) => e.s === s);
    if (entry !== undefined && s.priority.incremental) {
      entry.turn = this.clock++;
    }
  }
  next(): TestStream | undefined {
    let best: { s: TestStream; turn: number } | undefined;
    const rank = (
      e: { s: TestStream; turn: number },
    ) => [
      e.s.priority.urgency,
      e.s.priority.incremental ? 1 : 0,
      e.s.priority.incremental ? e.turn : e.s.id,
    ];
    for (const e of this.entries) {
      if (best === undefined) {
        best = e;
        continue;
      }
      const [a, b] = [rank(e), rank(best)];
      if (
        a[0] < b[0] ||
        (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])))
      ) {
        best = e;
      }
    }
    return best?.s;
  }
}

Deno.test("queue: matches a simple model over random operations (fast-check)", () => {
  const opArb = fc.record({
    op: fc.constantFrom("add", "remove", "update", "sent", "send"),
    index: fc.nat({ max: 19 }),
    urgency: fc.integer({ min: 0, max: 7 }),
    incremental: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 50, maxLength: 300 }), (ops) => {
      // Two copies of 20 streams: one per queue, so update()'s writes to
      // `priority` do not leak from one queue into the other.
      const real = Array.from(
        { length: 20 },
        (_, i) => stream(2 * i + 1, i % 8, i % 3 === 0),
      );
      const model = real.map((s) => ({ ...s }));
      const queue = new PriorityQueue<TestStream>();
      const reference = new ModelQueue();
      for (const { op, index, urgency, incremental } of ops) {
        const [s, m] = [real[index], model[index]];
        if (op === "add") {
          queue.add(s);
          reference.add(m);
        } else if (op === "remove") {
          queue.remove(s);
          reference.remove(m);
        } else if (op === "update") {
          queue.update(s, p(urgency, incremental));
          reference.update(m, p(urgency, incremental));
        } else if (op === "sent") {
          queue.sent(s);
          reference.sent(m);
        } else {
          const chosen = queue.next();
          assert.equal(chosen?.id, reference.next()?.id);
          if (chosen !== undefined) {
            queue.sent(chosen);
            reference.sent(model[real.indexOf(chosen)]);
          }
        }
        assert.equal(queue.size, reference.entries.length);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("queue: cost per quantum does not grow with the streams", () => {
  const queue = new PriorityQueue<TestStream>();
  const streams: TestStream[] = [];
  for (let i = 0; i < 20_000; i++) {
    const s = stream(2 * i + 1, i % 8, i % 2 === 0);
    streams.push(s);
    queue.add(s);
  }
  const start = performance.now();
  for (let quantum = 0; quantum < 200_000; quantum++) {
    const s = queue.next()!;
    queue.sent(s);
    if (quantum % 10 === 0) {
      queue.update(s, p((s.priority.urgency + 1) % 8, !s.priority.incremental));
    }
  }
  for (const s of streams) queue.remove(s);
  assert.equal(queue.size, 0);
  const elapsed = performance.now() - start;
  assert.ok(elapsed < 1500, `${elapsed} ms`);
});
