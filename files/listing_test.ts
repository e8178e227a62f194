import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodePathSegment,
  escapeHtml,
  formatListingTime,
  formatSize,
  type ListingEntry,
  type ListingJsonEntry,
  renderListingHtml,
  renderListingJson,
  sortListing,
  wantsJson,
} from "./listing.ts";

function file(name: string, size = 0, mtimeMs: number | null = null) {
  return { name, isDirectory: false, size, mtimeMs } satisfies ListingEntry;
}

function dir(name: string, mtimeMs: number | null = null) {
  return {
    name,
    isDirectory: true,
    size: 4096,
    mtimeMs,
  } satisfies ListingEntry;
}

/** Every href value in the page, with HTML entities of attributes undone. */
function hrefs(html: string): string[] {
  return [...html.matchAll(/href="([^"]*)"/g)].map((m) =>
    m[1].replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll(
      "&amp;",
      "&",
    )
  );
}

/** The text of every link in the page, with HTML entities undone. */
function linkTexts(html: string): string[] {
  return [...html.matchAll(/<a href="[^"]*">([^<]*)<\/a>/g)].map((m) =>
    m[1].replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll(
      "&quot;",
      '"',
    ).replaceAll("&#39;", "'").replaceAll("&amp;", "&")
  );
}

// --- sortListing ---

const sortCases: { name: string; input: ListingEntry[]; expected: string[] }[] =
  [
    {
      name: "directories come before files",
      input: [file("a.txt"), dir("z"), file("b.txt"), dir("m")],
      expected: ["m", "z", "a.txt", "b.txt"],
    },
    {
      name: "names compare case-insensitively",
      input: [file("banana"), file("Apple"), file("cherry")],
      expected: ["Apple", "banana", "cherry"],
    },
    {
      name: "numbers inside names compare by value",
      input: [file("file10"), file("file2"), file("file1")],
      expected: ["file1", "file2", "file10"],
    },
    {
      name: "names equal but for case are ordered deterministically",
      input: [file("a"), file("A")],
      expected: ["A", "a"],
    },
    {
      name: "an empty list stays empty",
      input: [],
      expected: [],
    },
  ];

for (const { name, input, expected } of sortCases) {
  Deno.test(`sortListing: ${name}`, () => {
    assert.deepEqual(sortListing(input).map((e) => e.name), expected);
  });
}

Deno.test("sortListing: returns a new array and leaves the input untouched", () => {
  const input = [file("b"), file("a")];
  const sorted = sortListing(input);
  assert.notEqual(sorted, input);
  assert.deepEqual(input.map((e) => e.name), ["b", "a"]);
});

Deno.test("sortListing property: the result does not depend on input order", () => {
  const entryArb = fc.record({
    name: fc.string({ minLength: 1, maxLength: 6 }),
    isDirectory: fc.boolean(),
    size: fc.nat(),
    mtimeMs: fc.constant(null),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(entryArb, { selector: (e) => e.name, maxLength: 8 }),
      (entries) => {
        const forward = sortListing(entries).map((e) => e.name);
        const backward = sortListing([...entries].reverse()).map((e) => e.name);
        assert.deepEqual(forward, backward);
      },
    ),
  );
});

// --- formatting helpers ---

const sizeCases: { bytes: number; expected: string }[] = [
  { bytes: 0, expected: "0 B" },
  { bytes: 512, expected: "512 B" },
  { bytes: 1023, expected: "1023 B" },
  { bytes: 1024, expected: "1.0 KiB" },
  { bytes: 1229, expected: "1.2 KiB" },
  { bytes: 10 * 1024, expected: "10 KiB" },
  { bytes: 1024 * 1024 - 1, expected: "1.0 MiB" },
  { bytes: 5.5 * 1024 ** 3, expected: "5.5 GiB" },
  { bytes: -1, expected: "—" },
  { bytes: NaN, expected: "—" },
];

for (const { bytes, expected } of sizeCases) {
  Deno.test(`formatSize: ${bytes} bytes reads as "${expected}"`, () => {
    assert.equal(formatSize(bytes), expected);
  });
}

const timeCases: { name: string; mtimeMs: number | null; expected: string }[] =
  [
    {
      name: "a UTC time shows date, hours and minutes",
      mtimeMs: Date.UTC(2026, 10, 24, 23, 5, 59),
      expected: "2026-11-24 23:05",
    },
    { name: "the epoch", mtimeMs: 0, expected: "1970-01-01 00:00" },
    { name: "an unknown time", mtimeMs: null, expected: "—" },
    { name: "an out-of-range time", mtimeMs: 1e20, expected: "—" },
  ];

for (const { name, mtimeMs, expected } of timeCases) {
  Deno.test(`formatListingTime: ${name}`, () => {
    assert.equal(formatListingTime(mtimeMs), expected);
  });
}

Deno.test("escapeHtml: escapes the five HTML-significant characters", () => {
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});

Deno.test("escapeHtml: keeps everything else, wherever the escapes fall", () => {
  assert.equal(escapeHtml(""), "");
  assert.equal(escapeHtml("plain café 😀"), "plain café 😀");
  assert.equal(escapeHtml("<a>"), "&lt;a&gt;");
  assert.equal(escapeHtml("x&y"), "x&amp;y");
  assert.equal(escapeHtml("&&"), "&amp;&amp;");
  assert.equal(escapeHtml("a\uD800'"), "a\uD800&#39;");
  assert.equal(escapeHtml("<".repeat(20_000)), "&lt;".repeat(20_000));
});

const segmentCases: { name: string; segment: string; expected: string }[] = [
  { name: "a space", segment: "my file", expected: "my%20file" },
  { name: "a non-ASCII letter", segment: "café", expected: "caf%C3%A9" },
  { name: "a fragment mark", segment: "a#b", expected: "a%23b" },
  { name: "a query mark", segment: "a?b", expected: "a%3Fb" },
  { name: "a percent sign", segment: "100%", expected: "100%25" },
  { name: "a slash", segment: "a/b", expected: "a%2Fb" },
  {
    name: "quotes and parentheses",
    segment: `'"()!*`,
    expected: "%27%22%28%29%21%2A",
  },
  { name: "an emoji", segment: "😀", expected: "%F0%9F%98%80" },
  { name: "a lone surrogate", segment: "a\uD800b", expected: "a%EF%BF%BDb" },
  { name: "only safe characters", segment: "a-b_c.d~e", expected: "a-b_c.d~e" },
  { name: "a trailing sub-delim", segment: "a*", expected: "a%2A" },
  { name: "an empty name", segment: "", expected: "" },
];

for (const { name, segment, expected } of segmentCases) {
  Deno.test(`encodePathSegment: encodes ${name}`, () => {
    assert.equal(encodePathSegment(segment), expected);
  });
}

// --- renderListingHtml ---

Deno.test("renderListingHtml: produces a complete UTF-8 HTML5 document", () => {
  const html = renderListingHtml("/docs/", [file("a.txt", 10)]);
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(html, /<meta charset="utf-8">/);
  assert.match(html, /<title>Index of \/docs\/<\/title>/);
  assert.match(html, /<h1>Index of \/docs\/<\/h1>/);
  assert.match(html, /<th>Name<\/th><th>Size<\/th><th>Last modified<\/th>/);
  assert.match(html, /<style>/);
  assert.match(html, /<\/html>\n$/);
});

Deno.test("renderListingHtml: loads no external resources", () => {
  const html = renderListingHtml("/", [file("a.txt")]);
  assert.doesNotMatch(html, /<link|<script|src=|url\(|@import/i);
});

Deno.test("renderListingHtml: the style adapts to dark mode", () => {
  const html = renderListingHtml("/", []);
  assert.match(html, /color-scheme: light dark/);
  assert.match(html, /prefers-color-scheme: dark/);
});

const parentCases: {
  name: string;
  urlPath: string;
  options?: { showParent?: boolean };
  expected: boolean;
}[] = [
  { name: "is absent at the root", urlPath: "/", expected: false },
  { name: "is present below the root", urlPath: "/docs/", expected: true },
  {
    name: "is present deeper down",
    urlPath: "/a/b/c/",
    expected: true,
  },
  {
    name: "can be turned off",
    urlPath: "/docs/",
    options: { showParent: false },
    expected: false,
  },
  {
    name: "can be forced at the root",
    urlPath: "/",
    options: { showParent: true },
    expected: true,
  },
];

for (const { name, urlPath, options, expected } of parentCases) {
  Deno.test(`renderListingHtml: the parent link ${name}`, () => {
    const html = renderListingHtml(urlPath, [file("x")], options);
    assert.equal(hrefs(html).includes("../"), expected);
  });
}

Deno.test("renderListingHtml: directories get a trailing slash in text and link", () => {
  const html = renderListingHtml("/", [dir("sub"), file("f")]);
  assert.deepEqual(hrefs(html), ["./sub/", "./f"]);
  assert.deepEqual(linkTexts(html), ["sub/", "f"]);
});

Deno.test("renderListingHtml: entries keep the order given", () => {
  const html = renderListingHtml("/", [file("b"), file("a")]);
  assert.deepEqual(linkTexts(html), ["b", "a"]);
});

Deno.test("renderListingHtml: shows sizes for files and a dash for directories", () => {
  const html = renderListingHtml("/", [file("f", 1229), dir("d")]);
  assert.match(html, /<a href="\.\/f">f<\/a><\/td><td>1\.2 KiB<\/td>/);
  assert.match(html, /<a href="\.\/d\/">d\/<\/a><\/td><td>—<\/td>/);
});

Deno.test("renderListingHtml: shows modification times in UTC with a machine-readable form", () => {
  const html = renderListingHtml("/", [
    file("f", 1, Date.UTC(2026, 10, 24, 23, 5, 7)),
  ]);
  assert.match(
    html,
    /<time datetime="2026-11-24T23:05:07\.000Z">2026-11-24 23:05<\/time>/,
  );
});

Deno.test("renderListingHtml: says so when a directory is empty", () => {
  assert.match(renderListingHtml("/", []), /This directory is empty\./);
  assert.doesNotMatch(renderListingHtml("/", [file("x")]), /is empty/);
});

Deno.test("renderListingHtml: skips . and .. entries", () => {
  const html = renderListingHtml("/", [dir("."), dir(".."), file("x")]);
  assert.deepEqual(hrefs(html), ["./x"]);
});

Deno.test("renderListingHtml: a script-tag name is shown as text, not markup", () => {
  const name = "<script>alert(1)</script>";
  const html = renderListingHtml("/", [file(name)]);
  assert.doesNotMatch(html, /<script/i);
  assert.match(html, />&lt;script&gt;alert\(1\)&lt;\/script&gt;</);
  assert.deepEqual(linkTexts(html), [name]);
});

Deno.test("renderListingHtml: quotes in a name cannot break out of the href attribute", () => {
  const name = `x" onmouseover="alert(1)' y='`;
  const html = renderListingHtml("/", [file(name)]);
  assert.doesNotMatch(html, /onmouseover="/);
  assert.doesNotMatch(html, /y='/);
  const [href] = hrefs(html);
  assert.equal(decodeURIComponent(href.slice(2)), name);
});

Deno.test("renderListingHtml: the directory path is escaped in title and heading", () => {
  const html = renderListingHtml("/<b>&/", []);
  assert.match(html, /<title>Index of \/&lt;b&gt;&amp;\/<\/title>/);
  assert.match(html, /<h1>Index of \/&lt;b&gt;&amp;\/<\/h1>/);
});

const hrefCases: { name: string; entry: ListingEntry; expected: string }[] = [
  { name: "a space", entry: file("my file.txt"), expected: "./my%20file.txt" },
  { name: "é", entry: file("é.txt"), expected: "./%C3%A9.txt" },
  { name: "#", entry: file("a#b"), expected: "./a%23b" },
  { name: "?", entry: file("a?b"), expected: "./a%3Fb" },
  { name: "%", entry: file("50%.txt"), expected: "./50%25.txt" },
  {
    name: "a scheme-like name",
    entry: file("javascript:x"),
    expected: "./javascript%3Ax",
  },
  { name: "a colon", entry: file("a:b"), expected: "./a%3Ab" },
  {
    name: "a directory with a space",
    entry: dir("my dir"),
    expected: "./my%20dir/",
  },
];

for (const { name, entry, expected } of hrefCases) {
  Deno.test(`renderListingHtml: the link to a name with ${name} is relative and percent-encoded`, () => {
    const html = renderListingHtml("/docs/my files/", [entry]);
    const links = hrefs(html);
    assert.deepEqual(links, ["../", expected]);
    const resolved = new URL(expected, "http://h/docs/my%20files/");
    assert.equal(resolved.protocol, "http:");
    assert.equal(
      resolved.pathname,
      "/docs/my%20files/" + expected.slice(2),
    );
  });
}

Deno.test("renderListingHtml: a name with a lone surrogate renders without throwing", () => {
  const html = renderListingHtml("/", [file("a\uD800b")]);
  assert.deepEqual(hrefs(html), ["./a%EF%BF%BDb"]);
  assert.deepEqual(linkTexts(html), ["a\uFFFDb"]);
});

/**
 * Names as a file system could hold them: any non-empty text but . and ..,
 * drawn so characters with meaning in HTML or URLs turn up often.
 */
const nameArb = fc.string({
  unit: fc.oneof(
    fc.constantFrom(..."<>&\"' #?%/\\:.;=+é\u00a0\u202e😀"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  ),
  minLength: 1,
  maxLength: 24,
}).filter((s) => s !== "." && s !== "..");

/** Counts characters that could open markup or end an attribute. */
function countSpecials(html: string): Record<string, number> {
  const counts: Record<string, number> = { "<": 0, ">": 0, '"': 0, "'": 0 };
  for (const c of html) if (c in counts) counts[c]++;
  return counts;
}

Deno.test("renderListingHtml property: names never add markup and every href decodes back to its name", () => {
  const baseline = countSpecials(
    renderListingHtml("/d/", [file("x"), dir("y")]),
  );
  fc.assert(
    fc.property(nameArb, nameArb, (fileName, dirName) => {
      const html = renderListingHtml("/d/", [file(fileName), dir(dirName)]);
      // Any "<", ">" or quote taken from a name would change these counts.
      assert.deepEqual(countSpecials(html), baseline);
      const [parent, fileHref, dirHref] = hrefs(html);
      assert.equal(parent, "../");
      assert.ok(fileHref.startsWith("./"));
      assert.ok(dirHref.startsWith("./") && dirHref.endsWith("/"));
      assert.equal(decodeURIComponent(fileHref.slice(2)), fileName);
      assert.equal(decodeURIComponent(dirHref.slice(2, -1)), dirName);
      assert.deepEqual(linkTexts(html), ["../", fileName, dirName + "/"]);
    }),
    { numRuns: 500 },
  );
});

Deno.test("renderListingHtml property: every link resolves inside the listed directory", () => {
  fc.assert(
    fc.property(nameArb, (name) => {
      const html = renderListingHtml("/d/", [file(name)]);
      const url = new URL(hrefs(html)[1], "http://h/d/");
      assert.equal(url.origin, "http://h");
      assert.ok(url.pathname.startsWith("/d/"));
      assert.equal(url.pathname.slice(3).includes("/"), false);
      assert.equal(url.search, "");
      assert.equal(url.hash, "");
    }),
    { numRuns: 500 },
  );
});

// --- renderListingJson ---

Deno.test("renderListingJson: round-trips through JSON.parse with the documented shape", () => {
  const mtime = Date.UTC(2026, 10, 24, 23, 5, 7);
  const json = renderListingJson("/docs/my files/", [
    dir("sub dir", mtime),
    file("é#1.txt", 1229, mtime),
    file("no-time", 3),
  ]);
  const parsed: ListingJsonEntry[] = JSON.parse(json);
  assert.deepEqual(parsed, [
    {
      name: "sub dir",
      type: "directory",
      size: null,
      mtime: "2026-11-24T23:05:07.000Z",
      url: "/docs/my%20files/sub%20dir/",
    },
    {
      name: "é#1.txt",
      type: "file",
      size: 1229,
      mtime: "2026-11-24T23:05:07.000Z",
      url: "/docs/my%20files/%C3%A9%231.txt",
    },
    {
      name: "no-time",
      type: "file",
      size: 3,
      mtime: null,
      url: "/docs/my%20files/no-time",
    },
  ]);
});

Deno.test("renderListingJson: an empty directory is an empty array", () => {
  assert.deepEqual(JSON.parse(renderListingJson("/", [])), []);
});

Deno.test("renderListingJson: urls at the root have a single leading slash", () => {
  const [entry] = JSON.parse(renderListingJson("/", [file("a b")]));
  assert.equal(entry.url, "/a%20b");
});

Deno.test("renderListingJson: skips . and .. entries", () => {
  const parsed = JSON.parse(
    renderListingJson("/", [dir("."), dir(".."), file("x")]),
  );
  assert.deepEqual(parsed.map((e: ListingJsonEntry) => e.name), ["x"]);
});

Deno.test("renderListingJson property: names and urls round-trip", () => {
  fc.assert(
    fc.property(nameArb, fc.boolean(), (name, isDirectory) => {
      const entry = isDirectory ? dir(name) : file(name, 7);
      const [parsed] = JSON.parse(renderListingJson("/a b/", [entry]));
      assert.equal(parsed.name, name);
      const prefix = "/a%20b/";
      assert.ok(parsed.url.startsWith(prefix));
      const tail = parsed.url.slice(
        prefix.length,
        isDirectory ? -1 : undefined,
      );
      assert.equal(decodeURIComponent(tail), name);
    }),
    { numRuns: 300 },
  );
});

// --- wantsJson ---

const acceptCases: { accept: string | undefined; expected: boolean }[] = [
  { accept: undefined, expected: false },
  { accept: "", expected: false },
  { accept: "application/json", expected: true },
  { accept: "Application/JSON", expected: true },
  { accept: "application/json; charset=utf-8", expected: true },
  { accept: "application/*", expected: true },
  { accept: "text/html,application/json;q=0.9", expected: false },
  { accept: "text/html;q=0.5, application/json", expected: true },
  { accept: "application/json, text/html", expected: false },
  { accept: "*/*", expected: false },
  { accept: "application/json, */*;q=0.1", expected: true },
  { accept: "text/*;q=0.5, application/json;q=0.6", expected: true },
  { accept: "text/html;q=0, */*", expected: true },
  { accept: "application/json;q=0", expected: false },
  { accept: "application/json;q=7", expected: false },
  {
    accept:
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    expected: false,
  },
  { accept: "garbage, application/json", expected: true },
  { accept: "\tapplication/json\t;\tq=1", expected: true },
  { accept: "application/json ;q=0.9, text/html;q=0.8", expected: true },
  { accept: "APPLICATION/JSON;Q=0.9, text/html;q=0.8", expected: true },
  // U+00A0 (byte 0xA0) is not whitespace: the range matches nothing.
  { accept: "\xa0application/json", expected: false },
  { accept: "application/json\xa0", expected: false },
  { accept: "application/json;\xa0q=0, text/html;q=0.5", expected: true },
  // Only the first q counts; later parameters are accept-ext.
  { accept: "application/json;q=0.9;q=0", expected: true },
  { accept: "application/json;q, text/html;q=0.1", expected: false },
  { accept: "application/json;q=0.5=1, text/html;q=0.1", expected: false },
  {
    accept: "application/json;q=0.1, application/json, text/html;q=0.5",
    expected: false, // the first weight of a range counts
  },
  { accept: "application/json;q=2, application/json;q=0.5", expected: true },
  { accept: ",,, application/json ,,,", expected: true },
];

for (const { accept, expected } of acceptCases) {
  Deno.test(`wantsJson: ${JSON.stringify(accept)} → ${expected}`, () => {
    assert.equal(wantsJson(accept), expected);
  });
}

Deno.test("wantsJson property: never throws on arbitrary input", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (accept) => {
      assert.equal(typeof wantsJson(accept), "boolean");
    }),
  );
});

Deno.test("wantsJson: linear on long adversarial Accept values", () => {
  const started = performance.now();
  for (
    const unit of [",", "a/b,", ";", ";q", ";q=0.", " ", "application/json,"]
  ) {
    wantsJson("application/json" + unit.repeat(30_000) + "x");
    wantsJson(unit.repeat(30_000) + "text/html");
  }
  assert.ok(performance.now() - started < 300);
});
