import assert from "node:assert/strict";
import type { RequestHead } from "./request.ts";
import {
  ALLOW_HEADER_VALUE,
  ALLOWED_METHODS,
  checkHost,
  classifyMethod,
  corsPreflightHeaders,
  isCorsPreflight,
  isExpectContinue,
  isSpaNavigation,
  isTokenList,
  isValidHostValue,
  type MethodClass,
  wantsKeepAlive,
} from "./semantics.ts";

function head(headers: [string, string][], versionMinor = 1): RequestHead {
  return { method: "GET", target: "/", versionMajor: 1, versionMinor, headers };
}

Deno.test("classifyMethod() serves GET, HEAD and OPTIONS", () => {
  const cases: [string, MethodClass][] = [
    ["GET", "allowed"],
    ["HEAD", "allowed"],
    ["OPTIONS", "allowed"],
    ["POST", "not-allowed"],
    ["PUT", "not-allowed"],
    ["DELETE", "not-allowed"],
    ["PATCH", "not-allowed"],
    ["CONNECT", "not-allowed"],
    ["TRACE", "not-allowed"],
    ["get", "not-implemented"],
    ["Get", "not-implemented"],
    ["post", "not-implemented"],
    ["PROPFIND", "not-implemented"],
    ["M-SEARCH", "not-implemented"],
    ["GETS", "not-implemented"],
    ["", "not-implemented"],
  ];
  for (const [method, expected] of cases) {
    assert.equal(classifyMethod(method), expected, JSON.stringify(method));
  }
});

Deno.test("ALLOW_HEADER_VALUE lists exactly the allowed methods", () => {
  assert.equal(ALLOW_HEADER_VALUE, "GET, HEAD, OPTIONS");
  for (const method of ALLOWED_METHODS) {
    assert.equal(classifyMethod(method), "allowed", method);
  }
});

Deno.test("checkHost() requires exactly one Host in HTTP/1.1", () => {
  assert.equal(typeof checkHost(head([])), "string", "missing");
  assert.equal(
    typeof checkHost(head([["Host", "a"], ["Host", "a"]])),
    "string",
    "two identical",
  );
  assert.equal(
    typeof checkHost(head([["Host", "a"], ["host", "b"]])),
    "string",
    "two different",
  );
  assert.equal(checkHost(head([["HOST", "a"]])), undefined, "name case");
  assert.equal(
    typeof checkHost(head([], 9)),
    "string",
    "future 1.x needs Host too",
  );
});

Deno.test("checkHost() lets HTTP/1.0 omit Host but not repeat it", () => {
  assert.equal(checkHost(head([], 0)), undefined);
  assert.equal(checkHost(head([["Host", "example.com"]], 0)), undefined);
  assert.equal(
    typeof checkHost(head([["Host", "a"], ["Host", "b"]], 0)),
    "string",
  );
  assert.equal(typeof checkHost(head([["Host", "a b"]], 0)), "string");
});

Deno.test("checkHost() accepts valid uri-host and port values", () => {
  const valid = [
    "example.com",
    "EXAMPLE.com",
    "example.com:8080",
    "example.com:",
    "localhost",
    "127.0.0.1",
    "127.0.0.1:80",
    "[::1]",
    "[::1]:80",
    "[2001:db8::1]:443",
    "[::ffff:192.0.2.1]",
    "[v1.fe80::a+en1]",
    "xn--bcher-kva.example",
    "a_b~c!$&'()*+,;=",
    "%41%42.example",
    "",
  ];
  for (const value of valid) {
    assert.equal(
      checkHost(head([["Host", value]])),
      undefined,
      JSON.stringify(value),
    );
  }
});

Deno.test("checkHost() refuses invalid Host values", () => {
  const invalid = [
    "a b",
    "exa mple",
    "a/b",
    "example.com/",
    "a?b",
    "a#b",
    "user@example.com",
    "[::1",
    "::1]",
    "::1",
    "[]",
    "[::1]x",
    "[::1]:8a",
    "[example.com]",
    "example.com:80:80",
    "example.com:http",
    "a\\b",
    '"example.com"',
    "%4",
    "%zz",
    "caf\xe9.example",
    "a\tb",
  ];
  for (const value of invalid) {
    const reason = checkHost(head([["Host", value]]));
    assert.equal(typeof reason, "string", JSON.stringify(value));
    assert.ok(reason!.length > 0);
  }
});

Deno.test("wantsKeepAlive() follows the Connection header and version", () => {
  const cases: [string, number, [string, string][], boolean][] = [
    ["1.1 default", 1, [], true],
    ["1.1 close", 1, [["Connection", "close"]], false],
    ["1.1 Close", 1, [["connection", "Close"]], false],
    ["1.1 CLOSE", 1, [["Connection", "CLOSE"]], false],
    ["1.1 keep-alive", 1, [["Connection", "keep-alive"]], true],
    ["1.1 other option", 1, [["Connection", "upgrade"]], true],
    ["1.1 close in a list", 1, [["Connection", "TE, close"]], false],
    ["1.1 close wins over keep-alive", 1, [[
      "Connection",
      "keep-alive, close",
    ]], false],
    [
      "1.1 close on a second line",
      1,
      [["Connection", "keep-alive"], ["Connection", "close"]],
      false,
    ],
    ["1.1 padded close", 1, [["Connection", " ,close , "]], false],
    ["1.1 close as a substring", 1, [["Connection", "closed"]], true],
    ["1.1 close in another header", 1, [["Keep-Alive", "close"]], true],
    ["1.0 default", 0, [], false],
    ["1.0 keep-alive", 0, [["Connection", "keep-alive"]], true],
    ["1.0 Keep-Alive", 0, [["Connection", "Keep-Alive"]], true],
    ["1.0 keep-alive in a list", 0, [["Connection", "foo, keep-alive"]], true],
    [
      "1.0 keep-alive and close",
      0,
      [["Connection", "keep-alive, close"]],
      false,
    ],
    [
      "1.0 close before keep-alive",
      0,
      [["Connection", "close"], ["Connection", "keep-alive"]],
      false,
    ],
    ["1.0 close", 0, [["Connection", "close"]], false],
    ["1.0 keep-alive substring", 0, [["Connection", "keep-alive2"]], false],
    ["1.9 default", 9, [], true],
  ];
  for (const [name, minor, headers, expected] of cases) {
    assert.equal(wantsKeepAlive(head(headers, minor)), expected, name);
  }
});

Deno.test("isSpaNavigation() is true for HTML navigations to extension-less paths", () => {
  const html = "text/html,application/xhtml+xml,*/*;q=0.8";
  const cases: [string, string[], string | undefined, boolean][] = [
    ["browser navigation", ["app", "settings"], html, true],
    ["root", [], html, true],
    ["dotfile-like name has no extension", [".profile"], html, true],
    ["upper-case media type", ["a"], "TEXT/HTML", true],
    ["with parameters", ["a"], "text/html;level=1;q=0.5", true],
    ["file with an extension", ["app.js"], html, false],
    ["extension in the last segment only", ["v1.2", "page"], html, true],
    ["no Accept", ["a"], undefined, false],
    ["script fetch", ["a"], "*/*", false],
    ["JSON fetch", ["a"], "application/json", false],
    ["HTML refused with q=0", ["a"], "text/html;q=0, */*", false],
    ["HTML refused with q=0.000", ["a"], "text/html; q=0.000", false],
    ["q=0.001 still accepts", ["a"], "text/html;q=0.001", true],
  ];
  for (const [name, segments, accept, expected] of cases) {
    assert.equal(isSpaNavigation(segments, accept), expected, name);
  }
});

Deno.test("isCorsPreflight() needs OPTIONS, Origin and Access-Control-Request-Method", () => {
  const origin: [string, string] = ["Origin", "https://a.example"];
  const method: [string, string] = ["Access-Control-Request-Method", "GET"];
  const options = (headers: [string, string][]) => ({
    ...head(headers),
    method: "OPTIONS",
  });
  assert.equal(isCorsPreflight(options([origin, method])), true);
  assert.equal(isCorsPreflight(options([origin])), false);
  assert.equal(isCorsPreflight(options([method])), false);
  assert.equal(isCorsPreflight(head([origin, method])), false, "GET");
});

Deno.test("corsPreflightHeaders() answers only real preflights", () => {
  assert.equal(corsPreflightHeaders(head([])), undefined);
  assert.equal(
    corsPreflightHeaders(head([["Origin", "https://a.example"]])),
    undefined,
    "no Access-Control-Request-Method",
  );
  assert.equal(
    corsPreflightHeaders(head([["Access-Control-Request-Method", "GET"]])),
    undefined,
    "no Origin",
  );
  const headers = corsPreflightHeaders(head([
    ["Origin", "https://a.example"],
    ["Access-Control-Request-Method", "GET"],
    ["Access-Control-Request-Headers", "x-a, X-B"],
  ]));
  assert.deepEqual(headers, [
    ["Access-Control-Allow-Methods", ALLOW_HEADER_VALUE],
    ["Access-Control-Max-Age", "86400"],
    ["Access-Control-Allow-Headers", "x-a, X-B"],
    ["Vary", "Access-Control-Request-Headers"],
  ]);
});

Deno.test("corsPreflightHeaders() does not echo requested headers that are not tokens", () => {
  for (const requested of ["x-a, <script>", "a b", "x\r\nSet-Cookie: a", ","]) {
    const headers = corsPreflightHeaders(head([
      ["Origin", "https://a.example"],
      ["Access-Control-Request-Method", "GET"],
      ["Access-Control-Request-Headers", requested],
    ]));
    assert.ok(headers !== undefined);
    assert.ok(
      !headers.some(([name]) => name === "Access-Control-Allow-Headers"),
      JSON.stringify(requested),
    );
  }
});

Deno.test("isValidHostValue() reads each part of uri-host [':' port]", () => {
  const cases: [string, boolean][] = [
    ["[V1.x]", true], // ABNF literals are case-insensitive (RFC 5234)
    ["[v1.x]:8080", true],
    ["[vA.b:c]", true],
    ["[v.x]", false], // IPvFuture needs at least one hex digit
    ["[v1.]", false], // and at least one character after the dot
    ["[v1x]", false],
    ["[vg.x]", false],
    ["[v1.x/]", false],
    ["[1.2.3.4]", true], // IPv6 characters only, as before
    ["[::1]:", true],
    ["[::1]]", false],
    ["[[::1]", false],
    ["[", false],
    ["]", false],
    [":", true], // empty reg-name and empty port
    [":80", true],
    ["a:", true],
    ["a:8:", false],
    ["%4", false],
    ["a%4g", false],
    ["a%41", true],
    ["%", false],
    ["a\xa0", false],
    ["\xe9", false],
    ["a@b", false],
  ];
  for (const [value, valid] of cases) {
    assert.equal(isValidHostValue(value), valid, JSON.stringify(value));
  }
});

Deno.test("isValidHostValue() is linear on long adversarial values", () => {
  const started = performance.now();
  for (const unit of ["a", "%41", "%4", ":", "[", "1", "v1."]) {
    for (const prefix of ["", "[", "[v1.", "a:"]) {
      isValidHostValue(prefix + unit.repeat(30_000) + "@");
    }
  }
  assert.ok(performance.now() - started < 200);
});

Deno.test("wantsKeepAlive() takes SP and HTAB as OWS, nothing else", () => {
  assert.equal(wantsKeepAlive(head([["Connection", "\tclose\t, x"]])), false);
  assert.equal(wantsKeepAlive(head([["Connection", "x ,\tCLOSE"]])), false);
  // U+00A0 (byte 0xA0): not the close token, so HTTP/1.1 persists.
  assert.equal(wantsKeepAlive(head([["Connection", "close\xa0"]])), true);
  assert.equal(
    wantsKeepAlive(head([["Connection", "\xa0keep-alive"]], 0)),
    false,
  );
  assert.equal(
    wantsKeepAlive(head([["Connection", ",,keep-alive,,"]], 0)),
    true,
  );
});

Deno.test("isSpaNavigation() reads media ranges and q=0 with SP/HTAB as OWS", () => {
  const cases: [string, boolean][] = [
    ["text/html ;q=0", false],
    ["text/html;q = 0", false], // OWS around '=' was always tolerated
    ["text/html;Q=0", false],
    ["text/html;q=0;level=1", false],
    ["text/html;level=1;q=0", false],
    ["text/html;q=1;q=0", false], // any zero weight refuses, as before
    ["text/html;q=0.", false],
    ["text/html;q=0.0000", false],
    ["text/html;q", true],
    ["text/html;q=", true],
    ["text/html;q=00", true],
    ["text/html;q=0.01", true],
    ["text/html;q=0, text/html", true], // a later range accepts
    ["\ttext/html\t", true],
    ["text/html\xa0", false],
    ["text/html;\xa0q=0", true], // not the q parameter
    ["text/htmlx", false],
    ["xtext/html", false],
    ["text/*", false],
    [",,,text/html,,,", true],
  ];
  for (const [accept, expected] of cases) {
    assert.equal(
      isSpaNavigation(["a"], accept),
      expected,
      JSON.stringify(accept),
    );
  }
});

Deno.test("isSpaNavigation() is linear on long adversarial Accept values", () => {
  const started = performance.now();
  for (const unit of [",", "a,", ";", ";q", " ", "text/html;q=0,"]) {
    isSpaNavigation(["a"], "text/html" + unit.repeat(30_000) + "x");
    isSpaNavigation(["a"], unit.repeat(30_000) + ";q=0");
  }
  assert.ok(performance.now() - started < 200);
});

Deno.test("isTokenList() accepts tokens separated by single commas with OWS", () => {
  const cases: [string, boolean][] = [
    ["x-a", true],
    ["x-a,x-b", true],
    ["x-a , \tx-b", true],
    ["X-A,Content-Type", true],
    ["", false],
    [",", false],
    ["x-a,", false],
    [",x-a", false],
    ["x-a,,x-b", false],
    ["x-a x-b", false],
    ["x-a\xa0,x-b", false], // U+00A0 is not OWS
    ["x-a,\u3000x-b", false],
    ["x-a;x-b", false],
    ["x-\xe9", false],
  ];
  for (const [value, expected] of cases) {
    assert.equal(isTokenList(value), expected, JSON.stringify(value));
  }
});

Deno.test("corsPreflightHeaders() echoes requested headers trimmed of SP/HTAB only", () => {
  const preflight = (...requested: string[]) =>
    corsPreflightHeaders(head([
      ["Origin", "https://a.example"],
      ["Access-Control-Request-Method", "GET"],
      ...requested.map((r): [string, string] => [
        "Access-Control-Request-Headers",
        r,
      ]),
    ]))!.find(([name]) => name === "Access-Control-Allow-Headers")?.[1];
  assert.equal(preflight("x-a", "x-b"), "x-a, x-b");
  assert.equal(preflight("x-a\xa0"), undefined);
  assert.equal(preflight("", "x-a"), undefined);
});

Deno.test("isExpectContinue() matches 100-continue case-insensitively only", () => {
  assert.equal(isExpectContinue("100-continue"), true);
  assert.equal(isExpectContinue("100-Continue"), true);
  assert.equal(isExpectContinue("100-CONTINUE"), true);
  for (
    const value of [
      "",
      "100",
      "100-continue ",
      "100-continue, x",
      "100-continuee",
      "\xa0100-continue",
      "200-continue",
    ]
  ) {
    assert.equal(isExpectContinue(value), false, JSON.stringify(value));
  }
});
