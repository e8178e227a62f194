import assert from "node:assert/strict";
import {
  contentTypeFor,
  DEFAULT_MEDIA_TYPE,
  isCompressible,
} from "./media_type.ts";

Deno.test("contentTypeFor() maps common web file extensions", () => {
  const cases: [string, string][] = [
    ["index.html", "text/html; charset=utf-8"],
    ["page.htm", "text/html; charset=utf-8"],
    ["style.css", "text/css; charset=utf-8"],
    ["app.js", "text/javascript; charset=utf-8"],
    ["module.mjs", "text/javascript; charset=utf-8"],
    ["data.json", "application/json; charset=utf-8"],
    ["readme.txt", "text/plain; charset=utf-8"],
    ["notes.md", "text/markdown; charset=utf-8"],
    ["logo.svg", "image/svg+xml"],
    ["photo.png", "image/png"],
    ["photo.jpg", "image/jpeg"],
    ["anim.gif", "image/gif"],
    ["pic.webp", "image/webp"],
    ["favicon.ico", "image/vnd.microsoft.icon"],
    ["font.woff2", "font/woff2"],
    ["doc.pdf", "application/pdf"],
    ["code.wasm", "application/wasm"],
    ["movie.mp4", "video/mp4"],
    ["archive.tar.gz", "application/gzip"],
  ];
  for (const [name, expected] of cases) {
    assert.equal(contentTypeFor(name), expected, name);
  }
});

Deno.test("contentTypeFor() ignores the case of the extension", () => {
  assert.equal(contentTypeFor("INDEX.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("Photo.PnG"), "image/png");
  assert.equal(contentTypeFor("app.JS"), "text/javascript; charset=utf-8");
});

Deno.test("contentTypeFor() falls back to application/octet-stream", () => {
  assert.equal(DEFAULT_MEDIA_TYPE, "application/octet-stream");
  const cases: [string, string][] = [
    ["no extension", "README"],
    ["unknown extension", "file.notarealextension"],
    ["empty extension", "file."],
    ["empty name", ""],
    ["dot in a directory name only", "dir.d/file"],
  ];
  for (const [name, fileName] of cases) {
    // "dir.d/file" has the extension "d/file", which no type claims.
    assert.equal(contentTypeFor(fileName), DEFAULT_MEDIA_TYPE, name);
  }
});

Deno.test("contentTypeFor() uses the last extension of a dotfile", () => {
  assert.equal(contentTypeFor(".html"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("a.min.css"), "text/css; charset=utf-8");
});

Deno.test("contentTypeFor() adds a charset to text-like types only", () => {
  const text = ["a.html", "a.css", "a.js", "a.json", "a.txt", "a.csv", "a.xml"];
  for (const name of text) {
    assert.match(contentTypeFor(name), /; charset=utf-8$/, name);
  }
  const binary = ["a.png", "a.jpg", "a.wasm", "a.mp4", "a.pdf", "a.zip", "a"];
  for (const name of binary) {
    assert.doesNotMatch(contentTypeFor(name), /charset/, name);
  }
});

Deno.test("isCompressible() follows mime-db and treats text/* as compressible", () => {
  const cases: [string, boolean][] = [
    ["text/html", true],
    ["text/html; charset=utf-8", true],
    ["text/css; charset=utf-8", true],
    ["text/javascript; charset=utf-8", true],
    ["text/x-unknown-kind", true],
    ["application/json; charset=utf-8", true],
    ["image/svg+xml", true],
    ["application/wasm", true],
    ["image/png", false],
    ["image/jpeg", false],
    ["video/mp4", false],
    ["font/woff2", false],
    ["application/gzip", false],
    ["application/zip", false],
    ["application/x-not-a-type", false],
  ];
  for (const [type, expected] of cases) {
    assert.equal(isCompressible(type), expected, type);
  }
});

Deno.test("isCompressible() agrees with contentTypeFor() output", () => {
  assert.equal(isCompressible(contentTypeFor("index.html")), true);
  assert.equal(isCompressible(contentTypeFor("app.js")), true);
  assert.equal(isCompressible(contentTypeFor("photo.png")), false);
  assert.equal(isCompressible(contentTypeFor("movie.mp4")), false);
});
