import assert from "node:assert/strict";
import fc from "fast-check";
import {
  buildPath,
  directoryUrlPath,
  encodeSegment,
  hasDotSegment,
  percentDecode,
  resolveTarget,
  type TargetResult,
} from "./target.ts";

function path(
  segments: string[],
  trailingSlash = false,
  query = "",
): TargetResult {
  return { kind: "path", segments, trailingSlash, query };
}

function assertBadRequest(target: string, name: string): void {
  const result = resolveTarget(target);
  assert.equal(result.kind, "error", `${name}: ${JSON.stringify(target)}`);
  if (result.kind === "error") {
    assert.equal(result.status, 400, name);
    assert.ok(result.reason.length > 0, name);
  }
}

/** Whether resolveTarget() refuses backslashes by default (Windows). */
const BACKSLASH_SEPARATES = Deno.build.os === "windows";

/**
 * Segments that could name something outside the root, or nothing. A
 * backslash separates path components only on Windows; on POSIX it is a
 * byte of a file name like any other.
 */
function assertSafeSegments(
  segments: readonly string[],
  label: string,
  backslashSeparates = BACKSLASH_SEPARATES,
): void {
  for (const s of segments) {
    assert.ok(s !== "" && s !== "." && s !== "..", `${label}: ${s}`);
    assert.ok(!s.includes("/"), `${label}: slash in ${JSON.stringify(s)}`);
    if (backslashSeparates) {
      assert.ok(!s.includes("\\"), `${label}: backslash in ${s}`);
    }
    assert.ok(!s.includes("\0"), `${label}: NUL in ${JSON.stringify(s)}`);
  }
}

// -------------------------------------------------------------- resolveTarget

Deno.test("resolveTarget() splits an origin-form target into segments", () => {
  const cases: [string, TargetResult][] = [
    ["/", path([], true)],
    ["/index.html", path(["index.html"])],
    ["/a/b/c.txt", path(["a", "b", "c.txt"])],
    ["/a/", path(["a"], true)],
    ["/a/b/", path(["a", "b"], true)],
    ["/a//b", path(["a", "b"])],
    ["/a//", path(["a"], true)],
    ["//", path([], true)],
    ["/a/./b", path(["a", "b"])],
    ["/a/.", path(["a"], true)],
    ["/.", path([], true)],
    ["/a/..", path([], true)],
    ["/a/b/..", path(["a"], true)],
    ["/a/b/../c", path(["a", "c"])],
    ["/..", path([], true)],
    ["/.../x", path(["...", "x"])],
    ["/.hidden", path([".hidden"])],
    ["/a.b.", path(["a.b."])],
  ];
  for (const [target, expected] of cases) {
    assert.deepEqual(resolveTarget(target), expected, target);
  }
});

Deno.test("resolveTarget() keeps the query raw and out of the path", () => {
  const cases: [string, TargetResult][] = [
    ["/a?x=1&y=%20", path(["a"], false, "x=1&y=%20")],
    ["/a?", path(["a"], false, "")],
    ["/?q", path([], true, "q")],
    ["/a?b?c", path(["a"], false, "b?c")],
    ["/a?/../../etc", path(["a"], false, "/../../etc")],
    ["/a?%zz%", path(["a"], false, "%zz%")],
    ["/dir/?x", path(["dir"], true, "x")],
    ["/a%3Fb", path(["a?b"])],
  ];
  for (const [target, expected] of cases) {
    assert.deepEqual(resolveTarget(target), expected, target);
  }
});

Deno.test("resolveTarget() accepts absolute-form http and https targets", () => {
  const cases: [string, TargetResult][] = [
    ["http://example.com/a/b?q=1", path(["a", "b"], false, "q=1")],
    ["https://example.com/a", path(["a"])],
    ["HTTP://EXAMPLE.COM/A", path(["A"])],
    ["HtTpS://example.com/", path([], true)],
    ["http://example.com", path([], true)],
    ["http://example.com?q", path([], true, "q")],
    ["http://example.com:8080/x/", path(["x"], true)],
    ["http://[::1]:8000/a", path(["a"])],
    ["http://example.com/%2e%2e/%2e%2e/etc", path(["etc"])],
    ["http://example.com//a", path(["a"])],
  ];
  for (const [target, expected] of cases) {
    assert.deepEqual(resolveTarget(target), expected, target);
  }
});

Deno.test("resolveTarget() recognises the asterisk-form only as a lone *", () => {
  assert.deepEqual(resolveTarget("*"), { kind: "asterisk" });
  assertBadRequest("**", "two asterisks");
  assertBadRequest("*/", "asterisk and slash");
  assert.deepEqual(resolveTarget("/*"), path(["*"]), "a path named *");
});

Deno.test("resolveTarget() answers 400 to other target forms", () => {
  const cases: [string, string][] = [
    ["empty", ""],
    ["authority-form", "example.com:443"],
    ["bare host", "example.com"],
    ["relative path", "a/b"],
    ["query only", "?x"],
    ["ftp scheme", "ftp://example.com/a"],
    ["file scheme", "file:///etc/passwd"],
    ["one slash after scheme", "http:/example.com/a"],
    ["no authority", "http:///etc/passwd"],
    ["scheme only", "http://"],
    ["scheme without slashes", "http:example.com"],
    ["mailto", "mailto:a@example.com"],
    ["javascript", "javascript:alert(1)"],
    ["space first", " /a"],
    ["backslash first", "\\a"],
    ["dot first", "./a"],
  ];
  for (const [name, target] of cases) assertBadRequest(target, name);
});

Deno.test("resolveTarget() answers 400 to userinfo in an absolute-form target (RFC 9110 §4.2.4)", () => {
  const cases: [string, string][] = [
    ["user and password", "http://a:b@host/"],
    ["user only", "http://user@host/x"],
    ["empty userinfo", "http://@host/"],
    ["https", "https://a:b@example.com/index.html"],
    ["userinfo before a port", "http://u@host:8080/"],
    ["userinfo with an encoded @", "http://a%40b@host/"],
    ["only @ as authority", "http://@/"],
  ];
  for (const [name, target] of cases) {
    const result = resolveTarget(target);
    assert.equal(result.kind, "error", `${name}: ${target}`);
    if (result.kind === "error") {
      assert.equal(result.reason, "Userinfo in request-target", name);
    }
  }
  // An @ in the path or the query is not userinfo.
  assert.deepEqual(resolveTarget("http://host/a@b"), path(["a@b"]));
  assert.deepEqual(resolveTarget("http://host?x@y"), path([], true, "x@y"));
  assert.deepEqual(resolveTarget("/a@b"), path(["a@b"]));
});

Deno.test("resolveTarget() answers 400 to a fragment", () => {
  const cases: [string, string][] = [
    ["path fragment", "/a#b"],
    ["empty fragment", "/#"],
    ["after query", "/a?q#f"],
    ["absolute-form", "http://example.com/a#f"],
  ];
  for (const [name, target] of cases) assertBadRequest(target, name);
});

Deno.test("resolveTarget() percent-decodes the path exactly once", () => {
  const cases: [string, TargetResult][] = [
    ["/%41%42", path(["AB"])],
    ["/a%20b", path(["a b"])],
    ["/%E2%82%AC", path(["\u20ac"])],
    ["/%e2%82%ac", path(["\u20ac"])],
    ["/%F0%9F%98%80.txt", path(["\u{1f600}.txt"])],
    ["/%25", path(["%"])],
    ["/%2541", path(["%41"])],
    ["/%252e%252e/x", path(["%2e%2e", "x"])],
    ["/%252e%252e%252fetc", path(["%2e%2e%2fetc"])],
    ["/a+b", path(["a+b"])],
    ["/%2e%2e", path([], true)],
    ["/a/%2e%2e/b", path(["b"])],
    ["/a/%2E%2E/b", path(["b"])],
    ["/a/%2e/b", path(["a", "b"])],
    ["/a/.%2e/b", path(["b"])],
    ["/a/%2e./b", path(["b"])],
    ["/a%2Fb", path(["a", "b"])],
    ["/a%2f..%2fb", path(["b"])],
  ];
  for (const [target, expected] of cases) {
    assert.deepEqual(resolveTarget(target), expected, target);
  }
});

Deno.test("resolveTarget() answers 400 to malformed percent-encoding", () => {
  const cases: [string, string][] = [
    ["lone percent", "/%"],
    ["percent at the end", "/a%"],
    ["one hex digit", "/%a"],
    ["one hex digit then slash", "/%4/"],
    ["non-hex first", "/%G1"],
    ["non-hex second", "/%1G"],
    ["percent percent", "/%%41"],
    ["%u form", "/%u002e"],
    ["space in escape", "/% 1"],
  ];
  for (const [name, target] of cases) assertBadRequest(target, name);
});

Deno.test("resolveTarget() answers 400 to decoded bytes that are not UTF-8", () => {
  const cases: [string, string][] = [
    ["0xff", "/%ff"],
    ["lone continuation byte", "/%80"],
    ["overlong dot", "/%c0%ae"],
    ["overlong slash", "/%c0%af"],
    ["overlong dot-dot", "/%c0%ae%c0%ae/etc"],
    ["truncated sequence", "/%e2%82"],
    ["truncated at the end of a segment", "/%e2%82/x"],
    ["encoded surrogate", "/%ed%a0%80"],
    ["above U+10FFFF", "/%f4%90%80%80"],
    ["latin1 byte", "/caf%e9"],
  ];
  for (const [name, target] of cases) assertBadRequest(target, name);
});

Deno.test("resolveTarget() answers 400 to NUL", () => {
  const cases: [string, string][] = [
    ["encoded NUL", "/%00"],
    ["encoded NUL inside", "/a%00b"],
    ["encoded NUL after dots", "/..%00/"],
    ["raw NUL", "/a\0b"],
  ];
  for (const [name, target] of cases) {
    assertBadRequest(target, name);
    const posix = resolveTarget(target, { refuseBackslash: false });
    assert.equal(posix.kind, "error", `${name} (POSIX)`);
  }
});

const BACKSLASH_CASES: [name: string, target: string, segments: string[]][] = [
  ["raw backslash", "/a\\b", ["a\\b"]],
  ["encoded backslash", "/%5c", ["\\"]],
  ["encoded backslash uppercase", "/%5C", ["\\"]],
  ["file name", "/back%5Cslash.txt", ["back\\slash.txt"]],
  [
    "backslash traversal",
    "/..\\..\\windows\\win.ini",
    ["..\\..\\windows\\win.ini"],
  ],
  ["encoded backslash traversal", "/..%5c..%5cetc", ["..\\..\\etc"]],
];

Deno.test("resolveTarget() answers 400 to a backslash where it separates (Windows)", () => {
  for (const [name, target] of BACKSLASH_CASES) {
    const result = resolveTarget(target, { refuseBackslash: true });
    assert.equal(result.kind, "error", name);
  }
});

Deno.test("resolveTarget() keeps a backslash as a file-name byte on POSIX", () => {
  for (const [name, target, segments] of BACKSLASH_CASES) {
    assert.deepEqual(
      resolveTarget(target, { refuseBackslash: false }),
      path(segments),
      name,
    );
  }
});

Deno.test("resolveTarget() refuses backslashes by default only on Windows", () => {
  assert.equal(
    resolveTarget("/%5c").kind,
    BACKSLASH_SEPARATES ? "error" : "path",
  );
});

const TRAVERSAL_VECTORS = [
  "/../../etc/passwd",
  "/..",
  "/../",
  "/../..",
  "/a/../../b",
  "/a/b/../../../c",
  "/a/b/c/../../../../..",
  "/static/../../../../etc/shadow",
  "/%2e%2e/",
  "/%2e%2e/%2e%2e/etc/passwd",
  "/%2E%2E/",
  "/%2e%2E/%2E%2e/",
  "/.%2e/",
  "/%2e./",
  "/.%2E/.%2E/etc",
  "/%2e/",
  "/%2e%2e",
  "/./",
  "/./././",
  "/./../.",
  "/..;/",
  "/..;/etc/passwd",
  "/;/../",
  "//etc/passwd",
  "///etc/passwd",
  "////",
  "/.../",
  "/..../",
  "/. ./",
  "/a/./b/../../..",
  "/a/%2e%2e/%2e%2e/b",
  "/..%2fetc",
  "/..%2F..%2F..%2Fetc%2Fpasswd",
  "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "/%2f%2e%2e%2f",
  "/%2f..",
  "/%2e%2e%5c%2e%2e%5c",
  "/..\\..\\",
  "/%c0%ae%c0%ae/",
  "/%c0%ae%c0%ae%c0%af",
  "/%e0%80%ae%e0%80%ae/",
  "/%252e%252e/",
  "/%252e%252e%252f",
  "/..%00/",
  "/.%00./",
  "/%2e%2e%00/etc",
  "/%u002e%u002e/",
  "/..%c0%af",
  "/..%25%32%65",
  "/%e2%80%a5/",
  "/%ef%bc%8e%ef%bc%8e/",
  "/a//..//..//b",
  "/a/b//../..",
  "/.a/..",
  "/a/..%2f..%2f..",
  "/..?/../../",
  "/a?../../..",
  "/..#",
  "/%2e%2e#/",
  "http://example.com/../../etc/passwd",
  "http://example.com/%2e%2e/%2e%2e/",
  "HTTPS://h/..;/..",
  "http://example.com/..",
  "http://example.com/%2f%2e%2e",
  "/a/b/c/d/e/f/../../../../../../../../..",
  "/" + "../".repeat(50) + "etc/passwd",
  "/" + "%2e%2e/".repeat(50),
];

Deno.test("resolveTarget() never climbs above the root", () => {
  assert.ok(TRAVERSAL_VECTORS.length >= 60);
  // Both platforms' rules, whichever this one is.
  for (const refuseBackslash of [true, false]) {
    for (const target of TRAVERSAL_VECTORS) {
      const result = resolveTarget(target, { refuseBackslash });
      if (result.kind === "error") {
        assert.equal(result.status, 400, target);
        continue;
      }
      assert.equal(result.kind, "path", target);
      if (result.kind === "path") {
        assertSafeSegments(result.segments, target, refuseBackslash);
      }
    }
  }
});

Deno.test("resolveTarget() removes leading dot-segments instead of failing", () => {
  const cases: [string, TargetResult][] = [
    ["/../../etc/passwd", path(["etc", "passwd"])],
    ["/a/../../b", path(["b"])],
    ["/%2e%2e/%2e%2e/etc/passwd", path(["etc", "passwd"])],
    ["/.%2E/.%2E/etc", path(["etc"])],
    ["//etc/passwd", path(["etc", "passwd"])],
    ["/..;/etc/passwd", path(["..;", "etc", "passwd"])],
    ["/./././", path([], true)],
    ["/" + "../".repeat(50) + "etc/passwd", path(["etc", "passwd"])],
  ];
  for (const [target, expected] of cases) {
    assert.deepEqual(resolveTarget(target), expected, target);
  }
});

// -------------------------------------------------------------- percentDecode

Deno.test("percentDecode() decodes once and validates UTF-8", () => {
  const cases: [string, string | undefined][] = [
    ["", ""],
    ["abc", "abc"],
    ["%41", "A"],
    ["a%2Fb", "a/b"],
    ["%2541", "%41"],
    ["%e2%82%ac", "\u20ac"],
    ["+", "+"],
    ["%", undefined],
    ["%4", undefined],
    ["%zz", undefined],
    ["%ff", undefined],
    ["%c0%ae", undefined],
    ["%00", "\0"],
  ];
  for (const [text, expected] of cases) {
    assert.equal(percentDecode(text), expected, JSON.stringify(text));
  }
});

Deno.test({
  name: "percentDecode() keeps non-ASCII characters next to escapes",
  fn() {
    assert.equal(percentDecode("\u012f%41"), "\u012fA");
    assert.equal(percentDecode("\u00e9%41"), "\u00e9A");
    assert.deepEqual(resolveTarget("/\u012f%41"), path(["\u012fA"]));
  },
});

Deno.test("percentDecode() decodes paths of any length, sequences split across its buffer included", () => {
  // The decoder works through an 8 KiB buffer: put multi-byte characters
  // at every offset around its boundaries.
  for (let pad = 8180; pad < 8200; pad++) {
    const text = "a".repeat(pad) + "%E2%82%AC" + "%F0%9F%98%80" + "b";
    assert.equal(
      percentDecode(text),
      "a".repeat(pad) + "\u20ac\u{1f600}b",
      `pad ${pad}`,
    );
  }
  const long = "%41".repeat(30_000) + "\u00e9";
  assert.equal(percentDecode(long), "A".repeat(30_000) + "\u00e9");
});

Deno.test("percentDecode() recovers after invalid input found past a buffer flush", () => {
  // A lead byte right at the end of a flushed chunk, then an invalid
  // continuation; or a malformed escape after a flush. Either must not
  // leave bytes behind for the next call.
  const cases: string[] = [];
  for (let pad = 8180; pad < 8192; pad++) {
    cases.push("a".repeat(pad) + "%E2%82" + "%41");
    cases.push("a".repeat(pad) + "%E2" + "%zz");
    cases.push("a".repeat(pad) + "%E2%82" + "%");
  }
  cases.push("a".repeat(20_000) + "%C3");
  for (const bad of cases) {
    assert.equal(percentDecode(bad), undefined, bad.slice(8170));
    assert.equal(percentDecode("%41%42"), "AB");
    assert.equal(percentDecode("%C3%A9"), "\u00e9");
  }
});

// -------------------------------------------------------------- hasDotSegment

Deno.test("hasDotSegment() finds dotfiles and dot-directories", () => {
  const cases: [string[], boolean][] = [
    [[], false],
    [["index.html"], false],
    [["a.b", "c.d"], false],
    [[".git"], true],
    [["a", ".env"], true],
    [[".well-known", "x"], true],
    [["a", "b", ".htaccess"], true],
    [["..."], true],
    [["a."], false],
    [[""], false],
  ];
  for (const [segments, expected] of cases) {
    assert.equal(hasDotSegment(segments), expected, JSON.stringify(segments));
  }
});

// ------------------------------------------------- encodeSegment / buildPath

Deno.test("encodeSegment() encodes everything that is not a plain pchar", () => {
  const cases: [string, string][] = [
    ["plain", "plain"],
    ["a b", "a%20b"],
    ["100%", "100%25"],
    ["what?", "what%3F"],
    ["#1", "%231"],
    ["a/b", "a%2Fb"],
    ["a\\b", "a%5Cb"],
    ["caf\u00e9", "caf%C3%A9"],
    ["\u20ac", "%E2%82%AC"],
    ["\u{1f600}", "%F0%9F%98%80"],
    ["a\u{1f600}b\u{1f600}", "a%F0%9F%98%80b%F0%9F%98%80"],
    ["x y/z", "x%20y%2Fz"],
    ["\u65e5\u672c", "%E6%97%A5%E6%9C%AC"],
    ['"<>`{}|^', "%22%3C%3E%60%7B%7D%7C%5E"],
    ["a\tb\nc", "a%09b%0Ac"],
    ["-._~!$&'()*+,;=:@", "-._~!$&'()*+,;=:@"],
    ["AZaz09", "AZaz09"],
    ["", ""],
  ];
  for (const [segment, expected] of cases) {
    assert.equal(encodeSegment(segment), expected, JSON.stringify(segment));
  }
});

Deno.test("buildPath() joins encoded segments under one leading slash", () => {
  const cases: [string[], boolean, string][] = [
    [[], false, "/"],
    [[], true, "/"],
    [["a"], false, "/a"],
    [["a"], true, "/a/"],
    [["a", "b c"], false, "/a/b%20c"],
    [["dir", "file?.txt"], false, "/dir/file%3F.txt"],
    [["x#y"], true, "/x%23y/"],
    [["evil.example"], false, "/evil.example"],
    [["/evil.example"], false, "/%2Fevil.example"],
    [["\\evil.example"], false, "/%5Cevil.example"],
    [["%2F"], false, "/%252F"],
  ];
  for (const [segments, trailingSlash, expected] of cases) {
    assert.equal(
      buildPath(segments, trailingSlash),
      expected,
      JSON.stringify(segments),
    );
  }
});

Deno.test({
  name: "buildPath() never starts with // even for empty segments",
  fn() {
    const cases: [string[], boolean][] = [
      [["", "evil.example"], false],
      [["", "evil.example", "x"], true],
      [["", ""], false],
      [[""], true],
    ];
    for (const [segments, trailingSlash] of cases) {
      const built = buildPath(segments, trailingSlash);
      assert.ok(
        !built.startsWith("//"),
        `${JSON.stringify(segments)}: ${built}`,
      );
    }
    fc.assert(
      fc.property(fc.array(fc.string()), fc.boolean(), (segments, slash) => {
        assert.ok(!buildPath(segments, slash).startsWith("//"));
      }),
    );
  },
});

Deno.test("directoryUrlPath() writes the decoded path of a directory", () => {
  assert.equal(directoryUrlPath([]), "/");
  assert.equal(directoryUrlPath(["docs"]), "/docs/");
  assert.equal(directoryUrlPath(["docs", "my files"]), "/docs/my files/");
});

// ----------------------------------------------------------- property tests

const wellFormedSegment = fc.string({ unit: "binary", minLength: 1 }).filter(
  (s) =>
    s.isWellFormed() && s !== "." && s !== ".." && !s.includes("/") &&
    !s.includes("\\") && !s.includes("\0"),
);

Deno.test("buildPath() output resolves back to the same segments", () => {
  fc.assert(
    fc.property(
      fc.array(wellFormedSegment, { maxLength: 6 }),
      fc.boolean(),
      (segments, trailingSlash) => {
        const built = buildPath(segments, trailingSlash);
        assert.ok(built.startsWith("/") && !built.startsWith("//"), built);
        assert.match(built, /^[\x21-\x7e]+$/, "visible ASCII only");
        assert.deepEqual(
          resolveTarget(built),
          path(segments, trailingSlash || segments.length === 0),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("resolveTarget() never throws and always yields safe segments", () => {
  const piece = fc.constantFrom(
    "/",
    "//",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2f",
    "%5c",
    "%00",
    "%",
    "%c0%ae",
    "%25",
    "?",
    "#",
    "\\",
    "\0",
    ";",
    "a",
    "http://h",
    "*",
  );
  const target = fc.oneof(
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.string({ unit: "binary-ascii", maxLength: 30 }).map((s) => "/" + s),
    fc.array(piece, { maxLength: 16 }).map((p) => p.join("")),
    fc.array(piece, { maxLength: 16 }).map((p) => "/" + p.join("")),
  );
  fc.assert(
    fc.property(target, fc.boolean(), (t, refuseBackslash) => {
      const result = resolveTarget(t, { refuseBackslash });
      if (result.kind === "asterisk") {
        assert.equal(t, "*");
      } else if (result.kind === "error") {
        assert.equal(result.status, 400);
      } else {
        assertSafeSegments(result.segments, JSON.stringify(t), refuseBackslash);
        assert.equal(typeof result.trailingSlash, "boolean");
        assert.ok(!result.query.includes("#"));
        if (result.segments.length === 0) {
          assert.equal(result.trailingSlash, true);
        }
      }
    }),
    { numRuns: 3000 },
  );
});
