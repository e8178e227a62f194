import assert from "node:assert/strict";
import fc from "fast-check";
import { isFieldValue, isToken } from "../http/request.ts";
import {
  checkTrailers,
  type RequestField,
  requestFromFields,
  type RequestVerdict,
} from "./request.ts";

const LIMITS = { maxHeaderCount: 100, maxRequestLineBytes: 8192 };

/** A well-formed GET with `extra` regular fields after the pseudo-headers. */
function get(...extra: RequestField[]): RequestField[] {
  return [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "example.com"],
    [":path", "/index.html"],
    ...extra,
  ];
}

/** The fields of `get()` with the pseudo-header `name` replaced or dropped. */
function withPseudo(name: string, value: string | undefined): RequestField[] {
  const out: RequestField[] = [];
  for (const field of get()) {
    if (field[0] !== name) out.push(field);
    else if (value !== undefined) out.push([name, value]);
  }
  return out;
}

function accept(
  fields: readonly RequestField[],
  limits = LIMITS,
): Extract<RequestVerdict, { kind: "request" }> {
  const verdict = requestFromFields(fields, limits);
  assert.equal(verdict.kind, "request", JSON.stringify(verdict));
  return verdict as Extract<RequestVerdict, { kind: "request" }>;
}

function refuse(fields: readonly RequestField[], why?: string): void {
  const verdict = requestFromFields(fields, LIMITS);
  assert.equal(
    verdict.kind,
    "malformed",
    `${JSON.stringify(fields)} gave ${JSON.stringify(verdict)}`,
  );
  if (why !== undefined && verdict.kind === "malformed") {
    assert.equal(verdict.reason, why);
  }
}

Deno.test("a plain GET becomes an HTTP/2.0 head with Host from :authority", () => {
  const verdict = accept(get(["accept", "*/*"], ["user-agent", "t/1"]));
  assert.deepEqual(verdict.head, {
    method: "GET",
    target: "/index.html",
    versionMajor: 2,
    versionMinor: 0,
    headers: [["accept", "*/*"], ["user-agent", "t/1"], [
      "host",
      "example.com",
    ]],
  });
  assert.equal(verdict.contentLength, undefined);
  assert.equal(verdict.priority, undefined);
});

Deno.test("pseudo-headers may come in any order among themselves", () => {
  const verdict = accept([
    [":path", "/a?b=c"],
    [":authority", "example.com:8443"],
    [":method", "HEAD"],
    [":scheme", "http"],
  ]);
  assert.equal(verdict.head.method, "HEAD");
  assert.equal(verdict.head.target, "/a?b=c");
  assert.deepEqual(verdict.head.headers, [["host", "example.com:8443"]]);
});

Deno.test("host: kept as sent when it names :authority, refused when not", () => {
  const same = accept(get(["host", "EXAMPLE.com"], ["accept", "*/*"]));
  assert.deepEqual(same.head.headers, [["host", "EXAMPLE.com"], [
    "accept",
    "*/*",
  ]]);
  refuse(get(["host", "other.example"]), "Host differs from :authority");
  refuse(get(["host", "example.com:443"]), "Host differs from :authority");
  // Every Host must agree, not just the first.
  refuse(get(["host", "example.com"], ["host", "evil.example"]));
  // Without :authority, Host stands alone; without both, there is none.
  const hostOnly = accept([
    ...withPseudo(":authority", undefined),
    ["host", "h.example"],
  ]);
  assert.deepEqual(hostOnly.head.headers, [["host", "h.example"]]);
  assert.deepEqual(
    accept(withPseudo(":authority", undefined)).head.headers,
    [],
  );
});

Deno.test(":authority must be a visible-ASCII, non-empty authority", () => {
  refuse(withPseudo(":authority", ""), "Invalid :authority");
  refuse(withPseudo(":authority", "exa mple.com"), "Invalid :authority");
  refuse(withPseudo(":authority", "ex\xe9.com"), "Invalid :authority");
});

Deno.test("field names: lowercase tokens, non-empty", () => {
  accept(get(["x-custom_header.1~", "v"]));
  refuse(get(["Accept", "*/*"]), "Uppercase field name");
  refuse(get(["x-Custom", "v"]), "Uppercase field name");
  refuse(get(["", "v"]), "Empty field name");
  for (const name of ["a b", "a:b", "a\x00", "caf\xe9", "a\tb", "a@b", "{}"]) {
    refuse(get([name, "v"]), "Invalid character in field name");
  }
});

Deno.test("field values: no NUL, CR, LF or other controls; no edge whitespace", () => {
  const ok = accept(get(["x", "a b\tc"], ["y", ""], ["z", "caf\xe9"]));
  assert.deepEqual(ok.head.headers.slice(0, 3), [["x", "a b\tc"], ["y", ""], [
    "z",
    "caf\xe9",
  ]]);
  for (const value of ["a\x00b", "a\rb", "a\nb", "a\x01b", "a\x7fb", "\x1f"]) {
    refuse(get(["x", value]), "Invalid character in field value");
  }
  for (const value of [" a", "a ", "\ta", "a\t", " ", "\t"]) {
    refuse(get(["x", value]), "Field value begins or ends with whitespace");
  }
  // The same rules hold for pseudo-header values.
  refuse(withPseudo(":path", "/a\x00"), "Invalid character in field value");
  refuse(withPseudo(":method", "GET "));
  refuse(withPseudo(":authority", " example.com"));
});

Deno.test("pseudo-headers: only the four request ones, once each, first", () => {
  for (const name of [":status", ":protocol", ":foo", ":", ":Method"]) {
    refuse(
      [...get(), [name, "x"]],
      "Pseudo-header field not allowed in a request",
    );
  }
  for (const name of [":method", ":scheme", ":authority", ":path"]) {
    refuse([...get(), [name, "x"]], "Duplicate pseudo-header field");
  }
  refuse([
    [":method", "GET"],
    [":scheme", "https"],
    ["accept", "*/*"],
    [":path", "/"],
  ], "Pseudo-header field after a regular field");
  refuse(withPseudo(":method", undefined), "Missing :method");
  refuse(withPseudo(":scheme", undefined), "Missing :scheme");
  refuse(withPseudo(":path", undefined), "Missing :path");
});

Deno.test(":method must be a token; its case is kept", () => {
  assert.equal(accept(withPseudo(":method", "get")).head.method, "get");
  assert.equal(
    accept(withPseudo(":method", "PROPFIND")).head.method,
    "PROPFIND",
  );
  refuse(withPseudo(":method", ""), "Invalid :method");
  refuse(withPseudo(":method", "GE T"), "Invalid :method");
  refuse(withPseudo(":method", "G(ET"), "Invalid :method");
});

Deno.test(":scheme must be a URI scheme, not necessarily the connection's", () => {
  for (const scheme of ["http", "https", "HTTPS", "coap+tcp", "a.b-c9"]) {
    accept(withPseudo(":scheme", scheme));
  }
  for (const scheme of ["", "1http", "ht_tp", "ht:tp", "-http", "ht/tp"]) {
    refuse(withPseudo(":scheme", scheme), "Invalid :scheme");
  }
});

Deno.test(":path: non-empty origin form, or * for OPTIONS only", () => {
  refuse(withPseudo(":path", ""), "Empty :path");
  refuse(withPseudo(":path", "*"), "Asterisk :path not for OPTIONS");
  refuse(
    withPseudo(":path", "http://example.com/"),
    ":path is not an absolute path",
  );
  refuse(withPseudo(":path", "index.html"), ":path is not an absolute path");
  refuse(withPseudo(":path", "?q"), ":path is not an absolute path");
  refuse(withPseudo(":path", "/a b"), "Invalid character in :path");
  refuse(withPseudo(":path", "/caf\xe9"), "Invalid character in :path");
  const options = accept([
    [":method", "OPTIONS"],
    [":scheme", "https"],
    [":authority", "example.com"],
    [":path", "*"],
  ]);
  assert.equal(options.head.target, "*");
  assert.equal(
    accept(withPseudo(":path", "//x/../%2e?a=/b#")).head.target,
    "//x/../%2e?a=/b#",
  );
});

Deno.test("CONNECT: :authority without :scheme and :path is a request", () => {
  const connect = accept([
    [":method", "CONNECT"],
    [":authority", "example.com:443"],
    ["user-agent", "t"],
  ]);
  assert.equal(connect.head.method, "CONNECT");
  assert.equal(connect.head.target, "example.com:443");
  assert.deepEqual(connect.head.headers, [["user-agent", "t"], [
    "host",
    "example.com:443",
  ]]);
  refuse([[":method", "CONNECT"]], "CONNECT without :authority");
  refuse(
    [[":method", "CONNECT"], [":authority", "a:1"], [":path", "/"]],
    "CONNECT with :scheme or :path",
  );
  refuse(
    [[":method", "CONNECT"], [":authority", "a:1"], [":scheme", "https"]],
    "CONNECT with :scheme or :path",
  );
});

Deno.test("connection-specific fields are malformed", () => {
  for (
    const name of [
      "connection",
      "keep-alive",
      "proxy-connection",
      "transfer-encoding",
      "upgrade",
    ]
  ) {
    refuse(get([name, "x"]), "Connection-specific field");
  }
});

Deno.test("te: only trailers, compared without case", () => {
  accept(get(["te", "trailers"]));
  accept(get(["te", "Trailers"]));
  accept(get(["te", "TRAILERS"], ["te", "trailers"]));
  for (
    const value of ["gzip", "trailers, gzip", "trailers;q=1", "", "trailer"]
  ) {
    refuse(get(["te", value]), "TE other than trailers");
  }
});

Deno.test("content-length: by pws's HTTP/1.1 rules", () => {
  const length = (...values: string[]) =>
    accept(get(...values.map((v): RequestField => ["content-length", v])))
      .contentLength;
  assert.equal(length("42"), 42);
  assert.equal(length("0"), 0);
  assert.equal(length("007"), 7);
  assert.equal(length("5", "5"), 5);
  assert.equal(length("5, 5"), 5);
  assert.equal(length("999999999999999"), 999999999999999);
  for (
    const bad of [
      ["-1"],
      ["+5"],
      ["abc"],
      [""],
      ["1e3"],
      ["0x10"],
      ["5, 6"],
      ["5", "6"],
      ["5,"],
      ["1000000000000000"],
      ["\xb9"],
    ]
  ) {
    refuse(
      get(...bad.map((v): RequestField => ["content-length", v])),
      "Invalid content-length",
    );
  }
});

Deno.test("priority: raw values, lines joined with a comma", () => {
  assert.equal(accept(get(["priority", "u=1"])).priority, "u=1");
  assert.equal(
    accept(get(["priority", "u=1"], ["accept", "*/*"], ["priority", "i"]))
      .priority,
    "u=1, i",
  );
  // The field stays in the head too, as any other.
  assert.deepEqual(accept(get(["priority", "u=1"])).head.headers[0], [
    "priority",
    "u=1",
  ]);
});

Deno.test("cookie crumbs are joined into one field where the first was", () => {
  const verdict = accept(get(
    ["accept", "*/*"],
    ["cookie", "a=1"],
    ["user-agent", "t"],
    ["cookie", "b=2"],
    ["cookie", "c=3"],
  ));
  assert.deepEqual(verdict.head.headers, [
    ["accept", "*/*"],
    ["cookie", "a=1; b=2; c=3"],
    ["user-agent", "t"],
    ["host", "example.com"],
  ]);
  assert.deepEqual(accept(get(["cookie", "solo=1"])).head.headers[0], [
    "cookie",
    "solo=1",
  ]);
});

Deno.test("more regular fields than maxHeaderCount: 431", () => {
  const limits = { maxHeaderCount: 3, maxRequestLineBytes: 8192 };
  const three: RequestField[] = [["a", "1"], ["b", "2"], ["c", "3"]];
  // Pseudo-headers, cookie crumbs after the first and the Host made from
  // :authority do not count.
  assert.equal(accept(get(...three), limits).head.headers.length, 4);
  const crumbs = accept(
    get(["cookie", "1"], ["b", "2"], ["cookie", "2"], ["cookie", "3"], [
      "c",
      "3",
    ]),
    limits,
  );
  assert.deepEqual(crumbs.head.headers[0], ["cookie", "1; 2; 3"]);
  const verdict = requestFromFields(get(...three, ["d", "4"]), limits);
  assert.deepEqual(verdict, {
    kind: "too_large",
    status: 431,
    reason: "Too many fields",
  });
  // A repeated name counts each time, as HTTP/1.1 counts lines.
  assert.equal(
    requestFromFields(
      get(["a", "1"], ["a", "1"], ["a", "1"], ["a", "1"]),
      limits,
    )
      .kind,
    "too_large",
  );
});

Deno.test("checkTrailers: no pseudo-headers, field rules as in a request", () => {
  assert.deepEqual(checkTrailers([]), { kind: "ok" });
  assert.deepEqual(
    checkTrailers([["x-checksum", "abc"], ["server-timing", "a;dur=1"]]),
    { kind: "ok" },
  );
  const bad: RequestField[][] = [
    [[":path", "/"]],
    [["x", "1"], [":status", "200"]],
    [["X-Checksum", "abc"]],
    [["", "v"]],
    [["a b", "v"]],
    [["x", "a\r\nb"]],
    [["x", " a"]],
    [["connection", "close"]],
    [["te", "gzip"]],
  ];
  for (const fields of bad) {
    assert.equal(
      checkTrailers(fields).kind,
      "malformed",
      JSON.stringify(fields),
    );
  }
  assert.equal(
    (checkTrailers([[":path", "/"]]) as { reason: string }).reason,
    "Pseudo-header field in trailers",
  );
});

// --- Properties ----------------------------------------------------------

const tcharChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz";
const visibleAscii = fc.integer({ min: 0x21, max: 0x7e }).map((c) =>
  String.fromCharCode(c)
);
const fieldNameArb = fc.string({
  unit: fc.constantFrom(...tcharChars),
  minLength: 1,
  maxLength: 12,
}).filter((name) =>
  ![
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "cookie",
    "content-length",
  ].includes(name)
);
/** Visible ASCII, obs-text and inner SP/HTAB: a valid value. */
const fieldValueArb = fc.string({
  unit: fc.oneof(
    visibleAscii,
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom(" ", "\t"),
  ),
  maxLength: 20,
}).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ""));
const methodArb = fc.string({
  unit: fc.constantFrom(
    ..."!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  ),
  minLength: 1,
  maxLength: 10,
}).filter((m) => m !== "CONNECT");
const pathArb = fc.string({ unit: visibleAscii, maxLength: 30 }).map((p) =>
  "/" + p
);
const authorityArb = fc.string({
  unit: visibleAscii,
  minLength: 1,
  maxLength: 20,
});

const requestArb = fc.record({
  method: methodArb,
  path: pathArb,
  authority: authorityArb,
  fields: fc.array(fc.tuple(fieldNameArb, fieldValueArb), { maxLength: 20 }),
  pseudoOrder: fc.shuffledSubarray([0, 1, 2, 3], {
    minLength: 4,
    maxLength: 4,
  }),
});

type RandomRequest = typeof requestArb extends fc.Arbitrary<infer T> ? T
  : never;

/** The fields of a random request, pseudo-headers shuffled. */
function fieldsOf(r: RandomRequest): RequestField[] {
  const pseudo: RequestField[] = [
    [":method", r.method],
    [":scheme", "https"],
    [":authority", r.authority],
    [":path", r.path],
  ];
  return [...r.pseudoOrder.map((i) => pseudo[i]), ...r.fields];
}

Deno.test("random well-formed requests round-trip (fast-check)", () => {
  fc.assert(
    fc.property(requestArb, (r) => {
      const verdict = accept(fieldsOf(r));
      assert.equal(verdict.head.method, r.method);
      assert.equal(verdict.head.target, r.path);
      assert.deepEqual(verdict.head.headers, [...r.fields, [
        "host",
        r.authority,
      ]]);
    }),
    { numRuns: 500 },
  );
});

const anyByte = fc.integer({ min: 0, max: 0xff }).map((c) =>
  String.fromCharCode(c)
);
const trickyName = fc.oneof(
  fc.constantFrom(
    ":method",
    ":path",
    ":scheme",
    ":authority",
    ":status",
    ":protocol",
    "connection",
    "te",
    "host",
    "cookie",
    "content-length",
    "priority",
    "Accept",
    "",
  ),
  fc.string({ unit: anyByte, maxLength: 8 }),
);
const trickyValue = fc.oneof(
  fc.constantFrom("trailers", "", " ", "CONNECT", "OPTIONS", "*", "5", "5, 6"),
  fc.string({ unit: anyByte, maxLength: 12 }),
);
const mutationArb = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    field: fc.tuple(trickyName, trickyValue),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("value" as const),
    at: fc.nat(),
    value: trickyValue,
  }),
  fc.record({
    kind: fc.constant("swap" as const),
    at: fc.nat(),
    to: fc.nat(),
  }),
);

/** Checks what every accepted head promises the rest of pws. */
function assertSoundHead(verdict: RequestVerdict): void {
  if (verdict.kind !== "request") return;
  const { head } = verdict;
  assert.ok(isToken(head.method));
  assert.ok(head.target.length > 0);
  for (let i = 0; i < head.target.length; i++) {
    const c = head.target.charCodeAt(i);
    assert.ok(c > 0x20 && c < 0x7f, "target is visible ASCII");
  }
  for (const [name, value] of head.headers) {
    assert.ok(isToken(name) && name === name.toLowerCase(), name);
    assert.ok(isFieldValue(value));
    assert.ok(
      !["connection", "transfer-encoding", "upgrade", "keep-alive"].includes(
        name,
      ),
    );
  }
}

Deno.test("random mutations always get a verdict, never a throw (fast-check)", () => {
  fc.assert(
    fc.property(
      requestArb,
      fc.array(mutationArb, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 30 }),
      (r, mutations, maxHeaderCount) => {
        const fields = fieldsOf(r);
        for (const m of mutations) {
          const at = fields.length === 0 ? 0 : m.at % fields.length;
          if (m.kind === "insert") fields.splice(at, 0, m.field);
          else if (m.kind === "delete") fields.splice(at, 1);
          else if (fields.length === 0) continue;
          else if (m.kind === "value") fields[at] = [fields[at][0], m.value];
          else {
            const to = m.to % fields.length;
            [fields[at], fields[to]] = [fields[to], fields[at]];
          }
        }
        const verdict = requestFromFields(fields, {
          maxHeaderCount,
          maxRequestLineBytes: 8192,
        });
        assert.ok(["request", "malformed", "too_large"].includes(verdict.kind));
        assertSoundHead(verdict);
        const trailers = checkTrailers(fields);
        assert.ok(trailers.kind === "ok" || trailers.kind === "malformed");
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("work is linear: 20,000 cookie crumbs and 1 MiB values are quick", () => {
  const crumbs: RequestField[] = [];
  for (let i = 0; i < 20_000; i++) crumbs.push(["cookie", `c${i}=${i}`]);
  const big = "x".repeat(1 << 20);
  const start = performance.now();
  const verdict = accept(get(...crumbs, ["x-big", big]));
  assert.equal(verdict.head.headers.length, 3);
  assert.ok(verdict.head.headers[0][1].startsWith("c0=0; c1=1; "));
  refuse(get(["te", big]), "TE other than trailers");
  refuse(get(["x", big + " "]));
  const elapsed = performance.now() - start;
  assert.ok(elapsed < 1000, `${elapsed} ms`);
});

Deno.test("a :path whose HTTP/1.1 request line would pass 8 KiB: 414", () => {
  const at = (length: number) =>
    requestFromFields([
      [":method", "GET"],
      [":scheme", "https"],
      [":authority", "example.com"],
      [":path", "/" + "a".repeat(length - 1)],
    ], LIMITS);
  // "GET " + path + " HTTP/2.0" = 8192 bytes exactly: still a request.
  assert.equal(at(8192 - 13).kind, "request");
  const refused = at(8192 - 12);
  assert.equal(refused.kind, "too_large");
  assert.equal(refused.kind === "too_large" && refused.status, 414);
});
